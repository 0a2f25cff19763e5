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
files     file storms (create/write/rename/unlink, and read-only opens) alone, under `sensor trace --event
          file` and under bpftrace on the same tracepoints; BPF time per file program (scripts/bench_files.py)
network   connect storms (connect, accept, close on loopback) alone, under `sensor trace --event network`
          and under bpftrace on the same tracepoints; BPF time per network program (scripts/bench_network.py)
client    the exec storm under `sensor run` + one `sensor trace --connect --format json` (each read's events
          at once, and batched 20 ms) beside `sensor trace`: the daemon's and the client's CPU per event
          (scripts/bench_client.py); not in the default run: --only client, or --all
export    the exec storm under `sensor run --export-file` and `--export-nats` (a nats-server on this host)
          beside `sensor trace`: ratios, the daemon's and the server's CPU per event, each export's loss
          (scripts/bench_export.py); not in the default run: --only export, or --all
fanin     50 nodes' exports into a three-server JetStream cluster on this host, read back by `sensor fleet
          trace`: events stored a second, loss, latency (scripts/bench_fanin.py); --only fanin, or --all
jobs      fleet jobs: three archive jobs reading a full stream to disk on one worker and on three (events
          archived a second, the workers' CPU per event), and the time from a worker's SIGKILL to its job
          running on another (scripts/bench_jobs.py); --only jobs, or --all
fanout    replayed events through the TelemetryService to 1 and 10 subscriber processes, against
          encoding alone (scripts/fanout.py)
batch     what a subscriber's batch delay costs and buys: storm ratio, CPU per event and latency at
          1 000 execs/s for each delay (scripts/bench_batch.py); not in the default run (two to
          three minutes more): --only batch, or --all

The default run takes about fourteen minutes on a 2-core VM (half of it the file storms); each
part's time goes to stderr and the JSON. For tighter figures give the storm more rounds (--repeats
5) or longer runs (--seconds 5).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH_REPEATS = 2  # rounds of the batch-delay sweep: each round is four storms and four latency runs
DEFAULT_PARTS = ("storm", "files", "network", "pipeline", "daemon", "fanout")
PARTS = (*DEFAULT_PARTS, "batch", "client", "export", "fanin", "jobs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each storm run (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="alone/observed rounds per worker count (default 3)")
    parser.add_argument("--events", type=int, default=50_000, help="events replayed per fanout run")
    parser.add_argument("--live", type=int, default=100_000, help="live processes put in the model for RSS")
    parser.add_argument(
        "--churn", type=int, default=1_000_000, help="short-lived processes for the RSS churn run (default 1 000 000)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only", choices=PARTS, action="append", help="run this part (repeatable)")
    which.add_argument("--all", action="store_true", help="run every part, the batch sweep too")
    args = parser.parse_args()
    parts = args.only or (PARTS if args.all else DEFAULT_PARTS)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    results_file = out / "bench.json"
    results: dict[str, object] = json.loads(results_file.read_text()) if results_file.exists() else {}
    durations: dict[str, float] = {}

    def timed(part: str, run: Callable[[], object]) -> None:
        started = time.monotonic()
        results[part] = run()
        durations[part] = round(time.monotonic() - started, 1)
        print(f"({part}: {durations[part]:.0f} s)", file=sys.stderr, flush=True)

    # The parts import the sensor (and bcc) only when they run.
    with tempfile.TemporaryDirectory(prefix="sensor-bench-") as tmp:
        from bench_storm import build_storm

        binary = build_storm(Path(tmp))
        if "storm" in parts:
            from bench_storm import storm

            timed("storm", lambda: storm(binary, args.seconds, args.repeats))
        if "files" in parts:
            from bench_files import files

            timed("files", lambda: files(args.seconds, args.repeats))
        if "network" in parts:
            from bench_network import network

            timed("network", lambda: network(args.seconds, args.repeats))
        if "pipeline" in parts:
            from bench_pipeline import pipeline

            timed("pipeline", lambda: pipeline(binary, args.seconds, args.live, args.churn))
        if "daemon" in parts:
            from bench_daemon import daemon_figures

            timed("daemon", lambda: daemon_figures(binary, args.seconds))
        if "client" in parts:
            from bench_client import client

            timed("client", lambda: client(binary, args.seconds, args.repeats))
        if "export" in parts:
            from bench_export import export

            timed("export", lambda: export(binary, args.seconds, args.repeats))
        if "fanin" in parts:
            from bench_fanin import fanin

            timed("fanin", lambda: fanin(binary, args.seconds))
        if "jobs" in parts:
            from bench_jobs import jobs

            timed("jobs", lambda: jobs(binary, args.seconds, args.repeats))
        if "batch" in parts:
            from bench_batch import batch

            timed("batch", lambda: batch(binary, args.seconds, BATCH_REPEATS))
    if "fanout" in parts:
        from fanout import fanout

        timed("fanout", lambda: fanout(args.events))
    results["durations_s"] = durations
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {results_file.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
