/*
 * Tests of lib/churn and lib/pseudonym. Outside truths: the CDNOW protocol's
 * statistics computed independently by lib/cdnow (sorting records per
 * customer), the closed-form risk of lib/bgnbd (tested against scipy in
 * test_bgnbd.c), libsodium's SipHash test vector, the Laplace distribution's
 * moments, and plain counting.
 */
#include <stdlib.h>
#include <string.h>

#include "bgnbd.h"
#include "cdnow.h"
#include "churn.h"
#include "error.h"
#include "fixture_cdnow.h"
#include "pseudonym.h"
#include "tests/test.h"

static const char secret[] = "0123456789abcdef-test-secret";
#define DAY_MS (86400LL * 1000)
#define T0_MS (1700000000LL * 1000) /* 2023-11-14 */

/* The default table configuration with room for max_users users. */
static tc_churn_config_t config_for(size_t max_users)
{
    tc_churn_config_t cfg;
    tc_churn_config_default(&cfg);
    cfg.max_users = max_users;
    return cfg;
}

typedef struct alerts {
    int n;
    tc_churn_alert_t last;
    char blob[64][sizeof(tc_churn_alert_t)];
} alerts_t;

static void on_alert(void *ud, const tc_churn_alert_t *a)
{
    alerts_t *al = ud;
    if (al->n < 64)
        memcpy(al->blob[al->n], a, sizeof(*a));
    al->n++;
    al->last = *a;
}

TC_TEST(pseudonym_siphash_and_key_handling)
{
    tc_pseudonym_t a, b;
    CHECK_INT_EQ(tc_pseudonym_init(&a, "short", 5), TC_EINVAL);
    CHECK_OK(tc_pseudonym_init(&a, secret, strlen(secret)));
    CHECK_OK(tc_pseudonym_init(&b, "another secret of enough length", 31));
    uint64_t ia = tc_pseudonym_id(&a, "alice", 5), ib = tc_pseudonym_id(&b, "alice", 5);
    CHECK(ia != ib);
    CHECK(ia == tc_pseudonym_id(&a, "alice", 5));
    CHECK(ia != tc_pseudonym_id(&a, "alicf", 5));
    char hex[17];
    uint64_t back;
    tc_pseudonym_hex(ia, hex);
    CHECK_INT_EQ(strlen(hex), 16);
    CHECK_OK(tc_pseudonym_parse_hex(hex, &back));
    CHECK(back == ia);
    CHECK_INT_EQ(tc_pseudonym_parse_hex("xyz", &back), TC_EPARSE);
    tc_pseudonym_deinit(&a);
    for (size_t i = 0; i < sizeof(a.key); i++)
        CHECK(a.key[i] == 0);
    tc_pseudonym_deinit(NULL);
}

/* Replays the CDNOW calibration records as purchase events (same-day merge,
 * weeks as the unit) and compares the table's statistics with lib/cdnow's. */
TC_TEST(churn_cdnow_replay_matches_protocol_stats)
{
    tc_cdnow_t c;
    CHECK_OK(tc_test_cdnow_sample(&c));
    tc_churn_config_t cfg = config_for(4000);
    cfg.tx_mode = TC_CHURN_TX_PURCHASE;
    cfg.merge_same_day = true;
    cfg.time_unit_s = 7 * 86400.0;
    cfg.horizon = 39;
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    int64_t base = 852076800LL * 1000; /* 1997-01-01 UTC */
    for (size_t i = 0; i < c.n_records && c.rec[i].day <= 272; i++) {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", c.rec[i].cust);
        /* purchases at noon: the day, not the instant, is what counts */
        CHECK_OK(tc_churn_observe(t, id, (size_t)n, base + c.rec[i].day * DAY_MS + DAY_MS / 2,
                                  TC_CHURN_EV_PURCHASE, c.rec[i].usd));
    }
    tc_churn_stats_t st;
    int64_t now = base + 272 * DAY_MS + DAY_MS / 2;
    CHECK_OK(tc_churn_stats_export(t, now, &st));
    CHECK_INT_EQ(st.data.n, c.n_cust);
    for (size_t k = 0; k < c.n_cust; k++) {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", c.cust[k]);
        tc_churn_score_t s;
        CHECK_OK(tc_churn_score(t, tc_churn_id(t, id, (size_t)n), now, &s));
        CHECK_INT_EQ(s.frequency, c.x[k]);
        CHECK_NEAR((s.last_seen_ms - s.first_seen_ms) / (7.0 * DAY_MS), c.t_x[k], 1e-9);
        CHECK_NEAR((now - s.first_seen_ms) / (7.0 * DAY_MS), c.T[k], 1e-9);
    }
    /* the fit on the exported copy is the protocol's fit */
    tc_bgnbd_fit_result_t res;
    CHECK_OK(tc_bgnbd_fit(TC_BGNBD_BG, &st.data, NULL, &res));
    CHECK_NEAR(res.loglik, -9582.43, 0.05);
    tc_churn_stats_deinit(&st);
    tc_churn_free(t);
    tc_cdnow_deinit(&c);
}

