/* A test double of the ETW controller and consumer calls of advapi32 and of tdh's
 * TdhGetEventInformation, for the Wine tests only (Wine stubs the former and lacks the
 * latter). The ETW binding loads it by path in place of both system DLLs; production always
 * calls the system DLLs.
 *
 * Recorded events come from a file the test writes (little-endian):
 *   "VETW" u32 version=1 u32 count, then per record
 *   u32 headerLen (80) u32 userLen u32 schemaLen, EVENT_HEADER bytes, UserData bytes,
 *   TRACE_EVENT_INFO bytes (offsets relative to its own start).
 * ProcessTrace delivers them to the EventRecordCallback as EVENT_RECORDs, calls the
 * BufferCallback once, then blocks until CloseTrace (or until the BufferCallback returns
 * FALSE), as a real-time consumer does. TdhGetEventInformation returns the recorded schema of
 * the record's (provider, id, version) with the two-call buffer sizing.
 *
 * Control (called by the test through its own koffi binding of this DLL):
 *   VigilEtwDoubleReset(path, flags)  load records; flags: 1 a leftover session is running,
 *                                     2 the session name stays in use whatever is stopped,
 *                                     4 StartTraceW is refused with access denied,
 *                                     8 ProcessTrace ignores CloseTrace (a stuck consumer)
 *                                     until VigilEtwDoubleRelease()
 *   VigilEtwDoubleSetLost(events, realTimeBuffers)  what ControlTraceW QUERY reports
 *   VigilEtwDoubleCount(name)         calls seen: start stop query enable open process close
 *                                     delivered tdh
 *   VigilEtwDoubleLastEnable(guid[16], &level, &keywords)  the last provider enabled
 */
#define StartTraceW vigil_hidden_StartTraceW
#define ControlTraceW vigil_hidden_ControlTraceW
#define EnableTraceEx2 vigil_hidden_EnableTraceEx2
#define OpenTraceW vigil_hidden_OpenTraceW
#define ProcessTrace vigil_hidden_ProcessTrace
#define CloseTrace vigil_hidden_CloseTrace
#define TdhGetEventInformation vigil_hidden_TdhGetEventInformation
#include <windows.h>
#include <evntrace.h>
#include <evntcons.h>
#include <tdh.h>
#undef StartTraceW
#undef ControlTraceW
#undef EnableTraceEx2
#undef OpenTraceW
#undef ProcessTrace
#undef CloseTrace
#undef TdhGetEventInformation
#include <string.h>

#define EXPORT __declspec(dllexport)
#define SESSION_HANDLE ((TRACEHANDLE)0x5E55)
#define CONSUMER_HANDLE ((TRACEHANDLE)0xC0115)
#define INVALID_TRACE ((TRACEHANDLE)~(ULONGLONG)0)
#define MAX_NAME 256

typedef struct {
  EVENT_HEADER header;
  BYTE *user;
  ULONG userLen;
  BYTE *schema;
  ULONG schemaLen;
} Recorded;

static Recorded *records;
static ULONG recordCount;
static LONG flags;
static volatile LONG sessionRunning;
static volatile LONG closed;
static volatile LONG processing;
static volatile LONG released;
static ULONG lostEvents, lostBuffers;
static WCHAR sessionName[MAX_NAME];
static EVENT_TRACE_LOGFILEW consumer;
static HANDLE closedEvent;
static GUID lastGuid;
static UCHAR lastLevel;
static ULONGLONG lastKeywords;
static volatile LONG nStart, nStop, nQuery, nEnable, nOpen, nProcess, nClose, nDelivered, nTdh;

static void freeRecords(void) {
  for (ULONG i = 0; i < recordCount; i++) {
    HeapFree(GetProcessHeap(), 0, records[i].user);
    HeapFree(GetProcessHeap(), 0, records[i].schema);
  }
  if (records) HeapFree(GetProcessHeap(), 0, records);
  records = NULL;
  recordCount = 0;
}

static BOOL readAll(HANDLE f, void *buf, DWORD n) {
  DWORD got = 0;
  return n == 0 || (ReadFile(f, buf, n, &got, NULL) && got == n);
}

static void *alloc(SIZE_T n) {
  return HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, n ? n : 1);
}

