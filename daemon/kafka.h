/*
 * kafka.h - the Kafka adapter of tidecastd: one consumer in a consumer group
 * and one idempotent producer, both driven from a libuv loop.
 *
 * This is the only module that includes rdkafka.h. It knows nothing of events
 * or models: it hands raw messages to the caller's hooks and produces the
 * byte strings it is given.
 *
 * Consumer. The high-level consumer subscribes to the configured topics. The
 * consumer queue's IO-event fd (a pipe librdkafka writes a byte to when the
 * queue turns non-empty) is watched with uv_poll; on wake-up the queue is
 * drained with rd_kafka_consume_batch_queue in batches, a bounded number per
 * loop iteration so that timers and Redis replies interleave. No thread is
 * started and nothing polls in a busy loop; a 200 ms timer only re-checks
 * queues whose wake-up byte was consumed while draining was held back.
 * Auto-commit and auto offset store are off: offsets are committed only by
 * tc_kafka_commit, after the caller has checkpointed the state they reflect.
 *
 * Assignment. librdkafka's rebalance callback is turned into per-partition
 * hooks. On assignment, hooks.assign is called per partition; the caller
 * answers (at once or later, e.g. after reading a checkpoint from Redis) with
 * tc_kafka_assign_offset(); when every partition of the rebalance has an
 * answer the assignment is applied, each partition starting at its answered
 * offset (TC_KAFKA_OFFSET_STORED: the group's committed offset, else
 * auto.offset.reset). On revocation hooks.revoke is called per partition
 * before the partitions are given up.
 *
 * Producer. Idempotent (enable.idempotence=true) with an unbounded delivery
 * timeout by default, so a broker outage delays messages but loses none.
 * Messages refused because librdkafka's queue is full are kept, in order, in
 * an overflow list and retried; tc_kafka_backlog() says how much is waiting so
 * that the caller can pause consumption (tc_kafka_pause) and resume later.
 *
 * Configuration. Every `kafka.*` key of the configuration goes to both
 * clients with the prefix removed (`kafka.security.protocol=SASL_SSL` becomes
 * `security.protocol`), `kafka.consumer.*` only to the consumer and
 * `kafka.producer.*` only to the producer, so TLS, SASL and tuning work as
 * librdkafka documents them. Our defaults are applied first and may be
 * overridden that way.
 *
 * @locality All functions: the loop thread only. Hooks are called on the loop
 * thread, from inside tc_kafka calls or loop callbacks.
 */
#ifndef TC_DAEMON_KAFKA_H
#define TC_DAEMON_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Start at the group's committed offset (or auto.offset.reset). */
#define TC_KAFKA_OFFSET_STORED (-1000)
#define TC_KAFKA_OFFSET_BEGINNING (-2)
#define TC_KAFKA_OFFSET_END (-1)

typedef struct tc_kafka tc_kafka_t;

/* One consumed message; valid only during the hook call. */
typedef struct tc_kafka_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* message timestamp, -1 if none */
    const void *key;
    size_t key_len;
    const void *payload;
    size_t len;
    const void *impl_; /* for tc_kafka_msg_header */
} tc_kafka_msg_t;

/* Last header named name of a consumed message: 0 and its value, or TC_ENOTFOUND. */
int tc_kafka_msg_header(const tc_kafka_msg_t *m, const char *name, const void **val, size_t *len);

/* A header of a produced message (copied by librdkafka). */
typedef struct tc_kafka_header {
    const char *name;
    const void *value;
    size_t len;
} tc_kafka_header_t;

typedef enum { TC_KAFKA_LOG_DEBUG, TC_KAFKA_LOG_INFO, TC_KAFKA_LOG_WARN, TC_KAFKA_LOG_ERROR } tc_kafka_level_t;

typedef struct tc_kafka_hooks {
    void *ud;
    /* Each consumed message, in offset order within a partition. */
    void (*message)(void *ud, const tc_kafka_msg_t *m);
    /* After each drained batch; may call tc_kafka_pause. Optional. */
    void (*batch_done)(void *ud);
    /* A partition is being assigned: answer with tc_kafka_assign_offset().
     * NULL: every partition starts at TC_KAFKA_OFFSET_STORED. */
    void (*assign)(void *ud, const char *topic, int32_t partition);
    /* A partition is being revoked (or the consumer closes). Optional. */
    void (*revoke)(void *ud, const char *topic, int32_t partition);
    /* A message could not be delivered for good (after retries). Optional. */
    void (*delivery_failed)(void *ud, const char *topic, const char *reason);
    /* Log lines from librdkafka and this module. Optional. */
    void (*log)(void *ud, tc_kafka_level_t level, const char *msg);
} tc_kafka_hooks_t;

