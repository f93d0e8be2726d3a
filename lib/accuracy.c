/*
 * accuracy.c - online accuracy accumulators (see accuracy.h for the
 * definitions).  The variance of y for R^2 uses West's (1979) weighted
 * update of the mean and the sum of squared deviations, which stays
 * accurate for series with a large level and small spread, and gives
 * exponentially weighted moments when earlier weights decay by rho.
 * MASE follows Hyndman & Koehler (2006) with the seasonal naive scale.
 */
#include <math.h>

#include "accuracy.h"

void tc_accuracy_init(tc_accuracy_t *a, double scale, double rho)
{
    a->scale = scale;
    a->rho = rho > 0.0 && rho <= 1.0 ? rho : 1.0;
    a->w = a->sum_abs = a->sum_sq = a->sum_smape = 0.0;
    a->mean_y = a->m2_y = 0.0;
    a->w_int = a->w_cov = 0.0;
}

int tc_accuracy_add(tc_accuracy_t *a, double y, double yhat)
{
    if (!isfinite(y) || !isfinite(yhat))
        return -1;
    double rho = a->rho, e = y - yhat;
    a->w = rho * a->w + 1.0;
    a->sum_abs = rho * a->sum_abs + fabs(e);
    a->sum_sq = rho * a->sum_sq + e * e;
    double den = fabs(y) + fabs(yhat);
    a->sum_smape = rho * a->sum_smape + (den > 0.0 ? 2.0 * fabs(e) / den : 0.0);
    double d = y - a->mean_y;
    a->mean_y += d / a->w;
    a->m2_y = rho * a->m2_y + d * (y - a->mean_y);
    a->w_int *= rho;
    a->w_cov *= rho;
    return 0;
}

int tc_accuracy_add_interval(tc_accuracy_t *a, double y, double yhat, double lo, double hi)
{
    if (tc_accuracy_add(a, y, yhat))
        return -1;
    if (!isnan(lo) && !isnan(hi)) {
        a->w_int += 1.0;
        if (y >= lo && y <= hi)
            a->w_cov += 1.0;
    }
    return 0;
}

void tc_accuracy_get(const tc_accuracy_t *a, tc_accuracy_report_t *r)
{
    r->n = a->w;
    if (!(a->w > 0.0)) {
        r->mae = r->rmse = r->mase = r->smape = r->r2 = r->coverage = NAN;
        return;
    }
    r->mae = a->sum_abs / a->w;
    r->rmse = sqrt(a->sum_sq / a->w);
    r->mase = a->scale > 0.0 ? r->mae / a->scale : NAN;
    r->smape = 100.0 * a->sum_smape / a->w;
    r->r2 = a->m2_y > 0.0 ? 1.0 - a->sum_sq / a->m2_y : NAN;
    r->coverage = a->w_int > 0.0 ? a->w_cov / a->w_int : NAN;
}

double tc_accuracy_mase_scale(const double *y, size_t n, int m)
{
    if (m < 1)
        return NAN;
    double s = 0.0;
    size_t c = 0;
    for (size_t t = (size_t)m; t < n; t++) {
        double d = y[t] - y[t - (size_t)m];
        if (isfinite(d)) {
            s += fabs(d);
            c++;
        }
    }
    return c ? s / (double)c : NAN;
}
