/*
 * Tests of the pipeline (lib/pipeline.c): buckets and forecasts through
 * sinks, the seasonal-naive forecaster against a hand computation, and the
 * snapshot round trip (a restored pipeline continues exactly like one that
 * never stopped).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ensemble.h"
#include "error.h"
#include "pipeline.h"
#include "tests/test.h"

/* A sink that records every output as a line of text (doubles in %a: exact). */
typedef struct rec {
    char *text;
    size_t len, cap;
    int buckets, forecasts, scales;
} rec_t;

static void rec_printf(rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_printf(rec_t *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (r->len + (size_t)n + 1 > r->cap) {
        r->cap = (r->len + (size_t)n + 1) * 2;
        r->text = realloc(r->text, r->cap);
    }
    memcpy(r->text + r->len, line, (size_t)n + 1);
    r->len += (size_t)n;
}

static int rec_bucket(void *ctx, const tc_pipeline_bucket_t *b)
{
    rec_t *r = ctx;
    r->buckets++;
    rec_printf(r, "B %s %lld %llu %llu %a\n", b->key, (long long)b->b->start_ms,
               (unsigned long long)b->b->requests, (unsigned long long)b->b->bytes,
               b->b->unique_users);
    return 0;
}

static int rec_forecast(void *ctx, const tc_pipeline_forecast_t *f)
{
    rec_t *r = ctx;
    r->forecasts++;
    rec_printf(r, "F %s %d %lld %a n=%g mae=%a", f->key, (int)f->metric, (long long)f->origin_ms,
               f->actual, f->accuracy.n, f->accuracy.mae);
    for (size_t h = 0; h < f->horizon; h++)
        rec_printf(r, " %a/%a/%a", f->steps[h].mean, f->steps[h].lo95, f->steps[h].hi95);
    rec_printf(r, "\n");
    return 0;
}

static int rec_scale(void *ctx, const tc_pipeline_scale_t *s)
{
    rec_t *r = ctx;
    r->scales++;
    rec_printf(r, "S %s %u->%u %s\n", s->key, s->current_replicas, s->recommended_replicas,
               s->reason);
    return 0;
}

static int rec_churn_score(void *ctx, const tc_pipeline_churn_score_t *c)
{
    rec_t *r = ctx;
    rec_printf(r, "C %s %a %a %lld %u\n", c->user, c->risk, c->p_alive, (long long)c->as_of_ms,
               c->frequency);
    return 0;
}

static int rec_churn_alert(void *ctx, const tc_pipeline_churn_alert_t *a)
{
    rec_t *r = ctx;
    rec_printf(r, "A %s %a %lld\n", a->user, a->risk, (long long)a->as_of_ms);
    return 0;
}

static tc_event_t traffic(int64_t t_ms, const char *site, const char *user)
{
    tc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = TC_EVENT_TRAFFIC;
    ev.time_ms = t_ms;
    ev.site = tc_str_c(site);
    ev.user_id = tc_str_c(user);
    ev.session_id = tc_str_c(NULL);
    ev.traffic.path = tc_str_c("/");
    ev.traffic.method = tc_str_c("GET");
    ev.traffic.referrer = tc_str_c(NULL);
    ev.traffic.ua_class = tc_str_c(NULL);
    ev.traffic.status = 200;
    ev.traffic.bytes = 10;
    return ev;
}

/*
 * Season 3, horizon 5, 1-minute buckets, no lateness. Bucket counts
 * y = 4, 1, 2, 5, 2, 3 (minutes 0..5), then the event of minute 6 closes
 * minute 5. Hand computation at origin T = 5 (time index 5):
 *   seasonal residuals y_t - y_{t-3}, t = 3..5: 1, 1, 1 -> sigma = 1;
 *   h = 1..3 (k = 1): y_3, y_4, y_5 = 5, 2, 3, sd 1;
 *   h = 4, 5 (k = 2): y_3, y_4 again = 5, 2, sd sqrt(2).
 */
TC_TEST(pipeline_seasonal_naive_by_hand)
{
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    cfg.window.lateness_ms = 0;
    cfg.season = 3;
    cfg.horizon = 5;
    cfg.decode.max_future_ms = -1;
    rec_t r = {0};
    tc_pipeline_sink_t sink = {.ctx = &r, .bucket = rec_bucket, .forecast = rec_forecast};
    tc_pipeline_t *p;
    CHECK_OK(tc_pipeline_new(&cfg, &sink, &p));
    const int y[] = {4, 1, 2, 5, 2, 3, 1};
    const int64_t t0 = 1700000040000; /* a minute boundary */
    char user[16];
    for (int m = 0; m < 7; m++)
        for (int i = 0; i < y[m]; i++) {
            snprintf(user, sizeof(user), "u%d", i);
            tc_event_t ev = traffic(t0 + m * 60000 + i * 1000, "s", user);
            CHECK_OK(tc_pipeline_feed_event(p, &ev));
        }
    CHECK_INT_EQ(r.buckets, 6);
    /* The forecast at origin minute 5 is the last line. */
    const char *last = r.text + r.len - 1;
    while (last > r.text && last[-1] != '\n')
        last--;
    char want[1024];
    int n = snprintf(want, sizeof(want), "F s 0 %lld %a n=%g mae=%a", (long long)(t0 + 5 * 60000),
                     3.0, 4.0, (1.0 + 1 + 1 + 3) / 4);
    const double mean[] = {5, 2, 3, 5, 2}, sd[] = {1, 1, 1, sqrt(2), sqrt(2)};
    for (int h = 0; h < 5; h++)
        n += snprintf(want + n, sizeof(want) - (size_t)n, " %a/%a/%a", mean[h],
                      mean[h] - 1.959963984540054 * sd[h], mean[h] + 1.959963984540054 * sd[h]);
    snprintf(want + n, sizeof(want) - (size_t)n, "\n");
    CHECK_STR_EQ(last, want);
    tc_pipeline_free(p);
    free(r.text);
}

static void offset_cb(void *ud, const char *topic, int64_t o)
{
    if (!strcmp(topic, "traffic"))
        *(int64_t *)ud = o;
}

/* Reads the NASA TSV into traffic events (times and hosts only). */
typedef struct nasa {
    int64_t *t;
    char (*host)[64];
    size_t n;
} nasa_t;

static int nasa_load(nasa_t *d)
{
    FILE *f = fopen(tc_test_data_path("weblog/nasa_19950801.tsv"), "r");
    if (!f)
        return -1;
    size_t cap = 40000;
    d->t = malloc(cap * sizeof(*d->t));
    d->host = malloc(cap * sizeof(*d->host));
    d->n = 0;
    char line[4096];
    if (!fgets(line, sizeof(line), f)) { /* header */
        fclose(f);
        return -1;
    }
    while (d->n < cap && fgets(line, sizeof(line), f)) {
        char host[64];
        long long t;
        if (sscanf(line, "%63[^\t]\t%*[^\t]\t%lld", host, &t) != 2)
            continue;
        d->t[d->n] = t * 1000;
        memcpy(d->host[d->n], host, sizeof(host));
        d->n++;
    }
    fclose(f);
    return 0;
}

/*
 * Runs the NASA day through pipeline A without a break, and through B that
 * is snapshotted after `cut` events, freed, restored into a fresh C which
 * gets the rest: the outputs of C after the cut must equal A's, byte for byte.
 */
TC_TEST(pipeline_snapshot_round_trip_is_exact)
{
    nasa_t d;
    CHECK(nasa_load(&d) == 0);
    CHECK_INT_EQ(d.n, 30969);
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    cfg.window.lateness_ms = 30000;
    cfg.season = 10;
    cfg.horizon = 15;
    cfg.forecast_metrics = (1u << TC_METRIC_REQUESTS) | (1u << TC_METRIC_UNIQUE_USERS);
    cfg.arima = true;
    cfg.arima_fit_after = 60;
    cfg.arima_refit_every = 200;
    cfg.lstm = true;
    cfg.lstm_cfg.hidden = 16;
    cfg.lstm_cfg.max_series = 4;
    cfg.lstm_cfg.max_batch = 4;
    cfg.lstm_cfg.season = 10;
    cfg.exog_dim = 2;
    cfg.max_annotations = 3; /* full table: replacement is part of the state */
    cfg.publish = TC_PIPELINE_PUBLISH_ALL;
    cfg.churn = true;
    cfg.churn_cfg.time_unit_s = 60;    /* minutes: the NASA day is short */
    cfg.churn_cfg.horizon = 30;
    cfg.churn_cfg.visit_gap_ms = 600000;
    cfg.churn_cfg.alert_threshold = 0.9;
    cfg.churn_sweep_every_ms = 600000;
    cfg.churn_refit_every_ms = 3600000;
    memcpy(cfg.churn_secret, "0123456789abcdef", 16);
    cfg.churn_secret_len = 16;
    cfg.autoscale.enabled = true;
    cfg.autoscale.metric = TC_METRIC_REQUESTS;
    cfg.autoscale.rule = (tc_autoscale_config_t){.capacity_per_replica = 10, .min_replicas = 1,
                                                 .max_replicas = 50, .down_margin = 0.2,
                                                 .cooldown_ms = 600000};
    rec_t ra = {0}, rb = {0}, rc = {0};
    tc_pipeline_sink_t sa = {&ra, rec_bucket, rec_forecast, rec_scale, rec_churn_score, rec_churn_alert};
    tc_pipeline_sink_t sb = {&rb, rec_bucket, rec_forecast, rec_scale, rec_churn_score, rec_churn_alert};
    tc_pipeline_sink_t sc = {&rc, rec_bucket, rec_forecast, rec_scale, rec_churn_score, rec_churn_alert};
    tc_pipeline_t *a, *b, *c;
    CHECK_OK(tc_pipeline_new(&cfg, &sa, &a));
    CHECK_OK(tc_pipeline_new(&cfg, &sb, &b));
    CHECK_OK(tc_pipeline_new(&cfg, &sc, &c));
    size_t cut = 17011;
    size_t a_at_cut = 0;
    /* Campaign annotations every 4000 events, valid for the next 30 minutes. */
    float feat[2] = {1.5f, -0.5f};
    tc_event_t an;
    memset(&an, 0, sizeof(an));
    an.kind = TC_EVENT_ANNOTATION;
    an.site = an.user_id = an.session_id = tc_str_c(NULL);
    an.annotation.target = tc_str_c("nasa");
    an.annotation.features = feat;
    an.annotation.n_features = 2;
    an.annotation.schema = an.annotation.text = tc_str_c(NULL);
    for (size_t i = 0; i < d.n; i++) {
        if (i == cut)
            a_at_cut = ra.len;
        if (i % 4000 == 3999) {
            an.time_ms = d.t[i];
            an.annotation.valid_from_ms = d.t[i] + 60000;
            an.annotation.valid_to_ms = d.t[i] + 1800000;
            feat[0] += 0.25f;
            CHECK_OK(tc_pipeline_feed_event(a, &an));
            if (i < cut)
                CHECK_OK(tc_pipeline_feed_event(b, &an));
        }
        tc_event_t ev = traffic(d.t[i], "nasa", d.host[i]);
        CHECK_OK(tc_pipeline_feed_event(a, &ev));
        if (i < cut)
            CHECK_OK(tc_pipeline_feed_event(b, &ev));
    }
    tc_pipeline_flush(a);
    tc_pipeline_offset_t off = {"traffic", (int64_t)cut};
    uint8_t *buf;
    size_t len;
    CHECK_OK(tc_pipeline_snapshot(b, "g", 3, &off, 1, 123, &buf, &len));
    tc_pipeline_free(b);
    int64_t got_off = -1;
    CHECK_OK(tc_pipeline_restore(c, buf, len, offset_cb, &got_off));
    CHECK_INT_EQ(got_off, cut);
    /* A second restore into a used pipeline is refused. */
    CHECK_INT_EQ(tc_pipeline_restore(c, buf, len, NULL, NULL), TC_EINVAL);
    free(buf);
    feat[0] = 1.5f;
    for (size_t i = 0; i < d.n; i++) {
        if (i % 4000 == 3999) {
            an.time_ms = d.t[i];
            an.annotation.valid_from_ms = d.t[i] + 60000;
            an.annotation.valid_to_ms = d.t[i] + 1800000;
            feat[0] += 0.25f;
            if (i >= cut)
                CHECK_OK(tc_pipeline_feed_event(c, &an));
        }
        if (i < cut)
            continue;
        tc_event_t ev = traffic(d.t[i], "nasa", d.host[i]);
        CHECK_OK(tc_pipeline_feed_event(c, &ev));
    }
    tc_pipeline_flush(c);
    CHECK(ra.scales > 0 && ra.forecasts > 1000);
    CHECK_INT_EQ(ra.len - a_at_cut, rc.len);
    CHECK(memcmp(ra.text + a_at_cut, rc.text, rc.len) == 0);
    tc_pipeline_stats_t s1, s2;
    tc_pipeline_stats(a, &s1);
    tc_pipeline_stats(c, &s2);
    CHECK_INT_EQ(s1.events, s2.events);
    CHECK_INT_EQ(s1.buckets, s2.buckets);
    CHECK_INT_EQ(s1.forecasts, s2.forecasts);
    CHECK_INT_EQ(s1.scale_signals, s2.scale_signals);
    CHECK_INT_EQ(s1.churn_events, s2.churn_events);
    CHECK_INT_EQ(s1.churn_alerts, s2.churn_alerts);
    CHECK(s1.churn_alerts > 0 && s1.churn_refits > 0);
    CHECK_INT_EQ(s1.annotations, 7);
    CHECK_INT_EQ(s1.annotations, s2.annotations);
    tc_pipeline_free(a);
    tc_pipeline_free(c);
    free(ra.text);
    free(rb.text);
    free(rc.text);
    free(d.t);
    free(d.host);
}


/* Per-minute request counts of the NASA day equal a naive count of the TSV. */
TC_TEST(pipeline_nasa_minutes_naive_count)
{
    nasa_t d;
    CHECK(nasa_load(&d) == 0);
    int64_t first = d.t[0] / 60000, last = d.t[d.n - 1] / 60000;
    size_t nm = (size_t)(last - first + 1);
    long *naive = calloc(nm, sizeof(*naive));
    for (size_t i = 0; i < d.n; i++)
        naive[d.t[i] / 60000 - first]++;
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    rec_t r = {0};
    tc_pipeline_sink_t sink = {.ctx = &r, .bucket = rec_bucket};
    tc_pipeline_t *p;
    CHECK_OK(tc_pipeline_new(&cfg, &sink, &p));
    for (size_t i = 0; i < d.n; i++) {
        tc_event_t ev = traffic(d.t[i], "nasa", d.host[i]);
        CHECK_OK(tc_pipeline_feed_event(p, &ev));
    }
    tc_pipeline_flush(p);
    CHECK_INT_EQ(r.buckets, nm);
    char *line = r.text;
    for (size_t m = 0; m < nm; m++) {
        long long start;
        unsigned long long req;
        CHECK(sscanf(line, "B nasa %lld %llu", &start, &req) == 2);
        CHECK_INT_EQ(start, (first + (int64_t)m) * 60000);
        CHECK_INT_EQ(req, naive[m]);
        line = strchr(line, '\n') + 1;
    }
    tc_pipeline_free(p);
    free(naive);
    free(r.text);
    free(d.t);
    free(d.host);
}

/* Keeps the step-1 mean of each model per origin, and the actuals. */
typedef struct per_origin {
    int64_t t0;
    int n;
    double actual[1000];
    double mean[4][1000];  /* snaive, sarima, lstm, ensemble; NAN = none */
    double sd[4][1000];
    double path_sarima[1000][15];
} per_origin_t;

static int model_index(const char *m)
{
    return !strcmp(m, "snaive") ? 0 : !strcmp(m, "sarima") ? 1 : !strcmp(m, "lstm") ? 2 : 3;
}

static int po_forecast(void *ctx, const tc_pipeline_forecast_t *f)
{
    per_origin_t *po = ctx;
    int i = (int)((f->origin_ms - po->t0) / 60000);
    if (i < 0 || i >= 1000)
        return 0;
    int m = model_index(f->model);
    po->actual[i] = f->actual;
    po->mean[m][i] = f->steps[0].mean;
    po->sd[m][i] = (f->steps[0].hi95 - f->steps[0].mean) / 1.959963984540054;
    if (m == 1)
        for (int h = 0; h < 15; h++)
            po->path_sarima[i][h] = f->steps[h].mean;
    return 0;
}

/*
 * SARIMA in the pipeline against lib/arima run directly on the same
 * per-minute counts (computed here from the TSV); the ensemble's one-step
 * mean against lib/ensemble fed with the models' published forecasts.
 */
TC_TEST(pipeline_sarima_and_ensemble_match_the_libraries)
{
    nasa_t d;
    CHECK(nasa_load(&d) == 0);
    int64_t first = d.t[0] / 60000;
    size_t nm = (size_t)(d.t[d.n - 1] / 60000 - first + 1);
    double *y = calloc(nm, sizeof(*y));
    for (size_t i = 0; i < d.n; i++)
        y[d.t[i] / 60000 - first] += 1;
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    cfg.window.lateness_ms = 0;
    cfg.season = 30;
    cfg.horizon = 15;
    cfg.publish = TC_PIPELINE_PUBLISH_ALL;
    cfg.arima = true;
    cfg.arima_fit_after = 60;
    per_origin_t *po = calloc(1, sizeof(*po));
    po->t0 = first * 60000;
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < 1000; i++)
            po->mean[m][i] = po->sd[m][i] = NAN;
    tc_pipeline_sink_t sink = {.ctx = po, .forecast = po_forecast};
    tc_pipeline_t *p;
    CHECK_OK(tc_pipeline_new(&cfg, &sink, &p));
    for (size_t i = 0; i < d.n; i++) {
        tc_event_t ev = traffic(d.t[i], "nasa", d.host[i]);
        CHECK_OK(tc_pipeline_feed_event(p, &ev));
    }
    tc_pipeline_flush(p);
    tc_pipeline_free(p);

    /* The first SARIMA forecast is at origin 59 (60 buckets seen). */
    CHECK(isnan(po->mean[1][58]) && !isnan(po->mean[1][59]));
    tc_arima_t *m;
    CHECK_OK(tc_arima_fit(&cfg.arima_spec, y, NULL, 60, NULL, &m));
    tc_arima_fc_t fc[15];
    for (size_t o = 59; o < 70; o++) {
        if (o > 59)
            CHECK_OK(tc_arima_update(m, y[o], NULL));
        CHECK_OK(tc_arima_forecast(m, 15, NULL, fc));
        for (int h = 0; h < 15; h++)
            CHECK_REL(po->path_sarima[o][h], fc[h].mean, 1e-12);
    }
    tc_arima_free(m);

    /* Ensemble: same weights from the same one-step errors. */
    tc_ensemble_t e;
    CHECK_OK(tc_ensemble_init(&e, 3, cfg.ensemble_lambda));
    int checked = 0;
    for (size_t o = 0; o + 1 < nm && o < 1000; o++) {
        if (o > 0) {
            double prev[3] = {po->mean[0][o - 1], po->mean[1][o - 1], po->mean[2][o - 1]};
            if (!isnan(prev[0]) || !isnan(prev[1]))
                tc_ensemble_observe(&e, prev, y[o]);
        }
        double mean[3] = {po->mean[0][o], po->mean[1][o], po->mean[2][o]};
        double sd[3] = {po->sd[0][o], po->sd[1][o], po->sd[2][o]};
        if (isnan(mean[0]) || isnan(mean[1]))
            continue;
        double cm, csd;
        CHECK_OK(tc_ensemble_combine(&e, mean, sd, &cm, &csd));
        CHECK_REL(po->mean[3][o], cm, 1e-12);
        checked++;
    }
    CHECK(checked > 600);
    free(po);
    free(y);
    free(d.t);
    free(d.host);
}

