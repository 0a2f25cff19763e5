/* Process hooks: fork, exec, failed exec, exit and credential changes.
 *
 * Compiled by bcc once per kernel (sensor/kernel/compiler.py). Kernel structs are opaque here: every
 * member is read at an offset that sensor/kernel/loader.py resolved from the running kernel's BTF
 * and defined as OFF_*. Also defined by the loader: USE_RINGBUF (else the perf buffer; the ring's
 * size is set when the loader creates the map, so one object serves every size), EXEC_SYSCALLS
 * (failed execs from the execve/execveat syscall exits), EXIT_GROUP_DEAD_ARG (sched_process_exit
 * passes group_dead, 6.16+), and one of CREDS_KPROBE (commit_creds) or CREDS_SYSCALLS (the
 * set*id/setgroups/capset syscall exits, and setuid execs). CGROUP_V1_SUBSYS, only on hosts without a unified cgroup hierarchy: the index of
 * the v1 controller whose cgroup ids the records carry.
 */
#include <linux/capability.h> /* types of the capset tracepoint arguments */

#include "sensor.h"

#ifdef USE_RINGBUF
/* One page here; the loader gives the map its real size (--buffer-size) when it creates it. */
BPF_RINGBUF_OUTPUT(records, 1);
#else
BPF_PERF_OUTPUT(records);
#endif

BPF_PERCPU_ARRAY(counters, u64, HOOK_COUNT * COUNTER_SLOTS);

/* The sensor's own process, never reported: a map, not a #define, so that one compiled object
 * serves every start. The loader writes it before attaching. */
BPF_ARRAY(sensor_tgid, u32, 1);

/* Scratch space for records too large for the 512-byte BPF stack. */
BPF_PERCPU_ARRAY(exec_scratch, struct sensor_exec, 1);
BPF_PERCPU_ARRAY(exec_failed_scratch, struct sensor_exec_failed, 1);
BPF_PERCPU_ARRAY(creds_scratch, struct sensor_creds_change, 1);

/* State carried from a syscall's entry to its exit, by thread (pid_tgid). LRU: a thread killed
 * inside the syscall never reaches the exit, and its entry must not pin memory. */
struct exec_entry {
	struct sensor_creds creds;
	u64 filename; /* user pointer */
};
BPF_TABLE("lru_hash", u64, struct exec_entry, exec_entries, 10240);
struct creds_entry {
	struct sensor_creds creds;
	struct sensor_groups groups;
};
BPF_TABLE("lru_hash", u64, struct creds_entry, creds_entries, 10240);

#define READ(dst, base, off) bpf_probe_read_kernel(&(dst), sizeof(dst), (void *)(base) + (off))

static __always_inline void *read_ptr(void *base, u32 off)
{
	void *p = NULL;
	bpf_probe_read_kernel(&p, sizeof(p), base + off);
	return p;
}

/* CURRENT_TASK() and MEMBER(): members of the current task and of the structs reached from it.
 * With TASK_BTF (the loader found bpf_get_current_task_btf, 5.11+) current is a BTF-typed pointer
 * and the verifier turns each MEMBER() into one load guarded by the exception table, where READ()
 * is a helper call per member: those calls were about a fifth of each hook's time. Without it,
 * MEMBER() is READ(). READ() stays for what is not reached from current (the new task of a fork,
 * a kprobe's cred argument) and for the cwd walk, whose container_of() step the verifier refuses
 * on a BTF pointer. */
#ifdef TASK_BTF
#define CURRENT_TASK() ((void *)bpf_get_current_task_btf())
#define MEMBER(dst, base, off) ((dst) = *(typeof(dst) *)((void *)(base) + (off)))
#else
#define CURRENT_TASK() ((void *)bpf_get_current_task())
#define MEMBER(dst, base, off) READ(dst, base, off)
#endif

static __always_inline void *member_ptr(void *base, u32 off)
{
	void *p = NULL;
	MEMBER(p, base, off);
	return p;
}

static __always_inline void count(u32 hook, u32 counter)
{
	u32 slot = hook * COUNTER_SLOTS + counter;
	u64 *n = counters.lookup(&slot);
	if (n)
		*n += 1;
}

