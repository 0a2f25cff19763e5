/* Network hooks: connect, accept, bind, listen and DNS queries at the exit of their system calls, and
 * the end of TCP connections (and a non-blocking connect's outcome) from sock:inet_sock_set_state.
 *
 * Compiled after process.bpf.c and syscall.bpf.c, in the same unit. As the file hooks do, one program
 * on the raw sys_exit tracepoint tells the syscalls apart by number and reads their arguments from
 * the registers saved at entry. Both ends of a socket are read from the socket itself after the call
 * (fd, file, socket, sock), so they are the addresses of the socket's own network namespace.
 *
 * A TCP state change runs wherever the kernel is, often in softirq on behalf of nobody in particular:
 * it is attributed through the socket, never through the current task. Each connect and accept
 * remembers its process by the socket's address (sock_owners); the CLOSE of that socket is reported
 * with that process and forgets it. A CLOSE of a socket nobody remembers (made before the sensor
 * started, or by the sensor itself) is counted as filtered, not sent.
 *
 * DNS: a UDP send to port 53, by address (sendto, sendmsg, sendmmsg) or on a socket connected to
 * port 53 (remembered at its connect in dns_sockets, so that a write() costs one lookup), carries the
 * payload's first SENSOR_NET_DATA_MAX bytes; user space parses the question out of them.
 *
 * Defined by the loader: the OFF_* offsets of struct sock, socket, net and inode.
 */

#define AF_UNIX_VALUE 1
#define AF_INET_VALUE 2
#define AF_INET6_VALUE 10
#define IPPROTO_TCP_VALUE 6
#define IPPROTO_UDP_VALUE 17
#define TCP_ESTABLISHED_STATE 1
#define TCP_SYN_SENT_STATE 2
#define TCP_CLOSE_STATE 7
#define TCP_LISTEN_STATE 10
#define EINPROGRESS_VALUE 115
#define DNS_PORT_BE 0x3500 /* htons(53) */
#define S_IFMT_BITS 00170000
#define S_IFSOCK_BITS 0140000
#define SOCKADDR_UN_PATH_MAX 108

BPF_PERCPU_ARRAY(net_scratch, struct sensor_net, 1);

/* The process a TCP socket belongs to, from its connect or accept: its CLOSE is reported as its. */
struct sock_owner {
	struct sensor_header header;
	u64 since_ns;         /* when the connect or accept returned */
	s32 fd;
	u32 _pad;
};
BPF_TABLE("lru_hash", u64, struct sock_owner, sock_owners, 65536);
/* Non-blocking connects whose outcome is not reported yet, by socket. Whoever deletes the entry
 * reports it (a map delete succeeds once): the connect's exit, when the handshake finished inside
 * the call (as on loopback), or the state change after it. */
BPF_TABLE("lru_hash", u64, u8, pending_connects, 16384);
BPF_PERCPU_ARRAY(owner_scratch, struct sock_owner, 1);
/* UDP sockets connected to port 53, by (tgid << 32 | fd): their sends carry no address. */
BPF_TABLE("lru_hash", u64, u8, dns_sockets, 4096);

/* The caller's sockaddr, as far as an AF_INET6 one goes. */
struct user_sockaddr {
	u16 family;
	u16 port;  /* network order */
	u32 addr4; /* AF_INET; AF_INET6: the flow info */
	u8 addr6[16];
	u32 scope_id;
};

/* The struct sock behind a descriptor, or NULL when the fd is not a socket. ``known``: the syscall
 * succeeded on it, so it is one (two reads fewer). */
static __always_inline void *fd_sock(s32 fd, int known)
{
	void *file = fd_file(fd);
	if (!file)
		return NULL;
	if (!known) {
		u16 mode = 0;
		READ(mode, read_ptr(file, OFF_FILE_F_INODE), OFF_INODE_I_MODE);
		if ((mode & S_IFMT_BITS) != S_IFSOCK_BITS)
			return NULL;
	}
	return read_ptr(read_ptr(file, OFF_FILE_PRIVATE_DATA), OFF_SOCKET_SK);
}

/* sock_common's first SKC_CHUNK bytes, read at once: both addresses, the remote port, the family and
 * the namespace (a read per member was 11 reads a socket, about a third of a connect's BPF time). */
