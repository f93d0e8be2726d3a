/*
 * Windows: closing by watermark, lateness, idle series, flush, rolling
 * aggregates and snapshots. Expected values are hand-computed from the
 * definitions in lib/window.h or counted independently with a plain array.
 */
#include <stdlib.h>

#include "error.h"
#include "hll.h"
#include "registry.h"
#include "tests/test.h"
#include "window.h"

#define MIN 60000LL
#define T0 (807256800000LL) /* a minute boundary: 1995-08-01T04:00Z */

typedef struct rec {
    uint32_t series;
    char key[32];
    tc_bucket_t b;
} rec_t;

typedef struct recorder {
    rec_t *r;
    size_t n, cap;
} recorder_t;

static void on_close(void *ud, uint32_t series, const char *key, size_t key_len,
                     const tc_bucket_t *b)
{
    recorder_t *rc = ud;
    if (rc->n == rc->cap) {
        rc->cap = rc->cap ? rc->cap * 2 : 64;
        rc->r = realloc(rc->r, rc->cap * sizeof(*rc->r));
    }
    rec_t *x = &rc->r[rc->n++];
    x->series = series;
    x->key[0] = '\0';
    if (key)
        snprintf(x->key, sizeof(x->key), "%.*s", (int)key_len, key);
    x->b = *b;
}

static tc_event_t traffic(int64_t t, const char *user, uint32_t status, uint64_t bytes)
{
    tc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = TC_EVENT_TRAFFIC;
    ev.time_ms = t;
    ev.site = tc_str_c("s");
    ev.user_id = tc_str_c(user);
    ev.traffic.status = status;
    ev.traffic.bytes = bytes;
    return ev;
}

static tc_window_config_t config(int64_t bucket, int64_t late)
{
    tc_window_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.bucket_ms = bucket;
    cfg.lateness_ms = late;
    cfg.ring = 8;
    cfg.hll_precision = 12;
    cfg.max_series = 16;
    return cfg;
}

TC_TEST(window_in_order_closes_with_zero_buckets)
{
    recorder_t rc = {0};
    tc_window_config_t cfg = config(MIN, 0);
    tc_window_t *w = tc_window_new(&cfg, NULL, on_close, &rc);
    CHECK(w != NULL);
    tc_event_t e;
    e = traffic(T0 + 1000, "a", 200, 100);
    CHECK_OK(tc_window_add(w, 0, &e));
    e = traffic(T0 + 2000, "b", 503, 50);
    CHECK_OK(tc_window_add(w, 0, &e));
    e = traffic(T0 + 59999, "a", 404, 1);
    CHECK_OK(tc_window_add(w, 0, &e));
    CHECK_INT_EQ(rc.n, 0);
    e = traffic(T0 + MIN, "c", 200, 10); /* watermark reaches the end of minute 0 */
    CHECK_OK(tc_window_add(w, 0, &e));
    CHECK_INT_EQ(rc.n, 1);
    CHECK_INT_EQ(rc.r[0].b.start_ms, T0);
    CHECK_INT_EQ(rc.r[0].b.requests, 3);
    CHECK_INT_EQ(rc.r[0].b.bytes, 151);
    CHECK_INT_EQ(rc.r[0].b.errors, 1); /* 5xx only by default */
    CHECK_NEAR(rc.r[0].b.unique_users, 2.0, 0.01);
    e = traffic(T0 + 3 * MIN + 5, "a", 200, 1);
    CHECK_OK(tc_window_add(w, 0, &e));
    CHECK_INT_EQ(rc.n, 3);
    CHECK_INT_EQ(rc.r[1].b.start_ms, T0 + MIN);
    CHECK_INT_EQ(rc.r[1].b.requests, 1);
    CHECK_INT_EQ(rc.r[2].b.start_ms, T0 + 2 * MIN);
    CHECK_INT_EQ(rc.r[2].b.requests, 0);
    CHECK_NEAR(rc.r[2].b.unique_users, 0.0, 0);
    tc_window_stats_t st;
    tc_window_stats(w, &st);
    CHECK_INT_EQ(st.accepted, 5);
    CHECK_INT_EQ(st.late, 0);
    CHECK_INT_EQ(st.watermark_ms, T0 + 3 * MIN + 5);
    CHECK_INT_EQ(st.closed_until_ms, T0 + 3 * MIN);
    /* an event in a closed bucket is late */
    e = traffic(T0 + 2 * MIN + 1, "x", 200, 1);
    CHECK_INT_EQ(tc_window_add(w, 0, &e), TC_ELATE);
    tc_window_stats(w, &st);
    CHECK_INT_EQ(st.late, 1);
    tc_window_flush(w);
    CHECK_INT_EQ(rc.n, 4);
    CHECK_INT_EQ(rc.r[3].b.start_ms, T0 + 3 * MIN);
    CHECK_INT_EQ(rc.r[3].b.requests, 1);
    tc_window_free(w);
    free(rc.r);
}

