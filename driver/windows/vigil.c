/*
 * Vigil kernel driver (WDM). Process, thread and image notifications and handle-operation
 * callbacks become fixed-layout records (driver/protocol) in one bounded queue, drained by
 * read IOCTLs the agent keeps pending (inverted call). Handles to protected processes and
 * their threads lose the rights in VIGIL_*_STRIP_MASK in enforce mode (policy.c decides).
 *
 * Locking: one spin lock guards the queue, the pending reads, the client, the policy and the
 * counters. IRPs are completed only after the lock is released.
 */
#include <ntddk.h>
#include "../protocol/vigil_protocol.h"
#include "policy.h"

/* Pool tag "Vigl" as it shows in pool dumps (little-endian 'lgiV'). */
#define VIGIL_TAG 0x6C676956u

/* Not declared by every header set; exported by ntoskrnl since Windows XP / Vista. */
NTKERNELAPI LONGLONG PsGetProcessCreateTimeQuadPart(PEPROCESS Process);
NTKERNELAPI PCHAR PsGetProcessImageFileName(PEPROCESS Process);
NTKERNELAPI BOOLEAN SeTokenIsAdmin(PACCESS_TOKEN Token);
NTKERNELAPI NTSTATUS PsLookupProcessByProcessId(HANDLE ProcessId, PEPROCESS *Process);
NTKERNELAPI NTSTATUS PsGetProcessExitStatus(PEPROCESS Process);
NTKERNELAPI PEPROCESS IoThreadToProcess(PETHREAD Thread);
NTKERNELAPI NTSTATUS ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes, PACCESS_STATE PassedAccessState, ACCESS_MASK DesiredAccess,
                                           POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode, PHANDLE Handle);
#ifndef PROCESS_QUERY_LIMITED_INFORMATION
#define PROCESS_QUERY_LIMITED_INFORMATION 0x1000
#endif

typedef struct QNODE {
    LIST_ENTRY link;
    ULONG size;
    ULONG64 data[1]; /* record bytes, 8-aligned */
} QNODE;

static PDEVICE_OBJECT g_device;
static UNICODE_STRING g_dos_name;
static KSPIN_LOCK g_lock;
static LIST_ENTRY g_queue;
static LIST_ENTRY g_pending;
static ULONG g_depth;
static ULONG g_pending_count;
static PFILE_OBJECT g_client;
static BOOLEAN g_negotiated;
static BOOLEAN g_unloading;
static VIGIL_POLICY g_policy;
static VIGIL_STATS g_stats;
static ULONG64 g_seq;
static ULONG64 g_dropped_since;
static PVOID g_ob_handle;
static BOOLEAN g_process_notify, g_thread_notify, g_image_notify;
/* The canary: a kernel handle opened by this thread with this nonce must reach the callback. */
static PETHREAD volatile g_canary_thread;
static ULONG64 g_canary_nonce;

/* Pids whose initial thread is still to come: that thread is created by the parent and is
 * not a remote thread. A small ring; a miss only costs one spurious remote flag. */
#define FIRST_THREAD_SLOTS 64
static ULONG g_first_thread[FIRST_THREAD_SLOTS];
static ULONG g_first_thread_next;

static ULONG64 now_filetime(void) {
    LARGE_INTEGER t;
    KeQuerySystemTime(&t);
    return (ULONG64)t.QuadPart;
}

static ULONG64 create_time_of(HANDLE pid) {
    PEPROCESS p;
    ULONG64 t = 0;
    if (pid == 0) return 0;
    if (NT_SUCCESS(PsLookupProcessByProcessId(pid, &p))) {
        t = (ULONG64)PsGetProcessCreateTimeQuadPart(p);
        ObDereferenceObject(p);
    }
    return t;
}

/* Takes the first pending read that is not being cancelled, or NULL. Under g_lock. */
static PIRP take_pending_locked(void) {
    while (!IsListEmpty(&g_pending)) {
        PLIST_ENTRY e = RemoveHeadList(&g_pending);
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        g_pending_count--;
        g_stats.pending_reads = g_pending_count;
        if (IoSetCancelRoutine(irp, NULL) != NULL) return irp;
        /* Its cancel routine runs now and will remove an entry that is no longer listed. */
        InitializeListHead(&irp->Tail.Overlay.ListEntry);
    }
    return NULL;
}