TC_TEST(churn_visits_split_on_gap)
{
    tc_churn_config_t cfg = config_for(16);
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    int64_t m = 60 * 1000;
    /* visit 1: 0, 10, 25 min (gaps <= 30 min); visit 2 at 56 min (31 min gap);
     * visit 3 the next day; a gap of exactly 30 min does not split */
    int64_t times[] = {0, 10 * m, 25 * m, 56 * m, 86 * m, DAY_MS};
    for (int i = 0; i < 6; i++)
        CHECK_OK(tc_churn_observe(t, "u1", 2, T0_MS + times[i], TC_CHURN_EV_ACTIVITY, 0));
    tc_churn_score_t s;
    CHECK_OK(tc_churn_score(t, tc_churn_id(t, "u1", 2), T0_MS + DAY_MS, &s));
    CHECK_INT_EQ(s.frequency, 2);
    CHECK_INT_EQ(s.last_seen_ms, T0_MS + DAY_MS);
    CHECK_INT_EQ(s.first_seen_ms, T0_MS);
    tc_churn_counters_t ct;
    tc_churn_counters(t, &ct);
    CHECK_INT_EQ(ct.transactions, 3);
    CHECK_INT_EQ(ct.events, 6);
    tc_churn_free(t);
}

TC_TEST(churn_purchase_mode_counts_purchases_only)
{
    tc_churn_config_t cfg = config_for(16);
    cfg.tx_mode = TC_CHURN_TX_PURCHASE;
    cfg.merge_same_day = true;
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    /* views before the first purchase create no user */
    CHECK_OK(tc_churn_observe(t, "u", 1, T0_MS, TC_CHURN_EV_ACTIVITY, 0));
    tc_churn_score_t s;
    CHECK_INT_EQ(tc_churn_score(t, tc_churn_id(t, "u", 1), T0_MS, &s), TC_ENOTFOUND);
    CHECK_OK(tc_churn_observe(t, "u", 1, T0_MS + 1000, TC_CHURN_EV_PURCHASE, 10));
    CHECK_OK(tc_churn_observe(t, "u", 1, T0_MS + 2000, TC_CHURN_EV_PURCHASE, 5)); /* same day */
    CHECK_OK(tc_churn_observe(t, "u", 1, T0_MS + 3 * DAY_MS, TC_CHURN_EV_ACTIVITY, 0));
    CHECK_OK(tc_churn_observe(t, "u", 1, T0_MS + 4 * DAY_MS, TC_CHURN_EV_PURCHASE, 7));
    CHECK_OK(tc_churn_score(t, tc_churn_id(t, "u", 1), T0_MS + 4 * DAY_MS, &s));
    CHECK_INT_EQ(s.frequency, 1);
    CHECK_NEAR(s.monetary, 22.0, 1e-6);
    CHECK_INT_EQ(s.last_event_ms, T0_MS + 4 * DAY_MS);
    tc_churn_free(t);
}

/* Risk rises while a user stays away and equals the closed form at each sweep. */
TC_TEST(churn_sweep_raises_risk_with_time)
{
    tc_churn_config_t cfg = config_for(64);
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    for (int d = 0; d < 40; d += 8)
        CHECK_OK(tc_churn_observe(t, "v", 1, T0_MS + d * DAY_MS, TC_CHURN_EV_ACTIVITY, 0));
    uint64_t id = tc_churn_id(t, "v", 1);
    double prev = -1;
    for (int d = 33; d < 400; d += 10) {
        size_t visited;
        CHECK_OK(tc_churn_sweep(t, T0_MS + d * DAY_MS, 100, 0, &visited));
        CHECK_INT_EQ(visited, 100);
        tc_churn_score_t s;
        CHECK_OK(tc_churn_score(t, id, T0_MS + d * DAY_MS, &s));
        double want = tc_bgnbd_risk(TC_BGNBD_BG, &cfg.params, 4, 32, d, cfg.horizon);
        CHECK_NEAR(s.risk, want, 1e-12);
        CHECK_MSG(s.risk > prev, "day %d: risk %g after %g", d, s.risk, prev);
        prev = s.risk;
    }
    CHECK(prev > 0.9);
    tc_churn_free(t);
}

