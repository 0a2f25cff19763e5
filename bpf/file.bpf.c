/* File hooks: opens and changes to the tree, from the syscall tracepoints (this kernel has no
 * kprobes, fentry or BPF-LSM; Falco's older eBPF probe worked the same way).
 *
 * Compiled after process.bpf.c, in the same unit: it uses that file's maps, send(), count(),
 * fill_header() and walk_path(). Each syscall's entry keeps its arguments by thread; its exit
 * sends one struct sensor_file with the result. Paths are resolved in the kernel only as far as
 * the directory a relative path is relative to (the cwd or the dirfd's own path): user space
 * joins the two, so no per-process fd table has to be kept in step with the kernel's.
 *
 * Volume: an open that only reads is not kept at its entry unless file_settings asks for reads;
 * by prefix, its exit sends it only when its absolute path starts with a prefix in read_prefixes.
 * What the filter leaves out is counted (COUNTER_FILTERED), apart from what the buffer loses.
 */

#define AT_FDCWD_VALUE -100
#define AT_REMOVEDIR_FLAG 0x200
/* O_WRONLY | O_RDWR | O_CREAT | O_TRUNC: an open that may change the file. */
#define OPEN_CHANGES_FILE (01 | 02 | 0100 | 01000)

BPF_PERCPU_ARRAY(file_scratch, struct sensor_file, 1);
/* [0]: enum sensor_read_opens, written by the loader and whenever subscriptions change. */
BPF_ARRAY(file_settings, u32, 1);

struct read_prefix_key {
	u32 prefixlen; /* in bits */
	char path[SENSOR_READ_PREFIX_MAX];
};
BPF_LPM_TRIE(read_prefixes, struct read_prefix_key, u8, 1024);
BPF_PERCPU_ARRAY(read_prefix_scratch, struct read_prefix_key, 1);

/* A file syscall's arguments, from its entry to its exit. */
struct file_entry {
	u64 path;  /* user pointers; 0: none */
	u64 path2;
	s32 dfd;   /* the directory path is relative to, or the fd operated on when path is 0 */
	s32 dfd2;
	u32 op;    /* enum sensor_file_op */
	u32 how;
	u32 mode;
	u32 uid;
	u32 gid;
	u32 path_verbatim; /* path is not a file name (a symlink's target): never joined to a directory */
	s64 length;
};
BPF_TABLE("lru_hash", u64, struct file_entry, file_entries, 10240);

static __always_inline u32 read_opens(void)
{
	u32 zero = 0;
	u32 *setting = file_settings.lookup(&zero);
	return setting ? *setting : READ_OPENS_NONE;
}

static __always_inline int file_enter(struct file_entry *entry)
{
	if (is_sensor())
		return 0;
	if (entry->op == FILE_OPEN && !(entry->how & OPEN_CHANGES_FILE) && read_opens() == READ_OPENS_NONE) {
		count(HOOK_FILE_OPEN, COUNTER_FILTERED);
		return 0;
	}
	u64 key = bpf_get_current_pid_tgid();
	file_entries.update(&key, entry);
	return 0;
}

/* The struct file of the current task's descriptor fd, or NULL. */
static __always_inline void *fd_file(s32 fd)
{
	void *files = member_ptr(CURRENT_TASK(), OFF_TASK_FILES);
	void *fdt = read_ptr(files, OFF_FILES_FDT);
	u32 max_fds = 0;
	READ(max_fds, fdt, OFF_FDTABLE_MAX_FDS);
	if (fd < 0 || (u32)fd >= max_fds)
		return NULL;
	void *fds = read_ptr(fdt, OFF_FDTABLE_FD);
	void *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), fds + (u64)fd * sizeof(void *));
	return file;
}

