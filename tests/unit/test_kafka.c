/*
 * Tests of daemon/kafka against librdkafka's in-process mock cluster: every
 * produced message arrives exactly once and in order per partition, offsets
 * committed by one consumer are where the next one starts, an assignment
 * answer with an explicit offset is honoured, pause holds messages back, and
 * a broker that goes down and comes back loses nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "daemon/kafka.h"
#include "error.h"
#include "tests/test.h"

#define NPART 4

typedef struct {
    tc_kafka_t *k;
    int64_t seen;                 /* messages consumed */
    int64_t last[NPART];          /* last value seen per partition */
    int64_t next_off[NPART];      /* next offset per partition */
    int order_errors;
    int64_t sum;                  /* sum of consumed values */
    int assigned, revoked;
    int64_t start_offset;         /* answer to assign hooks */
    int64_t stop_at;              /* stop the loop at this many */
    bool key_mismatch;
} cons_t;

static void on_msg(void *ud, const tc_kafka_msg_t *m)
{
    cons_t *c = ud;
    char buf[32];
    size_t n = m->len < sizeof(buf) - 1 ? m->len : sizeof(buf) - 1;
    memcpy(buf, m->payload, n);
    buf[n] = 0;
    int64_t v = strtoll(buf, NULL, 10);
    if (m->partition >= 0 && m->partition < NPART) {
        if (v <= c->last[m->partition])
            c->order_errors++;
        c->last[m->partition] = v;
        c->next_off[m->partition] = m->offset + 1;
    }
    if (m->key_len != n || memcmp(m->key, m->payload, n))
        c->key_mismatch = true;
    c->seen++;
    c->sum += v;
}

static void on_assign(void *ud, const char *topic, int32_t p)
{
    cons_t *c = ud;
    c->assigned++;
    tc_kafka_assign_offset(c->k, topic, p, c->start_offset);
}

static void on_revoke(void *ud, const char *topic, int32_t p)
{
    (void)topic;
    (void)p;
    cons_t *c = ud;
    c->revoked++;
}

typedef struct {
    uv_loop_t *loop;
    cons_t *c;
    int64_t target;
    int ticks, max_ticks;
} waiter_t;

static void on_tick(uv_timer_t *t)
{
    waiter_t *w = t->data;
    if (w->c->seen >= w->target || ++w->ticks > w->max_ticks)
        uv_stop(w->loop);
}

/* Runs the loop until c has seen target messages or max_s seconds pass. */
static void run_until(uv_loop_t *loop, cons_t *c, int64_t target, int max_s)
{
    uv_timer_t t;
    waiter_t w = {loop, c, target, 0, max_s * 20};
    uv_timer_init(loop, &t);
    t.data = &w;
    uv_timer_start(&t, on_tick, 50, 50);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static tc_kafka_t *producer_with_mock(uv_loop_t *loop)
{
    char err[256];
    tc_kafka_conf_t pc = {.mock_brokers = 3};
    tc_kafka_hooks_t ph = {0};
    tc_kafka_t *p = tc_kafka_new(loop, &pc, &ph, err, sizeof(err));
    if (p)
        tc_kafka_mock_create_topic(p, "t", NPART);
    return p;
}

static tc_kafka_t *consumer(uv_loop_t *loop, const char *bootstrap, cons_t *c)
{
    char err[256];
    static const char *topics[] = {"t", NULL};
    static const char *props[] = {"consumer.client.id", "test-consumer"};
    tc_kafka_conf_t cc = {.brokers = bootstrap, .group = "g", .topics = topics,
                          .props = props, .nprops = 1, .no_producer = true, .batch = 500};
    tc_kafka_hooks_t h = {.ud = c, .message = on_msg, .assign = on_assign, .revoke = on_revoke};
    c->k = tc_kafka_new(loop, &cc, &h, err, sizeof(err));
    if (!c->k)
        fprintf(stderr, "consumer: %s\n", err);
    return c->k;
}

static void produce_range(tc_kafka_t *p, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++) {
        char v[32];
        int n = snprintf(v, sizeof(v), "%" PRId64, i);
        tc_kafka_produce(p, "t", v, (size_t)n, v, (size_t)n, NULL, 0);
    }
}

