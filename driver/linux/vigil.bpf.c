// SPDX-License-Identifier: GPL-2.0
/*
 * Vigil's Linux sensor, kernel side: CO-RE programs on BTF-typed tracepoints (no tracefs
 * needed), one ring buffer, drops counted per CPU and per cause. The record layout is
 * mirrored by plugins/sensors/ebpf/decode.ts; change both together (VIGIL_ABI_VERSION).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define VIGIL_ABI_VERSION 2

#define EV_EXEC 1
#define EV_FORK 2
#define EV_EXIT 3
#define EV_PTRACE 4
#define EV_VM_WRITE 5
#define EV_CONNECT 6
#define EV_FILE 7
#define EV_MEM_OPEN 8 /* open of another process's /proc/<pid>/mem */
#define EV_MEMFD 9
#define EV_MODULE 10 /* init_module / finit_module */

/* Counter slots of vigil_stats (per CPU): attempts and failed outputs per event kind. */
#define ST_EXEC_SEEN 0
#define ST_EXEC_DROP 1
#define ST_FORK_SEEN 2
#define ST_FORK_DROP 3
#define ST_EXIT_SEEN 4
#define ST_EXIT_DROP 5
#define ST_ARGS_TRUNC 6
#define ST_PATH_TRUNC 7
#define ST_FILTERED 8
#define ST_PTRACE_SEEN 9
#define ST_PTRACE_DROP 10
#define ST_VM_WRITE_SEEN 11
#define ST_VM_WRITE_DROP 12
#define ST_CONNECT_SEEN 13
#define ST_CONNECT_DROP 14
#define ST_FILE_SEEN 15
#define ST_FILE_DROP 16
#define ST_MEM_OPEN_SEEN 17
#define ST_MEM_OPEN_DROP 18
#define ST_MEMFD_SEEN 19
#define ST_MEMFD_DROP 20
#define ST_MODULE_SEEN 21
#define ST_MODULE_DROP 22
#define ST_MEM_OPEN_SELF 23 /* /proc/<own pid>/mem: not another process, not reported */
#define ST_SLOTS 32

#define PATH_MAX_LEN 4096
#define ARGS_MAX_LEN 4096
#define PATH_DEPTH 32
#define FLAG_ARGS_TRUNC 1
#define FLAG_IMAGE_TRUNC 2
#define FLAG_CWD_TRUNC 4

/* Fixed header of every record (little-endian, 8-byte aligned, 96 bytes). */
struct vigil_hdr {
	u32 kind;
	u32 abi;
	u32 pid;       /* tgid */
	u32 tid;
	u32 ppid;      /* real parent's tgid */
	u32 flags;
	u64 start_ns;  /* group leader's start_boottime */
	u64 parent_start_ns;
	u64 time_ns;   /* bpf_ktime_get_boot_ns */
	u32 uid, gid, euid, egid;
	u32 exit_code; /* raw wait status of the exit */
	u32 image_len; /* exec: bytes of image after the header */
	u32 args_len;  /* exec: bytes of argv (NUL-separated) after image */
	u32 cwd_len;   /* exec: bytes of cwd after argv */
	char comm[16];
};

/* Follows the header in ptrace, vm-write and connect records (88 bytes). */
struct vigil_ext {
	u32 target_pid;   /* ptrace: the target's tgid; vm-write: the pid as the caller gave it */
	u32 target_tid;
	s64 request;      /* ptrace: PTRACE_ATTACH / PTRACE_SEIZE; vm-write: bytes asked (liovcnt) */
	s32 result;       /* ptrace: ptrace_attach's return value */
	u32 family;       /* connect: AF_INET / AF_INET6 */
	u64 target_start_ns;
	u16 sport;        /* host order */
	u16 dport;        /* host order */
	u32 pad;
	u8 saddr[16];
	u8 daddr[16];
	char target_comm[16];
};

struct ext_record {
	struct vigil_hdr hdr;
	struct vigil_ext ext;
};

#define PREFIX_MAX 16
#define PREFIX_LEN 64
#define FILE_PATH_LEN 256
#define FILE_OPEN 1
#define FILE_DELETE 2

/* A watched path prefix; the loader fills vigil_prefixes from index 0, len 0 ends the list. */
struct prefix {
	u32 len;
	char bytes[PREFIX_LEN];
};