typedef struct cd_row {
    char cust[16];
    int64_t t;
    double usd;
} cd_row_t;

static void direct_alert(void *ud, const tc_churn_alert_t *a)
{
    rec_printf(ud, "A %s %a %lld\n", a->user_hex, a->risk, (long long)a->as_of_ms);
}

/*
 * CDNOW purchases through the pipeline give the same alerts as lib/churn
 * fed directly with the same purchases (the records, read here, in date order).
 */
TC_TEST(pipeline_churn_matches_the_engine_on_cdnow)
{
    FILE *f = fopen(tc_test_data_path("cdnow/CDNOW_sample.txt"), "r");
    CHECK(f != NULL);
    static cd_row_t rows[7000];
    size_t n = 0;
    char line[256];
    while (n < 7000 && fgets(line, sizeof(line), f)) {
        unsigned sid, ymd, cds;
        if (sscanf(line, "%15s %u %u %u %lf", rows[n].cust, &sid, &ymd, &cds, &rows[n].usd) != 5)
            continue;
        struct tm tm = {.tm_year = (int)(ymd / 10000) - 1900, .tm_mon = (int)(ymd / 100 % 100) - 1,
                        .tm_mday = (int)(ymd % 100)};
        rows[n].t = (int64_t)timegm(&tm) * 1000;
        n++;
    }
    fclose(f);
    CHECK_INT_EQ(n, 6919);
    /* Stable insertion into date order (the file is ordered by customer). */
    size_t *ord = malloc(n * sizeof(*ord));
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && rows[ord[j - 1]].t > rows[i].t) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    cfg.window.bucket_ms = 86400000;
    cfg.window.lateness_ms = 0;
    cfg.churn = true;
    cfg.churn_cfg.tx_mode = TC_CHURN_TX_PURCHASE;
    cfg.churn_cfg.merge_same_day = true;
    cfg.churn_cfg.alert_threshold = 0.7;
    cfg.churn_sweep_every_ms = 7 * 86400000LL;
    memcpy(cfg.churn_secret, "cdnow-test-secret", 17);
    cfg.churn_secret_len = 17;
    rec_t rp = {0}, rd = {0};
    tc_pipeline_sink_t sink = {.ctx = &rp, .churn_alert = rec_churn_alert};
    tc_pipeline_t *p;
    CHECK_OK(tc_pipeline_new(&cfg, &sink, &p));
    tc_churn_config_t cc = cfg.churn_cfg;
    cc.on_alert = direct_alert;
    cc.on_alert_ud = &rd;
    tc_churn_t *ch;
    CHECK_OK(tc_churn_new(&cc, cfg.churn_secret, cfg.churn_secret_len, &ch));
    int64_t next_sweep = 0;
    for (size_t k = 0; k < n; k++) {
        const cd_row_t *r = &rows[ord[k]];
        tc_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = TC_EVENT_BEHAVIOR;
        ev.time_ms = r->t;
        ev.site = tc_str_c("cdnow");
        ev.user_id = tc_str_c(r->cust);
        ev.session_id = tc_str_c(NULL);
        ev.behavior.type = TC_BEHAVIOR_PURCHASE;
        ev.behavior.value = r->usd;
        CHECK_OK(tc_pipeline_feed_event(p, &ev));
        /* The same by hand: observe, then sweep weekly in event time. */
        if (tc_churn_observe(ch, r->cust, strlen(r->cust), r->t, TC_CHURN_EV_PURCHASE, r->usd) == 0) {
            if (!next_sweep)
                next_sweep = r->t + cfg.churn_sweep_every_ms;
            else if (r->t >= next_sweep) {
                tc_churn_sweep(ch, r->t, cfg.churn_sweep_users, 0, NULL);
                next_sweep = r->t + cfg.churn_sweep_every_ms;
            }
        }
    }
    tc_pipeline_stats_t st;
    tc_pipeline_stats(p, &st);
    CHECK(st.churn_alerts > 10);
    CHECK_INT_EQ(rp.len, rd.len);
    CHECK(memcmp(rp.text, rd.text, rd.len) == 0);
    tc_churn_free(ch);
    tc_pipeline_free(p);
    free(ord);
    free(rp.text);
    free(rd.text);
}

