/*
 * Tests of lib/arima: published figures (the airline model), closed forms,
 * recovery of simulated parameters, optimised-vs-reference filter paths,
 * checkpoints and degenerate input.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arima_impl.h"
#include "error.h"
#include "tests/test.h"

/* Reads data/classic/AirPassengers.csv (month,passengers) into y, returns n. */
static size_t read_air(double *y, size_t cap)
{
    FILE *f = fopen(tc_test_data_path("classic/AirPassengers.csv"), "r");
    if (!f)
        return 0;
    char line[256];
    size_t n = 0;
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return 0;
    }
    while (n < cap && fgets(line, sizeof(line), f)) {
        char *c = strchr(line, ',');
        if (c)
            y[n++] = atof(c + 1);
    }
    fclose(f);
    return n;
}

/* The airline model on the log scale: (0,1,1)(0,1,1)12, lambda = 0. */
static void airline_spec(tc_arima_spec_t *s)
{
    tc_arima_spec_default(s);
    s->d = s->q = s->D = s->Q = 1;
    s->s = 12;
    s->lambda = 0.0;
}

TC_TEST(arima_airline_matches_r)
{
    double y[200];
    size_t n = read_air(y, 200);
    CHECK_INT_EQ(n, 144);
    tc_arima_spec_t s;
    airline_spec(&s);
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_fit(&s, y, NULL, n, NULL, &m));
    const tc_arima_params_t *p = tc_arima_params(m);
    const tc_arima_info_t *in = tc_arima_info(m);
    /* R: arima(log(AirPassengers), c(0,1,1), seasonal = c(0,1,1)) */
    CHECK_NEAR(p->theta[0], -0.4018, 1e-3);
    CHECK_NEAR(p->stheta[0], -0.5569, 1e-3);
    CHECK_REL(p->sigma2, 0.001348, 0.02);
    CHECK_NEAR(in->loglik, 244.70, 0.05);
    CHECK_INT_EQ(in->nobs, 131);
    tc_arima_free(m);
}

/* ---------- helpers: a seeded Gaussian generator and simulators ---------- */

typedef struct rng {
    uint64_t s;
} rng_t;