/*
 * File, /proc/<pid>/mem, memfd and module records share this layout; `op` and `mode` mean:
 *   file:     FILE_OPEN / FILE_DELETE, the open mode
 *   mem_open: the caller's pid-namespace level, the target pid as the path names it
 *   memfd:    0, 0 (flags = the memfd_create flags, path = the name)
 *   module:   MODULE_INIT / MODULE_FINIT, init_module's length (flags = finit_module's flags,
 *             path = the file behind finit_module's fd)
 */
struct file_record {
	struct vigil_hdr hdr;
	u32 op;
	u32 flags;
	u32 mode;
	u32 path_len; /* bytes of path, without the NUL */
	char path[FILE_PATH_LEN];
};

#define MODULE_INIT 1
#define MODULE_FINIT 2

struct scratch {
	struct vigil_hdr hdr;
	char data[PATH_MAX_LEN + ARGS_MAX_LEN + PATH_MAX_LEN];
	char path[PATH_MAX_LEN * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} vigil_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_SLOTS);
	__type(key, u32);
	__type(value, u64);
} vigil_stats SEC(".maps");

/* tgids whose events the loader asks to ignore (the agent itself). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u8);
} vigil_ignore SEC(".maps");

/*
 * When key 0 is present: only tasks whose real parent's tgid is a key are reported (and
 * counted); the others return at once, uncounted. Lets a measurement account exactly for
 * the processes it spawned while the machine runs others. Empty in normal operation.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u8);
} vigil_focus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scratch);
} vigil_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PREFIX_MAX);
	__type(key, u32);
	__type(value, struct prefix);
} vigil_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct file_record);
} vigil_file_scratch SEC(".maps");

static __always_inline void count(u32 slot)
{
	u64 *v = bpf_map_lookup_elem(&vigil_stats, &slot);
	if (v)
		*v += 1;
}

static __always_inline bool ignored(u32 tgid)
{
	if (bpf_map_lookup_elem(&vigil_ignore, &tgid)) {
		count(ST_FILTERED);
		return true;
	}
	return false;
}

static __always_inline bool out_of_focus(u32 parent_tgid)
{
	u32 zero = 0;
	if (!bpf_map_lookup_elem(&vigil_focus, &zero))
		return false;
	return !bpf_map_lookup_elem(&vigil_focus, &parent_tgid);
}

static __always_inline u32 parent_tgid(struct task_struct *task)
{
	return BPF_CORE_READ(task, real_parent, tgid);
}

/* The agent's own events and, in a focused measurement, those of other processes. */
static __always_inline bool skip_task(struct task_struct *task)
{
	return out_of_focus(parent_tgid(task)) || ignored(BPF_CORE_READ(task, tgid));
}

static __always_inline void fill_identity(struct vigil_hdr *h, struct task_struct *task)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	h->pid = BPF_CORE_READ(task, tgid);
	h->tid = BPF_CORE_READ(task, pid);
	h->ppid = BPF_CORE_READ(parent, tgid);
	h->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	h->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	h->time_ns = bpf_ktime_get_boot_ns();
	h->uid = BPF_CORE_READ(task, cred, uid.val);
	h->gid = BPF_CORE_READ(task, cred, gid.val);
	h->euid = BPF_CORE_READ(task, cred, euid.val);
	h->egid = BPF_CORE_READ(task, cred, egid.val);
	h->abi = VIGIL_ABI_VERSION;
	BPF_CORE_READ_STR_INTO(&h->comm, task, comm);
}

struct walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	u32 pos;
	bool trunc;
};

/* One path component per call (bpf_loop keeps the verifier's work independent of depth). */
static long walk_step(u64 i, void *ctx)
{
	struct walk *w = ctx;
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&vigil_scratch, &zero);
	if (!s)
		return 1;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct dentry *dentry = w->dentry;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	bool pseudo = dentry == parent && dentry != mnt_root;
	if (!pseudo && (dentry == mnt_root || dentry == parent)) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (dentry != mnt_root || mnt == mnt_parent) {
			w->trunc = false;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = &mnt_parent->mnt;
		return 0;
	}
	u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	u32 pos = w->pos;
	if (len == 0 || len + 1 > pos || pos > PATH_MAX_LEN)
		return 1;
	pos -= len + 1;
	bpf_probe_read_kernel(&s->path[(pos + 1) & (PATH_MAX_LEN - 1)], len & (PATH_MAX_LEN - 1), name);
	s->path[pos & (PATH_MAX_LEN - 1)] = '/';
	w->pos = pos;
	w->dentry = parent;
	if (pseudo) {
		/* A file with no place in a tree (memfd, an anonymous inode): `/` + its name, as d_path gives it. */
		w->trunc = false;
		return 1;
	}
	return 0;
}

