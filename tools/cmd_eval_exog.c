/*
 * cmd_eval_exog.c - `tidecast eval-exog FILE.csv`: do exogenous features
 * (Annotation events) help the LSTM forecast an announced effect?
 *
 * Case: a real series (default data/nab/nyc_taxi.csv), bucketed hourly as
 * in `tidecast eval` (PEERS.md step 1), with an injected, documented effect:
 * starting at hour 72 and then every `--every` hours (default 216 = 9 days,
 * so that the start hour of day varies), the values of `--len` hours
 * (default 48: two days) are multiplied by 1 + `--lift` (default +40%), as a
 * promotion would lift traffic. Each event is announced by an Annotation
 * issued one hour before it starts (event time s - 1h), valid from s to
 * s + len, with the feature vector (1, lift): "a promotion is running" and
 * its announced intensity. The features are zeros outside events.
 *
 * What a model may know: the one-step forecast of bucket b is made when
 * bucket b - 1 closes; the annotation of an event starting at s has arrived
 * by then iff s <= b (it was issued at s - 1). A path forecast from origin T
 * (buckets T..T+23, made when T - 1 closes) gets the features of the events
 * with s <= T, and zeros for events announced later.
 *
 * Models: the same LSTM (lib/lstm, hidden 32, one layer, 2 exogenous inputs,
 * the configuration of `tidecast eval`'s lstm, same seed) run twice: once
 * given the annotations' features, once given zeros. Both are trained online
 * over the first 70% (8 passes) and keep learning online over the rest, as
 * in `tidecast eval`; events occur in both parts. Reported over the test
 * part: MASE and RMSE of one-step forecasts over all test hours and over
 * the hours inside events, and MASE over all 24-step paths (origins every
 * 24 hours). Seasonal naive (y[t-24]) is shown for scale.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accuracy.h"
#include "error.h"
#include "eval_model.h"
#include "lstm.h"

const char cmd_eval_exog_summary[] =
    "LSTM with vs without annotation features on a series with an injected, announced level shift";

#define NX 2
#define HP 24
#define EPOCHS 8

typedef struct effect {
    size_t first, every, len;
    double lift;
} effect_t;

/* Start of the event covering bucket b, or SIZE_MAX. */
static size_t event_start(const effect_t *e, size_t b)
{
    if (b < e->first) return SIZE_MAX;
    size_t s = e->first + (b - e->first) / e->every * e->every;
    return b < s + e->len ? s : SIZE_MAX;
}

/* Features active in bucket b as known at time `known` (hours): the
 * annotation of the event starting at s is known once s <= known. */
static void features(const effect_t *e, size_t b, size_t known, bool use, float *x)
{
    size_t s = event_start(e, b);
    bool on = use && s != SIZE_MAX && s <= known;
    x[0] = on ? 1.0f : 0.0f;
    x[1] = on ? (float)e->lift : 0.0f;
}

typedef struct scores {
    tc_accuracy_t h1, h1_event, hh;
} scores_t;

static int run_lstm(const double *y, size_t n, size_t ntrain, const effect_t *e, bool use, double Q,
                    scores_t *sc)
{
    tc_lstm_config_t c;
    tc_lstm_config_default(&c);
    c.max_series = 1;
    c.max_batch = 1;
    c.n_exog = NX;
    c.lr = 3e-3f;
    tc_lstm_t *m = NULL;
    int rc = tc_lstm_new(&c, &m);
    if (rc) return rc;
    int32_t slot = 0;
    float x[NX], mu, sd, path[HP], psd[HP], pex[HP * NX];
    tc_accuracy_init(&sc->h1, Q, 1.0);
    tc_accuracy_init(&sc->h1_event, Q, 1.0);
    tc_accuracy_init(&sc->hh, Q, 1.0);
    for (int ep = 0; ep < EPOCHS && !rc; ep++) {
        rc = tc_lstm_series_reset(m, slot);
        for (size_t t = 0; t < ntrain && !rc; t++) {
            int64_t ts = (int64_t)t * 3600000;
            float v = (float)y[t];
            features(e, t + 1, t + 1, use, x);
            rc = tc_lstm_step(m, 1, &slot, &ts, &v, x, true, &mu, &sd);
        }
    }
    /* mu now forecasts bucket ntrain */
    for (size_t t = ntrain; t < n && !rc; t++) {
        if ((t - ntrain) % HP == 0 && t + HP <= n) {
            for (int h = 0; h < HP; h++) features(e, t + (size_t)h, t, use, pex + h * NX);
            rc = tc_lstm_forecast(m, 1, &slot, HP, pex, path, psd);
            for (int h = 0; h < HP && !rc; h++) tc_accuracy_add(&sc->hh, y[t + (size_t)h], path[h]);
        }
        tc_accuracy_add(&sc->h1, y[t], mu);
        if (event_start(e, t) != SIZE_MAX) tc_accuracy_add(&sc->h1_event, y[t], mu);
        int64_t ts = (int64_t)t * 3600000;
        float v = (float)y[t];
        features(e, t + 1, t + 1, use, x);
        if (!rc) rc = tc_lstm_step(m, 1, &slot, &ts, &v, x, true, &mu, &sd);
    }
    tc_lstm_free(m);
    return rc;
}

