/*
 * ensemble.h - per-series combination of several forecasters (seasonal
 * naive, SARIMA, LSTM, ...) with weights that follow their recent error.
 *
 * Weights are inverse exponentially weighted mean squared one-step errors
 * (Bates & Granger 1969, with discounting as in Stock & Watson 2004):
 *     S_i <- lambda S_i + e_i^2,   W_i <- lambda W_i + 1,   MSE_i = S_i / W_i
 *     w_i = (1 / MSE_i) / sum_j (1 / MSE_j)   over the models with a forecast.
 * The combined forecast is the mixture mean  m = sum_i w_i m_i  and its spread
 * the mixture deviation  sd^2 = sum_i w_i (sd_i^2 + (m_i - m)^2), where a
 * model without its own interval (sd_i NaN) stands in with sqrt(MSE_i).
 *
 * A tc_ensemble_t is caller-allocated, one per series, plain data (no
 * pointers: it may be copied or checkpointed as bytes); no allocation.
 * Units: forecasts and observations in series units.
 */
#ifndef TC_ENSEMBLE_H
#define TC_ENSEMBLE_H

#include <stdint.h>

#define TC_ENSEMBLE_MAX_MODELS 8

typedef struct tc_ensemble {
    int n_models;
    double lambda;                          /* discount per observation, (0, 1] */
    double sse[TC_ENSEMBLE_MAX_MODELS];     /* discounted sum of squared errors */
    double wsum[TC_ENSEMBLE_MAX_MODELS];    /* discounted count of errors */
    uint64_t n[TC_ENSEMBLE_MAX_MODELS];     /* errors seen */
} tc_ensemble_t;

/* Sets up e for n_models (1..TC_ENSEMBLE_MAX_MODELS) forecasters with
 * discount lambda in (0, 1] (1 = plain running MSE; 0.97 forgets with a
 * half-life of about 23 observations). Returns 0 or TC_EINVAL. */
int tc_ensemble_init(tc_ensemble_t *e, int n_models, double lambda);

/* Records the outcome y of one bucket against the forecasts the models had
 * made for it (forecast[i] NaN = model i had none; its record is unchanged).
 * Returns 0, TC_EINVAL, or TC_ENAN when y is not finite (nothing recorded). */
int tc_ensemble_observe(tc_ensemble_t *e, const double *forecast, double y);

/* Current weights over the models whose entry in `available` is finite
 * (available may be NULL = all). A model without error history yet gets the
 * weight of the worst model with history (all equal when none has any).
 * w[i] = 0 for unavailable models. Returns 0, TC_EINVAL, or TC_ENOTFOUND
 * when no model is available. */
int tc_ensemble_weights(const tc_ensemble_t *e, const double *available, double *w);

/* Combines the models' forecasts of one bucket: mean[i] (NaN = none) and
 * sd[i] (NaN = none; sd may be NULL) into *mean_out and *sd_out (either may be
 * NULL). Returns 0, TC_EINVAL or TC_ENOTFOUND (no model has a forecast;
 * outputs NaN). */
int tc_ensemble_combine(const tc_ensemble_t *e, const double *mean, const double *sd, double *mean_out,
                        double *sd_out);

#endif