/* Sends one record and counts it as sent or lost for its hook.
 * A reader wake-up costs an inter-processor interrupt per record (a VM exit under virtualization:
 * it made each hook ~10x slower here), so the reader is never woken: it looks on a short timer
 * (sensor/kernel/ringbuf.py), which also bounds how long records wait, and a watchdog thread moves
 * them into memory when the pipeline stalls (sensor/kernel/backlog.py). */
#ifdef USE_RINGBUF
/* A failed ring buffer output is tried again, up to SEND_RETRIES times. On this kernel (6.18, whose
 * ring buffer takes a resilient spinlock) a reservation now and then fails for about a microsecond
 * while the ring is far from full, and only while a reader is consuming it: 1 to 4 records in 5 s
 * of a two-worker connect storm, with the 16 MiB ring a third full (sampled every millisecond), the
 * failing call returning at once; none in 2.9 million records with no reader. Every one went
 * through within 30 tries. A ring that is really full fails every try, so after a record is lost
 * that way its CPU tries once (ring_full) until a record goes through again: an overloaded host
 * pays the retries once, not per record. */
#define SEND_RETRIES 64
BPF_PERCPU_ARRAY(ring_full, u32, 1);

static __always_inline int ring_output(void *rec, u32 size)
{
	int err = records.ringbuf_output(rec, size, BPF_RB_NO_WAKEUP);
	u32 zero = 0;
	u32 *full = ring_full.lookup(&zero); /* a per-CPU array: the verifier inlines the lookup */
	if (!full)
		return err;
	for (int i = 0; i < SEND_RETRIES && err < 0 && !*full; i++)
		err = records.ringbuf_output(rec, size, BPF_RB_NO_WAKEUP);
	*full = err < 0;
	return err;
}
#endif

static __always_inline void send(void *ctx, u32 hook, void *rec, u32 size)
{
#ifdef USE_RINGBUF
	int err = ring_output(rec, size);
#else
	int err = records.perf_submit(ctx, rec, size);
#endif
	count(hook, err < 0 ? COUNTER_LOST : COUNTER_SENT);
}

/* struct sensor_creds mirrors struct cred's run of ids from uid to fsgid. */
static __always_inline void current_creds(struct sensor_creds *creds)
{
	void *cred = member_ptr(CURRENT_TASK(), OFF_TASK_REAL_CRED);
#ifdef TASK_BTF
	/* One load per id: the verifier refuses a load that spans two members. */
#define CRED_ID(id) MEMBER(creds->id, cred, OFF_CRED_UID + offsetof(struct sensor_creds, id))
	CRED_ID(uid);
	CRED_ID(gid);
	CRED_ID(suid);
	CRED_ID(sgid);
	CRED_ID(euid);
	CRED_ID(egid);
	CRED_ID(fsuid);
	CRED_ID(fsgid);
#undef CRED_ID
#else
	bpf_probe_read_kernel(creds, sizeof(*creds), cred + OFF_CRED_UID);
#endif
}

/* The first SENSOR_GROUPS_MAX supplementary groups of a struct group_info, and how many it has. */
static __always_inline void read_groups(void *group_info, struct sensor_groups *out)
{
	int n = 0;
	READ(n, group_info, OFF_GROUP_INFO_NGROUPS);
	out->ngroups = n > 0 ? n : 0;
	u64 bytes = (u64)out->ngroups * sizeof(__u32); /* 64 bits: the verifier tracks the bound on this register */
	if (bytes > sizeof(out->gids))
		bytes = sizeof(out->gids);
	if (bytes > 0)
		bpf_probe_read_kernel(out->gids, bytes, group_info + OFF_GROUP_INFO_GID);
}

static __always_inline void current_groups(struct sensor_groups *out)
{
	read_groups(read_ptr(read_ptr(CURRENT_TASK(), OFF_TASK_REAL_CRED), OFF_CRED_GROUP_INFO), out);
}

static __always_inline int creds_equal(const struct sensor_creds *a, const struct sensor_creds *b)
{
	return a->uid == b->uid && a->gid == b->gid && a->suid == b->suid && a->sgid == b->sgid &&
	       a->euid == b->euid && a->egid == b->egid && a->fsuid == b->fsuid && a->fsgid == b->fsgid;
}

