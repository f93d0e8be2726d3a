/*
 * ensemble.c - inverse discounted-MSE weighting of forecasters and the
 * mixture interval (equations in ensemble.h; Bates & Granger 1969,
 * "The combination of forecasts"; Stock & Watson 2004, "Combination
 * forecasts of output growth in a seven-country data set").
 *
 * Inverse MSE rather than Hedge: it needs no learning-rate tuned to the
 * series' scale, and for unbiased forecasts with independent errors it is
 * the variance-minimising combination.
 */
#include "ensemble.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"

int tc_ensemble_init(tc_ensemble_t *e, int n_models, double lambda)
{
    if (!e || n_models < 1 || n_models > TC_ENSEMBLE_MAX_MODELS || !(lambda > 0 && lambda <= 1))
        return TC_EINVAL;
    memset(e, 0, sizeof(*e));
    e->n_models = n_models;
    e->lambda = lambda;
    return 0;
}

int tc_ensemble_observe(tc_ensemble_t *e, const double *forecast, double y)
{
    if (!e || !forecast) return TC_EINVAL;
    if (!isfinite(y)) return TC_ENAN;
    for (int i = 0; i < e->n_models; i++) {
        if (!isfinite(forecast[i])) continue;
        double err = y - forecast[i];
        e->sse[i] = e->lambda * e->sse[i] + err * err;
        e->wsum[i] = e->lambda * e->wsum[i] + 1.0;
        e->n[i]++;
    }
    return 0;
}

static double model_mse(const tc_ensemble_t *e, int i) { return e->sse[i] / e->wsum[i]; }

int tc_ensemble_weights(const tc_ensemble_t *e, const double *available, double *w)
{
    if (!e || !w) return TC_EINVAL;
    double worst = -1;
    int navail = 0;
    for (int i = 0; i < e->n_models; i++) {
        w[i] = 0;
        if (available && !isfinite(available[i])) continue;
        navail++;
        if (e->n[i] == 0) continue;
        double m = model_mse(e, i);
        if (m > worst) worst = m;
    }
    if (navail == 0) return TC_ENOTFOUND;
    /* A perfect model (MSE 0) would take an infinite weight: floor MSE at a
     * tiny share of the worst one so that the weights stay finite. */
    double floor_ = worst > 0 ? 1e-12 * worst : 1.0;
    double sum = 0;
    for (int i = 0; i < e->n_models; i++) {
        if (available && !isfinite(available[i])) continue;
        double m = worst < 0 ? 1.0 : (e->n[i] == 0 ? worst : model_mse(e, i));
        if (m < floor_) m = floor_;
        w[i] = 1.0 / m;
        sum += w[i];
    }
    for (int i = 0; i < e->n_models; i++) w[i] /= sum;
    return 0;
}

int tc_ensemble_combine(const tc_ensemble_t *e, const double *mean, const double *sd, double *mean_out,
                        double *sd_out)
{
    if (mean_out) *mean_out = NAN;
    if (sd_out) *sd_out = NAN;
    if (!e || !mean) return TC_EINVAL;
    double w[TC_ENSEMBLE_MAX_MODELS];
    int rc = tc_ensemble_weights(e, mean, w);
    if (rc) return rc;
    double m = 0;
    for (int i = 0; i < e->n_models; i++)
        if (w[i] > 0) m += w[i] * mean[i];
    double var = 0;
    bool have_var = true;
    for (int i = 0; i < e->n_models; i++) {
        if (!(w[i] > 0)) continue;
        double si = sd ? sd[i] : NAN;
        if (!isfinite(si)) si = e->n[i] ? sqrt(model_mse(e, i)) : NAN;
        if (!isfinite(si)) have_var = false;
        var += w[i] * (si * si + (mean[i] - m) * (mean[i] - m));
    }
    if (mean_out) *mean_out = m;
    if (sd_out) *sd_out = have_var ? sqrt(var) : NAN;
    return 0;
}
