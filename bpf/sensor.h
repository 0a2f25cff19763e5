/* The records that cross from the kernel to user space, one struct each.
 *
 * sensor/kernel/records.py mirrors this file field by field; tests/kernel/test_records.py compiles it
 * with the host compiler and checks every offset, so the two cannot drift apart.
 * Fixed-width types only; every struct is packed by hand to 8-byte alignment.
 */
#ifndef SENSOR_RECORDS_H
#define SENSOR_RECORDS_H

#define SENSOR_COMM_LEN 16
/* Bounds of the variable-length parts of an exec record (powers of two). */
#define SENSOR_FILENAME_MAX 4096
#define SENSOR_ARGS_MAX 16384
#define SENSOR_CWD_MAX 4096
#define SENSOR_CWD_NAME_MAX 256
#define SENSOR_CWD_DEPTH 32
#define SENSOR_CGROUP_PATH_MAX 1024 /* the kernel's TRACE_CGROUP_PATH_LEN */
#define SENSOR_GROUPS_MAX 32 /* supplementary groups carried by a creds record; ngroups says if there were more */
#define SENSOR_PATH_MAX 4096 /* each path of a file record, and each directory it is relative to */
#define SENSOR_READ_PREFIX_MAX 256 /* bytes of a path the read-prefix trie compares */
#define SENSOR_NET_DATA_MAX 512 /* a network record's data: a unix socket's path, or a DNS query's first bytes */

enum sensor_record_type {
	RECORD_FORK = 1,
	RECORD_EXEC = 2,
	RECORD_EXEC_FAILED = 3,
	RECORD_EXIT = 4,
	RECORD_CREDS = 5,
	RECORD_CGROUP_MKDIR = 6,
	RECORD_CGROUP_RMDIR = 7,
	RECORD_CGROUP_ATTACH = 8,
	RECORD_FILE = 9,
	RECORD_NET = 10,
};

/* Hooks, for the per-hook counters: counters[hook * COUNTER_SLOTS + enum sensor_counter]. */
enum sensor_hook {
	HOOK_FORK = 0,
	HOOK_EXEC = 1,
	HOOK_EXEC_FAILED = 2,
	HOOK_EXIT = 3,
	HOOK_CREDENTIALS = 4,
	HOOK_CGROUPS = 5,
	HOOK_FILE_OPEN = 6,
	HOOK_FILE_CHANGE = 7, /* unlink, rmdir, rename, mkdir, link, symlink, chmod, chown, truncate */
	HOOK_NET_CONNECT = 8, /* connect, and a non-blocking connect's outcome */
	HOOK_NET_ACCEPT = 9,
	HOOK_NET_BIND = 10,
	HOOK_NET_LISTEN = 11,
	HOOK_NET_CLOSE = 12,  /* a TCP connection's move to CLOSE; filtered: one the sensor did not see made */
	HOOK_NET_DNS = 13,    /* a UDP send to port 53 */
	HOOK_COUNT = 14,
};

enum sensor_counter {
	COUNTER_SENT = 0,
	COUNTER_LOST = 1,     /* the buffer was full */
	COUNTER_FILTERED = 2, /* left out on purpose by an in-kernel filter (read-only opens) */
	COUNTER_SLOTS = 3,
};

/* What changed credentials, in a creds record. */
enum sensor_creds_cause {
	CREDS_SETUID = 1,
	CREDS_SETGID = 2,
	CREDS_SETREUID = 3,
	CREDS_SETREGID = 4,
	CREDS_SETRESUID = 5,
	CREDS_SETRESGID = 6,
	CREDS_SETFSUID = 7,
	CREDS_SETFSGID = 8,
	CREDS_SETGROUPS = 9,
	CREDS_CAPSET = 10,
	CREDS_EXEC = 11,        /* a set-user-ID or set-group-ID (or file capability) exec */
	CREDS_COMMIT_CREDS = 12, /* any change, seen at commit_creds() */
};

/* What a file record reports. */
enum sensor_file_op {
	FILE_OPEN = 1,
	FILE_UNLINK = 2,
	FILE_RMDIR = 3,  /* rmdir, or unlinkat with AT_REMOVEDIR */
	FILE_RENAME = 4,
	FILE_MKDIR = 5,
	FILE_LINK = 6,
	FILE_SYMLINK = 7,
	FILE_CHMOD = 8,
	FILE_CHOWN = 9,
	FILE_TRUNCATE = 10,
};

