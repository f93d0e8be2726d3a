/*
 * arima.c - regression with seasonal ARIMA errors: state space, Kalman
 * filter, exact likelihood, estimation, forecasts, online updates.
 *
 * State space (Harvey 1989; the form of R's arima, Gardner, Harvey &
 * Phillips 1980, and Durbin & Koopman 2012, sec. 3.4).  With the expanded
 * polynomials ar(B) = phi(B) Phi(B^s) = 1 - sum ar_i B^i (order p') and
 * ma(B) = theta(B) Theta(B^s) = 1 + sum ma_j B^j (order q'), r = max(p',
 * q'+1), the differenced series w_t = alpha_t[0] with
 *     alpha_{t+1}[i] = ar_{i+1} alpha_t[0] + alpha_t[i+1] + ma_i eps_{t+1}
 * (ma_0 = 1).  Differencing (1-B)^d (1-B^s)^D = 1 - sum delta_i B^i adds nd =
 * d + sD states holding y_{t-1}, ..., y_{t-nd}:
 *     y_t = alpha_t[0] + sum delta_i y_{t-i},   Z = (1, 0, ..., 0, delta).
 * Kalman filter with P in units of sigma2 (no measurement noise):
 *     v = y - Z a,  F = Z P Z',  K = P Z' / F,
 *     a <- T (a + K v),  P <- T (P - K K' F) T' + R R'.
 * T is applied by its sparsity (companion + shift), so one update costs
 * O(M^2) and, once P stops changing (relative change < tol), the gain is
 * frozen: a <- T (a + K v) is O(M).  A missing y skips the measurement part.
 *
 * Exact likelihood: the filter above on the differenced series alone (nd =
 * 0), alpha_1 ~ N(0, sigma2 P0) with P0 = T P0 T' + R R' (solved by the
 * doubling algorithm), sigma2 concentrated out:
 *     sigma2 = (1/n) sum v_t^2 / F_t,
 *     log L = -n/2 (log(2 pi sigma2) + 1) - 1/2 sum log F_t.
 * This is the likelihood of the differenced data that R's arima reports.
 *
 * Estimation: stationarity and invertibility by the partial-autocorrelation
 * reparametrisation of Jones (1980) and Monahan (1984), pacf = tanh(u),
 * coefficients by the Durbin-Levinson recursion, applied separately to each
 * of phi, theta, Phi, Theta (theta from the AR map with the sign flipped).
 * Starting values minimise the conditional sum of squares (Box & Jenkins),
 * regression coefficients start at OLS on the differenced data; both stages
 * use L-BFGS (lib/optim) with forward-difference gradients.
 *
 * Online state after a fit: the ARMA block from the filter on the
 * differenced data, the nd lags set to the last observations (known, zero
 * variance), so the augmented filter continues exactly.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arima_impl.h"
#include "error.h"
#include "optim.h"

#define KAPPA 1e6 /* prior variance of unknown differencing states, sigma2 units */

/* ---------- polynomials and parameter maps ---------- */

/* Orders of the expanded polynomials. */
static int spec_pprime(const tc_arima_spec_t *s) { return s->p + (s->s > 1 ? s->s * s->P : 0); }
static int spec_qprime(const tc_arima_spec_t *s) { return s->q + (s->s > 1 ? s->s * s->Q : 0); }
static int spec_nd(const tc_arima_spec_t *s) { return s->d + (s->s > 1 ? s->s * s->D : 0); }
static int spec_r(const tc_arima_spec_t *s)
{
    int pp = spec_pprime(s), qq = spec_qprime(s) + 1;
    return pp > qq ? pp : qq;
}
static int spec_nreg(const tc_arima_spec_t *s) { return (s->mean ? 1 : 0) + (s->drift ? 1 : 0) + s->n_exog; }
static int spec_narma(const tc_arima_spec_t *s)
{
    return s->p + s->q + (s->s > 1 ? s->P + s->Q : 0);
}

static int spec_check(const tc_arima_spec_t *s)
{
    if (s->p < 0 || s->q < 0 || s->d < 0 || s->P < 0 || s->Q < 0 || s->D < 0 ||
        s->n_exog < 0)
        return TC_EINVAL;
    if (s->p > TC_ARIMA_MAX_ORDER || s->q > TC_ARIMA_MAX_ORDER || s->d > 2 ||
        s->n_exog > TC_ARIMA_MAX_EXOG)
        return TC_EINVAL;
    if (s->s > 1 && (s->P > TC_ARIMA_MAX_SORDER || s->Q > TC_ARIMA_MAX_SORDER || s->D > 1))
        return TC_EINVAL;
    if (s->s < 0)
        return TC_EINVAL;
    int dd = s->d + (s->s > 1 ? s->D : 0);
    if (s->mean && dd != 0)
        return TC_EINVAL;
    if (s->drift && dd > 1)
        return TC_EINVAL;
    if (spec_r(s) + spec_nd(s) > TC_ARIMA_MAX_STATE)
        return TC_EINVAL;
    if (!isnan(s->lambda) && (s->lambda < -1.0 || s->lambda > 2.0))
        return TC_EINVAL;
    return 0;
}

/* out[0..na+nb] = a * b for coefficient arrays with a[0] = b[0] = 1. */
static void poly_mul(const double *a, int na, const double *b, int nb, double *out)
{
    for (int i = 0; i <= na + nb; i++)
        out[i] = 0.0;
    for (int i = 0; i <= na; i++)
        if (a[i] != 0.0)
            for (int j = 0; j <= nb; j++)
                out[i + j] += a[i] * b[j];
}

/*
 * Expands phi(B) Phi(B^s) into ar[0..r-1] (ar[i] multiplies lag i+1) and
 * theta(B) Theta(B^s) into R[0..r-1] = (1, ma_1, ...).  work: 4 * (r + 1).
 */
static void expand(const tc_arima_spec_t *s, const tc_arima_params_t *par, int r,
                   double *ar, double *R, double *work)
{
    int S = s->s > 1 ? s->s : 0;
    int P = S ? s->P : 0, Q = S ? s->Q : 0;
    double *a = work, *b = work + (r + 1), *c = work + 2 * (r + 1);
    /* AR side: (1 - sum phi B^i)(1 - sum Phi B^{si}) */
    memset(work, 0, sizeof(*work) * 4 * (size_t)(r + 1));
    a[0] = 1.0;
    for (int i = 0; i < s->p; i++)
        a[i + 1] = -par->phi[i];
    b[0] = 1.0;
    for (int j = 0; j < P; j++)
        b[S * (j + 1)] = -par->sphi[j];
    poly_mul(a, s->p, b, S * P, c);
    for (int i = 0; i < r; i++)
        ar[i] = i + 1 <= s->p + S * P ? -c[i + 1] : 0.0;
    /* MA side: (1 + sum theta B^i)(1 + sum Theta B^{si}) */
    memset(work, 0, sizeof(*work) * 4 * (size_t)(r + 1));
    a[0] = 1.0;
    for (int i = 0; i < s->q; i++)
        a[i + 1] = par->theta[i];
    b[0] = 1.0;
    for (int j = 0; j < Q; j++)
        b[S * (j + 1)] = par->stheta[j];
    poly_mul(a, s->q, b, S * Q, c);
    for (int i = 0; i < r; i++)
        R[i] = i <= s->q + S * Q ? c[i] : 0.0;
}

/* Differencing polynomial: delta[0..nd-1], y_t = w_t + sum delta[i] y_{t-1-i}. */
static void diff_poly(const tc_arima_spec_t *s, double *delta, double *work)
{
    int nd = spec_nd(s);
    int S = s->s > 1 ? s->s : 0;
    double *c = work, *t = work + nd + 1, *f = work + 2 * (nd + 1);
    int deg = 0;
    memset(work, 0, sizeof(*work) * 3 * (size_t)(nd + 1));
    c[0] = 1.0;
    for (int k = 0; k < s->d; k++) {
        memset(f, 0, sizeof(*f) * (size_t)(nd + 1));
        f[0] = 1.0;
        f[1] = -1.0;
        poly_mul(c, deg, f, 1, t);
        deg += 1;
        memcpy(c, t, sizeof(*c) * (size_t)(deg + 1));
    }
    for (int k = 0; S && k < s->D; k++) {
        memset(f, 0, sizeof(*f) * (size_t)(nd + 1));
        f[0] = 1.0;
        f[S] = -1.0;
        poly_mul(c, deg, f, S, t);
        deg += S;
        memcpy(c, t, sizeof(*c) * (size_t)(deg + 1));
    }
    for (int i = 0; i < nd; i++)
        delta[i] = -c[i + 1];
}

/*
 * Jones (1980): partial autocorrelations pacf[0..k-1] in (-1, 1) to the
 * coefficients of a stationary AR(k) by Durbin-Levinson.  work: k.
 */
