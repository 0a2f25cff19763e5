"""The file benchmark (see bench.py): file storms alone and under observers, interleaved as the exec storm is.

Two storms (tests/workloads/file_storm.c): "write" creates a file, writes 4 bytes, renames it and
unlinks it (three file events a round); "read" opens an existing file read-only and closes it (no
event unless asked for: the cost of the kernel's filter). Observers: `sensor trace --event file
--format json` to /dev/null; the process kinds alone (which on a kernel without kprobes already
turn syscall tracing on, a cost every syscall pays); and the peer, bpftrace printing the same
syscalls from the syscall tracepoints. Then the BPF run time of the file program during each storm,
from `sensor run`'s metrics.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_daemon import Daemon, free_port
from bench_storm import Bpftrace, Observation, Observer, SensorTrace, build_workload, observed_run, workload_rounds
from prometheus_client.parser import text_string_to_metric_families

from sensor.kernel.bpf_stats import enable_stats

FILE_SUMMARY = re.compile(r"file_open (\d+)/(\d+), file_change (\d+)/(\d+)")
FILTERED = re.compile(r"file_open (\d+) \(read-only opens not asked for\)")
# The peer: what `sensor trace --event file` reports of this storm, from the same tracepoints.
BPFTRACE_FILES = " ".join(
    (
        "tracepoint:syscalls:sys_enter_openat /args->flags & 0x243/ { @path[tid] = args->filename; }",
        "tracepoint:syscalls:sys_exit_openat /@path[tid]/ {",
        '  printf("%d open %s %d\\n", pid, str(@path[tid]), args->ret); delete(@path[tid]); }',
        "tracepoint:syscalls:sys_enter_rename, tracepoint:syscalls:sys_enter_renameat2 {",
        '  printf("%d rename %s %s\\n", pid, str(args->oldname), str(args->newname)); }',
        "tracepoint:syscalls:sys_enter_unlink, tracepoint:syscalls:sys_enter_unlinkat {",
        '  printf("%d unlink %s\\n", pid, str(args->pathname)); }',
    )
)
EVENTS_PER_ROUND = {"write": 3, "read": 0}


def file_storm_rounds(binary: Path, mode: str, workers: int, seconds: float, directory: Path) -> int:
    return workload_rounds([str(binary), str(seconds), mode, str(directory)], workers)


class SensorTraceFiles(SensorTrace):
    name = "sensor trace --event file --format json"
    options = ("--event", "file")

    def stop(self) -> Observation:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=120)
        match = FILE_SUMMARY.search(err)
        if match is None:
            raise SystemExit(f"no summary from sensor trace: {err}")
        open_lost, open_sent, change_lost, change_sent = (int(g) for g in match.groups())
        filtered = FILTERED.search(err)
        return Observation(
            {"file_open": open_sent, "file_change": change_sent, "filtered": int(filtered.group(1)) if filtered else 0},
            {"file_open": open_lost, "file_change": change_lost},
        )


class SensorTraceProcesses(SensorTraceFiles):
    """The process kinds alone: on this kernel (no kprobes) they already turn syscall tracing on,
    for credential changes and failed execs; the difference from it is what the file hooks cost."""

    name = "sensor trace --event fork,exec,exit,credentials (no file hooks)"
    options = ("--event", "fork,exec,exit,credentials")

    def stop(self) -> Observation:
        self.proc.terminate()
        self.proc.communicate(timeout=120)
        return Observation()


class BpftraceFiles(Bpftrace):
    name = "bpftrace (printf per open/rename/unlink)"
    program = BPFTRACE_FILES

    def stop(self) -> Observation:
        super().stop()
        return Observation({"printed": self.printed})


OBSERVERS: tuple[Callable[[], Observer], ...] = (SensorTraceFiles, SensorTraceProcesses, BpftraceFiles)


def storm_rows(
    storm: str,
    workload_of: Callable[[int], Callable[[], int]],
    events_per_round: int,
    observers: tuple[Callable[[], Observer], ...],
    seconds: float,
    repeats: int,
) -> list[dict[str, Any]]:
    """One row per worker count (1, 2) and observer: each observed run between two runs alone.

    ``workload_of(workers)`` runs the storm with that many workers and returns its rounds.
    """
    rows = []
    for workers in (1, 2):
        workload = workload_of(workers)
        alone = [workload() / seconds]
        before = alone[0]
        per_observer: dict[str, list[Any]] = {}
        for repeat in range(repeats):
            for make in observers if repeat % 2 == 0 else observers[::-1]:
                observer = make()
                run = observed_run(observer, workload, seconds, before)
                alone.append(run.alone_after)
                per_observer.setdefault(observer.name, []).append(run)
                before = run.alone_after
        for name, runs in per_observer.items():
            ratios = [r.ratio for r in runs]
            rounds = sum(r.runs for r in runs)
            events = rounds * events_per_round
            seen: dict[str, int] = {}
            lost: dict[str, int] = {}
            for r in runs:
                for k, v in r.seen.seen.items():
                    seen[k] = seen.get(k, 0) + v
                for k, v in r.seen.lost.items():
                    lost[k] = lost.get(k, 0) + v
            cpu = sum(r.cpu_s for r in runs)
            by_part: dict[str, float] = {}
            for r in runs:
                for part, seconds_used in r.cpu_parts.items():
                    by_part[part] = by_part.get(part, 0.0) + seconds_used
            rows.append(
                {
                    "storm": storm,
                    "workers": workers,
                    "observer": name,
                    "alone_per_s": statistics.median(alone),
                    "observed_per_s": statistics.median(r.runs / seconds for r in runs),
                    "ratio_median": statistics.median(ratios),
                    "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                    "rounds": rounds,
                    "storm_events": events,
                    "cpu_us_per_event": cpu / events * 1e6 if events else None,
                    "cpu_us_per_round": cpu / rounds * 1e6,
                    "cpu_us_per_event_by_part": {part: s / events * 1e6 for part, s in by_part.items()}
                    if events
                    else {},
                    "seen": seen,
                    "lost": lost,
                }
            )
    return rows


def print_storm_rows(rows: list[dict[str, Any]]) -> None:
    """The storm table, markdown."""
    print(
        "\n| storm | workers | observer | alone rounds/s | observed rounds/s | ratio (median, min-max) | "
        "observer CPU per event | storm events | seen | lost |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per_event = (
            f"{r['cpu_us_per_event']:.1f} µs" if r["cpu_us_per_event"] else f"{r['cpu_us_per_round']:.2f} µs/round"
        )
        if r["cpu_us_per_event_by_part"]:
            per_event += " (" + ", ".join(f"{p} {us:.1f}" for p, us in r["cpu_us_per_event_by_part"].items()) + ")"
        seen = ", ".join(f"{k} {v}" for k, v in r["seen"].items())
        lost = ", ".join(f"{k} {v}" for k, v in r["lost"].items()) or "not counted"
        print(
            f"| {r['storm']} | {r['workers']} | {r['observer']} | {r['alone_per_s']:.0f} | {r['observed_per_s']:.0f} | "
            f"{r['ratio_median']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) | {per_event} | "
            f"{r['storm_events']} | {seen} | {lost} |"
        )


def _rows(binary: Path, mode: str, seconds: float, repeats: int, directory: Path) -> list[dict[str, Any]]:
    def workload_of(workers: int) -> Callable[[], int]:
        return lambda: file_storm_rounds(binary, mode, workers, seconds, directory)

    return storm_rows(mode, workload_of, EVENTS_PER_ROUND[mode], OBSERVERS, seconds, repeats)


FILE_PROGRAM = "on_sys_exit"  # every syscall's exit: the file hooks' one program


def file_bpf_time(binary: Path, seconds: float, directory: Path) -> dict[str, dict[str, float]]:
    """Run time per run of the file program during each storm (two workers), from `sensor run`'s metrics.

    It runs at every syscall's exit on the host: the write storm's five syscalls a round (three of
    them sent), the read storm's two (none sent).
    """
    port = free_port()
    daemon = Daemon(metrics_port=port)
    stats_fd = enable_stats()
    out = {}
    try:
        for mode in ("write", "read"):
            before = program_counters(port)
            rounds = file_storm_rounds(binary, mode, 2, seconds, directory)
            after = program_counters(port)
            runs = after[0] - before[0]
            run_ns = after[1] - before[1]
            events = rounds * EVENTS_PER_ROUND[mode]
            out[mode] = {
                "runs": runs,
                "ns_per_run": run_ns / runs if runs else 0.0,
                "ns_per_event": run_ns / events if events else 0.0,
                "ns_per_round": run_ns / rounds if rounds else 0.0,
            }
    finally:
        os.close(stats_fd)
        daemon.stop()
    return out


def program_counters(port: int, program: str = FILE_PROGRAM) -> tuple[float, float]:
    """(runs, run time in ns) of one BPF program so far, from `sensor run`'s metrics on ``port``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    runs = run_ns = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("program") != program:
                continue
            if sample.name == "sensor_bpf_run_time_seconds_total":
                run_ns = sample.value * 1e9
            elif sample.name == "sensor_bpf_runs_total":
                runs = sample.value
    return runs, run_ns


def files(seconds: float, repeats: int) -> dict[str, object]:
    """The file benchmark; prints its tables and returns its figures."""
    with tempfile.TemporaryDirectory(prefix="sensor-bench-files-") as tmp:
        binary = build_workload(Path(tmp), "file_storm")
        directory = Path(tmp) / "storm"
        directory.mkdir()
        rows = [
            *_rows(binary, "write", seconds, repeats, directory),
            *_rows(binary, "read", seconds, repeats, directory),
        ]
        bpf = file_bpf_time(binary, seconds, directory)
    print_storm_rows(rows)
    print("\n| storm (2 workers, sensor run) | runs of on_sys_exit | BPF time per run | per event sent | per round |")
    print("|---|---|---|---|---|")
    for mode, figures in bpf.items():
        per_event = f"{figures['ns_per_event'] / 1000:.2f} µs" if figures["ns_per_event"] else "-"
        print(
            f"| {mode} | {figures['runs']:.0f} | {figures['ns_per_run']:.0f} ns | {per_event} | "
            f"{figures['ns_per_round'] / 1000:.2f} µs |"
        )
    return {"seconds": seconds, "repeats": repeats, "rows": rows, "bpf": bpf}