static void shut(uv_loop_t *loop, tc_kafka_t *k)
{
    tc_kafka_close(k, 5000);
    uv_run(loop, UV_RUN_NOWAIT);
    tc_kafka_free(k);
}

TC_TEST(kafka_mock_roundtrip_exactly_once_in_order)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_kafka_t *p = producer_with_mock(&loop);
    CHECK(p != NULL);
    const int64_t n = 20000;
    produce_range(p, 1, n + 1);
    CHECK_OK(tc_kafka_flush(p, 10000));
    tc_kafka_stats_t ps;
    tc_kafka_stats(p, &ps);
    CHECK_INT_EQ(ps.delivered, n);

    cons_t c = {.start_offset = TC_KAFKA_OFFSET_STORED};
    CHECK(consumer(&loop, tc_kafka_mock_bootstrap(p), &c) != NULL);
    run_until(&loop, &c, n, 60);
    CHECK_INT_EQ(c.seen, n);
    CHECK_INT_EQ(c.sum, n * (n + 1) / 2);
    CHECK_INT_EQ(c.order_errors, 0);
    CHECK(!c.key_mismatch);
    CHECK_INT_EQ(c.assigned, NPART);
    shut(&loop, c.k);
    CHECK_INT_EQ(c.revoked, NPART);
    shut(&loop, p);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(kafka_mock_commit_then_resume_and_explicit_offset)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_kafka_t *p = producer_with_mock(&loop);
    CHECK(p != NULL);
    produce_range(p, 1, 1001);
    CHECK_OK(tc_kafka_flush(p, 10000));

    /* First consumer reads everything and commits its positions. */
    cons_t a = {.start_offset = TC_KAFKA_OFFSET_STORED};
    CHECK(consumer(&loop, tc_kafka_mock_bootstrap(p), &a) != NULL);
    run_until(&loop, &a, 1000, 60);
    CHECK_INT_EQ(a.seen, 1000);
    for (int i = 0; i < NPART; i++)
        if (a.next_off[i] > 0)
            CHECK_OK(tc_kafka_commit(a.k, "t", i, a.next_off[i]));
    run_until(&loop, &a, 1 << 30, 1); /* let the commits complete */
    tc_kafka_stats_t as;
    tc_kafka_stats(a.k, &as);
    CHECK(as.commits >= 1);
    CHECK_INT_EQ(as.commit_failed, 0);
    shut(&loop, a.k);

    /* Second consumer of the group sees only what came after. */
    produce_range(p, 1001, 1501);
    CHECK_OK(tc_kafka_flush(p, 10000));
    cons_t b = {.start_offset = TC_KAFKA_OFFSET_STORED};
    CHECK(consumer(&loop, tc_kafka_mock_bootstrap(p), &b) != NULL);
    run_until(&loop, &b, 500, 60);
    run_until(&loop, &b, 1 << 30, 1); /* nothing more may come */
    CHECK_INT_EQ(b.seen, 500);
    CHECK_INT_EQ(b.sum, (1001 + 1500) * 500 / 2);
    shut(&loop, b.k);

    /* A third one answers the assignment with offset 0: everything again. */
    cons_t c = {.start_offset = TC_KAFKA_OFFSET_BEGINNING};
    CHECK(consumer(&loop, tc_kafka_mock_bootstrap(p), &c) != NULL);
    run_until(&loop, &c, 1500, 60);
    CHECK_INT_EQ(c.seen, 1500);
    CHECK_INT_EQ(c.sum, 1500 * 1501 / 2);
    shut(&loop, c.k);
    shut(&loop, p);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

