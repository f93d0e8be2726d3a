/*
 * kafka.c - librdkafka consumer and producer driven from the libuv loop.
 *
 * Wake-ups: for each of the two rd_kafka_t handles one queue matters (the
 * consumer queue, to which the consumer's main queue is forwarded so that
 * rebalance and error events arrive there too; and the producer's main
 * queue, which carries delivery reports). librdkafka writes one byte to a
 * pipe when such a queue goes from empty to non-empty
 * (rd_kafka_queue_io_event_enable); uv_poll watches the read end. A wake-up
 * is only sent on that transition, so whoever is woken must drain the queue
 * to empty or arrange to come back: when the per-iteration budget is spent
 * or consumption is paused we leave messages in the queue and the `again`
 * timer returns to them.
 *
 * Throughput (FACTS.md): queued.min.messages is raised to 1 M so that the
 * fetcher does not stall for a second whenever the shared queue holds more
 * than the default 100 k; messages are taken with
 * rd_kafka_consume_batch_queue, thousands per call.
 */
#include "daemon/kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "error.h"

#define BATCHES_PER_WAKE 32
#define DEFAULT_BATCH 4096

typedef struct overflow_msg {
    struct overflow_msg *next;
    char *topic;
    void *key, *val;
    size_t klen, vlen;
    rd_kafka_headers_t *hdrs;
} overflow_msg_t;

typedef struct pending_part {
    char *topic;
    int32_t partition;
    int64_t offset;
    bool answered;
} pending_part_t;

struct tc_kafka {
    uv_loop_t *loop;
    tc_kafka_hooks_t hooks;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *cq, *pq;
    int cpipe[2], ppipe[2];
    uv_poll_t cpoll, ppoll;
    uv_timer_t again;
    uv_idle_t more;    /* continue draining on the next loop iteration */
    int handles_open;
    bool closing, closed;
    size_t batch;
    rd_kafka_message_t **msgs;
    overflow_msg_t *ov_head, *ov_tail;
    size_t ov_len;
    /* A rebalance waiting for the caller's offsets. */
    pending_part_t *pending;
    size_t npending, nunanswered;
    rd_kafka_mock_cluster_t *mock;
    tc_kafka_stats_t st;
};

