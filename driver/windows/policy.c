/* Pure policy code shared by the driver and the native unit test (see policy.h). */
#include "policy.h"

uint32_t vigil_strip_mask(uint32_t object_type) {
    if (object_type == VIGIL_OBJ_PROCESS) return VIGIL_PROCESS_STRIP_MASK;
    if (object_type == VIGIL_OBJ_THREAD) return VIGIL_THREAD_STRIP_MASK;
    return 0;
}

vigil_access_decision vigil_decide_access(const vigil_access_query *q) {
    vigil_access_decision d;
    uint32_t sensitive = q->desired & vigil_strip_mask(q->object_type);
    d.granted = q->desired;
    d.stripped = 0;
    d.would_strip = 0;
    d.report = 0;
    /* Kernel handles belong to drivers and the system: touching them breaks Windows. */
    if (q->kernel_handle) return d;
    if (q->target_mode != VIGIL_MODE_MONITOR && q->target_mode != VIGIL_MODE_ENFORCE) return d;
    /* A process always has full access to itself; nothing to audit either. */
    if (q->caller_is_target) return d;
    /* Query-only handles are the bulk of all opens and harmless. */
    if (sensitive == 0) return d;
    if (q->caller_allowed) return d;
    d.would_strip = sensitive;
    d.report = 1;
    if (q->target_mode == VIGIL_MODE_ENFORCE) {
        d.granted = q->desired & ~sensitive;
        d.stripped = sensitive;
    }
    return d;
}

static char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Entry name (UTF-16, ASCII compared) against the kernel's short image name. */
static int name_matches(const uint16_t *name, const char *short_name) {
    unsigned i;
    if (short_name == 0 || name[0] == 0) return 0;
    for (i = 0; i < VIGIL_SHORT_NAME_CHARS; i++) {
        uint16_t a = name[i];
        char b = short_name[i];
        if (a > 0x7f) return 0;
        if (lower((char)a) != lower(b)) return 0;
        if (a == 0) return 1;
    }
    return 1; /* the first 15 characters agree: all the kernel keeps */
}

static int entry_matches(const VIGIL_POLICY_ENTRY *e, uint32_t pid, uint64_t create_time, const char *short_name) {
    if (e->pid != 0) return e->pid == pid && e->create_time == create_time;
    return name_matches(e->name, short_name);
}

uint32_t vigil_policy_target_mode(const VIGIL_POLICY *p, uint32_t pid, uint64_t create_time, const char *short_name) {
    uint32_t best = VIGIL_MODE_NONE;
    uint32_t i;
    for (i = 0; i < p->protected_count && i < VIGIL_MAX_POLICY_ENTRIES; i++) {
        const VIGIL_POLICY_ENTRY *e = &p->protected[i];
        if (!entry_matches(e, pid, create_time, short_name)) continue;
        uint32_t m = e->mode == VIGIL_MODE_NONE ? p->default_mode : e->mode;
        if (m > best) best = m;
    }
    return best;
}

int vigil_policy_caller_allowed(const VIGIL_POLICY *p, uint32_t pid, uint64_t create_time, const char *short_name) {
    uint32_t i;
    for (i = 0; i < p->allow_count && i < VIGIL_MAX_POLICY_ENTRIES; i++)
        if (entry_matches(&p->allow[i], pid, create_time, short_name)) return 1;
    return 0;
}

static int entry_valid(const VIGIL_POLICY_ENTRY *e) {
    unsigned i;
    int terminated = 0;
    if (e->mode > VIGIL_MODE_ENFORCE) return 0;
    for (i = 0; i < VIGIL_NAME_CHARS; i++)
        if (e->name[i] == 0) { terminated = 1; break; }
    if (!terminated) return 0;
    if (e->pid != 0) return e->create_time != 0;
    return e->name[0] != 0;
}

int vigil_policy_validate(const VIGIL_POLICY *p) {
    uint32_t i;
    if (p->default_mode > VIGIL_MODE_ENFORCE) return -1;
    if (p->protected_count > VIGIL_MAX_POLICY_ENTRIES || p->allow_count > VIGIL_MAX_POLICY_ENTRIES) return -1;
    for (i = 0; i < p->protected_count; i++)
        if (!entry_valid(&p->protected[i])) return (int)i + 1;
    for (i = 0; i < p->allow_count; i++)
        if (!entry_valid(&p->allow[i])) return (int)(p->protected_count + i + 1);
    return 0;
}
