/*
 * arima_auto.c - automatic SARIMA orders, after Hyndman & Khandakar (2008),
 * "Automatic time series forecasting: the forecast package for R".
 *
 * 1. D: seasonal strength of an additive decomposition (centred moving
 *    average trend of order s, or 2 x s for even s; seasonal = mean
 *    detrended value per season position, centred; remainder the rest),
 *    F_s = max(0, 1 - Var(R) / Var(S + R)) (Wang, Smith & Hyndman 2006);
 *    D = 1 when F_s > 0.64, as forecast::nsdiffs does by default.
 * 2. d: KPSS level-stationarity test (Kwiatkowski et al. 1992) on the
 *    seasonally differenced series, eta = sum S_t^2 / (n^2 s^2) with the
 *    Bartlett long-run variance s^2 at lag trunc(4 (n/100)^(1/4)); difference
 *    while eta > 0.463 (5%), d <= 2.
 * 3. Stepwise search over (p, q, P, Q), p, q <= 5, P, Q <= 1, with a constant
 *    when d + D = 0: start from (2,2)(1,1), (0,0)(0,0), (1,0)(1,0), (0,1)(0,1),
 *    then move to the best neighbour (one order +-1, or p and q together, or
 *    P and Q together) while the AICc improves.  Candidates are scored by
 *    the conditional-sum-of-squares likelihood with every model conditioned
 *    on the same first observations (so that their AICc compare), as
 *    auto.arima's `approximation` does for long or seasonal series; the chosen
 *    model is refitted by exact ML (falling back to the next best on failure).
 * 4. The search stops when the time budget is spent and keeps the best so far.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arima_impl.h"
#include "error.h"

#define MAX_PQ 5
#define MAX_SPQ 1
#define MAX_CAND 128

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* KPSS level statistic of the finite values of y. */
static double kpss_stat(const double *y, size_t n)
{
    double mean = 0.0;
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i])) {
            mean += y[i];
            c++;
        }
    if (c < 10)
        return 0.0;
    mean /= (double)c;
    double S = 0.0, eta = 0.0, g0 = 0.0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i])) {
            double e = y[i] - mean;
            S += e;
            eta += S * S;
            g0 += e * e;
        }
    size_t L = (size_t)trunc(4.0 * pow((double)c / 100.0, 0.25));
    double s2 = g0;
    for (size_t l = 1; l <= L; l++) {
        double gl = 0.0;
        for (size_t i = l; i < n; i++)
            if (!isnan(y[i]) && !isnan(y[i - l]))
                gl += (y[i] - mean) * (y[i - l] - mean);
        s2 += 2.0 * (1.0 - (double)l / (double)(L + 1)) * gl;
    }
    s2 /= (double)c;
    if (!(s2 > 0.0))
        return 0.0;
    return eta / ((double)c * (double)c * s2);
}

/* Seasonal strength F_s (0 when it cannot be computed). */
static double seasonal_strength(const double *y, size_t n, int s, double *work)
{
    if (s <= 1 || n < 2 * (size_t)s + 1)
        return 0.0;
    double *trend = work, *seas = work + n;
    size_t h = (size_t)s / 2;
    for (size_t t = 0; t < n; t++) {
        trend[t] = NAN;
        if (t < h || t + h >= n)
            continue;
        double v = 0.0;
        bool ok = true;
        if (s % 2 == 0) {
            v = 0.5 * (y[t - h] + y[t + h]);
            for (size_t j = t - h + 1; j < t + h; j++)
                v += y[j];
        } else {
            for (size_t j = t - h; j <= t + h; j++)
                v += y[j];
        }
        ok = isfinite(v);
        trend[t] = ok ? v / (double)s : NAN;
    }
    double sum[1024] = {0};
    size_t cnt[1024] = {0};
    if (s > 1024)
        return 0.0;
    for (size_t t = 0; t < n; t++) {
        double d = y[t] - trend[t];
        if (isfinite(d)) {
            sum[t % (size_t)s] += d;
            cnt[t % (size_t)s]++;
        }
    }
    double mean_s = 0.0;
    for (int j = 0; j < s; j++) {
        seas[j] = cnt[j] ? sum[j] / (double)cnt[j] : 0.0;
        mean_s += seas[j];
    }
    mean_s /= s;
    double mr = 0.0, mr2 = 0.0, msr = 0.0, msr2 = 0.0;
    size_t c = 0;
    for (size_t t = 0; t < n; t++) {
        double d = y[t] - trend[t];
        if (!isfinite(d))
            continue;
        double S = seas[t % (size_t)s] - mean_s, R = d - S;
        mr += R;
        mr2 += R * R;
        msr += S + R;
        msr2 += (S + R) * (S + R);
        c++;
    }
    if (c < 3)
        return 0.0;
    double vr = mr2 / c - (mr / c) * (mr / c), vsr = msr2 / c - (msr / c) * (msr / c);
    if (!(vsr > 0.0))
        return 0.0;
    double f = 1.0 - vr / vsr;
    return f > 0.0 ? f : 0.0;
}

