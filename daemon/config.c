/*
 * config.c - the key table and the libinih handler behind config.h.
 *
 * libinih calls the handler once per key=value. The line number it would
 * report only for syntax errors, so the file is fed through our own line
 * reader (ini_parse_stream) which counts lines: the handler then knows the
 * line of every key, and a line longer than libinih's fixed buffer is
 * reported instead of being split silently.
 */
#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "error.h"

enum key_type {
    T_STRING,   /* char *, any text (may be empty if allow_empty) */
    T_ENUM,     /* int, index into choices */
    T_FLAGS,    /* unsigned, comma-separated subset of choices, bit i = choices[i] */
    T_DURATION, /* int64_t ms, "250ms", "60s", "5m", "1h", "1d" */
    T_UINT,     /* uint32_t within [min, max] */
    T_SIZE,     /* uint64_t bytes, "512", "64k", "1M", "2G" (binary units) */
    T_LOGLEVEL, /* int, enum tc_log_level */
    T_DOUBLE,   /* double within [min, max] */
    T_BOOL,     /* int 0/1: true/false, yes/no, on/off, 1/0 */
    T_ORDER,    /* int[3]: "p,d,q", each within [0, max] */
};

static const char *const formats[] = {"ndjson", "protobuf", NULL};
static const char *const keyings[] = {"site", "site_path", NULL};
static const char *const metrics[] = {"requests",    "unique_users", "bytes", "errors",
                                      "conversions", "revenue",      NULL};
static const char *const models[] = {"snaive", "sarima", "lstm", NULL};
static const char *const publishes[] = {"best", "all", NULL};
static const char *const bounds[] = {"p95", "p80", NULL};
static const char *const tx_modes[] = {"visit", "purchase", NULL};
static const char *const churn_models[] = {"bgnbd", "mbgnbd", NULL};
static const char *const out_formats[] = {"protobuf", "json", NULL};

typedef struct key_def {
    const char *section;
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def; /* default, as written in a file */
    const char *doc;
    const char *const *choices;
    double min, max; /* T_UINT, T_DURATION (ms), T_SIZE bounds */
    bool allow_empty;
} key_def_t;

#define OFF(member) offsetof(tc_config_t, member)

