/* File hooks: opens and changes to the tree, at the exit of their system calls.
 *
 * Compiled after process.bpf.c and syscall.bpf.c, in the same unit: it uses their maps, send(),
 * count(), fill_header(), walk_path(), fd_file() and the saved registers (ARG()). One program on the
 * raw sys_exit tracepoint serves every file syscall: it tells them apart by number and reads their arguments from the registers the kernel
 * saved at entry, which file syscalls leave as they were (Falco's modern probe reads them there
 * too). One attachment, where a tracepoint per syscall and edge were 52: each costs about 70 ms of
 * RCU grace period to detach, serialized by the kernel (six seconds at every stop). No entry map
 * either: nothing is carried from entry to exit. 32-bit (compat) syscalls are left out, as the
 * syscall tracepoints leave them out: their numbers are another table.
 *
 * Paths are resolved in the kernel only as far as the directory a relative path is relative to
 * (the cwd or the dirfd's own path): user space joins the two, so no per-process fd table has to
 * be kept in step with the kernel's.
 *
 * Volume: an open that only reads is sent only when file_settings asks for reads, and by prefix,
 * only when its absolute path starts with a prefix in read_prefixes. What the filter leaves out is
 * counted (COUNTER_FILTERED), apart from what the buffer loses.
 */

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* 6.6+: one number on every architecture; headers older than the kernel lack it */
#endif

#define AT_FDCWD_VALUE -100
#define AT_REMOVEDIR_FLAG 0x200

BPF_PERCPU_ARRAY(file_scratch, struct sensor_file, 1);
/* [0]: enum sensor_read_opens, written by the loader and whenever subscriptions change. */
BPF_ARRAY(file_settings, u32, 1);

struct read_prefix_key {
	u32 prefixlen; /* in bits */
	char path[SENSOR_READ_PREFIX_MAX];
};
BPF_LPM_TRIE(read_prefixes, struct read_prefix_key, u8, 1024);
BPF_PERCPU_ARRAY(read_prefix_scratch, struct read_prefix_key, 1);