static void pacf_to_ar(const double *pacf, int k, double *coef, double *work)
{
    for (int j = 0; j < k; j++) {
        double rj = pacf[j];
        for (int i = 0; i < j; i++)
            work[i] = coef[i] - rj * coef[j - 1 - i];
        for (int i = 0; i < j; i++)
            coef[i] = work[i];
        coef[j] = rj;
    }
}

/* Inverse of pacf_to_ar (step-down); returns false if not stationary. */
static bool ar_to_pacf(const double *coef, int k, double *pacf, double *work)
{
    double *c = work, *t = work + k;
    for (int i = 0; i < k; i++)
        c[i] = coef[i];
    for (int j = k - 1; j >= 0; j--) {
        double rj = c[j];
        if (!(fabs(rj) < 1.0))
            return false;
        pacf[j] = rj;
        double den = 1.0 - rj * rj;
        for (int i = 0; i < j; i++)
            t[i] = (c[i] + rj * c[j - 1 - i]) / den;
        for (int i = 0; i < j; i++)
            c[i] = t[i];
    }
    return true;
}

/* Keeps tanh away from exactly +-1 so that the filter stays finite. */
static double bounded_tanh(double u)
{
    double v = tanh(u);
    const double lim = 1.0 - 1e-8;
    return v > lim ? lim : v < -lim ? -lim : v;
}

/* Unconstrained u (ARMA part, order phi, theta, Phi, Theta) to params. */
static void u_to_params(const tc_arima_spec_t *s, const double *u, tc_arima_params_t *par)
{
    double pacf[TC_ARIMA_MAX_ORDER], work[TC_ARIMA_MAX_ORDER];
    int k = 0;
    int P = s->s > 1 ? s->P : 0, Q = s->s > 1 ? s->Q : 0;
    for (int i = 0; i < s->p; i++)
        pacf[i] = bounded_tanh(u[k++]);
    pacf_to_ar(pacf, s->p, par->phi, work);
    for (int i = 0; i < s->q; i++)
        pacf[i] = bounded_tanh(u[k++]);
    pacf_to_ar(pacf, s->q, par->theta, work);
    for (int i = 0; i < s->q; i++)
        par->theta[i] = -par->theta[i];
    for (int i = 0; i < P; i++)
        pacf[i] = bounded_tanh(u[k++]);
    pacf_to_ar(pacf, P, par->sphi, work);
    for (int i = 0; i < Q; i++)
        pacf[i] = bounded_tanh(u[k++]);
    pacf_to_ar(pacf, Q, par->stheta, work);
    for (int i = 0; i < Q; i++)
        par->stheta[i] = -par->stheta[i];
}

/* Inverse map; false if some block is not stationary/invertible. */
static bool params_to_u(const tc_arima_spec_t *s, const tc_arima_params_t *par, double *u)
{
    double pacf[TC_ARIMA_MAX_ORDER] = {0}, c[TC_ARIMA_MAX_ORDER] = {0}, work[2 * TC_ARIMA_MAX_ORDER];
    int k = 0;
    int P = s->s > 1 ? s->P : 0, Q = s->s > 1 ? s->Q : 0;
    if (!ar_to_pacf(par->phi, s->p, pacf, work))
        return false;
    for (int i = 0; i < s->p; i++)
        u[k++] = atanh(pacf[i]);
    for (int i = 0; i < s->q; i++)
        c[i] = -par->theta[i];
    if (!ar_to_pacf(c, s->q, pacf, work))
        return false;
    for (int i = 0; i < s->q; i++)
        u[k++] = atanh(pacf[i]);
    if (!ar_to_pacf(par->sphi, P, pacf, work))
        return false;
    for (int i = 0; i < P; i++)
        u[k++] = atanh(pacf[i]);
    for (int i = 0; i < Q; i++)
        c[i] = -par->stheta[i];
    if (!ar_to_pacf(c, Q, pacf, work))
        return false;
    for (int i = 0; i < Q; i++)
        u[k++] = atanh(pacf[i]);
    return true;
}

/* ---------- Box-Cox ---------- */

static bool has_transform(const tc_arima_spec_t *s) { return !isnan(s->lambda); }

/* Transformed value, NaN if y is outside the domain. */
static double boxcox(double lambda, double y)
{
    if (isnan(lambda))
        return y;
    if (!(y > 0.0))
        return NAN;
    if (lambda == 0.0)
        return log(y);
    return (pow(y, lambda) - 1.0) / lambda;
}

static double inv_boxcox(double lambda, double w)
{
    if (isnan(lambda))
        return w;
    if (lambda == 0.0)
        return exp(w);
    double b = lambda * w + 1.0;
    return b > 0.0 ? pow(b, 1.0 / lambda) : 0.0;
}

/* ---------- Kalman filter ---------- */

static void kf_deinit(kf_t *k)
{
    free(k->ar);
    memset(k, 0, sizeof(*k));
}

/* One block holds every array; r and nd fixed for the filter's life. */
static int kf_init(kf_t *k, int r, int nd, double tol)
{
    memset(k, 0, sizeof(*k));
    int M = r + nd;
    size_t nv = (size_t)r * 2 + (size_t)nd + (size_t)M * 4 + 2 + (size_t)M * M * 3;
    size_t ni = (size_t)r + (size_t)nd + 2;
    double *blk = calloc(nv + (ni * sizeof(int) + sizeof(double) - 1) / sizeof(double), sizeof(double));
    if (!blk)
        return TC_ENOMEM;
    k->r = r;
    k->nd = nd;
    k->M = M;
    k->ar = blk;
    k->R = k->ar + r;
    k->delta = k->R + r;
    k->a = k->delta + nd;
    k->PZ = k->a + M;
    k->tmp = k->PZ + M + 1; /* PZ, tmp: M + 1 (zero pad) */
    k->K = k->tmp + M + 1;
    k->P = k->K + M;
    k->P2 = k->P + (size_t)M * M;
    k->W = k->P2 + (size_t)M * M;
    k->arnz = (int *)(k->W + (size_t)M * M);
    k->dnz = k->arnz + r;
    k->tol = tol;
    return 0;
}

static void kf_index(kf_t *k)
{
    k->narnz = 0;
    for (int i = 0; i < k->r; i++)
        if (k->ar[i] != 0.0)
            k->arnz[k->narnz++] = i;
    k->ndnz = 0;
    for (int i = 0; i < k->nd; i++)
        if (k->delta[i] != 0.0)
            k->dnz[k->ndnz++] = i;
}

/* out = T x (out != x). */
static void kf_T(const kf_t *k, const double *x, double *out)
{
    int r = k->r, nd = k->nd;
    double x0 = x[0];
    for (int i = 0; i < r - 1; i++)
        out[i] = x[i + 1];
    out[r - 1] = 0.0;
    for (int j = 0; j < k->narnz; j++)
        out[k->arnz[j]] += k->ar[k->arnz[j]] * x0;
    if (nd > 0) {
        double s = x0;
        for (int j = 0; j < k->ndnz; j++)
            s += k->delta[k->dnz[j]] * x[r + k->dnz[j]];
        out[r] = s;
        for (int i = 1; i < nd; i++)
            out[r + i] = x[r + i - 1];
    }
}

/* Z x */
static double kf_Z(const kf_t *k, const double *x)
{
    double s = x[0];
    for (int j = 0; j < k->ndnz; j++)
        s += k->delta[k->dnz[j]] * x[k->r + k->dnz[j]];
    return s;
}

/* dst = T src T' + R R' for M x M row-major matrices; dst may be src, W distinct. */
static void kf_TPT(const kf_t *k, const double *src, double *dst, double *W)
{
    int M = k->M, r = k->r, nd = k->nd;
    size_t rowb = sizeof(double) * (size_t)M;
    /* W = T src, by rows */
    for (int i = 0; i < r - 1; i++)
        memcpy(W + (size_t)i * M, src + (size_t)(i + 1) * M, rowb);
    memset(W + (size_t)(r - 1) * M, 0, rowb);
    for (int j = 0; j < k->narnz; j++) {
        int i = k->arnz[j];
        double c = k->ar[i];
        double *wr = W + (size_t)i * M;
        for (int c2 = 0; c2 < M; c2++)
            wr[c2] += c * src[c2];
    }
    if (nd > 0) {
        double *wr = W + (size_t)r * M;
        memcpy(wr, src, rowb);
        for (int j = 0; j < k->ndnz; j++) {
            double c = k->delta[k->dnz[j]];
            const double *sr = src + (size_t)(r + k->dnz[j]) * M;
            for (int c2 = 0; c2 < M; c2++)
                wr[c2] += c * sr[c2];
        }
        for (int i = 1; i < nd; i++)
            memcpy(W + (size_t)(r + i) * M, src + (size_t)(r + i - 1) * M, rowb);
    }
    /* dst = W T' : row i of dst is T applied to row i of W */
    for (int i = 0; i < M; i++)
        kf_T(k, W + (size_t)i * M, dst + (size_t)i * M);
    for (int i = 0; i < r; i++) {
        double ri = k->R[i];
        if (ri == 0.0)
            continue;
        double *dr = dst + (size_t)i * M;
        for (int j = 0; j < r; j++)
            dr[j] += ri * k->R[j];
    }
}

