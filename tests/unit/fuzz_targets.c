/*
 * fuzz_targets.c - the one-input fuzz targets of fuzz_targets.h.
 *
 * The checks are the written contracts: decode.h (codes and the validated
 * event), pipeline.h (feed codes), the restore functions of window.h,
 * arima.h, lstm.h, churn.h and pipeline.h (codes; a restored object must
 * keep working), daemon/config.h (an error names file:line) and
 * daemon/source.h (frame statuses and sizes). Accepted events are also
 * encoded back (protobuf and JSON) and decoded again, which must give the
 * same event, and closed buckets are written by the daemon's NDJSON writer
 * and read back, which must give a JSON object naming the series.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arima.h"
#include "churn.h"
#include "daemon/config.h"
#include "daemon/output.h"
#include "daemon/source.h"
#include "decode.h"
#include "error.h"
#include "lstm.h"
#include "pipeline.h"
#include "registry.h"
#include "tests/unit/fuzz_targets.h"
#include "window.h"

#define FUZZ_MAX_SERIES 32
#define FUZZ_RECYCLE 400
#define FUZZ_MAX_JUMP_MS (45LL * 86400000) /* 1080 hourly buckets */ /* pipeline inputs between snapshot + restore cycles */

struct fuzz_ctx {
    tc_decoder_t *dec;
    tc_pipeline_t *pipes[3]; /* by era: NASA's day, CDNOW's 1997-98, other times */
    int era;
    tc_pipeline_t *pipe;     /* pipes[era], kept there by select_era */
    size_t pipe_inputs;
    char *out;       /* bucket lines of the current input */
    size_t out_len;
    FILE *out_fp;
    const char *why; /* first violation inside a sink callback */
    char conf_path[512];
    size_t decoded, fed, restarts;
    size_t by_code[64]; /* pipeline feed results by -code */
    uint8_t *enc;    /* re-encoding buffer */
    size_t enc_cap;
    char msg[512];
};

static const char *violation(fuzz_ctx_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *violation(fuzz_ctx_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
    return f->msg;
}

static bool is_decode_code(int rc)
{
    return rc == TC_EPARSE || rc == TC_EMISSING_KEY || rc == TC_EBAD_TYPE ||
           rc == TC_EBAD_TIMESTAMP || rc == TC_EOVERSIZED || rc == TC_EUNKNOWN_TYPE ||
           rc == TC_ENAN;
}

/* ------------------------------------------------------------------ pipeline */

static void pipe_config(tc_pipeline_config_t *cfg)
{
    tc_pipeline_config_default(cfg);
    cfg->decode.max_future_ms = 3600000;
    /* Hourly buckets: every bucket between two events is closed and stepped
     * through the models, so a jump of event time costs in proportion to its
     * length (see fuzz_decode). */
    cfg->window.bucket_ms = 3600000;
    cfg->window.lateness_ms = 2 * 86400000LL; /* mutants of any seed mostly in time */
    cfg->window.max_series = FUZZ_MAX_SERIES;
    cfg->season = 10;
    cfg->horizon = 5;
    cfg->forecast_metrics = (1u << TC_METRIC_REQUESTS) | (1u << TC_METRIC_REVENUE);
    cfg->arima = true;
    cfg->arima_fit_after = 8;
    cfg->arima_refit_every = 0;
    cfg->lstm = true;
    cfg->lstm_cfg.hidden = 16;
    cfg->lstm_cfg.max_series = 4;
    cfg->lstm_cfg.max_batch = 4;
    cfg->lstm_cfg.season = 10;
    cfg->lstm_cfg.bucket_ms = 3600000;
    cfg->exog_dim = 2;
    cfg->max_annotations = 4;
    cfg->publish = TC_PIPELINE_PUBLISH_ALL;
    cfg->churn = true;
    cfg->churn_cfg.max_users = 2000;
    cfg->churn_cfg.time_unit_s = 60;
    cfg->churn_cfg.horizon = 30;
    cfg->churn_cfg.visit_gap_ms = 600000;
    cfg->churn_sweep_every_ms = 600000;
    cfg->churn_sweep_users = 500;
    memcpy(cfg->churn_secret, "fuzzing-secret-0123456789", 25);
    cfg->churn_secret_len = 25;
    cfg->autoscale.enabled = true;
    cfg->autoscale.metric = TC_METRIC_REQUESTS;
    cfg->autoscale.rule = (tc_autoscale_config_t){.capacity_per_replica = 10, .min_replicas = 1,
                                                  .max_replicas = 50, .down_margin = 0.2,
                                                  .cooldown_ms = 600000};
}

/* Writes the bucket as the daemon's file sink does and reads it back. */
static int sink_bucket(void *ctx, const tc_pipeline_bucket_t *b)
{
    fuzz_ctx_t *f = ctx;
    if (f->why || !f->out_fp)
        return 0;
    long start = ftell(f->out_fp);
    int rc = tc_output_bucket(f->out_fp, b, 0x3f);
    fflush(f->out_fp);
    if (rc) {
        f->why = violation(f, "tc_output_bucket returned %s for series '%.*s'", tc_errname(rc),
                           (int)(b->key_len > 64 ? 64 : b->key_len), b->key);
        return 0;
    }
    json_error_t jerr;
    json_t *o = json_loadb(f->out + start, f->out_len - (size_t)start, 0, &jerr);
    json_t *s = o ? json_object_get(o, "series") : NULL;
    if (!o || !json_is_string(s) || json_string_length(s) != b->key_len ||
        memcmp(json_string_value(s), b->key, b->key_len))
        f->why = violation(f, "bucket line of series '%.*s' (%zu bytes) does not name it: %.200s",
                           (int)(b->key_len > 64 ? 64 : b->key_len), b->key, b->key_len,
                           f->out + start);
    json_decref(o);
    return 0;
}

static int sink_forecast(void *ctx, const tc_pipeline_forecast_t *fc)
{
    fuzz_ctx_t *f = ctx;
    if (f->why)
        return 0;
    if (fc->horizon > TC_PIPELINE_MAX_HORIZON || !fc->model || !fc->key)
        f->why = violation(f, "forecast with horizon %zu, model %p", fc->horizon,
                           (const void *)fc->model);
    return 0;
}

static tc_pipeline_t *pipe_new(fuzz_ctx_t *f)
{
    tc_pipeline_config_t cfg;
    pipe_config(&cfg);
    tc_pipeline_sink_t sink = {f, sink_bucket, sink_forecast, NULL, NULL, NULL};
    tc_pipeline_t *p = NULL;
    if (tc_pipeline_new(&cfg, &sink, &p))
        return NULL;
    tc_pipeline_set_now(p, FUZZ_NOW_MS);
    return p;
}

/* Snapshot the fuzzed pipeline and go on with a restored copy: strange
 * accepted input must survive a checkpoint too. */
static const char *pipe_recycle(fuzz_ctx_t *f)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = tc_pipeline_snapshot(f->pipe, "g", 0, NULL, 0, 1, &buf, &len);
    if (rc)
        return violation(f, "pipeline snapshot after fuzzed input: %s", tc_errname(rc));
    tc_pipeline_t *p = pipe_new(f);
    if (!p) {
        free(buf);
        return violation(f, "pipeline_new failed");
    }
    rc = tc_pipeline_restore(p, buf, len, NULL, NULL);
    free(buf);
    if (rc) {
        tc_pipeline_free(p);
        return violation(f, "restoring a snapshot of fuzzed state: %s", tc_errname(rc));
    }
    tc_pipeline_free(f->pipe);
    f->pipe = p;
    return NULL;
}