typedef struct lstm_rec {
    int64_t t0;
    float mean[200][5];
    int have[200];
} lstm_rec_t;

static int lstm_forecast_rec(void *ctx, const tc_pipeline_forecast_t *f)
{
    lstm_rec_t *r = ctx;
    int i = (int)((f->origin_ms - r->t0) / 60000);
    if (strcmp(f->model, "lstm") || i < 0 || i >= 200)
        return 0;
    for (int h = 0; h < 5; h++)
        r->mean[i][h] = (float)f->steps[h].mean;
    r->have[i] = 1;
    return 0;
}

/* The annotations of the test: target, features, valid [from, to) in minutes, issued at. */
static const struct {
    const char *target;
    float f[2];
    int from, to, issued;
} annots[] = {
    {"s", {1, -1}, 50, 80, 45},
    {"other.example", {9, 9}, 0, 200, 10},
    {"s", {0.5f, 2}, 70, 100, 60},
    {"S/", {-3, 0.25f}, 120, 0, 110}, /* normalises to "s/" in site mode: "s" */
};

/* Independent lookup: newest issued annotation of "s" overlapping minute m. */
static void exog_of(int m, float *row)
{
    int best = -1;
    for (int i = 0; i < 4; i++) {
        if (strcmp(annots[i].target, "s") && strcmp(annots[i].target, "S/"))
            continue;
        if (annots[i].from > m || (annots[i].to && annots[i].to <= m))
            continue;
        if (best < 0 || annots[i].issued > annots[best].issued)
            best = i;
    }
    row[0] = best < 0 ? 0 : annots[best].f[0];
    row[1] = best < 0 ? 0 : annots[best].f[1];
}

