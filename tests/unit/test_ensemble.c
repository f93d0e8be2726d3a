/* Tests of lib/ensemble: weights follow recent error, mixture intervals. */
#include <math.h>
#include <stdint.h>

#include "ensemble.h"
#include "error.h"
#include "tests/test.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_norm(uint64_t *s)
{
    double u1 = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

TC_TEST(ensemble_weights_follow_the_better_model)
{
    tc_ensemble_t e;
    CHECK_OK(tc_ensemble_init(&e, 3, 0.97));
    double w[3];
    CHECK_OK(tc_ensemble_weights(&e, NULL, w));
    CHECK_NEAR(w[0], 1.0 / 3, 1e-12); /* no history: equal */
    uint64_t rng = 9;
    /* Phase 1: model 0 has error sd 1, model 1 sd 3, model 2 sd 10. */
    for (int t = 0; t < 300; t++) {
        double y = 100 + 10 * sin(t / 5.0);
        double f[3] = {y + rng_norm(&rng), y + 3 * rng_norm(&rng), y + 10 * rng_norm(&rng)};
        CHECK_OK(tc_ensemble_observe(&e, f, y));
    }
    CHECK_OK(tc_ensemble_weights(&e, NULL, w));
    /* Inverse MSE: expected weights 1 : 1/9 : 1/100 -> 0.895, 0.0995, 0.009. */
    CHECK_MSG(w[0] > 0.8 && w[1] < 0.2 && w[2] < 0.03, "w = %g %g %g", w[0], w[1], w[2]);
    CHECK_NEAR(w[0] + w[1] + w[2], 1.0, 1e-12);
    /* Phase 2: model 0 breaks (sd 10), model 1 becomes best (sd 1). */
    for (int t = 0; t < 300; t++) {
        double y = 50;
        double f[3] = {y + 10 * rng_norm(&rng), y + rng_norm(&rng), y + 3 * rng_norm(&rng)};
        CHECK_OK(tc_ensemble_observe(&e, f, y));
    }
    CHECK_OK(tc_ensemble_weights(&e, NULL, w));
    CHECK_MSG(w[1] > 0.8 && w[0] < 0.03, "w = %g %g %g", w[0], w[1], w[2]);
    /* A combination of unbiased forecasts beats each one on constructed data. */
    double se_c = 0, se0 = 0, se1 = 0;
    for (int t = 0; t < 2000; t++) {
        double y = 10 * rng_norm(&rng);
        double f[3] = {y + 2 * rng_norm(&rng), y + 2 * rng_norm(&rng), NAN};
        double m, s;
        CHECK_OK(tc_ensemble_combine(&e, f, NULL, &m, &s));
        se_c += (y - m) * (y - m);
        se0 += (y - f[0]) * (y - f[0]);
        se1 += (y - f[1]) * (y - f[1]);
        CHECK_OK(tc_ensemble_observe(&e, f, y));
    }
    CHECK_MSG(se_c < se0 && se_c < se1, "combined %g vs %g, %g", se_c, se0, se1);
}

TC_TEST(ensemble_combination_mixture_interval)
{
    tc_ensemble_t e;
    CHECK_OK(tc_ensemble_init(&e, 2, 1.0));
    /* Constant errors: model 0 off by 1, model 1 off by 2 -> MSE 1 and 4,
     * weights 0.8 and 0.2. */
    for (int t = 0; t < 10; t++) {
        double f[2] = {11, 8};
        CHECK_OK(tc_ensemble_observe(&e, f, 10));
    }
    double mean[2] = {20, 30}, sd[2] = {1, 2}, m, s;
    CHECK_OK(tc_ensemble_combine(&e, mean, sd, &m, &s));
    CHECK_NEAR(m, 0.8 * 20 + 0.2 * 30, 1e-12);
    /* m = 22; mixture: 0.8 (1 + (20-22)^2) + 0.2 (4 + (30-22)^2) = 4 + 13.6 = 17.6 */
    CHECK_NEAR(s, sqrt(17.6), 1e-12);
    /* Without own intervals, sqrt(MSE) = 1 and 2 stand in: the same 17.6. */
    double nosd[2] = {NAN, NAN};
    CHECK_OK(tc_ensemble_combine(&e, mean, nosd, &m, &s));
    CHECK_NEAR(s, sqrt(17.6), 1e-12);
    /* One model missing: the other takes all the weight. */
    double one[2] = {NAN, 30};
    CHECK_OK(tc_ensemble_combine(&e, one, sd, &m, &s));
    CHECK_NEAR(m, 30, 1e-12);
    CHECK_NEAR(s, 2, 1e-12);
    double none[2] = {NAN, NAN};
    CHECK_INT_EQ(tc_ensemble_combine(&e, none, sd, &m, &s), TC_ENOTFOUND);
    CHECK(isnan(m));
    CHECK_INT_EQ(tc_ensemble_observe(&e, mean, NAN), TC_ENAN);
    CHECK_INT_EQ(tc_ensemble_init(&e, 0, 0.9), TC_EINVAL);
    CHECK_INT_EQ(tc_ensemble_init(&e, 2, 0.0), TC_EINVAL);
    /* A perfect model gets (nearly) all the weight, not an infinity. */
    CHECK_OK(tc_ensemble_init(&e, 2, 0.9));
    for (int t = 0; t < 5; t++) {
        double f[2] = {10, 12};
        CHECK_OK(tc_ensemble_observe(&e, f, 10));
    }
    double w[2];
    CHECK_OK(tc_ensemble_weights(&e, NULL, w));
    CHECK(w[0] > 0.999 && isfinite(w[0]) && w[1] >= 0);
}
