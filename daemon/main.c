/*
 * main.c - tidecastd: configuration, the libuv loop, the file/stdin source,
 * the pipeline and its stdout sink, signals.
 *
 * Flow: the source cuts the input into frames (NDJSON lines or protobuf
 * Envelopes) and calls on_frame on the loop thread; each frame is fed to
 * the pipeline, whose closed buckets come back through the sink and are
 * written as NDJSON. Malformed input is counted, logged and dead-lettered;
 * it never stops the daemon. At end of input, or on SIGINT/SIGTERM, open
 * buckets are flushed and the daemon exits 0. Outputs are flushed once per
 * loop iteration (a uv_check handle), not per line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "daemon/config.h"
#include "daemon/endpoints.h"
#include "daemon/executor.h"
#include "daemon/log.h"
#include "daemon/output.h"
#include "daemon/source.h"
#include "daemon/stream.h"
#include "error.h"
#include "pipeline.h"
#include "version.h"

/* Malformed events logged one by one before the log switches to debug level. */
#define MALFORMED_LOG_LIMIT 100

typedef struct daemon {
    tc_config_t cfg;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_check_t flusher;
    tc_source_t source;
    bool source_started;
    tc_pipeline_t *pipe;
    tc_stream_t *stream; /* input.source = kafka */
    const char **kafka_props;
    FILE *buckets;      /* NULL when output.buckets is empty */
    FILE *dead_letter;  /* NULL when output.dead_letter is empty */
    FILE *forecasts;    /* NULL when output.forecasts is empty */
    FILE *scale;        /* NULL when output.scale is empty */
    FILE *churn_alerts; /* NULL when output.churn_alerts is empty */
    FILE *churn_scores; /* NULL when output.churn_scores is empty */
    uint64_t dead_letters, framing_errors, write_errors;
    tc_http_t *http;          /* NULL when http.listen is empty */
    tc_metrics_t *metrics;
    tc_endpoints_t endpoints;
    tc_metrics_sample_t *m[16];
    int exit_code;
    bool stopping;
} daemon_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tidecastd [--config FILE] [--set SECTION.KEY=VALUE]... [--check-config]\n"
            "       tidecastd --help | --version | --config-reference\n"
            "\n"
            "Reads events (input.source, default stdin), keeps event-time windows per\n"
            "series and writes closed buckets as NDJSON (output.buckets, default stdout).\n"
            "\n"
            "  -c, --config FILE     read the INI configuration FILE (see conf/tidecast.conf)\n"
            "  -s, --set K=V         override one key after the file, e.g. window.bucket=5m\n"
            "      --check-config    validate the configuration, print the error if any,\n"
            "                        exit 0 (valid) or 1 (invalid)\n"
            "      --config-reference print the table of configuration keys (markdown)\n"
            "  -h, --help            this text\n"
            "  -V, --version         print the version\n"
            "\n"
            "SIGINT or SIGTERM flushes open buckets and exits 0.\n");
}

/* ---- pipeline sink: closed buckets to the output file ---- */

static int sink_bucket(void *ctx, const tc_pipeline_bucket_t *b)
{
    daemon_t *d = ctx;
    if (!d->buckets)
        return 0;
    int rc = tc_output_bucket(d->buckets, b, d->cfg.window.metrics);
    if (rc && d->write_errors++ == 0)
        tc_log_error("cannot write buckets", "path=%s error=%s", d->cfg.output.buckets,
                     tc_errname(rc));
    return rc;
}

static int sink_forecast(void *ctx, const tc_pipeline_forecast_t *f)
{
    daemon_t *d = ctx;
    if (!d->forecasts)
        return 0;
    int rc = tc_output_forecast(d->forecasts, f);
    if (rc && d->write_errors++ == 0)
        tc_log_error("cannot write forecasts", "path=%s error=%s", d->cfg.output.forecasts,
                     tc_errname(rc));
    return rc;
}

static int sink_scale(void *ctx, const tc_pipeline_scale_t *s)
{
    daemon_t *d = ctx;
    char qk[320], qr[320];
    tc_log_info("scale signal", "series=%s from=%u to=%u reason=%s",
                tc_log_quote(qk, sizeof(qk), s->key), s->current_replicas,
                s->recommended_replicas, tc_log_quote(qr, sizeof(qr), s->reason));
    if (!d->scale)
        return 0;
    int rc = tc_output_scale(d->scale, s);
    if (rc && d->write_errors++ == 0)
        tc_log_error("cannot write scale signals", "path=%s error=%s", d->cfg.output.scale,
                     tc_errname(rc));
    return rc;
}