/* The pipeline's LSTM with annotation features equals lib/lstm driven by hand. */
TC_TEST(pipeline_annotations_feed_the_lstm)
{
    const int64_t t0 = 1700000040000, w = 60000;
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    cfg.window.lateness_ms = 0;
    cfg.horizon = 5;
    cfg.season = 1;
    cfg.publish = TC_PIPELINE_PUBLISH_ALL;
    cfg.lstm = true;
    cfg.lstm_cfg.hidden = 16;
    cfg.lstm_cfg.season = 0;
    cfg.lstm_cfg.max_series = 4;
    cfg.lstm_cfg.max_batch = 4;
    cfg.exog_dim = 2;
    cfg.decode.max_future_ms = -1;
    lstm_rec_t *rec = calloc(1, sizeof(*rec));
    rec->t0 = t0;
    tc_pipeline_sink_t sink = {.ctx = rec, .forecast = lstm_forecast_rec};
    tc_pipeline_t *p;
    CHECK_OK(tc_pipeline_new(&cfg, &sink, &p));
    int y[200];
    for (int m = 0; m < 200; m++) {
        for (int i = 0; i < 4; i++)
            if (annots[i].issued == m) {
                tc_event_t a;
                memset(&a, 0, sizeof(a));
                a.kind = TC_EVENT_ANNOTATION;
                a.time_ms = t0 + m * w;
                a.site = a.user_id = a.session_id = tc_str_c(NULL);
                a.annotation.target = tc_str_c(annots[i].target);
                a.annotation.valid_from_ms = t0 + annots[i].from * w;
                a.annotation.valid_to_ms = annots[i].to ? t0 + annots[i].to * w : 0;
                a.annotation.features = annots[i].f;
                a.annotation.n_features = 2;
                a.annotation.schema = a.annotation.text = tc_str_c(NULL);
                CHECK_OK(tc_pipeline_feed_event(p, &a));
            }
        y[m] = 5 + (m * 3) % 7;
        for (int i = 0; i < y[m]; i++) {
            tc_event_t ev = traffic(t0 + m * w + i * 100, "s", "u");
            CHECK_OK(tc_pipeline_feed_event(p, &ev));
        }
    }
    tc_pipeline_flush(p);
    /* A vector of the wrong size is refused with a reason. */
    tc_event_t bad;
    memset(&bad, 0, sizeof(bad));
    bad.kind = TC_EVENT_ANNOTATION;
    bad.time_ms = t0;
    bad.site = bad.user_id = bad.session_id = tc_str_c(NULL);
    bad.annotation.target = tc_str_c("s");
    bad.annotation.features = annots[0].f;
    bad.annotation.n_features = 1;
    bad.annotation.schema = bad.annotation.text = tc_str_c(NULL);
    CHECK_INT_EQ(tc_pipeline_feed_event(p, &bad), TC_EINVAL);
    CHECK_STR_EQ(tc_pipeline_last_error(p), "annotation has 1 features, exog_dim is 2");
    tc_pipeline_free(p);

    tc_lstm_config_t lc = cfg.lstm_cfg;
    lc.max_horizon = 5;
    lc.bucket_ms = w;
    lc.n_exog = 2;
    tc_lstm_t *m;
    CHECK_OK(tc_lstm_new(&lc, &m));
    int32_t slot = 0;
    int compared = 0, nonzero = 0;
    for (int o = 0; o < 200; o++) {
        int64_t t = t0 + o * w;
        float yo = (float)y[o], x1[2], xh[10], mean[5], sd[5], m1, s1;
        exog_of(o + 1, x1);
        for (int h = 1; h <= 5; h++)
            exog_of(o + h, xh + (h - 1) * 2);
        nonzero += x1[0] != 0;
        CHECK_OK(tc_lstm_step(m, 1, &slot, &t, &yo, x1, true, &m1, &s1));
        CHECK_OK(tc_lstm_forecast(m, 1, &slot, 5, xh, mean, sd));
        CHECK_MSG(rec->have[o], "no LSTM forecast at origin %d", o);
        for (int h = 0; h < 5; h++)
            CHECK_MSG(rec->mean[o][h] == mean[h], "origin %d h %d: %.9g != %.9g", o, h + 1,
                      rec->mean[o][h], mean[h]);
        compared++;
    }
    CHECK_INT_EQ(compared, 200);
    CHECK(nonzero > 100);
    tc_lstm_free(m);
    free(rec);
}