/* A user string at data[0..]; returns its length with the NUL, 0 when there is none. */
static __always_inline u32 read_user_path(char *data, u64 ptr, u32 *flags, u32 truncated_flag)
{
	if (!ptr)
		return 0;
	int n = bpf_probe_read_user_str(data, SENSOR_PATH_MAX, (void *)ptr);
	u32 len = n > 0 ? n : 0;
	if (len >= SENSOR_PATH_MAX)
		*flags |= truncated_flag;
	return len;
}

/* The directory a path of path_len bytes at path[0..] is relative to, written at out: the cwd or
 * the dirfd's path; for no path at all, the fd's own file. Nothing for an absolute path. Its
 * length goes to *len_out, a field of the record: read back from there, every way out of the walk
 * leaves the verifier the same unknown length, so what follows is verified once, not once per
 * way (two walks verified together otherwise exceed its limit). */
static __always_inline void read_base(char *path, u32 path_len, s32 dfd, char *out, u16 *len_out, u32 *flags,
				      u32 truncated_flag)
{
	*len_out = 0;
	if (path_len > 1 && path[0] == '/')
		return;
	void *dentry;
	void *mnt;
	if (dfd == AT_FDCWD_VALUE) {
		void *fs = member_ptr(CURRENT_TASK(), OFF_TASK_FS);
		dentry = read_ptr(fs, OFF_FS_PWD + OFF_PATH_DENTRY);
		mnt = read_ptr(fs, OFF_FS_PWD + OFF_PATH_MNT);
	} else {
		void *file = fd_file(dfd);
		if (!file)
			return;
		dentry = read_ptr(file, OFF_FILE_F_PATH + OFF_PATH_DENTRY);
		mnt = read_ptr(file, OFF_FILE_F_PATH + OFF_PATH_MNT);
	}
	int truncated = 0;
	*len_out = walk_path(dentry, mnt, out, &truncated);
	if (truncated)
		*flags |= truncated_flag;
}

/* A read-only open passes the prefix filter: its path is relative (its directory is not known
 * here as a string), or absolute and starting with a prefix in read_prefixes. */
static __always_inline int read_prefix_matches(char *path, u32 path_len)
{
	if (read_opens() == READ_OPENS_ALL || path_len <= 1 || path[0] != '/')
		return 1;
	u32 zero = 0;
	struct read_prefix_key *key = read_prefix_scratch.lookup(&zero);
	if (!key)
		return 1;
	u32 bytes = path_len - 1; /* without the NUL */
	if (bytes > SENSOR_READ_PREFIX_MAX)
		bytes = SENSOR_READ_PREFIX_MAX;
	bpf_probe_read_kernel(key->path, SENSOR_READ_PREFIX_MAX, path);
	key->prefixlen = bytes * 8;
	return read_prefixes.lookup(key) != NULL;
}