/* The start time of the process of ``task`` (current, or a task reached from it). */
static __always_inline u64 leader_start(void *task)
{
	u64 start = 0;
	MEMBER(start, member_ptr(task, OFF_TASK_GROUP_LEADER), OFF_TASK_START_BOOTTIME);
	return start;
}

/* The current task's cgroup id in the watched hierarchy. */
static __always_inline u64 current_cgroup_id(void *task)
{
#ifdef CGROUP_V1_SUBSYS
	void *css = member_ptr(member_ptr(task, OFF_TASK_CGROUPS), OFF_CSS_SET_SUBSYS + CGROUP_V1_SUBSYS * sizeof(void *));
	void *kn = member_ptr(member_ptr(css, OFF_CSS_CGROUP), OFF_CGROUP_KN);
	u64 id = 0;
	MEMBER(id, kn, OFF_KERNFS_NODE_ID);
	return id;
#else
	return bpf_get_current_cgroup_id();
#endif
}

/* Every record is about the current task: each hook runs in the task it reports. */
static __always_inline void fill_header(struct sensor_header *h, u16 type)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	void *task = CURRENT_TASK();
	void *parent = member_ptr(task, OFF_TASK_REAL_PARENT);

	h->type = type;
	h->cpu = bpf_get_smp_processor_id();
	h->pid = (u32)pid_tgid;
	h->tgid = pid_tgid >> 32;
	h->ktime_ns = bpf_ktime_get_ns();
	h->ppid = 0;
	MEMBER(h->ppid, parent, OFF_TASK_TGID);
	h->start_ns = leader_start(task);
	h->parent_start_ns = leader_start(parent);
	h->cgroup_id = current_cgroup_id(task);
	current_creds(&h->creds);
#ifdef TASK_BTF
	/* Two loads instead of the helper's call and byte-wise copy; the kernel keeps comm NUL-padded. */
	MEMBER(*(u64 *)&h->comm[0], task, OFF_TASK_COMM);
	MEMBER(*(u64 *)&h->comm[8], task, OFF_TASK_COMM + 8);
#else
	bpf_get_current_comm(h->comm, sizeof(h->comm));
#endif
}

static __always_inline int is_sensor(void)
{
	u32 zero = 0;
	u32 *tgid = sensor_tgid.lookup(&zero);
	return tgid && (bpf_get_current_pid_tgid() >> 32) == *tgid;
}

/* task_newtask(struct task_struct *p, u64 clone_flags); current is the parent thread. */
int on_task_newtask(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_sensor())
		return 0;
	void *child = (void *)ctx->args[0];
	struct sensor_fork rec = {};

	fill_header(&rec.header, RECORD_FORK);
	READ(rec.child_pid, child, OFF_TASK_PID);
	READ(rec.child_tgid, child, OFF_TASK_TGID);
	READ(rec.child_start_ns, read_ptr(child, OFF_TASK_GROUP_LEADER), OFF_TASK_START_BOOTTIME);
	rec.clone_flags = ctx->args[1];
	send(ctx, HOOK_FORK, &rec, sizeof(rec));
	return 0;
}

/* The task's id in its own (innermost) pid namespace: 1 for the init of a container with one.
 * A plain read, not MEMBER(): the index is a variable, which the verifier refuses on a BTF pointer. */
static __always_inline u32 ns_pid(void *task)
{
	void *pid = read_ptr(task, OFF_TASK_THREAD_PID);
	u32 level = 0;
	u32 nr = 0;
	READ(level, pid, OFF_PID_LEVEL);
	READ(nr, pid, OFF_PID_NUMBERS + (u64)level * SIZE_UPID + OFF_UPID_NR);
	return nr;
}

/* Appends the path of (dentry, vfsmnt) as components, leaf first, at data[0..], up to the root of
 * the current task (so a process in a container gets the path it sees); returns the bytes written.
 * Sets *truncated when the walk stopped at its depth or size bound. */