static void pause_after_batch(void *ud)
{
    cons_t *c = ud;
    if (c->seen >= c->stop_at)
        tc_kafka_pause(c->k, true);
}

TC_TEST(kafka_mock_pause_holds_back_resume_delivers)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_kafka_t *p = producer_with_mock(&loop);
    CHECK(p != NULL);
    produce_range(p, 1, 5001);
    CHECK_OK(tc_kafka_flush(p, 10000));
    cons_t c = {.start_offset = TC_KAFKA_OFFSET_STORED, .stop_at = 1};
    char err[256];
    static const char *topics[] = {"t", NULL};
    tc_kafka_conf_t cc = {.brokers = tc_kafka_mock_bootstrap(p), .group = "g2", .topics = topics,
                          .no_producer = true, .batch = 100};
    tc_kafka_hooks_t h = {.ud = &c, .message = on_msg, .assign = on_assign,
                          .batch_done = pause_after_batch};
    c.k = tc_kafka_new(&loop, &cc, &h, err, sizeof(err));
    CHECK_MSG(c.k != NULL, "%s", err);
    run_until(&loop, &c, 5000, 8);
    tc_kafka_stats_t st;
    tc_kafka_stats(c.k, &st);
    CHECK(st.paused);
    CHECK_MSG(c.seen >= 1 && c.seen <= 100, "seen %lld while paused", (long long)c.seen);
    c.stop_at = 1 << 30;
    tc_kafka_pause(c.k, false);
    run_until(&loop, &c, 5000, 60);
    CHECK_INT_EQ(c.seen, 5000);
    CHECK_INT_EQ(c.order_errors, 0);
    shut(&loop, c.k);
    shut(&loop, p);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(kafka_mock_broker_down_and_request_errors_lose_nothing)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_kafka_t *p = producer_with_mock(&loop);
    CHECK(p != NULL);
    produce_range(p, 1, 2001);
    CHECK_OK(tc_kafka_flush(p, 10000));
    /* Produce requests fail with retriable errors, then every broker is down. */
    CHECK_OK(tc_kafka_mock_fail_requests(p, 0, 5));
    produce_range(p, 2001, 3001);
    for (int b = 1; b <= 3; b++)
        CHECK_OK(tc_kafka_mock_broker_set(p, b, false));
    produce_range(p, 3001, 4001);
    CHECK_INT_EQ(tc_kafka_flush(p, 1500), TC_ETIMEOUT);
    CHECK(tc_kafka_backlog(p) > 0);
    for (int b = 1; b <= 3; b++)
        CHECK_OK(tc_kafka_mock_broker_set(p, b, true));
    CHECK_OK(tc_kafka_flush(p, 60000));
    tc_kafka_stats_t ps;
    tc_kafka_stats(p, &ps);
    CHECK_INT_EQ(ps.delivered, 4000);
    CHECK_INT_EQ(ps.delivery_failed, 0);

    cons_t c = {.start_offset = TC_KAFKA_OFFSET_STORED};
    CHECK(consumer(&loop, tc_kafka_mock_bootstrap(p), &c) != NULL);
    run_until(&loop, &c, 4000, 60);
    CHECK_INT_EQ(c.seen, 4000);
    CHECK_INT_EQ(c.sum, 4000LL * 4001 / 2);
    CHECK_INT_EQ(c.order_errors, 0);
    shut(&loop, c.k);
    shut(&loop, p);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(kafka_unknown_property_is_a_config_error)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    static const char *props[] = {"no.such.property", "1"};
    tc_kafka_conf_t pc = {.brokers = "127.0.0.1:1", .props = props, .nprops = 1};
    tc_kafka_hooks_t h = {0};
    tc_kafka_t *k = tc_kafka_new(&loop, &pc, &h, err, sizeof(err));
    CHECK(k == NULL);
    CHECK_MSG(strstr(err, "kafka.no.such.property") != NULL, "err: %s", err);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}