/* The one table of settings. Keep rows grouped by section, in file order. */
static const key_def_t keys[] = {
    {"input", "source", T_STRING, OFF(input.source), "-",
     "Event file to replay, or `-` for standard input (a pipe or a redirected file).",
     NULL, 0, 0, false},
    {"input", "format", T_ENUM, OFF(input.format), "ndjson",
     "Framing of the input: `ndjson` (one JSON event per line) or `protobuf` "
     "(varint-length-delimited tidecast.v1.Envelope messages).",
     formats, 0, 0, false},
    {"window", "bucket", T_DURATION, OFF(window.bucket_ms), "60s",
     "Width of the event-time tumbling buckets.", NULL, 1, 7 * 86400000.0, false},
    {"window", "lateness", T_DURATION, OFF(window.lateness_ms), "10s",
     "Allowed lateness: the watermark is the largest event time seen minus this; "
     "a bucket closes when the watermark passes its end, and events older than "
     "the watermark are counted as late and dropped.",
     NULL, 0, 30 * 86400000.0, false},
    {"window", "ring", T_UINT, OFF(window.ring), "60",
     "Closed buckets kept per series for rolling aggregates.", NULL, 1, 1000000, false},
    {"window", "metrics", T_FLAGS, OFF(window.metrics),
     "requests,unique_users,bytes,errors,conversions,revenue",
     "Metrics written for each closed bucket (comma-separated subset).", metrics, 0, 0,
     false},
    {"keying", "mode", T_ENUM, OFF(keying.mode), "site",
     "Series key: `site`, or `site_path` (site plus the first `path_depth` path "
     "segments, query string stripped).",
     keyings, 0, 0, false},
    {"keying", "path_depth", T_UINT, OFF(keying.path_depth), "1",
     "Path segments kept in the key with `mode = site_path`.", NULL, 0, 64, false},
    {"limits", "max_series", T_UINT, OFF(limits.max_series), "100000",
     "Most series tracked at once; events of further series are counted and refused.",
     NULL, 1, 100000000, false},
    {"limits", "max_field", T_UINT, OFF(limits.max_field), "1024",
     "Longest accepted string field of an event, in bytes; a longer one makes the "
     "event malformed (dead-lettered).",
     NULL, 16, 1048576, false},
    {"limits", "max_message", T_SIZE, OFF(limits.max_message), "64k",
     "Longest accepted event (NDJSON line or protobuf frame), in bytes.", NULL, 64,
     64.0 * 1048576, false},
    {"log", "level", T_LOGLEVEL, OFF(log.level), "info",
     "Lowest level logged to stderr: `debug`, `info`, `warn` or `error`.", NULL, 0, 0,
     false},
    {"forecast", "horizon", T_UINT, OFF(forecast.horizon), "0",
     "Forecast steps (buckets ahead) issued when a bucket closes; 0 turns forecasting off.",
     NULL, 0, 256, false},
    {"forecast", "metrics", T_FLAGS, OFF(forecast.metrics), "requests",
     "Metrics forecast per series (comma-separated subset of the window metrics).", metrics,
     0, 0, false},
    {"forecast", "season", T_UINT, OFF(forecast.season), "60",
     "Seasonal period in buckets (60 for minute buckets with an hourly pattern, 24 for "
     "hourly buckets with a daily one); 1 = no seasonality.",
     NULL, 1, 100000, false},
    {"forecast", "models", T_FLAGS, OFF(forecast.models), "snaive",
     "Models: `snaive` (seasonal naive, always on), plus `sarima` and/or `lstm`. With two "
     "or more, the ensemble weights them by recent error.",
     models, 0, 0, false},
    {"forecast", "publish", T_ENUM, OFF(forecast.publish), "best",
     "`best`: one forecast per series, metric and bucket (the ensemble when it exists); "
     "`all`: every model's forecast too.",
     publishes, 0, 0, false},
    {"forecast", "ensemble_lambda", T_DOUBLE, OFF(forecast.ensemble_lambda), "0.97",
     "Discount of past squared errors in the ensemble weights, per bucket (1 = no forgetting).",
     NULL, 0.5, 1, false},
    {"forecast", "exog_dim", T_UINT, OFF(forecast.exog_dim), "0",
     "Length of the annotation feature vectors given to the LSTM as exogenous input (the "
     "newest annotation targeting the series or its site and valid for the forecast bucket); "
     "annotations of another length are dead-lettered. 0: annotations are only counted.",
     NULL, 0, 64, false},
    {"forecast", "max_annotations", T_UINT, OFF(forecast.max_annotations), "1024",
     "Annotations kept at once (the one expiring first makes room).", NULL, 1, 1000000, false},
    {"arima", "order", T_ORDER, OFF(arima.order), "2,1,1",
     "Non-seasonal orders p,d,q of the SARIMA model.", NULL, 0, 8, false},
    {"arima", "seasonal_order", T_ORDER, OFF(arima.seasonal), "0,0,0",
     "Seasonal orders P,D,Q (period `forecast.season`); 0,0,0 = none.", NULL, 0, 3, false},
    {"arima", "auto", T_BOOL, OFF(arima.automatic), "false",
     "Choose the orders automatically (stepwise AICc search) instead of `order`.", NULL, 0, 0,
     false},
    {"arima", "fit_after", T_UINT, OFF(arima.fit_after), "120",
     "Buckets a series needs before its SARIMA is fitted (exact maximum likelihood).", NULL, 8,
     100000, false},
    {"arima", "refit_every", T_UINT, OFF(arima.refit_every), "0",
     "Refit on the last `fit_after` buckets every this many buckets; 0 = never.", NULL, 0,
     1000000, false},
    {"arima", "apply_lag", T_UINT, OFF(arima.apply_lag), "5",
     "Fits run on the worker pool and are used this many buckets after they start (the "
     "buckets in between are replayed, so results do not depend on timing); 0 = fit on the "
     "loop thread at once.",
     NULL, 0, 10000, false},
    {"lstm", "hidden", T_UINT, OFF(lstm.hidden), "32",
     "Hidden units per LSTM layer (16 to 128, a multiple of 8).", NULL, 16, 128, false},
    {"lstm", "layers", T_UINT, OFF(lstm.layers), "1", "Stacked LSTM layers (1 or 2).", NULL, 1,
     2, false},
    {"lstm", "bptt", T_UINT, OFF(lstm.bptt), "8",
     "Truncation of backpropagation through time, in buckets.", NULL, 1, 64, false},
    {"lstm", "lr", T_DOUBLE, OFF(lstm.lr), "0.001", "Adam step size of the online training.",
     NULL, 0, 1, false},
    {"lstm", "max_series", T_UINT, OFF(lstm.max_series), "1024",
     "Series given to the LSTM (the first ones seen); memory is allocated for all up front.",
     NULL, 1, 1000000, false},
    {"lstm", "seed", T_UINT, OFF(lstm.seed), "1", "Seed of the weight initialisation.", NULL, 0,
     4294967295.0, false},
    {"autoscale", "enabled", T_BOOL, OFF(autoscale.enabled), "false",
     "Publish scale signals (needs `forecast.horizon` > 0 and `capacity`).", NULL, 0, 0, false},
    {"autoscale", "metric", T_ENUM, OFF(autoscale.metric), "requests",
     "Metric the capacity is measured in (must be in `forecast.metrics`).", metrics, 0, 0,
     false},
    {"autoscale", "bound", T_ENUM, OFF(autoscale.bound), "p95",
     "Forecast bound that must fit: upper end of the 95% (`p95`) or 80% (`p80`) interval.",
     bounds, 0, 0, false},
    {"autoscale", "capacity", T_DOUBLE, OFF(autoscale.capacity), "0",
     "What one replica serves per bucket, in the metric's units.", NULL, 0, 1e15, false},
    {"autoscale", "min_replicas", T_UINT, OFF(autoscale.min_replicas), "1",
     "Fewest replicas recommended.", NULL, 1, 100000, false},
    {"autoscale", "max_replicas", T_UINT, OFF(autoscale.max_replicas), "100",
     "Most replicas recommended.", NULL, 1, 100000, false},
    {"autoscale", "down_margin", T_DOUBLE, OFF(autoscale.down_margin), "0.2",
     "Scale down only to a count that would be loaded at most (1 - this) of capacity "
     "(hysteresis).",
     NULL, 0, 0.95, false},
    {"autoscale", "cooldown", T_DURATION, OFF(autoscale.cooldown_ms), "10m",
     "Event time after a change before scaling down again (scaling up is immediate).", NULL, 0,
     30 * 86400000.0, false},
    {"churn", "enabled", T_BOOL, OFF(churn.enabled), "false",
     "Score churn risk per (pseudonymous) user from events that carry a user id.", NULL, 0, 0,
     false},
    {"churn", "secret", T_STRING, OFF(churn.secret), "",
     "Secret key of the pseudonyms (keyed hash of raw user ids), at least 16 characters; "
     "required when enabled. Raw ids are never stored or published.",
     NULL, 0, 0, true},
    {"churn", "transaction", T_ENUM, OFF(churn.tx_mode), "visit",
     "What counts as a transaction: `visit` (activity after `visit_gap` of silence) or "
     "`purchase` (behavior purchase events).",
     tx_modes, 0, 0, false},
    {"churn", "visit_gap", T_DURATION, OFF(churn.visit_gap_ms), "30m",
     "Silence that separates two visits.", NULL, 1000, 365 * 86400000.0, false},
    {"churn", "merge_same_day", T_BOOL, OFF(churn.merge_same_day), "false",
     "Purchases on the same UTC day as the previous transaction merge into it.", NULL, 0, 0,
     false},
    {"churn", "time_unit", T_DURATION, OFF(churn.time_unit_ms), "1d",
     "Unit of the model's times and of `horizon`.", NULL, 1000, 365 * 86400000.0, false},
    {"churn", "horizon", T_DOUBLE, OFF(churn.horizon), "30",
     "Risk = probability of no transaction within this many time units.", NULL, 1e-6, 1e6,
     false},
    {"churn", "model", T_ENUM, OFF(churn.model), "bgnbd",
     "Population model: `bgnbd` (BG/NBD) or `mbgnbd` (MBG/NBD).", churn_models, 0, 0, false},
    {"churn", "alert_threshold", T_DOUBLE, OFF(churn.alert_threshold), "0.8",
     "Risk at which a user's alert fires.", NULL, 0.01, 0.99, false},
    {"churn", "alert_hysteresis", T_DOUBLE, OFF(churn.alert_hysteresis), "0.05",
     "The alert re-arms once the risk falls below threshold minus this.", NULL, 0, 0.5, false},
    {"churn", "alert_cooldown", T_DURATION, OFF(churn.alert_cooldown_ms), "7d",
     "Least event time between two alerts of one user.", NULL, 0, 3650 * 86400000.0, false},
    {"churn", "alert_min_repeat", T_UINT, OFF(churn.alert_min_repeat), "1",
     "Alert only users with at least this many repeat transactions.", NULL, 0, 1000000, false},
    {"churn", "max_users", T_UINT, OFF(churn.max_users), "1000000",
     "Users tracked; when full the least recently active of a sample is evicted.", NULL, 1,
     1000000000, false},
    {"churn", "sweep_every", T_DURATION, OFF(churn.sweep_every_ms), "1h",
     "Event time between sweeps that re-score idle users (their risk rises while away).",
     NULL, 0, 365 * 86400000.0, false},
    {"churn", "sweep_users", T_UINT, OFF(churn.sweep_users), "10000",
     "Users re-scored per sweep (the sweep resumes where it stopped).", NULL, 1, 1000000000,
     false},
    {"churn", "evict_idle", T_DURATION, OFF(churn.evict_idle_ms), "0s",
     "Forget users idle this long (0: never).", NULL, 0, 3650 * 86400000.0, false},
    {"churn", "refit_every", T_DURATION, OFF(churn.refit_every_ms), "0s",
     "Event time between refits of the population parameters by maximum likelihood (0: never; "
     "the CDNOW estimates are the start).",
     NULL, 0, 3650 * 86400000.0, false},
    {"churn", "supervised", T_BOOL, OFF(churn.supervised), "false",
     "Publish the online logistic layer's risk once it has enough labels.", NULL, 0, 0, false},
    {"stream", "group", T_STRING, OFF(stream.group), "tidecast",
     "Kafka consumer group of the daemons that share the input partitions "
     "(used with `input.source = kafka`).", NULL, 0, 0, false},
    {"stream", "traffic", T_STRING, OFF(stream.traffic), "traffic",
     "Input topic of TrafficEvents (empty: not consumed).", NULL, 0, 0, true},
    {"stream", "behavior", T_STRING, OFF(stream.behavior), "behavior",
     "Input topic of BehaviorEvents (empty: not consumed).", NULL, 0, 0, true},
    {"stream", "annotations", T_STRING, OFF(stream.annotations), "annotations",
     "Input topic of Annotations (empty: not consumed).", NULL, 0, 0, true},
    {"stream", "forecasts", T_STRING, OFF(stream.forecasts), "forecasts",
     "Output topic of Forecasts, keyed `series|metric` (empty: off).", NULL, 0, 0, true},
    {"stream", "autoscale", T_STRING, OFF(stream.autoscale), "autoscale",
     "Output topic of ScaleSignals, keyed by series (empty: off).", NULL, 0, 0, true},
    {"stream", "churn_alerts", T_STRING, OFF(stream.churn_alerts), "churn.alerts",
     "Output topic of ChurnAlerts, keyed by pseudonymous user (empty: off).", NULL, 0, 0, true},
    {"stream", "churn_scores", T_STRING, OFF(stream.churn_scores), "",
     "Output topic of ChurnScores, one per user event (empty: off).", NULL, 0, 0, true},
    {"stream", "dead_letter", T_STRING, OFF(stream.dead_letter), "tidecast.dead-letter",
     "Topic receiving undecodable or invalid input messages unchanged, with headers "
     "`tidecast-error`, `tidecast-reason`, `tidecast-source` (empty: only counted).",
     NULL, 0, 0, true},
    {"stream", "output_format", T_ENUM, OFF(stream.output_format), "protobuf",
     "Encoding of output messages: `protobuf` (outputs.proto) or `json`.", out_formats, 0, 0,
     false},
    {"stream", "mock_brokers", T_UINT, OFF(stream.mock_brokers), "0",
     "Run against librdkafka's in-process mock cluster with this many brokers (demo, tests); "
     "0: the brokers of `kafka.bootstrap.servers`.", NULL, 0, 16, false},
    {"stream", "checkpoint_interval", T_DURATION, OFF(stream.checkpoint_ms), "10s",
     "How often each partition's state is checkpointed to Redis (then its offset committed).",
     NULL, 100, 86400000.0, false},
    {"stream", "max_backlog", T_UINT, OFF(stream.max_backlog), "500000",
     "Undelivered output messages at which input is paused until half are delivered.", NULL,
     100, 100000000, false},
    {"redis", "enabled", T_BOOL, OFF(redis.enabled), "false",
     "Write latest forecasts, churn risk and alerts to Redis, and keep checkpoints there.",
     NULL, 0, 0, false},
    {"redis", "host", T_STRING, OFF(redis.host), "127.0.0.1", "Redis host.", NULL, 0, 0, false},
    {"redis", "port", T_UINT, OFF(redis.port), "6379", "Redis port.", NULL, 1, 65535, false},
    {"redis", "username", T_STRING, OFF(redis.username), "",
     "ACL user for AUTH (empty: AUTH with the password only).", NULL, 0, 0, true},
    {"redis", "password", T_STRING, OFF(redis.password), "",
     "Password for AUTH (empty: no AUTH).", NULL, 0, 0, true},
    {"redis", "db", T_UINT, OFF(redis.db), "0", "Database number (SELECT).", NULL, 0, 1024,
     false},
    {"redis", "prefix", T_STRING, OFF(redis.prefix), "tc:", "Prefix of every key written.",
     NULL, 0, 0, true},
    {"redis", "ttl", T_DURATION, OFF(redis.ttl_ms), "1d",
     "Expiry of the latest-forecast hashes (0: none).", NULL, 0, 365 * 86400000.0, false},
    {"http", "listen", T_STRING, OFF(http.listen), "",
     "Address of the HTTP endpoints (/healthz, /readyz, /metrics, /v1/series): "
     "numeric `HOST:PORT`, e.g. `127.0.0.1:9464` (port 0: any free port); empty: off.",
     NULL, 0, 0, true},
    {"output", "buckets", T_STRING, OFF(output.buckets), "-",
     "Where closed buckets go as NDJSON, one line per series per bucket: `-` for "
     "standard output, a file path, or empty to disable.",
     NULL, 0, 0, true},
    {"output", "dead_letter", T_STRING, OFF(output.dead_letter), "",
     "File that receives each malformed event with the reason (NDJSON, appended); "
     "empty: malformed events are only counted and logged.",
     NULL, 0, 0, true},
    {"output", "forecasts", T_STRING, OFF(output.forecasts), "",
     "Where forecasts go as NDJSON (`-`, a file path, or empty to disable).", NULL, 0, 0, true},
    {"output", "scale", T_STRING, OFF(output.scale), "",
     "Where scale signals go as NDJSON (`-`, a file path, or empty to disable).", NULL, 0, 0,
     true},
    {"output", "churn_alerts", T_STRING, OFF(output.churn_alerts), "",
     "Where churn alerts go as NDJSON (`-`, a file path, or empty to disable).", NULL, 0, 0,
     true},
    {"output", "churn_scores", T_STRING, OFF(output.churn_scores), "",
     "Where per-event churn scores go as NDJSON (`-`, a file path, or empty to disable).", NULL,
     0, 0, true},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* Sections whose keys pass through unchecked, in order, to one library. */
static const struct {
    const char *section;
    size_t list_off, count_off;
    const char *doc;
} passthrough[] = {
    {"kafka", OFF(kafka), OFF(n_kafka),
     "Any librdkafka property (`bootstrap.servers`, `security.protocol`, `sasl.*`, "
     "`ssl.*`, ...), passed to librdkafka unchanged."},
};
#define N_PASSTHROUGH (sizeof(passthrough) / sizeof(passthrough[0]))

const char *tc_config_metric_name(unsigned bit)
{
    for (int i = 0; metrics[i]; i++)
        if (bit == 1u << i)
            return metrics[i];
    return "?";
}

/* ---- value parsers: return 0 or TC_ECONFIG with "expected ..." in why ---- */

static int parse_u64(const char *s, uint64_t *out, const char **end)
{
    if (!isdigit((unsigned char)*s))
        return TC_ECONFIG;
    errno = 0;
    char *e;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno)
        return TC_ECONFIG;
    *out = v;
    *end = e;
    return 0;
}