/* Moves as many whole records as fit into the read's buffer. Under g_lock. */
static ULONG fill_locked(PIRP irp) {
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
    UCHAR *out = (UCHAR *)irp->AssociatedIrp.SystemBuffer;
    ULONG room = sp->Parameters.DeviceIoControl.OutputBufferLength;
    ULONG used = 0;
    if (g_dropped_since > 0 && room >= sizeof(VIGIL_LOSS)) {
        VIGIL_LOSS loss;
        RtlZeroMemory(&loss, sizeof loss);
        loss.header.size = sizeof loss;
        loss.header.type = VIGIL_REC_LOSS;
        loss.header.seq = 0; /* outside the numbered stream: it reports a gap, it is not in it */
        loss.header.time = now_filetime();
        loss.dropped_total = g_stats.dropped;
        loss.dropped_since = g_dropped_since;
        g_dropped_since = 0;
        RtlCopyMemory(out, &loss, sizeof loss);
        used = sizeof loss;
    }
    while (!IsListEmpty(&g_queue)) {
        QNODE *n = CONTAINING_RECORD(g_queue.Flink, QNODE, link);
        ULONG padded = (n->size + VIGIL_RECORD_ALIGN - 1) & ~(VIGIL_RECORD_ALIGN - 1);
        if (used + n->size > room) break;
        RemoveEntryList(&n->link);
        g_depth--;
        RtlCopyMemory(out + used, n->data, n->size);
        if (padded > n->size && used + padded <= room) RtlZeroMemory(out + used + n->size, padded - n->size);
        used += padded <= room - used ? padded : n->size;
        g_stats.delivered++;
        ExFreePoolWithTag(n, VIGIL_TAG);
    }
    g_stats.depth = g_depth;
    return used;
}

/* The one way into the queue, for the callbacks and the test build's injection alike. */
static void enqueue(const void *rec, ULONG size) {
    KIRQL irql;
    PIRP irp = NULL;
    ULONG filled = 0;
    QNODE *n = (QNODE *)ExAllocatePoolWithTag(NonPagedPool, FIELD_OFFSET(QNODE, data) + size, VIGIL_TAG);
    KeAcquireSpinLock(&g_lock, &irql);
    if (n == NULL || g_depth >= VIGIL_QUEUE_CAPACITY || g_unloading) {
        g_stats.dropped++;
        g_dropped_since++;
        KeReleaseSpinLock(&g_lock, irql);
        if (n) ExFreePoolWithTag(n, VIGIL_TAG);
        return;
    }
    RtlCopyMemory(n->data, rec, size);
    n->size = size;
    ((VIGIL_RECORD_HEADER *)n->data)->seq = ++g_seq;
    InsertTailList(&g_queue, &n->link);
    g_depth++;
    g_stats.enqueued++;
    g_stats.depth = g_depth;
    irp = take_pending_locked();
    if (irp) filled = fill_locked(irp);
    KeReleaseSpinLock(&g_lock, irql);
    if (irp) {
        irp->IoStatus.Status = STATUS_SUCCESS;
        irp->IoStatus.Information = filled;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
    }
}

/* Appends a counted UTF-16 string to a record being built; truncates (flagged) at the cap. */
static void put_string(UCHAR *rec, ULONG *size, VIGIL_STR *s, const WCHAR *buf, ULONG bytes) {
    ULONG room = VIGIL_MAX_RECORD - *size;
    VIGIL_RECORD_HEADER *h = (VIGIL_RECORD_HEADER *)rec;
    s->offset = 0;
    s->bytes = 0;
    if (buf == NULL || bytes == 0) return;
    if (bytes > room) {
        bytes = room & ~1u;
        h->flags |= VIGIL_RF_TRUNCATED;
    }
    RtlCopyMemory(rec + *size, buf, bytes);
    s->offset = (uint16_t)*size;
    s->bytes = (uint16_t)bytes;
    *size += bytes;
}

static void put_ansi(UCHAR *rec, ULONG *size, VIGIL_STR *s, const char *name) {
    WCHAR w[VIGIL_SHORT_NAME_CHARS + 1];
    ULONG i;
    for (i = 0; name && name[i] && i < VIGIL_SHORT_NAME_CHARS; i++) w[i] = (WCHAR)(UCHAR)name[i];
    put_string(rec, size, s, w, i * sizeof(WCHAR));
}