static double rng_unif(rng_t *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_norm(rng_t *r)
{
    double u = rng_unif(r), v = rng_unif(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/*
 * Simulates (1 - phi B)(1 - B^s)^D y = (1 + theta B)(1 + Theta B^s) e with
 * unit-variance e after a burn-in, straight from the difference equation.
 */
static void sim_sarima(double *y, size_t n, double phi, double theta, double Theta, int s, int D,
                       uint64_t seed)
{
    rng_t r = {seed};
    size_t burn = 600, N = n + burn;
    double *e = calloc(N, sizeof(double)), *w = calloc(N, sizeof(double)),
           *z = calloc(N, sizeof(double));
    for (size_t t = 0; t < N; t++) {
        e[t] = rng_norm(&r);
        double v = e[t];
        if (t >= 1)
            v += phi * w[t - 1] + theta * e[t - 1];
        if (s > 0 && t >= (size_t)s)
            v += Theta * e[t - (size_t)s];
        if (s > 0 && t >= (size_t)s + 1)
            v += theta * Theta * e[t - (size_t)s - 1];
        w[t] = v;
        z[t] = w[t] + (D && t >= (size_t)s ? z[t - (size_t)s] : 0.0);
    }
    memcpy(y, z + burn, sizeof(double) * n);
    free(e);
    free(w);
    free(z);
}

/* (1,0,0)(0,1,1)12, the model sim_sarima(.., 0.5, 0.0, -0.6, 12, 1, ..) draws from. */
static void seasonal_ar_spec(tc_arima_spec_t *s)
{
    tc_arima_spec_default(s);
    s->p = 1;
    s->Q = 1;
    s->D = 1;
    s->s = 12;
}

/* Draws y[0..n-1] from that model (phi 0.5, Theta -0.6, unit variance,
 * seed 7) and fits it to them into *m. */
static int fit_seasonal_ar_sim(double *y, size_t n, tc_arima_t **m)
{
    tc_arima_spec_t s;
    seasonal_ar_spec(&s);
    sim_sarima(y, n, 0.5, 0.0, -0.6, 12, 1, 7);
    return tc_arima_fit(&s, y, NULL, n, NULL, m);
}

TC_TEST(arima_recovers_simulated_arma11)
{
    size_t n = 2000;
    double *y = malloc(sizeof(double) * n);
    sim_sarima(y, n, 0.6, 0.3, 0.0, 0, 0, 42);
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = 1;
    s.q = 1;
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_fit(&s, y, NULL, n, NULL, &m));
    const tc_arima_params_t *p = tc_arima_params(m);
    /* asymptotic s.e. of phi, theta at n = 2000 are about 0.025; allow 3 s.e. */
    CHECK_NEAR(p->phi[0], 0.6, 0.075);
    CHECK_NEAR(p->theta[0], 0.3, 0.075);
    CHECK_REL(p->sigma2, 1.0, 0.1);
    tc_arima_free(m);
    free(y);
}

TC_TEST(arima_recovers_simulated_sarima)
{
    size_t n = 1200;
    double *y = malloc(sizeof(double) * n);
    tc_arima_t *m = NULL;
    CHECK_OK(fit_seasonal_ar_sim(y, n, &m));
    const tc_arima_params_t *p = tc_arima_params(m);
    /* s.e. about 0.026 (phi) and 0.024 (Theta); 3 s.e. */
    CHECK_NEAR(p->phi[0], 0.5, 0.08);
    CHECK_NEAR(p->stheta[0], -0.6, 0.08);
    CHECK_REL(p->sigma2, 1.0, 0.12);
    tc_arima_free(m);
    free(y);
}

/* The airline model refitted on months 1..132 forecasts 133..144 (PEERS.md: RMSE 18.593). */
TC_TEST(arima_airline_forecast_rmse)
{
    double y[200];
    size_t n = read_air(y, 200);
    CHECK_INT_EQ(n, 144);
    tc_arima_spec_t s;
    airline_spec(&s);
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_fit(&s, y, NULL, 132, NULL, &m));
    CHECK_NEAR(tc_arima_params(m)->theta[0], -0.3484, 2e-3);
    CHECK_NEAR(tc_arima_params(m)->stheta[0], -0.5623, 2e-3);
    tc_arima_fc_t fc[12];
    CHECK_OK(tc_arima_forecast(m, 12, NULL, fc));
    double ss = 0.0;
    for (int h = 0; h < 12; h++) {
        /* exp of the mean on the log scale = geometric mean of symmetric quantiles */
        double med = sqrt(fc[h].lo80 * fc[h].hi80);
        CHECK(fc[h].mean > med); /* bias-adjusted mean above the median */
        ss += (med - y[132 + h]) * (med - y[132 + h]);
    }
    CHECK_NEAR(sqrt(ss / 12.0), 18.593, 0.1);
    tc_arima_free(m);
}

static tc_arima_t *ar1_model(double phi, double sigma2)
{
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = 1;
    tc_arima_params_t p;
    memset(&p, 0, sizeof(p));
    p.phi[0] = phi;
    p.sigma2 = sigma2;
    tc_arima_t *m = NULL;
    if (tc_arima_new(&s, &p, NULL, &m))
        return NULL;
    return m;
}

TC_TEST(arima_ar1_forecast_closed_form)
{
    double phi = 0.7, s2 = 2.0;
    tc_arima_t *m = ar1_model(phi, s2);
    CHECK(m);
    /* before any data: the stationary distribution */
    tc_arima_fc_t fc[10];
    CHECK_OK(tc_arima_forecast(m, 1, NULL, fc));
    CHECK_NEAR(fc[0].var, s2 / (1 - phi * phi), 1e-12);
    CHECK_OK(tc_arima_update(m, 1.0, NULL));
    CHECK_OK(tc_arima_update(m, 3.0, NULL));
    CHECK_OK(tc_arima_forecast(m, 10, NULL, fc));
    for (int h = 1; h <= 10; h++) {
        CHECK_NEAR(fc[h - 1].mean, pow(phi, h) * 3.0, 1e-12);
        CHECK_NEAR(fc[h - 1].var, s2 * (1 - pow(phi, 2 * h)) / (1 - phi * phi), 1e-12);
        double sd = sqrt(fc[h - 1].var);
        CHECK_NEAR(fc[h - 1].hi80 - fc[h - 1].mean, 1.2815515655446004 * sd, 1e-12);
        CHECK_NEAR(fc[h - 1].mean - fc[h - 1].lo95, 1.959963984540054 * sd, 1e-12);
    }
    tc_arima_free(m);
}

TC_TEST(arima_ar1_missing_observation)
{
    double phi = -0.5, s2 = 1.5;
    tc_arima_t *m = ar1_model(phi, s2);
    CHECK(m);
    CHECK_OK(tc_arima_update(m, 2.0, NULL));
    CHECK_OK(tc_arima_update(m, NAN, NULL));
    tc_arima_fc_t fc[1];
    CHECK_OK(tc_arima_forecast(m, 1, NULL, fc));
    /* y_{t+1} | y_{t-1}: mean phi^2 y_{t-1}, variance s2 (1 + phi^2) */
    CHECK_NEAR(fc[0].mean, phi * phi * 2.0, 1e-12);
    CHECK_NEAR(fc[0].var, s2 * (1 + phi * phi), 1e-12);
    CHECK_OK(tc_arima_update(m, 1.0, NULL));
    CHECK_OK(tc_arima_forecast(m, 1, NULL, fc));
    CHECK_NEAR(fc[0].mean, phi * 1.0, 1e-12);
    CHECK_NEAR(fc[0].var, s2, 1e-12);
    tc_arima_free(m);
}

TC_TEST(arima_ma1_forecast_closed_form)
{
    double theta = 0.5, s2 = 3.0;
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.q = 1;
    tc_arima_params_t p;
    memset(&p, 0, sizeof(p));
    p.theta[0] = theta;
    p.sigma2 = s2;
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_new(&s, &p, NULL, &m));
    /* first observation: the innovation estimate is y * theta/(1+theta^2) */
    CHECK_OK(tc_arima_update(m, 2.0, NULL));
    tc_arima_fc_t fc[3];
    CHECK_OK(tc_arima_forecast(m, 3, NULL, fc));
    double g0 = 1 + theta * theta;
    CHECK_NEAR(fc[0].mean, theta * 2.0 / g0, 1e-12);
    CHECK_NEAR(fc[0].var, s2 * (g0 - theta * theta / g0), 1e-12);
    CHECK_NEAR(fc[1].mean, 0.0, 1e-12);
    CHECK_NEAR(fc[1].var, s2 * g0, 1e-12);
    CHECK_NEAR(fc[2].var, s2 * g0, 1e-12);
    /* after a long history the one-step variance tends to sigma2 */
    rng_t r = {3};
    for (int i = 0; i < 400; i++)
        CHECK_OK(tc_arima_update(m, rng_norm(&r), NULL));
    CHECK_OK(tc_arima_forecast(m, 1, NULL, fc));
    CHECK_NEAR(fc[0].var, s2, 1e-9);
    tc_arima_free(m);
}