static void say(tc_kafka_t *k, tc_kafka_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(tc_kafka_t *k, tc_kafka_level_t lvl, const char *fmt, ...)
{
    if (!k->hooks.log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    k->hooks.log(k->hooks.ud, lvl, buf);
}

/* librdkafka's own log lines and errors, forwarded to hooks.log. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    tc_kafka_t *k = rd_kafka_opaque(rk);
    tc_kafka_level_t lvl = level <= 3 ? TC_KAFKA_LOG_ERROR : level <= 5 ? TC_KAFKA_LOG_WARN
                         : level == 6 ? TC_KAFKA_LOG_INFO : TC_KAFKA_LOG_DEBUG;
    say(k, lvl, "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    tc_kafka_t *k = opaque;
    bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
    char fbuf[256] = "";
    if (fatal)
        rd_kafka_fatal_error(rk, fbuf, sizeof(fbuf));
    say(k, fatal ? TC_KAFKA_LOG_ERROR : TC_KAFKA_LOG_WARN, "%s: %s: %s%s%s", rd_kafka_name(rk),
        rd_kafka_err2name(err), reason, fatal ? ": " : "", fbuf);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    tc_kafka_t *k = opaque;
    if (!m->err) {
        k->st.delivered++;
        return;
    }
    k->st.delivery_failed++;
    const char *topic = rd_kafka_topic_name(m->rkt);
    say(k, TC_KAFKA_LOG_ERROR, "delivery to %s failed: %s", topic, rd_kafka_err2str(m->err));
    if (k->hooks.delivery_failed)
        k->hooks.delivery_failed(k->hooks.ud, topic, rd_kafka_err2str(m->err));
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    tc_kafka_t *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    for (int i = 0; offsets && i < offsets->cnt; i++)
        if (offsets->elems[i].err && !err)
            err = offsets->elems[i].err;
    if (err) {
        k->st.commit_failed++;
        say(k, TC_KAFKA_LOG_WARN, "offset commit failed: %s", rd_kafka_err2str(err));
    } else {
        k->st.commits++;
    }
}

/* Applies a finished rebalance answer: assign with the caller's offsets. */
static void apply_assignment(tc_kafka_t *k)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)k->npending);
    for (size_t i = 0; i < k->npending; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_add(l, k->pending[i].topic, k->pending[i].partition);
        p->offset = k->pending[i].offset == TC_KAFKA_OFFSET_STORED ? RD_KAFKA_OFFSET_INVALID
                                                                    : k->pending[i].offset;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(k->consumer, l);
    if (err)
        say(k, TC_KAFKA_LOG_ERROR, "assign failed: %s", rd_kafka_err2str(err));
    else
        k->st.assigned = (size_t)l->cnt;
    say(k, TC_KAFKA_LOG_INFO, "assigned %d partition(s)", l->cnt);
    if (k->st.paused && l->cnt > 0)
        rd_kafka_pause_partitions(k->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    for (size_t i = 0; i < k->npending; i++)
        free(k->pending[i].topic);
    free(k->pending);
    k->pending = NULL;
    k->npending = k->nunanswered = 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    tc_kafka_t *k = opaque;
    k->st.rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* Build the whole list first: answers may arrive inside hooks.assign. */
        k->pending = calloc((size_t)parts->cnt + 1, sizeof(*k->pending));
        if (!k->pending) {
            rd_kafka_assign(rk, parts);
            return;
        }
        k->npending = k->nunanswered = (size_t)parts->cnt;
        for (int i = 0; i < parts->cnt; i++) {
            k->pending[i].topic = strdup(parts->elems[i].topic);
            k->pending[i].partition = parts->elems[i].partition;
            k->pending[i].offset = TC_KAFKA_OFFSET_STORED;
        }
        if (!k->hooks.assign || parts->cnt == 0) {
            apply_assignment(k);
            return;
        }
        size_t n = k->npending;
        char **names = malloc(n * sizeof(*names));
        int32_t *ids = malloc(n * sizeof(*ids));
        for (size_t i = 0; names && ids && i < n; i++) {
            names[i] = strdup(k->pending[i].topic);
            ids[i] = k->pending[i].partition;
        }
        for (size_t i = 0; names && ids && i < n; i++)
            k->hooks.assign(k->hooks.ud, names[i], ids[i]);
        for (size_t i = 0; names && i < n; i++)
            free(names[i]);
        free(names);
        free(ids);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        for (int i = 0; k->hooks.revoke && i < parts->cnt; i++)
            k->hooks.revoke(k->hooks.ud, parts->elems[i].topic, parts->elems[i].partition);
        rd_kafka_assign(rk, NULL);
        k->st.assigned = 0;
        say(k, TC_KAFKA_LOG_INFO, "revoked %d partition(s)", parts->cnt);
    } else {
        say(k, TC_KAFKA_LOG_ERROR, "rebalance error: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
        k->st.assigned = 0;
    }
}

void tc_kafka_assign_offset(tc_kafka_t *k, const char *topic, int32_t partition, int64_t offset)
{
    for (size_t i = 0; i < k->npending; i++) {
        pending_part_t *p = &k->pending[i];
        if (p->partition == partition && !strcmp(p->topic, topic) && !p->answered) {
            p->answered = true;
            p->offset = offset;
            if (--k->nunanswered == 0)
                apply_assignment(k);
            return;
        }
    }
}

static int set_prop(rd_kafka_conf_t *c, const char *key, const char *val, char *errbuf, size_t errlen)
{
    if (rd_kafka_conf_set(c, key, val, errbuf, errlen) != RD_KAFKA_CONF_OK)
        return TC_ECONFIG;
    return 0;
}

/* Applies conf->props to c; `role` is "consumer." or "producer.". */
static int apply_props(rd_kafka_conf_t *c, const tc_kafka_conf_t *conf, const char *role,
                       const char *other, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i + 1 < 2 * conf->nprops; i += 2) {
        const char *key = conf->props[i], *val = conf->props[i + 1];
        if (!strncmp(key, other, strlen(other)))
            continue;
        if (conf->mock_brokers > 0 && !strcmp(key, "bootstrap.servers"))
            continue; /* the mock cluster's own */
        if (!strncmp(key, role, strlen(role)))
            key += strlen(role);
        char e[256];
        if (set_prop(c, key, val, e, sizeof(e))) {
            snprintf(errbuf, errlen, "kafka.%s: %s", conf->props[i], e);
            return TC_ECONFIG;
        }
    }
    return 0;
}