/* What a network record reports. */
enum sensor_net_op {
	NET_CONNECT = 1,
	NET_CONNECT_RESULT = 2, /* a non-blocking connect's outcome: ret is 0 (established) or -errno */
	NET_ACCEPT = 3,
	NET_BIND = 4,
	NET_LISTEN = 5,
	NET_CLOSE = 6,          /* a TCP connection moved to CLOSE; the header is its owner's, from its connect or accept */
	NET_DNS_QUERY = 7,      /* a UDP send to port 53: data holds the payload's first bytes */
};

/* Network record flags. */
#define NET_DATA_TRUNCATED (1u << 0) /* the DNS payload was longer than data */
#define NET_NO_SOCKET (1u << 1)      /* the fd was not a socket: only what the caller passed is known */

/* Which read-only opens the kernel sends (file_settings[0]); opens that write, create or truncate
 * are always sent. */
enum sensor_read_opens {
	READ_OPENS_NONE = 0,
	READ_OPENS_BY_PREFIX = 1, /* absolute paths starting with a prefix in read_prefixes, and relative ones */
	READ_OPENS_ALL = 2,
};

/* File record flags. */
#define FILE_PATH_TRUNCATED (1u << 0)
#define FILE_BASE_TRUNCATED (1u << 1) /* the directory walk hit its depth or size bound */
#define FILE_PATH2_TRUNCATED (1u << 2)
#define FILE_BASE2_TRUNCATED (1u << 3)
#define FILE_CREATED (1u << 4)        /* an open that created the file (FMODE_CREATED) */
/* O_WRONLY | O_RDWR | O_CREAT | O_TRUNC: an open that may change the file, always sent. */
#define FILE_OPEN_CHANGES (01 | 02 | 0100 | 01000)
#define FILE_FMODE_CREATED 0x100000    /* the kernel's FMODE_CREATED, 4.19+ */

/* Exec record flags. */
#define EXEC_FILENAME_TRUNCATED (1u << 0)
#define EXEC_ARGS_TRUNCATED (1u << 1)
#define EXEC_ARGS_UNREADABLE (1u << 2)
#define EXEC_CWD_TRUNCATED (1u << 3)
/* Exit record flags. */
#define EXIT_GROUP_DEAD (1u << 0) /* the last thread of the process exited */

/* The kernel's struct cred order: uid, gid, suid, sgid, euid, egid, fsuid, fsgid. */
struct sensor_creds {
	__u32 uid;
	__u32 gid;
	__u32 suid;
	__u32 sgid;
	__u32 euid;
	__u32 egid;
	__u32 fsuid;
	__u32 fsgid;
};

/* First in every record: the task the record is about (for fork, the parent thread). */
struct sensor_header {
	__u16 type;      /* enum sensor_record_type */
	__u16 cpu;
	__u32 pid;       /* kernel pid: the thread id */
	__u64 ktime_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tgid;      /* the process id */
	__u32 ppid;      /* tgid of the real parent */
	__u64 start_ns;  /* group leader's start_boottime: with tgid, the process identity */
	__u64 parent_start_ns;
	__u64 cgroup_id; /* the task's cgroup in the watched hierarchy (the unified one where mounted) */
	struct sensor_creds creds;
	char comm[SENSOR_COMM_LEN];
};

struct sensor_fork {
	struct sensor_header header;
	__u32 child_pid;
	__u32 child_tgid;
	__u64 child_start_ns; /* the child's group leader's start_boottime */
	__u64 clone_flags;
};

/* Followed by data: filename (NUL-terminated), then argv (args_len bytes, each argument
 * NUL-terminated), then the cwd as path components from the leaf up, each NUL-terminated. */
struct sensor_exec {
	struct sensor_header header;
	__u32 old_pid;   /* the thread id before exec (differs when a non-leader thread exec'd) */
	__u32 flags;     /* EXEC_* */
	__u32 filename_len;
	__u32 args_len;
	__u32 args_size; /* the argument area's full size, arg_end - arg_start */
	__u32 cwd_len;
	__u32 ns_tgid;   /* the process id in its own pid namespace: 1 for a container's init */
	__u32 _pad;
	char data[SENSOR_FILENAME_MAX + SENSOR_ARGS_MAX + SENSOR_CWD_MAX];
};

