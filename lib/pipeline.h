/*
 * pipeline.h - the processing core of one input partition, without I/O.
 *
 *     bytes or event --decode--> tc_event_t --key--> series --window-->
 *         on bucket close: sink.bucket, then per forecast metric the
 *         forecasters (sink.forecast) and autoscaling (sink.scale)
 *
 * A pipeline owns a decoder, a series registry and a window; everything it
 * produces goes through the callbacks of a tc_pipeline_sink_t given at
 * creation, so the daemon's stdout writer, Kafka producer and Redis writer
 * are all just sinks. Several sinks are chained by the caller (one sink
 * whose callbacks call the others).
 *
 * Determinism: given the same configuration and the same sequence of
 * feed/advance/flush calls, a pipeline produces the same sink calls with the
 * same values, and tc_pipeline_snapshot() taken at any point and restored
 * into a fresh pipeline continues exactly as the original would. Nothing
 * reads a clock (the decoder's future-skew check is set through
 * tc_pipeline_set_now or disabled by decode.max_future_ms < 0); outputs carry
 * event-time fields only, and a sink adds wall-clock "issued at" times.
 *
 * Errors from feed calls tell the caller what to do with the input:
 *   TC_EPARSE, TC_EMISSING_KEY, TC_EBAD_TYPE, TC_EBAD_TIMESTAMP,
 *   TC_EOVERSIZED, TC_EUNKNOWN_TYPE, TC_ENAN
 *                  malformed: dead-letter it with tc_pipeline_last_error();
 *   TC_ELATE       its bucket had closed: counted and dropped;
 *   TC_EFULL       a new series beyond max_series: counted and dropped;
 *   TC_ENOMEM      not processed; the pipeline is unchanged and usable.
 * Annotations (external feature vectors, e.g. derived by a language model
 * from a campaign text) are kept, at most max_annotations, and when
 * exog_dim > 0 they are the LSTM's exogenous input: a series gets the
 * features of the newest annotation whose target is the series key or its
 * site and whose [valid_from, valid_to) overlaps the bucket being forecast,
 * zeros when none. An annotation whose feature count differs from exog_dim
 * is refused with TC_EINVAL (dead-letter it: the reason says why); with
 * exog_dim == 0 annotations are accepted and only counted.
 *
 * Forecasting runs per tick: the buckets that close with the same start
 * are collected and processed together when a later start closes or the
 * feed/advance/flush call returns, so the LSTM step is one batch. Sink
 * order: every bucket as it closes, then that tick's forecasts (series in
 * index order, metrics in tc_metric_t order) and scale signals.
 *
 * Sink callbacks run inside feed/advance/flush calls, on the caller's
 * thread; they must not call back into the pipeline. A callback returning
 * non-zero is counted in stats.sink_errors and processing goes on: sinks
 * buffer and retry on their own (outputs are idempotent per series and
 * bucket, so re-sending is harmless).
 *
 * Threads: one thread at a time per pipeline (one pipeline per partition).
 */
#ifndef TC_PIPELINE_H
#define TC_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accuracy.h"
#include "arima.h"
#include "autoscale.h"
#include "churn.h"
#include "decode.h"
#include "lstm.h"
#include "event.h"
#include "serieskey.h"
#include "window.h"

/* Most forecast steps a pipeline issues. */
#define TC_PIPELINE_MAX_HORIZON 256

/* One step of a forecast path; 80% and 95% central prediction intervals. */
typedef struct tc_forecast_step {
    double mean, lo80, hi80, lo95, hi95;
} tc_forecast_step_t;

/* A closed bucket of one series, as delivered to sinks. */
typedef struct tc_pipeline_bucket {
    uint32_t series;        /* registry index */
    const char *key;        /* series key, NUL-terminated */
    size_t key_len;
    int64_t bucket_ms;      /* width */
    const tc_bucket_t *b;   /* start and metrics */
} tc_pipeline_bucket_t;

/* A forecast path issued when a bucket closed (origin = that bucket's start). */
typedef struct tc_pipeline_forecast {
    uint32_t series;
    const char *key;
    size_t key_len;
    tc_metric_t metric;
    const char *model;      /* "snaive", "sarima", "lstm", "ensemble" */
    int64_t origin_ms;      /* start of the bucket that closed */
    int64_t bucket_ms;      /* step h forecasts the bucket at origin + h*bucket_ms */
    double actual;          /* value of the bucket that closed */
    size_t horizon;         /* number of steps */
    const tc_forecast_step_t *steps; /* steps[h-1] for h = 1..horizon */
    tc_accuracy_report_t accuracy; /* one-step accuracy of this model on this series
                                      and metric so far (n = 0: none scored yet) */
} tc_pipeline_forecast_t;