TC_TEST(window_out_of_order_within_lateness)
{
    recorder_t rc = {0};
    tc_window_config_t cfg = config(MIN, 30000);
    tc_window_t *w = tc_window_new(&cfg, NULL, on_close, &rc);
    CHECK(w != NULL);
    tc_event_t e;
    e = traffic(T0 + 10000, "a", 200, 1);
    CHECK_OK(tc_window_add(w, 0, &e));
    e = traffic(T0 + 70000, "a", 200, 1); /* watermark T0+40s: minute 0 open */
    CHECK_OK(tc_window_add(w, 0, &e));
    e = traffic(T0 + 50000, "a", 200, 1); /* out of order, within lateness */
    CHECK_OK(tc_window_add(w, 0, &e));
    CHECK_INT_EQ(rc.n, 0);
    e = traffic(T0 + 89999, "a", 200, 1); /* watermark T0+59.999s */
    CHECK_OK(tc_window_add(w, 0, &e));
    CHECK_INT_EQ(rc.n, 0);
    e = traffic(T0 + 90000, "a", 200, 1); /* watermark T0+60s closes minute 0 */
    CHECK_OK(tc_window_add(w, 0, &e));
    CHECK_INT_EQ(rc.n, 1);
    CHECK_INT_EQ(rc.r[0].b.requests, 2);
    e = traffic(T0 + 59999, "a", 200, 1); /* beyond the lateness now */
    CHECK_INT_EQ(tc_window_add(w, 0, &e), TC_ELATE);
    e = traffic(T0 + 60000, "a", 200, 1); /* minute 1 still open */
    CHECK_OK(tc_window_add(w, 0, &e));
    tc_window_flush(w);
    CHECK_INT_EQ(rc.n, 2);
    CHECK_INT_EQ(rc.r[1].b.start_ms, T0 + MIN);
    CHECK_INT_EQ(rc.r[1].b.requests, 4);
    tc_window_stats_t st;
    tc_window_stats(w, &st);
    CHECK_INT_EQ(st.late, 1);
    CHECK_INT_EQ(st.accepted, 6);
    /* after a flush everything up to the max event's bucket is closed */
    e = traffic(T0 + 100000, "a", 200, 1);
    CHECK_INT_EQ(tc_window_add(w, 0, &e), TC_ELATE);
    tc_window_free(w);
    free(rc.r);
}

