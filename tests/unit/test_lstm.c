/*
 * Tests of lib/lstm: gradients against finite differences of an independent
 * double-precision implementation, batched against per-series stepping,
 * online learning against seasonal naive, checkpoint round trips, bad input.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "lstm.h"
#include "tests/test.h"

/* ---- helpers: deterministic random numbers ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unif(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static double rng_norm(uint64_t *s)
{
    double u1 = rng_unif(s), u2 = rng_unif(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- an independent double-precision LSTM (libm tanh/exp, scalar loops) ---- */

typedef struct ref {
    int L, H, I;
    size_t off_w[2], off_b[2], off_wy, off_by, np;
} ref_t;

static void ref_layout(ref_t *r, int L, int H, int I)
{
    size_t np = 0;
    r->L = L;
    r->H = H;
    r->I = I;
    for (int l = 0; l < L; l++) {
        int in = l == 0 ? I : H;
        r->off_w[l] = np;
        np += (size_t)4 * H * (in + H);
        r->off_b[l] = np;
        np += 4 * H;
    }
    r->off_wy = np;
    np += 2 * H;
    r->off_by = np;
    np += 2;
    r->np = np;
}

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Runs one sequence of k steps from state0 (L x 2 x H, h then c; NULL =
 * zeros); returns mu and s of the head after the last step. */
static void ref_run(const ref_t *r, const double *p, int k, const float *x, size_t xstride,
                    const float *state0, double *mu, double *s)
{
    int L = r->L, H = r->H;
    double h[2][128], c[2][128], a[512], in[256];
    for (int l = 0; l < L; l++)
        for (int q = 0; q < H; q++) {
            h[l][q] = state0 ? state0[l * 2 * H + q] : 0;
            c[l][q] = state0 ? state0[l * 2 * H + H + q] : 0;
        }
    for (int j = 0; j < k; j++) {
        for (int l = 0; l < L; l++) {
            int nin = l == 0 ? r->I : H;
            for (int q = 0; q < nin; q++) in[q] = l == 0 ? x[j * xstride + q] : h[l - 1][q];
            for (int q = 0; q < H; q++) in[nin + q] = h[l][q];
            const double *w = p + r->off_w[l], *b = p + r->off_b[l];
            for (int g = 0; g < 4 * H; g++) {
                double acc = b[g];
                for (int q = 0; q < nin + H; q++) acc += w[(size_t)g * (nin + H) + q] * in[q];
                a[g] = acc;
            }
            for (int q = 0; q < H; q++) {
                double i = sigm(a[q]), f = sigm(a[H + q]), g = tanh(a[2 * H + q]), o = sigm(a[3 * H + q]);
                c[l][q] = f * c[l][q] + i * g;
                h[l][q] = o * tanh(c[l][q]);
            }
        }
    }
    double m = p[r->off_by], v = p[r->off_by + 1];
    for (int q = 0; q < H; q++) {
        m += p[r->off_wy + q] * h[L - 1][q];
        v += p[r->off_wy + H + q] * h[L - 1][q];
    }
    *mu = m;
    *s = v;
}

/* The mean Gaussian NLL (no constant) over n sequences, as lstm.h states it. */
static double ref_loss(const ref_t *r, const double *p, size_t n, int k, const float *x,
                       const float *state0, const float *z)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double mu, s;
        ref_run(r, p, k, x + i * r->I, n * r->I, state0 ? state0 + i * 2 * r->L * r->H : NULL, &mu, &s);
        double e = z[i] - mu;
        sum += 0.5 * (s + e * e * exp(-s));
    }
    return sum / (double)n;
}

static tc_lstm_config_t small_config(int layers, int hidden, int n_exog)
{
    tc_lstm_config_t c;
    tc_lstm_config_default(&c);
    c.layers = layers;
    c.hidden = hidden;
    c.n_exog = n_exog;
    c.bptt = 5;
    c.max_series = 64;
    c.max_batch = 16;
    c.seed = 7;
    return c;
}