/* An autoscaling recommendation (see autoscale.h for the rule). */
typedef struct tc_pipeline_scale {
    uint32_t series;
    const char *key;
    size_t key_len;
    unsigned current_replicas;     /* recommended before this signal */
    unsigned recommended_replicas;
    double forecast_upper;         /* the bound that drove the decision */
    unsigned at_h;                 /* step at which it occurs (0: none) */
    double capacity_per_replica;
    int64_t origin_ms;
    const char *reason;            /* human-readable, NUL-terminated */
} tc_pipeline_scale_t;

/* Churn outputs (filled once the churn engine is wired in). */
typedef struct tc_pipeline_churn_score {
    const char *user;          /* keyed hash of the raw id, hex */
    double risk, p_alive, expected_transactions;
    int64_t last_seen_ms, horizon_ms, as_of_ms;
    uint32_t frequency;
    const char *model;
} tc_pipeline_churn_score_t;

typedef struct tc_pipeline_churn_alert {
    const char *user;
    double risk, p_alive, expected_transactions, threshold;
    int64_t last_seen_ms, as_of_ms;
} tc_pipeline_churn_alert_t;

/*
 * Where outputs go. Any callback may be NULL (that output is then not
 * produced at all where producing it costs something). Pointers inside the
 * structs are valid during the call only.
 */
typedef struct tc_pipeline_sink {
    void *ctx;
    int (*bucket)(void *ctx, const tc_pipeline_bucket_t *b);
    int (*forecast)(void *ctx, const tc_pipeline_forecast_t *f);
    int (*scale)(void *ctx, const tc_pipeline_scale_t *s);
    int (*churn_score)(void *ctx, const tc_pipeline_churn_score_t *s);
    int (*churn_alert)(void *ctx, const tc_pipeline_churn_alert_t *a);
} tc_pipeline_sink_t;

/* Autoscaling settings, applied to every series (see autoscale.h for the rule). */
typedef struct tc_pipeline_autoscale {
    bool enabled;                  /* needs forecasting on (horizon > 0) */
    tc_metric_t metric;            /* capacity is in this metric per bucket; must be forecast */
    bool use_80;                   /* drive by the 80% upper bound instead of the 95% one */
    tc_autoscale_config_t rule;
} tc_pipeline_autoscale_t;

/*
 * Heavy engine work (SARIMA fits, churn population refits) as jobs that may
 * run on another thread. A job is owned by the pipeline; tc_pipeline_job_run()
 * computes it and touches nothing but the job, so it may run on any thread.
 * The pipeline applies a job's result at a fixed point in event time
 * (SARIMA: arima_apply_lag buckets after it was made, replaying the buckets
 * seen since; churn: at the first churn event churn_refit_apply_ms after the
 * statistics were taken), so outputs do not depend on when or where the job
 * ran.
 */
typedef struct tc_pipeline_job tc_pipeline_job_t;

/* Runs the job's computation. Any thread; once per job. */
void tc_pipeline_job_run(tc_pipeline_job_t *job);

/* A slot for the executor's own data about a job (NULL initially). */
void tc_pipeline_job_set_user(tc_pipeline_job_t *job, void *user);
void *tc_pipeline_job_user(const tc_pipeline_job_t *job);

/*
 * Where jobs run. submit == NULL: inline, on the pipeline's thread.
 *   submit   starts tc_pipeline_job_run(job) elsewhere (e.g. uv_queue_work);
 *            returning non-zero makes the pipeline run it inline instead.
 *   wait     blocks until that run has finished (called before the result
 *            is used, and before the job is dropped).
 *   release  the pipeline no longer refers to job (after wait); the job's
 *            memory is freed right after this returns.
 * @locality submit, wait and release are called on the pipeline's thread.
 */
typedef struct tc_pipeline_executor {
    void *ud;
    int (*submit)(void *ud, tc_pipeline_job_t *job);
    void (*wait)(void *ud, tc_pipeline_job_t *job);
    void (*release)(void *ud, tc_pipeline_job_t *job);
} tc_pipeline_executor_t;