/* Gain vector PZ = P Z' and F = Z P Z'. */
static double kf_PZ(const kf_t *k, const double *P, double *PZ)
{
    int M = k->M, r = k->r;
    for (int i = 0; i < M; i++) {
        const double *pr = P + (size_t)i * M;
        double s = pr[0];
        for (int j = 0; j < k->ndnz; j++)
            s += k->delta[k->dnz[j]] * pr[r + k->dnz[j]];
        PZ[i] = s;
    }
    return kf_Z(k, PZ);
}

/*
 * Freezes the gain once P has stopped changing: K = P Z' / F from pz = P Z'
 * and f = F, after which a step costs O(M).  A non-positive F (a degenerate
 * covariance) leaves the full recursion running.
 */
static void kf_freeze(kf_t *k, const double *pz, double f)
{
    if (!(f > 0.0))
        return;
    for (int i = 0; i < k->M; i++)
        k->K[i] = pz[i] / f;
    k->F = f;
    k->steady = true;
}

/*
 * The step of kf_step for a pure ARMA state (nd = 0), the hot loop of the
 * likelihood.  T U T' + R R' with U = P - P Z' Z P / F is written out
 * element-wise (T = companion), so one fused pass over the upper triangle
 * replaces the two matrix products:
 *   P'[i][j] = U[i+1][j+1] + ar_i U[0][j+1] + ar_j U[0][i+1] + ar_i ar_j U[0][0] + R_i R_j.
 */
static bool kf_step_arma(kf_t *k, double y, double *v, double *F)
{
    int r = k->r;
    double *P = k->P, *Pn = k->P2, *g = k->PZ, *u0 = k->tmp;
    const double *ar = k->ar, *R = k->R;
    bool obs = !isnan(y);
    double f = P[0];
    double cscale = 0.0;
    if (obs) {
        if (!(f > 0.0))
            f = DBL_MIN;
        double vv = y - k->a[0];
        *v = vv;
        *F = f;
        cscale = 1.0 / f;
        /* a <- T (a + P Z' v / F) */
        double gv = vv / f;
        double a0 = k->a[0] + P[0] * gv;
        for (int i = 0; i < r - 1; i++)
            k->a[i] = k->a[i + 1] + P[i + 1] * gv + ar[i] * a0;
        k->a[r - 1] = ar[r - 1] * a0;
    } else {
        double a0 = k->a[0];
        for (int i = 0; i < r - 1; i++)
            k->a[i] = k->a[i + 1] + ar[i] * a0;
        k->a[r - 1] = ar[r - 1] * a0;
    }
    /* g = P Z' (first row), u0 = first row of U, both zero-padded at r */
    for (int j = 0; j < r; j++)
        g[j] = P[j];
    g[r] = 0.0;
    for (int j = 0; j < r; j++)
        u0[j] = P[j] - g[0] * g[j] * cscale;
    u0[r] = 0.0;
    double u00 = u0[0];
    double dmax = 0.0, scale = 0.0;
    for (int i = 0; i < r; i++) {
        double ari = ar[i], Ri = R[i], ci = g[i + 1] * cscale, ui = u0[i + 1];
        const double *pr = i + 1 < r ? P + (size_t)(i + 1) * r : NULL;
        double *nr = Pn + (size_t)i * r;
        int jend = r - 1; /* j + 1 < r */
        for (int j = i; j < jend; j++) {
            double uij = (pr ? pr[j + 1] : 0.0) - ci * g[j + 1];
            nr[j] = uij + ari * u0[j + 1] + ar[j] * ui + ari * ar[j] * u00 + Ri * R[j];
        }
        if (jend >= i)
            nr[jend] = ar[jend] * ui + ari * ar[jend] * u00 + Ri * R[jend];
        for (int j = i; j < r; j++) {
            double d = fabs(nr[j] - P[(size_t)i * r + j]);
            dmax = d > dmax ? d : dmax;
        }
        scale = nr[i] > scale ? nr[i] : scale;
    }
    for (int i = 0; i < r; i++)
        for (int j = 0; j < i; j++)
            Pn[(size_t)i * r + j] = Pn[(size_t)j * r + i];
    k->P = Pn;
    k->P2 = P;
    if (obs && k->tol >= 0.0 && dmax <= k->tol * scale)
        kf_freeze(k, k->P, k->P[0]); /* Z = e_1: P Z' is the first row */
    return obs;
}

/*
 * One filter step with observation y (NaN: missing).  On return *v and *F
 * are the innovation and its variance (sigma2 units) if y was used, and the
 * function returns true; false for a missing observation.
 */
static bool kf_step(kf_t *k, double y, double *v, double *F)
{
    int M = k->M;
    if (k->steady) {
        if (!isnan(y)) {
            double vv = y - kf_Z(k, k->a);
            for (int i = 0; i < M; i++)
                k->tmp[i] = k->a[i] + k->K[i] * vv;
            kf_T(k, k->tmp, k->a);
            *v = vv;
            *F = k->F;
            return true;
        }
        k->steady = false; /* P holds the steady covariance: resume the full recursion */
    }
    if (k->nd == 0)
        return kf_step_arma(k, y, v, F);
    bool obs = !isnan(y);
    double *U = k->W; /* updated covariance, then the new predicted one */
    size_t MM = (size_t)M * M;
    if (obs) {
        double f = kf_PZ(k, k->P, k->PZ);
        double vv = y - kf_Z(k, k->a);
        if (!(f > 0.0))
            f = DBL_MIN;
        double g = vv / f;
        for (int i = 0; i < M; i++)
            k->tmp[i] = k->a[i] + k->PZ[i] * g;
        for (int i = 0; i < M; i++) {
            double ci = k->PZ[i] / f;
            const double *pr = k->P + (size_t)i * M;
            double *ur = U + (size_t)i * M;
            for (int j = 0; j < M; j++)
                ur[j] = pr[j] - ci * k->PZ[j];
        }
        *v = vv;
        *F = f;
    } else {
        memcpy(k->tmp, k->a, sizeof(double) * (size_t)M);
        memcpy(U, k->P, sizeof(double) * MM);
    }
    kf_T(k, k->tmp, k->a);
    kf_TPT(k, U, U, k->P2);
    /* U now holds the new predicted covariance; compare with the old one. */
    bool conv = false;
    if (obs && k->tol >= 0.0) {
        double dmax = 0.0, scale = 0.0;
        for (int i = 0; i < M; i++) {
            double d = fabs(U[(size_t)i * M + i]);
            if (d > scale)
                scale = d;
        }
        for (size_t i = 0; i < MM; i++) {
            double d = fabs(U[i] - k->P[i]);
            if (d > dmax)
                dmax = d;
        }
        conv = dmax <= k->tol * scale;
    }
    double *old = k->P;
    k->P = U;
    k->W = old;
    if (conv) {
        double f = kf_PZ(k, k->P, k->PZ);
        kf_freeze(k, k->PZ, f);
    }
    return obs;
}

/* Dense r x r product C = A B (row-major). */
static void matmul(int r, const double *A, const double *B, double *C)
{
    for (int i = 0; i < r; i++) {
        double *cr = C + (size_t)i * r;
        for (int j = 0; j < r; j++)
            cr[j] = 0.0;
        for (int l = 0; l < r; l++) {
            double a = A[(size_t)i * r + l];
            if (a == 0.0)
                continue;
            const double *br = B + (size_t)l * r;
            for (int j = 0; j < r; j++)
                cr[j] += a * br[j];
        }
    }
}

/* C = A B' */
static void matmul_t(int r, const double *A, const double *B, double *C)
{
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++) {
            const double *ar = A + (size_t)i * r, *br = B + (size_t)j * r;
            double s = 0.0;
            for (int l = 0; l < r; l++)
                s += ar[l] * br[l];
            C[(size_t)i * r + j] = s;
        }
}

/* Work space of lyapunov(), in doubles. */
static size_t lyap_work(int r) { return 4 * (size_t)(r + 2) * (size_t)(r + 2); }

/*
 * Fallback: P0 by doubling, Q <- Q + A Q A', A <- A A (converges
 * quadratically in the number of squarings for a stationary T).
 */