TC_TEST(window_idle_series_emit_zero_buckets)
{
    recorder_t rc = {0};
    tc_registry_t *reg = tc_registry_new(16, NULL);
    CHECK(reg != NULL);
    uint32_t ia, ib, ic;
    CHECK_OK(tc_registry_intern(reg, "a", 1, &ia, NULL));
    CHECK_OK(tc_registry_intern(reg, "b", 1, &ib, NULL));
    CHECK_OK(tc_registry_intern(reg, "c", 1, &ic, NULL));
    tc_window_config_t cfg = config(MIN, 0);
    tc_window_t *w = tc_window_new(&cfg, reg, on_close, &rc);
    CHECK(w != NULL);
    tc_event_t e = traffic(T0 + 5, "u", 200, 1);
    CHECK_OK(tc_window_add(w, ib, &e)); /* b: minute 0 only */
    for (int m = 0; m < 6; m++) {
        e = traffic(T0 + m * MIN + 7, "u", 200, 1);
        CHECK_OK(tc_window_add(w, ia, &e)); /* a: every minute */
        if (m == 3) {
            e = traffic(T0 + 3 * MIN + 9, "u", 200, 1);
            CHECK_OK(tc_window_add(w, ic, &e)); /* c: first seen in minute 3 */
        }
    }
    /* a series first seen behind the watermark: its event is late, and it
     * emits nothing for buckets before its first accepted event */
    e = traffic(T0 + 2 * MIN, "u", 200, 1);
    CHECK_INT_EQ(tc_window_add(w, 5, &e), TC_ELATE);
    tc_window_flush(w);
    /* minutes 0..2: a, b; minutes 3..5: a, b, c */
    CHECK_INT_EQ(rc.n, 3 * 2 + 3 * 3);
    size_t i = 0;
    for (int m = 0; m < 6; m++) {
        CHECK_INT_EQ(rc.r[i].b.start_ms, T0 + m * MIN);
        CHECK_STR_EQ(rc.r[i].key, "a");
        CHECK_INT_EQ(rc.r[i].b.requests, 1);
        i++;
        CHECK_INT_EQ(rc.r[i].b.start_ms, T0 + m * MIN);
        CHECK_STR_EQ(rc.r[i].key, "b");
        CHECK_INT_EQ(rc.r[i].b.requests, m == 0 ? 1 : 0);
        i++;
        if (m >= 3) {
            CHECK_STR_EQ(rc.r[i].key, "c");
            CHECK_INT_EQ(rc.r[i].b.requests, m == 3 ? 1 : 0);
            i++;
        }
    }
    /* time passing without events closes buckets for all series too */
    tc_window_advance(w, T0 + 8 * MIN);
    CHECK_INT_EQ(rc.n, 15 + 2 * 3);
    CHECK_INT_EQ(rc.r[rc.n - 1].b.start_ms, T0 + 7 * MIN);
    tc_window_free(w);
    tc_registry_free(reg);
    free(rc.r);
}

TC_TEST(window_behavior_conversions_revenue_and_4xx)
{
    recorder_t rc = {0};
    tc_window_config_t cfg = config(MIN, 0);
    cfg.errors_include_4xx = true;
    tc_window_t *w = tc_window_new(&cfg, NULL, on_close, &rc);
    CHECK(w != NULL);
    tc_event_t e = traffic(T0 + 1, "u1", 404, 0);
    CHECK_OK(tc_window_add(w, 0, &e));
    e = traffic(T0 + 2, "u1", 500, 0);
    CHECK_OK(tc_window_add(w, 0, &e));
    e = traffic(T0 + 3, "u1", 399, 0);
    CHECK_OK(tc_window_add(w, 0, &e));
    tc_event_t b;
    memset(&b, 0, sizeof(b));
    b.kind = TC_EVENT_BEHAVIOR;
    b.time_ms = T0 + 4;
    b.site = tc_str_c("s");
    b.user_id = tc_str_c("u2");
    b.behavior.type = TC_BEHAVIOR_PURCHASE;
    b.behavior.value = 10.25;
    CHECK_OK(tc_window_add(w, 0, &b));
    b.behavior.value = 5.5;
    CHECK_OK(tc_window_add(w, 0, &b));
    b.behavior.type = TC_BEHAVIOR_ADD_TO_CART;
    b.behavior.value = 99;
    CHECK_OK(tc_window_add(w, 0, &b));
    tc_event_t a;
    memset(&a, 0, sizeof(a));
    a.kind = TC_EVENT_ANNOTATION;
    a.time_ms = T0;
    CHECK_INT_EQ(tc_window_add(w, 0, &a), TC_EINVAL);
    CHECK_INT_EQ(tc_window_add(w, 16, &e), TC_EINVAL);
    tc_window_flush(w);
    CHECK_INT_EQ(rc.n, 1);
    CHECK_INT_EQ(rc.r[0].b.requests, 3);
    CHECK_INT_EQ(rc.r[0].b.errors, 2);
    CHECK_INT_EQ(rc.r[0].b.conversions, 2);
    CHECK_NEAR(rc.r[0].b.revenue, 15.75, 0);
    CHECK_NEAR(rc.r[0].b.unique_users, 2.0, 0.01);
    tc_window_free(w);
    free(rc.r);
}

/* Random events, shuffled with a displacement the lateness allows, against
 * per-bucket counts kept in a plain array: every bucket must match and no
 * event may be late. */