fuzz_ctx_t *fuzz_new(const char *tmpdir)
{
    fuzz_ctx_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    tc_decode_limits_t lim;
    tc_decode_limits_default(&lim);
    f->dec = tc_decoder_new(&lim);
    f->out_fp = open_memstream(&f->out, &f->out_len);
    f->enc_cap = 4 * 65536;
    f->enc = malloc(f->enc_cap);
    snprintf(f->conf_path, sizeof(f->conf_path), "%s/fuzz.conf", tmpdir ? tmpdir : "/tmp");
    if (!f->dec || !f->out_fp || !f->enc) {
        fuzz_free(f);
        return NULL;
    }
    tc_decoder_set_now(f->dec, FUZZ_NOW_MS);
    f->pipes[0] = pipe_new(f);
    f->pipes[1] = pipe_new(f);
    f->pipes[2] = pipe_new(f);
    f->pipe = f->pipes[0];
    if (!f->pipes[0] || !f->pipes[1] || !f->pipes[2]) {
        fuzz_free(f);
        return NULL;
    }
    return f;
}

void fuzz_free(fuzz_ctx_t *f)
{
    if (!f)
        return;
    f->pipes[f->era] = f->pipe;
    tc_pipeline_free(f->pipes[0]);
    tc_pipeline_free(f->pipes[1]);
    tc_pipeline_free(f->pipes[2]);
    tc_decoder_free(f->dec);
    if (f->out_fp)
        fclose(f->out_fp);
    free(f->out);
    free(f->enc);
    free(f);
}

void fuzz_counts(const fuzz_ctx_t *f, size_t *decoded, size_t *fed, size_t *restarts)
{
    *restarts = f->restarts;
    if (getenv("TC_FUZZ_VERBOSE"))
        for (int i = 0; i < 64; i++)
            if (f->by_code[i])
                fprintf(stderr, "  pipeline %s: %zu\n", tc_errname(-i), f->by_code[i]);
    *decoded = f->decoded;
    *fed = f->fed;
}

/* -------------------------------------------------------------------- decode */

static bool view_ok(tc_str_t s, size_t max)
{
    return s.ptr && s.len <= max && s.ptr[s.len] == '\0' && !memchr(s.ptr, 0, s.len);
}

/* The invariants decode.h promises for an accepted event. */
static const char *check_event(fuzz_ctx_t *f, const tc_event_t *ev, tc_event_kind_t want)
{
    tc_decode_limits_t lim;
    tc_decode_limits_default(&lim);
    size_t ms = lim.max_string_bytes;
    if (ev->kind < TC_EVENT_TRAFFIC || ev->kind > TC_EVENT_ANNOTATION ||
        (want != TC_EVENT_NONE && ev->kind != want))
        return violation(f, "accepted event has kind %d (wanted %d)", (int)ev->kind, (int)want);
    if (ev->time_ms < lim.min_time_ms || ev->time_ms > FUZZ_NOW_MS + lim.max_future_ms)
        return violation(f, "accepted event time %lld out of range", (long long)ev->time_ms);
    if (!view_ok(ev->site, ms) || !view_ok(ev->user_id, ms) || !view_ok(ev->session_id, ms))
        return violation(f, "accepted event has a bad common string view");
    switch (ev->kind) {
    case TC_EVENT_TRAFFIC: {
        const tc_traffic_t *t = &ev->traffic;
        if (!ev->site.len)
            return violation(f, "accepted traffic event without site");
        if (!view_ok(t->path, ms) || !view_ok(t->method, ms) || !view_ok(t->referrer, ms) ||
            !view_ok(t->ua_class, ms))
            return violation(f, "accepted traffic event has a bad string view");
        if (!isfinite(t->latency_ms))
            return violation(f, "accepted traffic event has latency %g", t->latency_ms);
        break;
    }
    case TC_EVENT_BEHAVIOR:
        if (!ev->site.len || !ev->user_id.len)
            return violation(f, "accepted behavior event without site or user");
        if ((int)ev->behavior.type < 0 || (int)ev->behavior.type >= TC_BEHAVIOR_COUNT)
            return violation(f, "accepted behavior type %d", (int)ev->behavior.type);
        if (!isfinite(ev->behavior.value))
            return violation(f, "accepted behavior value %g", ev->behavior.value);
        break;
    default: {
        const tc_annotation_t *a = &ev->annotation;
        if (!a->target.len || !view_ok(a->target, ms) || !view_ok(a->schema, ms) ||
            !view_ok(a->text, lim.max_text_bytes))
            return violation(f, "accepted annotation has a bad string view");
        if (a->n_features > lim.max_features || (a->n_features && !a->features))
            return violation(f, "accepted annotation has %zu features", a->n_features);
        for (size_t i = 0; i < a->n_features; i++)
            if (!isfinite(a->features[i]))
                return violation(f, "accepted annotation feature %zu is %g", i,
                                 (double)a->features[i]);
        if (a->valid_to_ms && a->valid_to_ms <= a->valid_from_ms)
            return violation(f, "accepted annotation valid [%lld, %lld)",
                             (long long)a->valid_from_ms, (long long)a->valid_to_ms);
        if (ev->site.len || ev->user_id.len || ev->session_id.len)
            return violation(f, "accepted annotation has site, user or session");
        break;
    }
    }
    return NULL;
}