/*
 * Build the path of (dentry, vfsmount) backwards into s->path, crossing mount points.
 * Returns the start offset inside s->path (the path ends at PATH_MAX_LEN), and sets *trunc
 * when the walk stopped before the root.
 */
static __always_inline u32 build_path(struct scratch *s, struct dentry *dentry, struct vfsmount *vfsmnt, bool *trunc)
{
	struct walk w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.pos = PATH_MAX_LEN,
		.trunc = true,
	};
	bpf_loop(PATH_DEPTH, walk_step, &w, 0);
	u32 pos = w.pos;
	*trunc = w.trunc;
	if (pos >= PATH_MAX_LEN) {
		pos = PATH_MAX_LEN - 1;
		s->path[pos & (PATH_MAX_LEN - 1)] = '/';
	}
	return pos;
}

/* Copy the path built by build_path to s->data at off; returns its length. */
static __always_inline u32 put_path(struct scratch *s, u32 off, struct dentry *d, struct vfsmount *m, bool *trunc)
{
	u32 pos = build_path(s, d, m, trunc);
	u32 len = PATH_MAX_LEN - pos;
	if (len > PATH_MAX_LEN - 1)
		len = PATH_MAX_LEN - 1;
	bpf_probe_read_kernel(&s->data[off & (PATH_MAX_LEN + ARGS_MAX_LEN - 1)], len & (PATH_MAX_LEN - 1),
			      &s->path[pos & (PATH_MAX_LEN - 1)]);
	return len & (PATH_MAX_LEN - 1);
}

static __always_inline void output(void *data, u64 size, u32 drop_slot)
{
	if (bpf_ringbuf_output(&vigil_events, data, size, 0) != 0)
		count(drop_slot);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	u32 zero = 0;
	if (skip_task(task))
		return 0;
	count(ST_EXEC_SEEN);
	struct scratch *s = bpf_map_lookup_elem(&vigil_scratch, &zero);
	if (!s) {
		count(ST_EXEC_DROP);
		return 0;
	}
	struct vigil_hdr *h = &s->hdr;
	__builtin_memset(h, 0, sizeof(*h));
	h->kind = EV_EXEC;
	fill_identity(h, task);

	bool trunc = false;
	struct file *file = BPF_CORE_READ(bprm, file);
	u32 image_len = put_path(s, 0, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), &trunc);
	if (trunc) {
		h->flags |= FLAG_IMAGE_TRUNC;
		count(ST_PATH_TRUNC);
	}
	h->image_len = image_len;

	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
	u64 args_len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (args_len > ARGS_MAX_LEN - 1) {
		args_len = ARGS_MAX_LEN - 1;
		h->flags |= FLAG_ARGS_TRUNC;
		count(ST_ARGS_TRUNC);
	}
	if (bpf_probe_read_user(&s->data[image_len & (PATH_MAX_LEN - 1)], args_len & (ARGS_MAX_LEN - 1), (void *)arg_start) != 0)
		args_len = 0;
	h->args_len = args_len & (ARGS_MAX_LEN - 1);

	u32 off = (image_len & (PATH_MAX_LEN - 1)) + h->args_len;
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	u32 cwd_len = 0;
	if (fs) {
		trunc = false;
		u32 pos = build_path(s, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), &trunc);
		cwd_len = (PATH_MAX_LEN - pos) & (PATH_MAX_LEN - 1);
		if (trunc)
			h->flags |= FLAG_CWD_TRUNC;
		bpf_probe_read_kernel(&s->data[off & (PATH_MAX_LEN + ARGS_MAX_LEN - 1)], cwd_len, &s->path[pos & (PATH_MAX_LEN - 1)]);
	}
	h->cwd_len = cwd_len;
	u64 size = sizeof(*h) + (u64)off + cwd_len;
	if (size > sizeof(struct vigil_hdr) + PATH_MAX_LEN + ARGS_MAX_LEN + PATH_MAX_LEN)
		size = sizeof(struct vigil_hdr);
	output(s, size, ST_EXEC_DROP);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vigil_fork, struct task_struct *parent, struct task_struct *child)
{
	/* Threads share the tgid: only a new process is a fork worth reporting. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	if (out_of_focus(parent_tgid(child)) || ignored(BPF_CORE_READ(parent, tgid)))
		return 0;
	count(ST_FORK_SEEN);
	struct vigil_hdr h = {};
	h.kind = EV_FORK;
	fill_identity(&h, child);
	h.start_ns = BPF_CORE_READ(child, start_boottime);
	output(&h, sizeof(h), ST_FORK_DROP);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit, struct task_struct *task)
{
	/* Per thread; the process ends with its last thread (signal->live reached 0). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (skip_task(task))
		return 0;
	count(ST_EXIT_SEEN);
	struct vigil_hdr h = {};
	h.kind = EV_EXIT;
	fill_identity(&h, task);
	h.exit_code = BPF_CORE_READ(task, exit_code);
	output(&h, sizeof(h), ST_EXIT_DROP);
	return 0;
}

#define NR_OPEN 2
#define NR_CREAT 85
#define NR_UNLINK 87
#define NR_OPENAT 257
#define NR_UNLINKAT 263

struct match_ctx {
	bool matched;
};

/* One prefix per call: does the path in the file scratch start with prefix i? */
static long match_prefix(u64 i, void *ctx)
{
	struct match_ctx *m = ctx;
	u32 zero = 0, idx = i;
	struct prefix *p = bpf_map_lookup_elem(&vigil_prefixes, &idx);
	struct file_record *r = bpf_map_lookup_elem(&vigil_file_scratch, &zero);
	if (!p || !r || p->len == 0 || p->len > PREFIX_LEN)
		return 1;
	if (r->path_len < p->len)
		return 0;
	for (int j = 0; j < PREFIX_LEN; j++) {
		if (j >= p->len) {
			m->matched = true;
			return 1;
		}
		if (r->path[j] != p->bytes[j])
			return 0;
	}
	m->matched = true;
	return 1;
}

/* The caller's tgid as its own pid namespace numbers it (what /proc/self names). */
static __always_inline u32 ns_tgid(struct task_struct *task, u32 *level)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	u32 lvl = BPF_CORE_READ(pid, level);
	*level = lvl;
	return BPF_CORE_READ(pid, numbers[lvl].nr);
}

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define AT(i) (r->path[(i) & (FILE_PATH_LEN - 1)])