/* Backprop of the library against central differences of the double
 * reference. Float tolerance: the library runs in float with approximate
 * gates (relative error ~2e-7), so its gradient carries ~1e-5 relative noise;
 * the bound is 1e-3 on the relative error of the whole gradient vector and
 * 2e-3 of the largest component on each entry. */
static void gradient_check(tc_test_ctx *tc_t_, int layers, int hidden)
{
    tc_lstm_config_t c = small_config(layers, hidden, 2);
    tc_lstm_t *m = NULL;
    CHECK_OK(tc_lstm_new(&c, &m));
    int I = tc_lstm_n_input(m), k = 5;
    size_t n = 3, np = tc_lstm_n_params(m);
    ref_t r;
    ref_layout(&r, layers, hidden, I);
    CHECK_INT_EQ(r.np, np);
    uint64_t seed = 42;
    float *x = malloc(sizeof(float) * k * n * I), *st = malloc(sizeof(float) * n * 2 * layers * hidden);
    float z[3];
    double *p = malloc(sizeof(double) * np), *gfd = malloc(sizeof(double) * np);
    float *gb = malloc(sizeof(float) * np), *g1 = calloc(np, sizeof(float));
    for (int i = 0; i < k * (int)n * I; i++) x[i] = (float)rng_norm(&seed);
    for (size_t i = 0; i < n * 2 * layers * hidden; i++) st[i] = (float)(0.5 * rng_norm(&seed));
    for (size_t i = 0; i < n; i++) z[i] = (float)rng_norm(&seed);
    /* A head that is not near zero, so that every block gets gradient. */
    float *pw = tc_lstm_params(m);
    for (int q = 0; q < 2 * hidden + 2; q++) pw[r.off_wy + q] = (float)(0.3 * rng_norm(&seed));
    for (size_t i = 0; i < np; i++) p[i] = pw[i];

    double loss = 0;
    CHECK_OK(tc_lstm_window_grad(m, n, k, x, st, z, &loss));
    memcpy(gb, tc_lstm_grad(m), np * sizeof(float));
    double ref = ref_loss(&r, p, n, k, x, st, z);
    CHECK_NEAR(loss, ref, 1e-4 * fabs(ref) + 1e-6);

    const double eps = 1e-5;
    double num = 0, den = 0, gmax = 0;
    for (size_t i = 0; i < np; i++) {
        double keep = p[i];
        p[i] = keep + eps;
        double lp = ref_loss(&r, p, n, k, x, st, z);
        p[i] = keep - eps;
        double lm = ref_loss(&r, p, n, k, x, st, z);
        p[i] = keep;
        gfd[i] = (lp - lm) / (2 * eps);
        if (fabs(gfd[i]) > gmax) gmax = fabs(gfd[i]);
    }
    for (size_t i = 0; i < np; i++) {
        num += (gb[i] - gfd[i]) * (gb[i] - gfd[i]);
        den += gfd[i] * gfd[i];
        CHECK_MSG(fabs(gb[i] - gfd[i]) <= 2e-3 * gmax, "param %zu: backprop %.8g vs finite diff %.8g", i,
                  gb[i], gfd[i]);
    }
    CHECK_MSG(sqrt(num / den) < 1e-3, "relative gradient error %.3g", sqrt(num / den));

    /* The batched gradient is the mean of the per-sequence gradients. */
    for (size_t i = 0; i < n; i++) {
        float xi[5 * 64];
        for (int j = 0; j < k; j++) memcpy(xi + j * I, x + ((size_t)j * n + i) * I, I * sizeof(float));
        CHECK_OK(tc_lstm_window_grad(m, 1, k, xi, st + i * 2 * layers * hidden, z + i, NULL));
        const float *g = tc_lstm_grad(m);
        for (size_t q = 0; q < np; q++) g1[q] += g[q] / (float)n;
    }
    for (size_t q = 0; q < np; q++)
        CHECK_MSG(fabs(g1[q] - gb[q]) <= 1e-5 * gmax + 1e-6 * fabs(gb[q]), "param %zu: batch %.8g vs loop %.8g",
                  q, gb[q], g1[q]);
    free(x);
    free(st);
    free(p);
    free(gfd);
    free(gb);
    free(g1);
    tc_lstm_free(m);
}

