"""The network benchmark (see bench.py): connect storms alone and under observers, interleaved as the
exec and file storms are.

The storm (tests/workloads/connect_storm.c): on 127.0.0.1, connect to a listener of the worker's
own, accept, close both ends: four network events a round (connect, accept, two closes). Observers:
`sensor trace --event network --format json` to /dev/null, and the peer, bpftrace printing the same
calls from the same tracepoints (the connect and accept syscall exits, inet_sock_set_state to
CLOSE). Then the BPF run time of the two network programs during the storm, from `sensor run`'s
metrics.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_daemon import Daemon, free_port
from bench_files import print_storm_rows, program_counters, storm_rows
from bench_storm import Bpftrace, Observation, Observer, SensorTrace, build_workload, workload_rounds

from sensor.kernel.bpf_stats import enable_stats

HOOKS = ("net_connect", "net_accept", "net_close")
NET_SUMMARY = re.compile(r"(net_\w+) (\d+)/(\d+)")
BPFTRACE_NETWORK = " ".join(
    (
        'tracepoint:syscalls:sys_exit_connect { printf("%d connect %d\\n", pid, args->ret); }',
        "tracepoint:syscalls:sys_exit_accept4, tracepoint:syscalls:sys_exit_accept {",
        '  printf("%d accept %d\\n", pid, args->ret); }',
        "tracepoint:sock:inet_sock_set_state /args->newstate == 7/ {",
        '  printf("%d close %d %d\\n", pid, args->sport, args->dport); }',
    )
)
EVENTS_PER_ROUND = 4
PROGRAMS = ("on_net_sys_exit", "on_inet_sock_set_state")


def connect_storm_rounds(binary: Path, workers: int, seconds: float) -> int:
    return workload_rounds([str(binary), str(seconds)], workers)


class SensorTraceNetwork(SensorTrace):
    name = "sensor trace --event network --format json"
    options = ("--event", "network")

    def stop(self) -> Observation:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=120)
        counts = {hook: (int(sent), int(lost)) for hook, lost, sent in NET_SUMMARY.findall(err)}
        if not counts:
            raise SystemExit(f"no summary from sensor trace: {err}")
        return Observation(
            {hook: counts[hook][0] for hook in HOOKS},
            {hook: counts[hook][1] for hook in HOOKS},
        )


class BpftraceNetwork(Bpftrace):
    name = "bpftrace (printf per connect/accept/close)"
    program = BPFTRACE_NETWORK

    def stop(self) -> Observation:
        super().stop()
        return Observation({"printed": self.printed})


OBSERVERS: tuple[Callable[[], Observer], ...] = (SensorTraceNetwork, BpftraceNetwork)


def network_bpf_time(binary: Path, seconds: float) -> dict[str, dict[str, float]]:
    """Run time of each network program during the storm (two workers), per run and per event it sent.

    on_net_sys_exit runs at every syscall's exit and sends the connect and the accept of a round;
    on_inet_sock_set_state runs at each of TCP's state changes and sends the two closes.
    """
    port = free_port()
    daemon = Daemon(metrics_port=port)
    stats_fd = enable_stats()
    try:
        before = {program: program_counters(port, program) for program in PROGRAMS}
        rounds = connect_storm_rounds(binary, 2, seconds)
        after = {program: program_counters(port, program) for program in PROGRAMS}
    finally:
        os.close(stats_fd)
        daemon.stop()
    out = {}
    for program in PROGRAMS:
        runs = after[program][0] - before[program][0]
        run_ns = after[program][1] - before[program][1]
        sent = 2 * rounds  # two events of each round per program
        out[program] = {
            "runs": runs,
            "ns_per_run": run_ns / runs if runs else 0.0,
            "ns_per_event": run_ns / sent if sent else 0.0,
        }
    return out


def network(seconds: float, repeats: int) -> dict[str, object]:
    """The network benchmark; prints its tables and returns its figures."""
    with tempfile.TemporaryDirectory(prefix="sensor-bench-network-") as tmp:
        binary = build_workload(Path(tmp), "connect_storm")

        def workload_of(workers: int) -> Callable[[], int]:
            return lambda: connect_storm_rounds(binary, workers, seconds)

        rows = storm_rows("connect", workload_of, EVENTS_PER_ROUND, OBSERVERS, seconds, repeats)
        bpf = network_bpf_time(binary, seconds)
    print_storm_rows(rows)
    print("\n| program (connect storm, 2 workers, sensor run) | runs | BPF time per run | per event sent |")
    print("|---|---|---|---|")
    for program, figures in bpf.items():
        print(
            f"| {program} | {figures['runs']:.0f} | {figures['ns_per_run']:.0f} ns | "
            f"{figures['ns_per_event'] / 1000:.2f} µs |"
        )
    return {"seconds": seconds, "repeats": repeats, "rows": rows, "bpf": bpf}