static void header(VIGIL_RECORD_HEADER *h, uint16_t type) {
    h->type = type;
    h->flags = 0;
    h->seq = 0;
    h->time = now_filetime();
}

/* Records are built on the heap: MAX_RECORD is too large for a kernel stack frame. */
static UCHAR *record_buffer(void) {
    UCHAR *b = (UCHAR *)ExAllocatePoolWithTag(NonPagedPool, VIGIL_MAX_RECORD, VIGIL_TAG);
    if (b) RtlZeroMemory(b, VIGIL_MAX_RECORD);
    return b;
}

static void count_drop(void) {
    KIRQL irql;
    KeAcquireSpinLock(&g_lock, &irql);
    g_stats.dropped++;
    g_dropped_since++;
    KeReleaseSpinLock(&g_lock, irql);
}

static void process_notify(PEPROCESS process, HANDLE pid, PPS_CREATE_NOTIFY_INFO info) {
    UCHAR *rec = record_buffer();
    ULONG size;
    if (rec == NULL) {
        count_drop();
        return;
    }
    if (info) {
        VIGIL_PROCESS_START *r = (VIGIL_PROCESS_START *)rec;
        KIRQL irql;
        header(&r->header, VIGIL_REC_PROCESS_START);
        r->pid = (uint32_t)(ULONG_PTR)pid;
        r->ppid = (uint32_t)(ULONG_PTR)info->ParentProcessId;
        r->creator_pid = (uint32_t)(ULONG_PTR)info->CreatingThreadId.UniqueProcess;
        r->creator_tid = (uint32_t)(ULONG_PTR)info->CreatingThreadId.UniqueThread;
        r->create_time = (uint64_t)PsGetProcessCreateTimeQuadPart(process);
        r->parent_create_time = create_time_of(info->ParentProcessId);
        r->creator_create_time = create_time_of(info->CreatingThreadId.UniqueProcess);
        size = sizeof *r;
        if (info->ImageFileName) put_string(rec, &size, &r->image, info->ImageFileName->Buffer, info->ImageFileName->Length);
        if (info->CommandLine) put_string(rec, &size, &r->cmdline, info->CommandLine->Buffer, info->CommandLine->Length);
        KeAcquireSpinLock(&g_lock, &irql);
        g_first_thread[g_first_thread_next++ % FIRST_THREAD_SLOTS] = r->pid;
        KeReleaseSpinLock(&g_lock, irql);
    } else {
        VIGIL_PROCESS_STOP *r = (VIGIL_PROCESS_STOP *)rec;
        header(&r->header, VIGIL_REC_PROCESS_STOP);
        r->pid = (uint32_t)(ULONG_PTR)pid;
        r->create_time = (uint64_t)PsGetProcessCreateTimeQuadPart(process);
        r->exit_status = (uint32_t)PsGetProcessExitStatus(process);
        size = sizeof *r;
    }
    ((VIGIL_RECORD_HEADER *)rec)->size = size;
    enqueue(rec, size);
    ExFreePoolWithTag(rec, VIGIL_TAG);
}

static void thread_notify(HANDLE pid, HANDLE tid, BOOLEAN create) {
    VIGIL_THREAD_CREATE r;
    ULONG owner = (ULONG)(ULONG_PTR)pid;
    ULONG creator = (ULONG)(ULONG_PTR)PsGetCurrentProcessId();
    BOOLEAN initial = FALSE;
    KIRQL irql;
    ULONG i;
    if (!create || owner == creator) return;
    KeAcquireSpinLock(&g_lock, &irql);
    for (i = 0; i < FIRST_THREAD_SLOTS; i++) {
        if (g_first_thread[i] == owner) {
            g_first_thread[i] = 0;
            initial = TRUE;
            break;
        }
    }
    KeReleaseSpinLock(&g_lock, irql);
    /* Only remote creations are queued: the rest is volume without signal. */
    if (initial) return;
    RtlZeroMemory(&r, sizeof r);
    header(&r.header, VIGIL_REC_THREAD_CREATE);
    r.header.flags = VIGIL_RF_REMOTE;
    r.header.size = sizeof r;
    r.pid = owner;
    r.tid = (uint32_t)(ULONG_PTR)tid;
    r.creator_pid = creator;
    r.creator_tid = (uint32_t)(ULONG_PTR)PsGetCurrentThreadId();
    r.create_time = create_time_of(pid);
    r.creator_create_time = (uint64_t)PsGetProcessCreateTimeQuadPart(PsGetCurrentProcess());
    enqueue(&r, sizeof r);
}

