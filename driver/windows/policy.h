/* The access-stripping decision and the policy lookups, as pure functions: no kernel headers,
 * so the same code is linked into the driver and unit-tested natively with gcc. */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stdint.h>
#include "../protocol/vigil_protocol.h"

/* The kernel's image file name (EPROCESS ImageFileName) keeps at most 15 characters. */
#define VIGIL_SHORT_NAME_CHARS 15

typedef struct vigil_access_query {
    uint32_t object_type;   /* VIGIL_OBJ_PROCESS or VIGIL_OBJ_THREAD */
    uint32_t desired;       /* the access the caller asked for */
    uint32_t target_mode;   /* VIGIL_MODE_* of the target (vigil_policy_target_mode) */
    int kernel_handle;      /* the handle is a kernel handle: never touched */
    int caller_is_target;   /* a process opening itself (or its own threads) */
    int caller_allowed;     /* the caller is on the allow-list */
} vigil_access_query;

typedef struct vigil_access_decision {
    uint32_t granted;       /* what the caller gets */
    uint32_t stripped;      /* what was removed (enforce only) */
    uint32_t would_strip;   /* what enforce removes: equals stripped in enforce, reported in monitor */
    int report;             /* queue a HANDLE_ACCESS record */
} vigil_access_decision;

/* Rights removed from handles to a protected object of this type. */
uint32_t vigil_strip_mask(uint32_t object_type);

/* The whole decision for one handle operation on a process or a thread. */
vigil_access_decision vigil_decide_access(const vigil_access_query *q);

/* The strongest mode of the protected entries matching the process (pid + creation time, or
 * the image name compared case-insensitively on its first 15 characters); VIGIL_MODE_NONE
 * when none matches. An entry whose mode is NONE takes the policy's default mode. */
uint32_t vigil_policy_target_mode(const VIGIL_POLICY *p, uint32_t pid, uint64_t create_time, const char *short_name);

/* Whether an allow-list entry matches the caller (same matching as above). */
int vigil_policy_caller_allowed(const VIGIL_POLICY *p, uint32_t pid, uint64_t create_time, const char *short_name);

/* Checks a policy sent by the agent: counts within bounds, known modes, names terminated,
 * pid entries with a creation time. Returns 0 when valid, else the 1-based entry (protected
 * entries first, then allow entries) or -1 for the header. */
int vigil_policy_validate(const VIGIL_POLICY *p);

#endif /* VIGIL_POLICY_H */