#define SKC_CHUNK 96
#define SKC_FITS(off, size) ((off) + (size) <= SKC_CHUNK)
#if !(SKC_FITS(OFF_SKC_DADDR, 4) && SKC_FITS(OFF_SKC_RCV_SADDR, 4) && SKC_FITS(OFF_SKC_DPORT, 2) &&            \
      SKC_FITS(OFF_SKC_FAMILY, 2) && SKC_FITS(OFF_SKC_NET, 8) && SKC_FITS(OFF_SKC_V6_DADDR, 16) &&            \
      SKC_FITS(OFF_SKC_V6_RCV_SADDR, 16))
#error "this kernel's struct sock_common puts a member read_sock() needs past its first SKC_CHUNK bytes"
#endif
#define SKC_FIELD(dst, chunk, off) __builtin_memcpy(&(dst), (chunk) + (off), sizeof(dst))

/* Family, type, protocol, both ends and the namespace, from the socket. */
static __always_inline void read_sock(void *sk, struct sensor_net *rec)
{
	u8 chunk[SKC_CHUNK];
	bpf_probe_read_kernel(chunk, sizeof(chunk), sk);
	SKC_FIELD(rec->family, chunk, OFF_SKC_FAMILY);
	u16 port = 0;
	SKC_FIELD(port, chunk, OFF_SKC_DPORT);
	rec->remote_port = bpf_ntohs(port);
	if (rec->family == AF_INET6_VALUE) {
		SKC_FIELD(rec->local_addr, chunk, OFF_SKC_V6_RCV_SADDR);
		SKC_FIELD(rec->remote_addr, chunk, OFF_SKC_V6_DADDR);
	} else if (rec->family == AF_INET_VALUE) {
		SKC_FIELD(*(u32 *)rec->local_addr, chunk, OFF_SKC_RCV_SADDR);
		SKC_FIELD(*(u32 *)rec->remote_addr, chunk, OFF_SKC_DADDR);
	}
	void *net = NULL;
	SKC_FIELD(net, chunk, OFF_SKC_NET);
	READ(rec->netns, net, OFF_NET_NS_INUM);
	READ(rec->sock_type, sk, OFF_SK_TYPE);
	READ(rec->protocol, sk, OFF_SK_PROTOCOL);
	READ(port, sk, OFF_INET_SPORT);
	rec->local_port = bpf_ntohs(port);
}

/* The record for a syscall by the current task: header, op, result and fd; the rest zeroed. */
static __always_inline struct sensor_net *net_record(u32 op, long ret, s32 fd)
{
	u32 zero = 0;
	struct sensor_net *rec = net_scratch.lookup(&zero);
	if (!rec)
		return NULL;
	fill_header(&rec->header, RECORD_NET);
	__builtin_memset(&rec->op, 0, offsetof(struct sensor_net, data) - offsetof(struct sensor_net, op));
	rec->op = op;
	rec->ret = ret;
	rec->fd = fd;
	return rec;
}

static __always_inline void send_net(void *ctx, u32 hook, struct sensor_net *rec)
{
	u32 size = offsetof(struct sensor_net, data) + (rec->data_len & (SENSOR_NET_DATA_MAX - 1));
	if (rec->data_len >= SENSOR_NET_DATA_MAX)
		size = sizeof(*rec);
	send(ctx, hook, rec, size);
}

/* The caller's sockaddr of addrlen bytes: the remote (connect) or local (bind) end; its family, 0
 * when unreadable. A unix socket's path goes to data; an inet address to *addr and *port. */
static __always_inline u16 read_user_sockaddr(struct sensor_net *rec, u64 uaddr, u32 addrlen, u8 *addr, u16 *port)
{
	struct user_sockaddr sa = {};
	if (!uaddr || bpf_probe_read_user(&sa, sizeof(sa.family), (void *)uaddr) < 0)
		return 0;
	if (sa.family == AF_UNIX_VALUE) {
		u32 len = addrlen > 2 ? addrlen - 2 : 0;
		if (len > SOCKADDR_UN_PATH_MAX)
			len = SOCKADDR_UN_PATH_MAX;
		if (len > 0 && bpf_probe_read_user(rec->data, len, (void *)uaddr + 2) == 0)
			rec->data_len = len;
		return sa.family;
	}
	bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr);
	*port = bpf_ntohs(sa.port);
	if (sa.family == AF_INET6_VALUE)
		__builtin_memcpy(addr, sa.addr6, 16);
	else if (sa.family == AF_INET_VALUE)
		__builtin_memcpy(addr, &sa.addr4, 4);
	return sa.family;
}