static int lyapunov_doubling(const kf_t *k, double *P0, double *work)
{
    int r = k->r;
    size_t rr = (size_t)r * r;
    double *A = work, *B = work + rr, *C = work + 2 * rr, *A2 = work + 3 * rr;
    memset(A, 0, sizeof(double) * rr);
    for (int i = 0; i < r; i++) {
        A[(size_t)i * r] = k->ar[i];
        if (i + 1 < r)
            A[(size_t)i * r + i + 1] = 1.0;
    }
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++)
            P0[(size_t)i * r + j] = k->R[i] * k->R[j];
    for (int it = 0; it < 64; it++) {
        matmul(r, A, P0, B);   /* B = A Q */
        matmul_t(r, B, A, C);  /* C = A Q A' */
        double cmax = 0.0, qmax = 0.0;
        for (size_t i = 0; i < rr; i++) {
            P0[i] += C[i];
            if (fabs(C[i]) > cmax)
                cmax = fabs(C[i]);
            if (fabs(P0[i]) > qmax)
                qmax = fabs(P0[i]);
        }
        if (!isfinite(qmax))
            return TC_ERANGE;
        if (cmax <= 1e-15 * qmax)
            return 0;
        matmul(r, A, A, A2);
        memcpy(A, A2, sizeof(double) * rr);
    }
    return TC_ERANGE;
}

/* Solves the n x n system A x = b (row-major, destroyed) by Gaussian
 * elimination with partial pivoting; false if singular. */
static bool gauss_solve(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(A[(size_t)i * n + c]) > fabs(A[(size_t)piv * n + c]))
                piv = i;
        if (!(fabs(A[(size_t)piv * n + c]) > 1e-13))
            return false;
        if (piv != c) {
            for (int j = 0; j < n; j++) {
                double t = A[(size_t)c * n + j];
                A[(size_t)c * n + j] = A[(size_t)piv * n + j];
                A[(size_t)piv * n + j] = t;
            }
            double t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int i = c + 1; i < n; i++) {
            double f = A[(size_t)i * n + c] / A[(size_t)c * n + c];
            if (f == 0.0)
                continue;
            for (int j = c; j < n; j++)
                A[(size_t)i * n + j] -= f * A[(size_t)c * n + j];
            b[i] -= f * b[c];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double t = b[i];
        for (int j = i + 1; j < n; j++)
            t -= A[(size_t)i * n + j] * b[j];
        b[i] = t / A[(size_t)i * n + i];
    }
    return true;
}

/*
 * Stationary covariance of the ARMA block, P0 = T P0 T' + R R' (sigma2 = 1),
 * from the autocovariances instead of iterating the matrix equation.  The
 * state element i is
 *     alpha_t[i] = sum_{l=1}^{r-i} ar_{l+i} w_{t-l} + sum_{l=0}^{r-1-i} R_{l+i} eps_{t-l},
 * so P0[i][j] needs only gamma(h) = Cov(w_t, w_{t-h}) and Cov(w_t, eps_{t-h})
 * = psi_h; gamma(0..p') solve the p'+1 Yule-Walker-type equations
 *     gamma(k) - sum_j ar_j gamma(|k-j|) = sum_{j>=k} R_j psi_{j-k}
 * (Brockwell & Davis 1991, sec. 3.3, third method), later lags follow by
 * the recursion.  With the sparse seasonal polynomials this costs
 * O(p'^3 + r^2 nnz^2) instead of O(r^3 log) for doubling, which it
 * replaces unless the system is singular.  work: lyap_work(r).
 */
static int lyapunov(const kf_t *k, double *P0, double *work)
{
    int r = k->r;
    int pp = 0;
    for (int i = 0; i < r; i++)
        if (k->ar[i] != 0.0)
            pp = i + 1;
    double *psi = work, *gam = psi + r + 1, *c = gam + r + 1, *A = c + r + 1;
    /* psi weights up to r */
    for (int h = 0; h <= r; h++) {
        double v = h < r ? k->R[h] : 0.0;
        for (int j = 1; j <= h && j <= pp; j++)
            v += k->ar[j - 1] * psi[h - j];
        psi[h] = v;
    }
    for (int h = 0; h <= r; h++) {
        double v = 0.0;
        for (int j = h; j < r; j++)
            v += k->R[j] * psi[j - h];
        c[h] = v;
    }
    if (pp > 0) {
        int n = pp + 1;
        memset(A, 0, sizeof(double) * (size_t)n * n);
        for (int kk = 0; kk < n; kk++) {
            A[(size_t)kk * n + kk] += 1.0;
            for (int j = 1; j <= pp; j++)
                A[(size_t)kk * n + abs(kk - j)] -= k->ar[j - 1];
            gam[kk] = c[kk];
        }
        if (!gauss_solve(A, gam, n))
            return lyapunov_doubling(k, P0, work);
    }
    for (int h = pp > 0 ? pp + 1 : 0; h <= r; h++) {
        double v = c[h];
        for (int j = 1; j <= pp; j++)
            v += k->ar[j - 1] * gam[h - j];
        gam[h] = v;
    }
    if (!(gam[0] > 0.0) || !isfinite(gam[0]))
        return lyapunov_doubling(k, P0, work);
    int nR = 0, *Rnz = (int *)(A); /* A no longer needed */
    for (int i = 0; i < r; i++)
        if (k->R[i] != 0.0)
            Rnz[nR++] = i;
    for (int i = 0; i < r; i++) {
        for (int j = i; j < r; j++) {
            double v = 0.0;
            /* ar x ar: lags a = l+i, b = m+j of non-zero ar */
            for (int x = 0; x < k->narnz; x++) {
                int a = k->arnz[x] + 1;
                if (a <= i)
                    continue;
                int l = a - i;
                for (int y = 0; y < k->narnz; y++) {
                    int b = k->arnz[y] + 1;
                    if (b <= j)
                        continue;
                    int m = b - j;
                    v += k->ar[a - 1] * k->ar[b - 1] * gam[abs(l - m)];
                }
                /* ar x R: Cov(w_{t-l}, eps_{t-m}) = psi_{m-l}, m >= l */
                for (int y = 0; y < nR; y++) {
                    int b = Rnz[y];
                    if (b < j)
                        continue;
                    int m = b - j;
                    if (m >= l)
                        v += k->ar[a - 1] * k->R[b] * psi[m - l];
                }
            }
            for (int x = 0; x < nR; x++) {
                int a = Rnz[x];
                if (a < i)
                    continue;
                int l = a - i;
                for (int y = 0; y < k->narnz; y++) {
                    int b = k->arnz[y] + 1;
                    if (b <= j)
                        continue;
                    int m = b - j;
                    if (l >= m)
                        v += k->R[a] * k->ar[b - 1] * psi[l - m];
                }
                /* R x R: same eps */
                int b = a - i + j;
                if (b < r)
                    v += k->R[a] * k->R[b];
            }
            P0[(size_t)i * r + j] = P0[(size_t)j * r + i] = v;
        }
    }
    return 0;
}

int tc__arima_p0(const tc_arima_spec_t *spec, const tc_arima_params_t *par, double *P0, int *rout,
                 bool doubling)
{
    int r = spec_r(spec);
    kf_t k;
    int rc = kf_init(&k, r, 0, -1.0);
    double *work = rc ? NULL : malloc(sizeof(double) * lyap_work(r));
    if (!rc && work) {
        expand(spec, par, r, k.ar, k.R, work);
        kf_index(&k);
        rc = doubling ? lyapunov_doubling(&k, P0, work) : lyapunov(&k, P0, work);
    } else if (!rc) {
        rc = TC_ENOMEM;
    }
    *rout = r;
    free(work);
    kf_deinit(&k);
    return rc;
}

/* ---------- regression ---------- */

/* Regressors of observation index t (absolute) into row[0..nreg-1]. */
static void reg_row(const tc_arima_spec_t *s, int64_t t, const double *x, double *row)
{
    int k = 0;
    if (s->mean)
        row[k++] = 1.0;
    if (s->drift)
        row[k++] = (double)(t + 1);
    for (int j = 0; j < s->n_exog; j++)
        row[k++] = x[j];
}

static double reg_value(const tc_arima_spec_t *s, const double *beta, int64_t t, const double *x)
{
    double row[TC_ARIMA_MAX_REG];
    int nreg = spec_nreg(s);
    reg_row(s, t, x, row);
    double v = 0.0;
    for (int j = 0; j < nreg; j++)
        v += beta[j] * row[j];
    return v;
}

/* ---------- model object ---------- */

void tc_arima_spec_default(tc_arima_spec_t *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->lambda = NAN;
}

static void opts_fill(tc_arima_opts_t *o, const tc_arima_opts_t *in)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (o->history == 0)
        o->history = 4096;
    if (o->steady_tol == 0.0)
        o->steady_tol = 1e-11;
    if (o->max_iter <= 0)
        o->max_iter = 200;
    if (o->time_budget <= 0.0)
        o->time_budget = 30.0;
}