TC_TEST(lstm_gradient_check_one_layer) { gradient_check(tc_t_, 1, 16); }

TC_TEST(lstm_gradient_check_two_layers) { gradient_check(tc_t_, 2, 24); }

/* A noisy daily-periodic hourly series: level + daily sine + N(0, sd). */
static double daily_value(int t, double level, double amp, double phase, double sd, uint64_t *rng)
{
    return level + amp * sin(6.283185307179586 * (t / 24.0) + phase) + sd * rng_norm(rng);
}

TC_TEST(lstm_batched_step_equals_per_series_steps)
{
    enum { NS = 8, T = 60 };
    tc_lstm_config_t c = small_config(2, 32, 3);
    tc_lstm_t *batch = NULL, *single[NS] = {0};
    CHECK_OK(tc_lstm_new(&c, &batch));
    for (int i = 0; i < NS; i++) CHECK_OK(tc_lstm_new(&c, &single[i]));
    uint64_t rng = 3;
    int32_t slots[NS];
    for (int i = 0; i < NS; i++) slots[i] = 5 * i + 1;
    const int64_t t0 = 1700000000000LL;
    for (int t = 0; t < T; t++) {
        float y[NS], ex[NS * 3], mb[NS], sb[NS];
        int64_t ts[NS];
        for (int i = 0; i < NS; i++) {
            y[i] = (float)daily_value(t, 100 * (i + 1), 20 * (i + 1), i, 3, &rng);
            ts[i] = t0 + (int64_t)t * 3600000;
            for (int e = 0; e < 3; e++) ex[i * 3 + e] = (float)rng_norm(&rng);
        }
        if (t == 17) y[2] = NAN;
        CHECK_OK(tc_lstm_step(batch, NS, slots, ts, y, ex, false, mb, sb));
        for (int i = 0; i < NS; i++) {
            float ms, ss;
            CHECK_OK(tc_lstm_step(single[i], 1, &slots[i], &ts[i], &y[i], &ex[i * 3], false, &ms, &ss));
            CHECK_NEAR(mb[i], ms, 1e-5 * fabs(ms) + 1e-4);
            CHECK_NEAR(sb[i], ss, 1e-5 * fabs(ss) + 1e-4);
        }
    }
    float fb[NS * 6], sdb[NS * 6];
    CHECK_OK(tc_lstm_forecast(batch, NS, slots, 6, NULL, fb, sdb));
    for (int i = 0; i < NS; i++) {
        float fs[6], ss[6];
        CHECK_OK(tc_lstm_forecast(single[i], 1, &slots[i], 6, NULL, fs, ss));
        for (int h = 0; h < 6; h++) CHECK_NEAR(fb[i * 6 + h], fs[h], 1e-5 * fabs(fs[h]) + 1e-4);
    }
    tc_lstm_free(batch);
    for (int i = 0; i < NS; i++) tc_lstm_free(single[i]);
}