TC_TEST(window_random_disorder_matches_plain_counts)
{
    enum { N = 200000, NS = 5, NB = 300 };
    const int64_t w_ms = 10000, late = 25000;
    typedef struct ev_s {
        int64_t t, key;
        uint32_t s;
    } ev_t;
    ev_t *evs = malloc(N * sizeof(*evs));
    uint64_t (*count)[NB] = calloc(NS, sizeof(*count));
    CHECK(evs && count);
    srand(7);
    for (int i = 0; i < N; i++) {
        evs[i].t = T0 + (int64_t)((double)rand() / RAND_MAX * (NB * w_ms - 1));
        evs[i].s = (uint32_t)(rand() % NS);
        evs[i].key = evs[i].t + (int64_t)((double)rand() / RAND_MAX * late);
        count[evs[i].s][(evs[i].t - T0) / w_ms]++;
    }
    /* sort by key: a preceding event's time is at most `late` after this one */
    for (int gap = N / 2; gap > 0; gap /= 2) /* shell sort, no qsort context needed */
        for (int i = gap; i < N; i++) {
            ev_t x = evs[i];
            int j = i;
            for (; j >= gap && evs[j - gap].key > x.key; j -= gap)
                evs[j] = evs[j - gap];
            evs[j] = x;
        }
    recorder_t rc = {0};
    tc_window_config_t cfg = config(w_ms, late);
    tc_window_t *w = tc_window_new(&cfg, NULL, on_close, &rc);
    CHECK(w != NULL);
    for (int i = 0; i < N; i++) {
        tc_event_t e = traffic(evs[i].t, "", 200, 1);
        CHECK_OK(tc_window_add(w, evs[i].s, &e));
    }
    tc_window_flush(w);
    size_t seen = 0;
    for (size_t i = 0; i < rc.n; i++) {
        int64_t b = (rc.r[i].b.start_ms - T0) / w_ms;
        CHECK(b >= 0 && b < NB);
        CHECK_INT_EQ(rc.r[i].b.requests, count[rc.r[i].series][b]);
        if (i > 0)
            CHECK(rc.r[i].b.start_ms >= rc.r[i - 1].b.start_ms);
        seen += rc.r[i].b.requests;
    }
    CHECK_INT_EQ(seen, N);
    CHECK_INT_EQ(rc.n, NS * NB);
    free(evs);
    free(count);
    tc_window_free(w);
    free(rc.r);
}

TC_TEST(window_rolling_over_ring)
{
    tc_window_config_t cfg = config(MIN, 0);
    cfg.ring = 3;
    tc_window_t *w = tc_window_new(&cfg, NULL, NULL, NULL);
    CHECK(w != NULL);
    /* minute m gets m + 1 requests, m = 0..4 */
    for (int m = 0; m < 5; m++)
        for (int k = 0; k <= m; k++) {
            tc_event_t e = traffic(T0 + m * MIN + k, "", 200, 2);
            CHECK_OK(tc_window_add(w, 0, &e));
        }
    tc_window_flush(w);
    size_t n;
    double sum, mean;
    CHECK_OK(tc_window_rolling(w, 0, TC_METRIC_REQUESTS, 2, &n, &sum, &mean));
    CHECK_INT_EQ(n, 2);
    CHECK_NEAR(sum, 5 + 4, 0);
    CHECK_NEAR(mean, 4.5, 0);
    CHECK_OK(tc_window_rolling(w, 0, TC_METRIC_BYTES, 10, &n, &sum, &mean));
    CHECK_INT_EQ(n, 3); /* the ring keeps 3 */
    CHECK_NEAR(sum, 2 * (5 + 4 + 3), 0);
    tc_bucket_t b;
    CHECK_OK(tc_window_closed(w, 0, 2, &b));
    CHECK_INT_EQ(b.start_ms, T0 + 2 * MIN);
    CHECK_INT_EQ(tc_window_closed(w, 0, 3, &b), TC_ENOTFOUND);
    CHECK_INT_EQ(tc_window_rolling(w, 1, TC_METRIC_BYTES, 1, &n, &sum, &mean), TC_EINVAL);
    tc_window_free(w);
    tc_window_free(NULL);
}