static void image_notify(PUNICODE_STRING name, HANDLE pid, PIMAGE_INFO info) {
    UCHAR *rec = record_buffer();
    VIGIL_IMAGE_LOAD *r = (VIGIL_IMAGE_LOAD *)rec;
    ULONG size = sizeof *r;
    if (rec == NULL) {
        count_drop();
        return;
    }
    header(&r->header, VIGIL_REC_IMAGE_LOAD);
    r->pid = (uint32_t)(ULONG_PTR)pid;
    r->system_image = info->SystemModeImage ? 1 : 0;
    r->create_time = create_time_of(pid);
    r->image_base = (uint64_t)(ULONG_PTR)info->ImageBase;
    r->image_size = (uint64_t)info->ImageSize;
    if (name) put_string(rec, &size, &r->image, name->Buffer, name->Length);
    r->header.size = size;
    enqueue(rec, size);
    ExFreePoolWithTag(rec, VIGIL_TAG);
}

static OB_PREOP_CALLBACK_STATUS pre_operation(PVOID context, POB_PRE_OPERATION_INFORMATION info) {
    PEPROCESS caller = PsGetCurrentProcess();
    PEPROCESS target;
    vigil_access_query q;
    vigil_access_decision d;
    ACCESS_MASK *access;
    KIRQL irql;
    UCHAR buf[sizeof(VIGIL_HANDLE_ACCESS) + 2 * VIGIL_SHORT_NAME_CHARS * sizeof(WCHAR)];
    VIGIL_HANDLE_ACCESS *r = (VIGIL_HANDLE_ACCESS *)buf;
    ULONG size = sizeof *r;
    uint32_t target_tid = 0;
    const char *caller_name;
    const char *target_name;
    UNREFERENCED_PARAMETER(context);

    if (info->ObjectType == *PsProcessType) {
        target = (PEPROCESS)info->Object;
        q.object_type = VIGIL_OBJ_PROCESS;
    } else if (info->ObjectType == *PsThreadType) {
        target = IoThreadToProcess((PETHREAD)info->Object);
        target_tid = (uint32_t)(ULONG_PTR)PsGetThreadId((PETHREAD)info->Object);
        q.object_type = VIGIL_OBJ_THREAD;
    } else {
        return OB_PREOP_SUCCESS;
    }
    if (info->KernelHandle && g_canary_thread == PsGetCurrentThread()) {
        VIGIL_CANARY c;
        RtlZeroMemory(&c, sizeof c);
        header(&c.header, VIGIL_REC_CANARY);
        c.header.size = sizeof c;
        c.kind = VIGIL_CANARY_HANDLE;
        c.nonce = g_canary_nonce;
        g_canary_thread = NULL;
        enqueue(&c, sizeof c);
        return OB_PREOP_SUCCESS;
    }
    access = info->Operation == OB_OPERATION_HANDLE_CREATE ? &info->Parameters->CreateHandleInformation.DesiredAccess
                                                           : &info->Parameters->DuplicateHandleInformation.DesiredAccess;
    caller_name = PsGetProcessImageFileName(caller);
    target_name = PsGetProcessImageFileName(target);
    RtlZeroMemory(buf, sizeof buf);
    r->caller_pid = (uint32_t)(ULONG_PTR)PsGetProcessId(caller);
    r->caller_tid = (uint32_t)(ULONG_PTR)PsGetCurrentThreadId();
    r->target_pid = (uint32_t)(ULONG_PTR)PsGetProcessId(target);
    r->target_tid = target_tid;
    r->caller_create_time = (uint64_t)PsGetProcessCreateTimeQuadPart(caller);
    r->target_create_time = (uint64_t)PsGetProcessCreateTimeQuadPart(target);
    q.desired = *access;
    q.kernel_handle = info->KernelHandle ? 1 : 0;
    q.caller_is_target = caller == target;
    KeAcquireSpinLock(&g_lock, &irql);
    q.target_mode = vigil_policy_target_mode(&g_policy, r->target_pid, r->target_create_time, target_name);
    q.caller_allowed = vigil_policy_caller_allowed(&g_policy, r->caller_pid, r->caller_create_time, caller_name);
    KeReleaseSpinLock(&g_lock, irql);
    d = vigil_decide_access(&q);
    if (!d.report) return OB_PREOP_SUCCESS;
    *access = d.granted;
    header(&r->header, VIGIL_REC_HANDLE_ACCESS);
    r->object_type = (uint16_t)q.object_type;
    r->operation = info->Operation == OB_OPERATION_HANDLE_CREATE ? VIGIL_OP_CREATE : VIGIL_OP_DUPLICATE;
    r->mode = q.target_mode;
    r->desired = q.desired;
    r->granted = d.granted;
    r->stripped = d.stripped;
    r->would_strip = d.would_strip;
    put_ansi(buf, &size, &r->caller_image, caller_name);
    put_ansi(buf, &size, &r->target_image, target_name);
    size = (size + VIGIL_RECORD_ALIGN - 1) & ~(VIGIL_RECORD_ALIGN - 1);
    r->header.size = size;
    if (d.stripped) {
        KeAcquireSpinLock(&g_lock, &irql);
        g_stats.stripped++;
        KeReleaseSpinLock(&g_lock, irql);
    }
    enqueue(buf, size);
    return OB_PREOP_SUCCESS;
}

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR info) {
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static void cancel_read(PDEVICE_OBJECT dev, PIRP irp) {
    KIRQL irql;
    UNREFERENCED_PARAMETER(dev);
    IoReleaseCancelSpinLock(irp->CancelIrql);
    KeAcquireSpinLock(&g_lock, &irql);
    /* Still listed, or self-linked by take_pending_locked: removal is safe either way. */
    if (irp->Tail.Overlay.ListEntry.Flink != &irp->Tail.Overlay.ListEntry) {
        RemoveEntryList(&irp->Tail.Overlay.ListEntry);
        g_pending_count--;
        g_stats.pending_reads = g_pending_count;
    }
    KeReleaseSpinLock(&g_lock, irql);
    complete(irp, STATUS_CANCELLED, 0);
}

/* Completes (cancelled) every pending read of `file`, or every one when file is NULL. */
static void flush_pending(PFILE_OBJECT file) {
    LIST_ENTRY done;
    KIRQL irql;
    PLIST_ENTRY e, next;
    InitializeListHead(&done);
    KeAcquireSpinLock(&g_lock, &irql);
    for (e = g_pending.Flink; e != &g_pending; e = next) {
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        next = e->Flink;
        if (file && IoGetCurrentIrpStackLocation(irp)->FileObject != file) continue;
        RemoveEntryList(e);
        g_pending_count--;
        if (IoSetCancelRoutine(irp, NULL) != NULL) InsertTailList(&done, e);
        else InitializeListHead(e);
    }
    g_stats.pending_reads = g_pending_count;
    KeReleaseSpinLock(&g_lock, irql);
    while (!IsListEmpty(&done)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&done), IRP, Tail.Overlay.ListEntry);
        complete(irp, STATUS_CANCELLED, 0);
    }
}