static void peers_spec(tc_arima_spec_t *s, tc_arima_params_t *p)
{
    tc_arima_spec_default(s);
    s->p = 2;
    s->q = 1;
    s->P = s->D = s->Q = 1;
    s->s = 24;
    memset(p, 0, sizeof(*p));
    p->phi[0] = 0.9;
    p->phi[1] = -0.2;
    p->theta[0] = -0.3;
    p->sphi[0] = 0.1;
    p->stheta[0] = -0.8;
    p->sigma2 = 4.0;
}

TC_TEST(arima_steady_state_matches_full_filter)
{
    tc_arima_spec_t s;
    tc_arima_params_t p;
    peers_spec(&s, &p);
    tc_arima_opts_t full = {0};
    full.steady_tol = -1.0;
    tc_arima_t *a = NULL, *b = NULL;
    CHECK_OK(tc_arima_new(&s, &p, NULL, &a));
    CHECK_OK(tc_arima_new(&s, &p, &full, &b));
    size_t n = 3000;
    double *y = malloc(sizeof(double) * n);
    sim_sarima(y, n, 0.5, -0.3, -0.8, 24, 1, 11);
    for (size_t i = 0; i < n; i++) {
        double v = y[i] + 100.0;
        if (i == 1000)
            v = NAN; /* leaves and re-enters the steady state */
        CHECK_OK(tc_arima_update(a, v, NULL));
        CHECK_OK(tc_arima_update(b, v, NULL));
    }
    free(y);
    CHECK(tc_arima_is_steady(a));
    CHECK(!tc_arima_is_steady(b));
    tc_arima_fc_t fa[48], fb[48];
    CHECK_OK(tc_arima_forecast(a, 48, NULL, fa));
    CHECK_OK(tc_arima_forecast(b, 48, NULL, fb));
    for (int h = 0; h < 48; h++) {
        CHECK_NEAR(fa[h].mean, fb[h].mean, 1e-9);
        CHECK_NEAR(fa[h].var, fb[h].var, 1e-9 * fb[h].var);
    }
    tc_arima_free(a);
    tc_arima_free(b);
}