/* Remembers the current process as the owner of a TCP socket, from now. */
static __always_inline void remember_owner(void *sk, struct sensor_net *rec)
{
	u32 zero = 0;
	struct sock_owner *owner = owner_scratch.lookup(&zero);
	if (!owner)
		return;
	owner->header = rec->header;
	owner->since_ns = rec->header.ktime_ns;
	owner->fd = rec->fd;
	u64 key = (u64)sk;
	sock_owners.update(&key, owner);
}

/* Whether the caller is the one to report a pending connect's outcome (see pending_connects). */
static __always_inline int claim_outcome(u64 key)
{
	return pending_connects.delete(&key) == 0;
}

/* A record about a socket, for its owner: the header is the owner's, the time and CPU now. */
static __always_inline struct sensor_net *owner_record(struct sock_owner *owner, u32 op, void *sk)
{
	u32 zero = 0;
	struct sensor_net *rec = net_scratch.lookup(&zero);
	if (!rec)
		return NULL;
	rec->header = owner->header;
	rec->header.ktime_ns = bpf_ktime_get_ns();
	rec->header.cpu = bpf_get_smp_processor_id();
	__builtin_memset(&rec->op, 0, offsetof(struct sensor_net, data) - offsetof(struct sensor_net, op));
	rec->op = op;
	rec->fd = owner->fd;
	read_sock(sk, rec);
	return rec;
}

static __always_inline void send_outcome(void *ctx, struct sock_owner *owner, void *sk, int established)
{
	struct sensor_net *rec = owner_record(owner, NET_CONNECT_RESULT, sk);
	if (!rec)
		return;
	if (!established) {
		int err = 0;
		READ(err, sk, OFF_SK_ERR);
		rec->ret = err > 0 ? -err : err;
	}
	send_net(ctx, HOOK_NET_CONNECT, rec);
}

static __always_inline int on_connect(void *ctx, void *regs, long ret)
{
	s32 fd = ARG(0);
	struct sensor_net *rec = net_record(NET_CONNECT, ret, fd);
	if (!rec)
		return 0;
	u8 remote[16] = {};
	u16 remote_port = 0;
	u16 family = read_user_sockaddr(rec, ARG(1), ARG(2), remote, &remote_port);
	void *sk = fd_sock(fd, ret == 0 || ret == -EINPROGRESS_VALUE);
	if (!sk) {
		rec->flags |= NET_NO_SOCKET;
	} else if (family != AF_UNIX_VALUE) {
		read_sock(sk, rec);
	} else {
		READ(rec->sock_type, sk, OFF_SK_TYPE);
		READ(rec->netns, read_ptr(sk, OFF_SKC_NET), OFF_NET_NS_INUM);
	}
	rec->family = family; /* the family of the address asked for: the remote end below is in it */
	if (family == AF_INET_VALUE || family == AF_INET6_VALUE) {
		__builtin_memcpy(rec->remote_addr, remote, 16);
		rec->remote_port = remote_port;
	}
	send_net(ctx, HOOK_NET_CONNECT, rec);
	if (!sk)
		return 0;
	if (rec->protocol == IPPROTO_UDP_VALUE && remote_port == 53 && ret == 0) {
		u64 key = (bpf_get_current_pid_tgid() & ~0xffffffffULL) | (u32)fd;
		u8 one = 1;
		dns_sockets.update(&key, &one);
	}
	if (rec->protocol != IPPROTO_TCP_VALUE || (ret != 0 && ret != -EINPROGRESS_VALUE))
		return 0;
	remember_owner(sk, rec);
	if (ret == 0)
		return 0;
	u64 key = (u64)sk;
	u8 one = 1;
	pending_connects.update(&key, &one);
	/* On loopback the handshake is over before connect() returns: the state change found nothing pending. */
	u8 state = 0;
	READ(state, sk, OFF_SKC_STATE);
	if (state != TCP_ESTABLISHED_STATE && state != TCP_CLOSE_STATE)
		return 0;
	struct sock_owner *owner = sock_owners.lookup(&key);
	if (owner && claim_outcome(key)) {
		send_outcome(ctx, owner, sk, state == TCP_ESTABLISHED_STATE);
		if (state == TCP_CLOSE_STATE)
			sock_owners.delete(&key);
	}
	return 0;
}