static int sink_churn_alert(void *ctx, const tc_pipeline_churn_alert_t *a)
{
    daemon_t *d = ctx;
    tc_log_debug("churn alert", "user=%s risk=%.4f", a->user, a->risk);
    if (!d->churn_alerts)
        return 0;
    int rc = tc_output_churn_alert(d->churn_alerts, a);
    if (rc && d->write_errors++ == 0)
        tc_log_error("cannot write churn alerts", "path=%s", d->cfg.output.churn_alerts);
    return rc;
}

static int sink_churn_score(void *ctx, const tc_pipeline_churn_score_t *c)
{
    daemon_t *d = ctx;
    int rc = tc_output_churn_score(d->churn_scores, c);
    if (rc && d->write_errors++ == 0)
        tc_log_error("cannot write churn scores", "path=%s", d->cfg.output.churn_scores);
    return rc;
}

/* ---- input ---- */

static void dead_letter(daemon_t *d, uint64_t index, int code, const char *reason,
                        const uint8_t *data, size_t len)
{
    bool binary = d->cfg.input.format == TC_CONFIG_FORMAT_PROTOBUF;
    char q[512];
    uint64_t n = d->dead_letters++;
    enum tc_log_level lv = n < MALFORMED_LOG_LIMIT ? TC_LOG_WARN : TC_LOG_DEBUG;
    tc_log(lv, "malformed event", "source=%s %s=%llu error=%s reason=%s", d->source.path,
           binary ? "frame" : "line", (unsigned long long)index, tc_errname(code),
           tc_log_quote(q, sizeof(q), reason));
    if (n + 1 == MALFORMED_LOG_LIMIT)
        tc_log_warn("further malformed events are logged at debug level only", "limit=%d",
                    MALFORMED_LOG_LIMIT);
    if (d->dead_letter) {
        int rc = tc_output_dead_letter(d->dead_letter, d->source.path, index, binary, code,
                                       reason, data, len);
        if (rc && d->write_errors++ == 0)
            tc_log_error("cannot write dead letters", "path=%s", d->cfg.output.dead_letter);
    }
}

static int on_frame(void *ctx, const uint8_t *data, size_t len, uint64_t index, int status)
{
    daemon_t *d = ctx;
    if (status) {
        d->framing_errors++;
        const char *why = status == TC_EOVERSIZED ? "event longer than limits.max_message"
                          : status == TC_ECORRUPT ? "bad length prefix: input cannot be framed"
                                                  : "truncated event at end of input";
        dead_letter(d, index, status, why, data, len);
        return 0;
    }
    int rc = d->cfg.input.format == TC_CONFIG_FORMAT_PROTOBUF
                 ? tc_pipeline_feed_envelope(d->pipe, data, len)
                 : tc_pipeline_feed_json(d->pipe, TC_EVENT_NONE, (const char *)data, len);
    switch (rc) {
    case 0:
    case TC_ELATE:   /* counted by the pipeline */
    case TC_EFULL:   /* counted by the pipeline */
        return 0;
    case TC_ENOMEM:
        tc_log_error("out of memory processing an event", "index=%llu",
                     (unsigned long long)index);
        return 0;
    default:
        dead_letter(d, index, rc, tc_pipeline_last_error(d->pipe), data, len);
        return 0;
    }
}

static void flush_outputs(daemon_t *d)
{
    if (d->buckets && fflush(d->buckets) && d->write_errors++ == 0)
        tc_log_error("cannot write buckets", "error=%s", strerror(errno));
    if (d->dead_letter)
        fflush(d->dead_letter);
    if (d->forecasts)
        fflush(d->forecasts);
    if (d->scale)
        fflush(d->scale);
    if (d->churn_alerts)
        fflush(d->churn_alerts);
    if (d->churn_scores)
        fflush(d->churn_scores);
}

static void on_check(uv_check_t *h)
{
    flush_outputs(h->data);
}