/* "/proc/<pid>/mem" or "/proc/<pid>/task/<tid>/mem": the pid; 0 for any other path (self too). */
static __always_inline u32 proc_mem_pid(struct file_record *r)
{
	u32 len = r->path_len;
	if (len < 11 || len > 48)
		return 0;
	if (AT(0) != '/' || AT(1) != 'p' || AT(2) != 'r' || AT(3) != 'o' || AT(4) != 'c' || AT(5) != '/')
		return 0;
	if (AT(len - 4) != '/' || AT(len - 3) != 'm' || AT(len - 2) != 'e' || AT(len - 1) != 'm')
		return 0;
	u32 pid = 0, i = 6;
	for (int k = 0; k < 10; k++) {
		char c = AT(6 + k);
		if (!IS_DIGIT(c))
			break;
		pid = pid * 10 + (c - '0');
		i = 7 + k;
	}
	if (i == 6)
		return 0;
	if (i + 4 == len)
		return pid;
	if (AT(i) != '/' || AT(i + 1) != 't' || AT(i + 2) != 'a' || AT(i + 3) != 's' || AT(i + 4) != 'k' || AT(i + 5) != '/')
		return 0;
	u32 j = i + 6;
	for (int k = 0; k < 10; k++) {
		if (!IS_DIGIT(AT(j)))
			break;
		j++;
	}
	if (j == i + 6 || j + 4 != len)
		return 0;
	return pid;
}

static __always_inline void output_path_record(struct file_record *r, u32 kind, u32 drop_slot)
{
	r->hdr.kind = kind;
	u64 size = sizeof(struct vigil_hdr) + 16 + (r->path_len & (FILE_PATH_LEN - 1));
	if (size > sizeof(*r))
		size = sizeof(*r);
	output(r, size, drop_slot);
}

/* An open of /proc/<pid>/mem of another process (the path is in the file scratch). */
static __always_inline void mem_open(struct file_record *r, u32 flags)
{
	u32 target = proc_mem_pid(r);
	if (target == 0)
		return;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	if (skip_task(task))
		return;
	u32 level = 0;
	if (target == ns_tgid(task, &level)) {
		count(ST_MEM_OPEN_SELF);
		return;
	}
	count(ST_MEM_OPEN_SEEN);
	__builtin_memset(&r->hdr, 0, sizeof(r->hdr));
	fill_identity(&r->hdr, task);
	r->op = level;
	r->flags = flags;
	r->mode = target;
	output_path_record(r, EV_MEM_OPEN, ST_MEM_OPEN_DROP);
}

