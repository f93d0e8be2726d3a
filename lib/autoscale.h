/*
 * autoscale.h - replica recommendations from forecast upper bounds.
 *
 * For one series with a capacity c per replica (in the forecast metric's
 * units per bucket) and bounds [min, max] on the replica count n:
 *
 *   peak  = max over h = 1..H of the upper forecast bound u_h (non-finite
 *           bounds are skipped), at_h its first arg-max;
 *   up    = clamp(ceil(peak / c), min, max): replicas needed at full load;
 *   down  = clamp(ceil(peak / (c (1 - m))), min, max): replicas needed when
 *           each may be loaded only to (1 - m) of c, m = down_margin.
 *
 *   if up > n:                       scale up to `up` at once;
 *   else if down < n and the last change is at least cooldown_ms of event
 *        time before this origin:    scale down to `down`;
 *   else:                            keep n.
 *
 * Scaling up is immediate because under-provisioning costs requests;
 * scaling down needs both the margin (hysteresis: a load that just crossed
 * a replica boundary does not flip the count back and forth) and the
 * cooldown. The state is plain data (no pointers), one per series, so it is
 * copied into checkpoints as is. Deterministic: event time only.
 */
#ifndef TC_AUTOSCALE_H
#define TC_AUTOSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tc_autoscale_config {
    double capacity_per_replica; /* > 0, metric units per bucket */
    unsigned min_replicas;       /* >= 1 */
    unsigned max_replicas;       /* >= min_replicas */
    double down_margin;          /* in [0, 1): headroom required to scale down */
    int64_t cooldown_ms;         /* >= 0: event time between two changes downwards */
} tc_autoscale_config_t;

/* Per-series state. */
typedef struct tc_autoscale {
    unsigned replicas;       /* current recommendation */
    bool changed_once;       /* a change has been made */
    int64_t last_change_ms;  /* origin of the last change (valid if changed_once) */
} tc_autoscale_t;

/* A decision for one forecast origin. */
typedef struct tc_autoscale_decision {
    bool change;             /* recommended != previous */
    unsigned previous;       /* replicas before the decision */
    unsigned recommended;
    double peak;             /* the upper bound that drove it; NAN if none */
    unsigned at_h;           /* its step (1-based), 0 if none */
    char reason[192];        /* human-readable, always set */
} tc_autoscale_decision_t;

/* Returns 0 or TC_EINVAL if cfg is out of range. */
int tc_autoscale_config_check(const tc_autoscale_config_t *cfg);

/* Starts a series at min_replicas. */
void tc_autoscale_init(tc_autoscale_t *st, const tc_autoscale_config_t *cfg);

/*
 * Decides for the forecast made at origin_ms with upper bounds
 * upper[0..horizon) (upper[h-1] for step h). bound_name ("p95", "p80")
 * only labels the reason. Updates st when the count changes. Returns 0;
 * TC_EINVAL (bad arguments); TC_ENOTFOUND when no bound is finite (st
 * unchanged, out->change false).
 */
int tc_autoscale_decide(const tc_autoscale_config_t *cfg, tc_autoscale_t *st, int64_t origin_ms,
                        const double *upper, size_t horizon, const char *bound_name,
                        tc_autoscale_decision_t *out);

#endif