static __always_inline int file_exit(void *ctx, long ret)
{
	u64 key = bpf_get_current_pid_tgid();
	struct file_entry *entry = file_entries.lookup(&key);
	if (!entry)
		return 0;
	u32 zero = 0;
	struct sensor_file *rec = file_scratch.lookup(&zero);
	if (!rec)
		goto done;
	u32 hook = entry->op == FILE_OPEN ? HOOK_FILE_OPEN : HOOK_FILE_CHANGE;
	rec->flags = 0;
	u32 path_len = read_user_path(rec->data, entry->path, &rec->flags, FILE_PATH_TRUNCATED) & (SENSOR_PATH_MAX - 1);
	if (entry->op == FILE_OPEN && !(entry->how & OPEN_CHANGES_FILE) && !read_prefix_matches(rec->data, path_len)) {
		count(HOOK_FILE_OPEN, COUNTER_FILTERED);
		goto done;
	}
	fill_header(&rec->header, RECORD_FILE);
	rec->op = entry->op;
	rec->ret = ret;
	rec->how = entry->how;
	rec->mode = entry->mode;
	rec->uid = entry->uid;
	rec->gid = entry->gid;
	rec->length = entry->length;
	rec->dev = 0;
	rec->ino = 0;

	rec->base_len = 0;
	if (!entry->path_verbatim)
		read_base(rec->data, path_len, entry->dfd, rec->data + path_len, &rec->base_len, &rec->flags,
			  FILE_BASE_TRUNCATED);
	u32 at = path_len + (rec->base_len & (SENSOR_PATH_MAX - 1));
	u32 path2_len = read_user_path(rec->data + at, entry->path2, &rec->flags, FILE_PATH2_TRUNCATED) &
			(SENSOR_PATH_MAX - 1);
	rec->base2_len = 0;
	if (path2_len)
		read_base(rec->data + at, path2_len, entry->dfd2, rec->data + at + path2_len, &rec->base2_len,
			  &rec->flags, FILE_BASE2_TRUNCATED);
	rec->path_len = path_len;
	rec->path2_len = path2_len;

	if (entry->op == FILE_OPEN && ret >= 0) {
		void *file = fd_file(ret);
		if (file) {
			u32 fmode = 0;
			READ(fmode, file, OFF_FILE_F_MODE);
			if (fmode & FILE_FMODE_CREATED)
				rec->flags |= FILE_CREATED;
			void *inode = read_ptr(file, OFF_FILE_F_INODE);
			READ(rec->ino, inode, OFF_INODE_I_INO);
			u32 dev = 0;
			READ(dev, read_ptr(inode, OFF_INODE_I_SB), OFF_SUPER_BLOCK_S_DEV);
			rec->dev = dev;
		}
	}
	u32 size = offsetof(struct sensor_file, data) + at + path2_len + (rec->base2_len & (SENSOR_PATH_MAX - 1));
	if (size > sizeof(*rec))
		size = sizeof(*rec);
	send(ctx, hook, rec, size);
done:
	file_entries.delete(&key);
	return 0;
}

/* Every syscall exit tracepoint has this format (see its format file in tracefs). */
struct syscall_exit_args {
	u64 common; /* common_type, common_flags, common_preempt_count, common_pid */
	s64 nr;
	s64 ret;
};

/* One program for the exits of every file syscall: the loader attaches it to each sys_exit_*
 * tracepoint (FILE_EXIT_TRACEPOINTS), so the kernel verifies it once, not once per syscall. */
int on_file_syscall_exit(struct syscall_exit_args *ctx)
{
	return file_exit(ctx, ctx->ret);
}