static void drain_consumer(tc_kafka_t *k);
static void serve_producer(tc_kafka_t *k);
static void on_more(uv_idle_t *h);

static void drain_pipe(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

static void on_cpoll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    tc_kafka_t *k = h->data;
    drain_pipe(k->cpipe[0]);
    drain_consumer(k);
}

static void on_ppoll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    tc_kafka_t *k = h->data;
    drain_pipe(k->ppipe[0]);
    serve_producer(k);
}

static void on_again(uv_timer_t *t)
{
    tc_kafka_t *k = t->data;
    if (k->producer)
        serve_producer(k);
    if (k->consumer)
        drain_consumer(k);
}

static void on_more(uv_idle_t *h)
{
    tc_kafka_t *k = h->data;
    uv_idle_stop(h);
    drain_consumer(k);
}

/*
 * Takes up to BATCHES_PER_WAKE batches from the consumer queue. Events other
 * than messages (rebalances, errors) are served by librdkafka inside the
 * call through the registered callbacks.
 */
static void drain_consumer(tc_kafka_t *k)
{
    if (!k->cq || k->closed)
        return;
    for (int b = 0; b < BATCHES_PER_WAKE && !k->st.paused; b++) {
        ssize_t n = rd_kafka_consume_batch_queue(k->cq, 0, k->msgs, k->batch);
        if (n <= 0)
            return;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = k->msgs[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    k->st.consume_errors++;
                    say(k, TC_KAFKA_LOG_WARN, "consume: %s", rd_kafka_message_errstr(m));
                }
            } else {
                tc_kafka_msg_t tm = {
                    .topic = rd_kafka_topic_name(m->rkt),
                    .partition = m->partition,
                    .offset = m->offset,
                    .timestamp_ms = rd_kafka_message_timestamp(m, NULL),
                    .key = m->key,
                    .key_len = m->key_len,
                    .payload = m->payload,
                    .len = m->len,
                    .impl_ = m,
                };
                k->st.consumed++;
                k->hooks.message(k->hooks.ud, &tm);
            }
            rd_kafka_message_destroy(m);
        }
        if (k->hooks.batch_done)
            k->hooks.batch_done(k->hooks.ud);
        if ((size_t)n < k->batch)
            return;
    }
    /* Budget spent: continue on the next iteration, after timers and I/O
     * have run (a 0 ms timer would be re-run within the same timer pass,
     * starving everything else). Paused with messages left: the `again`
     * timer comes back. */
    if (k->closed)
        return;
    if (!k->st.paused)
        uv_idle_start(&k->more, on_more);
    else if (!uv_is_active((uv_handle_t *)&k->again))
        uv_timer_start(&k->again, on_again, 100, 0);
}

static void retry_overflow(tc_kafka_t *k)
{
    while (k->ov_head) {
        overflow_msg_t *o = k->ov_head;
        rd_kafka_headers_t *h = o->hdrs ? rd_kafka_headers_copy(o->hdrs) : NULL;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            k->producer, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_KEY(o->key, o->klen),
            RD_KAFKA_V_VALUE(o->val, o->vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (err) {
            if (h)
                rd_kafka_headers_destroy(h);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                say(k, TC_KAFKA_LOG_ERROR, "produce to %s: %s", o->topic, rd_kafka_err2str(err));
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
        }
        k->ov_head = o->next;
        if (!k->ov_head)
            k->ov_tail = NULL;
        k->ov_len--;
        free(o->topic);
        free(o->key);
        free(o->val);
        if (o->hdrs)
            rd_kafka_headers_destroy(o->hdrs);
        free(o);
    }
}

static void serve_producer(tc_kafka_t *k)
{
    if (!k->producer)
        return;
    rd_kafka_poll(k->producer, 0);
    retry_overflow(k);
    if (k->ov_head && !k->closed && !uv_is_active((uv_handle_t *)&k->again))
        uv_timer_start(&k->again, on_again, 10, 0);
}

void tc_kafka_service(tc_kafka_t *k)
{
    serve_producer(k);
}

static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return TC_EIO;
    return 0;
}

