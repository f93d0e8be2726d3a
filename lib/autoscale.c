/*
 * autoscale.c - the replica rule of autoscale.h: immediate scale-up to
 * ceil(peak / c), scale-down with a load margin (hysteresis) and an
 * event-time cooldown. The rule follows the target-tracking form of the
 * Kubernetes horizontal pod autoscaler (desired = ceil(load / target per
 * replica)) applied to a forecast bound instead of the current load, with
 * a stabilisation window for scaling down.
 */
#include "autoscale.h"

#include <math.h>
#include <stdio.h>

#include "error.h"

int tc_autoscale_config_check(const tc_autoscale_config_t *cfg)
{
    if (!(cfg->capacity_per_replica > 0) || !isfinite(cfg->capacity_per_replica) ||
        cfg->min_replicas < 1 || cfg->max_replicas < cfg->min_replicas ||
        !(cfg->down_margin >= 0 && cfg->down_margin < 1) || cfg->cooldown_ms < 0)
        return TC_EINVAL;
    return 0;
}

void tc_autoscale_init(tc_autoscale_t *st, const tc_autoscale_config_t *cfg)
{
    st->replicas = cfg->min_replicas;
    st->changed_once = false;
    st->last_change_ms = 0;
}

/* Replicas for a load at a per-replica capacity, clamped to [min, max]. */
static unsigned needed(const tc_autoscale_config_t *cfg, double load, double cap)
{
    double n = ceil(load / cap);
    if (!(n >= cfg->min_replicas))
        return cfg->min_replicas;
    if (n >= cfg->max_replicas)
        return cfg->max_replicas;
    return (unsigned)n;
}

int tc_autoscale_decide(const tc_autoscale_config_t *cfg, tc_autoscale_t *st, int64_t origin_ms,
                        const double *upper, size_t horizon, const char *bound_name,
                        tc_autoscale_decision_t *out)
{
    if (!cfg || !st || !out || (!upper && horizon) || tc_autoscale_config_check(cfg))
        return TC_EINVAL;
    if (!bound_name)
        bound_name = "upper";
    out->change = false;
    out->previous = out->recommended = st->replicas;
    out->peak = NAN;
    out->at_h = 0;
    for (size_t h = 0; h < horizon; h++)
        if (isfinite(upper[h]) && (out->at_h == 0 || upper[h] > out->peak)) {
            out->peak = upper[h];
            out->at_h = (unsigned)h + 1;
        }
    if (out->at_h == 0) {
        snprintf(out->reason, sizeof(out->reason), "no finite %s forecast: keep %u", bound_name,
                 st->replicas);
        return TC_ENOTFOUND;
    }
    double c = cfg->capacity_per_replica;
    unsigned up = needed(cfg, out->peak, c);
    unsigned down = needed(cfg, out->peak, c * (1 - cfg->down_margin));
    unsigned n = st->replicas;
    bool cooled = !st->changed_once || origin_ms - st->last_change_ms >= cfg->cooldown_ms;
    if (up > n) {
        out->recommended = up;
        snprintf(out->reason, sizeof(out->reason),
                 "%s forecast %.6g at h=%u exceeds %u x %.6g: scale up to %u", bound_name,
                 out->peak, out->at_h, n, c, up);
    } else if (down < n && cooled) {
        out->recommended = down;
        snprintf(out->reason, sizeof(out->reason),
                 "%s forecast peak %.6g (h=%u) fits %u x %.6g with %.0f%% headroom: scale down "
                 "from %u",
                 bound_name, out->peak, out->at_h, down, c, 100 * cfg->down_margin, n);
    } else if (down < n) {
        snprintf(out->reason, sizeof(out->reason),
                 "%s forecast peak %.6g (h=%u) would fit %u replicas; cooldown: keep %u",
                 bound_name, out->peak, out->at_h, down, n);
    } else {
        snprintf(out->reason, sizeof(out->reason),
                 "%s forecast peak %.6g (h=%u) within %u x %.6g: keep %u", bound_name, out->peak,
                 out->at_h, n, c, n);
    }
    if (out->recommended != n) {
        out->change = true;
        st->replicas = out->recommended;
        st->changed_once = true;
        st->last_change_ms = origin_ms;
    }
    return 0;
}
