/*
 * pipeline.c - decode -> key -> window -> engines -> sinks for one partition
 * (see pipeline.h for the contract).
 *
 * The window calls back on every closed bucket; the pipeline hands the
 * bucket to the sink and then to the per-(series, metric) tracks, all
 * inside the window's call. Tracks live in a flat array indexed by
 * series * n_metrics + metric slot (registry indices are dense).
 *
 * Seasonal naive forecaster (Hyndman & Athanasopoulos, Forecasting:
 * Principles and Practice, 3rd ed., section 5.5), season s, last time T:
 *     yhat_{T+h} = y_{T+h-s(k)},  k = floor((h-1)/s) + 1,
 *     sd_h = sigma * sqrt(k),     sigma^2 = mean of (y_t - y_{t-s})^2,
 * and before s values exist the naive yhat_{T+h} = y_T with
 *     sd_h = sigma_1 sqrt(h),     sigma_1^2 = mean of (y_t - y_{t-1})^2.
 * Intervals are Gaussian: mean -+ z sd_h, z80 = 1.2816, z95 = 1.9600.
 * The in-sample seasonal-naive MAE is the MASE scale of the accuracy
 * (Hyndman & Koehler 2006).
 */
#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"
#include "tidecast/v1/state.pb-c.h"

#define SNAPSHOT_VERSION 1
#define Z80 1.2815515655446004
#define Z95 1.959963984540054

typedef struct track {
    double *hist; /* season values, ring by time index mod season; NULL = unused */
    uint64_t n;
    double ss_naive, ss_season, sa_season;
    uint64_t n_naive, n_season;
    bool pending;
    int64_t pending_for_ms;
    double pending_mean, pending_lo80, pending_hi80;
    tc_accuracy_t acc;
    tc_autoscale_t as;
} track_t;

struct tc_pipeline {
    tc_pipeline_config_t cfg;
    tc_pipeline_sink_t sink;
    tc_decoder_t *dec;
    tc_registry_t *reg;
    tc_window_t *win;
    tc_event_t ev;
    tc_pipeline_stats_t st;
    char err[256];
    char keybuf[TC_SERIESKEY_MAX + 1];
    /* forecasting */
    unsigned n_metrics;             /* forecast metrics */
    tc_metric_t metrics[TC_METRIC_COUNT];
    track_t *tracks;                /* cap_series * n_metrics */
    size_t cap_series;
    tc_forecast_step_t *steps;      /* horizon */
    double *upper;                  /* horizon */
};

void tc_pipeline_config_default(tc_pipeline_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    tc_decode_limits_default(&cfg->decode);
    cfg->keying.mode = TC_SERIESKEY_SITE;
    cfg->keying.path_depth = 1;
    cfg->window.bucket_ms = 60000;
    cfg->window.lateness_ms = 10000;
    cfg->window.ring = 60;
    cfg->window.hll_precision = 12;
    cfg->window.max_series = 100000;
    cfg->horizon = 0;
    cfg->forecast_metrics = 1u << TC_METRIC_REQUESTS;
    cfg->season = 60;
}

/* Returns the track of (series, metric slot), creating it; NULL if no memory. */
static track_t *track_get(tc_pipeline_t *p, uint32_t series, unsigned slot)
{
    if (series >= p->cap_series) {
        size_t cap = p->cap_series ? p->cap_series : 16;
        while (cap <= series)
            cap *= 2;
        track_t *t = realloc(p->tracks, cap * p->n_metrics * sizeof(*t));
        if (!t)
            return NULL;
        memset(t + p->cap_series * p->n_metrics, 0,
               (cap - p->cap_series) * p->n_metrics * sizeof(*t));
        p->tracks = t;
        p->cap_series = cap;
    }
    track_t *t = &p->tracks[(size_t)series * p->n_metrics + slot];
    if (!t->hist) {
        t->hist = calloc(p->cfg.season, sizeof(*t->hist));
        if (!t->hist)
            return NULL;
        tc_accuracy_init(&t->acc, NAN, 1.0);
        if (p->cfg.autoscale.enabled)
            tc_autoscale_init(&t->as, &p->cfg.autoscale.rule);
    }
    return t;
}