static rd_kafka_conf_t *base_conf(tc_kafka_t *k, const tc_kafka_conf_t *conf, const char *bootstrap,
                                  char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_log_cb(c, log_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    if (bootstrap && set_prop(c, "bootstrap.servers", bootstrap, errbuf, errlen))
        goto fail;
    if (set_prop(c, "log.queue", "false", errbuf, errlen))
        goto fail;
    (void)conf;
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static int start_producer(tc_kafka_t *k, const tc_kafka_conf_t *conf, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *c = base_conf(k, conf, conf->mock_brokers > 0 ? NULL : conf->brokers,
                                   errbuf, errlen);
    if (!c)
        return TC_ECONFIG;
    char nb[16];
    snprintf(nb, sizeof(nb), "%d", conf->mock_brokers);
    if ((conf->mock_brokers > 0 && set_prop(c, "test.mock.num.brokers", nb, errbuf, errlen)) ||
        set_prop(c, "enable.idempotence", "true", errbuf, errlen) ||
        set_prop(c, "message.timeout.ms", "0", errbuf, errlen) ||
        set_prop(c, "linger.ms", "5", errbuf, errlen) ||
        set_prop(c, "queue.buffering.max.messages", "1000000", errbuf, errlen) ||
        set_prop(c, "compression.codec", "lz4", errbuf, errlen) ||
        apply_props(c, conf, "producer.", "consumer.", errbuf, errlen)) {
        rd_kafka_conf_destroy(c);
        return TC_ECONFIG;
    }
    rd_kafka_conf_set_dr_msg_cb(c, dr_msg_cb);
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, errbuf, errlen);
    if (!k->producer) {
        rd_kafka_conf_destroy(c);
        return TC_ECONFIG;
    }
    if (conf->mock_brokers > 0)
        k->mock = rd_kafka_handle_mock_cluster(k->producer);
    k->pq = rd_kafka_queue_get_main(k->producer);
    if (make_pipe(k->ppipe))
        return TC_EIO;
    rd_kafka_queue_io_event_enable(k->pq, k->ppipe[1], "1", 1);
    uv_poll_init(k->loop, &k->ppoll, k->ppipe[0]);
    k->ppoll.data = k;
    k->handles_open++;
    uv_poll_start(&k->ppoll, UV_READABLE, on_ppoll);
    return 0;
}

static int start_consumer(tc_kafka_t *k, const tc_kafka_conf_t *conf, char *errbuf, size_t errlen)
{
    const char *bootstrap = conf->brokers;
    bool own_mock = false;
    if (conf->mock_brokers > 0) {
        if (k->mock)
            bootstrap = rd_kafka_mock_cluster_bootstraps(k->mock);
        else
            own_mock = true, bootstrap = NULL;
    }
    rd_kafka_conf_t *c = base_conf(k, conf, bootstrap, errbuf, errlen);
    if (!c)
        return TC_ECONFIG;
    char nb[16];
    snprintf(nb, sizeof(nb), "%d", conf->mock_brokers);
    if ((own_mock && set_prop(c, "test.mock.num.brokers", nb, errbuf, errlen)) ||
        set_prop(c, "group.id", conf->group, errbuf, errlen) ||
        set_prop(c, "enable.auto.commit", "false", errbuf, errlen) ||
        set_prop(c, "enable.auto.offset.store", "false", errbuf, errlen) ||
        set_prop(c, "auto.offset.reset", "earliest", errbuf, errlen) ||
        set_prop(c, "queued.min.messages", "1000000", errbuf, errlen) ||
        set_prop(c, "queued.max.messages.kbytes", "1048576", errbuf, errlen) ||
        set_prop(c, "fetch.wait.max.ms", "100", errbuf, errlen) ||
        set_prop(c, "session.timeout.ms", "10000", errbuf, errlen) ||
        set_prop(c, "heartbeat.interval.ms", "1000", errbuf, errlen) ||
        apply_props(c, conf, "consumer.", "producer.", errbuf, errlen)) {
        rd_kafka_conf_destroy(c);
        return TC_ECONFIG;
    }
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(c, commit_cb);
    k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, c, errbuf, errlen);
    if (!k->consumer) {
        rd_kafka_conf_destroy(c);
        return TC_ECONFIG;
    }
    if (own_mock)
        k->mock = rd_kafka_handle_mock_cluster(k->consumer);
    rd_kafka_poll_set_consumer(k->consumer);
    k->cq = rd_kafka_queue_get_consumer(k->consumer);
    if (make_pipe(k->cpipe))
        return TC_EIO;
    rd_kafka_queue_io_event_enable(k->cq, k->cpipe[1], "1", 1);
    uv_poll_init(k->loop, &k->cpoll, k->cpipe[0]);
    k->cpoll.data = k;
    k->handles_open++;
    uv_poll_start(&k->cpoll, UV_READABLE, on_cpoll);

    int n = 0;
    while (conf->topics[n])
        n++;
    /* The mock cluster would create them with one partition on first use. */
    for (int i = 0; k->mock && i < n; i++)
        rd_kafka_mock_topic_create(k->mock, conf->topics[i], 4, 1);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, conf->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        snprintf(errbuf, errlen, "subscribe: %s", rd_kafka_err2str(err));
        return TC_ECONFIG;
    }
    return 0;
}