/* Threshold, hysteresis and cooldown, on risk values known from the closed form. */
TC_TEST(churn_alerts_threshold_hysteresis_cooldown)
{
    alerts_t al = {0};
    tc_churn_config_t cfg = config_for(64);
    cfg.on_alert = on_alert;
    cfg.on_alert_ud = &al;
    cfg.alert_threshold = 0.7;
    cfg.alert_hysteresis = 0.1;
    cfg.alert_cooldown_ms = 100 * DAY_MS;
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    /* a regular user: purchases (visits) every 5 days for 50 days */
    for (int d = 0; d <= 50; d += 5)
        CHECK_OK(tc_churn_observe(t, "w", 1, T0_MS + d * DAY_MS, TC_CHURN_EV_ACTIVITY, 0));
    CHECK_INT_EQ(al.n, 0);
    /* first day the closed-form risk reaches 0.7 while away */
    int cross = -1;
    for (int d = 51; d < 2000 && cross < 0; d++)
        if (tc_bgnbd_risk(TC_BGNBD_BG, &cfg.params, 10, 50, d, 30) >= 0.7)
            cross = d;
    CHECK(cross > 51);
    size_t v;
    CHECK_OK(tc_churn_sweep(t, T0_MS + (cross - 1) * DAY_MS, 1, 0, &v));
    CHECK_INT_EQ(al.n, 0);
    CHECK_OK(tc_churn_sweep(t, T0_MS + cross * DAY_MS, 1, 0, &v));
    CHECK_INT_EQ(al.n, 1);
    CHECK_NEAR(al.last.risk, tc_bgnbd_risk(TC_BGNBD_BG, &cfg.params, 10, 50, cross, 30), 1e-6);
    CHECK_INT_EQ(al.last.last_seen_ms, T0_MS + 50 * DAY_MS);
    CHECK_INT_EQ(al.last.as_of_ms, T0_MS + cross * DAY_MS);
    CHECK(al.last.p_alive > 0 && al.last.p_alive < 1);
    CHECK(al.last.expected_transactions > 0);
    CHECK_NEAR(al.last.threshold, 0.7, 0);
    /* staying above: no repeat */
    for (int d = cross + 1; d < cross + 20; d++)
        CHECK_OK(tc_churn_sweep(t, T0_MS + d * DAY_MS, 1, 0, &v));
    CHECK_INT_EQ(al.n, 1);
    /* the user comes back: risk falls below 0.6 (hysteresis re-arms) */
    int back = cross + 20;
    CHECK_OK(tc_churn_observe(t, "w", 1, T0_MS + back * DAY_MS, TC_CHURN_EV_ACTIVITY, 0));
    tc_churn_score_t s;
    CHECK_OK(tc_churn_score(t, tc_churn_id(t, "w", 1), T0_MS + back * DAY_MS, &s));
    CHECK(s.risk < 0.6);
    CHECK(!s.alerting);
    /* away again: crosses within the 100-day cooldown -> no alert */
    int cross2 = -1;
    for (int d = back + 1; d < 4000 && cross2 < 0; d++)
        if (tc_bgnbd_risk(TC_BGNBD_BG, &cfg.params, 11, back, d, 30) >= 0.7)
            cross2 = d;
    CHECK(cross2 > back && cross2 - cross < 100);
    CHECK_OK(tc_churn_sweep(t, T0_MS + cross2 * DAY_MS, 1, 0, &v));
    CHECK_INT_EQ(al.n, 1);
    /* once the cooldown since the first alert is over, it alerts again */
    CHECK_OK(tc_churn_sweep(t, T0_MS + (cross + 99) * DAY_MS, 1, 0, &v));
    CHECK_INT_EQ(al.n, 1);
    CHECK_OK(tc_churn_sweep(t, T0_MS + (cross + 100) * DAY_MS, 1, 0, &v));
    CHECK_INT_EQ(al.n, 2);
    /* hovering between 0.6 and 0.7 never re-alerts: covered by the single
     * alert above while risk stayed >= 0.7 */
    tc_churn_counters_t ct;
    tc_churn_counters(t, &ct);
    CHECK_INT_EQ(ct.alerts, 2);
    CHECK_INT_EQ(ct.alerting, 1);
    tc_churn_free(t);
}