static bool same_str(tc_str_t a, tc_str_t b)
{
    return a.len == b.len && !memcmp(a.ptr, b.ptr, a.len);
}

/* The fields both encodings carry exactly. */
static bool same_event(const tc_event_t *a, const tc_event_t *b)
{
    if (a->kind != b->kind || a->time_ms != b->time_ms || !same_str(a->site, b->site) ||
        !same_str(a->user_id, b->user_id) || !same_str(a->session_id, b->session_id))
        return false;
    switch (a->kind) {
    case TC_EVENT_TRAFFIC:
        return same_str(a->traffic.path, b->traffic.path) &&
               same_str(a->traffic.method, b->traffic.method) &&
               same_str(a->traffic.referrer, b->traffic.referrer) &&
               same_str(a->traffic.ua_class, b->traffic.ua_class) &&
               a->traffic.status == b->traffic.status && a->traffic.bytes == b->traffic.bytes;
    case TC_EVENT_BEHAVIOR:
        return a->behavior.type == b->behavior.type &&
               a->behavior.quantity == b->behavior.quantity;
    default:
        return same_str(a->annotation.target, b->annotation.target) &&
               same_str(a->annotation.schema, b->annotation.schema) &&
               same_str(a->annotation.text, b->annotation.text) &&
               a->annotation.valid_from_ms == b->annotation.valid_from_ms &&
               a->annotation.valid_to_ms == b->annotation.valid_to_ms &&
               a->annotation.n_features == b->annotation.n_features;
    }
}

/* Encodes the accepted event again (protobuf, then JSON) and decodes it with
 * a second decoder: the same event must come back. */
static const char *round_trip(fuzz_ctx_t *f, const tc_event_t *ev)
{
    const char *why = NULL;
    tc_decoder_t *d2 = tc_decoder_new(NULL);
    if (!d2)
        return violation(f, "decoder_new failed");
    tc_decoder_set_now(d2, FUZZ_NOW_MS);
    size_t len = 0;
    tc_event_t back;
    int rc = tc_encode_pb(ev, f->enc, f->enc_cap, &len);
    if (rc) {
        why = violation(f, "re-encoding an accepted event (protobuf): %s", tc_errname(rc));
        goto out;
    }
    rc = tc_decode_pb(d2, ev->kind, f->enc, len, &back);
    if (rc || !same_event(ev, &back)) {
        why = violation(f, "protobuf round trip of an accepted event: %s (%s)", tc_errname(rc),
                        tc_decoder_last_error(d2));
        goto out;
    }
    rc = tc_encode_json(ev, (char *)f->enc, f->enc_cap, &len);
    if (rc) {
        /* jansson refuses strings that are not UTF-8; decoders of protobuf
         * must then have refused them first. */
        why = violation(f, "re-encoding an accepted event (JSON): %s", tc_errname(rc));
        goto out;
    }
    rc = tc_decode_json(d2, TC_EVENT_NONE, (const char *)f->enc, len, &back);
    if (rc || !same_event(ev, &back))
        why = violation(f, "JSON round trip of an accepted event: %s (%s): %.200s",
                        tc_errname(rc), tc_decoder_last_error(d2), (const char *)f->enc);
out:
    tc_decoder_free(d2);
    return why;
}

/* Events of the two data sets are two years apart, and mutated times land
 * anywhere: each has its own pipeline so that mutants of one set are not all
 * late in the other's. */
static int era_of(const tc_event_t *ev)
{
    if (ev->time_ms >= 807235200000LL && ev->time_ms < 807408000000LL) /* 1995-08-01..02 */
        return 0;
    if (ev->time_ms >= 852076800000LL && ev->time_ms < 899251200000LL) /* 1997-01..1998-06 */
        return 1;
    return 2;
}

static void select_era(fuzz_ctx_t *f, int era)
{
    f->pipes[f->era] = f->pipe;
    f->era = era;
    f->pipe = f->pipes[era];
}