/* Which forecasts reach sink.forecast. */
typedef enum tc_pipeline_publish {
    TC_PIPELINE_PUBLISH_BEST = 0, /* one per series, metric and bucket: the
                                     ensemble when two or more models have a
                                     forecast, else the one model that has */
    TC_PIPELINE_PUBLISH_ALL = 1,  /* every model with a forecast, and the ensemble */
} tc_pipeline_publish_t;

typedef struct tc_pipeline_config {
    tc_decode_limits_t decode;
    tc_serieskey_config_t keying;
    tc_window_config_t window;     /* window.max_series is the registry cap too */
    /*
     * Forecasting: horizon 0 disables it. forecast_metrics is a bit set of
     * (1u << tc_metric_t); season is the seasonal period in buckets (1 = no
     * seasonality). The seasonal naive always runs (it is also the MASE
     * yardstick); SARIMA and LSTM are optional; the ensemble (ensemble.h,
     * discount ensemble_lambda) combines whichever models have a forecast.
     */
    unsigned horizon;
    unsigned forecast_metrics;
    unsigned season;
    tc_pipeline_publish_t publish;
    double ensemble_lambda;        /* (0, 1]; default 0.97 */
    /*
     * SARIMA (arima.h), per series and metric: fitted on the loop thread by
     * exact ML once a track has arima_fit_after buckets (orders arima_spec,
     * or chosen automatically with arima_auto), then one Kalman update per
     * bucket; refitted on the last arima_fit_after buckets every
     * arima_refit_every buckets (0 = never). A fit that fails is retried
     * after another arima_fit_after buckets.
     */
    bool arima;
    tc_arima_spec_t arima_spec;
    bool arima_auto;
    unsigned arima_fit_after;      /* >= 8 */
    unsigned arima_refit_every;
    unsigned arima_apply_lag;      /* buckets between starting a fit and using it
                                      (0: at once, which blocks on the executor) */
    tc_pipeline_executor_t executor;
    /*
     * LSTM (lstm.h): one global model per forecast metric, stepped once per
     * tick for all series whose bucket closed, batched. lstm_cfg's
     * max_horizon, bucket_ms are set from the pipeline; series whose
     * registry index is >= lstm_cfg.max_series are not given to the LSTM.
     */
    bool lstm;
    tc_lstm_config_t lstm_cfg;
    unsigned exog_dim;             /* annotation features per vector, <= TC_LSTM_MAX_EXOG
                                      and TC_EVENT_MAX_FEATURES; 0 = not used */
    unsigned max_annotations;      /* kept at once (the oldest is dropped); default 1024 */
    tc_pipeline_autoscale_t autoscale;
    /*
     * Churn (churn.h): every traffic or behavior event with a user id
     * updates that user (behavior purchase -> transaction, cancel -> cancel,
     * anything else -> activity). Alerts reach sink.churn_alert; with
     * sink.churn_score set, the user's score follows each of its events.
     * In event time: every churn_sweep_every_ms the sweeper re-scores up to
     * churn_sweep_users users (risk rises while users stay away) and evicts
     * users idle for churn_evict_idle_ms (0 = never); every
     * churn_refit_every_ms the population parameters are refitted (0 =
     * never): the statistics are copied on the pipeline's thread, the BG/NBD
     * MLE runs as a job on the executor, and the fitted parameters are used
     * from the first churn event churn_refit_apply_ms later (0: at once,
     * which runs the fit inline). churn_cfg.on_alert is the pipeline's own.
     * The secret keys the pseudonyms (>= 16 bytes).
     */
    bool churn;
    tc_churn_config_t churn_cfg;
    uint8_t churn_secret[64];
    size_t churn_secret_len;
    int64_t churn_sweep_every_ms;
    size_t churn_sweep_users;
    int64_t churn_evict_idle_ms;
    int64_t churn_refit_every_ms;
    int64_t churn_refit_apply_ms;  /* >= 0 */
} tc_pipeline_config_t;

/*
 * Defaults: decode limits of decode.h; keying by site; 60 s buckets, 10 s
 * lateness, ring 60, 100000 series; forecasting off (horizon 0), requests
 * only, season 60, publish best, ensemble lambda 0.97; SARIMA off
 * (spec (2,1,1), fit after 120 buckets, no refit); LSTM off (lstm.h
 * defaults, 1024 series); autoscaling off; churn off (churn.h defaults,
 * sweep every hour of event time over 10000 users, no eviction, no refit,
 * a refit used 5 minutes of event time after it starts).
 */
void tc_pipeline_config_default(tc_pipeline_config_t *cfg);

typedef struct tc_pipeline tc_pipeline_t;

