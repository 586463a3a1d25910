/* Native unit test of the pure policy code (policy.c), built and run with gcc on Linux by
 * test/driver/policy.test.ts. Prints one line per failed case and "N cases, F failed". */
#include <stdio.h>
#include <string.h>
#include "../policy.h"

#define P_TERMINATE 0x0001u
#define P_CREATE_THREAD 0x0002u
#define P_VM_OPERATION 0x0008u
#define P_VM_READ 0x0010u
#define P_VM_WRITE 0x0020u
#define P_DUP_HANDLE 0x0040u
#define P_QUERY_INFORMATION 0x0400u
#define P_SUSPEND_RESUME 0x0800u
#define P_QUERY_LIMITED 0x1000u
#define P_ALL 0x1FFFFFu
#define SYNCHRONIZE_ 0x00100000u
#define T_TERMINATE 0x0001u
#define T_SUSPEND_RESUME 0x0002u
#define T_GET_CONTEXT 0x0008u
#define T_SET_CONTEXT 0x0010u
#define T_QUERY_LIMITED 0x0800u

enum caller { UNTRUSTED, ALLOWED, SELF, KERNEL };

struct row {
    const char *what;
    uint32_t object_type;
    uint32_t desired;
    enum caller caller;
    uint32_t mode;
    uint32_t granted, stripped, would_strip;
    int report;
};

