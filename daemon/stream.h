/*
 * stream.h - tidecastd's Kafka runtime: input topics in a consumer group,
 * one pipeline per assigned topic-partition, outputs to Kafka and Redis,
 * dead letters, checkpoints, back-pressure.
 *
 * State. Each assigned (topic, partition) has its own tc_pipeline_t. Events
 * of one partition arrive in offset order, so a pipeline sees the same
 * sequence of inputs in every run and its outputs are a function of the
 * offsets it has consumed (pipeline.h: determinism).
 *
 * Checkpoints (every checkpoint_ms, on revocation and on stop). A cycle:
 *   1. consumption pauses, so that no further input is processed;
 *   2. every pipeline is serialised (tc_pipeline_snapshot) with the next
 *      offset of its partition;
 *   3. once the Kafka producer has no undelivered output left (everything
 *      produced before the snapshots is acknowledged), consumption resumes;
 *   4. each snapshot is SET in Redis (key <prefix>ckpt:<group>:<topic>:<p>)
 *      behind the Redis outputs queued before it (one connection, in order);
 *   5. when Redis has stored it, the offset is committed to Kafka.
 * On assignment the snapshot is read back (GET) before the partition is
 * assigned, restored into a fresh pipeline, and consumption starts at its
 * offset; so a crash at any point replays from the last stored snapshot and
 * the state and outputs continue as if nothing had happened (outputs after
 * the snapshot are produced again: Kafka consumers see them twice, Redis
 * values are overwritten with the same ones). Buckets are never flushed on
 * stop or revocation: open buckets travel inside the snapshot.
 * Without Redis there are no checkpoints: offsets are committed after the
 * outputs are delivered, and a restarted daemon starts with empty state.
 *
 * Outputs. Forecasts to `forecasts` (key "series|metric"), scale signals
 * to `autoscale` (key series), churn alerts to `churn.alerts` and scores to
 * `churn.scores` (key user), protobuf (outputs.proto) or JSON. In Redis:
 *   <prefix>fc:<series>:<metric>     hash of the latest forecast (h = 1:
 *                                    point, lo80, hi80, lo95, hi95; horizon,
 *                                    model, actual, origin_ms, mae, rmse, mase,
 *                                    smape, r2, coverage80, n, issued_at_ms),
 *                                    expiring after redis_ttl_s
 *   <prefix>churn:risk               sorted set user -> risk
 *   <prefix>churn:user:<user>        hash: risk, p_alive, expected, frequency,
 *                                    last_seen_ms, as_of_ms
 *   <prefix>alerts                   stream of churn alerts (XADD)
 *
 * Back-pressure: when the producer's backlog exceeds max_backlog messages or
 * Redis' queue its high-water mark, consumption pauses until both are below
 * half of it.
 *
 * @locality loop thread only.
 */
#ifndef TC_DAEMON_STREAM_H
#define TC_DAEMON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "daemon/redis.h"
#include "pipeline.h"

typedef struct tc_stream tc_stream_t;

typedef struct tc_stream_conf {
    const tc_pipeline_config_t *pipeline;
    const char *group;
    /* Input topics; NULL or "" = not consumed. */
    const char *traffic, *behavior, *annotations;
    bool json_input;              /* messages are JSON, else bare protobuf */
    /* Output topics; NULL or "" = not produced. */
    const char *forecasts, *autoscale, *churn_alerts, *churn_scores, *dead_letter;
    bool json_output;
    /* librdkafka properties as key, value pairs (kafka.h) and a mock cluster. */
    const char *const *kafka_props;
    size_t n_kafka_props;
    int mock_brokers;
    /* Redis; redis.host NULL = no Redis (and no checkpoints). */
    tc_redis_conf_t redis;
    bool use_redis;
    const char *redis_prefix;     /* default "tc:" */
    int redis_ttl_s;              /* forecast hashes; 0 = no expiry */
    int64_t checkpoint_ms;        /* default 10 s */
    size_t max_backlog;           /* producer messages; default 500000 */
} tc_stream_conf_t;

/* Extra sinks called besides Kafka and Redis (e.g. NDJSON to stdout); may be NULL. */
typedef struct tc_stream_extra {
    tc_pipeline_sink_t sink;
} tc_stream_extra_t;

typedef struct tc_stream_stats {
    uint64_t messages;       /* consumed */
    uint64_t dead_letters;
    uint64_t checkpoints;    /* snapshots stored in Redis */
    uint64_t restores;       /* partitions restored from a snapshot */
    uint64_t commits;
    uint64_t pauses;         /* back-pressure pauses */
    size_t partitions;
    tc_pipeline_stats_t total; /* summed over live pipelines */
} tc_stream_stats_t;

/*
 * Starts consuming. Returns NULL with the reason in err on a configuration
 * problem (bad librdkafka property, bad pipeline configuration).
 */
tc_stream_t *tc_stream_new(uv_loop_t *loop, const tc_stream_conf_t *conf,
                           const tc_pipeline_sink_t *extra, char *err, size_t errlen);

/*
 * Stops: a last checkpoint cycle, then leaves the group and closes the
 * clients. done(ud) is called when everything is written (or after
 * timeout_ms); the loop then ends once the stream's handles are closed.
 */
void tc_stream_stop(tc_stream_t *s, int timeout_ms, void (*done)(void *ud), void *ud);

/* Frees after the loop has ended. NULL is a no-op. */
void tc_stream_free(tc_stream_t *s);

void tc_stream_stats(const tc_stream_t *s, tc_stream_stats_t *out);

/* The mock cluster's bootstrap servers when conf.mock_brokers > 0, else NULL. */
const char *tc_stream_mock_bootstrap(const tc_stream_t *s);

#endif
