"""What a subscriber's batch delay costs and buys (see bench.py).

For each delay a gRPC subscriber may ask for (modifier.batch.max_delay), in the same run:
- the two-worker storm's rate under `sensor run` with that subscriber, as a ratio to the storm
  alone just before and just after it (as the storm benchmark measures it);
- the CPU the daemon and the subscriber spent per event meanwhile (less at the host's mercy than
  the ratio: it is what the storm has to give up);
- the kernel-to-subscriber delay of each exec at 1 000 execs per second: p50 and p99.
The delays' order flips every round, so none always runs first.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench_daemon import latency
from bench_storm import SensorDaemon, observed_run, storm_runs

DELAYS_MS = (0, 5, 10, 20)
WORKERS = 2
EVENTS_PER_EXEC = 3  # fork, exec, exit: what the subscriber takes


def batch(binary: Path, seconds: float, repeats: int) -> dict[str, object]:
    """The batch-delay benchmark; prints its table and returns its figures."""
    figures: dict[int, dict[str, list[float]]] = {
        delay: {"ratio": [], "cpu_us_per_event": [], "p50_ms": [], "p99_ms": [], "paced_execs_per_s": []}
        for delay in DELAYS_MS
    }
    before = storm_runs(binary, WORKERS, seconds) / seconds
    for repeat in range(repeats):
        for delay in DELAYS_MS if repeat % 2 == 0 else DELAYS_MS[::-1]:
            observer = SensorDaemon()
            observer.batch_delay_ns = delay * 1_000_000
            run = observed_run(observer, lambda: storm_runs(binary, WORKERS, seconds), seconds, before)
            paced = latency(binary, 1000, seconds, delay * 1_000_000)
            row = figures[delay]
            row["ratio"].append(run.ratio)
            row["cpu_us_per_event"].append(run.cpu_s / (run.runs * EVENTS_PER_EXEC) * 1e6)
            row["p50_ms"].append(paced["p50_ms"])
            row["p99_ms"].append(paced["p99_ms"])
            row["paced_execs_per_s"].append(paced["execs_per_s"])
            before = run.alone_after
    median = statistics.median
    print(
        f"\n| subscriber's batch delay | storm ratio, {WORKERS} workers (median, min-max) | "
        "daemon + subscriber CPU per event | p50 / p99 at 1 000 execs/s (execs/s reached) |"
    )
    print("|---|---|---|---|")
    for delay, row in figures.items():
        ratios = row["ratio"]
        print(
            f"| {f'{delay} ms' if delay else 'none'} | {median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
            f"{median(row['cpu_us_per_event']):.0f} µs | {median(row['p50_ms']):.2f} / {median(row['p99_ms']):.2f} ms "
            f"({median(row['paced_execs_per_s']):.0f}) |"
        )
    by_delay = {str(delay): row for delay, row in figures.items()}
    return {"seconds": seconds, "repeats": repeats, "workers": WORKERS, "delays_ms": by_delay}