static const struct row rows[] = {
    /* mode none: a process nobody protects is never touched nor reported */
    {"unprotected all", VIGIL_OBJ_PROCESS, P_ALL, UNTRUSTED, VIGIL_MODE_NONE, P_ALL, 0, 0, 0},
    /* monitor: reported with what enforce would strip, nothing stripped */
    {"monitor all", VIGIL_OBJ_PROCESS, P_ALL, UNTRUSTED, VIGIL_MODE_MONITOR, P_ALL, 0, VIGIL_PROCESS_STRIP_MASK, 1},
    {"monitor vm_write", VIGIL_OBJ_PROCESS, P_VM_WRITE | P_VM_OPERATION, UNTRUSTED, VIGIL_MODE_MONITOR, P_VM_WRITE | P_VM_OPERATION, 0, P_VM_WRITE | P_VM_OPERATION, 1},
    {"monitor query only", VIGIL_OBJ_PROCESS, P_QUERY_LIMITED | SYNCHRONIZE_, UNTRUSTED, VIGIL_MODE_MONITOR, P_QUERY_LIMITED | SYNCHRONIZE_, 0, 0, 0},
    /* enforce: the dangerous rights go, the rest stay */
    {"enforce all", VIGIL_OBJ_PROCESS, P_ALL, UNTRUSTED, VIGIL_MODE_ENFORCE, P_ALL & ~VIGIL_PROCESS_STRIP_MASK, VIGIL_PROCESS_STRIP_MASK, VIGIL_PROCESS_STRIP_MASK, 1},
    {"enforce vm_read|query", VIGIL_OBJ_PROCESS, P_VM_READ | P_QUERY_INFORMATION, UNTRUSTED, VIGIL_MODE_ENFORCE, P_QUERY_INFORMATION, P_VM_READ, P_VM_READ, 1},
    {"enforce create_thread", VIGIL_OBJ_PROCESS, P_CREATE_THREAD | P_VM_OPERATION | P_VM_WRITE, UNTRUSTED, VIGIL_MODE_ENFORCE, 0, P_CREATE_THREAD | P_VM_OPERATION | P_VM_WRITE, P_CREATE_THREAD | P_VM_OPERATION | P_VM_WRITE, 1},
    {"enforce terminate", VIGIL_OBJ_PROCESS, P_TERMINATE | SYNCHRONIZE_, UNTRUSTED, VIGIL_MODE_ENFORCE, SYNCHRONIZE_, P_TERMINATE, P_TERMINATE, 1},
    {"enforce suspend", VIGIL_OBJ_PROCESS, P_SUSPEND_RESUME, UNTRUSTED, VIGIL_MODE_ENFORCE, 0, P_SUSPEND_RESUME, P_SUSPEND_RESUME, 1},
    {"enforce dup_handle", VIGIL_OBJ_PROCESS, P_DUP_HANDLE | P_QUERY_LIMITED, UNTRUSTED, VIGIL_MODE_ENFORCE, P_QUERY_LIMITED, P_DUP_HANDLE, P_DUP_HANDLE, 1},
    {"enforce query only", VIGIL_OBJ_PROCESS, P_QUERY_LIMITED, UNTRUSTED, VIGIL_MODE_ENFORCE, P_QUERY_LIMITED, 0, 0, 0},
    /* the allow-list, the process itself and kernel handles are untouched in every mode */
    {"allowed enforce", VIGIL_OBJ_PROCESS, P_ALL, ALLOWED, VIGIL_MODE_ENFORCE, P_ALL, 0, 0, 0},
    {"allowed monitor", VIGIL_OBJ_PROCESS, P_ALL, ALLOWED, VIGIL_MODE_MONITOR, P_ALL, 0, 0, 0},
    {"self enforce", VIGIL_OBJ_PROCESS, P_ALL, SELF, VIGIL_MODE_ENFORCE, P_ALL, 0, 0, 0},
    {"kernel enforce", VIGIL_OBJ_PROCESS, P_ALL, KERNEL, VIGIL_MODE_ENFORCE, P_ALL, 0, 0, 0},
    {"kernel monitor", VIGIL_OBJ_PROCESS, P_ALL, KERNEL, VIGIL_MODE_MONITOR, P_ALL, 0, 0, 0},
    {"kernel thread", VIGIL_OBJ_THREAD, 0x1FFFFFu, KERNEL, VIGIL_MODE_ENFORCE, 0x1FFFFFu, 0, 0, 0},
    /* threads of a protected process */
    {"thread enforce set_context", VIGIL_OBJ_THREAD, T_SET_CONTEXT | T_GET_CONTEXT | T_SUSPEND_RESUME, UNTRUSTED, VIGIL_MODE_ENFORCE, T_GET_CONTEXT, T_SET_CONTEXT | T_SUSPEND_RESUME, T_SET_CONTEXT | T_SUSPEND_RESUME, 1},
    {"thread enforce terminate", VIGIL_OBJ_THREAD, T_TERMINATE | T_QUERY_LIMITED, UNTRUSTED, VIGIL_MODE_ENFORCE, T_QUERY_LIMITED, T_TERMINATE, T_TERMINATE, 1},
    {"thread monitor", VIGIL_OBJ_THREAD, T_SET_CONTEXT, UNTRUSTED, VIGIL_MODE_MONITOR, T_SET_CONTEXT, 0, T_SET_CONTEXT, 1},
    {"thread query only", VIGIL_OBJ_THREAD, T_QUERY_LIMITED | T_GET_CONTEXT, UNTRUSTED, VIGIL_MODE_ENFORCE, T_QUERY_LIMITED | T_GET_CONTEXT, 0, 0, 0},
    {"thread allowed", VIGIL_OBJ_THREAD, 0x1FFFFFu, ALLOWED, VIGIL_MODE_ENFORCE, 0x1FFFFFu, 0, 0, 0},
    {"unknown object", 9, P_ALL, UNTRUSTED, VIGIL_MODE_ENFORCE, P_ALL, 0, 0, 0},
    {"unknown mode", VIGIL_OBJ_PROCESS, P_ALL, UNTRUSTED, 7, P_ALL, 0, 0, 0},
};

static int failed = 0, cases = 0;

static void expect(int cond, const char *what, const char *detail) {
    cases++;
    if (!cond) {
        failed++;
        printf("FAIL %s: %s\n", what, detail);
    }
}

static void set_name(VIGIL_POLICY_ENTRY *e, const char *s) {
    memset(e->name, 0, sizeof e->name);
    for (unsigned i = 0; s[i] && i < VIGIL_NAME_CHARS - 1; i++) e->name[i] = (uint16_t)(unsigned char)s[i];
}

