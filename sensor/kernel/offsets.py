"""The kernel struct offsets the BPF programs read, resolved from BTF as ``OFF_*`` constants."""

from __future__ import annotations

from sensor.kernel.btf import Btf, BtfError

# Constant name -> BTF member path, or several paths tried in order (renamed across kernel versions).
KERNEL_OFFSETS: dict[str, tuple[str, ...]] = {
    "OFF_TASK_PID": ("task_struct.pid",),
    "OFF_TASK_TGID": ("task_struct.tgid",),
    "OFF_TASK_REAL_PARENT": ("task_struct.real_parent",),
    "OFF_TASK_GROUP_LEADER": ("task_struct.group_leader",),
    # start_boottime is what /proc/<pid>/stat reports (5.5+); real_start_time is its older name.
    "OFF_TASK_START_BOOTTIME": ("task_struct.start_boottime", "task_struct.real_start_time"),
    "OFF_TASK_REAL_CRED": ("task_struct.real_cred",),
    "OFF_TASK_MM": ("task_struct.mm",),
    "OFF_TASK_FS": ("task_struct.fs",),
    "OFF_TASK_EXIT_CODE": ("task_struct.exit_code",),
    "OFF_TASK_SIGNAL": ("task_struct.signal",),
    "OFF_TASK_COMM": ("task_struct.comm",),
    # task->thread_pid->numbers[level].nr: the task's id in its own pid namespace.
    "OFF_TASK_THREAD_PID": ("task_struct.thread_pid",),
    "OFF_PID_LEVEL": ("pid.level",),
    "OFF_PID_NUMBERS": ("pid.numbers",),
    "OFF_UPID_NR": ("upid.nr",),
    "OFF_SIGNAL_LIVE": ("signal_struct.live",),
    "OFF_CRED_UID": ("cred.uid",),
    "OFF_CRED_GROUP_INFO": ("cred.group_info",),
    "OFF_GROUP_INFO_NGROUPS": ("group_info.ngroups",),
    "OFF_GROUP_INFO_GID": ("group_info.gid",),
    "OFF_MM_ARG_START": ("mm_struct.arg_start",),
    "OFF_MM_ARG_END": ("mm_struct.arg_end",),
    "OFF_BPRM_FILENAME": ("linux_binprm.filename",),
    "OFF_FS_PWD": ("fs_struct.pwd",),
    "OFF_FS_ROOT": ("fs_struct.root",),
    "OFF_PATH_MNT": ("path.mnt",),
    "OFF_PATH_DENTRY": ("path.dentry",),
    "OFF_MOUNT_MNT": ("mount.mnt",),
    "OFF_MOUNT_MNT_PARENT": ("mount.mnt_parent",),
    "OFF_MOUNT_MNT_MOUNTPOINT": ("mount.mnt_mountpoint",),
    "OFF_VFSMOUNT_MNT_ROOT": ("vfsmount.mnt_root",),
    "OFF_DENTRY_D_PARENT": ("dentry.d_parent",),
    "OFF_DENTRY_D_NAME": ("dentry.d_name",),
    "OFF_QSTR_NAME": ("qstr.name",),
    # task->files->fdt->fd[n]: the struct file of a descriptor; its path, inode and mode.
    "OFF_TASK_FILES": ("task_struct.files",),
    "OFF_FILES_FDT": ("files_struct.fdt",),
    "OFF_FDTABLE_MAX_FDS": ("fdtable.max_fds",),
    "OFF_FDTABLE_FD": ("fdtable.fd",),
    "OFF_FILE_F_PATH": ("file.f_path",),
    "OFF_FILE_F_INODE": ("file.f_inode",),
    "OFF_FILE_F_MODE": ("file.f_mode",),
    "OFF_INODE_I_INO": ("inode.i_ino",),
    "OFF_INODE_I_SB": ("inode.i_sb",),
    "OFF_SUPER_BLOCK_S_DEV": ("super_block.s_dev",),
    # task->cgroups->subsys[i]->cgroup->kn->id: a task's cgroup in a v1 hierarchy.
    "OFF_TASK_CGROUPS": ("task_struct.cgroups",),
    "OFF_CSS_SET_SUBSYS": ("css_set.subsys",),
    "OFF_CSS_CGROUP": ("cgroup_subsys_state.cgroup",),
    "OFF_CGROUP_KN": ("cgroup.kn",),
    "OFF_KERNFS_NODE_ID": ("kernfs_node.id",),
}