static NTSTATUS dispatch_create(PDEVICE_OBJECT dev, PIRP irp) {
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
    PIO_SECURITY_CONTEXT sec = sp->Parameters.Create.SecurityContext;
    PACCESS_TOKEN token = NULL;
    KIRQL irql;
    NTSTATUS status = STATUS_SUCCESS;
    UNREFERENCED_PARAMETER(dev);
    /* Only an elevated client: the opener's token (impersonation, else primary, as captured
     * in the create's access state) has the Administrators group enabled. */
    if (sec && sec->AccessState) {
        PSECURITY_SUBJECT_CONTEXT subject = &sec->AccessState->SubjectSecurityContext;
        token = subject->ClientToken ? subject->ClientToken : subject->PrimaryToken;
    }
    /* Windows always passes the access state with IRP_MJ_CREATE; Wine's driver host passes
     * none (and runs every process with full rights), so there is nothing to check there. */
    if (irp->RequestorMode == UserMode && sec != NULL && (token == NULL || !SeTokenIsAdmin(token))) return complete(irp, STATUS_ACCESS_DENIED, 0);
    KeAcquireSpinLock(&g_lock, &irql);
    if (g_client != NULL) status = STATUS_SHARING_VIOLATION;
    else {
        g_client = sp->FileObject;
        g_negotiated = FALSE;
        g_stats.clients = 1;
    }
    KeReleaseSpinLock(&g_lock, irql);
    return complete(irp, status, 0);
}

