/* Test double of wevtapi.dll for the Sysmon sensor's tests under Wine (Wine's own wevtapi only
 * stubs EvtSubscribe / EvtNext and aborts in EvtRender). It serves the events of a real .evtx
 * file, pre-extracted on the Linux side into a small binary file (test/windows/sysmon-fixture.ts
 * writes it with Vigil's EVTX parser), through the calls the sensor makes: EvtSubscribe (pull
 * model: the signal event is set while events are available), EvtQuery, EvtNext, EvtRender
 * (values with the two-call buffer sizing, XML, bookmark XML), EvtCreateRenderContext (system,
 * user, and XPaths of the form Event/EventData/Data[@Name='X']), bookmarks by record id,
 * EvtClose and EvtGetExtendedStatus. Scaffolding only: production always loads the system DLL.
 *
 * Controlled by environment variables, read at each call (GetEnvironmentVariableW sees what the
 * test sets in its own process):
 *   VIGIL_WEVTAPI_EVENTS     the extracted events file (required)
 *   VIGIL_WEVTAPI_CHANNEL    the one channel that exists (default Microsoft-Windows-Sysmon/Operational)
 *   VIGIL_WEVTAPI_FAIL       access_denied: EvtSubscribe / EvtQuery fail with ERROR_ACCESS_DENIED
 *   VIGIL_WEVTAPI_MAX_BATCH  EvtNext asked for more events than this fails with RPC_S_INVALID_BOUND
 *   VIGIL_WEVTAPI_LIMIT      only the first N events are in the log (more appear when it grows)
 *
 * File format (little endian): "VGWEVT1\0", u32 count, then per record: u64 record id,
 * u32 xml bytes + UTF-16LE xml, 18 system values, u32 data count, per data: u32 name bytes +
 * UTF-16LE name, value. A value is u32 type, u32 count, u32 bytes, payload (strings without NUL).
 */
#include <windows.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#define EXPORT __declspec(dllexport)
#define NSYS 18
#define ERR_CHANNEL_NOT_FOUND 15007
#define ERR_INVALID_BOUND 1734
#define ERR_NO_MORE_ITEMS 259
#define VT_NULL 0
#define VT_STRING 1
#define VT_GUID 15
#define VT_SYSTIME 18
#define VT_SID 19
#define VT_BINARY 14

typedef HANDLE EVT_HANDLE;

typedef struct {
  uint32_t type, count, bytes;
  const uint8_t *data;
} Val;

typedef struct {
  uint64_t id;
  const uint8_t *xml;
  uint32_t xmlBytes;
  Val sys[NSYS];
  uint32_t ndata;
  const uint8_t **names;
  uint32_t *nameBytes;
  Val *data;
} Rec;

enum { K_SUB = 1, K_EVENT, K_CTX, K_BOOKMARK };

typedef struct Sub {
  int kind;
  volatile LONG closed;
  uint32_t next;
  HANDLE signal;
  HANDLE thread;
} Sub;

typedef struct {
  int kind;
  uint32_t index;
} Event;

typedef struct {
  int kind;
  uint32_t flags; /* 0 values (XPaths), 1 system, 2 user */
  uint32_t n;
  WCHAR **names; /* values: the Data name each XPath selects, NULL when none */
} Ctx;

typedef struct {
  int kind;
  int has;
  uint64_t id;
} Bookmark;

static Rec *recs;
static uint32_t nrecs;
static volatile LONG loaded;
static CRITICAL_SECTION lock;
static WCHAR lastStatus[256];

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int envIs(const WCHAR *name, const WCHAR *value) {
  WCHAR buf[64];
  DWORD n = GetEnvironmentVariableW(name, buf, 64);
  return n > 0 && n < 64 && wcscmp(buf, value) == 0;
}

static uint32_t envNum(const WCHAR *name, uint32_t dflt) {
  WCHAR buf[32];
  DWORD n = GetEnvironmentVariableW(name, buf, 32);
  if (n == 0 || n >= 32) return dflt;
  return (uint32_t)wcstoul(buf, NULL, 10);
}