TC_TEST(lstm_online_beats_seasonal_naive)
{
    enum { T = 4000, WARM = 2000 };
    tc_lstm_config_t c;
    tc_lstm_config_default(&c);
    c.max_series = 1;
    c.max_batch = 1;
    c.lr = 3e-3f;
    tc_lstm_t *m = NULL;
    CHECK_OK(tc_lstm_new(&c, &m));
    uint64_t rng = 11;
    static double y[T];
    for (int t = 0; t < T; t++) y[t] = daily_value(t, 500, 100, 0.3, 10, &rng);
    double se_lstm = 0, se_naive = 0, pred = NAN, psd = NAN;
    int cnt = 0, covered = 0;
    int32_t slot = 0;
    for (int t = 0; t < T; t++) {
        if (t >= WARM) {
            se_lstm += (y[t] - pred) * (y[t] - pred);
            se_naive += (y[t] - y[t - 24]) * (y[t] - y[t - 24]);
            covered += fabs(y[t] - pred) <= 1.2815515655446004 * psd;
            cnt++;
        }
        float v = (float)y[t], mu, sd;
        int64_t ts = 1700000000000LL + (int64_t)t * 3600000;
        CHECK_OK(tc_lstm_step(m, 1, &slot, &ts, &v, NULL, true, &mu, &sd));
        CHECK(isfinite(mu) && sd > 0);
        pred = mu;
        psd = sd;
    }
    double rmse_lstm = sqrt(se_lstm / cnt), rmse_naive = sqrt(se_naive / cnt);
    /* Noise sd 10: the best possible RMSE is 10, seasonal naive's is 10 sqrt 2. */
    CHECK_MSG(rmse_lstm < rmse_naive, "LSTM RMSE %.3f vs seasonal naive %.3f", rmse_lstm, rmse_naive);
    /* The 80% interval covers about 80% of the outcomes (2000 of them: a
     * binomial sd of 0.9 points; the band allows for the model's own error). */
    CHECK_MSG(covered > 0.72 * cnt && covered < 0.88 * cnt, "80%% interval coverage %.3f", (double)covered / cnt);
    tc_lstm_free(m);
}

/* Steps model m over NS series for steps [t_from, t_to), returning outputs in mo/so. */
static int drive(tc_lstm_t *m, int t_from, int t_to, float *mo, float *so)
{
    enum { NS = 5 };
    int32_t slots[NS] = {0, 3, 4, 9, 12};
    for (int t = t_from; t < t_to; t++) {
        uint64_t rng = 1000 + (uint64_t)t;
        float y[NS], ex[NS * 2];
        int64_t ts[NS];
        size_t n = t < 30 ? 3 : NS; /* two series appear mid-stream */
        for (int i = 0; i < NS; i++) {
            y[i] = (float)daily_value(t, 50 * (i + 1), 10, i, 2, &rng);
            ts[i] = 1700000000000LL + (int64_t)t * 3600000;
            ex[2 * i] = (float)(t % 7 == 0);
            ex[2 * i + 1] = 0.5f;
        }
        if (t % 13 == 0) y[1] = NAN;
        int rc = tc_lstm_step(m, n, slots, ts, y, ex, true, mo, so);
        if (rc) return rc;
    }
    return 0;
}

TC_TEST(lstm_checkpoint_round_trip_exact)
{
    tc_lstm_config_t c = small_config(2, 16, 2);
    tc_lstm_t *a = NULL, *b = NULL;
    CHECK_OK(tc_lstm_new(&c, &a));
    float ma[5], sa[5], mb[5], sb[5];
    CHECK_OK(drive(a, 0, 50, ma, sa));
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    CHECK_OK(tc_lstm_save(a, &buf, &len));
    CHECK_OK(tc_lstm_load(buf, len, &b));
    CHECK_OK(tc_lstm_save(b, &buf2, &len2));
    CHECK_INT_EQ(len, len2);
    CHECK(memcmp(buf, buf2, len) == 0);
    /* Both continue identically, bit for bit, including training. */
    CHECK_OK(drive(a, 50, 80, ma, sa));
    CHECK_OK(drive(b, 50, 80, mb, sb));
    CHECK(memcmp(ma, mb, sizeof(ma)) == 0);
    CHECK(memcmp(sa, sb, sizeof(sa)) == 0);
    CHECK(memcmp(tc_lstm_params(a), tc_lstm_params(b), tc_lstm_n_params(a) * sizeof(float)) == 0);
    float fa[5 * 24], fsa[5 * 24], fb[5 * 24], fsb[5 * 24];
    int32_t slots[5] = {0, 3, 4, 9, 12};
    CHECK_OK(tc_lstm_forecast(a, 5, slots, 24, NULL, fa, fsa));
    CHECK_OK(tc_lstm_forecast(b, 5, slots, 24, NULL, fb, fsb));
    CHECK(memcmp(fa, fb, sizeof(fa)) == 0);
    /* Damaged and foreign bytes are refused, not trusted. */
    tc_lstm_t *bad = NULL;
    CHECK(tc_lstm_load(buf, len / 2, &bad) != 0);
    CHECK(bad == NULL);
    buf[1] ^= 0x7f;
    int rc = tc_lstm_load(buf, len, &bad);
    if (rc == 0) tc_lstm_free(bad);
    free(buf);
    free(buf2);
    tc_lstm_free(a);
    tc_lstm_free(b);
}