/* out[t] = y[t] - y[t-lag] (NaN for t < lag). */
static void difference(const double *y, size_t n, size_t lag, double *out)
{
    for (size_t t = n; t-- > 0;)
        out[t] = t >= lag ? y[t] - y[t - lag] : NAN;
}

typedef struct cand {
    int p, q, P, Q;
    double aicc;
    int rc;
} cand_t;

int tc_arima_auto(const double *y, const double *x, size_t n, int n_exog, int s, double lambda,
                  const tc_arima_opts_t *opts, tc_arima_t **out)
{
    if (!y || !out || n_exog < 0 || n_exog > TC_ARIMA_MAX_EXOG || (n_exog > 0 && !x))
        return TC_EINVAL;
    if (s <= 1)
        s = 0;
    tc_arima_opts_t o;
    memset(&o, 0, sizeof(o));
    if (opts)
        o = *opts;
    double budget = o.time_budget > 0.0 ? o.time_budget : 30.0;
    double t_start = now_s();
    int rc = 0;
    double *ys = malloc(sizeof(double) * n * 4);
    cand_t *cands = malloc(sizeof(cand_t) * MAX_CAND);
    if (!ys || !cands) {
        rc = TC_ENOMEM;
        goto done;
    }
    double *w1 = ys + n, *w2 = ys + 2 * n;
    size_t nfin = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(lambda))
            ys[i] = y[i];
        else if (!isnan(y[i]) && !(y[i] > 0.0)) {
            rc = TC_ERANGE;
            goto done;
        } else
            ys[i] = lambda == 0.0 ? log(y[i]) : (pow(y[i], lambda) - 1.0) / lambda;
        nfin += !isnan(ys[i]);
    }
    if (nfin < 8) {
        rc = TC_ETOOFEW;
        goto done;
    }
    /* D by seasonal strength (missing values carried forward for the decomposition) */
    int D = 0;
    if (s > 1 && n >= 3 * (size_t)s) {
        double last = NAN;
        for (size_t i = 0; i < n; i++) {
            w1[i] = isnan(ys[i]) ? last : ys[i];
            last = w1[i];
        }
        size_t first = 0;
        while (first < n && isnan(w1[first]))
            first++;
        D = seasonal_strength(w1 + first, n - first, s, w2) > 0.64 ? 1 : 0;
    }
    /* d by KPSS */
    memcpy(w1, ys, sizeof(double) * n);
    if (D)
        difference(ys, n, (size_t)s, w1);
    int d = 0;
    while (d < 2 && kpss_stat(w1, n) > 0.463) {
        difference(w1, n, 1, w2);
        memcpy(w1, w2, sizeof(double) * n);
        d++;
    }
    tc_arima_spec_t base;
    tc_arima_spec_default(&base);
    base.d = d;
    base.D = D;
    base.s = s;
    base.n_exog = n_exog;
    base.lambda = lambda;
    base.mean = d + D == 0;
    int maxP = s > 1 ? MAX_SPQ : 0;
    size_t cond = (size_t)(d + D * s + MAX_PQ + maxP * s);
    if (cond + 20 > n)
        cond = (size_t)(d + D * s);
    int nc = 0, best = -1;
    double uwork[2 * TC_ARIMA_MAX_ORDER + 2 * TC_ARIMA_MAX_SORDER + TC_ARIMA_MAX_REG];
    /* evaluates one candidate unless already seen; returns its index */
