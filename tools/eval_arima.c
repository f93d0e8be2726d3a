/*
 * eval_arima.c - the seasonal naive and SARIMA models of `tidecast eval`.
 *
 * snaive: yhat[t+k] = y[t+k-m] (k < m; beyond, the value one season back of
 * that), variance sigma2 * (1 + floor(k/m)) with sigma2 the mean squared
 * seasonal difference of the training data.
 * sarima: SARIMA(2,0,1)(1,1,1)m without constant, exact ML (the PEERS.md
 * model).  autoarima: automatic orders (tc_arima_auto).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arima.h"
#include "error.h"
#include "eval_model.h"

typedef struct snaive {
    int m;
    size_t head; /* ring slot of the oldest of the last m values */
    double sigma2;
    double ring[];
} snaive_t;

static int snaive_fit(const double *y, size_t n, int m, void **ctx)
{
    if (m < 1 || n < (size_t)m + 1)
        return TC_ETOOFEW;
    snaive_t *s = malloc(sizeof(*s) + sizeof(double) * (size_t)m);
    if (!s)
        return TC_ENOMEM;
    s->m = m;
    s->head = 0;
    double ss = 0.0;
    size_t c = 0;
    for (size_t t = (size_t)m; t < n; t++) {
        double d = y[t] - y[t - (size_t)m];
        if (isfinite(d)) {
            ss += d * d;
            c++;
        }
    }
    s->sigma2 = c ? ss / (double)c : NAN;
    for (int i = 0; i < m; i++)
        s->ring[i] = y[n - (size_t)m + (size_t)i];
    *ctx = s;
    return 0;
}

static int snaive_forecast(void *ctx, int h, double *mean, double *var)
{
    snaive_t *s = ctx;
    for (int k = 0; k < h; k++) {
        mean[k] = s->ring[(s->head + (size_t)(k % s->m)) % (size_t)s->m];
        var[k] = s->sigma2 * (1.0 + (double)(k / s->m));
    }
    return 0;
}

static int snaive_update(void *ctx, double y)
{
    snaive_t *s = ctx;
    /* a missing value repeats the seasonal naive forecast */
    if (isnan(y))
        y = s->ring[s->head];
    s->ring[s->head] = y;
    s->head = (s->head + 1) % (size_t)s->m;
    return 0;
}

static void snaive_free(void *ctx) { free(ctx); }

const eval_model_ops_t eval_model_snaive = {"snaive", "snaive24", snaive_fit, snaive_forecast,
                                            snaive_update, snaive_free};

typedef struct arima_ctx {
    tc_arima_t *m;
    tc_arima_fc_t fc[];
} arima_ctx_t;

#define EVAL_MAX_H 256

static int wrap(tc_arima_t *m, void **ctx)
{
    arima_ctx_t *c = malloc(sizeof(*c) + sizeof(tc_arima_fc_t) * EVAL_MAX_H);
    if (!c) {
        tc_arima_free(m);
        return TC_ENOMEM;
    }
    c->m = m;
    *ctx = c;
    return 0;
}

/* One line on stderr about the fitted model (orders, fit quality). */
static void arima_describe(const char *who, const tc_arima_t *m)
{
    const tc_arima_spec_t *s = tc_arima_spec(m);
    const tc_arima_info_t *in = tc_arima_info(m);
    fprintf(stderr, "  %s: ", who);
    fprintf(stderr, "SARIMA(%d,%d,%d)(%d,%d,%d)%d%s loglik %.2f AICc %.2f%s", s->p, s->d, s->q,
             s->P, s->D, s->Q, s->s, s->mean ? " with constant" : "", in->loglik, in->aicc,
             in->converged ? "" : " (not converged)");
    fprintf(stderr, "\n");
}

static int sarima_fit(const double *y, size_t n, int m, void **ctx)
{
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = 2;
    s.q = 1;
    s.P = 1;
    s.D = 1;
    s.Q = 1;
    s.s = m;
    tc_arima_t *mod = NULL;
    int rc = tc_arima_fit(&s, y, NULL, n, NULL, &mod);
    if (!rc)
        arima_describe("sarima", mod);
    return rc ? rc : wrap(mod, ctx);
}

static int autoarima_fit(const double *y, size_t n, int m, void **ctx)
{
    tc_arima_t *mod = NULL;
    int rc = tc_arima_auto(y, NULL, n, 0, m, NAN, NULL, &mod);
    if (!rc)
        arima_describe("auto", mod);
    return rc ? rc : wrap(mod, ctx);
}

static int arima_forecast(void *ctx, int h, double *mean, double *var)
{
    arima_ctx_t *c = ctx;
    if (h > EVAL_MAX_H)
        return TC_EINVAL;
    int rc = tc_arima_forecast(c->m, h, NULL, c->fc);
    for (int k = 0; k < h && !rc; k++) {
        mean[k] = c->fc[k].mean;
        var[k] = c->fc[k].var;
    }
    return rc;
}

static int arima_update(void *ctx, double y)
{
    arima_ctx_t *c = ctx;
    return tc_arima_update(c->m, y, NULL);
}

static void arima_free(void *ctx)
{
    arima_ctx_t *c = ctx;
    if (c)
        tc_arima_free(c->m);
    free(c);
}


const eval_model_ops_t eval_model_sarima = {"sarima", "SARIMA(2,0,1)(1,1,1)", sarima_fit,
                                            arima_forecast, arima_update, arima_free};
const eval_model_ops_t eval_model_autoarima = {"auto", "auto SARIMA", autoarima_fit,
                                               arima_forecast, arima_update, arima_free};