int tc__arima_alloc(const tc_arima_spec_t *spec, const tc_arima_opts_t *opts, tc_arima_t **out)
{
    int rc = spec_check(spec);
    if (rc)
        return rc;
    tc_arima_t *m = calloc(1, sizeof(*m));
    if (!m)
        return TC_ENOMEM;
    m->spec = *spec;
    if (m->spec.s <= 1) {
        m->spec.s = 0;
        m->spec.P = m->spec.D = m->spec.Q = 0;
    }
    opts_fill(&m->opt, opts);
    m->nreg = spec_nreg(&m->spec);
    int r = spec_r(&m->spec), nd = spec_nd(&m->spec);
    rc = kf_init(&m->kf, r, nd, m->opt.steady_tol < 0 ? -1.0 : m->opt.steady_tol);
    if (rc)
        goto fail;
    int M = r + nd;
    m->fa = malloc(sizeof(double) * ((size_t)M * 2 + 2));
    if (!m->fa) {
        rc = TC_ENOMEM;
        goto fail;
    }
    m->ftmp = m->fa + M + 1;
    m->hcap = m->opt.history;
    m->hy = malloc(sizeof(double) * m->hcap);
    m->hx = m->spec.n_exog ? malloc(sizeof(double) * m->hcap * (size_t)m->spec.n_exog) : NULL;
    if (!m->hy || (m->spec.n_exog && !m->hx)) {
        rc = TC_ENOMEM;
        goto fail;
    }
    m->par.sigma2 = 1.0;
    *out = m;
    return 0;
fail:
    tc_arima_free(m);
    return rc;
}

void tc_arima_free(tc_arima_t *m)
{
    if (!m)
        return;
    kf_deinit(&m->kf);
    free(m->fa);
    free(m->hy);
    free(m->hx);
    free(m);
}

/* Sets coefficients into the online filter (no state change). */
int tc__arima_set_params(tc_arima_t *m, const tc_arima_params_t *par)
{
    double u[2 * TC_ARIMA_MAX_ORDER + 2 * TC_ARIMA_MAX_SORDER];
    if (!params_to_u(&m->spec, par, u))
        return TC_ERANGE;
    if (!(par->sigma2 > 0.0) || !isfinite(par->sigma2))
        return TC_ERANGE;
    m->par = *par;
    int r = m->kf.r;
    double *work = malloc(sizeof(double) * 4 * (size_t)(r + 1 + m->kf.nd + 1));
    if (!work)
        return TC_ENOMEM;
    expand(&m->spec, par, r, m->kf.ar, m->kf.R, work);
    diff_poly(&m->spec, m->kf.delta, work);
    free(work);
    kf_index(&m->kf);
    return 0;
}

/* Start of time: ARMA block stationary, differencing states diffuse. */
static int state_reset(tc_arima_t *m)
{
    kf_t *k = &m->kf;
    int r = k->r, M = k->M;
    double *P0 = malloc(sizeof(double) * ((size_t)r * r + lyap_work(r)));
    if (!P0)
        return TC_ENOMEM;
    int rc = lyapunov(k, P0, P0 + (size_t)r * r);
    if (rc == 0) {
        memset(k->a, 0, sizeof(double) * (size_t)M);
        memset(k->P, 0, sizeof(double) * (size_t)M * M);
        for (int i = 0; i < r; i++)
            memcpy(k->P + (size_t)i * M, P0 + (size_t)i * r, sizeof(double) * (size_t)r);
        for (int i = r; i < M; i++)
            k->P[(size_t)i * M + i] = KAPPA;
        k->steady = false;
    }
    free(P0);
    return rc;
}

