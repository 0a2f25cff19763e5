"""Benchmarks, each a ratio against a baseline measured in the same run.

storm: exec-storm overhead of `sensor trace`, interleaved with the same storm alone, and loss
counters. Each repetition runs the storm alone and then under the sensor, for 1 and for 2 workers,
so drift on the machine affects both sides alike; the figure is the median of traced/alone ratios.

fanout: events per second through the hub's filter, protobuf serialization and gRPC streaming to 1
and to 10 subscribers (each its own client process on the unix socket). The events are this host's
processes as the sensor describes them, replayed through the real TelemetryService as fast as the
subscribers take them; the baseline is encoding alone (to_proto + SerializeToString) in one thread.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"(\d+) events printed, (\d+) records read; lost: kernel (\d+) .*reader (\d+), undecodable (\d+)")


def build_storm(workdir: Path) -> Path:
    binary = workdir / "storm"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(ROOT / "tests/workloads/storm.c")], check=True)
    return binary


def storm_rate(binary: Path, workers: int, seconds: float) -> float:
    procs = [subprocess.Popen([str(binary), str(seconds)], stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    runs = sum(int(p.communicate()[0].split()[1]) for p in procs)
    return runs / seconds


def start_trace() -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sensor", "trace", "--format", "json"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    started = time.monotonic()
    line = proc.stderr.readline()
    if "ready" not in line:
        raise SystemExit(f"sensor trace did not start: {line}{proc.stderr.read()}")
    print(f"sensor trace ready in {time.monotonic() - started:.2f} s", file=sys.stderr)
    return proc


def stop_trace(proc: subprocess.Popen[str]) -> dict[str, int]:
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    match = SUMMARY.search(err)
    if match is None:
        raise SystemExit(f"no summary from sensor trace: {err}")
    printed, read, kernel, reader, undecodable = (int(g) for g in match.groups())
    return {"printed": printed, "read": read, "lost_kernel": kernel, "lost_reader": reader, "undecodable": undecodable}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each storm run")
    parser.add_argument("--repeats", type=int, default=3, help="alone/traced pairs per worker count")
    parser.add_argument("--events", type=int, default=50_000, help="events replayed per fanout run")
    parser.add_argument("--only", choices=["storm", "fanout"], help="run one benchmark")
    args = parser.parse_args()
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    results_file = out / "bench.json"
    results: dict[str, object] = json.loads(results_file.read_text()) if results_file.exists() else {}
    if args.only != "fanout":
        results["storm"] = storm(args.seconds, args.repeats)
    if args.only != "storm":
        from fanout import fanout  # scripts/fanout.py: imports the sensor, which the storm part does not need

        results["fanout"] = fanout(args.events)
    results_file.write_text(json.dumps(results, indent=2) + "\n")


def storm(seconds: float, repeats: int) -> dict[str, object]:
    """The storm benchmark; prints its table and returns its figures."""
    results: dict[str, object] = {"seconds": seconds, "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        binary = build_storm(Path(tmp))
        rows = []
        for workers in (1, 2):
            ratios, alone_rates, traced_rates, losses = [], [], [], []
            for _ in range(repeats):
                alone = storm_rate(binary, workers, seconds)
                trace = start_trace()
                traced = storm_rate(binary, workers, seconds)
                losses.append(stop_trace(trace))
                alone_rates.append(alone)
                traced_rates.append(traced)
                ratios.append(traced / alone)
            row = {
                "workers": workers,
                "alone_per_s": statistics.median(alone_rates),
                "traced_per_s": statistics.median(traced_rates),
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "lost_kernel": sum(x["lost_kernel"] for x in losses),
                "lost_reader": sum(x["lost_reader"] + x["undecodable"] for x in losses),
            }
            rows.append(row)
        results["rows"] = rows
    print("| storm workers | alone execs/s | with `sensor trace --format json` | ratio (median, min-max) | lost |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workers']} | {r['alone_per_s']:.0f} | {r['traced_per_s']:.0f} | "
            f"{r['ratio_median']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) | "
            f"kernel {r['lost_kernel']}, reader {r['lost_reader']} |"
        )
    return results


if __name__ == "__main__":
    main()