/*
 * Creates a pipeline. The sink struct is copied. Returns 0 and *out, or
 * TC_EINVAL (bad configuration; nothing allocated), TC_ENOMEM.
 */
int tc_pipeline_new(const tc_pipeline_config_t *cfg, const tc_pipeline_sink_t *sink,
                    tc_pipeline_t **out);

/* Frees everything; open buckets are discarded (flush first). NULL is a no-op. */
void tc_pipeline_free(tc_pipeline_t *p);

/* Replaces the sink (e.g. after restore, or to add an output). */
void tc_pipeline_set_sink(tc_pipeline_t *p, const tc_pipeline_sink_t *sink);

/* Sets the clock used by the decoder's future-skew check (0 = real clock). */
void tc_pipeline_set_now(tc_pipeline_t *p, int64_t now_ms);

/* Input: one NDJSON line / JSON message; kind from the topic or TC_EVENT_NONE. */
int tc_pipeline_feed_json(tc_pipeline_t *p, tc_event_kind_t kind, const char *buf, size_t len);

/* Input: one bare protobuf message of a known kind (a Kafka message). */
int tc_pipeline_feed_pb(tc_pipeline_t *p, tc_event_kind_t kind, const uint8_t *buf, size_t len);

/* Input: one Envelope without its length prefix (a file record). */
int tc_pipeline_feed_envelope(tc_pipeline_t *p, const uint8_t *buf, size_t len);

/* Input: an already decoded event (validated by the caller). */
int tc_pipeline_feed_event(tc_pipeline_t *p, const tc_event_t *ev);

/*
 * Reason of the last refused input: the decoder's message for malformed
 * input, "late: ..." or "series limit reached" otherwise; "" after success.
 * Owned by the pipeline, valid until the next feed call.
 */
const char *tc_pipeline_last_error(const tc_pipeline_t *p);

/* Lets event time pass to t_ms without an event (idle input). */
void tc_pipeline_advance(tc_pipeline_t *p, int64_t t_ms);

/* Closes every open bucket (end of input, shutdown, partition revoked). */
void tc_pipeline_flush(tc_pipeline_t *p);

typedef struct tc_pipeline_stats {
    uint64_t events;       /* inputs accepted (including annotations) */
    uint64_t annotations;
    uint64_t malformed;    /* refused by the decoder */
    uint64_t late;         /* dropped as late */
    uint64_t refused;      /* dropped: series limit */
    uint64_t buckets;      /* closed buckets delivered */
    uint64_t forecasts;    /* forecast paths delivered */
    uint64_t scale_signals;
    uint64_t sink_errors;  /* sink callbacks that returned non-zero */
    uint64_t churn_events; /* events accepted by the churn engine */
    uint64_t churn_alerts;
    uint64_t churn_refits; /* successful population refits */
    size_t series;
    int64_t watermark_ms;  /* valid if started */
    bool started;
} tc_pipeline_stats_t;

void tc_pipeline_stats(const tc_pipeline_t *p, tc_pipeline_stats_t *st);

/* The registry's key of a series index (NULL if unknown). */
const char *tc_pipeline_series_key(const tc_pipeline_t *p, uint32_t series, size_t *len);

/*
 * Serialises the whole processing state (window, registry keys, model
 * states, counters) as a tidecast.v1.Snapshot (state.proto) with the given
 * group, partition and offsets; *buf is malloc'd, the caller frees it.
 * taken_at_ms is recorded as given (the caller's clock). Returns 0 or
 * TC_ENOMEM.
 */
typedef struct tc_pipeline_offset {
    const char *topic;
    int64_t offset; /* next offset to consume */
} tc_pipeline_offset_t;

int tc_pipeline_snapshot(const tc_pipeline_t *p, const char *group, int32_t partition,
                         const tc_pipeline_offset_t *offsets, size_t n_offsets,
                         int64_t taken_at_ms, uint8_t **buf, size_t *len);

/*
 * Restores a snapshot into a fresh pipeline (created with the same
 * configuration, nothing fed yet). The offsets it holds are returned through
 * cb (may be NULL), called once per topic. Returns 0; TC_EPARSE; TC_EVERSION;
 * TC_EINVAL (configuration differs or pipeline not fresh); TC_ECORRUPT;
 * TC_ENOMEM. On error the pipeline should be freed.
 */
int tc_pipeline_restore(tc_pipeline_t *p, const uint8_t *buf, size_t len,
                        void (*offset_cb)(void *ud, const char *topic, int64_t offset),
                        void *ud);

#endif