/*
 * An executor that defers jobs and runs them only when waited for, plus one
 * that runs them in submission order at every 3rd submission: both give the
 * inline results, because a fit is used at a fixed bucket count.
 */
typedef struct lazy_exec {
    tc_pipeline_job_t *queue[64];
    int n, submitted, waited, released;
} lazy_exec_t;

static int lazy_submit(void *ud, tc_pipeline_job_t *job)
{
    lazy_exec_t *e = ud;
    e->submitted++;
    if (e->n == 64)
        return -1; /* full: the pipeline runs it inline */
    e->queue[e->n++] = job;
    tc_pipeline_job_set_user(job, e);
    if (e->submitted % 3 == 0) { /* run everything queued so far */
        for (int i = 0; i < e->n; i++)
            tc_pipeline_job_run(e->queue[i]);
        e->n = 0;
    }
    return 0;
}

static void lazy_wait(void *ud, tc_pipeline_job_t *job)
{
    lazy_exec_t *e = ud;
    e->waited++;
    for (int i = 0; i < e->n; i++)
        if (e->queue[i] == job) {
            tc_pipeline_job_run(job);
            e->queue[i] = e->queue[--e->n];
            break;
        }
}

static void lazy_release(void *ud, tc_pipeline_job_t *job)
{
    lazy_exec_t *e = ud;
    (void)job;
    e->released++;
}