/* 0 on success, else a Win32 error (or ERROR_BAD_FORMAT for a malformed file). */
EXPORT ULONG WINAPI VigilEtwDoubleReset(LPCWSTR path, ULONG newFlags) {
  freeRecords();
  flags = (LONG)newFlags;
  sessionRunning = (newFlags & 1) ? 1 : 0;
  closed = 0;
  processing = 0;
  released = 0;
  lostEvents = lostBuffers = 0;
  sessionName[0] = 0;
  nStart = nStop = nQuery = nEnable = nOpen = nProcess = nClose = nDelivered = nTdh = 0;
  if (!closedEvent) closedEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  ResetEvent(closedEvent);
  if (!path || !path[0]) return 0;
  HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
  if (f == INVALID_HANDLE_VALUE) return GetLastError();
  ULONG head[3];
  ULONG rc = 0;
  if (!readAll(f, head, sizeof head) || memcmp(head, "VETW", 4) != 0 || head[1] != 1) {
    rc = ERROR_BAD_FORMAT;
  } else {
    records = alloc(sizeof(Recorded) * (head[2] ? head[2] : 1));
    for (ULONG i = 0; i < head[2] && rc == 0; i++) {
      ULONG lens[3];
      Recorded *r = &records[i];
      if (!readAll(f, lens, sizeof lens) || lens[0] != sizeof(EVENT_HEADER) || !readAll(f, &r->header, lens[0])) {
        rc = ERROR_BAD_FORMAT;
        break;
      }
      r->userLen = lens[1];
      r->schemaLen = lens[2];
      r->user = alloc(lens[1]);
      r->schema = alloc(lens[2]);
      recordCount = i + 1;
      if (!readAll(f, r->user, lens[1]) || !readAll(f, r->schema, lens[2])) rc = ERROR_BAD_FORMAT;
    }
  }
  CloseHandle(f);
  return rc;
}

EXPORT void WINAPI VigilEtwDoubleRelease(void) {
  released = 1;
}

EXPORT void WINAPI VigilEtwDoubleSetLost(ULONG events, ULONG buffers) {
  lostEvents = events;
  lostBuffers = buffers;
}

EXPORT ULONG WINAPI VigilEtwDoubleCount(LPCSTR name) {
  if (!strcmp(name, "start")) return (ULONG)nStart;
  if (!strcmp(name, "stop")) return (ULONG)nStop;
  if (!strcmp(name, "query")) return (ULONG)nQuery;
  if (!strcmp(name, "enable")) return (ULONG)nEnable;
  if (!strcmp(name, "open")) return (ULONG)nOpen;
  if (!strcmp(name, "process")) return (ULONG)nProcess;
  if (!strcmp(name, "close")) return (ULONG)nClose;
  if (!strcmp(name, "delivered")) return (ULONG)nDelivered;
  if (!strcmp(name, "tdh")) return (ULONG)nTdh;
  if (!strcmp(name, "running")) return (ULONG)sessionRunning;
  return 0xFFFFFFFFu;
}

EXPORT void WINAPI VigilEtwDoubleLastEnable(GUID *guid, ULONG *level, ULONGLONG *keywords) {
  *guid = lastGuid;
  *level = lastLevel;
  *keywords = lastKeywords;
}

static BOOL nameFits(PEVENT_TRACE_PROPERTIES p, LPCWSTR name) {
  return name && p && p->Wnode.BufferSize >= sizeof(EVENT_TRACE_PROPERTIES) + (wcslen(name) + 1) * sizeof(WCHAR);
}

EXPORT ULONG WINAPI StartTraceW(PTRACEHANDLE handle, LPCWSTR name, PEVENT_TRACE_PROPERTIES p) {
  InterlockedIncrement(&nStart);
  if (!handle || !nameFits(p, name) || wcslen(name) >= MAX_NAME) return ERROR_INVALID_PARAMETER;
  if (!(p->LogFileMode & EVENT_TRACE_REAL_TIME_MODE) || !(p->Wnode.Flags & WNODE_FLAG_TRACED_GUID)) return ERROR_INVALID_PARAMETER;
  if (flags & 4) return ERROR_ACCESS_DENIED;
  if (sessionRunning) return ERROR_ALREADY_EXISTS;
  sessionRunning = 1;
  wcscpy(sessionName, name);
  *handle = SESSION_HANDLE;
  return ERROR_SUCCESS;
}

EXPORT ULONG WINAPI ControlTraceW(TRACEHANDLE handle, LPCWSTR name, PEVENT_TRACE_PROPERTIES p, ULONG code) {
  if (!p || p->Wnode.BufferSize < sizeof(EVENT_TRACE_PROPERTIES)) return ERROR_INVALID_PARAMETER;
  if (handle != 0 && handle != SESSION_HANDLE) return ERROR_INVALID_HANDLE;
  if (handle == 0 && !name) return ERROR_INVALID_PARAMETER;
  if (code == EVENT_TRACE_CONTROL_STOP) {
    InterlockedIncrement(&nStop);
    if (!sessionRunning) return ERROR_WMI_INSTANCE_NOT_FOUND;
    p->EventsLost = lostEvents;
    p->RealTimeBuffersLost = lostBuffers;
    if (!(flags & 2)) sessionRunning = 0;
    return ERROR_SUCCESS;
  }
  if (code == EVENT_TRACE_CONTROL_QUERY) {
    InterlockedIncrement(&nQuery);
    if (!sessionRunning) return ERROR_WMI_INSTANCE_NOT_FOUND;
    p->EventsLost = lostEvents;
    p->RealTimeBuffersLost = lostBuffers;
    return ERROR_SUCCESS;
  }
  return ERROR_INVALID_PARAMETER;
}