tc_kafka_t *tc_kafka_new(uv_loop_t *loop, const tc_kafka_conf_t *conf,
                         const tc_kafka_hooks_t *hooks, char *errbuf, size_t errlen)
{
    tc_kafka_t *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    k->loop = loop;
    k->hooks = *hooks;
    k->cpipe[0] = k->cpipe[1] = k->ppipe[0] = k->ppipe[1] = -1;
    k->batch = conf->batch ? conf->batch : DEFAULT_BATCH;
    bool consume = conf->group && conf->topics && conf->topics[0];
    if (!consume && conf->no_producer) {
        snprintf(errbuf, errlen, "neither consumer nor producer configured");
        goto fail;
    }
    if (!conf->brokers && conf->mock_brokers <= 0) {
        snprintf(errbuf, errlen, "no brokers configured (kafka.bootstrap.servers)");
        goto fail;
    }
    if (consume && !hooks->message) {
        snprintf(errbuf, errlen, "consumer without a message hook");
        goto fail;
    }
    k->msgs = calloc(k->batch, sizeof(*k->msgs));
    if (!k->msgs)
        goto fail;
    uv_timer_init(loop, &k->again);
    k->again.data = k;
    k->handles_open++;
    uv_idle_init(loop, &k->more);
    k->more.data = k;
    k->handles_open++;
    if (!conf->no_producer && start_producer(k, conf, errbuf, errlen))
        goto fail;
    if (consume && start_consumer(k, conf, errbuf, errlen))
        goto fail;
    return k;
fail:
    if (k->handles_open) {
        /* Handles are registered with the loop: close them and let the caller free. */
        tc_kafka_close(k, 0);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    tc_kafka_free(k);
    return NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
    tc_kafka_t *k = h->data;
    k->handles_open--;
}

int tc_kafka_close(tc_kafka_t *k, int flush_ms)
{
    if (!k || k->closed)
        return 0;
    int rc = 0;
    k->closing = true;
    if (k->consumer) {
        /* Serves the final revoke through rebalance_cb. */
        rd_kafka_consumer_close(k->consumer);
    }
    if (k->producer) {
        retry_overflow(k);
        if (tc_kafka_flush(k, flush_ms))
            rc = TC_ETIMEOUT;
    }
    k->closed = true;
    if (k->cq)
        rd_kafka_queue_io_event_enable(k->cq, -1, NULL, 0);
    if (k->pq)
        rd_kafka_queue_io_event_enable(k->pq, -1, NULL, 0);
    if (k->cpipe[0] >= 0)
        uv_close((uv_handle_t *)&k->cpoll, on_handle_closed);
    if (k->ppipe[0] >= 0)
        uv_close((uv_handle_t *)&k->ppoll, on_handle_closed);
    uv_close((uv_handle_t *)&k->again, on_handle_closed);
    uv_close((uv_handle_t *)&k->more, on_handle_closed);
    return rc;
}

void tc_kafka_free(tc_kafka_t *k)
{
    if (!k)
        return;
    if (k->cq)
        rd_kafka_queue_destroy(k->cq);
    if (k->pq)
        rd_kafka_queue_destroy(k->pq);
    if (k->consumer)
        rd_kafka_destroy(k->consumer);
    if (k->producer)
        rd_kafka_destroy(k->producer);
    for (int i = 0; i < 2; i++) {
        if (k->cpipe[i] >= 0)
            close(k->cpipe[i]);
        if (k->ppipe[i] >= 0)
            close(k->ppipe[i]);
    }
    while (k->ov_head) {
        overflow_msg_t *o = k->ov_head;
        k->ov_head = o->next;
        free(o->topic);
        free(o->key);
        free(o->val);
        if (o->hdrs)
            rd_kafka_headers_destroy(o->hdrs);
        free(o);
    }
    for (size_t i = 0; i < k->npending; i++)
        free(k->pending[i].topic);
    free(k->pending);
    free(k->msgs);
    free(k);
}

int tc_kafka_commit(tc_kafka_t *k, const char *topic, int32_t partition, int64_t next_offset)
{
    if (!k->consumer || next_offset < 0)
        return TC_EINVAL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t err = rd_kafka_commit(k->consumer, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        say(k, TC_KAFKA_LOG_WARN, "commit %s[%" PRId32 "]: %s", topic, partition, rd_kafka_err2str(err));
        return TC_EAGAIN;
    }
    return 0;
}

int tc_kafka_pause(tc_kafka_t *k, bool pause)
{
    if (!k->consumer || k->st.paused == pause)
        return 0;
    k->st.paused = pause;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(k->consumer, &l) == 0 && l && l->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(k->consumer, l);
        else
            rd_kafka_resume_partitions(k->consumer, l);
    }
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    say(k, TC_KAFKA_LOG_DEBUG, "%s consumption", pause ? "paused" : "resumed");
    if (!pause && !k->closed)
        uv_idle_start(&k->more, on_more);
    return 0;
}

