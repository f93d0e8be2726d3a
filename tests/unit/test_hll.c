/*
 * HyperLogLog: relative error against the exact distinct count within
 * 3 standard errors (1.04 / sqrt(m), Flajolet et al. 2007), small exact-ish
 * counts, and merge equal to the sketch of the union.
 */
#include <stdlib.h>

#include "error.h"
#include "hll.h"
#include "tests/test.h"

static void add_ids(tc_hll_t *h, long from, long to)
{
    char buf[32];
    for (long i = from; i < to; i++) {
        int n = snprintf(buf, sizeof(buf), "user-%ld", i);
        tc_hll_add_hash(h, tc_hll_hash(buf, (size_t)n, NULL));
    }
}

/* Relative error of the estimate for n distinct ids (each added 1.5 times). */
static double rel_error(unsigned p, long n, double *est)
{
    tc_hll_t *h = tc_hll_new(p);
    if (!h)
        return INFINITY;
    add_ids(h, 0, n);
    add_ids(h, 0, n / 2); /* duplicates must not count */
    *est = tc_hll_estimate(h);
    tc_hll_free(h);
    return fabs(*est - (double)n) / (double)n;
}

TC_TEST(hll_error_bound_1e5)
{
    for (unsigned p = 10; p <= 16; p += 2) {
        double est, rel = rel_error(p, 100000, &est), bound = 3.0 * 1.04 / sqrt(tc_hll_size(p));
        CHECK_MSG(rel <= bound, "p=%u estimate %.1f rel error %.4f > %.4f", p, est, rel, bound);
    }
}

TC_TEST(hll_error_bound_1e6)
{
    for (unsigned p = 12; p <= 16; p += 2) {
        double est, rel = rel_error(p, 1000000, &est), bound = 3.0 * 1.04 / sqrt(tc_hll_size(p));
        CHECK_MSG(rel <= bound, "p=%u estimate %.1f rel error %.4f > %.4f", p, est, rel, bound);
    }
}

TC_TEST(hll_small_and_transition_range)
{
    const long ns[] = {1, 2, 10, 100, 1000, 3000, 10000, 20000, 50000};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        tc_hll_t *h = tc_hll_new(12);
        CHECK(h != NULL);
        add_ids(h, 1000000 * (long)i, 1000000 * (long)i + ns[i]);
        double est = tc_hll_estimate(h);
        tc_hll_free(h);
        double tol = fmax(3.0 * 1.04 / 64.0 * (double)ns[i], 0.5);
        CHECK_NEAR(est, (double)ns[i], tol);
    }
    tc_hll_t *h = tc_hll_new(12);
    CHECK(h != NULL);
    CHECK_NEAR(tc_hll_estimate(h), 0.0, 0.0);
    tc_hll_free(h);
}

TC_TEST(hll_merge_equals_union)
{
    tc_hll_t *a = tc_hll_new(14), *b = tc_hll_new(14), *u = tc_hll_new(14), *c = tc_hll_new(12);
    CHECK(a && b && u && c);
    add_ids(a, 0, 60000);
    add_ids(b, 40000, 100000);
    add_ids(u, 0, 100000);
    CHECK_OK(tc_hll_merge(a, b));
    CHECK(memcmp(a->regs, u->regs, tc_hll_size(14)) == 0);
    CHECK_INT_EQ(tc_hll_merge(a, c), TC_EINVAL);
    CHECK_REL(tc_hll_estimate(a), 100000.0, 3 * 1.04 / 128.0);
    tc_hll_free(a);
    tc_hll_free(b);
    tc_hll_free(u);
    tc_hll_free(c);
}

TC_TEST(hll_init_rejects_bad_precision)
{
    uint8_t regs[16];
    tc_hll_t h;
    CHECK_INT_EQ(tc_hll_init(&h, 3, regs), TC_EINVAL);
    CHECK_INT_EQ(tc_hll_init(&h, 19, regs), TC_EINVAL);
    CHECK_OK(tc_hll_init(&h, 4, regs));
    CHECK(tc_hll_new(2) == NULL);
    tc_hll_free(NULL);
}

/* The histogram kept on add equals the one counted from the registers, and
 * both estimates agree exactly. */
TC_TEST(hll_tracked_histogram_matches_registers)
{
    tc_hll_t *h = tc_hll_new(10);
    CHECK(h != NULL);
    uint32_t tracked[TC_HLL_HIST_LEN] = {0}, counted[TC_HLL_HIST_LEN];
    tracked[0] = (uint32_t)tc_hll_size(10);
    char buf[32];
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(buf, sizeof(buf), "id%d", i % 30000);
        tc_hll_add_hash_tracked(h, tc_hll_hash(buf, (size_t)n, NULL), tracked);
    }
    tc_hll_histogram(h, counted);
    CHECK(memcmp(tracked, counted, sizeof(counted)) == 0);
    CHECK_NEAR(tc_hll_estimate_histogram(10, tracked), tc_hll_estimate(h), 0);
    tc_hll_free(h);
}