static __always_inline int on_accept(void *ctx, void *regs, long ret)
{
	s32 fd = ARG(0);
	struct sensor_net *rec = net_record(NET_ACCEPT, ret, fd);
	if (!rec)
		return 0;
	void *sk = ret >= 0 ? fd_sock(ret, 1) : fd_sock(fd, 0);
	if (!sk) {
		rec->flags |= NET_NO_SOCKET;
		send_net(ctx, HOOK_NET_ACCEPT, rec);
		return 0;
	}
	read_sock(sk, rec);
	if (ret < 0) {
		rec->remote_port = 0; /* the listening socket's: no peer */
		__builtin_memset(rec->remote_addr, 0, sizeof(rec->remote_addr));
	}
	send_net(ctx, HOOK_NET_ACCEPT, rec);
	if (ret >= 0 && rec->protocol == IPPROTO_TCP_VALUE) {
		rec->fd = ret; /* the owner's fd is the new connection's */
		remember_owner(sk, rec);
	}
	return 0;
}

static __always_inline int on_bind(void *ctx, void *regs, long ret)
{
	s32 fd = ARG(0);
	struct sensor_net *rec = net_record(NET_BIND, ret, fd);
	if (!rec)
		return 0;
	u8 local[16] = {};
	u16 local_port = 0;
	u16 family = read_user_sockaddr(rec, ARG(1), ARG(2), local, &local_port);
	void *sk = fd_sock(fd, ret == 0);
	if (sk && ret == 0 && family != AF_UNIX_VALUE) {
		read_sock(sk, rec); /* the port the kernel chose for port 0 */
		send_net(ctx, HOOK_NET_BIND, rec);
		return 0;
	}
	if (sk) {
		READ(rec->sock_type, sk, OFF_SK_TYPE);
		READ(rec->protocol, sk, OFF_SK_PROTOCOL);
		READ(rec->netns, read_ptr(sk, OFF_SKC_NET), OFF_NET_NS_INUM);
	} else {
		rec->flags |= NET_NO_SOCKET;
	}
	rec->family = family;
	__builtin_memcpy(rec->local_addr, local, 16);
	rec->local_port = local_port;
	send_net(ctx, HOOK_NET_BIND, rec);
	return 0;
}

static __always_inline int on_listen(void *ctx, void *regs, long ret)
{
	s32 fd = ARG(0);
	struct sensor_net *rec = net_record(NET_LISTEN, ret, fd);
	if (!rec)
		return 0;
	rec->backlog = ARG(1);
	void *sk = fd_sock(fd, ret == 0);
	if (sk)
		read_sock(sk, rec);
	else
		rec->flags |= NET_NO_SOCKET;
	send_net(ctx, HOOK_NET_LISTEN, rec);
	return 0;
}

/* A send that may be a DNS query: to port 53 at uaddr, or without an address on a socket connected
 * to port 53 (dns_sockets). Cheap first: one user read or one lookup. */
static __always_inline int may_be_dns(s32 fd, u64 uaddr)
{
	if (uaddr) {
		u16 port_be = 0;
		return bpf_probe_read_user(&port_be, sizeof(port_be), (void *)uaddr + 2) == 0 && port_be == DNS_PORT_BE;
	}
	u64 key = (bpf_get_current_pid_tgid() & ~0xffffffffULL) | (u32)fd;
	return dns_sockets.lookup(&key) != NULL;
}

/* A UDP send that may_be_dns() passed: the query's first bytes, both ends. */
static __always_inline int on_send(void *ctx, s32 fd, u64 uaddr, u64 buf, u64 len, long ret)
{
	if (ret < 0 || is_compat() || is_sensor())
		return 0;
	void *sk = fd_sock(fd, uaddr != 0); /* a write's fd may be a file now, reusing a DNS socket's number */
	if (!sk)
		return 0;
	u16 protocol = 0;
	READ(protocol, sk, OFF_SK_PROTOCOL);
	if (protocol != IPPROTO_UDP_VALUE)
		return 0;
	struct sensor_net *rec = net_record(NET_DNS_QUERY, ret, fd);
	if (!rec)
		return 0;
	read_sock(sk, rec);
	if (uaddr) {
		u8 remote[16] = {};
		u16 remote_port = 0;
		read_user_sockaddr(rec, uaddr, sizeof(struct user_sockaddr), remote, &remote_port);
		__builtin_memcpy(rec->remote_addr, remote, 16);
		rec->remote_port = remote_port;
	} else if (rec->remote_port != 53) {
		/* dns_sockets remembers a number: the fd is now another socket (the LRU forgets the entry). */
		return 0;
	}
	u32 n = len;
	if (len > SENSOR_NET_DATA_MAX) {
		n = SENSOR_NET_DATA_MAX;
		rec->flags |= NET_DATA_TRUNCATED;
	}
	if (n > 0 && bpf_probe_read_user(rec->data, n, (void *)buf) == 0)
		rec->data_len = n;
	send_net(ctx, HOOK_NET_DNS, rec);
	return 0;
}

