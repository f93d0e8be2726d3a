/*
 * eval_lstm.c - the LSTM and ensemble models of `tidecast eval`.
 *
 * lstm: lib/lstm with one series slot (hidden 32, one layer, seasonal lag m,
 * BPTT 8). "Fit" = LSTM_EPOCHS online passes over the training part (the
 * series state restarts each pass, the weights carry over); then, as in the
 * daemon, the model keeps learning online from every test bucket it is fed
 * (the weights are the model's state; nothing is re-fitted in batch).
 * Calendar features come from the bucket index with m buckets per day (the
 * evaluator passes no clock time; only the phase within day and week
 * matters, and the model learns it).
 *
 * ensemble: seasonal naive, SARIMA(2,0,1)(1,1,1)m and the lstm above, each
 * fitted as on its own, combined by lib/ensemble (inverse discounted MSE of
 * the one-step errors, lambda ENS_LAMBDA, equal weights at the origin); the
 * one-step weights are used for every horizon of a path; the variance is
 * the mixture variance.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ensemble.h"
#include "error.h"
#include "eval_model.h"
#include "lstm.h"

#define LSTM_EPOCHS 8
#define ENS_LAMBDA 0.97
#define MAXH 512

typedef struct lstm_ctx {
    tc_lstm_t *m;
    int64_t t_ms;    /* start of the newest bucket fed */
    int64_t step_ms; /* bucket length */
    float mean[MAXH], sd[MAXH];
} lstm_ctx_t;

static void lstm_free(void *ctx)
{
    lstm_ctx_t *c = ctx;
    if (c) tc_lstm_free(c->m);
    free(c);
}

static int lstm_feed(lstm_ctx_t *c, double y, bool train)
{
    int32_t slot = 0;
    float v = (float)y;
    c->t_ms += c->step_ms;
    return tc_lstm_step(c->m, 1, &slot, &c->t_ms, &v, NULL, train, NULL, NULL);
}

static int lstm_fit(const double *y, size_t n, int m, void **ctx)
{
    if (m < 1 || m > TC_LSTM_MAX_SEASON) return TC_EINVAL;
    lstm_ctx_t *c = calloc(1, sizeof(*c));
    if (!c) return TC_ENOMEM;
    tc_lstm_config_t cfg;
    tc_lstm_config_default(&cfg);
    cfg.max_series = 1;
    cfg.max_batch = 1;
    cfg.max_horizon = MAXH;
    cfg.season = m;
    cfg.lr = 3e-3f;
    cfg.bucket_ms = 86400000 / m;
    c->step_ms = cfg.bucket_ms;
    int rc = tc_lstm_new(&cfg, &c->m);
    for (int e = 0; e < LSTM_EPOCHS && !rc; e++) {
        rc = tc_lstm_series_reset(c->m, 0);
        c->t_ms = 0;
        for (size_t t = 0; t < n && !rc; t++) rc = lstm_feed(c, y[t], true);
    }
    if (rc) {
        lstm_free(c);
        return rc;
    }
    *ctx = c;
    return 0;
}

static int lstm_forecast(void *ctx, int h, double *mean, double *var)
{
    lstm_ctx_t *c = ctx;
    int32_t slot = 0;
    if (h > MAXH) return TC_EINVAL;
    int rc = tc_lstm_forecast(c->m, 1, &slot, h, NULL, c->mean, c->sd);
    for (int k = 0; k < h && !rc; k++) {
        mean[k] = c->mean[k];
        var[k] = (double)c->sd[k] * c->sd[k];
    }
    return rc;
}

static int lstm_update(void *ctx, double y) { return lstm_feed(ctx, y, true); }

const eval_model_ops_t eval_model_lstm = {"lstm", "LSTM h32 (online)", lstm_fit, lstm_forecast,
                                          lstm_update, lstm_free};

/* ---- ensemble ---- */

#define NM 3

typedef struct ens_ctx {
    const eval_model_ops_t *ops[NM];
    void *sub[NM];
    tc_ensemble_t e;
    double mean[NM][MAXH], var[NM][MAXH];
} ens_ctx_t;

static void ens_free(void *ctx)
{
    ens_ctx_t *c = ctx;
    if (!c) return;
    for (int i = 0; i < NM; i++)
        if (c->sub[i]) c->ops[i]->free(c->sub[i]);
    free(c);
}

static int ens_fit(const double *y, size_t n, int m, void **ctx)
{
    ens_ctx_t *c = calloc(1, sizeof(*c));
    if (!c) return TC_ENOMEM;
    c->ops[0] = &eval_model_snaive;
    c->ops[1] = &eval_model_sarima;
    c->ops[2] = &eval_model_lstm;
    int rc = tc_ensemble_init(&c->e, NM, ENS_LAMBDA);
    for (int i = 0; i < NM && !rc; i++) rc = c->ops[i]->fit(y, n, m, &c->sub[i]);
    if (rc) {
        ens_free(c);
        return rc;
    }
    *ctx = c;
    return 0;
}

static int ens_forecast(void *ctx, int h, double *mean, double *var)
{
    ens_ctx_t *c = ctx;
    if (h > MAXH) return TC_EINVAL;
    for (int i = 0; i < NM; i++) {
        int rc = c->ops[i]->forecast(c->sub[i], h, c->mean[i], c->var[i]);
        if (rc) return rc;
    }
    for (int k = 0; k < h; k++) {
        double mk[NM], sk[NM], sd;
        for (int i = 0; i < NM; i++) {
            mk[i] = c->mean[i][k];
            sk[i] = isfinite(c->var[i][k]) ? sqrt(c->var[i][k]) : NAN;
        }
        int rc = tc_ensemble_combine(&c->e, mk, sk, &mean[k], &sd);
        if (rc) return rc;
        var[k] = sd * sd;
    }
    return 0;
}

static int ens_update(void *ctx, double y)
{
    ens_ctx_t *c = ctx;
    double f[NM];
    for (int i = 0; i < NM; i++) {
        double v;
        int rc = c->ops[i]->forecast(c->sub[i], 1, &f[i], &v);
        if (rc) return rc;
    }
    if (isfinite(y)) tc_ensemble_observe(&c->e, f, y);
    for (int i = 0; i < NM; i++) {
        int rc = c->ops[i]->update(c->sub[i], y);
        if (rc) return rc;
    }
    return 0;
}

const eval_model_ops_t eval_model_ensemble = {"ensemble", "ensemble(sn,SAR,LSTM)", ens_fit,
                                              ens_forecast, ens_update, ens_free};