static void log_summary(daemon_t *d)
{
    tc_pipeline_stats_t st;
    tc_pipeline_stats(d->pipe, &st);
    tc_log_info("input done",
                "events=%llu malformed=%llu framing_errors=%llu late=%llu refused=%llu "
                "series=%zu buckets=%llu forecasts=%llu scale_signals=%llu churn_events=%llu "
                "churn_alerts=%llu dead_letters=%llu",
                (unsigned long long)st.events, (unsigned long long)st.malformed,
                (unsigned long long)d->framing_errors, (unsigned long long)st.late,
                (unsigned long long)st.refused, st.series, (unsigned long long)st.buckets,
                (unsigned long long)st.forecasts, (unsigned long long)st.scale_signals,
                (unsigned long long)st.churn_events, (unsigned long long)st.churn_alerts,
                (unsigned long long)d->dead_letters);
}

/* The stream has checkpointed and closed its clients: let the loop end. */
static void on_stream_stopped(void *ud)
{
    daemon_t *d = ud;
    flush_outputs(d);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->flusher, NULL);
}

/*
 * Kafka mode: the [stream], [redis] and [kafka] settings to the stream
 * runtime; file outputs stay available as extra sinks.
 */
static int start_stream(daemon_t *d, const tc_pipeline_config_t *pc, const tc_pipeline_sink_t *sink)
{
    const tc_config_t *c = &d->cfg;
    d->kafka_props = calloc(2 * c->n_kafka + 1, sizeof(*d->kafka_props));
    if (!d->kafka_props)
        return TC_ENOMEM;
    for (size_t i = 0; i < c->n_kafka; i++) {
        d->kafka_props[2 * i] = c->kafka[i].key;
        d->kafka_props[2 * i + 1] = c->kafka[i].value;
    }
    tc_pipeline_config_t spc = *pc;
    /* Live input: reject events from more than a day in the future? Not here:
     * processing must not depend on the clock, or replays would differ. */
    spc.decode.max_future_ms = -1;
    tc_stream_conf_t sc = {
        .pipeline = &spc,
        .group = c->stream.group,
        .traffic = c->stream.traffic,
        .behavior = c->stream.behavior,
        .annotations = c->stream.annotations,
        .json_input = c->input.format != TC_CONFIG_FORMAT_PROTOBUF,
        .forecasts = c->stream.forecasts,
        .autoscale = c->stream.autoscale,
        .churn_alerts = c->stream.churn_alerts,
        .churn_scores = c->stream.churn_scores,
        .dead_letter = c->stream.dead_letter,
        .json_output = c->stream.output_format == 1,
        .kafka_props = d->kafka_props,
        .n_kafka_props = c->n_kafka,
        .mock_brokers = (int)c->stream.mock_brokers,
        .use_redis = c->redis.enabled,
        .redis = {.host = c->redis.host,
                  .port = (int)c->redis.port,
                  .username = *c->redis.username ? c->redis.username : NULL,
                  .password = c->redis.password,
                  .db = (int)c->redis.db},
        .redis_prefix = c->redis.prefix,
        .redis_ttl_s = (int)(c->redis.ttl_ms / 1000),
        .checkpoint_ms = c->stream.checkpoint_ms,
        .max_backlog = c->stream.max_backlog,
    };
    char err[512];
    d->stream = tc_stream_new(&d->loop, &sc, sink, err, sizeof(err));
    if (!d->stream) {
        tc_log_error("cannot start the Kafka input", "error=\"%s\"", err);
        return TC_ECONFIG;
    }
    tc_log_info("tidecastd consuming from Kafka", "version=%s group=%s redis=%s", TC_VERSION,
                c->stream.group, c->redis.enabled ? "on" : "off");
    return 0;
}

/* ---- HTTP endpoints ---- */

enum { M_EVENTS, M_MALFORMED, M_FRAMING, M_DEAD, M_LATE, M_REFUSED, M_SERIES, M_BUCKETS,
       M_FORECASTS, M_SCALE, M_CHURN_EVENTS, M_CHURN_ALERTS, M_SINK_ERRORS, M_PARTITIONS,
       M_CHECKPOINTS, M_PAUSES };