const char *fuzz_decode(fuzz_ctx_t *f, const uint8_t *data, size_t len)
{
    if (!len)
        return NULL;
    int mode = data[0] % FUZZ_DECODE_MODES;
    const uint8_t *m = data + 1;
    size_t n = len - 1;
    tc_event_t ev;
    tc_event_kind_t kind = TC_EVENT_NONE;
    int rc;
    if (mode <= 2) {
        kind = (tc_event_kind_t)(mode + 1);
        rc = tc_decode_pb(f->dec, kind, m, n, &ev);
    } else if (mode == 3) {
        rc = tc_decode_envelope(f->dec, m, n, &ev);
    } else {
        kind = (tc_event_kind_t)(mode - 4);
        rc = tc_decode_json(f->dec, kind, (const char *)m, n, &ev);
    }
    if (rc && !is_decode_code(rc))
        return violation(f, "decode mode %d returned %d (%s)", mode, rc, tc_errname(rc));
    if (rc && !*tc_decoder_last_error(f->dec))
        return violation(f, "decode mode %d refused input (%s) without a reason", mode,
                         tc_errname(rc));
    if (!rc) {
        const char *why = check_event(f, &ev, kind);
        if (!why)
            why = round_trip(f, &ev);
        if (why)
            return why;
        f->decoded++;
    }

    /* The same bytes through the pipeline, as the daemon feeds them. The
     * window closes, and the models step through, every bucket between the
     * newest event and the next: an accepted event far ahead of the others
     * costs time in proportion to the gap (a year of hourly buckets is about
     * a second here). Such jumps start a fresh pipeline instead, so that the
     * run stays short; the cost itself is measured, not fuzzed. */
    select_era(f, rc ? data[0] % 3 : era_of(&ev));
    if (!rc && ev.kind != TC_EVENT_ANNOTATION) {
        tc_pipeline_stats_t st;
        tc_pipeline_stats(f->pipe, &st);
        if (st.started && ev.time_ms - st.watermark_ms > FUZZ_MAX_JUMP_MS) {
            tc_pipeline_t *p = pipe_new(f);
            if (!p)
                return violation(f, "pipeline_new failed");
            tc_pipeline_free(f->pipe);
            f->pipe = p;
            f->restarts++;
        }
    }
    f->why = NULL;
    if (f->out_fp) {
        rewind(f->out_fp);
        fflush(f->out_fp);
    }
    int prc;
    if (mode <= 2)
        prc = tc_pipeline_feed_pb(f->pipe, kind, m, n);
    else if (mode == 3)
        prc = tc_pipeline_feed_envelope(f->pipe, m, n);
    else
        prc = tc_pipeline_feed_json(f->pipe, kind, (const char *)m, n);
    if (prc && !is_decode_code(prc) && prc != TC_ELATE && prc != TC_EFULL && prc != TC_ENOMEM &&
        prc != TC_EINVAL)
        return violation(f, "pipeline feed mode %d returned %d (%s)", mode, prc,
                         tc_errname(prc));
    /* The pipeline refuses what the decoder refused; it may refuse more
     * (late, series limit, a site or annotation target that makes no series
     * key: serieskey.h has its own length limit and drops a trailing dot). */
    bool no_key = prc == TC_EOVERSIZED || prc == TC_EMISSING_KEY;
    if ((rc && !prc) || (!rc && is_decode_code(prc) && !no_key))
        return violation(f, "decoder said %s, pipeline said %s (%s)", tc_errname(rc),
                         tc_errname(prc), tc_pipeline_last_error(f->pipe));
    if (f->why)
        return f->why;
    if (!prc)
        f->fed++;
    if (-prc < 64)
        f->by_code[-prc]++;
    if (++f->pipe_inputs % FUZZ_RECYCLE == 0)
        return pipe_recycle(f);
    return NULL;
}

/* ----------------------------------------------------------------- snapshots */

static void window_config(tc_window_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->bucket_ms = 60000;
    c->lateness_ms = 30000;
    c->ring = 16;
    c->max_series = FUZZ_MAX_SERIES;
}

static void lstm_config(tc_lstm_config_t *c)
{
    tc_lstm_config_default(c);
    c->hidden = 16;
    c->n_exog = 2;
    c->season = 10;
    c->bptt = 4;
    c->max_series = 8;
    c->max_batch = 8;
    c->max_horizon = 8;
    c->bucket_ms = 60000;
    c->seed = 3;
}

static void churn_config(tc_churn_config_t *c)
{
    tc_churn_config_default(c);
    c->max_users = 4000;
    c->keep_raw_ids = true;
    c->supervised = true;
    c->sup_min_labels = 10;
}

static const char churn_secret[] = "fuzzing-secret-0123456789";

static bool known(int rc, const int *codes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == codes[i])
            return true;
    return false;
}