int tc_kafka_produce(tc_kafka_t *k, const char *topic, const void *key, size_t klen,
                     const void *val, size_t vlen, const tc_kafka_header_t *hdrs, size_t nhdrs)
{
    if (!k->producer || !topic)
        return TC_EINVAL;
    rd_kafka_headers_t *h = NULL;
    if (nhdrs) {
        h = rd_kafka_headers_new(nhdrs);
        for (size_t i = 0; i < nhdrs; i++)
            rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value, (ssize_t)hdrs[i].len);
    }
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    if (!k->ov_head) { /* keep order: nothing jumps the overflow list */
        err = rd_kafka_producev(k->producer, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY((void *)key, klen),
                                RD_KAFKA_V_VALUE((void *)val, vlen),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    }
    if (!err) {
        k->st.produced++;
        return 0;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        if (h)
            rd_kafka_headers_destroy(h);
        say(k, TC_KAFKA_LOG_ERROR, "produce to %s: %s", topic, rd_kafka_err2str(err));
        return TC_EINVAL;
    }
    overflow_msg_t *o = calloc(1, sizeof(*o));
    if (!o)
        goto nomem;
    o->topic = strdup(topic);
    o->key = klen ? malloc(klen) : NULL;
    o->val = vlen ? malloc(vlen) : NULL;
    if (!o->topic || (klen && !o->key) || (vlen && !o->val)) {
        free(o->topic);
        free(o->key);
        free(o->val);
        free(o);
        goto nomem;
    }
    if (klen)
        memcpy(o->key, key, klen);
    if (vlen)
        memcpy(o->val, val, vlen);
    o->klen = klen;
    o->vlen = vlen;
    o->hdrs = h;
    if (k->ov_tail)
        k->ov_tail->next = o;
    else
        k->ov_head = o;
    k->ov_tail = o;
    k->ov_len++;
    k->st.produced++;
    k->st.overflowed++;
    if (!k->closed && !uv_is_active((uv_handle_t *)&k->again))
        uv_timer_start(&k->again, on_again, 10, 0);
    return 0;
nomem:
    if (h)
        rd_kafka_headers_destroy(h);
    return TC_ENOMEM;
}