static uint32_t available(void) {
  uint32_t lim = envNum(L"VIGIL_WEVTAPI_LIMIT", nrecs);
  return lim < nrecs ? lim : nrecs;
}

static void status(const WCHAR *msg) { lstrcpynW(lastStatus, msg, 256); }

static const uint8_t *readVal(const uint8_t *p, const uint8_t *end, Val *v) {
  if (p + 12 > end) return NULL;
  v->type = rd32(p);
  v->count = rd32(p + 4);
  v->bytes = rd32(p + 8);
  v->data = p + 12;
  if (v->data + v->bytes > end) return NULL;
  return v->data + v->bytes;
}

/* The events file, read once; FALSE (error set) when it is missing or malformed. */
static BOOL load(void) {
  if (!loaded) {
  EnterCriticalSection(&lock);
  if (!loaded) {
    WCHAR path[MAX_PATH];
    DWORD n = GetEnvironmentVariableW(L"VIGIL_WEVTAPI_EVENTS", path, MAX_PATH);
    HANDLE f = n > 0 && n < MAX_PATH ? CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL) : INVALID_HANDLE_VALUE;
    if (f != INVALID_HANDLE_VALUE) {
      DWORD size = GetFileSize(f, NULL), got = 0;
      uint8_t *buf = HeapAlloc(GetProcessHeap(), 0, size ? size : 1);
      if (buf && ReadFile(f, buf, size, &got, NULL) && got == size && size >= 12 && memcmp(buf, "VGWEVT1", 8) == 0) {
        const uint8_t *p = buf + 12, *end = buf + size;
        uint32_t count = rd32(buf + 8);
        Rec *r = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(Rec) * (count ? count : 1));
        uint32_t i;
        for (i = 0; r && i < count && p; i++) {
          Rec *x = &r[i];
          uint32_t j;
          if (p + 12 > end) { p = NULL; break; }
          x->id = rd64(p);
          x->xmlBytes = rd32(p + 8);
          x->xml = p + 12;
          p = x->xml + x->xmlBytes;
          for (j = 0; j < NSYS && p; j++) p = readVal(p, end, &x->sys[j]);
          if (!p || p + 4 > end) { p = NULL; break; }
          x->ndata = rd32(p);
          p += 4;
          x->names = HeapAlloc(GetProcessHeap(), 0, sizeof(void *) * (x->ndata + 1));
          x->nameBytes = HeapAlloc(GetProcessHeap(), 0, sizeof(uint32_t) * (x->ndata + 1));
          x->data = HeapAlloc(GetProcessHeap(), 0, sizeof(Val) * (x->ndata + 1));
          for (j = 0; j < x->ndata && p; j++) {
            if (p + 4 > end) { p = NULL; break; }
            x->nameBytes[j] = rd32(p);
            x->names[j] = p + 4;
            p = readVal(p + 4 + x->nameBytes[j], end, &x->data[j]);
          }
        }
        if (p && r) {
          recs = r;
          nrecs = count;
        }
      }
      CloseHandle(f);
    }
    loaded = 1;
  }
  LeaveCriticalSection(&lock);
  }
  if (!recs) {
    status(L"test double: VIGIL_WEVTAPI_EVENTS is not a readable events file");
    SetLastError(ERROR_FILE_NOT_FOUND);
    return FALSE;
  }
  return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved) {
  (void)inst;
  (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) InitializeCriticalSection(&lock);
  return TRUE;
}

/* Sets the subscription's signal event while events it has not read are in the log. */
static DWORD WINAPI watcher(LPVOID arg) {
  Sub *s = arg;
  while (!s->closed) {
    if (s->next < available()) SetEvent(s->signal);
    Sleep(10);
  }
  return 0;
}

