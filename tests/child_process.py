"""What the tests' wrappers of `sensor` child processes share: stderr read on a thread, and a stop."""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import IO


class StderrLines:
    """A child's stderr, read on a thread of its own: each line kept, and :attr:`ready` set at the first
    line holding ``marker``, or when stderr ends (a child that dies is not waited out)."""

    def __init__(self, stderr: IO[str] | None, marker: str = "ready") -> None:
        assert stderr is not None, "the child's stderr must be a pipe"
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._stderr = stderr
        self._marker = marker
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @property
    def text(self) -> str:
        """Everything read so far."""
        return "".join(self.lines)

    def _read(self) -> None:
        for line in self._stderr:
            self.lines.append(line)
            if self._marker in line:
                self.ready.set()
        self.ready.set()

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the end of stderr (the child has exited)."""
        self._thread.join(timeout)


def stop_child(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
    """``sig`` to a running child, then its exit status; SIGKILL if it has not exited within ``timeout`` s."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
