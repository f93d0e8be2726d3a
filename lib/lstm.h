/*
 * lstm.h - one global LSTM forecaster per metric, trained online across many
 * series, with a Gaussian output head (mean and log-variance) for intervals.
 *
 * Model (DeepAR-style, Salinas et al. 2020): the weights are shared by every
 * series of the metric; each series owns its recurrent state, its running
 * scaler and a short window of past inputs. Series are addressed by a slot
 * number 0..max_series-1 that the caller assigns (the daemon maps series keys
 * to slots and reuses a slot after tc_lstm_series_reset()).
 *
 * Time: every series advances one bucket per tc_lstm_step() call that names
 * it. Several series are stepped together in one call (the series whose
 * bucket closed in the same tick); their forward and backward passes are
 * batched matrix products. A slot that was never stepped, or was reset,
 * starts from zero state on its first step (a series appearing mid-stream).
 *
 * Units: values y are in the series' own units (requests per bucket, ...);
 * forecasts come back in the same units. Times are ms since the Unix epoch,
 * UTC, and name the START of a bucket.
 *
 * Threads: a tc_lstm_t is not thread-safe; one thread at a time may call
 * any function on it (the daemon's loop thread, or one worker job).
 * tc_lstm_new() sets OpenBLAS to one thread (FACTS.md: more threads were
 * never faster for these shapes).
 */
#ifndef TC_LSTM_H
#define TC_LSTM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TC_LSTM_MAX_LAYERS 2
#define TC_LSTM_MAX_EXOG 64
#define TC_LSTM_MAX_BPTT 64
#define TC_LSTM_MAX_SEASON 1024
#define TC_LSTM_MAX_HORIZON 1024

typedef struct tc_lstm tc_lstm_t;

typedef struct tc_lstm_config {
    int layers;        /* 1 or 2 stacked LSTM layers */
    int hidden;        /* hidden units per layer, 16..128, a multiple of 8 */
    int n_exog;        /* exogenous features per step, 0..TC_LSTM_MAX_EXOG */
    int season;        /* seasonal lag input in buckets (24 for hourly data); 0 = none */
    int bptt;          /* truncation k of backpropagation through time, 1..64 */
    int max_series;    /* slots 0..max_series-1 (per-series memory is allocated up front) */
    int max_batch;     /* most series in one tc_lstm_step()/tc_lstm_forecast() call */
    int max_horizon;   /* most steps ahead one tc_lstm_forecast() call returns */
    float lr;          /* Adam step size (0 freezes the weights) */
    float beta1;       /* Adam first-moment decay */
    float beta2;       /* Adam second-moment decay */
    float adam_eps;    /* Adam denominator guard */
    float clip;        /* global gradient-norm clip; 0 = none */
    float scale_alpha; /* weight of the newest value in each series' running mean/variance */
    int64_t bucket_ms; /* bucket length, ms (calendar features of future buckets) */
    uint64_t seed;     /* weight initialisation; equal seeds and inputs give equal results */
} tc_lstm_config_t;

/* Fills cfg with defaults: 1 layer, hidden 32, no exog, season 24, bptt 8,
 * 1024 series, batch 1024, horizon 24, Adam(1e-3, 0.9, 0.999, 1e-8),
 * clip 5, scale_alpha 1/168 (one week of hours), bucket 1 h, seed 1. */
void tc_lstm_config_default(tc_lstm_config_t *cfg);

/* Allocates a model with freshly initialised weights and all slots empty.
 * All memory (weights, optimiser state, per-series state, batch workspaces)
 * is allocated here; step and forecast allocate nothing.
 * Returns 0, TC_EINVAL (a config field out of range) or TC_ENOMEM. */
int tc_lstm_new(const tc_lstm_config_t *cfg, tc_lstm_t **out);

/* Frees everything; NULL is a no-op. */
void tc_lstm_free(tc_lstm_t *m);

/* The configuration the model was built with (owned by m). */
const tc_lstm_config_t *tc_lstm_config(const tc_lstm_t *m);

/* Advances n series by one bucket each and trains on what they observed.
 *   slots[i]  slot of the i-th series; all distinct, 0 <= slot < max_series.
 *   t_ms[i]   start of the bucket that just closed for series i.
 *   y[i]      its value; NaN or +-inf = missing (no training signal, the
 *             model's own forecast stands in as the input).
 *   exog      n x n_exog row-major: the feature vector active for series i
 *             during the NEXT bucket (t_ms[i] + bucket_ms), i.e. the bucket
 *             being forecast (zeros when no annotation applies). NULL = zeros.
 *             Non-finite entries count as 0. Ignored when n_exog == 0.
 *   train     true: one Adam step on the mean negative log-likelihood of the
 *             n newly observed values given their previous forecasts,
 *             backpropagated over each series' last bptt steps.
 *   mean, sd  out, n each (either may be NULL): the Gaussian one-step
 *             forecast of the next bucket in series units (sd recalibrated
 *             per series by its recent standardised errors, see lstm.c); NaN
 *             when series i has never had a finite value.
 * Returns 0; TC_EINVAL (n > max_batch, a slot out of range or repeated,
 * NULL slots/t_ms/y) with nothing changed. No allocation. */
