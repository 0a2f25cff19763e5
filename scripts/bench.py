"""Benchmarks, each against a baseline measured in the same run; markdown tables on stdout, JSON in
bench-results/bench.json.

storm     exec-storm rate under `sensor trace`, `sensor run` + a subscriber, bpftrace and a minimal bcc
          consumer, each as a ratio to the storm alone run just before and just after it; events
          seen and lost per kind (scripts/bench_storm.py)
pipeline  a recorded storm replayed through decode, caches, build, filter and encode: events per
          CPU-second; RSS with 100 000 processes in the model and through 1 000 000 short-lived ones
          (scripts/bench_pipeline.py)
daemon    start-up to ready, idle RSS, kernel-to-subscriber latency at 1 000 execs/s and at full
          speed, BPF run time per hook (scripts/bench_daemon.py)
batch     what a subscriber's batch delay costs and buys: storm ratio, CPU per event and latency at
          1 000 execs/s for each delay (scripts/bench_batch.py)
fanout    replayed events through the TelemetryService to 1 and 10 subscriber processes, against
          encoding alone (scripts/fanout.py)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH_REPEATS = 2  # rounds of the batch-delay sweep: each round is four storms and four latency runs
PARTS = ("storm", "pipeline", "daemon", "batch", "fanout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each storm run (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="alone/observed rounds per worker count (default 3)")
    parser.add_argument("--events", type=int, default=50_000, help="events replayed per fanout run")
    parser.add_argument("--live", type=int, default=100_000, help="live processes put in the model for RSS")
    parser.add_argument("--churn", type=int, default=200_000, help="short-lived processes for the RSS churn run")
    parser.add_argument("--only", choices=PARTS, action="append", help="run this part (repeatable); default all")
    args = parser.parse_args()
    parts = args.only or list(PARTS)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    results_file = out / "bench.json"
    results: dict[str, object] = json.loads(results_file.read_text()) if results_file.exists() else {}
    # The parts import the sensor (and bcc) only when they run.
    with tempfile.TemporaryDirectory(prefix="sensor-bench-") as tmp:
        from bench_storm import build_storm

        binary = build_storm(Path(tmp))
        if "storm" in parts:
            from bench_storm import storm

            results["storm"] = storm(binary, args.seconds, args.repeats)
        if "pipeline" in parts:
            from bench_pipeline import pipeline

            results["pipeline"] = pipeline(binary, args.seconds, args.live, args.churn)
        if "daemon" in parts:
            from bench_daemon import daemon_figures

            results["daemon"] = daemon_figures(binary, args.seconds)
        if "batch" in parts:
            from bench_batch import batch

            results["batch"] = batch(binary, args.seconds, BATCH_REPEATS)
    if "fanout" in parts:
        from fanout import fanout

        results["fanout"] = fanout(args.events)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {results_file.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