TC_TEST(window_unique_users_estimate)
{
    recorder_t rc = {0};
    tc_window_config_t cfg = config(MIN, 0);
    tc_window_t *w = tc_window_new(&cfg, NULL, on_close, &rc);
    CHECK(w != NULL);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "user%d", i % 5000);
        tc_event_t e = traffic(T0 + i % MIN, id, 200, 1);
        CHECK_OK(tc_window_add(w, 0, &e));
    }
    tc_window_flush(w);
    CHECK_INT_EQ(rc.n, 1);
    CHECK_REL(rc.r[0].b.unique_users, 5000.0, 3 * 1.04 / 64.0);
    tc_window_free(w);
    free(rc.r);
}

static int same_records(const recorder_t *a, const recorder_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->r[i].series != b->r[i].series || strcmp(a->r[i].key, b->r[i].key) ||
            memcmp(&a->r[i].b, &b->r[i].b, sizeof(tc_bucket_t)))
            return 0;
    return 1;
}

/* Snapshot mid-stream, restore into a fresh window and registry, feed both
 * the rest: identical closed buckets (bit for bit) and state. */
TC_TEST(window_snapshot_round_trip)
{
    tc_window_config_t cfg = config(MIN, 90000);
    tc_registry_t *reg1 = tc_registry_new(16, NULL), *reg2 = tc_registry_new(16, NULL);
    CHECK(reg1 && reg2);
    recorder_t r1 = {0}, r2 = {0};
    tc_window_t *w1 = tc_window_new(&cfg, reg1, on_close, &r1);
    tc_window_t *w2 = tc_window_new(&cfg, reg2, on_close, &r2);
    CHECK(w1 && w2);
    const char *keys[] = {"a.com", "b.com/x", "c.com"};
    char id[32];
    srand(3);
    int cut = 3000, total = 6000;
    for (int i = 0; i < total; i++) {
        int s = rand() % 3;
        int64_t t = T0 + i * 500 + rand() % 150000;
        snprintf(id, sizeof(id), "u%d", rand() % 700);
        tc_event_t e = traffic(t, id, (uint32_t)(rand() % 2 ? 200 : 503), (uint64_t)(rand() % 5000));
        if (i % 7 == 0) {
            e.kind = TC_EVENT_BEHAVIOR;
            e.behavior.type = TC_BEHAVIOR_PURCHASE;
            e.behavior.value = (rand() % 10000) / 100.0;
        }
        if (i == cut) {
            uint8_t *buf = NULL;
            size_t len = 0;
            CHECK_OK(tc_window_snapshot(w1, &buf, &len));
            int rc = tc_window_restore(w2, reg2, buf, len);
            /* restoring twice is refused: the window is no longer fresh */
            int rc2 = tc_window_restore(w2, reg2, buf, len);
            free(buf);
            CHECK_OK(rc);
            CHECK_INT_EQ(rc2, TC_EINVAL);
            r1.n = 0; /* compare what both emit from here on */
        }
        tc_window_t *targets[2] = {w1, w2};
        tc_registry_t *regs[2] = {reg1, reg2};
        for (int k = 0; k < (i >= cut ? 2 : 1); k++) {
            uint32_t idx;
            CHECK_OK(tc_registry_intern(regs[k], keys[s], strlen(keys[s]), &idx, NULL));
            int rc = tc_window_add(targets[k], idx, &e);
            CHECK(rc == 0 || rc == TC_ELATE);
        }
    }
    tc_window_flush(w1);
    tc_window_flush(w2);
    CHECK(r1.n > 50);
    CHECK(same_records(&r1, &r2));
    tc_window_stats_t s1, s2;
    tc_window_stats(w1, &s1);
    tc_window_stats(w2, &s2);
    CHECK(memcmp(&s1, &s2, sizeof(s1)) == 0);
    CHECK(s1.late > 0);
    for (uint32_t i = 0; i < 3; i++)
        CHECK_STR_EQ(tc_registry_key(reg1, i, NULL), tc_registry_key(reg2, i, NULL));

    /* the snapshots of the two windows are now byte-identical */
    uint8_t *b1, *b2;
    size_t l1, l2;
    CHECK_OK(tc_window_snapshot(w1, &b1, &l1));
    CHECK_OK(tc_window_snapshot(w2, &b2, &l2));
    int same = l1 == l2 && memcmp(b1, b2, l1) == 0;
    /* and a window configured differently refuses them */
    tc_window_config_t other = cfg;
    other.bucket_ms = 2 * MIN;
    tc_window_t *w3 = tc_window_new(&other, NULL, NULL, NULL);
    int rc3 = w3 ? tc_window_restore(w3, NULL, b1, l1) : -999;
    int rc4 = w3 ? tc_window_restore(w3, NULL, (const uint8_t *)"\xff\xff", 2) : -999;
    free(b1);
    free(b2);
    tc_window_free(w3);
    CHECK(same);
    CHECK_INT_EQ(rc3, TC_EINVAL);
    CHECK_INT_EQ(rc4, TC_EPARSE);
    tc_window_free(w1);
    tc_window_free(w2);
    tc_registry_free(reg1);
    tc_registry_free(reg2);
    free(r1.r);
    free(r2.r);
}

