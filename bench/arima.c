/*
 * bench/arima.c - speed of lib/arima on SARIMA(2,0,1)(1,1,1)24, the model of
 * PEERS.md, on the first 60 days of the hourly nyc_taxi series (sums):
 *   - MLE fit time (median of 3) and the exact log-likelihood reached;
 *   - ns per Kalman update with the full covariance recursion and with the
 *     frozen steady-state gain;
 *   - forecast time for h = 1 and h = 24.
 * usage: bench/arima [--dump SERIES PARAMS] [--loglik-at PARAMS_FILE]
 *   --dump writes the series (one value a line) and the fitted parameters
 *   (phi1 phi2 theta1 Phi1 Theta1 sigma2) for the statsmodels peer;
 *   --loglik-at prints this code's log-likelihood at the peer's parameters.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arima.h"
#include "error.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Hourly sums of nyc_taxi (half-hourly counts): the first n hours. */
static size_t load_taxi(double *y, size_t n)
{
    const char *dir = getenv("TC_DATA_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/nab/nyc_taxi.csv", dir ? dir : "data");
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    long long first = -1;
    size_t got = 0;
    for (size_t i = 0; i < n; i++)
        y[i] = 0.0;
    while (fgets(line, sizeof(line), f)) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        char *rest = strptime(line, "%Y-%m-%d %H:%M:%S", &tm);
        if (!rest || *rest != ',')
            continue;
        long long h = (long long)timegm(&tm) / 3600;
        if (first < 0)
            first = h;
        long long b = h - first;
        if (b >= (long long)n)
            break;
        y[b] += atof(rest + 1);
        got = (size_t)b + 1;
    }
    fclose(f);
    return got;
}

static void spec_peers(tc_arima_spec_t *s)
{
    tc_arima_spec_default(s);
    s->p = 2;
    s->q = 1;
    s->P = s->D = s->Q = 1;
    s->s = 24;
}

int main(int argc, char **argv)
{
    const char *dump_y = NULL, *dump_p = NULL, *at = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dump") && i + 2 < argc) {
            dump_y = argv[++i];
            dump_p = argv[++i];
        } else if (!strcmp(argv[i], "--loglik-at") && i + 1 < argc) {
            at = argv[++i];
        }
    }
    enum { N = 1440 };
    static double y[N];
    if (load_taxi(y, N) != N) {
        fprintf(stderr, "bench/arima: cannot read nab/nyc_taxi.csv\n");
        return 1;
    }
    tc_arima_spec_t s;
    spec_peers(&s);
    if (at) {
        FILE *f = fopen(at, "r");
        tc_arima_params_t p;
        memset(&p, 0, sizeof(p));
        if (!f || fscanf(f, "%lf %lf %lf %lf %lf %lf", &p.phi[0], &p.phi[1], &p.theta[0], &p.sphi[0],
                         &p.stheta[0], &p.sigma2) != 6) {
            fprintf(stderr, "bench/arima: cannot read %s\n", at);
            return 1;
        }
        fclose(f);
        double ll, s2;
        int rc = tc_arima_loglik(&s, &p, y, NULL, N, &ll, &s2);
        if (rc) {
            printf("tidecast loglik at statsmodels params: %s\n", tc_strerror(rc));
            return 1;
        }
        printf("tidecast loglik at statsmodels params: %.3f (sigma2 concentrated %.6g)\n", ll, s2);
        return 0;
    }
    /* fit */
    double times[3];
    tc_arima_t *m = NULL;
    for (int r = 0; r < 3; r++) {
        tc_arima_free(m);
        m = NULL;
        double t0 = now_s();
        int rc = tc_arima_fit(&s, y, NULL, N, NULL, &m);
        times[r] = now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench/arima: fit: %s\n", tc_strerror(rc));
            return 1;
        }
    }
    qsort(times, 3, sizeof(double), cmp_d);
    const tc_arima_params_t *p = tc_arima_params(m);
    const tc_arima_info_t *in = tc_arima_info(m);
    printf("series: nyc_taxi hourly sums, first %d hours; SARIMA(2,0,1)(1,1,1)24, no constant\n", N);
    printf("tidecast fit: %.3f s (median of 3), loglik %.3f (exact, differenced; %zu obs), "
           "converged %d\n", times[1], in->loglik, in->nobs, in->converged);
    printf("tidecast params: phi %.5f %.5f theta %.5f Phi %.5f Theta %.5f sigma2 %.6g\n",
           p->phi[0], p->phi[1], p->theta[0], p->sphi[0], p->stheta[0], p->sigma2);
    if (dump_y) {
        FILE *f = fopen(dump_y, "w"), *g = fopen(dump_p, "w");
        if (!f || !g)
            return 1;
        for (int i = 0; i < N; i++)
            fprintf(f, "%.17g\n", y[i]);
        fprintf(g, "%.17g %.17g %.17g %.17g %.17g %.17g\n", p->phi[0], p->phi[1], p->theta[0],
                p->sphi[0], p->stheta[0], p->sigma2);
        fclose(f);
        fclose(g);
    }
    /* updates: replay the series (shifted by a season per lap so it stays realistic) */
    tc_arima_params_t par = *p;
    tc_arima_opts_t full = {0};
    full.steady_tol = -1.0;
    tc_arima_t *mf = NULL, *ms = NULL;
    if (tc_arima_new(&s, &par, &full, &mf) || tc_arima_new(&s, &par, NULL, &ms))
        return 1;
    for (int i = 0; i < N; i++) {
        tc_arima_update(mf, y[i], NULL);
        tc_arima_update(ms, y[i], NULL);
    }
    for (int lap = 0; !tc_arima_is_steady(ms) && lap < 20; lap++)
        for (int i = 0; i < N; i++)
            tc_arima_update(ms, y[i], NULL);
    int reps = 20;
    double t0 = now_s();
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N; i++)
            tc_arima_update(mf, y[i], NULL);
    double ns_full = (now_s() - t0) * 1e9 / (2.0 * N);
    t0 = now_s();
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < N; i++)
            tc_arima_update(ms, y[i], NULL);
    double ns_steady = (now_s() - t0) * 1e9 / ((double)reps * N);
    printf("tidecast update: full covariance %.0f ns, steady state %.1f ns per observation "
           "(state dimension 50; steady reached: %s)\n",
           ns_full, ns_steady, tc_arima_is_steady(ms) ? "yes" : "no");
    tc_arima_fc_t fc[24];
    int fr = 2000;
    t0 = now_s();
    for (int r = 0; r < fr; r++)
        tc_arima_forecast(ms, 1, NULL, fc);
    double us1 = (now_s() - t0) * 1e6 / fr;
    t0 = now_s();
    for (int r = 0; r < fr / 10; r++)
        tc_arima_forecast(ms, 24, NULL, fc);
    double us24 = (now_s() - t0) * 1e6 / (fr / 10);
    printf("tidecast forecast: h=1 %.2f us, h=24 (means, variances, intervals) %.1f us\n", us1, us24);
    printf("RESULT fit_s=%.4f loglik=%.4f upd_full_ns=%.1f upd_steady_ns=%.1f fc1_us=%.3f fc24_us=%.2f\n",
           times[1], in->loglik, ns_full, ns_steady, us1, us24);
    tc_arima_free(mf);
    tc_arima_free(ms);
    tc_arima_free(m);
    return 0;
}