static int parse_duration(const char *s, int64_t *ms)
{
    uint64_t v;
    const char *unit;
    if (parse_u64(s, &v, &unit))
        return TC_ECONFIG;
    static const struct {
        const char *u;
        uint64_t mul;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcmp(unit, units[i].u)) {
            if (v > INT64_MAX / units[i].mul)
                return TC_ECONFIG;
            *ms = (int64_t)(v * units[i].mul);
            return 0;
        }
    return TC_ECONFIG;
}

static int parse_size(const char *s, uint64_t *bytes)
{
    uint64_t v;
    const char *unit;
    if (parse_u64(s, &v, &unit))
        return TC_ECONFIG;
    uint64_t mul;
    if (!*unit)
        mul = 1;
    else if (!strcmp(unit, "k") || !strcmp(unit, "K"))
        mul = 1024;
    else if (!strcmp(unit, "M"))
        mul = 1024 * 1024;
    else if (!strcmp(unit, "G"))
        mul = 1024ull * 1024 * 1024;
    else
        return TC_ECONFIG;
    if (v > UINT64_MAX / mul)
        return TC_ECONFIG;
    *bytes = v * mul;
    return 0;
}

static void list_choices(char *buf, size_t n, const char *const *choices)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", choices[i]);
}

static int choice_index(const char *const *choices, const char *s, size_t len)
{
    for (int i = 0; choices[i]; i++)
        if (strlen(choices[i]) == len && !strncmp(choices[i], s, len))
            return i;
    return -1;
}