TC_TEST(lstm_bad_input_no_crash)
{
    tc_lstm_config_t c = small_config(1, 16, 1);
    tc_lstm_t *m = NULL;
    CHECK_OK(tc_lstm_new(&c, &m));
    int32_t slots[4] = {0, 1, 2, 3};
    int64_t ts[4];
    float mo[4], so[4];
    for (int t = 0; t < 300; t++) {
        for (int i = 0; i < 4; i++) ts[i] = 1700000000000LL + (int64_t)t * 3600000;
        float y[4];
        y[0] = t < 20 ? NAN : (float)(t % 24); /* missing until t = 20 */
        y[1] = 42.0f;                         /* constant */
        y[2] = (t % 50 == 0) ? INFINITY : (t % 77 == 0 ? 1e30f : (float)t);
        y[3] = 0.0f;                          /* constant zero */
        float ex[4] = {NAN, INFINITY, 1, 0};
        size_t n = t < 100 ? 3 : 4; /* slot 3 appears mid-stream */
        CHECK_OK(tc_lstm_step(m, n, slots, ts, y, ex, true, mo, so));
        if (t < 20) CHECK(isnan(mo[0]));
        else CHECK(isfinite(mo[0]) && isfinite(so[0]));
        CHECK(isfinite(mo[1]) && isfinite(so[1]));
        if (t > 0) CHECK_MSG(isfinite(mo[2]) && isfinite(so[2]), "t=%d %g %g", t, mo[2], so[2]); /* t = 0 is +inf: no value yet */
        if (t > 150) {
            /* A constant series is forecast as that constant (scale floor 1e-3 |mean|, z clamped). */
            CHECK_NEAR(mo[1], 42.0, 0.5);
            CHECK_NEAR(mo[3], 0.0, 1e-3);
        }
    }
    const float *p = tc_lstm_params(m);
    for (size_t i = 0; i < tc_lstm_n_params(m); i++) CHECK(isfinite(p[i]));
    /* Contract violations are refused. */
    int32_t dup[2] = {1, 1}, out[1] = {64};
    float y2[2] = {1, 1};
    CHECK_INT_EQ(tc_lstm_step(m, 2, dup, ts, y2, NULL, true, mo, so), TC_EINVAL);
    CHECK_INT_EQ(tc_lstm_step(m, 1, out, ts, y2, NULL, true, mo, so), TC_EINVAL);
    CHECK_INT_EQ(tc_lstm_step(m, 17, slots, ts, y2, NULL, true, mo, so), TC_EINVAL);
    float f[48], fs[48];
    CHECK_INT_EQ(tc_lstm_forecast(m, 1, slots, 0, NULL, f, fs), TC_EINVAL);
    CHECK_INT_EQ(tc_lstm_forecast(m, 1, slots, 25, NULL, f, fs), TC_EINVAL);
    int32_t fresh = 40;
    CHECK_OK(tc_lstm_forecast(m, 1, &fresh, 24, NULL, f, fs));
    CHECK(isnan(f[0]) && isnan(f[23]));
    CHECK_OK(tc_lstm_series_reset(m, 1));
    CHECK(!tc_lstm_series_active(m, 1));
    tc_lstm_config_t badc = c;
    badc.hidden = 20;
    tc_lstm_t *x = NULL;
    CHECK_INT_EQ(tc_lstm_new(&badc, &x), TC_EINVAL);
    badc = c;
    badc.layers = 3;
    CHECK_INT_EQ(tc_lstm_new(&badc, &x), TC_EINVAL);
    tc_lstm_free(NULL);
    tc_lstm_free(m);
}