TC_TEST(pipeline_sarima_jobs_off_thread_are_deterministic)
{
    nasa_t d;
    CHECK(nasa_load(&d) == 0);
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    cfg.keying.mode = TC_SERIESKEY_SITE; /* one series; refits make many jobs */
    cfg.window.lateness_ms = 0;
    cfg.season = 30;
    cfg.horizon = 10;
    cfg.publish = TC_PIPELINE_PUBLISH_ALL;
    cfg.arima = true;
    cfg.arima_fit_after = 40;
    cfg.arima_refit_every = 25;
    cfg.arima_apply_lag = 7;
    rec_t r1 = {0}, r2 = {0}, r3 = {0};
    lazy_exec_t ex = {0};
    tc_pipeline_t *p1, *p2, *p3;
    tc_pipeline_sink_t s1 = {.ctx = &r1, .forecast = rec_forecast};
    CHECK_OK(tc_pipeline_new(&cfg, &s1, &p1)); /* inline */
    tc_pipeline_config_t c2 = cfg;
    c2.executor = (tc_pipeline_executor_t){&ex, lazy_submit, lazy_wait, lazy_release};
    tc_pipeline_sink_t s2 = {.ctx = &r2, .forecast = rec_forecast};
    CHECK_OK(tc_pipeline_new(&c2, &s2, &p2));
    tc_pipeline_sink_t s3 = {.ctx = &r3, .forecast = rec_forecast};
    CHECK_OK(tc_pipeline_new(&c2, &s3, &p3)); /* restored from p2 midway */
    size_t cut = 20000;
    for (size_t i = 0; i < d.n; i++) {
        tc_event_t ev = traffic(d.t[i], "nasa", d.host[i]);
        CHECK_OK(tc_pipeline_feed_event(p1, &ev));
        CHECK_OK(tc_pipeline_feed_event(p2, &ev));
        if (i + 1 == cut) {
            uint8_t *buf;
            size_t len;
            CHECK_OK(tc_pipeline_snapshot(p2, "g", 0, NULL, 0, 0, &buf, &len));
            CHECK_OK(tc_pipeline_restore(p3, buf, len, NULL, NULL));
            free(buf);
            r3.len = 0;
            if (r3.text)
                r3.text[0] = '\0';
        }
        if (i + 1 > cut)
            CHECK_OK(tc_pipeline_feed_event(p3, &ev));
    }
    tc_pipeline_flush(p1);
    tc_pipeline_flush(p2);
    tc_pipeline_flush(p3);
    CHECK(ex.submitted > 20);
    CHECK_INT_EQ(r1.len, r2.len);
    CHECK(memcmp(r1.text, r2.text, r1.len) == 0);
    /* p3's outputs are the tail of p1's. */
    CHECK(r3.len > 0 && r3.len < r1.len);
    CHECK(memcmp(r1.text + r1.len - r3.len, r3.text, r3.len) == 0);
    tc_pipeline_free(p1);
    tc_pipeline_free(p2);
    tc_pipeline_free(p3);
    CHECK_INT_EQ(ex.n, 0);
    CHECK_INT_EQ(ex.released, ex.waited);
    free(r1.text);
    free(r2.text);
    free(r3.text);
    free(d.t);
    free(d.host);
}

