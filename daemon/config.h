/*
 * config.h - tidecastd configuration: an INI file read with libinih.
 *
 * Every key lives in one table (config.c, `keys[]`): section, name, type,
 * default (written as it would be in the file, and parsed by the same code),
 * bounds and a doc string. The README's configuration reference and
 * `tidecastd --config-reference` are generated from that table, so adding a
 * setting is one table row plus one struct member here.
 *
 * Sections whose keys are not known in advance (librdkafka properties under
 * [kafka]) are "passthrough" sections: every key=value is kept in order in a
 * tc_config_kv_t list and handed on untouched.
 *
 * Errors are final for the file: tc_config_load() stops at the first one and
 * writes a message naming file, line, key and what was expected, e.g.
 *
 *     tidecast.conf:12: window.bucket: expected a duration like 60s, 5m, 1h, got 'abc'
 *
 * Unknown sections and keys are errors, so a typo never silently keeps a
 * default.
 */
#ifndef TC_DAEMON_CONFIG_H
#define TC_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum tc_config_format {
    TC_CONFIG_FORMAT_NDJSON = 0,
    TC_CONFIG_FORMAT_PROTOBUF = 1,
};

enum tc_config_keying {
    TC_CONFIG_KEYING_SITE = 0,
    TC_CONFIG_KEYING_SITE_PATH = 1,
};

/* Bits of window.metrics, in the order the output writes them. */
enum tc_config_metric {
    TC_CONFIG_METRIC_REQUESTS = 1u << 0,
    TC_CONFIG_METRIC_UNIQUE_USERS = 1u << 1,
    TC_CONFIG_METRIC_BYTES = 1u << 2,
    TC_CONFIG_METRIC_ERRORS = 1u << 3,
    TC_CONFIG_METRIC_CONVERSIONS = 1u << 4,
    TC_CONFIG_METRIC_REVENUE = 1u << 5,
};

/* Bits of forecast.models. */
enum tc_config_model {
    TC_CONFIG_MODEL_SNAIVE = 1u << 0,
    TC_CONFIG_MODEL_SARIMA = 1u << 1,
    TC_CONFIG_MODEL_LSTM = 1u << 2,
};

/* One key=value of a passthrough section, in file order. */
typedef struct tc_config_kv {
    char *key;
    char *value;
    int line;
} tc_config_kv_t;