/* Channel checks and injected failures shared by EvtSubscribe and EvtQuery. */
static BOOL admit(const WCHAR *channel) {
  WCHAR want[256];
  DWORD n;
  if (!load()) return FALSE;
  if (envIs(L"VIGIL_WEVTAPI_FAIL", L"access_denied")) {
    status(L"test double: access denied (injected)");
    SetLastError(ERROR_ACCESS_DENIED);
    return FALSE;
  }
  if (channel) {
    n = GetEnvironmentVariableW(L"VIGIL_WEVTAPI_CHANNEL", want, 256);
    if (n == 0 || n >= 256) lstrcpyW(want, L"Microsoft-Windows-Sysmon/Operational");
    if (lstrcmpiW(channel, want) != 0) {
      status(L"test double: no such channel");
      SetLastError(ERR_CHANNEL_NOT_FOUND);
      return FALSE;
    }
  }
  status(L"");
  return TRUE;
}

static uint32_t afterBookmark(Bookmark *b) {
  uint32_t i;
  if (!b || !b->has) return 0;
  for (i = 0; i < nrecs; i++) if (recs[i].id > b->id) return i;
  return nrecs;
}

EXPORT EVT_HANDLE WINAPI EvtSubscribe(EVT_HANDLE session, HANDLE signal, LPCWSTR channel, LPCWSTR query, EVT_HANDLE bookmark, PVOID context, PVOID callback, DWORD flags) {
  Sub *s;
  (void)session;
  (void)query;
  (void)context;
  if (callback || !signal) {
    SetLastError(ERROR_INVALID_PARAMETER); /* the double serves the pull model only */
    return NULL;
  }
  if (!admit(channel)) return NULL;
  s = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(Sub));
  s->kind = K_SUB;
  s->signal = signal;
  switch (flags & 0xf) {
    case 1: s->next = available(); break;                     /* EvtSubscribeToFutureEvents */
    case 2: s->next = 0; break;                               /* EvtSubscribeStartAtOldestRecord */
    case 3: s->next = afterBookmark((Bookmark *)bookmark); break; /* EvtSubscribeStartAfterBookmark */
    default: HeapFree(GetProcessHeap(), 0, s); SetLastError(ERROR_INVALID_PARAMETER); return NULL;
  }
  s->thread = CreateThread(NULL, 0, watcher, s, 0, NULL);
  return s;
}

EXPORT EVT_HANDLE WINAPI EvtQuery(EVT_HANDLE session, LPCWSTR path, LPCWSTR query, DWORD flags) {
  Sub *s;
  (void)session;
  (void)query;
  if (!admit((flags & 1) ? path : NULL)) return NULL;
  if ((flags & 2) && GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES) {
    status(L"test double: no such file");
    SetLastError(ERROR_FILE_NOT_FOUND);
    return NULL;
  }
  s = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(Sub));
  s->kind = K_SUB;
  return s;
}

EXPORT BOOL WINAPI EvtNext(EVT_HANDLE rs, DWORD count, EVT_HANDLE *events, DWORD timeout, DWORD flags, DWORD *returned) {
  Sub *s = rs;
  uint32_t avail, n, i, max = envNum(L"VIGIL_WEVTAPI_MAX_BATCH", 0);
  (void)timeout;
  (void)flags;
  *returned = 0;
  if (!s || s->kind != K_SUB) { SetLastError(ERROR_INVALID_HANDLE); return FALSE; }
  if (max > 0 && count > max) {
    status(L"test double: batch larger than VIGIL_WEVTAPI_MAX_BATCH");
    SetLastError(ERR_INVALID_BOUND);
    return FALSE;
  }
  avail = s->signal ? available() : nrecs;
  n = avail > s->next ? avail - s->next : 0;
  if (n > count) n = count;
  if (n == 0) { SetLastError(ERR_NO_MORE_ITEMS); return FALSE; }
  for (i = 0; i < n; i++) {
    Event *e = HeapAlloc(GetProcessHeap(), 0, sizeof(Event));
    e->kind = K_EVENT;
    e->index = s->next + i;
    events[i] = e;
  }
  s->next += n;
  *returned = n;
  return TRUE;
}