/* Parses value for key k into cfg. On failure writes "expected ..." to why. */
static int apply(tc_config_t *cfg, const key_def_t *k, const char *value, char *why,
                 size_t whysize)
{
    void *field = (char *)cfg + k->offset;
    char list[256];
    switch (k->type) {
    case T_STRING: {
        if (!*value && !k->allow_empty) {
            snprintf(why, whysize, "expected a non-empty value");
            return TC_ECONFIG;
        }
        char *copy = strdup(value);
        if (!copy)
            return TC_ENOMEM;
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case T_ENUM: {
        int i = choice_index(k->choices, value, strlen(value));
        if (i < 0) {
            list_choices(list, sizeof(list), k->choices);
            snprintf(why, whysize, "expected one of %s", list);
            return TC_ECONFIG;
        }
        *(int *)field = i;
        return 0;
    }
    case T_FLAGS: {
        unsigned bits = 0;
        const char *p = value;
        while (*p) {
            while (*p == ' ' || *p == ',')
                p++;
            const char *q = p;
            while (*q && *q != ',' && *q != ' ')
                q++;
            if (q == p)
                break;
            int i = choice_index(k->choices, p, (size_t)(q - p));
            if (i < 0) {
                list_choices(list, sizeof(list), k->choices);
                snprintf(why, whysize, "expected a comma-separated list of %s", list);
                return TC_ECONFIG;
            }
            bits |= 1u << i;
            p = q;
        }
        if (!bits) {
            list_choices(list, sizeof(list), k->choices);
            snprintf(why, whysize, "expected at least one of %s", list);
            return TC_ECONFIG;
        }
        *(unsigned *)field = bits;
        return 0;
    }
    case T_DURATION: {
        int64_t ms;
        if (parse_duration(value, &ms)) {
            snprintf(why, whysize, "expected a duration like 60s, 5m, 1h");
            return TC_ECONFIG;
        }
        if ((double)ms < k->min || (double)ms > k->max) {
            snprintf(why, whysize, "expected a duration between %.0fms and %.0fms", k->min,
                     k->max);
            return TC_ECONFIG;
        }
        *(int64_t *)field = ms;
        return 0;
    }
    case T_UINT: {
        uint64_t v;
        const char *end;
        if (parse_u64(value, &v, &end) || *end || (double)v < k->min || (double)v > k->max) {
            snprintf(why, whysize, "expected an integer from %.0f to %.0f", k->min, k->max);
            return TC_ECONFIG;
        }
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    }
    case T_SIZE: {
        uint64_t v;
        if (parse_size(value, &v) || (double)v < k->min || (double)v > k->max) {
            snprintf(why, whysize,
                     "expected a size in bytes like 4096, 64k, 1M (from %.0f to %.0f bytes)",
                     k->min, k->max);
            return TC_ECONFIG;
        }
        *(uint64_t *)field = v;
        return 0;
    }
    case T_DOUBLE: {
        char *end;
        errno = 0;
        double v = *value ? strtod(value, &end) : NAN;
        if (!*value || errno || *end || !isfinite(v) || v < k->min || v > k->max) {
            snprintf(why, whysize, "expected a number from %g to %g", k->min, k->max);
            return TC_ECONFIG;
        }
        *(double *)field = v;
        return 0;
    }
    case T_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1", NULL};
        static const char *const no[] = {"false", "no", "off", "0", NULL};
        if (choice_index(yes, value, strlen(value)) >= 0)
            *(int *)field = 1;
        else if (choice_index(no, value, strlen(value)) >= 0)
            *(int *)field = 0;
        else {
            snprintf(why, whysize, "expected true or false");
            return TC_ECONFIG;
        }
        return 0;
    }
    case T_ORDER: {
        int v[3];
        const char *q = value;
        for (int i = 0; i < 3; i++) {
            uint64_t x;
            const char *end;
            while (*q == ' ')
                q++;
            if (parse_u64(q, &x, &end) || (double)x > k->max) {
                snprintf(why, whysize, "expected three integers from 0 to %.0f like 2,1,1",
                         k->max);
                return TC_ECONFIG;
            }
            v[i] = (int)x;
            q = end;
            while (*q == ' ')
                q++;
            if (i < 2 && *q++ != ',') {
                snprintf(why, whysize, "expected three integers from 0 to %.0f like 2,1,1",
                         k->max);
                return TC_ECONFIG;
            }
        }
        if (*q) {
            snprintf(why, whysize, "expected three integers from 0 to %.0f like 2,1,1", k->max);
            return TC_ECONFIG;
        }
        memcpy(field, v, sizeof(v));
        return 0;
    }
    case T_LOGLEVEL: {
        enum tc_log_level lv;
        if (tc_log_level_parse(value, &lv)) {
            snprintf(why, whysize, "expected one of debug, info, warn, error");
            return TC_ECONFIG;
        }
        *(int *)field = (int)lv;
        return 0;
    }
    }
    return TC_EINVAL;
}

