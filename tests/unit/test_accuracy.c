/* Tests of lib/accuracy against hand-computed values. */
#include <math.h>

#include "accuracy.h"
#include "error.h"
#include "tests/test.h"

TC_TEST(accuracy_small_sample_by_hand)
{
    tc_accuracy_t a;
    tc_accuracy_init(&a, 0.25, 1.0);
    double y[] = {1, 2, 3, 4}, f[] = {1, 3, 2, 4};
    for (int i = 0; i < 4; i++)
        CHECK_INT_EQ(tc_accuracy_add_interval(&a, y[i], f[i], f[i] - 0.5, f[i] + 0.5), 0);
    CHECK_INT_EQ(tc_accuracy_add(&a, NAN, 1.0), -1);
    tc_accuracy_report_t r;
    tc_accuracy_get(&a, &r);
    CHECK_NEAR(r.n, 4, 0);
    CHECK_NEAR(r.mae, 0.5, 1e-15);
    CHECK_NEAR(r.mase, 2.0, 1e-15);
    CHECK_NEAR(r.rmse, sqrt(0.5), 1e-15);
    CHECK_NEAR(r.smape, 100.0 * (2.0 / 5.0 + 2.0 / 5.0) / 4.0, 1e-12);
    CHECK_NEAR(r.r2, 1.0 - 2.0 / 5.0, 1e-15); /* SST = 2.25+.25+.25+2.25 */
    CHECK_NEAR(r.coverage, 0.5, 1e-15);
    /* a zero pair counts 0 in sMAPE */
    tc_accuracy_init(&a, NAN, 1.0);
    tc_accuracy_add(&a, 0.0, 0.0);
    tc_accuracy_add(&a, 1.0, 3.0);
    tc_accuracy_get(&a, &r);
    CHECK_NEAR(r.smape, 100.0 * (0.0 + 1.0) / 2.0, 1e-12);
    CHECK(isnan(r.mase));
    CHECK(isnan(r.coverage));
}

TC_TEST(accuracy_forgetting_factor_matches_weighted_sums)
{
    double rho = 0.9;
    tc_accuracy_t a;
    tc_accuracy_init(&a, 1.0, rho);
    double y[50], f[50];
    for (int i = 0; i < 50; i++) {
        y[i] = 1000.0 + sin(i * 0.7) * 3.0;
        f[i] = 1000.0 + cos(i * 0.3);
        tc_accuracy_add(&a, y[i], f[i]);
    }
    /* weights rho^(49-i), computed directly */
    double W = 0, sa = 0, sq = 0, sy = 0;
    for (int i = 0; i < 50; i++) {
        double w = pow(rho, 49 - i);
        W += w;
        sa += w * fabs(y[i] - f[i]);
        sq += w * (y[i] - f[i]) * (y[i] - f[i]);
        sy += w * y[i];
    }
    double my = sy / W, sst = 0;
    for (int i = 0; i < 50; i++)
        sst += pow(rho, 49 - i) * (y[i] - my) * (y[i] - my);
    tc_accuracy_report_t r;
    tc_accuracy_get(&a, &r);
    CHECK_NEAR(r.n, W, 1e-12);
    CHECK_NEAR(r.mae, sa / W, 1e-12);
    CHECK_NEAR(r.rmse, sqrt(sq / W), 1e-12);
    CHECK_NEAR(r.r2, 1.0 - sq / sst, 1e-9);
}

TC_TEST(accuracy_mase_scale)
{
    double y[] = {1, 2, 4, 7, NAN, 16};
    /* lag 2 pairs: |4-1|, |7-2|, NaN, |16-7| */
    CHECK_NEAR(tc_accuracy_mase_scale(y, 6, 2), (3.0 + 5.0 + 9.0) / 3.0, 1e-15);
    CHECK(isnan(tc_accuracy_mase_scale(y, 2, 2)));
    CHECK(isnan(tc_accuracy_mase_scale(y, 6, 0)));
}