/*
 * Churn population refits run as executor jobs and are used a fixed event
 * time later: inline, deferred and restored-with-a-refit-in-flight pipelines
 * publish the same scores and alerts.
 */
TC_TEST(pipeline_churn_refits_off_thread_are_deterministic)
{
    nasa_t d;
    CHECK(nasa_load(&d) == 0);
    tc_pipeline_config_t cfg;
    tc_pipeline_config_default(&cfg);
    cfg.window.lateness_ms = 0;
    cfg.churn = true;
    cfg.churn_cfg.time_unit_s = 60; /* minutes: the NASA day is short */
    cfg.churn_cfg.horizon = 30;
    cfg.churn_cfg.visit_gap_ms = 600000;
    cfg.churn_cfg.alert_threshold = 0.9;
    cfg.churn_sweep_every_ms = 600000;
    cfg.churn_refit_every_ms = 1200000;
    cfg.churn_refit_apply_ms = 900000; /* a refit is in flight 3/4 of the time */
    memcpy(cfg.churn_secret, "0123456789abcdef", 16);
    cfg.churn_secret_len = 16;
    rec_t r1 = {0}, r2 = {0}, r3 = {0};
    lazy_exec_t ex = {0};
    tc_pipeline_t *p1, *p2, *p3;
    tc_pipeline_sink_t s1 = {.ctx = &r1, .churn_score = rec_churn_score, .churn_alert = rec_churn_alert};
    CHECK_OK(tc_pipeline_new(&cfg, &s1, &p1)); /* inline */
    tc_pipeline_config_t c2 = cfg;
    c2.executor = (tc_pipeline_executor_t){&ex, lazy_submit, lazy_wait, lazy_release};
    tc_pipeline_sink_t s2 = {.ctx = &r2, .churn_score = rec_churn_score, .churn_alert = rec_churn_alert};
    CHECK_OK(tc_pipeline_new(&c2, &s2, &p2));
    tc_pipeline_sink_t s3 = {.ctx = &r3, .churn_score = rec_churn_score, .churn_alert = rec_churn_alert};
    CHECK_OK(tc_pipeline_new(&c2, &s3, &p3)); /* restored from p2 while a refit is queued */
    size_t cut = 0;
    for (size_t i = 0; i < d.n; i++) {
        tc_event_t ev = traffic(d.t[i], "nasa", d.host[i]);
        CHECK_OK(tc_pipeline_feed_event(p1, &ev));
        CHECK_OK(tc_pipeline_feed_event(p2, &ev));
        if (!cut && i >= 15000 && ex.n > 0) { /* a refit not even computed yet */
            cut = i + 1;
            uint8_t *buf;
            size_t len;
            CHECK_OK(tc_pipeline_snapshot(p2, "g", 0, NULL, 0, 0, &buf, &len));
            CHECK_OK(tc_pipeline_restore(p3, buf, len, NULL, NULL));
            free(buf);
            r3.len = 0;
            if (r3.text)
                r3.text[0] = '\0';
        } else if (cut) {
            CHECK_OK(tc_pipeline_feed_event(p3, &ev));
        }
    }
    CHECK(cut > 0);
    tc_pipeline_stats_t st1, st2, st3;
    tc_pipeline_stats(p1, &st1);
    tc_pipeline_stats(p2, &st2);
    tc_pipeline_stats(p3, &st3);
    CHECK(st1.churn_refits > 30);
    CHECK_INT_EQ(st2.churn_refits, st1.churn_refits);
    CHECK_INT_EQ(st3.churn_refits, st1.churn_refits);
    CHECK(ex.submitted > 30); /* the refits went to the executor */
    CHECK_INT_EQ(r1.len, r2.len);
    CHECK(memcmp(r1.text, r2.text, r1.len) == 0);
    CHECK(r3.len > 0 && r3.len < r1.len);
    CHECK(memcmp(r1.text + r1.len - r3.len, r3.text, r3.len) == 0);
    tc_pipeline_free(p1);
    tc_pipeline_free(p2);
    tc_pipeline_free(p3);
    CHECK_INT_EQ(ex.n, 0);
    CHECK_INT_EQ(ex.released, ex.waited);
    free(r1.text);
    free(r2.text);
    free(r3.text);
    free(d.t);
    free(d.host);
}