/* ---- parsing a file ---- */

typedef struct parse_state {
    tc_config_t *cfg;
    const char *file;
    FILE *fp;
    int line;
    int rc;           /* first error */
    int err_line;     /* its line */
    bool long_line;   /* the reader met a line longer than libinih's buffer */
    unsigned seen[N_KEYS]; /* line each key was set on (0 = not set) */
    char *err;
    size_t errsize;
} parse_state_t;

static int fail(parse_state_t *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parse_state_t *st, int rc, const char *fmt, ...)
{
    if (st->rc)
        return 0;
    st->rc = rc;
    st->err_line = st->line;
    int n = snprintf(st->err, st->errsize, "%s:%d: ", st->file, st->line);
    if (n >= 0 && (size_t)n < st->errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->err + n, st->errsize - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return 0; /* tells libinih this line failed */
}

static int add_passthrough(parse_state_t *st, size_t p, const char *name, const char *value)
{
    tc_config_kv_t **list = (tc_config_kv_t **)((char *)st->cfg + passthrough[p].list_off);
    size_t *count = (size_t *)((char *)st->cfg + passthrough[p].count_off);
    tc_config_kv_t *grown = realloc(*list, (*count + 1) * sizeof(**list));
    if (!grown)
        return fail(st, TC_ENOMEM, "out of memory");
    *list = grown;
    tc_config_kv_t *kv = &grown[*count];
    kv->key = strdup(name);
    kv->value = strdup(value);
    kv->line = st->line;
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        return fail(st, TC_ENOMEM, "out of memory");
    }
    (*count)++;
    return 1;
}