/* Entries: each syscall's arguments in struct file_entry's terms. */
#define FILE_ENTER(name, ...)                                        \
	TRACEPOINT_PROBE(syscalls, sys_enter_##name)                 \
	{                                                            \
		struct file_entry entry = {__VA_ARGS__};             \
		return file_enter(&entry);                           \
	}

FILE_ENTER(open, .op = FILE_OPEN, .path = (u64)args->filename, .dfd = AT_FDCWD_VALUE, .how = args->flags,
	   .mode = args->mode)
FILE_ENTER(openat, .op = FILE_OPEN, .path = (u64)args->filename, .dfd = args->dfd, .how = args->flags,
	   .mode = args->mode)
FILE_ENTER(creat, .op = FILE_OPEN, .path = (u64)args->pathname, .dfd = AT_FDCWD_VALUE,
	   .how = 01 | 0100 | 01000 /* O_WRONLY | O_CREAT | O_TRUNC */, .mode = args->mode)
FILE_ENTER(unlink, .op = FILE_UNLINK, .path = (u64)args->pathname, .dfd = AT_FDCWD_VALUE)
FILE_ENTER(unlinkat, .op = (args->flag & AT_REMOVEDIR_FLAG) ? FILE_RMDIR : FILE_UNLINK,
	   .path = (u64)args->pathname, .dfd = args->dfd, .how = args->flag)
FILE_ENTER(rmdir, .op = FILE_RMDIR, .path = (u64)args->pathname, .dfd = AT_FDCWD_VALUE)
FILE_ENTER(rename, .op = FILE_RENAME, .path = (u64)args->oldname, .dfd = AT_FDCWD_VALUE, .path2 = (u64)args->newname,
	   .dfd2 = AT_FDCWD_VALUE)
FILE_ENTER(renameat, .op = FILE_RENAME, .path = (u64)args->oldname, .dfd = args->olddfd,
	   .path2 = (u64)args->newname, .dfd2 = args->newdfd)
FILE_ENTER(renameat2, .op = FILE_RENAME, .path = (u64)args->oldname, .dfd = args->olddfd,
	   .path2 = (u64)args->newname, .dfd2 = args->newdfd, .how = args->flags)
FILE_ENTER(mkdir, .op = FILE_MKDIR, .path = (u64)args->pathname, .dfd = AT_FDCWD_VALUE, .mode = args->mode)
FILE_ENTER(mkdirat, .op = FILE_MKDIR, .path = (u64)args->pathname, .dfd = args->dfd, .mode = args->mode)
FILE_ENTER(link, .op = FILE_LINK, .path = (u64)args->oldname, .dfd = AT_FDCWD_VALUE, .path2 = (u64)args->newname,
	   .dfd2 = AT_FDCWD_VALUE)
FILE_ENTER(linkat, .op = FILE_LINK, .path = (u64)args->oldname, .dfd = args->olddfd, .path2 = (u64)args->newname,
	   .dfd2 = args->newdfd, .how = args->flags)
FILE_ENTER(symlink, .op = FILE_SYMLINK, .path = (u64)args->oldname, .path_verbatim = 1,
	   .path2 = (u64)args->newname, .dfd2 = AT_FDCWD_VALUE)
FILE_ENTER(symlinkat, .op = FILE_SYMLINK, .path = (u64)args->oldname, .path_verbatim = 1,
	   .path2 = (u64)args->newname, .dfd2 = args->newdfd)
FILE_ENTER(chmod, .op = FILE_CHMOD, .path = (u64)args->filename, .dfd = AT_FDCWD_VALUE, .mode = args->mode)
FILE_ENTER(fchmod, .op = FILE_CHMOD, .dfd = args->fd, .mode = args->mode)
FILE_ENTER(fchmodat, .op = FILE_CHMOD, .path = (u64)args->filename, .dfd = args->dfd, .mode = args->mode)
FILE_ENTER(chown, .op = FILE_CHOWN, .path = (u64)args->filename, .dfd = AT_FDCWD_VALUE, .uid = args->user,
	   .gid = args->group)
FILE_ENTER(lchown, .op = FILE_CHOWN, .path = (u64)args->filename, .dfd = AT_FDCWD_VALUE, .uid = args->user,
	   .gid = args->group, .how = 0x100 /* AT_SYMLINK_NOFOLLOW */)
FILE_ENTER(fchown, .op = FILE_CHOWN, .dfd = args->fd, .uid = args->user, .gid = args->group)
FILE_ENTER(fchownat, .op = FILE_CHOWN, .path = (u64)args->filename, .dfd = args->dfd, .uid = args->user,
	   .gid = args->group, .how = args->flag)
FILE_ENTER(truncate, .op = FILE_TRUNCATE, .path = (u64)args->path, .dfd = AT_FDCWD_VALUE, .length = args->length)
FILE_ENTER(ftruncate, .op = FILE_TRUNCATE, .dfd = args->fd, .length = args->length)

#ifdef FILE_FCHMODAT2
FILE_ENTER(fchmodat2, .op = FILE_CHMOD, .path = (u64)args->filename, .dfd = args->dfd, .mode = args->mode,
	   .how = args->flags)
#endif

/* openat2's flags and mode are in a struct open_how the caller points to. */
TRACEPOINT_PROBE(syscalls, sys_enter_openat2)
{
	struct {
		u64 flags;
		u64 mode;
	} how = {};
	bpf_probe_read_user(&how, sizeof(how), args->how);
	struct file_entry entry = {
		.op = FILE_OPEN, .path = (u64)args->filename, .dfd = args->dfd, .how = how.flags, .mode = how.mode};
	return file_enter(&entry);
}