/* A file syscall's arguments, in one shape for all of them. */
struct file_call {
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
/* Each CPU's file_call: written in a map, not on the stack, the call's fields are unknown to the
 * verifier after the switch below, so that one state goes on from it rather than one per syscall. */
BPF_PERCPU_ARRAY(file_calls, struct file_call, 1);

static __always_inline u32 read_opens(void)
{
	u32 zero = 0;
	u32 *setting = file_settings.lookup(&zero);
	return setting ? *setting : READ_OPENS_NONE;
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

static __always_inline int send_file(void *ctx, long ret, struct file_call *call)
{
	u32 zero = 0;
	struct sensor_file *rec = file_scratch.lookup(&zero);
	if (!rec)
		return 0;
	u32 hook = call->op == FILE_OPEN ? HOOK_FILE_OPEN : HOOK_FILE_CHANGE;
	rec->flags = 0;
	u32 path_len = read_user_path(rec->data, call->path, &rec->flags, FILE_PATH_TRUNCATED) & (SENSOR_PATH_MAX - 1);
	if (call->op == FILE_OPEN && !(call->how & FILE_OPEN_CHANGES) && !read_prefix_matches(rec->data, path_len)) {
		count(HOOK_FILE_OPEN, COUNTER_FILTERED);
		return 0;
	}
	fill_header(&rec->header, RECORD_FILE);
	rec->op = call->op;
	rec->ret = ret;
	rec->how = call->how;
	rec->mode = call->mode;
	rec->uid = call->uid;
	rec->gid = call->gid;
	rec->length = call->length;
	rec->dev = 0;
	rec->ino = 0;

	rec->base_len = 0;
	if (!call->path_verbatim)
		read_base(rec->data, path_len, call->dfd, rec->data + path_len, &rec->base_len, &rec->flags,
			  FILE_BASE_TRUNCATED);
	u32 at = path_len + (rec->base_len & (SENSOR_PATH_MAX - 1));
	u32 path2_len = read_user_path(rec->data + at, call->path2, &rec->flags, FILE_PATH2_TRUNCATED) &
			(SENSOR_PATH_MAX - 1);
	rec->base2_len = 0;
	if (path2_len)
		read_base(rec->data + at, path2_len, call->dfd2, rec->data + at + path2_len, &rec->base2_len,
			  &rec->flags, FILE_BASE2_TRUNCATED);
	rec->path_len = path_len;
	rec->path2_len = path2_len;

	if (call->op == FILE_OPEN && ret >= 0) {
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
	return 0;
}

/* Fills *call for a file syscall; 0 for any other. */
static __always_inline int file_call_of(long nr, void *regs, struct file_call *call)
{
	switch (nr) {
#ifdef __NR_open
	case __NR_open:
		*call = (struct file_call){.op = FILE_OPEN, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .how = ARG(1), .mode = ARG(2)};
		return 1;
#endif
	case __NR_openat:
		*call = (struct file_call){.op = FILE_OPEN, .dfd = ARG(0), .path = ARG(1), .how = ARG(2), .mode = ARG(3)};
		return 1;
	case __NR_openat2: {
		struct {
			u64 flags;
			u64 mode;
		} how = {};
		bpf_probe_read_user(&how, sizeof(how), (void *)ARG(2));
		*call = (struct file_call){.op = FILE_OPEN, .dfd = ARG(0), .path = ARG(1), .how = how.flags, .mode = how.mode};
		return 1;
	}
#ifdef __NR_creat
	case __NR_creat:
		*call = (struct file_call){.op = FILE_OPEN, .path = ARG(0), .dfd = AT_FDCWD_VALUE,
					   .how = 01 | 0100 | 01000 /* O_WRONLY | O_CREAT | O_TRUNC */, .mode = ARG(1)};
		return 1;
#endif
#ifdef __NR_unlink
	case __NR_unlink:
		*call = (struct file_call){.op = FILE_UNLINK, .path = ARG(0), .dfd = AT_FDCWD_VALUE};
		return 1;
#endif
	case __NR_unlinkat: {
		u32 flag = ARG(2);
		*call = (struct file_call){.op = (flag & AT_REMOVEDIR_FLAG) ? FILE_RMDIR : FILE_UNLINK, .dfd = ARG(0),
					   .path = ARG(1), .how = flag};
		return 1;
	}
#ifdef __NR_rmdir
	case __NR_rmdir:
		*call = (struct file_call){.op = FILE_RMDIR, .path = ARG(0), .dfd = AT_FDCWD_VALUE};
		return 1;
#endif
#ifdef __NR_rename
	case __NR_rename:
		*call = (struct file_call){.op = FILE_RENAME, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .path2 = ARG(1),
					   .dfd2 = AT_FDCWD_VALUE};
		return 1;
#endif
#ifdef __NR_renameat
	case __NR_renameat:
		*call = (struct file_call){.op = FILE_RENAME, .dfd = ARG(0), .path = ARG(1), .dfd2 = ARG(2), .path2 = ARG(3)};
		return 1;
#endif
	case __NR_renameat2:
		*call = (struct file_call){.op = FILE_RENAME, .dfd = ARG(0), .path = ARG(1), .dfd2 = ARG(2), .path2 = ARG(3),
					   .how = ARG(4)};
		return 1;
#ifdef __NR_mkdir
	case __NR_mkdir:
		*call = (struct file_call){.op = FILE_MKDIR, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .mode = ARG(1)};
		return 1;
#endif
	case __NR_mkdirat:
		*call = (struct file_call){.op = FILE_MKDIR, .dfd = ARG(0), .path = ARG(1), .mode = ARG(2)};
		return 1;
#ifdef __NR_link
	case __NR_link:
		*call = (struct file_call){.op = FILE_LINK, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .path2 = ARG(1),
					   .dfd2 = AT_FDCWD_VALUE};
		return 1;
#endif
	case __NR_linkat:
		*call = (struct file_call){.op = FILE_LINK, .dfd = ARG(0), .path = ARG(1), .dfd2 = ARG(2), .path2 = ARG(3),
					   .how = ARG(4)};
		return 1;
#ifdef __NR_symlink
	case __NR_symlink:
		*call = (struct file_call){.op = FILE_SYMLINK, .path = ARG(0), .path_verbatim = 1, .path2 = ARG(1),
					   .dfd2 = AT_FDCWD_VALUE};
		return 1;
#endif
	case __NR_symlinkat:
		*call = (struct file_call){.op = FILE_SYMLINK, .path = ARG(0), .path_verbatim = 1, .dfd2 = ARG(1),
					   .path2 = ARG(2)};
		return 1;
#ifdef __NR_chmod
	case __NR_chmod:
		*call = (struct file_call){.op = FILE_CHMOD, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .mode = ARG(1)};
		return 1;
#endif
	case __NR_fchmod:
		*call = (struct file_call){.op = FILE_CHMOD, .dfd = ARG(0), .mode = ARG(1)};
		return 1;
	case __NR_fchmodat:
		*call = (struct file_call){.op = FILE_CHMOD, .dfd = ARG(0), .path = ARG(1), .mode = ARG(2)};
		return 1;
	case __NR_fchmodat2:
		*call = (struct file_call){.op = FILE_CHMOD, .dfd = ARG(0), .path = ARG(1), .mode = ARG(2), .how = ARG(3)};
		return 1;
#ifdef __NR_chown
	case __NR_chown:
		*call = (struct file_call){.op = FILE_CHOWN, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .uid = ARG(1), .gid = ARG(2)};
		return 1;
#endif
#ifdef __NR_lchown
	case __NR_lchown:
		*call = (struct file_call){.op = FILE_CHOWN, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .uid = ARG(1), .gid = ARG(2),
					   .how = 0x100 /* AT_SYMLINK_NOFOLLOW */};
		return 1;
#endif
	case __NR_fchown:
		*call = (struct file_call){.op = FILE_CHOWN, .dfd = ARG(0), .uid = ARG(1), .gid = ARG(2)};
		return 1;
	case __NR_fchownat:
		*call = (struct file_call){.op = FILE_CHOWN, .dfd = ARG(0), .path = ARG(1), .uid = ARG(2), .gid = ARG(3),
					   .how = ARG(4)};
		return 1;
	case __NR_truncate:
		*call = (struct file_call){.op = FILE_TRUNCATE, .path = ARG(0), .dfd = AT_FDCWD_VALUE, .length = ARG(1)};
		return 1;
	case __NR_ftruncate:
		*call = (struct file_call){.op = FILE_TRUNCATE, .dfd = ARG(0), .length = ARG(1)};
		return 1;
	}
	return 0;
}

/* raw_syscalls:sys_exit(struct pt_regs *regs, long ret): every system call's exit, on this host. */
int on_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	void *regs = (void *)ctx->args[0];
	long nr = saved_reg(regs, OFF_PT_REGS_NR);
	if (nr == __NR_openat && !(saved_reg(regs, OFF_PT_REGS_ARG2) & FILE_OPEN_CHANGES) &&
	    read_opens() == READ_OPENS_NONE) {
		/* The busiest case, cut short: a read-only open nobody asked for. Counted (once the
		 * sensor's own and compat calls are told apart) and dropped. */
		if (!is_compat() && !is_sensor())
			count(HOOK_FILE_OPEN, COUNTER_FILTERED);
		return 0;
	}
	u32 zero = 0;
	struct file_call *call = file_calls.lookup(&zero);
	if (!call || !file_call_of(nr, regs, call))
		return 0;
	if (is_compat() || is_sensor())
		return 0;
	if (call->op == FILE_OPEN && !(call->how & FILE_OPEN_CHANGES) && read_opens() == READ_OPENS_NONE) {
		count(HOOK_FILE_OPEN, COUNTER_FILTERED);
		return 0;
	}
	return send_file(ctx, (long)ctx->args[1], call);
}