static void known_sections(char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS && o < n; i++)
        if (i == 0 || strcmp(keys[i].section, keys[i - 1].section))
            o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", keys[i].section);
    for (size_t p = 0; p < N_PASSTHROUGH && o < n; p++)
        o += (size_t)snprintf(buf + o, n - o, ", %s", passthrough[p].section);
}

static void known_keys(char *buf, size_t n, const char *section)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS && o < n; i++)
        if (!strcmp(keys[i].section, section))
            o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", keys[i].name);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_state_t *st = user;
    if (st->rc)
        return 0;
    if (!*section)
        return fail(st, TC_ECONFIG, "%s: key outside any section; expected a [section] line first",
                    name);
    for (size_t p = 0; p < N_PASSTHROUGH; p++)
        if (!strcmp(section, passthrough[p].section))
            return add_passthrough(st, p, name, value);
    bool section_known = false;
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def_t *k = &keys[i];
        if (strcmp(k->section, section))
            continue;
        section_known = true;
        if (strcmp(k->name, name))
            continue;
        if (st->seen[i])
            return fail(st, TC_ECONFIG, "%s.%s: set twice (first on line %u); expected one value",
                        section, name, st->seen[i]);
        st->seen[i] = (unsigned)st->line;
        if (st->cfg->key_lines)
            st->cfg->key_lines[i] = (unsigned)st->line;
        char why[320];
        int rc = apply(st->cfg, k, value, why, sizeof(why));
        if (rc == TC_ENOMEM)
            return fail(st, rc, "out of memory");
        if (rc)
            return fail(st, rc, "%s.%s: %s, got '%s'", section, name, why, value);
        return 1;
    }
    char list[512];
    if (!section_known) {
        known_sections(list, sizeof(list));
        return fail(st, TC_ECONFIG, "[%s]: unknown section; expected one of %s", section, list);
    }
    known_keys(list, sizeof(list), section);
    return fail(st, TC_ECONFIG, "%s.%s: unknown key; expected one of %s", section, name, list);
}