static int contains(const void *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

TC_TEST(churn_no_raw_id_in_snapshot_or_alerts)
{
    static const char *raw[] = {"alice@example.com", "bob-4711", "carol.customer"};
    alerts_t al = {0};
    tc_churn_config_t cfg = config_for(64);
    cfg.on_alert = on_alert;
    cfg.on_alert_ud = &al;
    for (int keep = 0; keep < 2; keep++) {
        cfg.keep_raw_ids = keep;
        al.n = 0;
        tc_churn_t *t;
        CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
        for (int i = 0; i < 3; i++) {
            CHECK_OK(tc_churn_observe(t, raw[i], strlen(raw[i]), T0_MS, TC_CHURN_EV_ACTIVITY, 1));
            CHECK_OK(tc_churn_observe(t, raw[i], strlen(raw[i]), T0_MS + DAY_MS,
                                      TC_CHURN_EV_ACTIVITY, 1));
        }
        size_t v;
        CHECK_OK(tc_churn_sweep(t, T0_MS + 400 * DAY_MS, 10, 0, &v));
        CHECK_INT_EQ(al.n, 3);
        uint8_t *snap;
        size_t len;
        CHECK_OK(tc_churn_snapshot(t, &snap, &len));
        for (int i = 0; i < 3; i++) {
            CHECK_MSG(contains(snap, len, raw[i]) == keep, "keep=%d raw id %s in snapshot: %d",
                      keep, raw[i], contains(snap, len, raw[i]));
            for (int k = 0; k < al.n; k++)
                CHECK(!contains(al.blob[k], sizeof(tc_churn_alert_t), raw[i]));
            uint64_t id = tc_churn_id(t, raw[i], strlen(raw[i]));
            const char *r = tc_churn_raw_id(t, id);
            CHECK(keep ? r && !strcmp(r, raw[i]) : r == NULL);
            tc_churn_score_t s;
            CHECK_OK(tc_churn_score(t, id, T0_MS + 400 * DAY_MS, &s));
            CHECK(!contains(&s, sizeof(s), raw[i]));
        }
        /* the key never leaves either */
        tc_pseudonym_t ps;
        CHECK_OK(tc_pseudonym_init(&ps, secret, strlen(secret)));
        CHECK(memmem(snap, len, ps.key, sizeof(ps.key)) == NULL);
        CHECK(!contains(snap, len, secret));
        tc_pseudonym_deinit(&ps);
        free(snap);
        tc_churn_free(t);
    }
}

TC_TEST(churn_snapshot_round_trip)
{
    tc_churn_config_t cfg = config_for(1000);
    cfg.supervised = true;
    cfg.label_horizon = 5;
    cfg.keep_raw_ids = true;
    tc_churn_t *a, *b;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &a));
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &b));
    char id[32];
    for (int d = 0; d < 60; d++) {
        for (int u = 0; u < 300; u++) {
            if ((u * 7 + d) % (u % 13 + 2))
                continue;
            int n = snprintf(id, sizeof(id), "user-%d", u);
            CHECK_OK(tc_churn_observe(a, id, (size_t)n, T0_MS + d * DAY_MS + u * 1000,
                                      TC_CHURN_EV_ACTIVITY, u % 5));
        }
        size_t v;
        CHECK_OK(tc_churn_sweep(a, T0_MS + d * DAY_MS + 500000, 100, 0, &v));
    }
    tc_bgnbd_params_t p = {0.5, 12, 0.7, 3};
    CHECK_OK(tc_churn_set_params(a, TC_BGNBD_MBG, &p));
    uint8_t *snap;
    size_t len;
    CHECK_OK(tc_churn_snapshot(a, &snap, &len));
    CHECK_OK(tc_churn_restore(b, snap, len));
    tc_churn_counters_t ca, cb;
    tc_churn_counters(a, &ca);
    tc_churn_counters(b, &cb);
    CHECK(memcmp(&ca, &cb, sizeof(ca)) == 0);
    CHECK(ca.labels > 0);
    for (int u = 0; u < 300; u++) {
        int n = snprintf(id, sizeof(id), "user-%d", u);
        uint64_t uid = tc_churn_id(a, id, (size_t)n);
        tc_churn_score_t sa, sb;
        int ra = tc_churn_score(a, uid, T0_MS + 70 * DAY_MS, &sa);
        CHECK_INT_EQ(tc_churn_score(b, uid, T0_MS + 70 * DAY_MS, &sb), ra);
        if (ra)
            continue;
        CHECK(memcmp(&sa, &sb, sizeof(sa)) == 0 || (sa.risk == sb.risk && sa.frequency == sb.frequency));
        CHECK_STR_EQ(tc_churn_raw_id(b, uid), id);
    }
    /* both continue identically */
    CHECK_OK(tc_churn_observe(a, "user-1", 6, T0_MS + 80 * DAY_MS, TC_CHURN_EV_PURCHASE, 3));
    CHECK_OK(tc_churn_observe(b, "user-1", 6, T0_MS + 80 * DAY_MS, TC_CHURN_EV_PURCHASE, 3));
    size_t va, vb;
    CHECK_OK(tc_churn_sweep(a, T0_MS + 90 * DAY_MS, 500, 0, &va));
    CHECK_OK(tc_churn_sweep(b, T0_MS + 90 * DAY_MS, 500, 0, &vb));
    uint8_t *s2a, *s2b;
    size_t l2a, l2b;
    CHECK_OK(tc_churn_snapshot(a, &s2a, &l2a));
    CHECK_OK(tc_churn_snapshot(b, &s2b, &l2b));
    CHECK(l2a == l2b && memcmp(s2a, s2b, l2a) == 0);
    free(s2a);
    free(s2b);
    /* a damaged snapshot is refused without a crash, and empties the table */
    snap[len / 2] ^= 0xff;
    snap[1] ^= 0x55;
    int rc = tc_churn_restore(b, snap, len / 3);
    CHECK(rc == TC_ECORRUPT || rc == TC_EVERSION);
    tc_churn_counters(b, &cb);
    CHECK_INT_EQ(cb.users, 0);
    free(snap);
    tc_churn_free(a);
    tc_churn_free(b);
}