/* The autocovariance route to the stationary covariance against the plain sum. */
TC_TEST(arima_stationary_covariance_against_series)
{
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = 2;
    s.q = 1;
    s.P = 1;
    s.Q = 1;
    s.s = 4;
    tc_arima_params_t p;
    memset(&p, 0, sizeof(p));
    p.phi[0] = 0.5;
    p.phi[1] = 0.2;
    p.theta[0] = 0.4;
    p.sphi[0] = -0.6;
    p.stheta[0] = 0.3;
    /* expanded polynomials by hand: ar(B) = (1 - .5B - .2B^2)(1 + .6B^4) */
    double ar[7] = {0.5, 0.2, 0, -0.6, 0.3, 0.12, 0}; /* lags 1..6, r = 6 */
    double R[6] = {1, 0.4, 0, 0, 0.3, 0.12};
    int r = 6;
    double P0[36], S[36] = {0}, X[36], T[36] = {0}, tmp[36];
    int rr = 0;
    CHECK_OK(tc__arima_p0(&s, &p, P0, &rr, false));
    CHECK_INT_EQ(rr, r);
    for (int i = 0; i < r; i++) {
        T[i * r] = ar[i];
        if (i + 1 < r)
            T[i * r + i + 1] = 1.0;
    }
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++)
            X[i * r + j] = R[i] * R[j];
    for (int k = 0; k < 3000; k++) {
        for (int i = 0; i < 36; i++)
            S[i] += X[i];
        for (int i = 0; i < r; i++) /* X <- T X T' */
            for (int j = 0; j < r; j++) {
                double v = 0;
                for (int l = 0; l < r; l++)
                    v += T[i * r + l] * X[l * r + j];
                tmp[i * r + j] = v;
            }
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                double v = 0;
                for (int l = 0; l < r; l++)
                    v += tmp[i * r + l] * T[j * r + l];
                X[i * r + j] = v;
            }
    }
    for (int i = 0; i < 36; i++)
        CHECK_NEAR(P0[i], S[i], 1e-10 * fabs(S[0]));
}

TC_TEST(arima_checkpoint_round_trip)
{
    tc_arima_spec_t s;
    tc_arima_params_t p;
    peers_spec(&s, &p);
    size_t n = 700;
    double *y = malloc(sizeof(double) * n);
    sim_sarima(y, n, 0.5, -0.3, -0.8, 24, 1, 5);
    tc_arima_t *a = NULL, *b = NULL;
    CHECK_OK(tc_arima_fit(&s, y, NULL, 600, NULL, &a));
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(tc_arima_save(a, &buf, &len));
    CHECK_OK(tc_arima_load(buf, len, &b));
    CHECK_INT_EQ(tc_arima_nobs_seen(b), 600);
    CHECK(memcmp(tc_arima_params(a), tc_arima_params(b), sizeof(tc_arima_params_t)) == 0);
    for (size_t i = 600; i < n; i++) {
        CHECK_OK(tc_arima_update(a, y[i], NULL));
        CHECK_OK(tc_arima_update(b, y[i], NULL));
    }
    tc_arima_fc_t fa[24], fb[24];
    CHECK_OK(tc_arima_forecast(a, 24, NULL, fa));
    CHECK_OK(tc_arima_forecast(b, 24, NULL, fb));
    CHECK(memcmp(fa, fb, sizeof(fa)) == 0);
    /* a second save of the restored model is byte-identical */
    uint8_t *buf2 = NULL, *buf3 = NULL;
    size_t len2 = 0, len3 = 0;
    CHECK_OK(tc_arima_save(a, &buf2, &len2));
    CHECK_OK(tc_arima_save(b, &buf3, &len3));
    CHECK_INT_EQ(len2, len3);
    CHECK(memcmp(buf2, buf3, len2) == 0);
    /* bad input */
    tc_arima_t *c = NULL;
    CHECK_INT_EQ(tc_arima_load((const uint8_t *)"\xff\xff\xff", 3, &c), TC_EPARSE);
    buf[1] = 2; /* field 1 (version) = 2 */
    CHECK(buf[0] == 0x08);
    CHECK_INT_EQ(tc_arima_load(buf, len, &c), TC_EVERSION);
    free(buf);
    free(buf2);
    free(buf3);
    free(y);
    tc_arima_free(a);
    tc_arima_free(b);
}