/*
 * ini_reader: one call per physical line, so st->line is the line the
 * handler is about to see. A line that does not fit in num bytes is cut
 * (the rest discarded) and flagged, rather than fed to libinih in pieces.
 */
static char *read_line(char *str, int num, void *stream)
{
    parse_state_t *st = stream;
    int c, n = 0;
    bool any = false;
    while ((c = fgetc(st->fp)) != EOF) {
        any = true;
        if (n < num - 1)
            str[n++] = (char)c;
        else if (!st->long_line && c != '\n' && c != '\r') {
            st->long_line = true;
            st->line++;
            fail(st, TC_ECONFIG, "line longer than %d characters", num - 3);
            st->line--;
        }
        if (c == '\n')
            break;
    }
    if (!any)
        return NULL;
    str[n] = '\0';
    st->line++;
    return str;
}

int tc_config_load(tc_config_t *cfg, const char *path, char *err, size_t errsize)
{
    parse_state_t st = {.cfg = cfg, .file = path, .err = err, .errsize = errsize};
    if (errsize)
        err[0] = '\0';
    st.fp = fopen(path, "r");
    if (!st.fp) {
        snprintf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
        return TC_EIO;
    }
    int r = ini_parse_stream(read_line, &st, handler, &st);
    fclose(st.fp);
    if (st.rc)
        return st.rc;
    if (r > 0) { /* a line libinih could not parse; the handler never saw it */
        snprintf(err, errsize,
                 "%s:%d: syntax error: expected '[section]', 'key = value' or a comment", path,
                 r);
        return TC_ECONFIG;
    }
    if (r < 0) {
        snprintf(err, errsize, "%s: cannot parse (out of memory)", path);
        return TC_ENOMEM;
    }
    return 0;
}

