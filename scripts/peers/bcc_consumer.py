"""The bench's bcc peer: the least a Python bcc tool does per process event, and nothing more.

One perf-buffer record per fork, exec and exit (pid, ppid-less, comm), one Python callback per
record that counts it. Prints "ready" on stderr once attached; on SIGTERM prints the counts.
Run by scripts/bench with Debian's python3 (where bcc lives).
"""

import signal
import sys

from bcc import BPF

PROGRAM = r"""
struct record { u32 pid; u32 kind; char comm[16]; };
BPF_PERF_OUTPUT(records);

static int send(void *ctx, u32 kind) {
    struct record r = {};
    r.pid = bpf_get_current_pid_tgid() >> 32;
    r.kind = kind;
    bpf_get_current_comm(&r.comm, sizeof(r.comm));
    records.perf_submit(ctx, &r, sizeof(r));
    return 0;
}
TRACEPOINT_PROBE(sched, sched_process_fork) { return send(args, 0); }
TRACEPOINT_PROBE(sched, sched_process_exec) { return send(args, 1); }
TRACEPOINT_PROBE(sched, sched_process_exit) { return send(args, 2); }
"""

counts = [0, 0, 0]
lost = [0]


def on_record(_cpu, data, _size):
    counts[bpf["records"].event(data).kind] += 1


def on_lost(count):
    lost[0] += count


bpf = BPF(text=PROGRAM)
bpf["records"].open_perf_buffer(on_record, page_cnt=256, lost_cb=on_lost)
running = [True]
signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
print("ready", file=sys.stderr, flush=True)
while running[0]:
    bpf.perf_buffer_poll(timeout=100)
print(f"fork {counts[0]} exec {counts[1]} exit {counts[2]} lost {lost[0]}", file=sys.stderr, flush=True)