static __always_inline u32 walk_path(void *dentry, void *vfsmnt, char *data, int *truncated)
{
	void *fs = member_ptr(CURRENT_TASK(), OFF_TASK_FS);
	void *root_dentry = read_ptr(fs, OFF_FS_ROOT + OFF_PATH_DENTRY);
	void *root_mnt = read_ptr(fs, OFF_FS_ROOT + OFF_PATH_MNT);
	/* struct mount embeds struct vfsmount at OFF_MOUNT_MNT. */
	void *mnt = vfsmnt - OFF_MOUNT_MNT;
	u32 len = 0;
	int i;

#pragma unroll
	for (i = 0; i < SENSOR_CWD_DEPTH; i++) {
		if (dentry == root_dentry && vfsmnt == root_mnt)
			return len;
		void *mnt_root = read_ptr(vfsmnt, OFF_VFSMOUNT_MNT_ROOT);
		void *parent = read_ptr(dentry, OFF_DENTRY_D_PARENT);
		if (dentry == mnt_root || dentry == parent) {
			void *mnt_parent = read_ptr(mnt, OFF_MOUNT_MNT_PARENT);
			if (mnt_parent == mnt || dentry != mnt_root)
				return len; /* the top of the mount tree (or a dentry outside it) */
			dentry = read_ptr(mnt, OFF_MOUNT_MNT_MOUNTPOINT);
			mnt = mnt_parent;
			vfsmnt = mnt + OFF_MOUNT_MNT;
			continue;
		}
		if (len > SENSOR_PATH_MAX - SENSOR_CWD_NAME_MAX) {
			*truncated = 1;
			return len;
		}
		void *name = read_ptr(dentry, OFF_DENTRY_D_NAME + OFF_QSTR_NAME);
		int n = bpf_probe_read_kernel_str(data + len, SENSOR_CWD_NAME_MAX, name);
		if (n <= 0)
			return len;
		len += n;
		dentry = parent;
	}
	*truncated = 1;
	return len;
}

/* The current task's cwd, as walk_path() writes it. */
static __always_inline u32 read_cwd(char *data, int *truncated)
{
	void *fs = member_ptr(CURRENT_TASK(), OFF_TASK_FS);
	return walk_path(read_ptr(fs, OFF_FS_PWD + OFF_PATH_DENTRY), read_ptr(fs, OFF_FS_PWD + OFF_PATH_MNT), data,
			 truncated);
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm);
 * current is the task after exec, running the new program. */
int on_sched_process_exec(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_sensor())
		return 0;
	u32 zero = 0;
	struct sensor_exec *rec = exec_scratch.lookup(&zero);
	if (!rec)
		return 0;
	void *task = CURRENT_TASK(); /* the tracepoint's task argument */
	void *bprm = (void *)ctx->args[2];
	u32 old_pid = (u32)ctx->args[1];

	fill_header(&rec->header, RECORD_EXEC);
	rec->old_pid = old_pid;
	rec->flags = 0;
	rec->ns_tgid = ns_pid(task); /* after exec the task is its process's leader: its pid is the tgid */

	int n = bpf_probe_read_kernel_str(rec->data, SENSOR_FILENAME_MAX, read_ptr(bprm, OFF_BPRM_FILENAME));
	u32 filename_len = n > 0 ? n : 0;
	if (filename_len >= SENSOR_FILENAME_MAX)
		rec->flags |= EXEC_FILENAME_TRUNCATED;
	filename_len &= SENSOR_FILENAME_MAX - 1;
	rec->filename_len = filename_len;

	void *mm = member_ptr(task, OFF_TASK_MM);
	u64 arg_start = 0, arg_end = 0;
	MEMBER(arg_start, mm, OFF_MM_ARG_START);
	MEMBER(arg_end, mm, OFF_MM_ARG_END);
	u64 args_size = arg_end > arg_start ? arg_end - arg_start : 0;
	u32 args_len = args_size;
	if (args_size > SENSOR_ARGS_MAX - 1) {
		args_len = SENSOR_ARGS_MAX - 1;
		rec->flags |= EXEC_ARGS_TRUNCATED;
	}
	args_len &= SENSOR_ARGS_MAX - 1;
	if (bpf_probe_read_user(rec->data + filename_len, args_len, (void *)arg_start) < 0) {
		args_len = 0;
		rec->flags |= EXEC_ARGS_UNREADABLE;
	}
	rec->args_len = args_len;
	rec->args_size = args_size > 0xffffffff ? 0xffffffff : args_size;

	u32 cwd_at = filename_len + args_len; /* each masked above: the verifier sees the sum's bound */
	int cwd_truncated = 0;
	u32 cwd_len = read_cwd(rec->data + cwd_at, &cwd_truncated) & (SENSOR_CWD_MAX - 1);
	if (cwd_truncated)
		rec->flags |= EXEC_CWD_TRUNCATED;
	rec->cwd_len = cwd_len;

	u32 size = offsetof(struct sensor_exec, data) + cwd_at + cwd_len;
	if (size > sizeof(*rec))
		size = sizeof(*rec);
	send(ctx, HOOK_EXEC, rec, size);

