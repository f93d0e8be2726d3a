/*
 * bench/churn.c - speed and memory of the churn engine (lib/churn.h) and of
 * the BG/NBD population fit (lib/bgnbd.h).
 *
 *   churn updates USERS EVENTS   user-event updates/s, pre-hashed ids and raw
 *                                ids (SipHash inside), then the sweep rate
 *   churn rss USERS              bytes per user by RSS growth while USERS
 *                                users enter a table sized for them
 *   churn gen N FILE             N synthetic customers (x, t_x, T) drawn from
 *                                BG/NBD with CDNOW's parameters, written as
 *                                float64 triples for the Python peer
 *   churn fit FILE [REPS]        fit time (median of REPS), parameters, LL
 *   churn ll FILE r alpha a b    log-likelihood at given parameters
 *
 * The fit starts where lifetimes' BetaGeoFitter starts (theta = 0.1 each) so
 * that both sides solve the same problem from the same point.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bgnbd.h"
#include "churn.h"
#include "error.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return ((double)(splitmix(s) >> 11) + 0.5) * 0x1p-53;
}

static double normal(uint64_t *s)
{
    return sqrt(-2 * log(unif(s))) * cos(2 * M_PI * unif(s));
}

/* Gamma(shape, 1): Marsaglia & Tsang (2000), shape < 1 by the u^(1/shape) boost. */
static double gamma1(uint64_t *s, double k)
{
    if (k < 1)
        return gamma1(s, k + 1) * pow(unif(s), 1 / k);
    double d = k - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = normal(s), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = unif(s);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static const char secret[] = "bench secret, sixteen bytes or more";

static tc_churn_t *make_table(size_t users)
{
    tc_churn_config_t cfg;
    tc_churn_config_default(&cfg);
    cfg.max_users = users;
    cfg.alert_threshold = 0.95;
    tc_churn_t *t = NULL;
    int rc = tc_churn_new(&cfg, secret, sizeof(secret) - 1, &t);
    if (rc)
        fprintf(stderr, "tc_churn_new: %s\n", tc_strerror(rc));
    return t;
}

static int bench_updates(size_t users, size_t events)
{
    tc_churn_t *t = make_table(users);
    if (!t)
        return 1;
    uint64_t *ids = malloc(users * sizeof(*ids));
    tc_churn_event_t *ev = malloc(events * sizeof(*ev));
    size_t nraw = events < 5000000 ? events : 5000000;
    char(*raw)[16] = malloc(nraw * sizeof(*raw));
    if (!ids || !ev || !raw)
        return 1;
    uint64_t s = 42;
    for (size_t i = 0; i < users; i++) {
        char r[24];
        int n = snprintf(r, sizeof(r), "user%09zu", i % 1000000000);
        ids[i] = tc_churn_id(t, r, (size_t)n);
    }
    int64_t t0 = 1700000000LL * 1000;
    /* every user enters first, so the timed loops are pure updates */
    for (size_t i = 0; i < users; i++)
        tc_churn_observe_id(t, ids[i], t0, TC_CHURN_EV_ACTIVITY, 0);
    /* the event stream as a consumer sees it: ids in the message, 20 ms apart */
    for (size_t i = 0; i < events; i++) {
        size_t u = splitmix(&s) % users;
        ev[i] = (tc_churn_event_t){ids[u], t0 + 1000 + (int64_t)i * 20, 0, TC_CHURN_EV_ACTIVITY};
        if (i < nraw)
            snprintf(raw[i], sizeof(raw[i]), "user%09zu", u % 1000000000);
    }
    double a = now_s();
    for (size_t i = 0; i < events; i++)
        tc_churn_observe_id(t, ev[i].id, ev[i].time_ms, ev[i].kind, ev[i].value);
    double b = now_s();
    int64_t shift = (int64_t)events * 20 + 1000;
    for (size_t i = 0; i < events; i++)
        ev[i].time_ms += shift;
    double b2 = now_s();
    for (size_t i = 0; i < events; i += 1024)
        tc_churn_observe_batch(t, ev + i, events - i < 1024 ? events - i : 1024, NULL);
    double c = now_s();
    int64_t t2 = ev[events - 1].time_ms + 1000;
    double c2 = now_s();
    for (size_t i = 0; i < nraw; i++)
        tc_churn_observe(t, raw[i], 13, t2 + (int64_t)i * 20, TC_CHURN_EV_ACTIVITY, 0);
    double c3 = now_s();
    size_t v;
    int64_t tend = t2 + (int64_t)nraw * 20 + 86400000LL;
    tc_churn_sweep(t, tend, users, 0, &v);
    double d = now_s();
    tc_churn_counters_t ct;
    tc_churn_counters(t, &ct);
    printf("churn updates: users %zu, events %zu (uniform over users), one thread\n", users, events);
    printf("  one by one, pre-hashed ids : %.2f M updates/s (%.0f ns/update)\n",
           events / (b - a) / 1e6, (b - a) / events * 1e9);
    printf("  batches of 1024 (prefetch)  : %.2f M updates/s (%.0f ns/update)\n",
           events / (c - b2) / 1e6, (c - b2) / events * 1e9);
    printf("  one by one, raw ids (SipHash inside, %zu events): %.2f M updates/s (%.0f ns/update)\n",
           nraw, nraw / (c3 - c2) / 1e6, (c3 - c2) / nraw * 1e9);
    printf("  sweep: %.2f M users/s (%zu users in %.3f s)\n", v / (d - c3) / 1e6, v, d - c3);
    printf("  transactions %llu, late %llu\n", (unsigned long long)ct.transactions,
           (unsigned long long)ct.late);
    free(ids);
    free(ev);
    free(raw);
    tc_churn_free(t);
    return 0;
}

static int bench_rss(size_t users)
{
    long before = rss_kb();
    tc_churn_t *t = make_table(users);
    if (!t)
        return 1;
    uint64_t s = 7;
    int64_t t0 = 1700000000LL * 1000;
    double a = now_s();
    for (size_t i = 0; i < users; i++) {
        uint64_t id = splitmix(&s) | 1;
        tc_churn_observe_id(t, id, t0 + (int64_t)(i % 86400000), TC_CHURN_EV_ACTIVITY, 0);
    }
    double b = now_s();
    long after = rss_kb();
    tc_churn_counters_t ct;
    tc_churn_counters(t, &ct);
    printf("churn memory: %llu users, RSS growth %.1f MiB = %.1f bytes/user "
           "(table's own count %.1f), inserts %.2f M/s\n",
           (unsigned long long)ct.users, (after - before) / 1024.0,
           (after - before) * 1024.0 / (double)ct.users, tc_churn_bytes_per_user(t),
           users / (b - a) / 1e6);
    /* checkpoint cost: encode the table, restore it into a second one */
    uint8_t *buf;
    size_t len;
    double c = now_s();
    int rc = tc_churn_snapshot(t, &buf, &len);
    double e = now_s();
    if (rc == 0) {
        tc_churn_t *t2 = make_table(users);
        double f = now_s();
        rc = t2 ? tc_churn_restore(t2, buf, len) : TC_ENOMEM;
        double g = now_s();
        printf("churn snapshot: %.1f MiB (%.1f bytes/user), encode %.3f s, restore %.3f s (%s)\n",
               len / 1048576.0, (double)len / (double)ct.users, e - c, g - f, tc_strerror(rc));
        tc_churn_free(t2);
        free(buf);
    }
    tc_churn_free(t);
    return 0;
}

static int bench_gen(size_t n, const char *path)
{
    /* CDNOW's published parameters in weeks; cohort joins over 12 weeks and
     * is observed to week 39, as in the CDNOW protocol. */
    const double r = 0.243, alpha = 4.414, a = 0.793, b = 2.426;
    uint64_t s = 12345;
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    for (size_t i = 0; i < n; i++) {
        double lam = gamma1(&s, r) / alpha;
        double ga = gamma1(&s, a), gb = gamma1(&s, b), p = ga / (ga + gb);
        double T = 39.0 - 12.0 * unif(&s), t = 0, tx = 0, x = 0;
        for (;;) {
            t += -log(unif(&s)) / lam;
            if (t > T)
                break;
            x += 1;
            tx = t;
            if (unif(&s) < p) /* drops out after this repeat purchase */
                break;
        }
        double row[3] = {x, tx, T};
        fwrite(row, sizeof(row), 1, f);
    }
    fclose(f);
    return 0;
}

static int load(const char *path, tc_bgnbd_data_t *d, uint32_t **x, double **tx, double **T)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f) / (3 * sizeof(double));
    fseek(f, 0, SEEK_SET);
    *x = malloc(n * sizeof(**x));
    *tx = malloc(n * sizeof(**tx));
    *T = malloc(n * sizeof(**T));
    for (size_t i = 0; i < n; i++) {
        double row[3];
        if (fread(row, sizeof(row), 1, f) != 1) {
            fclose(f);
            return 1;
        }
        (*x)[i] = (uint32_t)row[0];
        (*tx)[i] = row[1];
        (*T)[i] = row[2];
    }
    fclose(f);
    *d = (tc_bgnbd_data_t){n, *x, *tx, *T, NULL};
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench_fit(const char *path, int reps)
{
    tc_bgnbd_data_t d;
    uint32_t *x;
    double *tx, *T;
    if (load(path, &d, &x, &tx, &T))
        return 1;
    if (reps > 16)
        reps = 16;
    /* second pass: without the subsample warm start, for comparison */
    for (int warm = 1; warm >= 0; warm--) {
        tc_bgnbd_fit_opts_t o;
        tc_bgnbd_fit_opts_default(&o);
        o.n_starts = 1;
        o.starts[0] = (tc_bgnbd_params_t){exp(0.1), exp(0.1), exp(0.1), exp(0.1)};
        if (!warm)
            o.warm_n = 0;
        tc_bgnbd_fit_result_t res;
        double tm[16];
        for (int k = 0; k < reps; k++) {
            double a = now_s();
            int rc = tc_bgnbd_fit(TC_BGNBD_BG, &d, &o, &res);
            tm[k] = now_s() - a;
            if (rc) {
                fprintf(stderr, "fit: %s\n", tc_strerror(rc));
                return 1;
            }
        }
        qsort(tm, (size_t)reps, sizeof(double), cmp_double);
        printf("tidecast fit%s: n %zu time %.4f s (median of %d; %d full + %d subsample "
               "evaluations) r %.6f alpha %.6f a %.6f b %.6f ll %.4f\n",
               warm ? "" : " (no warm start)", d.n, tm[reps / 2], reps, res.iterations,
               res.warm_evaluations, res.params.r, res.params.alpha, res.params.a, res.params.b,
               res.loglik);
    }
    free(x);
    free(tx);
    free(T);
    return 0;
}

static int bench_ll(const char *path, char **pv)
{
    tc_bgnbd_data_t d;
    uint32_t *x;
    double *tx, *T;
    if (load(path, &d, &x, &tx, &T))
        return 1;
    tc_bgnbd_params_t p = {atof(pv[0]), atof(pv[1]), atof(pv[2]), atof(pv[3])};
    double ll;
    int rc = tc_bgnbd_loglik(TC_BGNBD_BG, &p, &d, &ll);
    printf("ll %.4f\n", rc ? NAN : ll);
    free(x);
    free(tx);
    free(T);
    return rc != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "updates"))
        return bench_updates((size_t)atol(argv[2]), (size_t)atol(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "rss"))
        return bench_rss((size_t)atol(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "gen"))
        return bench_gen((size_t)atol(argv[2]), argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "fit"))
        return bench_fit(argv[2], argc >= 4 ? atoi(argv[3]) : 3);
    if (argc >= 7 && !strcmp(argv[1], "ll"))
        return bench_ll(argv[2], argv + 3);
    fprintf(stderr, "usage: churn updates USERS EVENTS | rss USERS | gen N FILE | fit FILE [REPS]"
                    " | ll FILE r alpha a b\n");
    return 2;
}