TC_TEST(lstm_forecast_is_pure_and_starts_at_the_step_forecast)
{
    tc_lstm_config_t c = small_config(1, 16, 0);
    tc_lstm_t *m = NULL;
    CHECK_OK(tc_lstm_new(&c, &m));
    int32_t slot = 2;
    uint64_t rng = 5;
    float mu = 0, sd = 0;
    for (int t = 0; t < 100; t++) {
        float y = (float)daily_value(t, 10, 3, 0, 0.5, &rng);
        int64_t ts = 1700000000000LL + (int64_t)t * 3600000;
        CHECK_OK(tc_lstm_step(m, 1, &slot, &ts, &y, NULL, true, &mu, &sd));
    }
    float f1[24], s1[24], f2[24], s2[24];
    CHECK_OK(tc_lstm_forecast(m, 1, &slot, 24, NULL, f1, s1));
    CHECK_OK(tc_lstm_forecast(m, 1, &slot, 24, NULL, f2, s2));
    CHECK(f1[0] == mu && s1[0] == sd);
    CHECK(memcmp(f1, f2, sizeof(f1)) == 0);
    for (int h = 0; h < 24; h++) CHECK(isfinite(f1[h]) && s1[h] > 0);
    tc_lstm_free(m);
}

/* Padding of short windows in a batch: a series that appeared mid-stream
 * (window of 2 inputs) trained beside one with a full window gives the mean
 * of the gradients each gets when trained alone (weights frozen, lr = 0). */
TC_TEST(lstm_batch_gradient_with_short_windows_equals_separate)
{
    tc_lstm_config_t c = small_config(2, 16, 1);
    c.lr = 0;
    tc_lstm_t *a = NULL, *b1 = NULL, *b2 = NULL;
    CHECK_OK(tc_lstm_new(&c, &a));
    CHECK_OK(tc_lstm_new(&c, &b1));
    CHECK_OK(tc_lstm_new(&c, &b2));
    int32_t s1 = 0, s2 = 1, both[2] = {0, 1};
    uint64_t rng = 77;
    const int64_t t0 = 1700000000000LL;
    for (int t = 0; t < 23; t++) {
        int64_t ts[2] = {t0 + (int64_t)t * 3600000, t0 + (int64_t)t * 3600000};
        float y[2] = {(float)daily_value(t, 30, 5, 0, 1, &rng), (float)daily_value(t, 80, 9, 1, 2, &rng)};
        float ex[2] = {(float)(t % 3), 0.5f};
        if (t < 20) {
            CHECK_OK(tc_lstm_step(a, 1, &s1, ts, y, ex, true, NULL, NULL));
            CHECK_OK(tc_lstm_step(b1, 1, &s1, ts, y, ex, true, NULL, NULL));
            continue;
        }
        CHECK_OK(tc_lstm_step(a, 2, both, ts, y, ex, true, NULL, NULL));
        CHECK_OK(tc_lstm_step(b1, 1, &s1, ts, y, ex, true, NULL, NULL));
        CHECK_OK(tc_lstm_step(b2, 1, &s2, ts + 1, y + 1, ex + 1, true, NULL, NULL));
    }
    size_t np = tc_lstm_n_params(a);
    const float *ga = tc_lstm_grad(a), *g1 = tc_lstm_grad(b1), *g2 = tc_lstm_grad(b2);
    double gmax = 0, nz2 = 0;
    for (size_t i = 0; i < np; i++) {
        gmax = fmax(gmax, fabs(ga[i]));
        nz2 += (double)g2[i] * g2[i];
    }
    CHECK(gmax > 0 && nz2 > 0); /* both series produced a training signal */
    for (size_t i = 0; i < np; i++)
        CHECK_MSG(fabs(ga[i] - 0.5 * (g1[i] + g2[i])) <= 1e-5 * gmax, "param %zu: batch %.8g vs mean %.8g", i,
                  ga[i], 0.5 * (g1[i] + g2[i]));
    CHECK(memcmp(tc_lstm_params(a), tc_lstm_params(b1), np * sizeof(float)) == 0); /* lr 0 froze them */
    tc_lstm_free(a);
    tc_lstm_free(b1);
    tc_lstm_free(b2);
}