/* sendmsg and sendmmsg: the first message's address and first buffer (struct msghdr, x86-64). */
static __always_inline int on_sendmsg(void *ctx, s32 fd, u64 msg, long ret)
{
	struct {
		u64 name;
		u32 namelen;
		u32 _pad;
		u64 iov;
		u64 iovlen;
	} hdr = {};
	struct {
		u64 base;
		u64 len;
	} iov = {};
	if (bpf_probe_read_user(&hdr, sizeof(hdr), (void *)msg) < 0 || !hdr.iovlen)
		return 0;
	if (!may_be_dns(fd, hdr.name) || bpf_probe_read_user(&iov, sizeof(iov), (void *)hdr.iov) < 0)
		return 0;
	return on_send(ctx, fd, hdr.name, iov.base, iov.len, ret);
}

/* raw_syscalls:sys_exit(struct pt_regs *regs, long ret). */
int on_net_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	void *regs = (void *)ctx->args[0];
	long nr = saved_reg(regs, OFF_PT_REGS_NR);
	long ret = ctx->args[1];
	switch (nr) {
	case __NR_write: {
		/* The busiest syscall: one lookup, and only sockets connected to port 53 go further. */
		s32 fd = ARG(0);
		return may_be_dns(fd, 0) ? on_send(ctx, fd, 0, ARG(1), ARG(2), ret) : 0;
	}
	case __NR_sendto: {
		s32 fd = ARG(0);
		u64 uaddr = ARG(4);
		return may_be_dns(fd, uaddr) ? on_send(ctx, fd, uaddr, ARG(1), ARG(2), ret) : 0;
	}
	case __NR_sendmsg:
		return on_sendmsg(ctx, ARG(0), ARG(1), ret);
	case __NR_sendmmsg:
		return ret >= 1 ? on_sendmsg(ctx, ARG(0), ARG(1), 0) : 0;
	case __NR_connect:
	case __NR_accept:
	case __NR_accept4:
	case __NR_bind:
	case __NR_listen:
		break;
	default:
		return 0;
	}
	if (is_compat() || is_sensor())
		return 0;
	switch (nr) {
	case __NR_connect:
		return on_connect(ctx, regs, ret);
	case __NR_accept:
	case __NR_accept4:
		return on_accept(ctx, regs, ret);
	case __NR_bind:
		return on_bind(ctx, regs, ret);
	case __NR_listen:
		return on_listen(ctx, regs, ret);
	}
	return 0;
}

/* sock:inet_sock_set_state(const struct sock *sk, int oldstate, int newstate), raw: TCP's moves. */
int on_inet_sock_set_state(struct bpf_raw_tracepoint_args *ctx)
{
	void *sk = (void *)ctx->args[0];
	int oldstate = ctx->args[1];
	int newstate = ctx->args[2];
	int established = oldstate == TCP_SYN_SENT_STATE && newstate == TCP_ESTABLISHED_STATE;
	if (newstate != TCP_CLOSE_STATE && !established)
		return 0;
	u64 key = (u64)sk;
	struct sock_owner *owner = sock_owners.lookup(&key);
	if (!owner) {
		/* SYN_SENT -> CLOSE without an owner: a blocking connect that failed, which its exit reports. */
		if (newstate == TCP_CLOSE_STATE && oldstate != TCP_SYN_SENT_STATE && oldstate != TCP_LISTEN_STATE)
			count(HOOK_NET_CLOSE, COUNTER_FILTERED);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT_STATE) {
		/* A connect's outcome: reported here only when non-blocking and not yet by its exit. */
		if (claim_outcome(key))
			send_outcome(ctx, owner, sk, established);
		if (!established)
			sock_owners.delete(&key);
		return 0;
	}
	struct sensor_net *rec = owner_record(owner, NET_CLOSE, sk);
	if (rec) {
		rec->duration_ns = rec->header.ktime_ns - owner->since_ns;
		send_net(ctx, HOOK_NET_CLOSE, rec);
	}
	sock_owners.delete(&key);
	return 0;
}