#if defined(CREDS_SYSCALLS) && defined(EXEC_SYSCALLS)
	/* A set-user-ID exec changes credentials without a set*id call: compare with the caller's. */
	u64 key = ((u64)rec->header.tgid << 32) | old_pid;
	struct exec_entry *entry = exec_entries.lookup(&key);
	struct sensor_creds_change *change = creds_scratch.lookup(&zero);
	if (entry && change && !creds_equal(&entry->creds, &rec->header.creds)) {
		__builtin_memcpy(&change->header, &rec->header, sizeof(change->header));
		change->header.type = RECORD_CREDS;
		change->old = entry->creds;
		change->cause = CREDS_EXEC;
		current_groups(&change->groups); /* exec keeps the groups */
		change->old_groups = change->groups;
		send(ctx, HOOK_CREDENTIALS, change, sizeof(*change));
	}
#endif
	return 0;
}

#ifdef EXEC_SYSCALLS
static __always_inline int exec_enter(const char *filename)
{
	if (is_sensor())
		return 0;
	u64 key = bpf_get_current_pid_tgid();
	struct exec_entry entry = {};
	current_creds(&entry.creds);
	entry.filename = (u64)filename;
	exec_entries.update(&key, &entry);
	return 0;
}

static __always_inline int exec_exit(void *ctx, long ret)
{
	u64 key = bpf_get_current_pid_tgid();
	struct exec_entry *entry = exec_entries.lookup(&key);
	if (!entry)
		return 0;
	if (ret < 0) {
		u32 zero = 0;
		struct sensor_exec_failed *rec = exec_failed_scratch.lookup(&zero);
		if (rec) {
			fill_header(&rec->header, RECORD_EXEC_FAILED);
			rec->error = -ret;
			int n = bpf_probe_read_user_str(rec->data, SENSOR_FILENAME_MAX, (void *)entry->filename);
			u32 len = (n > 0 ? n : 0) & (SENSOR_FILENAME_MAX - 1);
			rec->filename_len = len;
			u32 size = offsetof(struct sensor_exec_failed, data) + len;
			if (size > sizeof(*rec))
				size = sizeof(*rec);
			send(ctx, HOOK_EXEC_FAILED, rec, size);
		}
	}
	exec_entries.delete(&key);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_execve) { return exec_enter(args->filename); }
TRACEPOINT_PROBE(syscalls, sys_exit_execve) { return exec_exit(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_enter_execveat) { return exec_enter(args->filename); }
TRACEPOINT_PROBE(syscalls, sys_exit_execveat) { return exec_exit(args, args->ret); }
#endif

#ifndef EXIT_GROUP_DEAD_ARG
/* Processes whose end was reported, by (signal_struct, leader start time): see on_sched_process_exit. */
struct group_key {
	u64 signal;
	u64 start_ns;
};
BPF_TABLE("lru_hash", struct group_key, u8, groups_ended, 4096);
#endif

/* sched_process_exit(struct task_struct *p, bool group_dead); current is the exiting thread.
 * group_dead is do_exit()'s own atomic_dec_and_test(&signal->live): true for exactly one thread.
 * Kernels before 6.16 do not pass it. There, reading signal->live at the tracepoint is racy:
 * threads exiting together all find it zero once the last has decremented it. So the first of
 * them to claim the process in groups_ended reports its end; the key holds the leader's start
 * time, so a signal_struct reused by a later process is a new key. */
int on_sched_process_exit(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_sensor())
		return 0;
	void *task = CURRENT_TASK(); /* the tracepoint's task argument */
	struct sensor_exit rec = {};

	fill_header(&rec.header, RECORD_EXIT);
	MEMBER(rec.exit_code, task, OFF_TASK_EXIT_CODE);
#ifdef EXIT_GROUP_DEAD_ARG
	if (ctx->args[1])
		rec.flags |= EXIT_GROUP_DEAD;
#else
	int live = 1;
	void *signal = member_ptr(task, OFF_TASK_SIGNAL);
	MEMBER(live, signal, OFF_SIGNAL_LIVE);
	if (live == 0) {
		struct group_key key = {(u64)signal, rec.header.start_ns};
		u8 ended = 1;
		if (groups_ended.insert(&key, &ended) == 0)
			rec.flags |= EXIT_GROUP_DEAD;
	}
#endif
	send(ctx, HOOK_EXIT, &rec, sizeof(rec));
	return 0;
}