static void collect_metrics(void *ctx, tc_metrics_t *m)
{
    daemon_t *d = ctx;
    (void)m;
    tc_pipeline_stats_t st;
    tc_stream_stats_t ss = {0};
    if (d->stream) {
        tc_stream_stats(d->stream, &ss);
        st = ss.total;
    } else {
        tc_pipeline_stats(d->pipe, &st);
    }
    tc_metrics_set(d->m[M_EVENTS], (double)st.events);
    tc_metrics_set(d->m[M_MALFORMED], (double)st.malformed);
    tc_metrics_set(d->m[M_FRAMING], (double)d->framing_errors);
    tc_metrics_set(d->m[M_DEAD], (double)(d->dead_letters + ss.dead_letters));
    tc_metrics_set(d->m[M_LATE], (double)st.late);
    tc_metrics_set(d->m[M_REFUSED], (double)st.refused);
    tc_metrics_set(d->m[M_SERIES], (double)st.series);
    tc_metrics_set(d->m[M_BUCKETS], (double)st.buckets);
    tc_metrics_set(d->m[M_FORECASTS], (double)st.forecasts);
    tc_metrics_set(d->m[M_SCALE], (double)st.scale_signals);
    tc_metrics_set(d->m[M_CHURN_EVENTS], (double)st.churn_events);
    tc_metrics_set(d->m[M_CHURN_ALERTS], (double)st.churn_alerts);
    tc_metrics_set(d->m[M_SINK_ERRORS], (double)st.sink_errors);
    tc_metrics_set(d->m[M_PARTITIONS], (double)ss.partitions);
    tc_metrics_set(d->m[M_CHECKPOINTS], (double)ss.checkpoints);
    tc_metrics_set(d->m[M_PAUSES], (double)ss.pauses);
}

static bool http_ready(void *ctx, char *why, size_t n)
{
    daemon_t *d = ctx;
    if (d->stopping)
        snprintf(why, n, "shutting down");
    else if (d->stream)
        return true; /* partitions are restored before they are consumed */
    else if (!d->source_started)
        snprintf(why, n, "input not open");
    else
        return true;
    return false;
}

static int http_series(void *ctx, tc_endpoints_emit_fn emit, void *ectx)
{
    daemon_t *d = ctx;
    tc_pipeline_stats_t st;
    tc_pipeline_stats(d->pipe, &st);
    for (uint32_t i = 0; i < st.series; i++) {
        size_t len;
        const char *k = tc_pipeline_series_key(d->pipe, i, &len);
        if (k)
            emit(ectx, k, len);
    }
    return 0;
}

/* Serves the endpoints on http.listen. Returns 0, or non-zero after logging. */
static int start_http(daemon_t *d)
{
    static const struct {
        tc_metrics_type_t type;
        const char *name, *help;
    } defs[] = {
        [M_EVENTS] = {TC_METRICS_COUNTER, "tidecast_events_total", "Inputs accepted."},
        [M_MALFORMED] = {TC_METRICS_COUNTER, "tidecast_malformed_total", "Inputs refused by the decoder."},
        [M_FRAMING] = {TC_METRICS_COUNTER, "tidecast_framing_errors_total", "Inputs that could not be framed."},
        [M_DEAD] = {TC_METRICS_COUNTER, "tidecast_dead_letters_total", "Inputs dead-lettered."},
        [M_LATE] = {TC_METRICS_COUNTER, "tidecast_late_events_total", "Events dropped as late."},
        [M_REFUSED] = {TC_METRICS_COUNTER, "tidecast_series_refused_total", "Events dropped at the series limit."},
        [M_SERIES] = {TC_METRICS_GAUGE, "tidecast_series", "Series tracked."},
        [M_BUCKETS] = {TC_METRICS_COUNTER, "tidecast_buckets_closed_total", "Closed buckets delivered."},
        [M_FORECASTS] = {TC_METRICS_COUNTER, "tidecast_forecasts_total", "Forecast paths issued."},
        [M_SCALE] = {TC_METRICS_COUNTER, "tidecast_scale_signals_total", "Autoscaling signals issued."},
        [M_CHURN_EVENTS] = {TC_METRICS_COUNTER, "tidecast_churn_events_total", "Events seen by the churn engine."},
        [M_CHURN_ALERTS] = {TC_METRICS_COUNTER, "tidecast_churn_alerts_total", "Churn alerts raised."},
        [M_SINK_ERRORS] = {TC_METRICS_COUNTER, "tidecast_sink_errors_total", "Outputs that failed."},
        [M_PARTITIONS] = {TC_METRICS_GAUGE, "tidecast_kafka_partitions", "Kafka partitions assigned."},
        [M_CHECKPOINTS] = {TC_METRICS_COUNTER, "tidecast_checkpoints_total", "State snapshots stored."},
        [M_PAUSES] = {TC_METRICS_COUNTER, "tidecast_kafka_pauses_total", "Back-pressure pauses of consumption."},
    };
    char err[256];
    tc_endpoints_hooks_t hooks = {.ctx = d, .ready = http_ready, .series = http_series};
    int rc = (d->metrics = tc_metrics_new()) ? 0 : TC_ENOMEM;
    for (size_t i = 0; !rc && i < sizeof(defs) / sizeof(defs[0]); i++)
        rc = tc_metrics_add0(d->metrics, defs[i].type, defs[i].name, defs[i].help, &d->m[i]);
    if (!rc) {
        tc_metrics_set_collect(d->metrics, collect_metrics, d);
        rc = (d->http = tc_http_new(&d->loop, NULL)) ? 0 : TC_ENOMEM;
    }
    if (!rc)
        rc = tc_endpoints_init(&d->endpoints, d->http, d->metrics, &hooks);
    if (rc) {
        tc_log_error("cannot start the HTTP endpoints", "error=%s", tc_errname(rc));
        return rc;
    }
    if ((rc = tc_http_listen(d->http, d->cfg.http.listen, err, sizeof(err)))) {
        tc_log_error("cannot start the HTTP endpoints", "error=\"%s\"", err);
        return rc;
    }
    tc_log_info("HTTP endpoints listening", "listen=%s port=%d", d->cfg.http.listen,
                tc_http_port(d->http));
    return 0;
}