EXPORT ULONG WINAPI EnableTraceEx2(TRACEHANDLE handle, LPCGUID provider, ULONG control, UCHAR level, ULONGLONG any, ULONGLONG all, ULONG timeout, PENABLE_TRACE_PARAMETERS params) {
  (void)all;
  (void)timeout;
  (void)params;
  InterlockedIncrement(&nEnable);
  if (handle != SESSION_HANDLE || !sessionRunning) return ERROR_INVALID_HANDLE;
  if (!provider || control != EVENT_CONTROL_CODE_ENABLE_PROVIDER) return ERROR_INVALID_PARAMETER;
  lastGuid = *provider;
  lastLevel = level;
  lastKeywords = any;
  return ERROR_SUCCESS;
}

EXPORT TRACEHANDLE WINAPI OpenTraceW(PEVENT_TRACE_LOGFILEW lf) {
  InterlockedIncrement(&nOpen);
  const ULONG want = PROCESS_TRACE_MODE_REAL_TIME | PROCESS_TRACE_MODE_EVENT_RECORD;
  if (!lf || !lf->LoggerName || !lf->EventRecordCallback || (lf->ProcessTraceMode & want) != want) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return INVALID_TRACE;
  }
  if (!sessionRunning || wcscmp(lf->LoggerName, sessionName) != 0) {
    SetLastError(ERROR_WMI_INSTANCE_NOT_FOUND);
    return INVALID_TRACE;
  }
  consumer = *lf;
  closed = 0;
  ResetEvent(closedEvent);
  return CONSUMER_HANDLE;
}

EXPORT ULONG WINAPI ProcessTrace(PTRACEHANDLE handles, ULONG count, LPFILETIME start, LPFILETIME end) {
  (void)start;
  (void)end;
  InterlockedIncrement(&nProcess);
  if (!handles || count != 1 || handles[0] != CONSUMER_HANDLE) return ERROR_INVALID_HANDLE;
  processing = 1;
  BOOL go = TRUE;
  for (ULONG i = 0; i < recordCount && go && !closed; i++) {
    EVENT_RECORD rec;
    memset(&rec, 0, sizeof rec);
    rec.EventHeader = records[i].header;
    rec.UserDataLength = (USHORT)records[i].userLen;
    rec.UserData = records[i].user;
    rec.UserContext = consumer.Context;
    consumer.EventRecordCallback(&rec);
    InterlockedIncrement(&nDelivered);
  }
  /* One buffer delivered: the consumer's BufferCallback may end processing (FALSE). */
  if (consumer.BufferCallback && !closed) go = consumer.BufferCallback(&consumer) != FALSE;
  while (go && !closed) WaitForSingleObject(closedEvent, 50);
  while ((flags & 8) && !released) Sleep(20);
  processing = 0;
  return go ? ERROR_SUCCESS : ERROR_CANCELLED;
}

EXPORT ULONG WINAPI CloseTrace(TRACEHANDLE handle) {
  InterlockedIncrement(&nClose);
  if (handle != CONSUMER_HANDLE) return ERROR_INVALID_HANDLE;
  closed = 1;
  SetEvent(closedEvent);
  /* As Windows does while ProcessTrace still has buffers to hand over. */
  return processing ? ERROR_CTX_CLOSE_PENDING : ERROR_SUCCESS;
}

EXPORT ULONG WINAPI TdhGetEventInformation(PEVENT_RECORD ev, ULONG nctx, PTDH_CONTEXT ctx, PTRACE_EVENT_INFO info, PULONG size) {
  (void)ctx;
  InterlockedIncrement(&nTdh);
  if (!ev || !size || nctx != 0) return ERROR_INVALID_PARAMETER;
  for (ULONG i = 0; i < recordCount; i++) {
    EVENT_HEADER *h = &records[i].header;
    if (memcmp(&h->ProviderId, &ev->EventHeader.ProviderId, sizeof(GUID)) != 0 || h->EventDescriptor.Id != ev->EventHeader.EventDescriptor.Id ||
        h->EventDescriptor.Version != ev->EventHeader.EventDescriptor.Version)
      continue;
    if (records[i].schemaLen == 0) return ERROR_NOT_FOUND;
    if (!info || *size < records[i].schemaLen) {
      *size = records[i].schemaLen;
      return ERROR_INSUFFICIENT_BUFFER;
    }
    memcpy(info, records[i].schema, records[i].schemaLen);
    *size = records[i].schemaLen;
    return ERROR_SUCCESS;
  }
  return ERROR_NOT_FOUND;
}