int main(void) {
    unsigned i;
    char buf[200];
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        vigil_access_query q;
        q.object_type = r->object_type;
        q.desired = r->desired;
        q.target_mode = r->mode;
        q.kernel_handle = r->caller == KERNEL;
        q.caller_is_target = r->caller == SELF;
        q.caller_allowed = r->caller == ALLOWED;
        vigil_access_decision d = vigil_decide_access(&q);
        snprintf(buf, sizeof buf, "granted %#x stripped %#x would %#x report %d; want %#x %#x %#x %d", d.granted, d.stripped, d.would_strip, d.report, r->granted, r->stripped, r->would_strip, r->report);
        expect(d.granted == r->granted && d.stripped == r->stripped && d.would_strip == r->would_strip && d.report == r->report, r->what, buf);
        expect((d.granted | d.stripped) == r->desired && (d.granted & d.stripped) == 0, r->what, "granted and stripped partition the request");
    }

    /* Policy matching: pid + creation time, names on their first 15 characters, modes. */
    VIGIL_POLICY p;
    memset(&p, 0, sizeof p);
    p.default_mode = VIGIL_MODE_MONITOR;
    p.protected_count = 3;
    set_name(&p.protected[0], "LSASS.exe");
    p.protected[0].mode = VIGIL_MODE_ENFORCE;
    p.protected[1].pid = 1200;
    p.protected[1].create_time = 133000000000000000ull;
    set_name(&p.protected[2], "averyveryverylongname.exe");
    p.allow_count = 2;
    set_name(&p.allow[0], "MsMpEng.exe");
    p.allow[1].pid = 640;
    p.allow[1].create_time = 5;
    expect(vigil_policy_validate(&p) == 0, "policy valid", "validate");
    expect(vigil_policy_target_mode(&p, 700, 1, "lsass.exe") == VIGIL_MODE_ENFORCE, "name case-insensitive", "lsass");
    expect(vigil_policy_target_mode(&p, 700, 1, "lsass.exe2") == VIGIL_MODE_NONE, "name exact", "lsass.exe2");
    expect(vigil_policy_target_mode(&p, 700, 1, "lsass") == VIGIL_MODE_NONE, "name prefix not enough", "lsass");
    expect(vigil_policy_target_mode(&p, 1200, 133000000000000000ull, "x.exe") == VIGIL_MODE_MONITOR, "pid + time, default mode", "1200");
    expect(vigil_policy_target_mode(&p, 1200, 133000000000000001ull, "x.exe") == VIGIL_MODE_NONE, "reused pid is not protected", "1200 later");
    expect(vigil_policy_target_mode(&p, 9, 1, "averyveryverylo") == VIGIL_MODE_MONITOR, "15-char kernel name", "long");
    expect(vigil_policy_target_mode(&p, 9, 1, 0) == VIGIL_MODE_NONE, "no name", "null");
    p.protected[1].mode = VIGIL_MODE_ENFORCE;
    set_name(&p.protected[1], "");
    expect(vigil_policy_target_mode(&p, 1200, 133000000000000000ull, "lsass.exe") == VIGIL_MODE_ENFORCE, "strongest mode wins", "both");
    expect(vigil_policy_caller_allowed(&p, 1, 1, "msmpeng.exe") == 1, "allow by name", "msmpeng");
    expect(vigil_policy_caller_allowed(&p, 640, 5, "evil.exe") == 1, "allow by pid + time", "640");
    expect(vigil_policy_caller_allowed(&p, 640, 6, "evil.exe") == 0, "allow needs the same time", "640 reused");
    expect(vigil_policy_caller_allowed(&p, 641, 5, "evil.exe") == 0, "other caller", "641");

    /* Validation refuses what the driver cannot use safely. */
    VIGIL_POLICY bad = p;
    bad.protected_count = VIGIL_MAX_POLICY_ENTRIES + 1;
    expect(vigil_policy_validate(&bad) == -1, "too many entries", "count");
    bad = p;
    bad.default_mode = 3;
    expect(vigil_policy_validate(&bad) == -1, "bad default mode", "mode");
    bad = p;
    bad.protected[2].mode = 9;
    expect(vigil_policy_validate(&bad) == 3, "bad entry mode", "entry 3");
    bad = p;
    for (i = 0; i < VIGIL_NAME_CHARS; i++) bad.allow[0].name[i] = 'a';
    expect(vigil_policy_validate(&bad) == 4, "unterminated name", "allow 1");
    bad = p;
    bad.allow[1].create_time = 0;
    expect(vigil_policy_validate(&bad) == 5, "pid without creation time", "allow 2");
    bad = p;
    memset(&bad.protected[0], 0, sizeof bad.protected[0]);
    expect(vigil_policy_validate(&bad) == 1, "empty entry", "protected 1");

    printf("%d cases, %d failed\n", cases, failed);
    return failed ? 1 : 0;
}