int tc_arima_new(const tc_arima_spec_t *spec, const tc_arima_params_t *params,
                 const tc_arima_opts_t *opts, tc_arima_t **out)
{
    tc_arima_t *m = NULL;
    int rc = tc__arima_alloc(spec, opts, &m);
    if (rc)
        return rc;
    tc_arima_params_t par;
    if (params)
        par = *params;
    else {
        memset(&par, 0, sizeof(par));
        par.sigma2 = 1.0;
    }
    rc = tc__arima_set_params(m, &par);
    if (!rc)
        rc = state_reset(m);
    if (rc) {
        tc_arima_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void tc__arima_history_push(tc_arima_t *m, double y, const double *x)
{
    size_t slot;
    if (m->hlen < m->hcap) {
        slot = (m->hhead + m->hlen) % m->hcap;
        m->hlen++;
    } else {
        slot = m->hhead;
        m->hhead = (m->hhead + 1) % m->hcap;
    }
    m->hy[slot] = y;
    if (m->spec.n_exog)
        memcpy(m->hx + slot * (size_t)m->spec.n_exog, x, sizeof(double) * (size_t)m->spec.n_exog);
}

void tc__arima_history_copy(const tc_arima_t *m, double *y, double *x)
{
    size_t ne = (size_t)m->spec.n_exog;
    for (size_t i = 0; i < m->hlen; i++) {
        size_t slot = (m->hhead + i) % m->hcap;
        y[i] = m->hy[slot];
        if (ne)
            memcpy(x + i * ne, m->hx + slot * ne, sizeof(double) * ne);
    }
}

int tc_arima_update(tc_arima_t *m, double y, const double *x)
{
    if (!m || (m->spec.n_exog > 0 && !x))
        return TC_EINVAL;
    if (isinf(y))
        return TC_ENAN;
    int rc = 0;
    double ys = boxcox(m->spec.lambda, y);
    if (!isnan(y) && isnan(ys)) {
        rc = TC_ERANGE;
        y = NAN;
    }
    double z = ys;
    if (m->nreg && !isnan(z))
        z -= reg_value(&m->spec, m->par.beta, m->t, x);
    double v, F;
    kf_step(&m->kf, z, &v, &F);
    tc__arima_history_push(m, y, x);
    m->t++;
    return rc;
}

int tc_arima_forecast(tc_arima_t *m, int h, const double *xf, tc_arima_fc_t *out)
{
    if (!m || h < 1 || !out || (m->spec.n_exog > 0 && !xf))
        return TC_EINVAL;
    const kf_t *k = &m->kf;
    int M = k->M;
    size_t MM = (size_t)M * M;
    /* The filter's two scratch matrices hold nothing between updates: the
     * forecast covariance recursion runs in them. */
    double *fP = k->P2, *fW = k->W;
    memcpy(m->fa, k->a, sizeof(double) * (size_t)M);
    memcpy(fP, k->P, sizeof(double) * MM);
    double lam = m->spec.lambda;
    for (int i = 0; i < h; i++) {
        double mu = kf_Z(k, m->fa);
        kf_PZ(k, fP, m->ftmp);
        double var = kf_Z(k, m->ftmp) * m->par.sigma2;
        if (var < 0.0)
            var = 0.0;
        if (m->nreg)
            mu += reg_value(&m->spec, m->par.beta, m->t + i,
                            m->spec.n_exog ? xf + (size_t)i * m->spec.n_exog : NULL);
        double sd = sqrt(var);
        tc_arima_fc_t *o = &out[i];
        if (!has_transform(&m->spec)) {
            o->mean = mu;
            o->var = var;
        } else {
            double b = lam * mu + 1.0;
            double med = inv_boxcox(lam, mu);
            if (lam == 0.0)
                o->mean = med * (1.0 + var / 2.0);
            else
                o->mean = b > 0.0 ? med * (1.0 + var * (1.0 - lam) / (2.0 * b * b)) : med;
            double dd = lam == 0.0 ? med : (b > 0.0 ? pow(b, 1.0 / lam - 1.0) : 0.0);
            o->var = dd * dd * var;
        }
        o->lo80 = inv_boxcox(lam, mu - 1.2815515655446004 * sd);
        o->hi80 = inv_boxcox(lam, mu + 1.2815515655446004 * sd);
        o->lo95 = inv_boxcox(lam, mu - 1.959963984540054 * sd);
        o->hi95 = inv_boxcox(lam, mu + 1.959963984540054 * sd);
        if (i + 1 < h) {
            kf_T(k, m->fa, m->ftmp);
            memcpy(m->fa, m->ftmp, sizeof(double) * (size_t)M);
            kf_TPT(k, fP, fP, fW);
        }
    }
    return 0;
}

const tc_arima_spec_t *tc_arima_spec(const tc_arima_t *m) { return &m->spec; }
const tc_arima_params_t *tc_arima_params(const tc_arima_t *m) { return &m->par; }
const tc_arima_info_t *tc_arima_info(const tc_arima_t *m) { return &m->info; }
int64_t tc_arima_nobs_seen(const tc_arima_t *m) { return m->t; }
bool tc_arima_is_steady(const tc_arima_t *m) { return m->kf.steady; }

/* ---------- estimation ---------- */

typedef struct fitctx {
    tc_arima_spec_t spec;
    size_t n;
    int nreg, narma, npar, pprime, nd;
    int64_t t0;        /* absolute time index of y[0] (drift) */
    double *ys;        /* n: transformed y */
    double *X;         /* n x nreg */
    double *z, *w, *e; /* n each */
    double *delta;     /* nd */
    double beta0[TC_ARIMA_MAX_REG], bscale[TC_ARIMA_MAX_REG];
    kf_t kf;           /* ARMA block only */
    double *P0, *lwork, *xwork;
    double *ubuf;      /* npar */
    bool css;
    size_t cond; /* CSS: first residual counted (at least nd + p') */
    int ngrad;   /* gradient evaluations of the current stage */
    tc_arima_params_t par;
    double ssq, sumlog;
    size_t nobs;
} fitctx_t;

static void fit_deinit(fitctx_t *c)
{
    free(c->ys);
    kf_deinit(&c->kf);
    memset(c, 0, sizeof(*c));
}

/* Allocates the context and fills ys, X; returns TC_ERANGE for a value
 * outside the transform's domain. */
static int fit_init(fitctx_t *c, const tc_arima_spec_t *spec, const double *y,
                    const double *x, size_t n, int64_t t0)
{
    memset(c, 0, sizeof(*c));
    c->spec = *spec;
    if (c->spec.s <= 1) {
        c->spec.s = 0;
        c->spec.P = c->spec.D = c->spec.Q = 0;
    }
    c->n = n;
    c->t0 = t0;
    c->nreg = spec_nreg(&c->spec);
    c->narma = spec_narma(&c->spec);
    c->npar = c->narma + c->nreg;
    c->pprime = spec_pprime(&c->spec);
    c->nd = spec_nd(&c->spec);
    int r = spec_r(&c->spec);
    size_t rr = (size_t)r * r;
    size_t tot = n * 4 + n * (size_t)c->nreg + (size_t)c->nd + rr + lyap_work(r) +
                 4 * (size_t)(r + c->nd + 2) + (size_t)c->npar + 1;
    c->ys = calloc(tot, sizeof(double));
    if (!c->ys)
        return TC_ENOMEM;
    c->z = c->ys + n;
    c->w = c->z + n;
    c->e = c->w + n;
    c->X = c->e + n;
    c->delta = c->X + n * (size_t)c->nreg;
    c->P0 = c->delta + c->nd;
    c->lwork = c->P0 + rr;
    c->xwork = c->lwork + lyap_work(r);
    c->ubuf = c->xwork + 4 * (size_t)(r + c->nd + 2);
    int rc = kf_init(&c->kf, r, 0, 1e-11);
    if (rc)
        return rc;
    diff_poly(&c->spec, c->delta, c->xwork);
    for (size_t i = 0; i < n; i++) {
        c->ys[i] = boxcox(c->spec.lambda, y[i]);
        if (!isnan(y[i]) && isnan(c->ys[i]))
            return TC_ERANGE;
        if (isinf(y[i]))
            return TC_ENAN;
        if (c->nreg)
            reg_row(&c->spec, t0 + (int64_t)i, x ? x + i * (size_t)c->spec.n_exog : NULL,
                    c->X + i * (size_t)c->nreg);
    }
    return 0;
}

/* z = ys - X beta; w = differenced z (NaN for t < nd or a missing term). */
static void fit_residualise(fitctx_t *c, const double *beta)
{
    size_t n = c->n;
    for (size_t i = 0; i < n; i++) {
        double v = c->ys[i];
        const double *xr = c->X + i * (size_t)c->nreg;
        for (int j = 0; j < c->nreg; j++)
            v -= beta[j] * xr[j];
        c->z[i] = v;
    }
    for (size_t i = 0; i < n; i++) {
        if ((int)i < c->nd) {
            c->w[i] = NAN;
            continue;
        }
        double v = c->z[i];
        for (int j = 0; j < c->nd; j++)
            if (c->delta[j] != 0.0)
                v -= c->delta[j] * c->z[i - 1 - (size_t)j];
        c->w[i] = v;
    }
}

/* Objective at unconstrained u: CSS or exact ML, per observation. */
static double fit_eval(fitctx_t *c, const double *u)
{
    u_to_params(&c->spec, u, &c->par);
    for (int j = 0; j < c->nreg; j++)
        c->par.beta[j] = c->beta0[j] + u[c->narma + j] * c->bscale[j];
    kf_t *k = &c->kf;
    expand(&c->spec, &c->par, k->r, k->ar, k->R, c->xwork);
    kf_index(k);
    fit_residualise(c, c->par.beta);
    size_t n = c->n;
    double ssq = 0.0, sumlog = 0.0;
    size_t nobs = 0;
    if (c->css) {
        int r = k->r;
        size_t start = (size_t)c->nd + (size_t)c->pprime;
        if (c->cond > start)
            start = c->cond;
        for (size_t t = 0; t < n && t < start; t++)
            c->e[t] = 0.0;
        for (size_t t = start; t < n; t++) {
            double v = c->w[t];
            for (int j = 0; j < k->narnz; j++)
                v -= k->ar[k->arnz[j]] * c->w[t - 1 - (size_t)k->arnz[j]];
            for (int j = 1; j < r && (size_t)j <= t; j++)
                if (k->R[j] != 0.0)
                    v -= k->R[j] * c->e[t - (size_t)j];
            if (isnan(v)) {
                c->e[t] = 0.0;
                continue;
            }
            c->e[t] = v;
            ssq += v * v;
            nobs++;
        }
        c->ssq = ssq;
        c->nobs = nobs;
        c->sumlog = 0.0;
        if (nobs == 0 || !(ssq > 0.0) || !isfinite(ssq))
            return 1e30;
        return 0.5 * log(ssq / (double)nobs);
    }
    int r = k->r;
    if (lyapunov(k, c->P0, c->lwork))
        return 1e30;
    memset(k->a, 0, sizeof(double) * (size_t)r);
    memcpy(k->P, c->P0, sizeof(double) * (size_t)r * r);
    k->steady = false;
    for (size_t t = (size_t)c->nd; t < n; t++) {
        double v, F;
        if (kf_step(k, c->w[t], &v, &F)) {
            ssq += v * v / F;
            sumlog += log(F);
            nobs++;
        }
    }
    c->ssq = ssq;
    c->sumlog = sumlog;
    c->nobs = nobs;
    if (nobs == 0 || !(ssq > 0.0) || !isfinite(ssq) || !isfinite(sumlog))
        return 1e30;
    return 0.5 * log(ssq / (double)nobs) + 0.5 * sumlog / (double)nobs;
}

static double fit_objective(void *inst, const double *x, double *g, int n)
{
    fitctx_t *c = inst;
    c->ngrad++;
    /* Forward differences: n + 1 evaluations per gradient instead of 2n + 1;
     * with h = 1e-6 on the unconstrained scale the truncation error (about
     * h f''/2) is far below the precision the estimates need. */
    const double h = 1e-6;
    double *u = c->ubuf;
    for (int i = 0; i < n; i++)
        u[i] = x[i];
    double f0 = fit_eval(c, u);
    for (int i = 0; i < n; i++) {
        u[i] = x[i] + h;
        double fp = fit_eval(c, u);
        u[i] = x[i];
        g[i] = (fp - f0) / h;
        if (!isfinite(g[i]) || fabs(g[i]) > 1e10)
            g[i] = 0.0;
    }
    return f0;
}

/* Minimises the current objective from u; returns iterations or a negative code. */
static int fit_minimise(fitctx_t *c, double *u, int max_iter, bool *converged)
{
    *converged = true;
    if (c->npar == 0) {
        fit_eval(c, u);
        return 0;
    }
    tc_optim_opts_t o;
    tc_optim_opts_init(&o);
    o.max_iterations = max_iter;
    o.epsilon = 1e-6;
    o.past = 3;
    o.delta = 1e-10;
    /* A line-search failure far from the optimum (a poor curvature model)
     * is answered by restarting from the point reached, at most twice. */
    int st = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        st = tc_optim_minimize(c->npar, u, fit_objective, c, &o, NULL);
        if (st == 0 || st == TC_ENOCONVERGE || st == TC_ENOMEM || st == TC_EINVAL)
            break;
    }
    if (st == TC_ENOMEM || st == TC_EINVAL)
        return st;
    double f = fit_eval(c, u); /* leaves par/ssq/sumlog at the final point */
    if (!(f < 1e29))
        return TC_ENOCONVERGE;
    *converged = st == 0 || st == TC_EPRECISION;
    return 0;
}

/* Solves the k x k SPD system A x = b in place (Cholesky); false if singular. */
static bool chol_solve(double *A, double *b, int k)
{
    for (int j = 0; j < k; j++) {
        double s = A[j * k + j];
        for (int l = 0; l < j; l++)
            s -= A[j * k + l] * A[j * k + l];
        if (!(s > 1e-12 * (fabs(A[j * k + j]) + 1e-300)))
            return false;
        A[j * k + j] = sqrt(s);
        for (int i = j + 1; i < k; i++) {
            double t = A[i * k + j];
            for (int l = 0; l < j; l++)
                t -= A[i * k + l] * A[j * k + l];
            A[i * k + j] = t / A[j * k + j];
        }
    }
    for (int i = 0; i < k; i++) {
        double t = b[i];
        for (int l = 0; l < i; l++)
            t -= A[i * k + l] * b[l];
        b[i] = t / A[i * k + i];
    }
    for (int i = k - 1; i >= 0; i--) {
        double t = b[i];
        for (int l = i + 1; l < k; l++)
            t -= A[l * k + i] * b[l];
        b[i] = t / A[i * k + i];
    }
    return true;
}

/*
 * OLS of the differenced series on the differenced regressors: starting
 * beta and the scale of its free parameters.  Also detects degenerate data.
 */
static int fit_ols(fitctx_t *c)
{
    int k = c->nreg;
    double zero[TC_ARIMA_MAX_REG] = {0};
    fit_residualise(c, zero); /* w = differenced ys */
    size_t n = c->n, cnt = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (!isnan(c->ys[i])) {
            lo = fmin(lo, c->ys[i]);
            hi = fmax(hi, c->ys[i]);
            cnt++;
        }
    if (cnt < (size_t)c->npar + 3)
        return TC_ETOOFEW;
    cnt = 0;
    if (!(hi > lo))
        return TC_EDEGENERATE;
    for (int j = 0; j < k; j++) {
        c->beta0[j] = 0.0;
        c->bscale[j] = 1.0;
    }
    double A[TC_ARIMA_MAX_REG * TC_ARIMA_MAX_REG], b[TC_ARIMA_MAX_REG], Ai[TC_ARIMA_MAX_REG * TC_ARIMA_MAX_REG];
    double xd[TC_ARIMA_MAX_REG];
    memset(A, 0, sizeof(A));
    memset(b, 0, sizeof(b));
    double wss = 0.0;
    for (size_t i = (size_t)c->nd; i < n; i++) {
        if (isnan(c->w[i]))
            continue;
        bool ok = true;
        for (int j = 0; j < k; j++) {
            double v = c->X[i * (size_t)k + j];
            for (int l = 0; l < c->nd; l++)
                if (c->delta[l] != 0.0)
                    v -= c->delta[l] * c->X[(i - 1 - (size_t)l) * (size_t)k + j];
            xd[j] = v;
            ok = ok && isfinite(v);
        }
        if (!ok)
            continue;
        for (int j = 0; j < k; j++) {
            b[j] += xd[j] * c->w[i];
            for (int l = 0; l < k; l++)
                A[j * k + l] += xd[j] * xd[l];
        }
        wss += c->w[i] * c->w[i];
        cnt++;
    }
    if (cnt < (size_t)c->npar + 3)
        return TC_ETOOFEW;
    if (!isfinite(wss))
        return TC_ERANGE; /* squares overflow: no finite likelihood */
    double rss = wss;
    if (k > 0) {
        memcpy(Ai, A, sizeof(double) * (size_t)k * k);
        if (!chol_solve(A, b, k))
            return TC_EDEGENERATE;
        /* residual sum of squares and coefficient standard errors */
        double bb = 0.0;
        for (int j = 0; j < k; j++)
            for (int l = 0; l < k; l++)
                bb += b[j] * Ai[j * k + l] * b[l];
        rss = wss - bb;
        for (int j = 0; j < k; j++) {
            double e[TC_ARIMA_MAX_REG], M2[TC_ARIMA_MAX_REG * TC_ARIMA_MAX_REG];
            memcpy(M2, Ai, sizeof(double) * (size_t)k * k);
            for (int l = 0; l < k; l++)
                e[l] = l == j ? 1.0 : 0.0;
            chol_solve(M2, e, k);
            double s2 = rss > 0.0 ? rss / (double)cnt : 0.0;
            double se = sqrt(fmax(e[j] * s2, 0.0));
            c->beta0[j] = b[j];
            c->bscale[j] = se > 0.0 && isfinite(se) ? se * 10.0 : fmax(fabs(b[j]), 1.0);
        }
    }
    if (!(rss > 1e-20 * (wss + 1e-300)))
        return TC_EDEGENERATE;
    return 0;
}

static void info_fill(tc_arima_info_t *info, const fitctx_t *c, int iters, bool conv)
{
    double nob = (double)c->nobs;
    double s2 = c->ssq / nob;
    info->nobs = c->nobs;
    info->loglik = -0.5 * (nob * (log(2.0 * M_PI * s2) + 1.0) + c->sumlog);
    int kpar = c->npar + 1;
    info->n_params = kpar;
    info->aic = -2.0 * info->loglik + 2.0 * kpar;
    info->aicc = nob - kpar - 1 > 0 ? info->aic + 2.0 * kpar * (kpar + 1) / (nob - kpar - 1) : INFINITY;
    info->bic = -2.0 * info->loglik + kpar * log(nob);
    info->iterations = iters;
    info->converged = conv;
}

/*
 * Puts m (params set) into the state after y[0..n-1], whose first value
 * has absolute time index t0.  The ARMA block comes from the filter on the
 * differenced data, the differencing states are the last observations.
 */
static int model_restart(tc_arima_t *m, const double *y, const double *x, size_t n, int64_t t0)
{
    kf_t *K = &m->kf;
    int r = K->r, nd = K->nd, M = K->M, ne = m->spec.n_exog;
    m->hlen = m->hhead = 0;
    m->t = t0;
    double *z = malloc(sizeof(double) * (n + 1));
    if (!z)
        return TC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        double v = boxcox(m->spec.lambda, y[i]);
        if (m->nreg && !isnan(v))
            v -= reg_value(&m->spec, m->par.beta, t0 + (int64_t)i, ne ? x + i * (size_t)ne : NULL);
        z[i] = v;
    }
    /* largest j <= n with z[j-nd..j-1] finite */
    size_t j;
    bool found = false;
    for (j = n + 1; j-- > (size_t)nd;) {
        bool ok = true;
        for (int l = 1; l <= nd && ok; l++)
            ok = !isnan(z[j - (size_t)l]);
        if (ok) {
            found = true;
            break;
        }
    }
    int rc = 0;
    if (!found || (size_t)nd > n) {
        rc = state_reset(m);
        for (size_t i = 0; i < n && !rc; i++) {
            int u = tc_arima_update(m, y[i], ne ? x + i * (size_t)ne : NULL);
            if (u && u != TC_ERANGE)
                rc = u;
        }
        free(z);
        return rc;
    }
    kf_t kr;
    rc = kf_init(&kr, r, 0, K->tol);
    double *P0 = rc ? NULL : malloc(sizeof(double) * ((size_t)r * r + lyap_work(r)));
    if (rc || !P0) {
        kf_deinit(&kr);
        free(z);
        return rc ? rc : TC_ENOMEM;
    }
    memcpy(kr.ar, K->ar, sizeof(double) * (size_t)r);
    memcpy(kr.R, K->R, sizeof(double) * (size_t)r);
    kf_index(&kr);
    rc = lyapunov(&kr, P0, P0 + (size_t)r * r);
    if (!rc) {
        memcpy(kr.P, P0, sizeof(double) * (size_t)r * r);
        for (size_t t = (size_t)nd; t < j; t++) {
            double w = z[t];
            for (int l = 0; l < K->ndnz; l++)
                w -= K->delta[K->dnz[l]] * z[t - 1 - (size_t)K->dnz[l]];
            double v, F;
            kf_step(&kr, w, &v, &F);
        }
        memset(K->a, 0, sizeof(double) * (size_t)M);
        memset(K->P, 0, sizeof(double) * (size_t)M * M);
        memset(K->K, 0, sizeof(double) * (size_t)M);
        memcpy(K->a, kr.a, sizeof(double) * (size_t)r);
        for (int i = 0; i < r; i++)
            memcpy(K->P + (size_t)i * M, kr.P + (size_t)i * r, sizeof(double) * (size_t)r);
        for (int l = 0; l < nd; l++)
            K->a[r + l] = z[j - 1 - (size_t)l];
        K->steady = kr.steady;
        if (kr.steady) {
            memcpy(K->K, kr.K, sizeof(double) * (size_t)r);
            K->F = kr.F;
        }
        for (size_t i = 0; i < j; i++)
            tc__arima_history_push(m, y[i], ne ? x + i * (size_t)ne : NULL);
        m->t = t0 + (int64_t)j;
        for (size_t i = j; i < n && !rc; i++) {
            int u = tc_arima_update(m, y[i], ne ? x + i * (size_t)ne : NULL);
            if (u && u != TC_ERANGE)
                rc = u;
        }
    }
    free(P0);
    kf_deinit(&kr);
    free(z);
    return rc;
}