/* Followed by data: the filename passed to execve/execveat. */
struct sensor_exec_failed {
	struct sensor_header header;
	__s32 error;     /* errno, positive */
	__u32 filename_len;
	char data[SENSOR_FILENAME_MAX];
};

struct sensor_exit {
	struct sensor_header header;
	__u32 exit_code; /* task->exit_code: (status << 8) | core-dump bit 0x80 | signal */
	__u32 flags;     /* EXIT_* */
};

/* A task's supplementary groups (struct group_info): the first SENSOR_GROUPS_MAX of ngroups. */
struct sensor_groups {
	__u32 ngroups;
	__u32 gids[SENSOR_GROUPS_MAX];
};

struct sensor_creds_change {
	struct sensor_header header; /* header.creds are the new credentials */
	struct sensor_creds old;
	__u32 cause;     /* enum sensor_creds_cause */
	struct sensor_groups old_groups;
	struct sensor_groups groups; /* the new ones */
	__u32 _pad;
};

/* A cgroup made, removed, or a task moved into one, in the watched hierarchy.
 * header is the task that did it (for attach, usually the runtime moving the container's init). */
struct sensor_cgroup {
	struct sensor_header header;
	__u64 id;           /* the cgroup's id: its directory's inode number */
	__u32 hierarchy_id;
	__u32 level;        /* depth below the hierarchy's root */
	__u32 target_pid;   /* attach: the task moved (a thread id); 0 otherwise */
	__u32 path_len;     /* bytes of path, with its NUL */
	char path[SENSOR_CGROUP_PATH_MAX]; /* relative to the hierarchy's root, starting with '/' */
};

/* A file syscall, at its exit. Paths are as the process gave them; a relative one comes with the
 * directory it is relative to (the cwd, or the dirfd's path), walked in the kernel up to the
 * process's root, as path components leaf first (as an exec's cwd). For an operation on an fd
 * (fchmod, fchown, ftruncate, AT_EMPTY_PATH) path is empty and base is the fd's file.
 * data: path, base, path2, base2, each of the length below, each string NUL-terminated.
 * rename, link: path is the old name, path2 the new; symlink: path is the target, as given. */
struct sensor_file {
	struct sensor_header header;
	__u32 op;         /* enum sensor_file_op */
	__u32 flags;      /* FILE_* */
	__s64 ret;        /* the syscall's return: an fd, 0, or -errno */
	__u64 dev;        /* open: the opened file's device, the kernel's encoding (major << 20 | minor) */
	__u64 ino;        /* open: its inode */
	__s64 length;     /* truncate: the new length */
	__u32 how;        /* open: O_* flags; rename: RENAME_*; linkat, fchownat, fchmodat2: AT_* */
	__u32 mode;       /* open, creat, mkdir, chmod: the mode asked for */
	__u32 uid;        /* chown: the new owner; (u32)-1 leaves it */
	__u32 gid;
	__u16 path_len;
	__u16 base_len;
	__u16 path2_len;
	__u16 base2_len;
	char data[4 * SENSOR_PATH_MAX];
};

/* A network syscall at its exit, or a TCP state change (then in whatever context the kernel was, so
 * the header is the owner's, remembered at connect or accept). Addresses are in network byte order
 * as the kernel keeps them (IPv4 in the first 4 bytes), ports in host order; both ends are read from
 * the socket after the call, except a connect's or bind's address, which is the caller's sockaddr. */
struct sensor_net {
	struct sensor_header header;
	__u32 op;          /* enum sensor_net_op */
	__u32 flags;       /* NET_* */
	__s64 ret;         /* the syscall's return (accept: the new fd), or CONNECT_RESULT's 0 / -errno */
	__u64 duration_ns; /* CLOSE: since the connect or accept that made it */
	__u32 netns;       /* the socket's network namespace: its inode number, as /proc/PID/ns/net names it */
	__s32 fd;          /* the socket's fd in the owner (accept: the listening one's) */
	__u16 family;      /* AF_* */
	__u16 sock_type;   /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol;    /* IPPROTO_* */
	__u16 local_port;
	__u16 remote_port;
	__u16 data_len;    /* bytes of data */
	__u32 backlog;     /* listen */
	__u8 local_addr[16];
	__u8 remote_addr[16];
	char data[SENSOR_NET_DATA_MAX]; /* unix: the path (abstract: starts with a NUL); DNS: the payload */
};

#endif /* SENSOR_RECORDS_H */