/*
 * open / openat / creat / unlink / unlinkat: an absolute path under a watched prefix, and
 * (open, openat) /proc/<pid>/mem of another process whatever the prefixes.
 */
static __always_inline void file_syscall(struct pt_regs *regs, long id)
{
	u32 zero = 0;
	bool is_open = id == NR_OPEN || id == NR_OPENAT;
	struct prefix *first = bpf_map_lookup_elem(&vigil_prefixes, &zero);
	bool prefixes = first && first->len != 0;
	if (!prefixes && !is_open)
		return;
	struct file_record *r = bpf_map_lookup_elem(&vigil_file_scratch, &zero);
	if (!r)
		return;
	const char *name;
	u32 op = FILE_OPEN, flags = 0, mode = 0;
	if (id == NR_OPEN) {
		name = (const char *)BPF_CORE_READ(regs, di);
		flags = BPF_CORE_READ(regs, si);
		mode = BPF_CORE_READ(regs, dx);
	} else if (id == NR_OPENAT) {
		name = (const char *)BPF_CORE_READ(regs, si);
		flags = BPF_CORE_READ(regs, dx);
		mode = BPF_CORE_READ(regs, r10);
	} else if (id == NR_CREAT) {
		name = (const char *)BPF_CORE_READ(regs, di);
		flags = 0x241; /* O_CREAT | O_WRONLY | O_TRUNC */
		mode = BPF_CORE_READ(regs, si);
	} else if (id == NR_UNLINK) {
		name = (const char *)BPF_CORE_READ(regs, di);
		op = FILE_DELETE;
	} else {
		name = (const char *)BPF_CORE_READ(regs, si);
		op = FILE_DELETE;
	}
	long n = bpf_probe_read_user_str(r->path, FILE_PATH_LEN, name);
	if (n <= 1 || r->path[0] != '/')
		return;
	r->path_len = (n - 1) & (FILE_PATH_LEN - 1);
	if (is_open && r->path[1] == 'p') {
		mem_open(r, flags);
		/* /proc/<pid>/mem itself is reported by mem_open; a prefix may still watch /proc. */
	}
	if (!prefixes)
		return;
	struct match_ctx m = { .matched = false };
	bpf_loop(PREFIX_MAX, match_prefix, &m, 0);
	if (!m.matched)
		return;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	if (skip_task(task))
		return;
	count(ST_FILE_SEEN);
	__builtin_memset(&r->hdr, 0, sizeof(r->hdr));
	fill_identity(&r->hdr, task);
	r->op = op;
	r->flags = flags;
	r->mode = mode;
	output_path_record(r, EV_FILE, ST_FILE_DROP);
}

#define NR_PTRACE 101            /* x86_64 */
#define NR_PROCESS_VM_WRITEV 311 /* x86_64 */
#define NR_INIT_MODULE 175       /* x86_64 */
#define NR_FINIT_MODULE 313      /* x86_64 */
#define NR_MEMFD_CREATE 319      /* x86_64 */
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define TCP_SYN_SENT 2

/* memfd_create(name, flags): the name as the caller gave it (at most 249 bytes). */
static __always_inline void memfd_syscall(struct pt_regs *regs)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	if (skip_task(task))
		return;
	u32 zero = 0;
	struct file_record *r = bpf_map_lookup_elem(&vigil_file_scratch, &zero);
	if (!r)
		return;
	count(ST_MEMFD_SEEN);
	long n = bpf_probe_read_user_str(r->path, FILE_PATH_LEN, (const char *)BPF_CORE_READ(regs, di));
	r->path_len = n > 1 ? (n - 1) & (FILE_PATH_LEN - 1) : 0;
	__builtin_memset(&r->hdr, 0, sizeof(r->hdr));
	fill_identity(&r->hdr, task);
	r->op = 0;
	r->flags = BPF_CORE_READ(regs, si);
	r->mode = 0;
	output_path_record(r, EV_MEMFD, ST_MEMFD_DROP);
}

/*
 * init_module(image, len, params) and finit_module(fd, params, flags) at entry (the attempt;
 * the kernel may refuse it). For finit_module the path of the file behind the fd.
 */
