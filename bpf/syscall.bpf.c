/* What the syscall hooks (file.bpf.c, network.bpf.c) share: a syscall's number and arguments, read
 * from the registers the kernel saved at its entry, and the current task's descriptors.
 *
 * Compiled after process.bpf.c when either is chosen. Defined by the loader: OFF_PT_REGS_* (the saved
 * registers of the syscall's arguments and number) and OFF_THREAD_INFO_STATUS.
 */

#include <asm/unistd.h>

#define TS_COMPAT_FLAG 0x0002 /* x86's thread_info.status bit: a 32-bit syscall is running */

/* A register the kernel saved at the syscall's entry. (Plain loads through bpf_task_pt_regs()
 * made the file program too complex for the verifier.) */
static __always_inline u64 saved_reg(void *regs, u32 off)
{
	u64 value = 0;
	READ(value, regs, off);
	return value;
}

#define ARG(n) saved_reg(regs, OFF_PT_REGS_ARG##n)

/* A 32-bit syscall: its numbers are another table, and the syscall tracepoints leave it out too. */
static __always_inline int is_compat(void)
{
	u32 status = 0;
	MEMBER(status, CURRENT_TASK(), OFF_TASK_THREAD_INFO + OFF_THREAD_INFO_STATUS);
	return status & TS_COMPAT_FLAG;
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