/* The Data name an XPath `Event/EventData/Data[@Name='X']` selects; NULL for anything else. */
static WCHAR *dataName(const WCHAR *path) {
  const WCHAR *p = wcsstr(path, L"Data[@Name='"), *q;
  WCHAR *out;
  if (!p) return NULL;
  p += 12;
  q = wcschr(p, L'\'');
  if (!q) return NULL;
  out = HeapAlloc(GetProcessHeap(), 0, sizeof(WCHAR) * (q - p + 1));
  memcpy(out, p, sizeof(WCHAR) * (q - p));
  out[q - p] = 0;
  return out;
}

EXPORT EVT_HANDLE WINAPI EvtCreateRenderContext(DWORD count, LPCWSTR *paths, DWORD flags) {
  Ctx *c = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(Ctx));
  uint32_t i;
  c->kind = K_CTX;
  c->flags = flags;
  if (flags == 0) {
    c->n = count;
    c->names = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(WCHAR *) * (count + 1));
    for (i = 0; i < count; i++) c->names[i] = dataName(paths[i]);
  }
  return c;
}

EXPORT EVT_HANDLE WINAPI EvtCreateBookmark(LPCWSTR xml) {
  Bookmark *b = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(Bookmark));
  b->kind = K_BOOKMARK;
  if (xml) {
    const WCHAR *p = wcsstr(xml, L"RecordId='");
    if (!p) {
      HeapFree(GetProcessHeap(), 0, b);
      SetLastError(ERROR_INVALID_PARAMETER);
      return NULL;
    }
    b->has = 1;
    b->id = _wcstoui64(p + 10, NULL, 10);
  }
  return b;
}

EXPORT BOOL WINAPI EvtUpdateBookmark(EVT_HANDLE bookmark, EVT_HANDLE event) {
  Bookmark *b = bookmark;
  Event *e = event;
  if (!b || b->kind != K_BOOKMARK || !e || e->kind != K_EVENT) { SetLastError(ERROR_INVALID_HANDLE); return FALSE; }
  b->has = 1;
  b->id = recs[e->index].id;
  return TRUE;
}

static const Val *lookup(const Rec *r, const WCHAR *name) {
  uint32_t i, bytes = (uint32_t)(wcslen(name) * 2);
  for (i = 0; i < r->ndata; i++) if (r->nameBytes[i] == bytes && memcmp(r->names[i], name, bytes) == 0) return &r->data[i];
  return NULL;
}

static uint32_t payloadSize(const Val *v) {
  if (!v) return 0;
  if (v->type == VT_STRING) return (v->bytes + 2 + 7) & ~7u;
  if (v->type == VT_GUID || v->type == VT_SYSTIME || v->type == VT_SID || v->type == VT_BINARY) return (v->bytes + 7) & ~7u;
  return 0;
}

/* One EVT_VARIANT (16 bytes: value or pointer, Count at 8, Type at 12); payload at *tail. */
static void putVal(uint8_t *var, uint8_t **tail, const Val *v) {
  uint32_t type = v ? v->type : VT_NULL, count = v ? v->count : 0;
  memset(var, 0, 16);
  if (v && type != VT_NULL) {
    uint32_t size = payloadSize(v);
    if (size > 0) {
      uint8_t *p = *tail;
      memset(p, 0, size);
      memcpy(p, v->data, v->bytes);
      memcpy(var, &p, sizeof(p));
      *tail += size;
    } else {
      memcpy(var, v->data, v->bytes > 8 ? 8 : v->bytes);
    }
  }
  memcpy(var + 8, &count, 4);
  memcpy(var + 12, &type, 4);
}

