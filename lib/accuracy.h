/*
 * accuracy.h - online forecast-accuracy accumulators.
 *
 * One tc_accuracy_t per (series, model, horizon set): add (y, yhat) pairs
 * as the truth arrives, read MAE, RMSE, MASE, sMAPE, R^2 and interval
 * coverage at any time.  O(1) memory and time per pair, no allocation.
 * With a forgetting factor rho < 1 every earlier pair's weight is
 * multiplied by rho at each new pair (exponentially weighted metrics, for
 * the ensemble's recent-error weights); rho = 1 gives the plain means.
 *
 * Definitions (e = y - yhat, means weighted as above):
 *   MAE = mean|e|, RMSE = sqrt(mean e^2), MASE = MAE / scale,
 *   sMAPE = 100 mean(2|e| / (|y| + |yhat|)), a term with |y|+|yhat| = 0
 *   counting 0, R^2 = 1 - sum e^2 / sum (y - mean y)^2,
 *   coverage = share of pairs given with an interval whose y lies inside.
 * Units: MAE and RMSE in the series' units, sMAPE in percent.
 * Not thread-safe; one writer at a time.
 */
#ifndef TC_ACCURACY_H
#define TC_ACCURACY_H

#include <stddef.h>

typedef struct tc_accuracy {
    double scale; /* MASE denominator (in-sample seasonal naive MAE); NAN: unknown */
    double rho;   /* forgetting factor in (0, 1] */
    double w;     /* total weight of the pairs */
    double sum_abs, sum_sq, sum_smape;
    double mean_y, m2_y; /* weighted Welford moments of y */
    double w_int, w_cov; /* weight of pairs with an interval, of those covered */
} tc_accuracy_t;

typedef struct tc_accuracy_report {
    double n; /* effective number of pairs (their total weight) */
    double mae, rmse, mase, smape, r2, coverage; /* NAN when undefined */
} tc_accuracy_report_t;

/* Initialises a; scale may be NAN; rho outside (0, 1] means 1. */
void tc_accuracy_init(tc_accuracy_t *a, double scale, double rho);

/* Adds one pair; pairs with a non-finite y or yhat are ignored (returns -1 then, 0 otherwise). */
int tc_accuracy_add(tc_accuracy_t *a, double y, double yhat);

/* As tc_accuracy_add and also counts whether y lies in [lo, hi]. */
int tc_accuracy_add_interval(tc_accuracy_t *a, double y, double yhat, double lo, double hi);

void tc_accuracy_get(const tc_accuracy_t *a, tc_accuracy_report_t *r);

/*
 * MASE scale of a training sample: mean |y[t] - y[t-m]| for t = m..n-1
 * over finite pairs (m >= 1); NAN if there is no such pair.
 */
double tc_accuracy_mase_scale(const double *y, size_t n, int m);

#endif