TC_TEST(churn_bad_input_is_rejected_without_crash)
{
    tc_churn_config_t cfg = config_for(8);
    tc_churn_t *t;
    CHECK_INT_EQ(tc_churn_new(&cfg, "short", 5, &t), TC_EINVAL);
    CHECK(t == NULL);
    cfg.alert_threshold = 1.5;
    CHECK_INT_EQ(tc_churn_new(&cfg, secret, strlen(secret), &t), TC_ECONFIG);
    cfg.alert_threshold = 0.8;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    CHECK_INT_EQ(tc_churn_observe(t, "", 0, T0_MS, TC_CHURN_EV_ACTIVITY, 0), TC_EMISSING_KEY);
    CHECK_INT_EQ(tc_churn_observe(t, NULL, 3, T0_MS, TC_CHURN_EV_ACTIVITY, 0), TC_EMISSING_KEY);
    CHECK_INT_EQ(tc_churn_observe_id(t, 0, T0_MS, TC_CHURN_EV_ACTIVITY, 0), TC_EMISSING_KEY);
    CHECK_INT_EQ(tc_churn_observe(t, "a", 1, 0, TC_CHURN_EV_ACTIVITY, 0), TC_EBAD_TIMESTAMP);
    CHECK_INT_EQ(tc_churn_observe(t, "a", 1, -5, TC_CHURN_EV_ACTIVITY, 0), TC_EBAD_TIMESTAMP);
    CHECK_INT_EQ(tc_churn_observe(t, "a", 1, INT64_MAX, TC_CHURN_EV_ACTIVITY, 0),
                 TC_EBAD_TIMESTAMP);
    CHECK_INT_EQ(tc_churn_observe(t, "a", 1, T0_MS, TC_CHURN_EV_ACTIVITY, NAN), TC_ENAN);
    CHECK_INT_EQ(tc_churn_observe(t, "a", 1, T0_MS, (tc_churn_ev_t)99, 0), TC_EUNKNOWN_TYPE);
    /* time going backwards for a user: ignored, counted */
    CHECK_OK(tc_churn_observe(t, "a", 1, T0_MS + DAY_MS, TC_CHURN_EV_ACTIVITY, 0));
    CHECK_INT_EQ(tc_churn_observe(t, "a", 1, T0_MS, TC_CHURN_EV_ACTIVITY, 0), TC_ELATE);
    tc_churn_score_t s;
    CHECK_OK(tc_churn_score(t, tc_churn_id(t, "a", 1), T0_MS, &s));
    CHECK_INT_EQ(s.first_seen_ms, T0_MS + DAY_MS);
    CHECK(s.risk >= 0 && s.risk <= 1);
    /* a sweep behind the user's last event scores at the last event */
    size_t v;
    CHECK_OK(tc_churn_sweep(t, T0_MS, 4, 0, &v));
    CHECK_INT_EQ(tc_churn_sweep(t, -1, 4, 0, &v), TC_EBAD_TIMESTAMP);
    /* huge values and many users: eviction keeps the table bounded */
    for (int i = 0; i < 20; i++) {
        char id[8];
        int n = snprintf(id, sizeof(id), "u%d", i);
        CHECK_OK(tc_churn_observe(t, id, (size_t)n, T0_MS + (2 + i) * DAY_MS,
                                  TC_CHURN_EV_PURCHASE, 1e300));
    }
    tc_churn_counters_t c;
    tc_churn_counters(t, &c);
    CHECK_INT_EQ(c.users, 8);
    CHECK_INT_EQ(c.evicted, 13);
    CHECK_INT_EQ(c.late, 1);
    CHECK_INT_EQ(c.rejected, 8);
    /* the most recent users survive eviction */
    CHECK_OK(tc_churn_score(t, tc_churn_id(t, "u19", 3), T0_MS + 30 * DAY_MS, &s));
    CHECK(isfinite(s.risk));
    tc_churn_free(t);
    tc_churn_free(NULL);
}