static void *refit_thread(void *job)
{
    tc_arima_refit_run(job);
    return NULL;
}

TC_TEST(arima_refit_swaps_in_and_replays)
{
    tc_arima_spec_t s;
    tc_arima_params_t p;
    peers_spec(&s, &p);
    size_t n = 800;
    double *y = malloc(sizeof(double) * n);
    sim_sarima(y, n, 0.5, -0.3, -0.8, 24, 1, 9);
    tc_arima_opts_t o = {0};
    o.history = 600;
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_new(&s, &p, &o, &m));
    for (size_t i = 0; i < 700; i++)
        CHECK_OK(tc_arima_update(m, y[i], NULL));
    tc_arima_refit_t *job = NULL;
    CHECK_OK(tc_arima_refit_new(m, false, &job));
    CHECK_INT_EQ(tc_arima_refit_apply(m, job), TC_EINVAL); /* not run yet */
    /* the job runs on another thread while the model keeps being updated and forecast */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, refit_thread, job) == 0);
    tc_arima_fc_t f1[1];
    for (size_t i = 700; i < 750; i++) {
        CHECK_OK(tc_arima_update(m, y[i], NULL));
        CHECK_OK(tc_arima_forecast(m, 1, NULL, f1));
    }
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_OK(tc_arima_refit_apply(m, job));
    tc_arima_refit_free(job);
    CHECK_INT_EQ(tc_arima_nobs_seen(m), 750);
    /* the same as fitting the copied window directly and replaying the rest */
    tc_arima_t *ref = NULL;
    CHECK_OK(tc_arima_fit(&s, y + 100, NULL, 600, &o, &ref));
    for (size_t i = 700; i < 750; i++)
        CHECK_OK(tc_arima_update(ref, y[i], NULL));
    CHECK(memcmp(tc_arima_params(m), tc_arima_params(ref), sizeof(tc_arima_params_t)) == 0);
    tc_arima_fc_t fa[24], fb[24];
    CHECK_OK(tc_arima_forecast(m, 24, NULL, fa));
    CHECK_OK(tc_arima_forecast(ref, 24, NULL, fb));
    for (int h = 0; h < 24; h++)
        CHECK_NEAR(fa[h].mean, fb[h].mean, 1e-9 * (1 + fabs(fb[h].mean)));
    tc_arima_free(ref);
    tc_arima_free(m);
    free(y);
}

TC_TEST(arima_degenerate_input_errors)
{
    tc_arima_spec_t s;
    tc_arima_params_t p;
    peers_spec(&s, &p);
    double y[400];
    tc_arima_t *m = NULL;
    for (int i = 0; i < 400; i++)
        y[i] = 5.0;
    CHECK_INT_EQ(tc_arima_fit(&s, y, NULL, 400, NULL, &m), TC_EDEGENERATE);
    tc_arima_spec_t s0;
    tc_arima_spec_default(&s0);
    s0.p = 1;
    s0.mean = true;
    CHECK_INT_EQ(tc_arima_fit(&s0, y, NULL, 400, NULL, &m), TC_EDEGENERATE);
    for (int i = 0; i < 400; i++)
        y[i] = NAN;
    CHECK_INT_EQ(tc_arima_fit(&s, y, NULL, 400, NULL, &m), TC_ETOOFEW);
    CHECK_INT_EQ(tc_arima_fit(&s0, y, NULL, 400, NULL, &m), TC_ETOOFEW);
    for (int i = 0; i < 400; i++)
        y[i] = sin(i * 0.3) + 0.01 * i;
    CHECK_INT_EQ(tc_arima_fit(&s, y, NULL, 30, NULL, &m), TC_ETOOFEW);
    y[10] = INFINITY;
    CHECK_INT_EQ(tc_arima_fit(&s0, y, NULL, 400, NULL, &m), TC_ENAN);
    y[10] = -1.0;
    s0.lambda = 0.0;
    CHECK_INT_EQ(tc_arima_fit(&s0, y, NULL, 400, NULL, &m), TC_ERANGE);
    /* values whose squares overflow: no finite likelihood anywhere */
    rng_t r = {1};
    for (int i = 0; i < 400; i++)
        y[i] = 1e200 * rng_norm(&r);
    s0.lambda = NAN;
    CHECK_INT_EQ(tc_arima_fit(&s0, y, NULL, 400, NULL, &m), TC_ERANGE);
    /* an optimiser stopped after one iteration */
    sim_sarima(y, 400, 0.5, 0.4, 0.0, 0, 0, 2);
    tc_arima_opts_t o = {0};
    o.max_iter = 1;
    o.require_convergence = true;
    s0.q = 1;
    CHECK_INT_EQ(tc_arima_fit(&s0, y, NULL, 400, &o, &m), TC_ENOCONVERGE);
    o.require_convergence = false;
    CHECK_OK(tc_arima_fit(&s0, y, NULL, 400, &o, &m));
    CHECK(!tc_arima_info(m)->converged);
    tc_arima_free(m);
    CHECK_INT_EQ(tc_arima_auto(y, NULL, 5, 0, 24, NAN, NULL, &m), TC_ETOOFEW);
    /* invalid orders, non-stationary parameters */
    s0.mean = true;
    s0.d = 1;
    CHECK_INT_EQ(tc_arima_new(&s0, NULL, NULL, &m), TC_EINVAL);
    p.phi[0] = 1.5;
    CHECK_INT_EQ(tc_arima_new(&s, &p, NULL, &m), TC_ERANGE);
    tc_arima_free(NULL);
    tc_arima_refit_free(NULL);
}

