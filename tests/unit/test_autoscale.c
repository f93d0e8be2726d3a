/* Tests of the autoscaling rule (lib/autoscale.c) against hand-computed counts. */
#include <math.h>

#include "autoscale.h"
#include "error.h"
#include "tests/test.h"

static const tc_autoscale_config_t cfg = {
    .capacity_per_replica = 100, .min_replicas = 2, .max_replicas = 10,
    .down_margin = 0.2, .cooldown_ms = 15 * 60000};

TC_TEST(autoscale_scales_up_at_once_to_the_peak_need)
{
    tc_autoscale_t st;
    tc_autoscale_decision_t d;
    tc_autoscale_init(&st, &cfg);
    CHECK_INT_EQ(st.replicas, 2);
    /* Peak 420 at h = 2: ceil(420 / 100) = 5. */
    const double u[] = {250, 420, 300, NAN};
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 0, u, 4, "p95", &d));
    CHECK(d.change);
    CHECK_INT_EQ(d.previous, 2);
    CHECK_INT_EQ(d.recommended, 5);
    CHECK_INT_EQ(d.at_h, 2);
    CHECK_NEAR(d.peak, 420, 0);
    CHECK_STR_EQ(d.reason, "p95 forecast 420 at h=2 exceeds 2 x 100: scale up to 5");
    /* Right after, more load: up again despite the cooldown (up is never delayed). */
    const double u2[] = {610};
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 60000, u2, 1, "p95", &d));
    CHECK_INT_EQ(d.recommended, 7);
    /* Clamped to max. */
    const double u3[] = {5000};
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 120000, u3, 1, "p95", &d));
    CHECK_INT_EQ(d.recommended, 10);
}

TC_TEST(autoscale_scales_down_with_margin_and_cooldown)
{
    tc_autoscale_t st;
    tc_autoscale_decision_t d;
    tc_autoscale_init(&st, &cfg);
    const double hi[] = {800};
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 0, hi, 1, "p95", &d));
    CHECK_INT_EQ(st.replicas, 8);
    /* 5 minutes later the peak is 390: 4 would do at full load, but at 80%
     * load ceil(390 / 80) = 5; the cooldown (15 min) still holds: keep 8. */
    const double lo[] = {390};
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 5 * 60000, lo, 1, "p95", &d));
    CHECK(!d.change);
    CHECK_INT_EQ(d.recommended, 8);
    /* After the cooldown: down to 5, not 4 (the margin). */
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 15 * 60000, lo, 1, "p95", &d));
    CHECK(d.change);
    CHECK_INT_EQ(d.recommended, 5);
    /* Hysteresis: a peak of 410 needs 5 at full load; at 80% ceil(410/80) = 6 > 5,
     * so no change either way. */
    const double mid[] = {410};
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 60 * 60000, mid, 1, "p95", &d));
    CHECK(!d.change);
    CHECK_INT_EQ(st.replicas, 5);
    /* Never below min. */
    const double zero[] = {0};
    CHECK_OK(tc_autoscale_decide(&cfg, &st, 120 * 60000, zero, 1, "p95", &d));
    CHECK_INT_EQ(d.recommended, 2);
}

TC_TEST(autoscale_rejects_bad_input)
{
    tc_autoscale_t st;
    tc_autoscale_decision_t d;
    tc_autoscale_init(&st, &cfg);
    const double none[] = {NAN, INFINITY};
    CHECK_INT_EQ(tc_autoscale_decide(&cfg, &st, 0, none, 2, "p95", &d), TC_ENOTFOUND);
    CHECK(!d.change);
    tc_autoscale_config_t bad = cfg;
    bad.down_margin = 1;
    CHECK_INT_EQ(tc_autoscale_config_check(&bad), TC_EINVAL);
    bad = cfg;
    bad.max_replicas = 1;
    CHECK_INT_EQ(tc_autoscale_decide(&bad, &st, 0, none, 2, "p95", &d), TC_EINVAL);
}