static __always_inline void module_syscall(struct pt_regs *regs, long id)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	if (skip_task(task))
		return;
	u32 zero = 0;
	struct file_record *r = bpf_map_lookup_elem(&vigil_file_scratch, &zero);
	if (!r)
		return;
	count(ST_MODULE_SEEN);
	__builtin_memset(&r->hdr, 0, sizeof(r->hdr));
	fill_identity(&r->hdr, task);
	r->path_len = 0;
	r->flags = 0;
	r->mode = 0;
	if (id == NR_INIT_MODULE) {
		r->op = MODULE_INIT;
		r->mode = BPF_CORE_READ(regs, si);
	} else {
		r->op = MODULE_FINIT;
		r->flags = BPF_CORE_READ(regs, dx);
		u32 fd = BPF_CORE_READ(regs, di);
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
		u32 max = BPF_CORE_READ(fdt, max_fds);
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = NULL;
		struct scratch *s = bpf_map_lookup_elem(&vigil_scratch, &zero);
		if (fd < max && s && bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) == 0 && f) {
			bool trunc = false;
			u32 pos = build_path(s, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), &trunc);
			u32 len = PATH_MAX_LEN - pos;
			if (len > FILE_PATH_LEN - 1)
				len = FILE_PATH_LEN - 1;
			/* Keep the clamp in the register the helper gets (clang would reuse the unclamped one). */
			barrier_var(len);
			len &= FILE_PATH_LEN - 1;
			if (trunc)
				count(ST_PATH_TRUNC);
			if (bpf_probe_read_kernel(r->path, len, &s->path[pos & (PATH_MAX_LEN - 1)]) == 0)
				r->path_len = len;
		}
	}
	output_path_record(r, EV_MODULE, ST_MODULE_DROP);
}

/*
 * ptrace(PTRACE_ATTACH / PTRACE_SEIZE), process_vm_writev, memfd_create, init_module,
 * finit_module and the file syscalls, at syscall entry (the attempt; the kernel may still
 * refuse it). The first tests return for every other syscall.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(vigil_sys_enter, struct pt_regs *regs, long id)
{
	if (id == NR_OPEN || id == NR_OPENAT || id == NR_CREAT || id == NR_UNLINK || id == NR_UNLINKAT) {
		file_syscall(regs, id);
		return 0;
	}
	if (id == NR_MEMFD_CREATE) {
		memfd_syscall(regs);
		return 0;
	}
	if (id == NR_INIT_MODULE || id == NR_FINIT_MODULE) {
		module_syscall(regs, id);
		return 0;
	}
	if (id != NR_PTRACE && id != NR_PROCESS_VM_WRITEV)
		return 0;
	long request = 0;
	if (id == NR_PTRACE) {
		request = BPF_CORE_READ(regs, di);
		if (request != PTRACE_ATTACH && request != PTRACE_SEIZE)
			return 0;
	}
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	if (skip_task(task))
		return 0;
	bool ptrace = id == NR_PTRACE;
	count(ptrace ? ST_PTRACE_SEEN : ST_VM_WRITE_SEEN);
	struct ext_record r = {};
	r.hdr.kind = ptrace ? EV_PTRACE : EV_VM_WRITE;
	fill_identity(&r.hdr, task);
	r.ext.request = request;
	r.ext.target_pid = ptrace ? BPF_CORE_READ(regs, si) : BPF_CORE_READ(regs, di);
	output(&r, sizeof(r), ptrace ? ST_PTRACE_DROP : ST_VM_WRITE_DROP);
	return 0;
}

/*
 * Active TCP opens, v4 and v6: the move to SYN_SENT runs in the connecting process with the
 * destination set. The source port may not be chosen yet (0 then).
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(vigil_tcp_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (newstate != TCP_SYN_SENT || BPF_CORE_READ(sk, sk_protocol) != 6)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	if (skip_task(task))
		return 0;
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != 2 && family != 10)
		return 0;
	count(ST_CONNECT_SEEN);
	struct ext_record r = {};
	r.hdr.kind = EV_CONNECT;
	fill_identity(&r.hdr, task);
	r.ext.family = family;
	r.ext.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r.ext.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == 2) {
		BPF_CORE_READ_INTO(&r.ext.saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&r.ext.daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&r.ext.saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r.ext.daddr, sk, __sk_common.skc_v6_daddr);
	}
	output(&r, sizeof(r), ST_CONNECT_DROP);
	return 0;
}