static const char *snap_window(fuzz_ctx_t *f, const uint8_t *d, size_t n)
{
    static const int ok[] = {0, TC_EPARSE, TC_EVERSION, TC_EINVAL, TC_ECORRUPT, TC_ENOMEM};
    const char *why = NULL;
    tc_window_config_t cfg;
    window_config(&cfg);
    tc_registry_t *reg = tc_registry_new(FUZZ_MAX_SERIES, NULL);
    tc_window_t *w = reg ? tc_window_new(&cfg, reg, NULL, NULL) : NULL;
    if (!w) {
        why = violation(f, "window_new failed");
        goto out;
    }
    int rc = tc_window_restore(w, reg, d, n);
    if (!known(rc, ok, sizeof(ok) / sizeof(ok[0]))) {
        why = violation(f, "tc_window_restore returned %d (%s)", rc, tc_errname(rc));
        goto out;
    }
    if (rc)
        goto out;
    /* A restored window keeps working and snapshots again. */
    tc_window_stats_t st;
    tc_window_stats(w, &st);
    tc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = TC_EVENT_TRAFFIC;
    ev.time_ms = st.started ? st.max_event_ms : 807256800000LL;
    ev.site = ev.user_id = ev.session_id = tc_str_c("x");
    ev.traffic.path = ev.traffic.method = ev.traffic.referrer = ev.traffic.ua_class = tc_str_c("");
    rc = tc_window_add(w, 0, &ev);
    if (rc && rc != TC_ELATE && rc != TC_EBAD_TIMESTAMP && rc != TC_EINVAL) {
        why = violation(f, "tc_window_add after restore returned %s", tc_errname(rc));
        goto out;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = tc_window_snapshot(w, &buf, &len);
    free(buf);
    if (rc)
        why = violation(f, "tc_window_snapshot after restore returned %s", tc_errname(rc));
    tc_window_flush(w);
out:
    tc_window_free(w);
    tc_registry_free(reg);
    return why;
}

static const char *snap_arima(fuzz_ctx_t *f, const uint8_t *d, size_t n)
{
    static const int ok[] = {0, TC_EPARSE, TC_EVERSION, TC_ECORRUPT, TC_ENOMEM};
    tc_arima_t *m = NULL;
    int rc = tc_arima_load(d, n, &m);
    if (!known(rc, ok, sizeof(ok) / sizeof(ok[0]))) {
        tc_arima_free(m);
        return violation(f, "tc_arima_load returned %d (%s)", rc, tc_errname(rc));
    }
    if (rc) {
        if (m)
            return violation(f, "tc_arima_load failed (%s) but set *out", tc_errname(rc));
        return NULL;
    }
    const char *why = NULL;
    tc_arima_fc_t fc[4];
    double x[4 * TC_ARIMA_MAX_EXOG] = {0};
    rc = tc_arima_forecast(m, 4, x, fc);
    if (rc && rc != TC_EINVAL && rc != TC_ERANGE && rc != TC_ENAN)
        why = violation(f, "tc_arima_forecast after load returned %s", tc_errname(rc));
    rc = tc_arima_update(m, 10.0, x);
    if (!why && rc && rc != TC_EINVAL && rc != TC_ERANGE && rc != TC_ENAN)
        why = violation(f, "tc_arima_update after load returned %s", tc_errname(rc));
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = tc_arima_save(m, &buf, &len);
    if (!why && rc)
        why = violation(f, "tc_arima_save after load returned %s", tc_errname(rc));
    free(buf);
    tc_arima_free(m);
    return why;
}

static const char *snap_lstm(fuzz_ctx_t *f, const uint8_t *d, size_t n)
{
    static const int ok[] = {0, TC_EPARSE, TC_EVERSION, TC_ECORRUPT, TC_EINVAL, TC_ENOMEM};
    tc_lstm_t *m = NULL;
    int rc = tc_lstm_load(d, n, &m);
    if (!known(rc, ok, sizeof(ok) / sizeof(ok[0]))) {
        tc_lstm_free(m);
        return violation(f, "tc_lstm_load returned %d (%s)", rc, tc_errname(rc));
    }
    if (rc) {
        if (m)
            return violation(f, "tc_lstm_load failed (%s) but set *out", tc_errname(rc));
        return NULL;
    }
    const char *why = NULL;
    const tc_lstm_config_t *c = tc_lstm_config(m);
    int32_t slot = 0;
    int64_t t = 807256800000LL;
    float y = 12.0f, mean[TC_LSTM_MAX_HORIZON], sd[TC_LSTM_MAX_HORIZON];
    float *ex = calloc((size_t)c->max_horizon * (TC_LSTM_MAX_EXOG + 1), sizeof(float));
    if (!ex) {
        tc_lstm_free(m);
        return NULL;
    }
    rc = tc_lstm_step(m, 1, &slot, &t, &y, ex, true, mean, sd);
    if (rc)
        why = violation(f, "tc_lstm_step after load returned %s", tc_errname(rc));
    rc = tc_lstm_forecast(m, 1, &slot, c->max_horizon, ex, mean, sd);
    if (!why && rc)
        why = violation(f, "tc_lstm_forecast after load returned %s", tc_errname(rc));
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = tc_lstm_save(m, &buf, &len);
    if (!why && rc)
        why = violation(f, "tc_lstm_save after load returned %s", tc_errname(rc));
    free(buf);
    free(ex);
    tc_lstm_free(m);
    return why;
}

static const char *snap_churn(fuzz_ctx_t *f, const uint8_t *d, size_t n)
{
    static const int ok[] = {0, TC_ECORRUPT, TC_EVERSION, TC_EFULL, TC_ENOMEM};
    tc_churn_config_t cfg;
    churn_config(&cfg);
    tc_churn_t *t = NULL;
    if (tc_churn_new(&cfg, churn_secret, strlen(churn_secret), &t))
        return violation(f, "churn_new failed");
    const char *why = NULL;
    int rc = tc_churn_restore(t, d, n);
    if (!known(rc, ok, sizeof(ok) / sizeof(ok[0]))) {
        why = violation(f, "tc_churn_restore returned %d (%s)", rc, tc_errname(rc));
        goto out;
    }
    tc_churn_counters_t c;
    tc_churn_counters(t, &c);
    if (rc && c.users) {
        why = violation(f, "failed churn restore (%s) left %llu users", tc_errname(rc),
                        (unsigned long long)c.users);
        goto out;
    }
    size_t visited = 0;
    int64_t now = 880000000000LL; /* 1997-11-20 */
    rc = tc_churn_sweep(t, now, 200, 0, &visited);
    if (rc && rc != TC_EBAD_TIMESTAMP && rc != TC_ENAN) {
        why = violation(f, "tc_churn_sweep after restore returned %s", tc_errname(rc));
        goto out;
    }
    rc = tc_churn_observe(t, "00004", 5, now, TC_CHURN_EV_PURCHASE, 10.0);
    if (rc && rc != TC_ELATE && rc != TC_EFULL && rc != TC_ENOMEM) {
        why = violation(f, "tc_churn_observe after restore returned %s", tc_errname(rc));
        goto out;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = tc_churn_snapshot(t, &buf, &len);
    free(buf);
    if (rc)
        why = violation(f, "tc_churn_snapshot after restore returned %s", tc_errname(rc));
out:
    tc_churn_free(t);
    return why;
}

static void offset_cb(void *ud, const char *topic, int64_t off)
{
    (void)off;
    if (!topic)
        *(int *)ud = 1;
}

static const char *snap_pipeline(fuzz_ctx_t *f, const uint8_t *d, size_t n)
{
    static const int ok[] = {0, TC_EPARSE, TC_EVERSION, TC_EINVAL, TC_ECORRUPT, TC_ENOMEM};
    tc_pipeline_t *p = pipe_new(f);
    if (!p)
        return violation(f, "pipeline_new failed");
    const char *why = NULL;
    int null_topic = 0;
    f->why = NULL;
    int rc = tc_pipeline_restore(p, d, n, offset_cb, &null_topic);
    if (!known(rc, ok, sizeof(ok) / sizeof(ok[0]))) {
        why = violation(f, "tc_pipeline_restore returned %d (%s)", rc, tc_errname(rc));
        goto out;
    }
    if (null_topic) {
        why = violation(f, "tc_pipeline_restore gave a NULL topic");
        goto out;
    }
    if (rc)
        goto out;
    /* Go on from the restored state: a few events, then a flush. */
    tc_pipeline_stats_t st;
    tc_pipeline_stats(p, &st);
    int64_t t0 = st.started ? st.watermark_ms : 807256800000LL;
    char line[256];
    for (int i = 0; i < 6 && !why; i++) {
        int len = snprintf(line, sizeof(line),
                           "{\"kind\":\"traffic\",\"event_time_ms\":%lld,\"site\":\"nasa\","
                           "\"user_id\":\"u%d\",\"path\":\"/\"}",
                           (long long)(t0 + i * 45000), i);
        rc = tc_pipeline_feed_json(p, TC_EVENT_NONE, line, (size_t)len);
        if (rc && !is_decode_code(rc) && rc != TC_ELATE && rc != TC_EFULL && rc != TC_ENOMEM)
            why = violation(f, "feeding a restored pipeline returned %s", tc_errname(rc));
    }
    tc_pipeline_flush(p);
    if (!why && f->why)
        why = f->why;
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = tc_pipeline_snapshot(p, "g", 0, NULL, 0, 1, &buf, &len);
    free(buf);
    if (!why && rc)
        why = violation(f, "tc_pipeline_snapshot after restore returned %s", tc_errname(rc));
out:
    tc_pipeline_free(p);
    return why;
}

const char *fuzz_snapshot(fuzz_ctx_t *f, const uint8_t *data, size_t len)
{
    if (!len)
        return NULL;
    const uint8_t *d = data + 1;
    size_t n = len - 1;
    switch (data[0] % FUZZ_SNAP_KINDS) {
    case 0:
        return snap_window(f, d, n);
    case 1:
        return snap_arima(f, d, n);
    case 2:
        return snap_lstm(f, d, n);
    case 3:
        return snap_churn(f, d, n);
    default:
        return snap_pipeline(f, d, n);
    }
}

/* -------------------------------------------------------------------- config */

const char *fuzz_config(fuzz_ctx_t *f, const uint8_t *data, size_t len)
{
    FILE *fp = fopen(f->conf_path, "wb");
    if (!fp)
        return violation(f, "cannot write %s", f->conf_path);
    fwrite(data, 1, len, fp);
    fclose(fp);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    if (len && data[len - 1] != '\n')
        lines++;

    tc_config_t cfg;
    if (tc_config_init(&cfg))
        return violation(f, "tc_config_init failed");
    char err[1024];
    int rc = tc_config_load(&cfg, f->conf_path, err, sizeof(err));
    const char *why = NULL;
    if (rc == TC_ECONFIG) {
        /* "path:N: ..." with N a line of the file */
        size_t pl = strlen(f->conf_path);
        char *end = NULL;
        long line = -1;
        if (!strncmp(err, f->conf_path, pl) && err[pl] == ':')
            line = strtol(err + pl + 1, &end, 10);
        if (line < 1 || (size_t)line > lines || !end || strncmp(end, ": ", 2) || !end[2])
            why = violation(f, "config error does not name file:line (file has %zu lines): %s",
                            lines, err);
    } else if (rc && rc != TC_ENOMEM) {
        why = violation(f, "tc_config_load returned %d (%s): %s", rc, tc_errname(rc), err);
    }
    tc_config_deinit(&cfg);
    return why;
}

/* -------------------------------------------------------------------- framer */

typedef struct frame_ctx {
    fuzz_ctx_t *f;
    int framing;
    size_t max;
    uint64_t last_index;
    size_t delivered;
    const char *why;
} frame_ctx_t;

static int on_frame(void *ud, const uint8_t *data, size_t len, uint64_t index, int status)
{
    frame_ctx_t *c = ud;
    if (c->why)
        return 0;
    if (status && status != TC_EOVERSIZED && status != TC_EPARSE && status != TC_ECORRUPT)
        c->why = violation(c->f, "frame status %d (%s)", status, tc_errname(status));
    else if (len > c->max || (len && !data))
        c->why = violation(c->f, "frame of %zu bytes, max %zu", len, c->max);
    else if (index < c->last_index)
        c->why = violation(c->f, "frame index went back from %llu to %llu",
                           (unsigned long long)c->last_index, (unsigned long long)index);
    else if (!status && c->framing == TC_FRAMING_NDJSON && memchr(data, '\n', len))
        c->why = violation(c->f, "NDJSON frame holds a newline");
    c->last_index = index;
    c->delivered += len;
    if (!status && !c->why) {
        /* whole frames go to the decoder, as the daemon does */
        tc_event_t ev;
        int rc = c->framing == TC_FRAMING_NDJSON
                     ? tc_decode_json(c->f->dec, TC_EVENT_NONE, (const char *)data, len, &ev)
                     : tc_decode_envelope(c->f->dec, data, len, &ev);
        if (rc && !is_decode_code(rc))
            c->why = violation(c->f, "decoding a frame returned %s", tc_errname(rc));
    }
    return 0;
}

const char *fuzz_framer(fuzz_ctx_t *f, const uint8_t *data, size_t len)
{
    if (!len)
        return NULL;
    int framing = data[0] & 1 ? TC_FRAMING_PROTOBUF : TC_FRAMING_NDJSON;
    size_t chunk = 1 + (size_t)(data[0] >> 1) * 7;
    frame_ctx_t c = {.f = f, .framing = framing, .max = 512};
    tc_framer_t fr;
    if (tc_framer_init(&fr, framing, c.max))
        return violation(f, "tc_framer_init failed");
    int rc = 0;
    for (size_t o = 1; o < len && !rc; o += chunk) {
        size_t k = len - o < chunk ? len - o : chunk;
        rc = tc_framer_push(&fr, data + o, k, on_frame, &c);
    }
    if (rc && rc != TC_ECORRUPT && !c.why)
        c.why = violation(f, "tc_framer_push returned %d (%s)", rc, tc_errname(rc));
    if (!rc) {
        rc = tc_framer_finish(&fr, on_frame, &c);
        if (rc && rc != TC_ECORRUPT && !c.why)
            c.why = violation(f, "tc_framer_finish returned %d (%s)", rc, tc_errname(rc));
    }
    tc_framer_deinit(&fr);
    if (!c.why && c.delivered > len)
        c.why = violation(f, "framer delivered %zu bytes of %zu", c.delivered, len);
    return c.why;
}

/* --------------------------------------------------------------------- seeds */

static const char *data_path(const char *rel, char *buf, size_t n)
{
    const char *dir = getenv("TC_DATA_DIR");
    snprintf(buf, n, "%s/%s", dir && *dir ? dir : "data", rel);
    return buf;
}

/* Per-minute request counts of the NASA day (first n minutes). */
static size_t nasa_minutes(double *y, size_t n)
{
    char path[512];
    FILE *fp = fopen(data_path("weblog/nasa_19950801.tsv", path, sizeof(path)), "r");
    if (!fp)
        return 0;
    char line[4096];
    long long t0 = -1;
    memset(y, 0, n * sizeof(*y));
    size_t used = 0;
    while (fgets(line, sizeof(line), fp)) {
        long long t;
        if (sscanf(line, "%*[^\t]\t%*[^\t]\t%lld", &t) != 1)
            continue;
        if (t0 < 0)
            t0 = t - t % 60;
        long long k = (t - t0) / 60;
        if (k >= 0 && (size_t)k < n) {
            y[k] += 1;
            if ((size_t)k + 1 > used)
                used = (size_t)k + 1;
        }
    }
    fclose(fp);
    return used;
}

static int prepend_kind(int kind, uint8_t *snap, size_t n, uint8_t **buf, size_t *len)
{
    uint8_t *b = malloc(n + 1);
    if (!b) {
        free(snap);
        return TC_ENOMEM;
    }
    b[0] = (uint8_t)kind;
    memcpy(b + 1, snap, n);
    free(snap);
    *buf = b;
    *len = n + 1;
    return 0;
}

static int seed_window(uint8_t **snap, size_t *n)
{
    tc_window_config_t cfg;
    window_config(&cfg);
    tc_registry_t *reg = tc_registry_new(FUZZ_MAX_SERIES, NULL);
    tc_window_t *w = reg ? tc_window_new(&cfg, reg, NULL, NULL) : NULL;
    int rc = TC_ENOMEM;
    if (!w)
        goto out;
    char path[512], line[4096];
    FILE *fp = fopen(data_path("weblog/nasa_19950801.tsv", path, sizeof(path)), "r");
    rc = TC_EIO;
    if (!fp)
        goto out;
    static const char *sites[] = {"nasa", "shuttle", "images"};
    for (int i = 0; i < 3000 && fgets(line, sizeof(line), fp); i++) {
        char host[256], url[1024];
        long long t;
        unsigned status = 0;
        if (sscanf(line, "%255[^\t]\t%*[^\t]\t%lld\t%*[^\t]\t%1023[^\t]\t%u", host, &t, url,
                   &status) != 4)
            continue;
        tc_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = i % 9 ? TC_EVENT_TRAFFIC : TC_EVENT_BEHAVIOR;
        ev.time_ms = t * 1000;
        ev.site = tc_str_c(sites[i % 3]);
        ev.user_id = tc_str_c(host);
        ev.session_id = tc_str_c("");
        if (ev.kind == TC_EVENT_TRAFFIC) {
            ev.traffic.path = tc_str_c(url);
            ev.traffic.method = ev.traffic.referrer = ev.traffic.ua_class = tc_str_c("");
            ev.traffic.status = status;
            ev.traffic.bytes = 100;
        } else {
            ev.behavior.type = TC_BEHAVIOR_PURCHASE;
            ev.behavior.value = 9.5;
        }
        uint32_t idx;
        if (tc_registry_intern(reg, sites[i % 3], strlen(sites[i % 3]), &idx, NULL) == 0)
            tc_window_add(w, idx, &ev);
    }
    fclose(fp);
    rc = tc_window_snapshot(w, snap, n);
out:
    tc_window_free(w);
    tc_registry_free(reg);
    return rc;
}

static int seed_arima(uint8_t **snap, size_t *n)
{
    double y[400];
    if (nasa_minutes(y, 400) < 400)
        return TC_EIO;
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = 1;
    s.q = 1;
    s.P = 0;
    s.D = 1;
    s.Q = 1;
    s.s = 10;
    tc_arima_t *m = NULL;
    int rc = tc_arima_fit(&s, y, NULL, 300, NULL, &m);
    if (rc)
        return rc;
    for (size_t i = 300; i < 400; i++)
        tc_arima_update(m, y[i], NULL);
    rc = tc_arima_save(m, snap, n);
    tc_arima_free(m);
    return rc;
}

static int seed_lstm(uint8_t **snap, size_t *n)
{
    double y[200];
    if (nasa_minutes(y, 200) < 200)
        return TC_EIO;
    tc_lstm_config_t c;
    lstm_config(&c);
    tc_lstm_t *m = NULL;
    int rc = tc_lstm_new(&c, &m);
    if (rc)
        return rc;
    int32_t slots[3] = {0, 3, 5};
    for (size_t i = 0; i < 200 && !rc; i++) {
        int64_t t[3];
        float v[3], ex[6] = {0};
        for (int k = 0; k < 3; k++) {
            t[k] = 807256800000LL + (int64_t)i * 60000;
            v[k] = (float)(y[i] * (k + 1));
            ex[2 * k] = (float)(i % 7 == 0);
        }
        rc = tc_lstm_step(m, i < 50 ? 1 : 3, slots, t, v, ex, true, NULL, NULL);
    }
    if (!rc)
        rc = tc_lstm_save(m, snap, n);
    tc_lstm_free(m);
    return rc;
}

static int seed_churn(uint8_t **snap, size_t *n)
{
    tc_churn_config_t cfg;
    churn_config(&cfg);
    tc_churn_t *t = NULL;
    int rc = tc_churn_new(&cfg, churn_secret, strlen(churn_secret), &t);
    if (rc)
        return rc;
    char path[512], line[256];
    FILE *fp = fopen(data_path("cdnow/CDNOW_sample.txt", path, sizeof(path)), "r");
    if (!fp) {
        tc_churn_free(t);
        return TC_EIO;
    }
    int64_t last = 0;
    while (fgets(line, sizeof(line), fp)) {
        char cust[16];
        int ymd, ncd;
        double usd;
        if (sscanf(line, "%15s %*s %d %d %lf", cust, &ymd, &ncd, &usd) != 4)
            continue;
        struct tm tm = {.tm_year = ymd / 10000 - 1900, .tm_mon = ymd / 100 % 100 - 1,
                        .tm_mday = ymd % 100};
        int64_t ms = (int64_t)timegm(&tm) * 1000;
        tc_churn_observe(t, cust, strlen(cust), ms, TC_CHURN_EV_PURCHASE, usd);
        if (ms > last + 7 * 86400000LL) {
            size_t v;
            tc_churn_sweep(t, ms, 300, 0, &v);
            last = ms;
        }
    }
    fclose(fp);
    rc = tc_churn_snapshot(t, snap, n);
    tc_churn_free(t);
    return rc;
}

static int seed_pipeline(uint8_t **snap, size_t *n)
{
    fuzz_ctx_t *f = fuzz_new(NULL);
    if (!f)
        return TC_ENOMEM;
    char path[512], line[4096], json[2048];
    FILE *fp = fopen(data_path("weblog/nasa_19950801.tsv", path, sizeof(path)), "r");
    int rc = TC_EIO;
    if (!fp)
        goto out;
    for (int i = 0; fgets(line, sizeof(line), fp); i++) {
        char host[256], url[1024];
        long long t;
        if (sscanf(line, "%255[^\t]\t%*[^\t]\t%lld\t%*[^\t]\t%1023[^\t\"\\]", host, &t, url) != 3)
            continue;
        int len;
        if (i % 5000 == 4999)
            len = snprintf(json, sizeof(json),
                           "{\"kind\":\"annotation\",\"event_time_ms\":%lld,\"target\":\"nasa\","
                           "\"valid_from_ms\":%lld,\"valid_to_ms\":%lld,\"features\":[1.5,-0.5]}",
                           t * 1000, t * 1000 + 60000, t * 1000 + 1800000);
        else
            len = snprintf(json, sizeof(json),
                           "{\"kind\":\"traffic\",\"event_time_ms\":%lld,\"site\":\"%s\","
                           "\"user_id\":\"%s\",\"path\":\"%s\"}",
                           t * 1000, i % 5 ? "nasa" : "shuttle", host, url);
        tc_pipeline_feed_json(f->pipe, TC_EVENT_NONE, json, (size_t)len);
    }
    fclose(fp);
    tc_pipeline_offset_t off[2] = {{"traffic", 30969}, {"annotations", 4}};
    rc = tc_pipeline_snapshot(f->pipe, "tidecast", 3, off, 2, 1, snap, n);
out:
    fuzz_free(f);
    return rc;
}

int fuzz_seed_snapshot(int kind, uint8_t **buf, size_t *len)
{
    uint8_t *snap = NULL;
    size_t n = 0;
    int rc;
    switch (kind) {
    case 0:
        rc = seed_window(&snap, &n);
        break;
    case 1:
        rc = seed_arima(&snap, &n);
        break;
    case 2:
        rc = seed_lstm(&snap, &n);
        break;
    case 3:
        rc = seed_churn(&snap, &n);
        break;
    default:
        rc = seed_pipeline(&snap, &n);
        break;
    }
    if (rc)
        return rc;
    return prepend_kind(kind, snap, n, buf, len);
}