#ifdef CREDS_KPROBE
/* commit_creds(struct cred *new): every credential change, whatever caused it. */
int on_commit_creds(struct pt_regs *ctx)
{
	if (is_sensor())
		return 0;
	void *new_cred = (void *)PT_REGS_PARM1(ctx);
	struct sensor_creds old = {}, new = {};
	current_creds(&old);
	bpf_probe_read_kernel(&new, sizeof(new), new_cred + OFF_CRED_UID);
	u32 zero = 0;
	struct sensor_creds_change *rec = creds_scratch.lookup(&zero);
	if (!rec)
		return 0;
	current_groups(&rec->old_groups);
	read_groups(read_ptr(new_cred, OFF_CRED_GROUP_INFO), &rec->groups);
	if (creds_equal(&old, &new) && read_ptr(new_cred, OFF_CRED_GROUP_INFO) ==
	    read_ptr(read_ptr(CURRENT_TASK(), OFF_TASK_REAL_CRED), OFF_CRED_GROUP_INFO))
		return 0;
	fill_header(&rec->header, RECORD_CREDS);
	rec->header.creds = new;
	rec->old = old;
	rec->cause = CREDS_COMMIT_CREDS;
	send(ctx, HOOK_CREDENTIALS, rec, sizeof(*rec));
	return 0;
}
#endif

#ifdef CREDS_SYSCALLS
static __always_inline int creds_enter(void)
{
	if (is_sensor())
		return 0;
	u64 key = bpf_get_current_pid_tgid();
	struct creds_entry entry = {};
	current_creds(&entry.creds);
	current_groups(&entry.groups);
	creds_entries.update(&key, &entry);
	return 0;
}

/* setgroups and capset change what the ids do not show: report every success (with the groups). */
static __always_inline int creds_exit(void *ctx, long ret, u32 cause, int always)
{
	u64 key = bpf_get_current_pid_tgid();
	struct creds_entry *old = creds_entries.lookup(&key);
	u32 zero = 0;
	struct sensor_creds_change *rec = creds_scratch.lookup(&zero);
	if (!old || !rec)
		return 0;
	fill_header(&rec->header, RECORD_CREDS);
	if ((always && ret == 0) || !creds_equal(&old->creds, &rec->header.creds)) {
		rec->old = old->creds;
		rec->cause = cause;
		rec->old_groups = old->groups;
		current_groups(&rec->groups);
		send(ctx, HOOK_CREDENTIALS, rec, sizeof(*rec));
	}
	creds_entries.delete(&key);
	return 0;
}

#define CREDS_SYSCALL(name, cause, always)                                           \
	TRACEPOINT_PROBE(syscalls, sys_enter_##name) { return creds_enter(); }      \
	TRACEPOINT_PROBE(syscalls, sys_exit_##name) { return creds_exit(args, args->ret, cause, always); }

CREDS_SYSCALL(setuid, CREDS_SETUID, 0)
CREDS_SYSCALL(setgid, CREDS_SETGID, 0)
CREDS_SYSCALL(setreuid, CREDS_SETREUID, 0)
CREDS_SYSCALL(setregid, CREDS_SETREGID, 0)
CREDS_SYSCALL(setresuid, CREDS_SETRESUID, 0)
CREDS_SYSCALL(setresgid, CREDS_SETRESGID, 0)
CREDS_SYSCALL(setfsuid, CREDS_SETFSUID, 0)
CREDS_SYSCALL(setfsgid, CREDS_SETFSGID, 0)
CREDS_SYSCALL(setgroups, CREDS_SETGROUPS, 1)
CREDS_SYSCALL(capset, CREDS_CAPSET, 1)
#endif