/* Fit with a given spec; t0 is the absolute index of y[0]. */
int tc__arima_fit_spec(const tc_arima_spec_t *spec, const double *y, const double *x, size_t n,
                    int64_t t0, const tc_arima_opts_t *opts, const double *ustart,
                    tc_arima_t **out)
{
    tc_arima_opts_t o;
    opts_fill(&o, opts);
    int rc = spec_check(spec);
    if (rc)
        return rc;
    if (!y || (spec->n_exog > 0 && !x))
        return TC_EINVAL;
    fitctx_t c;
    tc_arima_t *m = NULL;
    double u[2 * TC_ARIMA_MAX_ORDER + 2 * TC_ARIMA_MAX_SORDER + TC_ARIMA_MAX_REG] = {0};
    rc = fit_init(&c, spec, y, x, n, t0);
    if (rc)
        goto done;
    if (n < (size_t)(c.nd + c.pprime + c.npar + 3)) {
        rc = TC_ETOOFEW;
        goto done;
    }
    rc = fit_ols(&c);
    if (rc)
        goto done;
    bool conv = true;
    if (ustart) {
        memcpy(u, ustart, sizeof(double) * (size_t)c.narma);
    } else if (c.narma > 0) {
        c.css = true;
        rc = fit_minimise(&c, u, o.max_iter, &conv);
        if (rc || !isfinite(u[0]))
            memset(u, 0, sizeof(u));
        rc = 0;
    }
    c.css = false;
    c.ngrad = 0;
    rc = fit_minimise(&c, u, o.max_iter, &conv);
    int iters = c.ngrad;
    if (rc)
        goto done;
    if (!conv && o.require_convergence) {
        rc = TC_ENOCONVERGE;
        goto done;
    }
    tc_arima_params_t par = c.par;
    par.sigma2 = c.ssq / (double)c.nobs;
    rc = tc__arima_alloc(&c.spec, &o, &m);
    if (rc)
        goto done;
    rc = tc__arima_set_params(m, &par);
    if (rc)
        goto done;
    info_fill(&m->info, &c, iters, conv);
    rc = model_restart(m, y, x, n, t0);
done:
    fit_deinit(&c);
    if (rc) {
        tc_arima_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int tc_arima_fit(const tc_arima_spec_t *spec, const double *y, const double *x, size_t n,
                 const tc_arima_opts_t *opts, tc_arima_t **out)
{
    if (!spec || !out)
        return TC_EINVAL;
    return tc__arima_fit_spec(spec, y, x, n, 0, opts, NULL, out);
}

int tc_arima_loglik(const tc_arima_spec_t *spec, const tc_arima_params_t *params,
                    const double *y, const double *x, size_t n, double *loglik, double *sigma2)
{
    if (!spec || !params || !y || (spec->n_exog > 0 && !x))
        return TC_EINVAL;
    int rc = spec_check(spec);
    if (rc)
        return rc;
    fitctx_t c;
    double u[2 * TC_ARIMA_MAX_ORDER + 2 * TC_ARIMA_MAX_SORDER + TC_ARIMA_MAX_REG] = {0};
    rc = fit_init(&c, spec, y, x, n, 0);
    if (rc)
        goto done;
    if (!params_to_u(&c.spec, params, u)) {
        rc = TC_ERANGE;
        goto done;
    }
    for (int j = 0; j < c.nreg; j++) {
        c.beta0[j] = params->beta[j];
        c.bscale[j] = 1.0;
    }
    if (!(fit_eval(&c, u) < 1e29)) {
        rc = TC_ERANGE;
        goto done;
    }
    double nob = (double)c.nobs;
    double s2 = params->sigma2 > 0.0 ? params->sigma2 : c.ssq / nob;
    if (loglik)
        *loglik = -0.5 * (nob * log(2.0 * M_PI * s2) + c.ssq / s2 + c.sumlog);
    if (sigma2)
        *sigma2 = s2;
done:
    fit_deinit(&c);
    return rc;
}

int tc__arima_css_score(const tc_arima_spec_t *spec, const double *y, const double *x, size_t n,
                        size_t cond, int max_iter, double *aicc, double *u)
{
    int rc = spec_check(spec);
    if (rc)
        return rc;
    fitctx_t c;
    rc = fit_init(&c, spec, y, x, n, 0);
    if (!rc && n < (size_t)(c.nd + c.pprime + c.npar + 3))
        rc = TC_ETOOFEW;
    if (!rc)
        rc = fit_ols(&c);
    if (!rc) {
        bool conv;
        c.css = true;
        c.cond = cond;
        memset(u, 0, sizeof(double) * (size_t)c.npar);
        rc = fit_minimise(&c, u, max_iter, &conv);
    }
    if (!rc) {
        double nob = (double)c.nobs;
        int k = c.npar + 1;
        double ll = -0.5 * nob * (log(2.0 * M_PI * c.ssq / nob) + 1.0);
        *aicc = nob - k - 1 > 0 ? -2.0 * ll + 2.0 * k + 2.0 * k * (k + 1) / (nob - k - 1) : INFINITY;
    }
    fit_deinit(&c);
    return rc;
}

/* ---------- background refit ---------- */

struct tc_arima_refit {
    tc_arima_spec_t spec;
    tc_arima_opts_t opt;
    bool auto_orders;
    double *y, *x;
    size_t n;
    int64_t t_end; /* m->t when the job was made */
    tc_arima_t *result;
    int rc;
    bool ran;
};

int tc_arima_refit_new(const tc_arima_t *m, bool auto_orders, tc_arima_refit_t **out)
{
    if (!m || !out)
        return TC_EINVAL;
    tc_arima_refit_t *j = calloc(1, sizeof(*j));
    if (!j)
        return TC_ENOMEM;
    int ne = m->spec.n_exog;
    j->spec = m->spec;
    j->opt = m->opt;
    j->auto_orders = auto_orders;
    j->n = m->hlen;
    j->t_end = m->t;
    j->y = malloc(sizeof(double) * (j->n + 1));
    j->x = ne ? malloc(sizeof(double) * (j->n * (size_t)ne + 1)) : NULL;
    if (!j->y || (ne && !j->x)) {
        tc_arima_refit_free(j);
        return TC_ENOMEM;
    }
    tc__arima_history_copy(m, j->y, j->x);
    j->rc = TC_EAGAIN;
    *out = j;
    return 0;
}

int tc_arima_refit_run(tc_arima_refit_t *j)
{
    if (!j)
        return TC_EINVAL;
    int64_t t0 = j->t_end - (int64_t)j->n;
    tc_arima_free(j->result);
    j->result = NULL;
    if (j->auto_orders && !j->spec.drift) {
        j->rc = tc_arima_auto(j->y, j->x, j->n, j->spec.n_exog, j->spec.s, j->spec.lambda,
                              &j->opt, &j->result);
        /* automatic orders fit from time 0 of the copy: align the clock */
        if (!j->rc)
            j->result->t = j->t_end;
    } else {
        j->rc = tc__arima_fit_spec(&j->spec, j->y, j->x, j->n, t0, &j->opt, NULL, &j->result);
    }
    j->ran = true;
    return j->rc;
}

int tc_arima_refit_apply(tc_arima_t *m, tc_arima_refit_t *j)
{
    if (!m || !j || !j->ran)
        return TC_EINVAL;
    if (j->rc)
        return j->rc;
    tc_arima_t *r = j->result;
    int ne = m->spec.n_exog;
    if (m->t < j->t_end || r->spec.n_exog != ne)
        return TC_EINVAL;
    size_t extra = (size_t)(m->t - j->t_end);
    if (extra > m->hlen)
        return TC_ERANGE;
    for (size_t i = m->hlen - extra; i < m->hlen; i++) {
        size_t slot = (m->hhead + i) % m->hcap;
        int rc = tc_arima_update(r, m->hy[slot], ne ? m->hx + slot * (size_t)ne : NULL);
        if (rc && rc != TC_ERANGE)
            return rc;
    }
    /* swap the contents so that m's address stays valid; the job frees the old */
    tc_arima_t tmp = *m;
    *m = *r;
    *r = tmp;
    return 0;
}

void tc_arima_refit_free(tc_arima_refit_t *j)
{
    if (!j)
        return;
    tc_arima_free(j->result);
    free(j->y);
    free(j->x);
    free(j);
}