typedef struct tc_kafka_conf {
    const char *brokers;       /* bootstrap.servers; NULL with a mock cluster */
    const char *group;         /* group.id; NULL: producer only */
    const char *const *topics; /* topics to subscribe, NULL-terminated; NULL: producer only */
    /* Extra librdkafka properties as key, value pairs, already stripped of
     * the `kafka.` prefix; keys starting `consumer.`/`producer.` go to one
     * client only. */
    const char *const *props;
    size_t nprops;
    int mock_brokers;          /* > 0: start librdkafka's in-process mock cluster */
    size_t batch;              /* messages per consume call, default 4096 */
    bool no_producer;          /* consumer only */
} tc_kafka_conf_t;

typedef struct tc_kafka_stats {
    uint64_t consumed;         /* messages handed to hooks.message */
    uint64_t consume_errors;   /* error events from the consumer queue */
    uint64_t produced;         /* accepted by tc_kafka_produce */
    uint64_t delivered;        /* acknowledged by the brokers */
    uint64_t delivery_failed;  /* failed for good */
    uint64_t overflowed;       /* produce calls that went to the overflow list */
    uint64_t commits;          /* offset commits acknowledged */
    uint64_t commit_failed;
    uint64_t rebalances;
    bool paused;
    size_t assigned;           /* partitions currently assigned */
} tc_kafka_stats_t;

/*
 * Creates the clients and registers their fds with loop. With a group and
 * topics the consumer subscribes at once. Returns NULL on failure with a
 * reason in errbuf (unknown property, bad value, ...).
 */
tc_kafka_t *tc_kafka_new(uv_loop_t *loop, const tc_kafka_conf_t *conf,
                         const tc_kafka_hooks_t *hooks, char *errbuf, size_t errlen);

/*
 * Leaves the group (revoking the partitions through hooks.revoke), flushes
 * the producer for at most flush_ms, then closes the loop handles. The loop
 * must run once more for the handles to close; tc_kafka_free afterwards.
 * Returns 0, or TC_ETIMEOUT if messages were still undelivered.
 */
int tc_kafka_close(tc_kafka_t *k, int flush_ms);

/* Frees everything; call after tc_kafka_close and one more loop run. NULL is a no-op. */
void tc_kafka_free(tc_kafka_t *k);

/* The answer to hooks.assign: where the partition starts. */
void tc_kafka_assign_offset(tc_kafka_t *k, const char *topic, int32_t partition, int64_t offset);

/* Commits `next offset to read` for one partition, asynchronously. 0 or TC_E*. */
int tc_kafka_commit(tc_kafka_t *k, const char *topic, int32_t partition, int64_t next_offset);

/* Pauses (true) or resumes (false) fetching and draining of all assigned partitions. */
int tc_kafka_pause(tc_kafka_t *k, bool pause);

/*
 * Produces a copy of (key, value) to topic, with optional headers. Never
 * blocks and never drops: when librdkafka's queue is full the message waits
 * in the overflow list. Returns 0, or TC_EINVAL/TC_ENOMEM.
 */
int tc_kafka_produce(tc_kafka_t *k, const char *topic, const void *key, size_t klen,
                     const void *val, size_t vlen, const tc_kafka_header_t *hdrs, size_t nhdrs);

/* Messages produced but not yet acknowledged (librdkafka queue + overflow). */
size_t tc_kafka_backlog(const tc_kafka_t *k);

/* Serves producer events (delivery reports) and retries the overflow now. */
void tc_kafka_service(tc_kafka_t *k);

/* Blocks up to timeout_ms until everything produced is acknowledged. 0 or TC_ETIMEOUT. */
int tc_kafka_flush(tc_kafka_t *k, int timeout_ms);

void tc_kafka_stats(const tc_kafka_t *k, tc_kafka_stats_t *out);

/*
 * Consumer lag: messages between the consumed position and the high
 * watermark last reported by the brokers, summed over the assigned
 * partitions (cached values: no request is made). -1 when unknown.
 */
int64_t tc_kafka_lag(tc_kafka_t *k);

/* The bootstrap servers of the mock cluster (conf.mock_brokers > 0), else NULL. */
const char *tc_kafka_mock_bootstrap(const tc_kafka_t *k);

/*
 * Fault injection on the mock cluster, for tests: take broker id (1-based)
 * down or up; make the next n requests of api key `api` (Kafka protocol api
 * key, e.g. 0 = Produce, 1 = Fetch, 8 = OffsetCommit) fail with a retriable
 * error. TC_EUNSUPPORTED without a mock cluster.
 */
int tc_kafka_mock_broker_set(tc_kafka_t *k, int32_t broker, bool up);
int tc_kafka_mock_fail_requests(tc_kafka_t *k, int16_t api, int n);
int tc_kafka_mock_create_topic(tc_kafka_t *k, const char *topic, int partitions);

#endif