TC_TEST(arima_auto_picks_seasonal_model)
{
    size_t n = 600;
    double *y = malloc(sizeof(double) * n);
    sim_sarima(y, n, 0.5, 0.0, -0.6, 12, 1, 21);
    for (size_t i = 0; i < n; i++)
        y[i] += 10.0 * sin(2 * M_PI * (double)i / 12.0);
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_auto(y, NULL, n, 0, 12, NAN, NULL, &m));
    const tc_arima_spec_t *s = tc_arima_spec(m);
    CHECK_INT_EQ(s->D, 1);
    CHECK(s->p + s->q + s->P + s->Q >= 1);
    CHECK(tc_arima_info(m)->models_tried >= 4);
    tc_arima_fc_t fc[12];
    CHECK_OK(tc_arima_forecast(m, 12, NULL, fc));
    for (int h = 0; h < 12; h++)
        CHECK(isfinite(fc[h].mean) && fc[h].var > 0);
    tc_arima_free(m);
    free(y);
}

TC_TEST(arima_fit_with_missing_values)
{
    size_t n = 1200;
    double *y = malloc(sizeof(double) * n);
    tc_arima_t *a = NULL, *b = NULL;
    CHECK_OK(fit_seasonal_ar_sim(y, n, &a));
    tc_arima_spec_t s;
    seasonal_ar_spec(&s);
    rng_t r = {99};
    for (size_t i = 0; i < n; i++)
        if (rng_unif(&r) < 0.03 || i == n - 3)
            y[i] = NAN;
    CHECK_OK(tc_arima_fit(&s, y, NULL, n, NULL, &b));
    /* 3% missing moves the estimates by much less than their s.e. (~0.025) */
    CHECK_NEAR(tc_arima_params(b)->phi[0], tc_arima_params(a)->phi[0], 0.03);
    CHECK_NEAR(tc_arima_params(b)->stheta[0], tc_arima_params(a)->stheta[0], 0.03);
    CHECK(tc_arima_info(b)->nobs < tc_arima_info(a)->nobs);
    /* y[n-3] missing: the forecast of y[n+9] = y[n-3] + w[n+9] is less sure */
    tc_arima_fc_t fa[12], fb[12];
    CHECK_OK(tc_arima_forecast(a, 12, NULL, fa));
    CHECK_OK(tc_arima_forecast(b, 12, NULL, fb));
    CHECK(isfinite(fb[9].mean));
    CHECK(fb[9].var / tc_arima_params(b)->sigma2 > 1.05 * fa[9].var / tc_arima_params(a)->sigma2);
    tc_arima_free(a);
    tc_arima_free(b);
    free(y);
}