# The syscall hooks' (bpf/syscall.bpf.c): a syscall's saved registers, and whether it is a 32-bit one. x86-64 names.
SYSCALL_OFFSETS: dict[str, tuple[str, ...]] = {
    "OFF_PT_REGS_ARG0": ("pt_regs.di",),
    "OFF_PT_REGS_ARG1": ("pt_regs.si",),
    "OFF_PT_REGS_ARG2": ("pt_regs.dx",),
    "OFF_PT_REGS_ARG3": ("pt_regs.r10",),
    "OFF_PT_REGS_ARG4": ("pt_regs.r8",),
    "OFF_PT_REGS_NR": ("pt_regs.orig_ax",),
    "OFF_TASK_THREAD_INFO": ("task_struct.thread_info",),
    "OFF_THREAD_INFO_STATUS": ("thread_info.status",),
}

# The network hooks' (bpf/network.bpf.c): a socket's file, its struct sock and its namespace.
NETWORK_OFFSETS: dict[str, tuple[str, ...]] = {
    "OFF_FILE_PRIVATE_DATA": ("file.private_data",),
    "OFF_INODE_I_MODE": ("inode.i_mode",),
    "OFF_SOCKET_SK": ("socket.sk",),
    "OFF_SKC_DADDR": ("sock_common.skc_daddr",),
    "OFF_SKC_RCV_SADDR": ("sock_common.skc_rcv_saddr",),
    "OFF_SKC_DPORT": ("sock_common.skc_dport",),
    # The local port as the connection knows it: skc_num is cleared when the port is released, before CLOSE.
    "OFF_INET_SPORT": ("inet_sock.inet_sport",),
    "OFF_SKC_FAMILY": ("sock_common.skc_family",),
    "OFF_SKC_STATE": ("sock_common.skc_state",),
    "OFF_SKC_V6_DADDR": ("sock_common.skc_v6_daddr",),
    "OFF_SKC_V6_RCV_SADDR": ("sock_common.skc_v6_rcv_saddr",),
    "OFF_SKC_NET": ("sock_common.skc_net",),
    "OFF_SK_PROTOCOL": ("sock.sk_protocol",),
    "OFF_SK_TYPE": ("sock.sk_type",),
    "OFF_SK_ERR": ("sock.sk_err",),
}

# struct sensor_creds is copied from struct cred in one read: these must sit 4 bytes apart, in this order.
CRED_FIELDS = ("uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid")


def resolve_offsets(btf: Btf) -> dict[str, int]:
    """Every ``OFF_*`` constant for this kernel, and ``SIZE_UPID`` (the stride of ``pid.numbers``);
    raises BtfError naming what is missing."""
    offsets = {name: _first_found(btf, paths) for name, paths in KERNEL_OFFSETS.items()}
    offsets["SIZE_UPID"] = btf.size("upid")
    base = btf.offset("cred.uid")
    for i, field in enumerate(CRED_FIELDS):
        if btf.offset(f"cred.{field}") != base + 4 * i:
            raise BtfError(f"struct cred has an unexpected layout: {field} is not at uid + {4 * i}")
    return offsets


def resolve_group(btf: Btf, group: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """The ``OFF_*`` constants of one group (SYSCALL_OFFSETS, NETWORK_OFFSETS); raises BtfError naming
    what is missing (another architecture's registers, a kernel built without a struct)."""
    return {name: _first_found(btf, paths) for name, paths in group.items()}


def resolve_net_namespace(btf: Btf) -> dict[str, int]:
    """``OFF_NET_NS_INUM``: where a struct net keeps its namespace's inode number (net.ns.inum)."""
    return {"OFF_NET_NS_INUM": btf.offset("net.ns") + btf.offset("ns_common.inum")}


def _first_found(btf: Btf, paths: tuple[str, ...]) -> int:
    errors = []
    for path in paths:
        try:
            return btf.offset(path)
        except BtfError as error:
            errors.append(str(error))
    raise BtfError("; ".join(errors))