#define TRY(pp, qq, PP, QQ)                                                              \
    do {                                                                                 \
        int p_ = (pp), q_ = (qq), P_ = (PP), Q_ = (QQ);                                  \
        if (p_ < 0 || q_ < 0 || P_ < 0 || Q_ < 0 || p_ > MAX_PQ || q_ > MAX_PQ ||        \
            P_ > maxP || Q_ > maxP || nc >= MAX_CAND)                                    \
            break;                                                                       \
        bool seen_ = false;                                                              \
        for (int i_ = 0; i_ < nc; i_++)                                                  \
            seen_ |= cands[i_].p == p_ && cands[i_].q == q_ && cands[i_].P == P_ &&      \
                     cands[i_].Q == Q_;                                                  \
        if (seen_ || now_s() - t_start > budget)                                         \
            break;                                                                       \
        tc_arima_spec_t sp_ = base;                                                      \
        sp_.p = p_;                                                                      \
        sp_.q = q_;                                                                      \
        sp_.P = P_;                                                                      \
        sp_.Q = Q_;                                                                      \
        cand_t *c_ = &cands[nc++];                                                       \
        c_->p = p_;                                                                      \
        c_->q = q_;                                                                      \
        c_->P = P_;                                                                      \
        c_->Q = Q_;                                                                      \
        c_->rc = tc__arima_css_score(&sp_, y, x, n, cond, 100, &c_->aicc, uwork);        \
        if (c_->rc || !isfinite(c_->aicc))                                               \
            c_->aicc = INFINITY;                                                         \
        if (best < 0 || c_->aicc < cands[best].aicc)                                     \
            best = nc - 1;                                                               \
    } while (0)

    TRY(2, 2, maxP, maxP);
    TRY(0, 0, 0, 0);
    TRY(1, 0, maxP, 0);
    TRY(0, 1, 0, maxP);
    for (;;) {
        int cur = best;
        if (cur < 0 || !isfinite(cands[cur].aicc))
            break;
        cand_t b = cands[cur];
        static const int moves[][4] = {{1, 0, 0, 0},  {-1, 0, 0, 0}, {0, 1, 0, 0},  {0, -1, 0, 0},
                                       {0, 0, 1, 0},  {0, 0, -1, 0}, {0, 0, 0, 1},  {0, 0, 0, -1},
                                       {1, 1, 0, 0},  {-1, -1, 0, 0}, {0, 0, 1, 1}, {0, 0, -1, -1}};
        for (size_t mv = 0; mv < sizeof(moves) / sizeof(moves[0]); mv++)
            TRY(b.p + moves[mv][0], b.q + moves[mv][1], b.P + moves[mv][2], b.Q + moves[mv][3]);
        if (best == cur || now_s() - t_start > budget)
            break;
    }
#undef TRY
    if (best < 0) {
        rc = TC_ETOOFEW;
        goto done;
    }
    /* refit the best by exact ML; on failure the next best */
    rc = TC_ENOCONVERGE;
    for (int attempt = 0; attempt < 3; attempt++) {
        int bi = -1;
        for (int i = 0; i < nc; i++)
            if (isfinite(cands[i].aicc) && (bi < 0 || cands[i].aicc < cands[bi].aicc))
                bi = i;
        if (bi < 0) {
            for (int i = 0; i < nc; i++)
                if (cands[i].rc)
                    rc = cands[i].rc;
            break;
        }
        tc_arima_spec_t sp = base;
        sp.p = cands[bi].p;
        sp.q = cands[bi].q;
        sp.P = cands[bi].P;
        sp.Q = cands[bi].Q;
        rc = tc__arima_fit_spec(&sp, y, x, n, 0, opts, NULL, out);
        if (rc == 0) {
            (*out)->info.models_tried = nc;
            break;
        }
        cands[bi].aicc = INFINITY;
    }
done:
    free(ys);
    free(cands);
    return rc;
}