typedef struct tc_config {
    struct {
        char *source;  /* path of an event file, "-" for stdin */
        int format;    /* enum tc_config_format */
    } input;
    struct {
        int64_t bucket_ms;   /* tumbling bucket width */
        int64_t lateness_ms; /* watermark = max event time - lateness */
        uint32_t ring;       /* closed buckets kept per series */
        unsigned metrics;    /* enum tc_config_metric bits */
    } window;
    struct {
        int mode;            /* enum tc_config_keying */
        uint32_t path_depth; /* path segments kept with site_path */
    } keying;
    struct {
        uint32_t max_series;  /* series registry cap; new series beyond are refused */
        uint32_t max_field;   /* longest accepted string field, bytes */
        uint64_t max_message; /* longest accepted event (line or frame), bytes */
    } limits;
    struct {
        int level; /* enum tc_log_level */
    } log;
    struct {
        uint32_t horizon;  /* forecast steps; 0 = forecasting off */
        unsigned metrics;  /* enum tc_config_metric bits */
        uint32_t season;   /* seasonal period in buckets */
        unsigned models;   /* TC_CONFIG_MODEL_* bits (snaive always runs) */
        int publish;       /* 0 best, 1 all */
        double ensemble_lambda;
        uint32_t exog_dim;        /* annotation features fed to the LSTM; 0 = off */
        uint32_t max_annotations; /* kept at once */
    } forecast;
    struct {
        int order[3];      /* p, d, q */
        int seasonal[3];   /* P, D, Q (period = forecast.season) */
        int automatic;     /* bool: choose orders automatically */
        uint32_t fit_after;
        uint32_t refit_every;
        uint32_t apply_lag;
    } arima;
    struct {
        uint32_t hidden, layers, bptt, max_series;
        double lr;
        uint32_t seed;
    } lstm;
    struct {
        int enabled;       /* bool */
        int metric;        /* tc_metric_t number (index into the metrics list) */
        int bound;         /* 0 p95, 1 p80 */
        double capacity;   /* per replica, metric units per bucket */
        uint32_t min_replicas, max_replicas;
        double down_margin;
        int64_t cooldown_ms;
    } autoscale;
    struct {
        int enabled;       /* bool */
        char *secret;      /* keys the pseudonyms, >= 16 characters */
        int tx_mode;       /* 0 visit, 1 purchase */
        int64_t visit_gap_ms;
        int merge_same_day; /* bool */
        int64_t time_unit_ms;
        double horizon;    /* in time units */
        int model;         /* 0 bgnbd, 1 mbgnbd */
        double alert_threshold, alert_hysteresis;
        int64_t alert_cooldown_ms;
        uint32_t alert_min_repeat;
        uint32_t max_users;
        int64_t sweep_every_ms;
        uint32_t sweep_users;
        int64_t evict_idle_ms;
        int64_t refit_every_ms;
        int supervised;    /* bool */
    } churn;
    struct {
        char *buckets;     /* closed-bucket NDJSON: "-" stdout, path, "" off */
        char *dead_letter; /* dead-letter NDJSON file, "" = off */
        char *forecasts;   /* forecast NDJSON: "-", path, "" off */
        char *scale;       /* scale-signal NDJSON: "-", path, "" off */
        char *churn_alerts; /* churn-alert NDJSON: "-", path, "" off */
        char *churn_scores; /* churn-score NDJSON: "-", path, "" off */
    } output;
    struct {
        char *group;          /* consumer group */
        char *traffic, *behavior, *annotations;   /* input topics, "" = not consumed */
        char *forecasts, *autoscale, *churn_alerts, *churn_scores, *dead_letter; /* "" = off */
        int output_format;    /* 0 protobuf, 1 json */
        uint32_t mock_brokers; /* > 0: librdkafka's in-process mock cluster */
        int64_t checkpoint_ms;
        uint32_t max_backlog;
    } stream;
    struct {
        int enabled;          /* bool */
        char *host;
        uint32_t port;
        char *username, *password;
        uint32_t db;
        char *prefix;
        int64_t ttl_ms;
    } redis;
    struct {
        char *listen;         /* HOST:PORT of the HTTP endpoints, "" = off */
    } http;
    /* [kafka]: librdkafka properties, passed through. */
    tc_config_kv_t *kafka;
    size_t n_kafka;
    /* Line each table key was last set on (0: default), for messages about
     * keys that do not fit together; see tc_config_key_line(). */
    unsigned *key_lines;
} tc_config_t;

/* Fills cfg with the defaults of the key table. Returns 0 or TC_ENOMEM. */
int tc_config_init(tc_config_t *cfg);

/* Frees what cfg owns; cfg may then be init'ed again. */
void tc_config_deinit(tc_config_t *cfg);

/*
 * Reads path over the current values of cfg (normally the defaults).
 * Returns 0; TC_EIO if the file cannot be read; TC_ECONFIG with the first
 * error in err (file:line: section.key: expected ..., got '...');
 * TC_ENOMEM. On error cfg holds a mix of defaults and values read so far and
 * must still be deinit'ed.
 */
int tc_config_load(tc_config_t *cfg, const char *path, char *err, size_t errsize);

/*
 * Sets one key ("window.bucket", "2m") as if read from a file named origin
 * at line 0; used for command-line overrides and tests. Same errors.
 */
int tc_config_set(tc_config_t *cfg, const char *dotted_key, const char *value,
                  const char *origin, char *err, size_t errsize);

/*
 * Line of the file on which dotted_key ("autoscale.enabled") was set, or 0
 * if it holds its default (or was set with tc_config_set).
 */
unsigned tc_config_key_line(const tc_config_t *cfg, const char *dotted_key);

/* Writes the configuration reference (markdown table) generated from the key table. */
void tc_config_write_reference(FILE *out);

/* Metric name of one enum tc_config_metric bit ("unique_users"). */
const char *tc_config_metric_name(unsigned bit);

#endif