TC_TEST(churn_repeat_count_saturates)
{
    tc_churn_config_t cfg = config_for(4);
    cfg.visit_gap_ms = 0; /* every event one second apart is a new visit */
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    uint64_t id = tc_churn_id(t, "h", 1);
    long n = (1L << 24) + 10;
    for (long i = 0; i < n; i++)
        CHECK_OK(tc_churn_observe_id(t, id, T0_MS + i * 1000, TC_CHURN_EV_ACTIVITY, 0));
    tc_churn_score_t s;
    CHECK_OK(tc_churn_score(t, id, T0_MS + n * 1000, &s));
    CHECK_INT_EQ(s.frequency, (1L << 24) - 1);
    CHECK(isfinite(s.risk) && s.risk >= 0 && s.risk <= 1);
    CHECK(isfinite(s.p_alive));
    tc_churn_free(t);
}

/* Labels are used only once known: none before a window closes. */
TC_TEST(churn_supervised_never_sees_the_future)
{
    tc_churn_config_t cfg = config_for(64);
    cfg.supervised = true;
    cfg.label_horizon = 10;
    cfg.sup_min_labels = 1;
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    CHECK_OK(tc_churn_observe(t, "p", 1, T0_MS, TC_CHURN_EV_ACTIVITY, 0));
    CHECK_OK(tc_churn_observe(t, "q", 1, T0_MS, TC_CHURN_EV_ACTIVITY, 0));
    size_t v;
    CHECK_OK(tc_churn_sweep(t, T0_MS + DAY_MS, 2, 0, &v)); /* windows open at day 1 */
    tc_churn_counters_t c;
    for (int d = 2; d < 11; d++) {
        CHECK_OK(tc_churn_sweep(t, T0_MS + d * DAY_MS, 2, 0, &v));
        tc_churn_counters(t, &c);
        CHECK_INT_EQ(c.labels, 0);
    }
    /* p transacts inside its window: label 0, known now */
    CHECK_OK(tc_churn_observe(t, "p", 1, T0_MS + 10 * DAY_MS + 5000, TC_CHURN_EV_ACTIVITY, 0));
    tc_churn_counters(t, &c);
    CHECK_INT_EQ(c.labels, 1);
    /* q's window closes at day 11 without a transaction: label 1 */
    CHECK_OK(tc_churn_sweep(t, T0_MS + 11 * DAY_MS, 2, 0, &v));
    tc_churn_counters(t, &c);
    CHECK_INT_EQ(c.labels, 2);
    /* an explicit cancel is a label at once, and pins the risk to 1 */
    CHECK_OK(tc_churn_observe(t, "q", 1, T0_MS + 12 * DAY_MS, TC_CHURN_EV_CANCEL, 0));
    tc_churn_counters(t, &c);
    CHECK_INT_EQ(c.labels, 3);
    CHECK_INT_EQ(c.cancels, 1);
    tc_churn_score_t s;
    CHECK_OK(tc_churn_score(t, tc_churn_id(t, "q", 1), T0_MS + 12 * DAY_MS, &s));
    CHECK(s.cancelled);
    CHECK_NEAR(s.risk, 1.0, 0);
    tc_churn_free(t);
}

