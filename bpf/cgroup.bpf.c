/* Cgroup hooks: a cgroup made or removed, and a task moved into one; container birth, death and
 * membership without polling.
 *
 * Compiled after process.bpf.c, in the same unit: it uses that file's maps, send() and fill_header().
 * Defined by the loader: CGROUP_HIERARCHY_ID, the one hierarchy whose cgroups are reported (0, the
 * unified hierarchy, wherever it is mounted). The tracepoints' own fields are used, not struct
 * offsets: their format is stable ABI.
 */

BPF_PERCPU_ARRAY(cgroup_scratch, struct sensor_cgroup, 1);

static __always_inline struct sensor_cgroup *cgroup_record(u16 type, int root, u64 id, int level)
{
	if (is_sensor() || root != CGROUP_HIERARCHY_ID)
		return NULL;
	u32 zero = 0;
	struct sensor_cgroup *rec = cgroup_scratch.lookup(&zero);
	if (!rec)
		return NULL;
	fill_header(&rec->header, type);
	rec->id = id;
	rec->hierarchy_id = root;
	rec->level = level;
	rec->target_pid = 0;
	return rec;
}

static __always_inline void send_cgroup(void *ctx, struct sensor_cgroup *rec, int n)
{
	rec->path_len = n > 0 ? n : 0;
	send(ctx, HOOK_CGROUPS, rec, sizeof(*rec));
}

/* cgroup_mkdir and cgroup_rmdir share one format: root, id, level, path. */
#define CGROUP_PATH_PROBE(event, type)                                                               \
	TRACEPOINT_PROBE(cgroup, event)                                                              \
	{                                                                                            \
		struct sensor_cgroup *rec = cgroup_record(type, args->root, args->id, args->level);  \
		if (!rec)                                                                            \
			return 0;                                                                    \
		unsigned short at = args->data_loc_path & 0xFFFF;                                    \
		send_cgroup(args, rec, bpf_probe_read_kernel_str(rec->path, sizeof(rec->path), (char *)args + at)); \
		return 0;                                                                            \
	}

CGROUP_PATH_PROBE(cgroup_mkdir, RECORD_CGROUP_MKDIR)
CGROUP_PATH_PROBE(cgroup_rmdir, RECORD_CGROUP_RMDIR)

TRACEPOINT_PROBE(cgroup, cgroup_attach_task)
{
	struct sensor_cgroup *rec =
		cgroup_record(RECORD_CGROUP_ATTACH, args->dst_root, args->dst_id, args->dst_level);
	if (!rec)
		return 0;
	rec->target_pid = args->pid;
	unsigned short at = args->data_loc_dst_path & 0xFFFF;
	send_cgroup(args, rec, bpf_probe_read_kernel_str(rec->path, sizeof(rec->path), (char *)args + at));
	return 0;
}