EXPORT BOOL WINAPI EvtRender(EVT_HANDLE context, EVT_HANDLE fragment, DWORD flags, DWORD size, PVOID buffer, DWORD *used, DWORD *props) {
  *used = 0;
  if (props) *props = 0;
  if (flags == 2) { /* EvtRenderBookmark */
    Bookmark *b = fragment;
    WCHAR xml[256];
    DWORD need;
    if (!b || b->kind != K_BOOKMARK) { SetLastError(ERROR_INVALID_HANDLE); return FALSE; }
    wsprintfW(xml, L"<BookmarkList>\r\n  <Bookmark Channel='Microsoft-Windows-Sysmon/Operational' RecordId='%I64u' IsCurrent='true'/>\r\n</BookmarkList>", b->id);
    need = (DWORD)(wcslen(xml) + 1) * 2;
    *used = need;
    if (size < need || !buffer) { SetLastError(ERROR_INSUFFICIENT_BUFFER); return FALSE; }
    memcpy(buffer, xml, need);
    return TRUE;
  }
  {
    Event *e = fragment;
    const Rec *r;
    if (!e || e->kind != K_EVENT) { SetLastError(ERROR_INVALID_HANDLE); return FALSE; }
    r = &recs[e->index];
    if (flags == 1) { /* EvtRenderEventXml */
      DWORD need = r->xmlBytes + 2;
      *used = need;
      if (size < need || !buffer) { SetLastError(ERROR_INSUFFICIENT_BUFFER); return FALSE; }
      memcpy(buffer, r->xml, r->xmlBytes);
      ((uint8_t *)buffer)[r->xmlBytes] = 0;
      ((uint8_t *)buffer)[r->xmlBytes + 1] = 0;
      return TRUE;
    }
    if (flags == 0) { /* EvtRenderEventValues */
      Ctx *c = context;
      uint32_t n, i, need;
      const Val **vals;
      uint8_t *tail;
      if (!c || c->kind != K_CTX) { SetLastError(ERROR_INVALID_HANDLE); return FALSE; }
      n = c->flags == 1 ? NSYS : c->flags == 2 ? r->ndata : c->n;
      vals = HeapAlloc(GetProcessHeap(), 0, sizeof(Val *) * (n + 1));
      for (i = 0; i < n; i++) vals[i] = c->flags == 1 ? &r->sys[i] : c->flags == 2 ? &r->data[i] : (c->names[i] ? lookup(r, c->names[i]) : NULL);
      need = n * 16;
      for (i = 0; i < n; i++) need += payloadSize(vals[i]);
      *used = need;
      if (size < need || !buffer) {
        HeapFree(GetProcessHeap(), 0, vals);
        SetLastError(ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
      }
      tail = (uint8_t *)buffer + n * 16;
      for (i = 0; i < n; i++) putVal((uint8_t *)buffer + i * 16, &tail, vals[i]);
      HeapFree(GetProcessHeap(), 0, vals);
      if (props) *props = n;
      return TRUE;
    }
  }
  SetLastError(ERROR_INVALID_PARAMETER);
  return FALSE;
}

EXPORT BOOL WINAPI EvtClose(EVT_HANDLE h) {
  int kind = h ? *(int *)h : 0;
  if (kind == K_SUB) {
    Sub *s = h;
    InterlockedExchange(&s->closed, 1);
    if (s->thread) {
      WaitForSingleObject(s->thread, INFINITE);
      CloseHandle(s->thread);
    }
  } else if (kind == K_CTX) {
    Ctx *c = h;
    uint32_t i;
    for (i = 0; c->names && i < c->n; i++) if (c->names[i]) HeapFree(GetProcessHeap(), 0, c->names[i]);
    if (c->names) HeapFree(GetProcessHeap(), 0, c->names);
  } else if (kind != K_EVENT && kind != K_BOOKMARK) {
    SetLastError(ERROR_INVALID_HANDLE);
    return FALSE;
  }
  HeapFree(GetProcessHeap(), 0, h);
  return TRUE;
}

EXPORT DWORD WINAPI EvtGetExtendedStatus(DWORD size, LPWSTR buffer, DWORD *used) {
  DWORD need = (DWORD)wcslen(lastStatus) + 1;
  *used = need;
  if (size < need || !buffer) return ERROR_INSUFFICIENT_BUFFER;
  memcpy(buffer, lastStatus, need * 2);
  return ERROR_SUCCESS;
}