/* Adds the value of the bucket that closed, scoring the pending forecast. */
static void track_observe(const tc_pipeline_t *p, track_t *t, int64_t start_ms, double y)
{
    unsigned s = p->cfg.season;
    if (t->pending && t->pending_for_ms == start_ms)
        tc_accuracy_add_interval(&t->acc, y, t->pending_mean, t->pending_lo80, t->pending_hi80);
    t->pending = false;
    if (t->n >= 1) {
        double e = y - t->hist[(t->n - 1) % s];
        t->ss_naive += e * e;
        t->n_naive++;
    }
    if (t->n >= s) {
        double e = y - t->hist[t->n % s]; /* the value s buckets back */
        t->ss_season += e * e;
        t->sa_season += fabs(e);
        t->n_season++;
        t->acc.scale = t->sa_season / (double)t->n_season;
    }
    t->hist[t->n % s] = y;
    t->n++;
}

/* Seasonal-naive path into p->steps; false while there is too little history. */
static bool track_forecast(const tc_pipeline_t *p, const track_t *t)
{
    unsigned s = p->cfg.season;
    bool seasonal = s > 1 && t->n >= s && t->n_season > 0;
    if (!seasonal && t->n_naive == 0)
        return false;
    double sigma = sqrt(seasonal ? t->ss_season / (double)t->n_season
                                 : t->ss_naive / (double)t->n_naive);
    uint64_t last = t->n - 1; /* time index of the newest value */
    for (unsigned h = 1; h <= p->cfg.horizon; h++) {
        double mean, sd;
        if (seasonal) {
            uint64_t k = (h - 1) / s + 1;
            mean = t->hist[(last + h - s * k) % s];
            sd = sigma * sqrt((double)k);
        } else {
            mean = t->hist[last % s];
            sd = sigma * sqrt((double)h);
        }
        tc_forecast_step_t *st = &p->steps[h - 1];
        st->mean = mean;
        st->lo80 = mean - Z80 * sd;
        st->hi80 = mean + Z80 * sd;
        st->lo95 = mean - Z95 * sd;
        st->hi95 = mean + Z95 * sd;
        p->upper[h - 1] = p->cfg.autoscale.use_80 ? st->hi80 : st->hi95;
    }
    return true;
}

static void run_tracks(tc_pipeline_t *p, uint32_t series, const char *key, size_t key_len,
                       const tc_bucket_t *b)
{
    for (unsigned i = 0; i < p->n_metrics; i++) {
        tc_metric_t m = p->metrics[i];
        track_t *t = track_get(p, series, i);
        if (!t)
            continue; /* out of memory: this series is not forecast */
        track_observe(p, t, b->start_ms, tc_bucket_metric(b, m));
        if (!track_forecast(p, t))
            continue;
        t->pending = true;
        t->pending_for_ms = b->start_ms + p->cfg.window.bucket_ms;
        t->pending_mean = p->steps[0].mean;
        t->pending_lo80 = p->steps[0].lo80;
        t->pending_hi80 = p->steps[0].hi80;
        p->st.forecasts++;
        if (p->sink.forecast) {
            tc_pipeline_forecast_t f = {.series = series,
                                        .key = key,
                                        .key_len = key_len,
                                        .metric = m,
                                        .model = "snaive",
                                        .origin_ms = b->start_ms,
                                        .bucket_ms = p->cfg.window.bucket_ms,
                                        .actual = tc_bucket_metric(b, m),
                                        .horizon = p->cfg.horizon,
                                        .steps = p->steps};
            tc_accuracy_get(&t->acc, &f.accuracy);
            if (p->sink.forecast(p->sink.ctx, &f))
                p->st.sink_errors++;
        }
        if (p->cfg.autoscale.enabled && m == p->cfg.autoscale.metric) {
            tc_autoscale_decision_t d;
            if (tc_autoscale_decide(&p->cfg.autoscale.rule, &t->as, b->start_ms, p->upper,
                                    p->cfg.horizon, p->cfg.autoscale.use_80 ? "p80" : "p95",
                                    &d) == 0 &&
                d.change) {
                p->st.scale_signals++;
                if (p->sink.scale) {
                    tc_pipeline_scale_t sc = {.series = series,
                                              .key = key,
                                              .key_len = key_len,
                                              .current_replicas = d.previous,
                                              .recommended_replicas = d.recommended,
                                              .forecast_upper = d.peak,
                                              .at_h = d.at_h,
                                              .capacity_per_replica =
                                                  p->cfg.autoscale.rule.capacity_per_replica,
                                              .origin_ms = b->start_ms,
                                              .reason = d.reason};
                    if (p->sink.scale(p->sink.ctx, &sc))
                        p->st.sink_errors++;
                }
            }
        }
    }
}

