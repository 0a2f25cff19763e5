"""The one thread that owns the capture: poll, publish to the hub, and run what other threads ask of the model.

The caches are mutated by this thread alone. gRPC threads that need them (a snapshot for a new
subscriber, the workload list, the counters) hand a function to :meth:`PipelineThread.call`, which
runs it between two polls, so they always see a consistent model and no event falls between a
snapshot and the live stream.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sensor.kernel.ringbuf import BUSY_POLL_INTERVAL_MS, RELAXED_BUSY_POLL_MS
from sensor.telemetry.capture import Capture
from sensor.telemetry.hub import Hub

POLL_MS = 50
# A batching subscriber's reads come a tenth of its delay sooner than the delay itself: the events of
# a read waited up to the interval in the kernel's buffer, and building and sending them takes about
# that tenth under a storm (280 events in 2 ms for a 20 ms delay), so each response leaves within
# the delay. Reading every 18 ms for a 20 ms delay sends 55 responses a second (a response costs a
# few hundred microseconds of gRPC at both ends); the earlier cap of 16 ms made 62. The longest
# interval, MAX_BATCH_POLL_MS, keeps a 16 MiB ring buffer within the worst burst measured
# (120 MB/s) and a call to the pipeline from waiting long.
MAX_BATCH_POLL_MS = 50
CALL_TIMEOUT_S = 10.0
T = TypeVar("T")
log = logging.getLogger("sensor")


def busy_poll_ms(latency_budget_ns: int | None) -> int:
    """How often to read the ring buffer while records come, for subscribers that wait this long.

    ``None`` (no subscriber): the relaxed interval, as `sensor trace` reads; 0 (a subscriber wants
    each event at once, the p99 target): every 1 ms; otherwise nine tenths of the shortest batch
    delay, at most MAX_BATCH_POLL_MS. A batch's delay counts from when its oldest event happened, so
    a subscriber batching 20 ms gets each read's events in one response as soon as they are read:
    one reader wake-up and one response per read, where reading every fifth of the delay cost four
    wake-ups.
    """
    if latency_budget_ns is None:
        return RELAXED_BUSY_POLL_MS
    delay_ms = latency_budget_ns // 1_000_000
    return max(BUSY_POLL_INTERVAL_MS, min(MAX_BATCH_POLL_MS, delay_ms - delay_ms // 10))


class PipelineStopped(RuntimeError):
    """The pipeline thread is not running (the sensor is stopping, or it failed)."""


class PipelineThread(threading.Thread):
    """Runs ``capture.poll`` -> ``hub.publish`` until stopped."""

    def __init__(self, capture: Capture, hub: Hub) -> None:
        super().__init__(name="sensor-pipeline", daemon=True)
        self.capture = capture
        self.hub = hub
        self.failure: BaseException | None = None
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._stop_requested = threading.Event()
        self.stopped = threading.Event()  # set when the thread ends, normally or not

    def call(self, function: Callable[[], T], timeout: float = CALL_TIMEOUT_S) -> T:
        """Run ``function`` on the pipeline thread and return its result (or raise what it raised)."""
        if self.stopped.is_set() or self._stop_requested.is_set():
            raise PipelineStopped("the sensor is stopping")
        future: Future[T] = Future()
        self._calls.put((function, future))
        return future.result(timeout)

    def run(self) -> None:
        try:
            while not self._stop_requested.is_set():
                interval_ms = busy_poll_ms(self.hub.latency_budget_ns())
                self.capture.busy_poll_ms = interval_ms
                self.capture.set_read_prefixes(self.hub.read_prefixes())  # the kernel's filter follows the subscribers
                events = self.capture.poll(POLL_MS)
                self.hub.publish(events, next_publish_ns=time.monotonic_ns() + interval_ms * 1_000_000)
                self._run_calls()
            for batch in self.capture.finish():  # what the kernel sent before the stop, then the held events
                self.hub.publish(batch)
        except BaseException as error:  # reported by the daemon, which then exits non-zero
            self.failure = error
            log.error("pipeline failed: %s", error, exc_info=True)
        finally:
            self.stopped.set()
            self._cancel_calls()

    def _queued_calls(self) -> list[tuple[Callable[[], Any], Future[Any]]]:
        """The calls waiting now that nobody cancelled (each marked running)."""
        calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        while True:
            try:
                function, future = self._calls.get_nowait()
            except queue.Empty:
                return calls
            if future.set_running_or_notify_cancel():
                calls.append((function, future))

    def _run_calls(self) -> None:
        for function, future in self._queued_calls():
            try:
                future.set_result(function())
            except Exception as error:  # handed back to the caller's thread
                future.set_exception(error)

    def _cancel_calls(self) -> None:
        for _, future in self._queued_calls():
            future.set_exception(PipelineStopped("the sensor is stopping"))

    def stop(self) -> None:
        """Finish the current poll, publish what the kernel sent before the stop and what is held, and end."""
        self._stop_requested.set()