static void snaive_scores(const double *y, size_t n, size_t ntrain, const effect_t *e, double Q, scores_t *sc)
{
    tc_accuracy_init(&sc->h1, Q, 1.0);
    tc_accuracy_init(&sc->h1_event, Q, 1.0);
    tc_accuracy_init(&sc->hh, Q, 1.0);
    for (size_t t = ntrain; t < n; t++) {
        if ((t - ntrain) % HP == 0 && t + HP <= n)
            for (size_t h = 0; h < HP; h++) tc_accuracy_add(&sc->hh, y[t + h], y[t + h - HP]);
        tc_accuracy_add(&sc->h1, y[t], y[t - HP]);
        if (event_start(e, t) != SIZE_MAX) tc_accuracy_add(&sc->h1_event, y[t], y[t - HP]);
    }
}

static void print_row(const char *name, const scores_t *s)
{
    tc_accuracy_report_t a, b, c;
    tc_accuracy_get(&s->h1, &a);
    tc_accuracy_get(&s->h1_event, &b);
    tc_accuracy_get(&s->hh, &c);
    printf("%-24s %8.3f %10.4g %10.3f %12.4g %9.3f\n", name, a.mase, a.rmse, b.mase, b.rmse, c.mase);
}

int cmd_eval_exog(int argc, char **argv)
{
    const char *file = NULL;
    effect_t e = {72, 216, 48, 0.4};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--lift") && v) {
            e.lift = atof(v);
            i++;
        } else if (!strcmp(a, "--len") && v) {
            e.len = (size_t)atol(v);
            i++;
        } else if (!strcmp(a, "--every") && v) {
            e.every = (size_t)atol(v);
            i++;
        } else if (a[0] != '-' && !file) {
            file = a;
        } else {
            fprintf(stderr,
                    "usage: tidecast eval-exog [FILE.csv] [--lift 0.4] [--len 48] [--every 216]\n"
                    "Injects announced level shifts into an hourly series and compares the LSTM\n"
                    "given the annotation features with the same LSTM without them.\n");
            return 2;
        }
    }
    if (!file) file = "data/nab/nyc_taxi.csv";
    if (e.len < 1 || e.every <= e.len || !(e.lift > -1)) {
        fprintf(stderr, "tidecast eval-exog: need 1 <= len < every and lift > -1\n");
        return 2;
    }
    double *y = NULL;
    size_t n = 0;
    int rc = eval_load_series(file, 3600, eval_name_is_count(file), &y, &n);
    if (rc) {
        fprintf(stderr, "tidecast eval-exog: %s: %s\n", file, tc_strerror(rc));
        return 1;
    }
    size_t ntrain = (size_t)floor(0.7 * (double)n), events = 0, test_events = 0;
    if (ntrain <= 2 * HP || n - ntrain < HP) {
        fprintf(stderr, "tidecast eval-exog: %s: too few hours (%zu)\n", file, n);
        free(y);
        return 1;
    }
    for (size_t t = 0; t < n; t++) {
        size_t s = event_start(&e, t);
        if (s == SIZE_MAX) continue;
        y[t] *= 1.0 + e.lift;
        if (s == t) {
            events++;
            test_events += t >= ntrain;
        }
    }
    /* MASE scale of the series as modelled (with the injected effect). */
    double Q = tc_accuracy_mase_scale(y, ntrain, HP);
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    printf("%s: %zu hours, train %zu, test %zu; %zu events of %zu h at %+.0f%% every %zu h from hour %zu "
           "(%zu in the test part), each announced 1 h ahead with features (1, %.2f)\n",
           base, n, ntrain, n - ntrain, events, e.len, 100 * e.lift, e.every, e.first, test_events, e.lift);
    printf("%-24s %8s %10s %10s %12s %9s\n", "model", "MASE h1", "RMSE h1", "MASE h1 ev", "RMSE h1 ev",
           "MASE h24");
    scores_t sn, with, without;
    snaive_scores(y, n, ntrain, &e, Q, &sn);
    print_row("snaive24", &sn);
    rc = run_lstm(y, n, ntrain, &e, false, Q, &without);
    if (!rc) print_row("LSTM without annotations", &without);
    if (!rc) rc = run_lstm(y, n, ntrain, &e, true, Q, &with);
    if (!rc) print_row("LSTM with annotations", &with);
    if (rc) fprintf(stderr, "tidecast eval-exog: %s\n", tc_strerror(rc));
    free(y);
    return rc ? 1 : 0;
}