static void on_close(void *ud, uint32_t series, const char *key, size_t key_len,
                     const tc_bucket_t *b)
{
    tc_pipeline_t *p = ud;
    p->st.buckets++;
    if (p->sink.bucket) {
        tc_pipeline_bucket_t out = {.series = series,
                                    .key = key,
                                    .key_len = key_len,
                                    .bucket_ms = p->cfg.window.bucket_ms,
                                    .b = b};
        if (p->sink.bucket(p->sink.ctx, &out))
            p->st.sink_errors++;
    }
    if (p->cfg.horizon)
        run_tracks(p, series, key, key_len, b);
}

int tc_pipeline_new(const tc_pipeline_config_t *cfg, const tc_pipeline_sink_t *sink,
                    tc_pipeline_t **out)
{
    *out = NULL;
    if (cfg->horizon > TC_PIPELINE_MAX_HORIZON || cfg->window.max_series < 1 ||
        cfg->window.max_series >= (1u << 31) || cfg->season < 1 || cfg->season > 100000 ||
        (cfg->forecast_metrics & ~((1u << TC_METRIC_COUNT) - 1)))
        return TC_EINVAL;
    if (cfg->autoscale.enabled &&
        (!cfg->horizon || tc_autoscale_config_check(&cfg->autoscale.rule) ||
         (unsigned)cfg->autoscale.metric >= TC_METRIC_COUNT ||
         !(cfg->forecast_metrics & (1u << cfg->autoscale.metric))))
        return TC_EINVAL;
    tc_pipeline_t *p = calloc(1, sizeof(*p));
    if (!p)
        return TC_ENOMEM;
    p->cfg = *cfg;
    if (sink)
        p->sink = *sink;
    int rc = TC_ENOMEM;
    p->dec = tc_decoder_new(&cfg->decode);
    /* A fixed hash key keeps the registry's layout, hence snapshots, reproducible. */
    static const uint8_t reg_key[TC_REGISTRY_KEYBYTES] = "tidecast-series";
    p->reg = tc_registry_new(cfg->window.max_series, reg_key);
    for (int m = 0; m < TC_METRIC_COUNT; m++)
        if (cfg->forecast_metrics & (1u << m))
            p->metrics[p->n_metrics++] = (tc_metric_t)m;
    if (!p->n_metrics)
        p->cfg.horizon = 0; /* nothing to forecast */
    p->steps = calloc(TC_PIPELINE_MAX_HORIZON, sizeof(*p->steps));
    p->upper = calloc(TC_PIPELINE_MAX_HORIZON, sizeof(*p->upper));
    if (!p->dec || !p->reg || !p->steps || !p->upper)
        goto fail;
    p->win = tc_window_new(&cfg->window, p->reg, on_close, p);
    if (!p->win) {
        rc = TC_EINVAL;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    tc_pipeline_free(p);
    return rc;
}

void tc_pipeline_free(tc_pipeline_t *p)
{
    if (!p)
        return;
    tc_window_free(p->win);
    tc_registry_free(p->reg);
    tc_decoder_free(p->dec);
    for (size_t i = 0; i < p->cap_series * p->n_metrics; i++)
        free(p->tracks[i].hist);
    free(p->tracks);
    free(p->steps);
    free(p->upper);
    free(p);
}

void tc_pipeline_set_sink(tc_pipeline_t *p, const tc_pipeline_sink_t *sink)
{
    if (sink)
        p->sink = *sink;
    else
        memset(&p->sink, 0, sizeof(p->sink));
}

void tc_pipeline_set_now(tc_pipeline_t *p, int64_t now_ms)
{
    tc_decoder_set_now(p->dec, now_ms);
}

const char *tc_pipeline_last_error(const tc_pipeline_t *p)
{
    return p->err;
}

static int malformed(tc_pipeline_t *p, int rc)
{
    p->st.malformed++;
    snprintf(p->err, sizeof(p->err), "%s", tc_decoder_last_error(p->dec));
    return rc;
}

int tc_pipeline_feed_event(tc_pipeline_t *p, const tc_event_t *ev)
{
    p->err[0] = '\0';
    if (ev->kind == TC_EVENT_ANNOTATION) {
        p->st.events++;
        p->st.annotations++;
        return 0;
    }
    size_t klen;
    int rc = tc_serieskey_make(&p->cfg.keying, ev, p->keybuf, sizeof(p->keybuf), &klen);
    if (rc) {
        p->st.malformed++;
        snprintf(p->err, sizeof(p->err), "no series key: %s", tc_strerror(rc));
        return rc;
    }
    uint32_t series;
    rc = tc_registry_intern(p->reg, p->keybuf, klen, &series, NULL);
    if (rc == TC_EFULL) {
        p->st.refused++;
        snprintf(p->err, sizeof(p->err), "series limit reached (%zu series)",
                 (size_t)p->cfg.window.max_series);
        return rc;
    }
    if (rc)
        return rc;
    rc = tc_window_add(p->win, series, ev);
    if (rc == TC_ELATE) {
        p->st.late++;
        tc_window_stats_t ws;
        tc_window_stats(p->win, &ws);
        snprintf(p->err, sizeof(p->err), "late: event time %lld is before closed-until %lld",
                 (long long)ev->time_ms, (long long)ws.closed_until_ms);
        return rc;
    }
    if (rc)
        return rc;
    p->st.events++;
    return 0;
}

int tc_pipeline_feed_json(tc_pipeline_t *p, tc_event_kind_t kind, const char *buf, size_t len)
{
    int rc = tc_decode_json(p->dec, kind, buf, len, &p->ev);
    if (rc)
        return rc == TC_ENOMEM ? rc : malformed(p, rc);
    return tc_pipeline_feed_event(p, &p->ev);
}

int tc_pipeline_feed_pb(tc_pipeline_t *p, tc_event_kind_t kind, const uint8_t *buf, size_t len)
{
    int rc = tc_decode_pb(p->dec, kind, buf, len, &p->ev);
    if (rc)
        return rc == TC_ENOMEM ? rc : malformed(p, rc);
    return tc_pipeline_feed_event(p, &p->ev);
}

int tc_pipeline_feed_envelope(tc_pipeline_t *p, const uint8_t *buf, size_t len)
{
    int rc = tc_decode_envelope(p->dec, buf, len, &p->ev);
    if (rc)
        return rc == TC_ENOMEM ? rc : malformed(p, rc);
    return tc_pipeline_feed_event(p, &p->ev);
}

void tc_pipeline_advance(tc_pipeline_t *p, int64_t t_ms)
{
    tc_window_advance(p->win, t_ms);
}

void tc_pipeline_flush(tc_pipeline_t *p)
{
    tc_window_flush(p->win);
}

void tc_pipeline_stats(const tc_pipeline_t *p, tc_pipeline_stats_t *st)
{
    *st = p->st;
    tc_window_stats_t ws;
    tc_window_stats(p->win, &ws);
    st->series = tc_registry_count(p->reg);
    st->started = ws.started;
    st->watermark_ms = ws.watermark_ms;
}

const char *tc_pipeline_series_key(const tc_pipeline_t *p, uint32_t series, size_t *len)
{
    return tc_registry_key(p->reg, series, len);
}

/* The fields of tc_accuracy_t in declaration order (TrackState.accuracy). */
#define ACC_FIELDS(X) X(scale) X(rho) X(w) X(sum_abs) X(sum_sq) X(sum_smape) X(mean_y) X(m2_y) \
    X(w_int) X(w_cov)
#define ACC_COUNT_(f) +1
enum { N_ACC = 0 ACC_FIELDS(ACC_COUNT_) };

int tc_pipeline_snapshot(const tc_pipeline_t *p, const char *group, int32_t partition,
                         const tc_pipeline_offset_t *offsets, size_t n_offsets,
                         int64_t taken_at_ms, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int rc = TC_ENOMEM;
    Tidecast__V1__Snapshot snap = TIDECAST__V1__SNAPSHOT__INIT;
    Tidecast__V1__PipelineState ps = TIDECAST__V1__PIPELINE_STATE__INIT;
    Tidecast__V1__PipelineCounters pc = TIDECAST__V1__PIPELINE_COUNTERS__INIT;
    Tidecast__V1__TopicOffset *offs = NULL, **offp = NULL;
    Tidecast__V1__TrackState *tracks = NULL, **trackp = NULL;
    double *acc = NULL;
    uint8_t *win = NULL;
    size_t win_len = 0, n_tracks = 0;

    if (tc_window_snapshot(p->win, &win, &win_len))
        goto out;
    snap.version = SNAPSHOT_VERSION;
    snap.group = (char *)(group ? group : "");
    snap.partition = partition;
    snap.taken_at_ms = taken_at_ms;
    tc_window_stats_t ws;
    tc_window_stats(p->win, &ws);
    snap.watermark_ms = ws.started ? ws.watermark_ms : 0;
    if (n_offsets) {
        offs = calloc(n_offsets, sizeof(*offs));
        offp = calloc(n_offsets, sizeof(*offp));
        if (!offs || !offp)
            goto out;
        for (size_t i = 0; i < n_offsets; i++) {
            tidecast__v1__topic_offset__init(&offs[i]);
            offs[i].topic = (char *)offsets[i].topic;
            offs[i].offset = offsets[i].offset;
            offp[i] = &offs[i];
        }
        snap.n_offsets = n_offsets;
        snap.offsets = offp;
    }
    pc.events = p->st.events;
    pc.annotations = p->st.annotations;
    pc.malformed = p->st.malformed;
    pc.late = p->st.late;
    pc.refused = p->st.refused;
    pc.buckets = p->st.buckets;
    pc.forecasts = p->st.forecasts;
    pc.scale_signals = p->st.scale_signals;
    pc.sink_errors = p->st.sink_errors;
    ps.counters = &pc;
    ps.window.data = win;
    ps.window.len = win_len;
    ps.season = p->cfg.season;
    ps.forecast_metrics = p->cfg.forecast_metrics;

    size_t n_all = p->cap_series * p->n_metrics;
    for (size_t i = 0; i < n_all; i++)
        n_tracks += p->tracks[i].hist != NULL;
    if (n_tracks) {
        tracks = calloc(n_tracks, sizeof(*tracks));
        trackp = calloc(n_tracks, sizeof(*trackp));
        acc = calloc(n_tracks * N_ACC, sizeof(*acc));
        if (!tracks || !trackp || !acc)
            goto out;
    }
    for (size_t i = 0, k = 0; i < n_all; i++) {
        const track_t *t = &p->tracks[i];
        if (!t->hist)
            continue;
        Tidecast__V1__TrackState *ts = &tracks[k];
        tidecast__v1__track_state__init(ts);
        ts->series = (uint32_t)(i / p->n_metrics);
        ts->metric = (uint32_t)p->metrics[i % p->n_metrics];
        ts->n_history = p->cfg.season;
        ts->history = t->hist;
        ts->n = t->n;
        ts->ss_naive = t->ss_naive;
        ts->n_naive = t->n_naive;
        ts->ss_season = t->ss_season;
        ts->sa_season = t->sa_season;
        ts->n_season = t->n_season;
        ts->pending = t->pending;
        ts->pending_for_ms = t->pending_for_ms;
        ts->pending_mean = t->pending_mean;
        ts->pending_lo80 = t->pending_lo80;
        ts->pending_hi80 = t->pending_hi80;
        double *a = acc + k * N_ACC;
        size_t j = 0;
#define ACC_PUT_(f) a[j++] = t->acc.f;
        ACC_FIELDS(ACC_PUT_)
#undef ACC_PUT_
        ts->n_accuracy = N_ACC;
        ts->accuracy = a;
        ts->replicas = t->as.replicas;
        ts->scaled_once = t->as.changed_once;
        ts->last_scale_ms = t->as.last_change_ms;
        trackp[k++] = ts;
    }
    ps.n_tracks = n_tracks;
    ps.tracks = trackp;
    snap.pipeline = &ps;

    *len = tidecast__v1__snapshot__get_packed_size(&snap);
    *buf = malloc(*len ? *len : 1);
    if (!*buf) {
        *len = 0;
        goto out;
    }
    tidecast__v1__snapshot__pack(&snap, *buf);
    rc = 0;
out:
    free(win);
    free(offs);
    free(offp);
    free(tracks);
    free(trackp);
    free(acc);
    return rc;
}

static bool pipeline_fresh(const tc_pipeline_t *p)
{
    tc_window_stats_t ws;
    tc_window_stats(p->win, &ws);
    return !ws.started && tc_registry_count(p->reg) == 0 && p->st.events == 0 &&
           p->st.malformed == 0;
}

int tc_pipeline_restore(tc_pipeline_t *p, const uint8_t *buf, size_t len,
                        void (*offset_cb)(void *ud, const char *topic, int64_t offset), void *ud)
{
    if (!pipeline_fresh(p))
        return TC_EINVAL;
    Tidecast__V1__Snapshot *snap = tidecast__v1__snapshot__unpack(NULL, len, buf);
    if (!snap)
        return TC_EPARSE;
    int rc = TC_EVERSION;
    if (snap->version != SNAPSHOT_VERSION)
        goto out;
    rc = TC_ECORRUPT;
    const Tidecast__V1__PipelineState *ps = snap->pipeline;
    if (!ps || !ps->counters)
        goto out;
    rc = TC_EINVAL;
    if (ps->season != p->cfg.season || ps->forecast_metrics != p->cfg.forecast_metrics)
        goto out;
    rc = tc_window_restore(p->win, p->reg, ps->window.data, ps->window.len);
    if (rc)
        goto out;
    /* Validate every track before touching the pipeline's tracks. */
    rc = TC_ECORRUPT;
    size_t n_series = tc_registry_count(p->reg);
    for (size_t i = 0; i < ps->n_tracks; i++) {
        const Tidecast__V1__TrackState *ts = ps->tracks[i];
        if (ts->series >= n_series || ts->metric >= TC_METRIC_COUNT ||
            !(p->cfg.forecast_metrics & (1u << ts->metric)) || ts->n_history != p->cfg.season ||
            ts->n_accuracy != N_ACC)
            goto out;
    }
    for (size_t i = 0; i < ps->n_tracks; i++) {
        const Tidecast__V1__TrackState *ts = ps->tracks[i];
        unsigned slot = 0;
        while (p->metrics[slot] != (tc_metric_t)ts->metric)
            slot++;
        track_t *t = track_get(p, ts->series, slot);
        if (!t) {
            rc = TC_ENOMEM;
            goto out;
        }
        memcpy(t->hist, ts->history, p->cfg.season * sizeof(*t->hist));
        t->n = ts->n;
        t->ss_naive = ts->ss_naive;
        t->n_naive = ts->n_naive;
        t->ss_season = ts->ss_season;
        t->sa_season = ts->sa_season;
        t->n_season = ts->n_season;
        t->pending = ts->pending;
        t->pending_for_ms = ts->pending_for_ms;
        t->pending_mean = ts->pending_mean;
        t->pending_lo80 = ts->pending_lo80;
        t->pending_hi80 = ts->pending_hi80;
        size_t j = 0;
#define ACC_GET_(f) t->acc.f = ts->accuracy[j++];
        ACC_FIELDS(ACC_GET_)
#undef ACC_GET_
        t->as.replicas = ts->replicas;
        t->as.changed_once = ts->scaled_once;
        t->as.last_change_ms = ts->last_scale_ms;
    }
    const Tidecast__V1__PipelineCounters *pc = ps->counters;
    p->st.events = pc->events;
    p->st.annotations = pc->annotations;
    p->st.malformed = pc->malformed;
    p->st.late = pc->late;
    p->st.refused = pc->refused;
    p->st.buckets = pc->buckets;
    p->st.forecasts = pc->forecasts;
    p->st.scale_signals = pc->scale_signals;
    p->st.sink_errors = pc->sink_errors;
    if (offset_cb)
        for (size_t i = 0; i < snap->n_offsets; i++)
            offset_cb(ud, snap->offsets[i]->topic, snap->offsets[i]->offset);
    rc = 0;
out:
    tidecast__v1__snapshot__free_unpacked(snap, NULL);
    return rc;
}