TC_TEST(churn_laplace_noise_moments)
{
    /* Laplace(0, s): mean 0, E|X| = s, Var = 2 s^2 */
    double s = 2.5, sum = 0, sabs = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = tc_churn_laplace(s);
        sum += x;
        sabs += fabs(x);
    }
    CHECK_NEAR(sum / n, 0.0, 0.05);
    CHECK_NEAR(sabs / n, s, 0.03);
    tc_churn_config_t cfg = config_for(16);
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    CHECK_OK(tc_churn_observe(t, "a", 1, T0_MS, TC_CHURN_EV_ACTIVITY, 0));
    CHECK_OK(tc_churn_observe(t, "b", 1, T0_MS, TC_CHURN_EV_ACTIVITY, 0));
    tc_churn_aggregates_t ag;
    CHECK_OK(tc_churn_aggregates(t, T0_MS + DAY_MS, 0, &ag));
    CHECK_NEAR(ag.users, 2, 0);
    CHECK_NEAR(ag.active, 2, 0);
    CHECK_OK(tc_churn_aggregates(t, T0_MS + DAY_MS, 0.5, &ag));
    CHECK(isfinite(ag.users) && ag.users != 2.0);
    tc_churn_free(t);
}

static void count_score(void *ud, const tc_churn_score_t *s)
{
    int *n = ud;
    (*n)++;
    (void)s;
}

TC_TEST(churn_observe_event_and_score_changes)
{
    int scores = 0;
    tc_churn_config_t cfg = config_for(16);
    cfg.tx_mode = TC_CHURN_TX_PURCHASE;
    cfg.on_score = count_score;
    cfg.on_score_ud = &scores;
    cfg.score_step = 0.1;
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    tc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = TC_EVENT_BEHAVIOR;
    ev.time_ms = T0_MS;
    ev.user_id = tc_str_c("erin");
    ev.site = tc_str_c("shop.example.com");
    ev.behavior.type = TC_BEHAVIOR_PURCHASE;
    ev.behavior.value = 12.5;
    CHECK_OK(tc_churn_observe_event(t, &ev));
    CHECK_INT_EQ(scores, 1);
    ev.time_ms += 10 * DAY_MS;
    ev.behavior.type = TC_BEHAVIOR_VIEW;
    CHECK_OK(tc_churn_observe_event(t, &ev));
    ev.time_ms += DAY_MS;
    ev.behavior.type = TC_BEHAVIOR_PURCHASE;
    CHECK_OK(tc_churn_observe_event(t, &ev));
    tc_churn_score_t s;
    uint64_t id = tc_churn_id(t, "erin", 4);
    CHECK_OK(tc_churn_score(t, id, ev.time_ms, &s));
    CHECK_INT_EQ(s.frequency, 1);
    CHECK_NEAR(s.monetary, 25.0, 1e-6);
    ev.time_ms += DAY_MS;
    ev.behavior.type = TC_BEHAVIOR_CANCEL;
    CHECK_OK(tc_churn_observe_event(t, &ev));
    CHECK_OK(tc_churn_score(t, id, ev.time_ms, &s));
    CHECK(s.cancelled);
    /* score callbacks fire only when the risk changes cell: at most once per
     * rescore, and at least for the first sight and the cancel */
    CHECK(scores >= 2 && scores <= 4);
    /* sweeping daily for a year moves risk through at most 10 cells */
    int before = scores;
    ev.time_ms += DAY_MS;
    ev.behavior.type = TC_BEHAVIOR_PURCHASE; /* a purchase lifts the cancel */
    CHECK_OK(tc_churn_observe_event(t, &ev));
    for (int d = 1; d <= 365; d++) {
        size_t v;
        CHECK_OK(tc_churn_sweep(t, ev.time_ms + d * DAY_MS, 1, 0, &v));
    }
    CHECK(scores - before >= 2 && scores - before <= 11);
    ev.kind = TC_EVENT_ANNOTATION;
    CHECK_INT_EQ(tc_churn_observe_event(t, &ev), TC_EINVAL);
    ev.kind = TC_EVENT_TRAFFIC;
    ev.user_id = tc_str_c("");
    CHECK_INT_EQ(tc_churn_observe_event(t, &ev), TC_EINVAL);
    tc_churn_free(t);
}