int tc_lstm_step(tc_lstm_t *m, size_t n, const int32_t *slots, const int64_t *t_ms,
                 const float *y, const float *exog, bool train, float *mean, float *sd);

/* Multi-step forecast h = 1..horizon for n series from their current state,
 * without changing any state. The path is recursive: the mean forecast of
 * bucket t+h is fed back as the input value for t+h+1 (see lstm.c for why).
 *   exog     n x horizon x n_exog: features active during bucket t+h for
 *            h = 1..horizon (row h = 1 is not used: the one-step forecast was
 *            made by tc_lstm_step() with the features passed there). NULL = zeros.
 *   mean, sd out, n x horizon row-major, series units; sd is the head's
 *            one-step deviation at each step of the path (conditional on the
 *            fed-back means, so it understates the spread at long horizons).
 * A series without a finite value yet gets NaN. Returns 0 or TC_EINVAL
 * (n > max_batch, horizon < 1 or > max_horizon, bad or repeated slot). */
int tc_lstm_forecast(tc_lstm_t *m, size_t n, const int32_t *slots, int horizon,
                     const float *exog, float *mean, float *sd);

/* Forgets slot's state (the series was evicted); the next step starts it
 * afresh. Returns 0 or TC_EINVAL. */
int tc_lstm_series_reset(tc_lstm_t *m, int32_t slot);

/* Whether slot has been stepped since creation or its last reset. */
bool tc_lstm_series_active(const tc_lstm_t *m, int32_t slot);

/* Bytes of state each series slot holds (excluding the shared weights and
 * the batch workspaces), and bytes of batch workspace per series of max_batch. */
size_t tc_lstm_series_bytes(const tc_lstm_t *m);
size_t tc_lstm_workspace_bytes_per_row(const tc_lstm_t *m);

/* --- Lower level: the training objective itself (used by tests and benches) ---
 *
 * Parameter vector layout (floats, flat): for each layer l: W_l, a
 * (4H x (I_l + H)) row-major matrix whose rows are the gates i, f, g, o
 * (H rows each) and whose columns are the layer input (I_0 = tc_lstm_n_input,
 * I_1 = H) followed by the previous hidden state; then b_l (4H). Then the
 * head: W_y (2 x H; row 0 = mean, row 1 = log-variance) and b_y (2). */
size_t tc_lstm_n_params(const tc_lstm_t *m);
int tc_lstm_n_input(const tc_lstm_t *m);
/* The parameters, writable (e.g. to perturb them in a gradient check). */
float *tc_lstm_params(tc_lstm_t *m);
/* The gradient of the last training pass, before clipping (read-only). */
const float *tc_lstm_grad(const tc_lstm_t *m);

/* Loss and gradient of one truncated window for n sequences, without an
 * optimiser step. x is k x n x n_input (step-major), state0 is
 * n x layers x 2 x H (h then c per layer; NULL = zeros), z is the n targets
 * (scaled units) of the step after the last. Stores the gradient of
 *   L = (1/n) sum_i 0.5 * (s_i + (z_i - mu_i)^2 exp(-s_i))
 * (mu, s = head mean and log-variance after the k-th step) in the gradient
 * buffer and L in *loss. k <= bptt, n <= max_batch. Returns 0 or TC_EINVAL. */
int tc_lstm_window_grad(tc_lstm_t *m, size_t n, int k, const float *x, const float *state0,
                        const float *z, double *loss);

/* Serialises weights, optimiser state and every active slot's state into a
 * versioned tidecast.v1.LstmSnapshot (proto/tidecast/v1/lstm.proto).
 * *buf is malloc'd and owned by the caller (free()). Returns 0 or TC_ENOMEM. */
int tc_lstm_save(const tc_lstm_t *m, uint8_t **buf, size_t *len);

/* Rebuilds a model from tc_lstm_save() bytes; the result steps exactly as
 * the saved model would have. Returns 0, TC_EPARSE, TC_EVERSION,
 * TC_ECORRUPT (sizes inconsistent with the config), TC_EINVAL or TC_ENOMEM. */
int tc_lstm_load(const uint8_t *buf, size_t len, tc_lstm_t **out);

#endif