size_t tc_kafka_backlog(const tc_kafka_t *k)
{
    if (!k->producer)
        return 0;
    return (size_t)rd_kafka_outq_len(k->producer) + k->ov_len;
}

int tc_kafka_flush(tc_kafka_t *k, int timeout_ms)
{
    if (!k->producer)
        return 0;
    uint64_t t0 = uv_hrtime();
    for (;;) {
        retry_overflow(k);
        int left = timeout_ms - (int)((uv_hrtime() - t0) / 1000000);
        if (left < 0)
            left = 0;
        rd_kafka_flush(k->producer, k->ov_head ? (left < 10 ? left : 10) : left);
        if (!k->ov_head && rd_kafka_outq_len(k->producer) == 0)
            return 0;
        if ((int)((uv_hrtime() - t0) / 1000000) >= timeout_ms)
            return TC_ETIMEOUT;
    }
}

void tc_kafka_stats(const tc_kafka_t *k, tc_kafka_stats_t *out)
{
    *out = k->st;
}

const char *tc_kafka_mock_bootstrap(const tc_kafka_t *k)
{
    return k->mock ? rd_kafka_mock_cluster_bootstraps(k->mock) : NULL;
}

int tc_kafka_mock_broker_set(tc_kafka_t *k, int32_t broker, bool up)
{
    if (!k->mock)
        return TC_EUNSUPPORTED;
    rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(k->mock, broker)
                                 : rd_kafka_mock_broker_set_down(k->mock, broker);
    return err ? TC_EINVAL : 0;
}

int tc_kafka_mock_fail_requests(tc_kafka_t *k, int16_t api, int n)
{
    if (!k->mock)
        return TC_EUNSUPPORTED;
    rd_kafka_resp_err_t *errs = malloc((size_t)n * sizeof(*errs));
    if (!errs)
        return TC_ENOMEM;
    for (int i = 0; i < n; i++)
        errs[i] = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
    rd_kafka_mock_push_request_errors_array(k->mock, api, (size_t)n, errs);
    free(errs);
    return 0;
}

int tc_kafka_mock_create_topic(tc_kafka_t *k, const char *topic, int partitions)
{
    if (!k->mock)
        return TC_EUNSUPPORTED;
    return rd_kafka_mock_topic_create(k->mock, topic, partitions, 1) ? TC_EINVAL : 0;
}

int tc_kafka_msg_header(const tc_kafka_msg_t *m, const char *name, const void **val, size_t *len)
{
    rd_kafka_headers_t *h = NULL;
    if (!m->impl_ || rd_kafka_message_headers((const rd_kafka_message_t *)m->impl_, &h) || !h)
        return TC_ENOTFOUND;
    return rd_kafka_header_get_last(h, name, val, len) ? TC_ENOTFOUND : 0;
}

int64_t tc_kafka_lag(tc_kafka_t *k)
{
    if (!k->consumer)
        return -1;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(k->consumer, &l) || !l)
        return -1;
    int64_t lag = l->cnt ? 0 : -1;
    if (l->cnt)
        rd_kafka_position(k->consumer, l);
    for (int i = 0; i < l->cnt && lag >= 0; i++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(k->consumer, l->elems[i].topic, l->elems[i].partition,
                                           &lo, &hi) || hi < 0) {
            lag = -1;
            break;
        }
        int64_t pos = l->elems[i].offset >= 0 ? l->elems[i].offset : lo;
        lag += hi > pos ? hi - pos : 0;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return lag;
}