TC_TEST(arima_regression_and_drift)
{
    size_t n = 1500;
    double *y = malloc(sizeof(double) * n), *x = malloc(sizeof(double) * n * 2);
    double *u = malloc(sizeof(double) * n);
    sim_sarima(u, n, 0.6, 0.0, 0.0, 0, 0, 17);
    rng_t r = {5};
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = rng_norm(&r);
        x[2 * i + 1] = (i % 7 == 0) ? 1.0 : 0.0; /* a weekly flag */
        y[i] = 2.0 + 3.0 * x[2 * i] - 1.5 * x[2 * i + 1] + u[i];
    }
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = 1;
    s.mean = true;
    s.n_exog = 2;
    tc_arima_t *m = NULL;
    CHECK_INT_EQ(tc_arima_fit(&s, y, NULL, n, NULL, &m), TC_EINVAL); /* x missing */
    CHECK_OK(tc_arima_fit(&s, y, x, n, NULL, &m));
    const tc_arima_params_t *p = tc_arima_params(m);
    /* s.e.: mean ~0.065, slopes ~0.02 and ~0.06 */
    CHECK_NEAR(p->beta[0], 2.0, 0.2);
    CHECK_NEAR(p->beta[1], 3.0, 0.06);
    CHECK_NEAR(p->beta[2], -1.5, 0.2);
    CHECK_NEAR(p->phi[0], 0.6, 0.07);
    /* the forecast uses the future regressors */
    double xf[4] = {1.0, 0.0, -1.0, 1.0};
    tc_arima_fc_t fc[2];
    CHECK_INT_EQ(tc_arima_forecast(m, 2, NULL, fc), TC_EINVAL);
    CHECK_OK(tc_arima_forecast(m, 2, xf, fc));
    double z = y[n - 1] - p->beta[0] - p->beta[1] * x[2 * (n - 1)] - p->beta[2] * x[2 * (n - 1) + 1];
    CHECK_NEAR(fc[0].mean, p->beta[0] + p->beta[1] + p->phi[0] * z, 1e-9);
    CHECK_NEAR(fc[1].mean, p->beta[0] - p->beta[1] + p->beta[2] + p->phi[0] * p->phi[0] * z, 1e-9);
    tc_arima_free(m);
    /* drift: y_t = y_{t-1} + 0.5 + e_t + 0.4 e_{t-1} */
    sim_sarima(u, n, 0.0, 0.4, 0.0, 0, 0, 23);
    double level = 0.0;
    for (size_t i = 0; i < n; i++) {
        level += 0.5 + u[i];
        y[i] = level;
    }
    tc_arima_spec_default(&s);
    s.d = 1;
    s.q = 1;
    s.drift = true;
    CHECK_OK(tc_arima_fit(&s, y, NULL, n, NULL, &m));
    p = tc_arima_params(m);
    CHECK_NEAR(p->beta[0], 0.5, 0.11); /* s.e. ~ 1.4 / sqrt(n) = 0.036 */
    CHECK_NEAR(p->theta[0], 0.4, 0.07);
    tc_arima_fc_t f2[10];
    CHECK_OK(tc_arima_forecast(m, 10, NULL, f2));
    for (int h = 1; h < 10; h++) /* the long-run slope of the forecast is the drift */
        CHECK_NEAR(f2[h].mean - f2[h - 1].mean, p->beta[0], 1e-9);
    tc_arima_free(m);
    free(y);
    free(x);
    free(u);
}

/* Truncated or damaged checkpoints are refused or restore a usable model; never a crash. */
TC_TEST(arima_checkpoint_damaged_bytes)
{
    tc_arima_spec_t s;
    tc_arima_params_t p;
    peers_spec(&s, &p);
    tc_arima_opts_t o = {0};
    o.history = 64;
    tc_arima_t *a = NULL;
    CHECK_OK(tc_arima_new(&s, &p, &o, &a));
    for (int i = 0; i < 100; i++)
        CHECK_OK(tc_arima_update(a, sin(i * 0.26) * 10.0, NULL));
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(tc_arima_save(a, &buf, &len));
    tc_arima_fc_t fc[4];
    int refused = 0;
    for (size_t cut = 0; cut < len; cut += 7) {
        tc_arima_t *b = NULL;
        int rc = tc_arima_load(buf, cut, &b);
        if (rc) {
            refused++;
            continue;
        }
        CHECK_OK(tc_arima_update(b, 1.0, NULL));
        CHECK_OK(tc_arima_forecast(b, 4, NULL, fc));
        tc_arima_free(b);
    }
    CHECK(refused > 0);
    rng_t r = {8};
    uint8_t *dam = malloc(len);
    for (int trial = 0; trial < 200; trial++) {
        memcpy(dam, buf, len);
        for (int k = 0; k < 3; k++)
            dam[(size_t)(rng_unif(&r) * (double)len)] ^= (uint8_t)(1u + (uint32_t)(rng_unif(&r) * 255.0));
        tc_arima_t *b = NULL;
        if (tc_arima_load(dam, len, &b) == 0) {
            tc_arima_update(b, 1.0, NULL);
            tc_arima_forecast(b, 4, NULL, fc);
            tc_arima_free(b);
        }
    }
    free(dam);
    free(buf);
    tc_arima_free(a);
}