int tc_config_set(tc_config_t *cfg, const char *dotted_key, const char *value,
                  const char *origin, char *err, size_t errsize)
{
    parse_state_t st = {.cfg = cfg, .file = origin, .err = err, .errsize = errsize};
    const char *dot = strchr(dotted_key, '.');
    char section[64];
    if (!dot || (size_t)(dot - dotted_key) >= sizeof(section)) {
        snprintf(err, errsize, "%s: %s: expected section.key", origin, dotted_key);
        return TC_ECONFIG;
    }
    memcpy(section, dotted_key, (size_t)(dot - dotted_key));
    section[dot - dotted_key] = '\0';
    handler(&st, section, dot + 1, value);
    return st.rc;
}

unsigned tc_config_key_line(const tc_config_t *cfg, const char *dotted_key)
{
    const char *dot = strchr(dotted_key, '.');
    if (!dot || !cfg->key_lines)
        return 0;
    size_t sl = (size_t)(dot - dotted_key);
    for (size_t i = 0; i < N_KEYS; i++)
        if (strlen(keys[i].section) == sl && !strncmp(keys[i].section, dotted_key, sl) &&
            !strcmp(keys[i].name, dot + 1))
            return cfg->key_lines[i];
    return 0;
}

int tc_config_init(tc_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->key_lines = calloc(N_KEYS, sizeof(*cfg->key_lines));
    if (!cfg->key_lines)
        return TC_ENOMEM;
    for (size_t i = 0; i < N_KEYS; i++) {
        char why[320];
        int rc = apply(cfg, &keys[i], keys[i].def, why, sizeof(why));
        if (rc) { /* a bad default is a programming error in the table */
            tc_config_deinit(cfg);
            return rc == TC_ENOMEM ? rc : TC_EINVAL;
        }
    }
    return 0;
}

void tc_config_deinit(tc_config_t *cfg)
{
    free(cfg->key_lines);
    cfg->key_lines = NULL;
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].type == T_STRING) {
            char **s = (char **)((char *)cfg + keys[i].offset);
            free(*s);
            *s = NULL;
        }
    for (size_t p = 0; p < N_PASSTHROUGH; p++) {
        tc_config_kv_t **list = (tc_config_kv_t **)((char *)cfg + passthrough[p].list_off);
        size_t *count = (size_t *)((char *)cfg + passthrough[p].count_off);
        for (size_t j = 0; j < *count; j++) {
            free((*list)[j].key);
            free((*list)[j].value);
        }
        free(*list);
        *list = NULL;
        *count = 0;
    }
}

static const char *type_name(const key_def_t *k, char *buf, size_t n)
{
    switch (k->type) {
    case T_STRING:
        return "string";
    case T_ENUM:
        list_choices(buf, n, k->choices);
        for (char *p = buf; *p; p++)
            if (*p == ',')
                *p = '|';
        return buf;
    case T_FLAGS:
        return "list";
    case T_DURATION:
        return "duration";
    case T_UINT:
        return "integer";
    case T_SIZE:
        return "size";
    case T_LOGLEVEL:
        return "debug|info|warn|error";
    case T_DOUBLE:
        return "number";
    case T_BOOL:
        return "boolean";
    case T_ORDER:
        return "p,d,q";
    }
    return "?";
}

void tc_config_write_reference(FILE *out)
{
    fprintf(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        char tb[256];
        char tbs[300];
        const char *t = type_name(&keys[i], tb, sizeof(tb));
        /* Pipes inside a markdown cell need escaping. */
        size_t o = 0;
        for (const char *p = t; *p && o + 3 < sizeof(tbs); p++) {
            if (*p == '|')
                tbs[o++] = '\\';
            if (*p != ' ')
                tbs[o++] = *p;
        }
        tbs[o] = '\0';
        char def[128];
        snprintf(def, sizeof(def), *keys[i].def ? "`%s`" : "(empty)", keys[i].def);
        fprintf(out, "| `%s.%s` | %s | %s | %s |\n", keys[i].section, keys[i].name, tbs, def,
                keys[i].doc);
    }
    for (size_t p = 0; p < N_PASSTHROUGH; p++)
        fprintf(out, "| `%s.*` | passthrough | | %s |\n", passthrough[p].section,
                passthrough[p].doc);
    fprintf(out, "\nDurations take a unit: `ms`, `s`, `m`, `h`, `d` (`90s`, `5m`). Sizes are bytes "
                 "with an optional binary suffix `k`, `M`, `G`. Lists are comma-separated.\n");
}