static NTSTATUS dispatch_cleanup(PDEVICE_OBJECT dev, PIRP irp) {
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
    KIRQL irql;
    UNREFERENCED_PARAMETER(dev);
    /* The client's last handle is closing: its reads end, the slot is free. Another open's
     * close (a refused one) changes nothing. */
    flush_pending(sp->FileObject);
    KeAcquireSpinLock(&g_lock, &irql);
    if (g_client == sp->FileObject) {
        g_client = NULL;
        g_negotiated = FALSE;
        g_stats.clients = 0;
    }
    KeReleaseSpinLock(&g_lock, irql);
    return complete(irp, STATUS_SUCCESS, 0);
}

/* IRP_MJ_CLOSE repeats the cleanup: Wine's driver host sends only IRP_MJ_CLOSE. Idempotent. */
static NTSTATUS dispatch_close(PDEVICE_OBJECT dev, PIRP irp) {
    return dispatch_cleanup(dev, irp);
}

static NTSTATUS arm_canary(const VIGIL_CANARY_ARM *arm) {
    PEPROCESS p;
    HANDLE h;
    NTSTATUS status = PsLookupProcessByProcessId((HANDLE)(ULONG_PTR)arm->pid, &p);
    if (!NT_SUCCESS(status)) return status;
    g_canary_nonce = arm->nonce;
    g_canary_thread = PsGetCurrentThread();
    /* A kernel handle: the pre-operation callback must see it; policy never touches it. */
    status = ObOpenObjectByPointer(p, OBJ_KERNEL_HANDLE, NULL, PROCESS_QUERY_LIMITED_INFORMATION, *PsProcessType, KernelMode, &h);
    g_canary_thread = NULL;
    if (NT_SUCCESS(status)) ZwClose(h);
    ObDereferenceObject(p);
    return status;
}