TC_TEST(window_rejects_bad_config)
{
    tc_window_config_t cfg = config(0, 0);
    CHECK(tc_window_new(&cfg, NULL, NULL, NULL) == NULL);
    cfg = config(MIN, -1);
    CHECK(tc_window_new(&cfg, NULL, NULL, NULL) == NULL);
    cfg = config(MIN, 0);
    cfg.ring = 0;
    CHECK(tc_window_new(&cfg, NULL, NULL, NULL) == NULL);
    cfg = config(MIN, 0);
    cfg.hll_precision = 30;
    CHECK(tc_window_new(&cfg, NULL, NULL, NULL) == NULL);
    CHECK_STR_EQ(tc_metric_name(TC_METRIC_REVENUE), "revenue");
    CHECK(tc_metric_name((tc_metric_t)6) == NULL);
}

/* The per-bucket unique-user estimate, whether the bucket kept its registers
 * sparsely or densely (below, at and beyond the switch), equals the
 * estimate of a plain dense sketch fed the same ids; and it survives a
 * snapshot in either form. */
TC_TEST(window_unique_users_sparse_and_dense_match_plain_sketch)
{
    const int ns[] = {1, 5, 12, 13, 40, 3000};
    const int nn = (int)(sizeof(ns) / sizeof(ns[0]));
    recorder_t rc = {0}, rc2 = {0};
    tc_window_config_t cfg = config(MIN, 0);
    for (int i = 0; i < 16; i++)
        cfg.hll_key[i] = (uint8_t)(i * 7 + 1);
    tc_window_t *w = tc_window_new(&cfg, NULL, on_close, &rc);
    tc_window_t *w2 = tc_window_new(&cfg, NULL, on_close, &rc2);
    CHECK(w && w2);
    double expect[6];
    char id[32];
    for (int s = 0; s < nn; s++) {
        tc_hll_t *h = tc_hll_new(12);
        CHECK(h != NULL);
        for (int r = 0; r < 3; r++) /* each id three times */
            for (int u = 0; u < ns[s]; u++) {
                int n = snprintf(id, sizeof(id), "s%d-u%d", s, u);
                tc_event_t e = traffic(T0 + u % MIN, id, 200, 1);
                CHECK_OK(tc_window_add(w, (uint32_t)s, &e));
                tc_hll_add_hash(h, tc_hll_hash(id, (size_t)n, cfg.hll_key));
            }
        expect[s] = tc_hll_estimate(h);
        tc_hll_free(h);
    }
    uint8_t *buf;
    size_t len;
    CHECK_OK(tc_window_snapshot(w, &buf, &len));
    int rrc = tc_window_restore(w2, NULL, buf, len);
    free(buf);
    CHECK_OK(rrc);
    tc_window_flush(w);
    tc_window_flush(w2);
    CHECK_INT_EQ(rc.n, nn);
    CHECK_INT_EQ(rc2.n, nn);
    for (int s = 0; s < nn; s++) {
        CHECK_INT_EQ(rc.r[s].series, s);
        CHECK_NEAR(rc.r[s].b.unique_users, expect[s], 1e-9 * expect[s]);
        CHECK_NEAR(rc2.r[s].b.unique_users, expect[s], 1e-9 * expect[s]);
        CHECK_REL(rc.r[s].b.unique_users, ns[s], 3 * 1.04 / 64.0 + (ns[s] < 100 ? 0.02 : 0));
    }
    tc_window_free(w);
    tc_window_free(w2);
    free(rc.r);
    free(rc2.r);
}