/* The open-addressing index stays consistent under heavy insertion, eviction
 * (sampled least-recent and idle sweeps) and reinsertion: every user the
 * counters report is found, and only users whose events say so. */
TC_TEST(churn_index_consistent_under_eviction)
{
    enum { IDS = 600 };
    static int64_t last[IDS];
    tc_churn_config_t cfg = config_for(97);
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    uint64_t ids[IDS];
    for (int i = 0; i < IDS; i++) {
        char r[16];
        int n = snprintf(r, sizeof(r), "id%d", i);
        ids[i] = tc_churn_id(t, r, (size_t)n);
        last[i] = 0;
    }
    unsigned seed = 99;
    int64_t now = T0_MS;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % (step % 3 ? 120 : IDS)); /* a hot set and a long tail */
        now += 1000 + (seed >> 24) * 10;
        CHECK_OK(tc_churn_observe_id(t, ids[i], now, TC_CHURN_EV_ACTIVITY, 0));
        last[i] = now;
        if (step % 997 == 0) {
            size_t v;
            int64_t idle = 200LL * 1000;
            CHECK_OK(tc_churn_sweep(t, now, 1000, idle, &v));
            tc_churn_counters_t c;
            tc_churn_counters(t, &c);
            uint64_t found = 0;
            for (int k = 0; k < IDS; k++) {
                tc_churn_score_t s;
                if (tc_churn_score(t, ids[k], now, &s) == 0) {
                    found++;
                    CHECK_INT_EQ(s.last_event_ms, last[k] / 1000 * 1000);
                    CHECK_MSG(now - last[k] <= idle + 1000, "idle user %d survived a sweep", k);
                }
            }
            CHECK_INT_EQ(found, c.users);
            CHECK(c.users <= 97);
        }
    }
    tc_churn_free(t);
}

/* The sweeper's slices cover the table once per cycle, wrapping round. */
typedef struct seen {
    int n;
    uint64_t id[512];
} seen_t;

static void record_score(void *ud, const tc_churn_score_t *s)
{
    seen_t *sn = ud;
    if (sn->n < 512)
        sn->id[sn->n++] = s->user;
}

TC_TEST(churn_sweep_slices_cover_table)
{
    seen_t sn = {0};
    tc_churn_config_t cfg = config_for(100);
    cfg.on_score = record_score;
    cfg.on_score_ud = &sn;
    cfg.score_step = 0; /* every rescore reports */
    tc_churn_t *t;
    CHECK_OK(tc_churn_new(&cfg, secret, strlen(secret), &t));
    uint64_t ids[37];
    for (int i = 0; i < 37; i++) {
        char r[8];
        int n = snprintf(r, sizeof(r), "s%d", i);
        CHECK_OK(tc_churn_observe(t, r, (size_t)n, T0_MS, TC_CHURN_EV_ACTIVITY, 0));
        ids[i] = tc_churn_id(t, r, (size_t)n);
    }
    size_t v;
    CHECK_OK(tc_churn_sweep(t, T0_MS + DAY_MS, 5, 0, &v)); /* start mid-table */
    for (int cycle = 0; cycle < 3; cycle++) {
        sn.n = 0;
        size_t total = 0;
        while (total < 37) {
            CHECK_OK(tc_churn_sweep(t, T0_MS + DAY_MS, 37 - total < 10 ? 37 - total : 10, 0, &v));
            total += v;
        }
        CHECK_INT_EQ(sn.n, 37);
        for (int i = 0; i < 37; i++) {
            int hits = 0;
            for (int k = 0; k < sn.n; k++)
                hits += sn.id[k] == ids[i];
            CHECK_INT_EQ(hits, 1);
        }
    }
    tc_churn_free(t);
}