static NTSTATUS dispatch_ioctl(PDEVICE_OBJECT dev, PIRP irp) {
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
    ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
    ULONG in_len = sp->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out_len = sp->Parameters.DeviceIoControl.OutputBufferLength;
    void *buf = irp->AssociatedIrp.SystemBuffer;
    KIRQL irql;
    UNREFERENCED_PARAMETER(dev);

    /* Requests on any other open (Wine hands out a handle even when IRP_MJ_CREATE failed)
     * are refused. */
    if (sp->FileObject == NULL || sp->FileObject != g_client) return complete(irp, STATUS_ACCESS_DENIED, 0);
    if (code == VIGIL_IOCTL_HELLO) {
        VIGIL_HELLO_IN in;
        VIGIL_HELLO_OUT out;
        if (in_len < sizeof in || out_len < sizeof out) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        RtlCopyMemory(&in, buf, sizeof in);
        RtlZeroMemory(&out, sizeof out);
        out.major = VIGIL_PROTOCOL_MAJOR;
        out.minor = VIGIL_PROTOCOL_MINOR;
        out.max_record = VIGIL_MAX_RECORD;
        out.queue_capacity = VIGIL_QUEUE_CAPACITY;
#ifdef VIGIL_TEST_BUILD
        out.build_flags = VIGIL_BUILD_TEST;
#endif
        KeAcquireSpinLock(&g_lock, &irql);
        /* Another major version gets the driver's version back and nothing else. */
        g_negotiated = in.major == VIGIL_PROTOCOL_MAJOR;
        KeReleaseSpinLock(&g_lock, irql);
        RtlCopyMemory(buf, &out, sizeof out);
        return complete(irp, STATUS_SUCCESS, sizeof out);
    }
    if (!g_negotiated) return complete(irp, STATUS_REVISION_MISMATCH, 0);
    switch (code) {
    case VIGIL_IOCTL_READ: {
        ULONG filled;
        if (out_len < VIGIL_MAX_RECORD) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        KeAcquireSpinLock(&g_lock, &irql);
        if (!IsListEmpty(&g_queue) || g_dropped_since > 0) {
            filled = fill_locked(irp);
            KeReleaseSpinLock(&g_lock, irql);
            return complete(irp, STATUS_SUCCESS, filled);
        }
        IoMarkIrpPending(irp);
        InsertTailList(&g_pending, &irp->Tail.Overlay.ListEntry);
        g_pending_count++;
        g_stats.pending_reads = g_pending_count;
        IoSetCancelRoutine(irp, cancel_read);
        if (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL) {
            RemoveEntryList(&irp->Tail.Overlay.ListEntry);
            g_pending_count--;
            g_stats.pending_reads = g_pending_count;
            KeReleaseSpinLock(&g_lock, irql);
            complete(irp, STATUS_CANCELLED, 0);
            return STATUS_PENDING;
        }
        KeReleaseSpinLock(&g_lock, irql);
        return STATUS_PENDING;
    }
    case VIGIL_IOCTL_SET_POLICY: {
        VIGIL_POLICY *p;
        if (in_len != sizeof(VIGIL_POLICY)) return complete(irp, STATUS_INFO_LENGTH_MISMATCH, 0);
        p = (VIGIL_POLICY *)buf;
        if (vigil_policy_validate(p) != 0) return complete(irp, STATUS_INVALID_PARAMETER, 0);
        KeAcquireSpinLock(&g_lock, &irql);
        RtlCopyMemory(&g_policy, p, sizeof g_policy);
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_SUCCESS, 0);
    }
    case VIGIL_IOCTL_GET_POLICY:
        if (out_len < sizeof(VIGIL_POLICY)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        KeAcquireSpinLock(&g_lock, &irql);
        RtlCopyMemory(buf, &g_policy, sizeof g_policy);
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_SUCCESS, sizeof(VIGIL_POLICY));
    case VIGIL_IOCTL_GET_STATS:
        if (out_len < sizeof(VIGIL_STATS)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        KeAcquireSpinLock(&g_lock, &irql);
        RtlCopyMemory(buf, &g_stats, sizeof g_stats);
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_SUCCESS, sizeof(VIGIL_STATS));
    case VIGIL_IOCTL_ARM_CANARY:
        if (in_len < sizeof(VIGIL_CANARY_ARM)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        return complete(irp, arm_canary((const VIGIL_CANARY_ARM *)buf), 0);
#ifdef VIGIL_TEST_BUILD
    case VIGIL_IOCTL_TEST_INJECT: {
        /* Test build only: synthetic records through the same queue the callbacks use. */
        UCHAR *p = (UCHAR *)buf;
        ULONG at = 0, count = 0;
        while (at + sizeof(VIGIL_RECORD_HEADER) <= in_len) {
            VIGIL_RECORD_HEADER *h = (VIGIL_RECORD_HEADER *)(p + at);
            if (h->size < sizeof *h || h->size > VIGIL_MAX_RECORD || at + h->size > in_len || h->type < VIGIL_REC_PROCESS_START || h->type > VIGIL_REC_CANARY)
                return complete(irp, STATUS_INVALID_PARAMETER, count);
            h->flags |= VIGIL_RF_SYNTHETIC;
            enqueue(h, h->size);
            count++;
            at += (h->size + VIGIL_RECORD_ALIGN - 1) & ~(VIGIL_RECORD_ALIGN - 1);
        }
        return complete(irp, STATUS_SUCCESS, count);
    }
#endif
    default:
        return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static void unregister_callbacks(void) {
    if (g_ob_handle) ObUnRegisterCallbacks(g_ob_handle);
    if (g_process_notify) PsSetCreateProcessNotifyRoutineEx(process_notify, TRUE);
    if (g_thread_notify) PsRemoveCreateThreadNotifyRoutine(thread_notify);
    if (g_image_notify) PsRemoveLoadImageNotifyRoutine(image_notify);
    g_ob_handle = NULL;
    g_process_notify = g_thread_notify = g_image_notify = FALSE;
}

static void driver_unload(PDRIVER_OBJECT drv) {
    KIRQL irql;
    UNREFERENCED_PARAMETER(drv);
    unregister_callbacks();
    KeAcquireSpinLock(&g_lock, &irql);
    g_unloading = TRUE;
    KeReleaseSpinLock(&g_lock, irql);
    flush_pending(NULL);
    KeAcquireSpinLock(&g_lock, &irql);
    while (!IsListEmpty(&g_queue)) {
        QNODE *n = CONTAINING_RECORD(RemoveHeadList(&g_queue), QNODE, link);
        ExFreePoolWithTag(n, VIGIL_TAG);
    }
    g_depth = 0;
    KeReleaseSpinLock(&g_lock, irql);
    IoDeleteSymbolicLink(&g_dos_name);
    if (g_device) IoDeleteDevice(g_device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING registry) {
    UNICODE_STRING nt_name, altitude;
    OB_OPERATION_REGISTRATION ops[2];
    OB_CALLBACK_REGISTRATION reg;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(registry);

    KeInitializeSpinLock(&g_lock);
    InitializeListHead(&g_queue);
    InitializeListHead(&g_pending);
    RtlZeroMemory(&g_policy, sizeof g_policy);
    RtlZeroMemory(&g_stats, sizeof g_stats);
    g_stats.capacity = VIGIL_QUEUE_CAPACITY;
    /* lsass is protected (monitor) from the first moment, before any agent connects. */
    g_policy.default_mode = VIGIL_MODE_MONITOR;
    g_policy.protected_count = 1;
    RtlCopyMemory(g_policy.protected[0].name, L"lsass.exe", sizeof(L"lsass.exe"));

    RtlInitUnicodeString(&nt_name, VIGIL_DEVICE_NT);
    RtlInitUnicodeString(&g_dos_name, VIGIL_DEVICE_DOS);
    status = IoCreateDevice(drv, 0, &nt_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_dos_name, &nt_name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(g_device);
        return status;
    }
    g_device->Flags |= DO_BUFFERED_IO;
    drv->MajorFunction[IRP_MJ_CREATE] = dispatch_create;
    drv->MajorFunction[IRP_MJ_CLEANUP] = dispatch_cleanup;
    drv->MajorFunction[IRP_MJ_CLOSE] = dispatch_close;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = dispatch_ioctl;
    drv->DriverUnload = driver_unload;

    /* Any callback that cannot be registered fails the load: a half-blind driver is worse
     * than an absent one, which the agent reports. */
    status = PsSetCreateProcessNotifyRoutineEx(process_notify, FALSE);
    if (NT_SUCCESS(status)) {
        g_process_notify = TRUE;
        status = PsSetCreateThreadNotifyRoutine(thread_notify);
    }
    if (NT_SUCCESS(status)) {
        g_thread_notify = TRUE;
        status = PsSetLoadImageNotifyRoutine(image_notify);
    }
    if (NT_SUCCESS(status)) {
        g_image_notify = TRUE;
        RtlZeroMemory(ops, sizeof ops);
        ops[0].ObjectType = PsProcessType;
        ops[0].Operations = OB_OPERATION_HANDLE_CREATE | OB_OPERATION_HANDLE_DUPLICATE;
        ops[0].PreOperation = pre_operation;
        ops[1].ObjectType = PsThreadType;
        ops[1].Operations = OB_OPERATION_HANDLE_CREATE | OB_OPERATION_HANDLE_DUPLICATE;
        ops[1].PreOperation = pre_operation;
        RtlInitUnicodeString(&altitude, L"385201");
        RtlZeroMemory(&reg, sizeof reg);
        reg.Version = OB_FLT_REGISTRATION_VERSION;
        reg.OperationRegistrationCount = 2;
        reg.Altitude = altitude;
        reg.RegistrationContext = NULL;
        reg.OperationRegistration = ops;
        status = ObRegisterCallbacks(&reg, &g_ob_handle);
    }
    if (!NT_SUCCESS(status)) {
        unregister_callbacks();
        IoDeleteSymbolicLink(&g_dos_name);
        IoDeleteDevice(g_device);
        g_device = NULL;
        return status;
    }
    return STATUS_SUCCESS;
}