/* Flushes windows and outputs and lets the loop end: handles are closed. */
static void shutdown_daemon(daemon_t *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    tc_http_free(d->http);
    d->http = NULL;
    char q[64];
    tc_log_info("stopping", "reason=%s", tc_log_quote(q, sizeof(q), why));
    if (d->stream) {
        /* Open buckets are not flushed: they travel in the checkpoints. */
        tc_stream_stop(d->stream, 15000, on_stream_stopped, d);
        return;
    }
    if (d->source_started)
        tc_source_stop(&d->source);
    tc_pipeline_flush(d->pipe);
    log_summary(d);
    flush_outputs(d);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->flusher, NULL);
}

static void on_end(void *ctx, int status)
{
    daemon_t *d = ctx;
    if (status == TC_ECORRUPT)
        tc_log_error("input cannot be framed any further; stopping at this point",
                     "source=%s", d->source.path);
    else if (status)
        tc_log_error("input read failed", "source=%s error=%s", d->source.path,
                     tc_errname(status));
    if (status == TC_EIO)
        d->exit_code = 1;
    shutdown_daemon(d, status ? "input error" : "end of input");
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    shutdown_daemon(d, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- configuration to pipeline ---- */

/* Line where key was set, else where the key that requires it was (0: defaults). */
static unsigned key_line(const tc_config_t *c, const char *key, const char *because)
{
    unsigned l = tc_config_key_line(c, key);
    return l ? l : tc_config_key_line(c, because);
}

/*
 * Maps the configuration onto the pipeline's. Returns 0, or TC_ECONFIG
 * with a message naming the keys that do not fit together.
 */
static int pipeline_config(const tc_config_t *c, const char *file, tc_pipeline_config_t *pc,
                           char *err, size_t errsize)
{
    tc_pipeline_config_default(pc);
    pc->decode.max_message_bytes = (size_t)c->limits.max_message;
    pc->decode.max_string_bytes = c->limits.max_field;
    /* Replayed files hold old events: only the lower bound of time applies. */
    pc->decode.max_future_ms = -1;
    pc->keying.mode = c->keying.mode == TC_CONFIG_KEYING_SITE_PATH ? TC_SERIESKEY_SITE_PATH
                                                                    : TC_SERIESKEY_SITE;
    pc->keying.path_depth = c->keying.path_depth;
    pc->window.bucket_ms = c->window.bucket_ms;
    pc->window.lateness_ms = c->window.lateness_ms;
    pc->window.ring = c->window.ring;
    pc->window.max_series = c->limits.max_series;

    /* Config metric bits are in tc_metric_t order. */
    pc->horizon = c->forecast.horizon;
    pc->forecast_metrics = c->forecast.metrics;
    pc->season = c->forecast.season;
    pc->publish = c->forecast.publish ? TC_PIPELINE_PUBLISH_ALL : TC_PIPELINE_PUBLISH_BEST;
    pc->ensemble_lambda = c->forecast.ensemble_lambda;
    pc->exog_dim = c->forecast.exog_dim;
    pc->max_annotations = c->forecast.max_annotations;
    pc->arima = (c->forecast.models & TC_CONFIG_MODEL_SARIMA) != 0;
    pc->arima_spec.p = c->arima.order[0];
    pc->arima_spec.d = c->arima.order[1];
    pc->arima_spec.q = c->arima.order[2];
    pc->arima_spec.P = c->arima.seasonal[0];
    pc->arima_spec.D = c->arima.seasonal[1];
    pc->arima_spec.Q = c->arima.seasonal[2];
    pc->arima_spec.s = c->arima.seasonal[0] || c->arima.seasonal[1] || c->arima.seasonal[2]
                           ? (int)c->forecast.season
                           : 0;
    pc->arima_auto = c->arima.automatic;
    pc->arima_fit_after = c->arima.fit_after;
    pc->arima_refit_every = c->arima.refit_every;
    pc->arima_apply_lag = c->arima.apply_lag;
    pc->lstm = (c->forecast.models & TC_CONFIG_MODEL_LSTM) != 0;
    pc->lstm_cfg.hidden = (int)c->lstm.hidden;
    pc->lstm_cfg.layers = (int)c->lstm.layers;
    pc->lstm_cfg.bptt = (int)c->lstm.bptt;
    pc->lstm_cfg.lr = (float)c->lstm.lr;
    pc->lstm_cfg.max_series = (int)c->lstm.max_series;
    pc->lstm_cfg.max_batch = (int)c->lstm.max_series;
    pc->lstm_cfg.seed = c->lstm.seed;
    pc->lstm_cfg.season = c->forecast.season <= TC_LSTM_MAX_SEASON && c->forecast.season > 1
                              ? (int)c->forecast.season
                              : 0;

    pc->autoscale.enabled = c->autoscale.enabled;
    pc->autoscale.metric = (tc_metric_t)c->autoscale.metric;
    pc->autoscale.use_80 = c->autoscale.bound == 1;
    pc->autoscale.rule.capacity_per_replica = c->autoscale.capacity;
    pc->autoscale.rule.min_replicas = c->autoscale.min_replicas;
    pc->autoscale.rule.max_replicas = c->autoscale.max_replicas;
    pc->autoscale.rule.down_margin = c->autoscale.down_margin;
    pc->autoscale.rule.cooldown_ms = c->autoscale.cooldown_ms;
    pc->churn = c->churn.enabled;
    tc_churn_config_t *cc = &pc->churn_cfg;
    cc->tx_mode = c->churn.tx_mode ? TC_CHURN_TX_PURCHASE : TC_CHURN_TX_VISIT;
    cc->visit_gap_ms = c->churn.visit_gap_ms;
    cc->merge_same_day = c->churn.merge_same_day;
    /* The CDNOW starting parameters are per day: convert alpha to the unit. */
    cc->params.alpha /= (double)c->churn.time_unit_ms / 86400000.0;
    cc->time_unit_s = (double)c->churn.time_unit_ms / 1000.0;
    cc->horizon = c->churn.horizon;
    cc->model = c->churn.model ? TC_BGNBD_MBG : TC_BGNBD_BG;
    cc->alert_threshold = c->churn.alert_threshold;
    cc->alert_hysteresis = c->churn.alert_hysteresis;
    cc->alert_cooldown_ms = c->churn.alert_cooldown_ms;
    cc->alert_min_repeat = c->churn.alert_min_repeat;
    cc->max_users = c->churn.max_users;
    cc->supervised = c->churn.supervised;
    cc->label_horizon = c->churn.horizon;
    pc->churn_sweep_every_ms = c->churn.sweep_every_ms;
    pc->churn_sweep_users = c->churn.sweep_users;
    pc->churn_evict_idle_ms = c->churn.evict_idle_ms;
    pc->churn_refit_every_ms = c->churn.refit_every_ms;
    size_t slen = strlen(c->churn.secret);
    if (c->churn.enabled && (slen < 16 || slen > sizeof(pc->churn_secret))) {
        snprintf(err, errsize,
                 "%s:%u: churn.secret: expected 16 to %zu characters with churn.enabled, got %zu",
                 file, key_line(c, "churn.secret", "churn.enabled"), sizeof(pc->churn_secret),
                 slen);
        return TC_ECONFIG;
    }
    memcpy(pc->churn_secret, c->churn.secret, slen);
    pc->churn_secret_len = slen;
    if (c->autoscale.enabled) {
        /* Each message names the key to change and where it was set. */
        const char *key = NULL, *why = NULL;
        if (!c->forecast.horizon)
            key = "forecast.horizon", why = "expected > 0 with autoscale.enabled, got 0";
        else if (!(c->autoscale.capacity > 0))
            key = "autoscale.capacity", why = "expected > 0 with autoscale.enabled, got 0";
        else if (c->autoscale.max_replicas < c->autoscale.min_replicas)
            key = "autoscale.max_replicas", why = "expected at least autoscale.min_replicas";
        else if (!(c->forecast.metrics & (1u << c->autoscale.metric)))
            key = "autoscale.metric", why = "expected one of forecast.metrics";
        if (key) {
            snprintf(err, errsize, "%s:%u: %s: %s", file, key_line(c, key, "autoscale.enabled"),
                     key, why);
            return TC_ECONFIG;
        }
    }
    return 0;
}

static FILE *open_output(const char *path, const char *what)
{
    if (!path || !*path)
        return NULL;
    if (!strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "a");
    if (!f)
        tc_log_error("cannot open output", "what=%s path=%s error=\"%s\"", what, path,
                     strerror(errno));
    return f;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"check-config", no_argument, NULL, 'k'},
        {"config-reference", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    char **sets = calloc((size_t)argc, sizeof(*sets));
    int nsets = 0, check_only = 0, opt;
    if (!sets)
        return 1;
    while ((opt = getopt_long(argc, argv, "c:s:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 'k':
            check_only = 1;
            break;
        case 'r':
            tc_config_write_reference(stdout);
            free(sets);
            return 0;
        case 'h':
            usage(stdout);
            free(sets);
            return 0;
        case 'V':
            printf("tidecastd %s\n", TC_VERSION);
            free(sets);
            return 0;
        default:
            usage(stderr);
            free(sets);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tidecastd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        free(sets);
        return 2;
    }

    static daemon_t dd;
    daemon_t *d = &dd;
    char err[1024];
    int rc = tc_config_init(&d->cfg);
    if (!rc && config_path)
        rc = tc_config_load(&d->cfg, config_path, err, sizeof(err));
    for (int i = 0; !rc && i < nsets; i++) {
        char *eq = strchr(sets[i], '=');
        if (!eq) {
            snprintf(err, sizeof(err), "--set %s: expected SECTION.KEY=VALUE", sets[i]);
            rc = TC_ECONFIG;
            break;
        }
        *eq = '\0';
        rc = tc_config_set(&d->cfg, sets[i], eq + 1, "--set", err, sizeof(err));
    }
    free(sets);
    tc_pipeline_config_t pc;
    if (!rc)
        rc = pipeline_config(&d->cfg, config_path ? config_path : "(defaults)", &pc, err,
                             sizeof(err));
    if (!rc) {
        tc_pipeline_t *probe;
        rc = tc_pipeline_new(&pc, NULL, &probe);
        if (rc)
            snprintf(err, sizeof(err), "%s: the settings do not form a valid pipeline: %s",
                     config_path ? config_path : "(defaults)", tc_strerror(rc));
        tc_pipeline_free(probe);
    }
    if (rc) {
        fprintf(stderr, "tidecastd: %s\n", err);
        tc_config_deinit(&d->cfg);
        return 1;
    }
    if (check_only) {
        printf("%s: configuration ok\n", config_path ? config_path : "(defaults)");
        tc_config_deinit(&d->cfg);
        return 0;
    }
    tc_log_set_level((enum tc_log_level)d->cfg.log.level);

    uv_loop_init(&d->loop);
    tc_executor_bind(&pc.executor, &d->loop);
    tc_pipeline_sink_t sink = {.ctx = d,
                               .bucket = sink_bucket,
                               .forecast = sink_forecast,
                               .scale = sink_scale,
                               .churn_alert = sink_churn_alert};
    d->exit_code = 0;
    if ((rc = tc_pipeline_new(&pc, &sink, &d->pipe))) {
        tc_log_error("cannot create the pipeline", "error=%s", tc_errname(rc));
        uv_loop_close(&d->loop);
        tc_config_deinit(&d->cfg);
        return 1;
    }
    d->buckets = open_output(d->cfg.output.buckets, "buckets");
    d->dead_letter = open_output(d->cfg.output.dead_letter, "dead_letter");
    d->forecasts = open_output(d->cfg.output.forecasts, "forecasts");
    d->scale = open_output(d->cfg.output.scale, "scale");
    d->churn_alerts = open_output(d->cfg.output.churn_alerts, "churn_alerts");
    d->churn_scores = open_output(d->cfg.output.churn_scores, "churn_scores");
    /* Scores cost a computation per event: only with an output for them. */
    if (d->churn_scores) {
        sink.churn_score = sink_churn_score;
        tc_pipeline_set_sink(d->pipe, &sink);
    }
    if ((*d->cfg.output.buckets && !d->buckets) ||
        (*d->cfg.output.dead_letter && !d->dead_letter) ||
        (*d->cfg.output.forecasts && !d->forecasts) || (*d->cfg.output.scale && !d->scale) ||
        (*d->cfg.output.churn_alerts && !d->churn_alerts) ||
        (*d->cfg.output.churn_scores && !d->churn_scores)) {
        d->exit_code = 1;
        goto out;
    }

    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    uv_check_init(&d->loop, &d->flusher);
    d->sigint.data = d->sigterm.data = d->flusher.data = d;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_check_start(&d->flusher, on_check);
    /* The check handle must not keep the loop alive on its own. */
    uv_unref((uv_handle_t *)&d->flusher);
    if (*d->cfg.http.listen && start_http(d)) {
        d->exit_code = 1;
        shutdown_daemon(d, "HTTP endpoints unavailable");
        uv_run(&d->loop, UV_RUN_DEFAULT);
        goto out;
    }

    if (!strcmp(d->cfg.input.source, "kafka")) {
        if (start_stream(d, &pc, &sink)) {
            d->exit_code = 1;
            tc_http_free(d->http);
            d->http = NULL;
            uv_close((uv_handle_t *)&d->sigint, NULL);
            uv_close((uv_handle_t *)&d->sigterm, NULL);
            uv_close((uv_handle_t *)&d->flusher, NULL);
        }
        uv_run(&d->loop, UV_RUN_DEFAULT);
        tc_stream_free(d->stream);
        d->stream = NULL;
        if (uv_loop_close(&d->loop))
            tc_log_debug("loop closed with handles still active", NULL);
        free(d->kafka_props);
        goto out;
    }
    tc_log_info("tidecastd starting",
                "version=%s source=%s format=%s bucket_ms=%lld lateness_ms=%lld", TC_VERSION,
                d->cfg.input.source,
                d->cfg.input.format == TC_CONFIG_FORMAT_PROTOBUF ? "protobuf" : "ndjson",
                (long long)d->cfg.window.bucket_ms, (long long)d->cfg.window.lateness_ms);
    rc = tc_source_start(&d->source, &d->loop, d->cfg.input.source,
                         d->cfg.input.format == TC_CONFIG_FORMAT_PROTOBUF ? TC_FRAMING_PROTOBUF
                                                                           : TC_FRAMING_NDJSON,
                         (size_t)d->cfg.limits.max_message, on_frame, on_end, d, err,
                         sizeof(err));
    if (rc) {
        tc_log_error("cannot open input", "error=\"%s\"", err);
        d->exit_code = 1;
        shutdown_daemon(d, "input error");
    } else {
        d->source_started = true;
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (d->source_started)
        tc_source_deinit(&d->source);

out:
    flush_outputs(d);
    if (d->buckets && d->buckets != stdout)
        fclose(d->buckets);
    if (d->dead_letter && d->dead_letter != stdout)
        fclose(d->dead_letter);
    if (d->forecasts && d->forecasts != stdout)
        fclose(d->forecasts);
    if (d->scale && d->scale != stdout)
        fclose(d->scale);
    if (d->churn_alerts && d->churn_alerts != stdout)
        fclose(d->churn_alerts);
    if (d->churn_scores && d->churn_scores != stdout)
        fclose(d->churn_scores);
    /* Freeing the pipeline waits for fits still on the worker pool; the loop
     * then runs their completion callbacks before it can close. */
    tc_pipeline_free(d->pipe);
    tc_http_free(d->http);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    tc_metrics_free(d->metrics);
    if (uv_loop_close(&d->loop))
        tc_log_debug("loop closed with handles still active", NULL);
    tc_config_deinit(&d->cfg);
    return d->exit_code;
}