/* Box-Cox lambda = 1/2: y = (w/2 + 1)^2, so E[y] = (mu/2 + 1)^2 + sigma2/4 exactly. */
TC_TEST(arima_boxcox_bias_adjusted_mean)
{
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = 1;
    s.lambda = 0.5;
    tc_arima_params_t p;
    memset(&p, 0, sizeof(p));
    p.phi[0] = 0.8;
    p.sigma2 = 0.09;
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_new(&s, &p, NULL, &m));
    CHECK_OK(tc_arima_update(m, 9.0, NULL)); /* w = (3 - 1) / 0.5 = 4 */
    CHECK_INT_EQ(tc_arima_update(m, -1.0, NULL), TC_ERANGE); /* outside the domain: missing */
    tc_arima_fc_t fc[1];
    CHECK_OK(tc_arima_forecast(m, 1, NULL, fc));
    double mu = 0.8 * 0.8 * 4.0, s2 = 0.09 * (1 + 0.64);
    CHECK_NEAR(fc[0].mean, (mu / 2 + 1) * (mu / 2 + 1) + s2 / 4, 1e-12);
    double lo = mu - 1.2815515655446004 * sqrt(s2), hi = mu + 1.2815515655446004 * sqrt(s2);
    CHECK_NEAR(fc[0].lo80, (lo / 2 + 1) * (lo / 2 + 1), 1e-12);
    CHECK_NEAR(fc[0].hi80, (hi / 2 + 1) * (hi / 2 + 1), 1e-12);
    /* delta-method variance: (dy/dw)^2 s2 with dy/dw = w/2 + 1 at the mean */
    CHECK_NEAR(fc[0].var, (mu / 2 + 1) * (mu / 2 + 1) * s2, 1e-12);
    tc_arima_free(m);
}

/* KPSS: a random walk is differenced once, white noise not at all. */
TC_TEST(arima_auto_chooses_differencing)
{
    size_t n = 500;
    double *y = malloc(sizeof(double) * n);
    rng_t r = {31};
    double level = 0.0;
    for (size_t i = 0; i < n; i++) {
        level += rng_norm(&r);
        y[i] = level;
    }
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_auto(y, NULL, n, 0, 0, NAN, NULL, &m));
    CHECK_INT_EQ(tc_arima_spec(m)->d, 1);
    CHECK_INT_EQ(tc_arima_spec(m)->D, 0);
    tc_arima_free(m);
    for (size_t i = 0; i < n; i++)
        y[i] = 5.0 + rng_norm(&r);
    CHECK_OK(tc_arima_auto(y, NULL, n, 0, 0, NAN, NULL, &m));
    CHECK_INT_EQ(tc_arima_spec(m)->d, 0);
    CHECK(tc_arima_spec(m)->mean);
    CHECK_NEAR(tc_arima_params(m)->beta[0], 5.0, 0.2);
    tc_arima_free(m);
    free(y);
}

/* A new series with default parameters and D = 1 is a seasonal random walk. */
TC_TEST(arima_new_series_is_seasonal_naive)
{
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.D = 1;
    s.s = 24;
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_new(&s, NULL, NULL, &m));
    double y[72];
    for (int i = 0; i < 72; i++) {
        y[i] = 1000.0 + 300.0 * sin(i * 2 * M_PI / 24) + i;
        CHECK_OK(tc_arima_update(m, y[i], NULL));
    }
    tc_arima_fc_t fc[30];
    CHECK_OK(tc_arima_forecast(m, 30, NULL, fc));
    for (int h = 0; h < 24; h++) {
        CHECK_NEAR(fc[h].mean, y[48 + h], 1e-6);
        CHECK_NEAR(fc[h].var, 1.0, 1e-6); /* sigma2 = 1 per season ahead */
    }
    CHECK_NEAR(fc[24].mean, y[48], 1e-6);
    CHECK_NEAR(fc[24].var, 2.0, 1e-6);
    tc_arima_free(m);
}
