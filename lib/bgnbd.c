/*
 * bgnbd.c - BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the
 * easy way", Marketing Science 24(2)) and MBG/NBD (Batislam, Denizel &
 * Filiztekin 2007, IJRM 24(3)).
 *
 * Model: while alive a customer buys as a Poisson process of rate lambda,
 * lambda ~ Gamma(r, alpha); after each transaction (BG/NBD: each repeat
 * transaction; MBG/NBD: also right after the first) the customer drops out
 * with probability p, p ~ Beta(a, b).
 *
 * Likelihood of one customer (x, t_x, T), with s = 0 for BG and s = 1 for MBG:
 *   ln L = lnG(r+x) - lnG(r) + r ln alpha
 *        + lnG(a+b) + lnG(b+x+s) - lnG(b) - lnG(a+b+x+s)
 *        + ln[ (alpha+T)^-(r+x) + d * a/(b+x-1+s) * (alpha+t_x)^-(r+x) ]
 * where d = 1{x > 0} for BG and 1 for MBG. The bracket is a log-sum-exp of
 * D1 = -(r+x) ln(alpha+T) and D2 = ln a - ln(b+x-1+s) - (r+x) ln(alpha+t_x),
 * so nothing overflows for large x or T. With w1, w2 the soft-max weights of
 * D1, D2 the gradient is
 *   d/dr     = psi(r+x) - psi(r) + ln alpha - w1 ln(alpha+T) - w2 ln(alpha+t_x)
 *   d/dalpha = r/alpha - (r+x) (w1/(alpha+T) + w2/(alpha+t_x))
 *   d/da     = psi(a+b) - psi(a+b+x+s) + w2/a
 *   d/db     = psi(a+b) + psi(b+x+s) - psi(b) - psi(a+b+x+s) - w2/(b+x-1+s)
 * and the fit runs on theta = ln(r, alpha, a, b) (chain rule: times r, ...).
 * The terms that depend on x only are tabulated once per evaluation for
 * x = 0..min(max x, XCAP) by the recurrences lnG(z+1) = lnG(z) + ln z and
 * psi(z+1) = psi(z) + 1/z, so a customer costs two logs, one exp and one
 * log1p.
 *
 * P(alive) = 1 / (1 + d * a/(b+x-1+s) * ((alpha+T)/(alpha+t_x))^(r+x)).
 * Given alive, lambda | history ~ Gamma(r+x, alpha+T), so the chance of no
 * transaction in the next tau is ((alpha+T)/(alpha+T+tau))^(r+x) and
 *   risk = 1 - P(alive) (1 - ((alpha+T)/(alpha+T+tau))^(r+x)).
 * Conditional expectation (FHL 2005 eq. 10; Batislam et al. for MBG), with
 * z = t/(alpha+T+t):
 *   BG : E[Y(t)] = (a+b+x-1)/(a-1) [1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] P(alive)
 *   MBG: E[Y(t)] = (a+b+x)/(a-1)   [1 - (1-z)^(r+x) 2F1(r+x, b+x+1; a+b+x; z)] P(alive)
 * 2F1 by the Gauss series summed with a running scale (returned as a log), and
 * the bracket as -expm1(.) so that neither part overflows or cancels badly.
 */
#include "bgnbd.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "optim.h"

/* x beyond which x-only terms are computed per customer instead of tabulated. */
#define XCAP 65536u

void tc_bgnbd_fit_opts_default(tc_bgnbd_fit_opts_t *o)
{
    static const tc_bgnbd_params_t starts[5] = {
        {1, 1, 1, 1}, {.5, 5, .5, 2}, {.1, 10, 2, 5}, {2, .5, .2, .5}, {1, 20, 3, 10}};
    memset(o, 0, sizeof(*o));
    o->n_starts = 5;
    memcpy(o->starts, starts, sizeof(starts));
    o->epsilon = 1e-7;
    o->max_iterations = 500;
    o->warm_n = 50000;
}

double tc_bgnbd_digamma(double x)
{
    double acc = 0.0;
    while (x < 10.0) {
        acc -= 1.0 / x;
        x += 1.0;
    }
    double f = 1.0 / (x * x);
    return acc + log(x) - 0.5 / x -
           f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

static double lgam(double x)
{
    int sign;
    return lgamma_r(x, &sign); /* lgamma_r: no write to the global signgam */
}

static int params_ok(const tc_bgnbd_params_t *p)
{
    return isfinite(p->r) && isfinite(p->alpha) && isfinite(p->a) && isfinite(p->b) &&
           p->r > 0 && p->alpha > 0 && p->a > 0 && p->b > 0;
}

/* Per-evaluation tables of the terms that depend on x only. */
typedef struct xtab {
    uint32_t nx; /* entries 0..nx-1 */
    double *g0, *dr, *da, *db, *c2, *ib;
} xtab_t;

static void xterms_direct(int s, const tc_bgnbd_params_t *p, double x, double *g0, double *dr,
                          double *da, double *db, double *c2, double *ib)
{
    double r = p->r, al = p->alpha, a = p->a, b = p->b;
    *g0 = lgam(r + x) - lgam(r) + r * log(al) + lgam(a + b) + lgam(b + x + s) - lgam(b) -
          lgam(a + b + x + s);
    *dr = tc_bgnbd_digamma(r + x) - tc_bgnbd_digamma(r) + log(al);
    *da = tc_bgnbd_digamma(a + b) - tc_bgnbd_digamma(a + b + x + s);
    *db = tc_bgnbd_digamma(a + b) + tc_bgnbd_digamma(b + x + s) - tc_bgnbd_digamma(b) -
          tc_bgnbd_digamma(a + b + x + s);
    double bx = b + x - 1 + s;
    *c2 = bx > 0 ? log(a) - log(bx) : -INFINITY;
    *ib = bx > 0 ? 1.0 / bx : 0.0;
}

static void xtab_fill(xtab_t *t, int s, const tc_bgnbd_params_t *p)
{
    double r = p->r, a = p->a, b = p->b;
    double g0, dr, da, db, c2, ib;
    xterms_direct(s, p, 0.0, &g0, &dr, &da, &db, &c2, &ib);
    double la = log(a);
    for (uint32_t x = 0; x < t->nx; x++) {
        t->g0[x] = g0;
        t->dr[x] = dr;
        t->da[x] = da;
        t->db[x] = db;
        double bx = b + x - 1 + s;
        t->c2[x] = bx > 0 ? la - log(bx) : -INFINITY;
        t->ib[x] = bx > 0 ? 1.0 / bx : 0.0;
        /* step x -> x + 1 */
        double bxs = b + x + s, abxs = a + b + x + s;
        g0 += log(r + x) + log(bxs / abxs);
        dr += 1.0 / (r + x);
        da -= 1.0 / abxs;
        db += 1.0 / bxs - 1.0 / abxs;
    }
}

/* One customer's contribution; accumulates into acc[0] = ll, acc[1..4] =
 * d/dr, d/dalpha (without the r/alpha term), d/da, d/db. */
static inline void customer(int s, const tc_bgnbd_params_t *p, double x, double t_x, double T,
                            double w, double g0, double dr, double da, double db, double c2,
                            double ib, double acc[5])
{
    double rx = p->r + x;
    double aT = p->alpha + T;
    double L1 = log(aT);
    double D1 = -rx * L1;
    double lse, w1, w2, L2 = 0.0, atx = 1.0;
    if (s == 1 || x > 0) {
        atx = p->alpha + t_x;
        L2 = log(atx);
        double D2 = c2 - rx * L2;
        if (D1 >= D2) {
            double e = exp(D2 - D1);
            lse = D1 + log1p(e);
            w2 = e / (1.0 + e);
            w1 = 1.0 - w2;
        } else {
            double e = exp(D1 - D2);
            lse = D2 + log1p(e);
            w1 = e / (1.0 + e);
            w2 = 1.0 - w1;
        }
    } else {
        lse = D1;
        w1 = 1.0;
        w2 = 0.0;
    }
    acc[0] += w * (g0 + lse);
    acc[1] += w * (dr - w1 * L1 - w2 * L2);
    acc[2] -= w * rx * (w1 / aT + w2 / atx);
    acc[3] += w * (da + w2 / p->a);
    acc[4] += w * (db - w2 * ib);
}

static int data_ok(const tc_bgnbd_data_t *d)
{
    if (!d || (d->n && (!d->x || !d->t_x || !d->T)))
        return 0;
    return 1;
}

static int eval(int s, const tc_bgnbd_params_t *p, const tc_bgnbd_data_t *d, xtab_t *tab,
                double *ll, double grad[4], double *wsum)
{
    if (!params_ok(p))
        return TC_EINVAL;
    xtab_fill(tab, s, p);
    double acc[5] = {0, 0, 0, 0, 0};
    double W = 0.0;
    for (size_t i = 0; i < d->n; i++) {
        double w = d->w ? d->w[i] : 1.0;
        uint32_t x = d->x[i];
        double t_x = d->t_x[i], T = d->T[i];
        if (!(t_x >= 0 && t_x <= T) || !(w >= 0))
            return TC_EINVAL;
        W += w;
        if (x < tab->nx) {
            customer(s, p, x, t_x, T, w, tab->g0[x], tab->dr[x], tab->da[x], tab->db[x],
                     tab->c2[x], tab->ib[x], acc);
        } else {
            double g0, dr, da, db, c2, ib;
            xterms_direct(s, p, x, &g0, &dr, &da, &db, &c2, &ib);
            customer(s, p, x, t_x, T, w, g0, dr, da, db, c2, ib, acc);
        }
    }
    *ll = acc[0];
    if (grad) {
        grad[0] = p->r * acc[1];
        grad[1] = p->alpha * (acc[2] + W * p->r / p->alpha);
        grad[2] = p->a * acc[3];
        grad[3] = p->b * acc[4];
    }
    if (wsum)
        *wsum = W;
    return isfinite(*ll) ? 0 : TC_ENAN;
}

static int xtab_init(xtab_t *t, const tc_bgnbd_data_t *d)
{
    uint32_t mx = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->x[i] > mx)
            mx = d->x[i];
    t->nx = (mx < XCAP ? mx : XCAP) + 1;
    double *blk = malloc(sizeof(*blk) * 6 * (size_t)t->nx);
    if (!blk)
        return TC_ENOMEM;
    t->g0 = blk;
    t->dr = blk + t->nx;
    t->da = blk + 2 * (size_t)t->nx;
    t->db = blk + 3 * (size_t)t->nx;
    t->c2 = blk + 4 * (size_t)t->nx;
    t->ib = blk + 5 * (size_t)t->nx;
    return 0;
}

static void xtab_deinit(xtab_t *t)
{
    free(t->g0);
    t->g0 = NULL;
}

int tc_bgnbd_loglik_grad(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p,
                         const tc_bgnbd_data_t *d, double *ll, double grad[4])
{
    if (!p || !ll || !data_ok(d) || (model != TC_BGNBD_BG && model != TC_BGNBD_MBG))
        return TC_EINVAL;
    xtab_t tab;
    int rc = xtab_init(&tab, d);
    if (rc)
        return rc;
    rc = eval(model == TC_BGNBD_MBG, p, d, &tab, ll, grad, NULL);
    xtab_deinit(&tab);
    return rc;
}

int tc_bgnbd_loglik(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p,
                    const tc_bgnbd_data_t *d, double *ll)
{
    return tc_bgnbd_loglik_grad(model, p, d, ll, NULL);
}

/* Objective state for tc_optim_minimize. */
typedef struct fitctx {
    int s;
    const tc_bgnbd_data_t *d;
    xtab_t tab;
    int evals;
} fitctx_t;

/* Objective: mean negative log-likelihood over theta; a point where the
 * likelihood is not finite (parameters beyond exp range) gets a large value
 * so that the backtracking line search shortens its step. */
static double objective(void *inst, const double *th, double *g, int n)
{
    (void)n;
    fitctx_t *c = inst;
    c->evals++;
    for (int j = 0; j < 4; j++) {
        if (!(fabs(th[j]) <= 30.0)) {
            for (int k = 0; k < 4; k++)
                g[k] = 0.0;
            return 1e300;
        }
    }
    tc_bgnbd_params_t p = {exp(th[0]), exp(th[1]), exp(th[2]), exp(th[3])};
    double ll, gr[4], W;
    if (eval(c->s, &p, c->d, &c->tab, &ll, gr, &W) != 0 || W <= 0) {
        for (int k = 0; k < 4; k++)
            g[k] = 0.0;
        return 1e300;
    }
    for (int k = 0; k < 4; k++)
        g[k] = -gr[k] / W;
    return -ll / W;
}

/* Runs L-BFGS from each start on d; keeps the best finite optimum in *best
 * and *best_ll (unchanged when none is better), its index in *best_k.
 * Returns the number of likelihood evaluations, or a negative TC_E* code. */
static int run_starts(int s, const tc_bgnbd_data_t *d, const tc_bgnbd_params_t *starts, int n,
                      const tc_bgnbd_fit_opts_t *opts, tc_bgnbd_params_t *best, double *best_ll,
                      int *best_k)
{
    fitctx_t c = {.s = s, .d = d};
    int rc = xtab_init(&c.tab, d);
    if (rc)
        return rc;
    double th[4];
    tc_optim_opts_t lp;
    tc_optim_opts_init(&lp);
    lp.epsilon = opts->epsilon > 0 ? opts->epsilon : 1e-7;
    /* Also stop once an iteration improves the mean log-likelihood by less
     * than 1e-12 of itself: near the optimum the remaining gain is of the
     * order of the last one, far below 0.01 in total even at 10^7 customers,
     * and the rounding floor beyond it only costs line-search evaluations. */
    lp.past = 1;
    lp.delta = 1e-12;
    lp.max_iterations = opts->max_iterations > 0 ? opts->max_iterations : 500;
    lp.linesearch = TC_OPTIM_LS_STRONG_WOLFE;
    lp.max_linesearch = 60;
    lp.memory = 8;
    for (int k = 0; k < n; k++) {
        const tc_bgnbd_params_t *s0 = &starts[k];
        if (!params_ok(s0))
            continue;
        th[0] = log(s0->r);
        th[1] = log(s0->alpha);
        th[2] = log(s0->a);
        th[3] = log(s0->b);
        /* Any stop (converged, or the line search unable to improve at the
         * rounding floor) leaves th at the last accepted point; the final
         * likelihood is recomputed below and the best start kept. Only a
         * failure to allocate is an error of the fit. */
        rc = tc_optim_minimize(4, th, objective, &c, &lp, NULL);
        if (rc == TC_ENOMEM)
            goto out;
        tc_bgnbd_params_t p = {exp(th[0]), exp(th[1]), exp(th[2]), exp(th[3])};
        double ll;
        if (eval(c.s, &p, d, &c.tab, &ll, NULL, NULL) == 0 && ll > *best_ll) {
            *best_ll = ll;
            *best = p;
            *best_k = k;
        }
    }
    rc = c.evals;
out:
    xtab_deinit(&c.tab);
    return rc;
}

/* Mean negative log-likelihood and its gradient over theta, on d. */
static int mean_nll(int s, const tc_bgnbd_data_t *d, xtab_t *tab, const double th[4], double *f,
                    double g[4])
{
    tc_bgnbd_params_t p = {exp(th[0]), exp(th[1]), exp(th[2]), exp(th[3])};
    double ll, gr[4], W;
    int rc = eval(s, &p, d, tab, &ll, gr, &W);
    if (rc)
        return rc;
    if (!(W > 0))
        return TC_EDEGENERATE;
    *f = -ll / W;
    for (int k = 0; k < 4; k++)
        g[k] = -gr[k] / W;
    return 0;
}

/* Cholesky factor of the symmetric 4x4 h in place (lower triangle); 0 or -1
 * when h is not positive definite. */
static int chol4(double h[4][4])
{
    for (int j = 0; j < 4; j++) {
        double d = h[j][j];
        for (int k = 0; k < j; k++)
            d -= h[j][k] * h[j][k];
        if (!(d > 0))
            return -1;
        h[j][j] = sqrt(d);
        for (int i = j + 1; i < 4; i++) {
            double v = h[i][j];
            for (int k = 0; k < j; k++)
                v -= h[i][k] * h[j][k];
            h[i][j] = v / h[j][j];
        }
    }
    return 0;
}

static void cholsolve4(const double l[4][4], const double b[4], double x[4])
{
    double y[4];
    for (int i = 0; i < 4; i++) {
        double v = b[i];
        for (int k = 0; k < i; k++)
            v -= l[i][k] * y[k];
        y[i] = v / l[i][i];
    }
    for (int i = 3; i >= 0; i--) {
        double v = y[i];
        for (int k = i + 1; k < 4; k++)
            v -= l[k][i] * x[k];
        x[i] = v / l[i][i];
    }
}

/* Refines a warm start on the full data by Newton steps with the Hessian of
 * the mean -lnL taken on the subsample (central differences of the analytic
 * gradient): the subsample's curvature is close to the full data's, so each
 * step cuts the error by a large factor and one full pass per step suffices.
 * Stops when the Newton decrement g' H^-1 g falls below 1e-13 of |f| (the
 * remaining gain in lnL is half of it times the customer count). Returns 0
 * with *th and *ll set, or -1 (caller falls back to L-BFGS from *th). */
static int newton_polish(int s, const tc_bgnbd_data_t *sub, const tc_bgnbd_data_t *d,
                         double th[4], double *ll, int *evals)
{
    xtab_t ts, tf;
    double h[4][4], gp[4], gm[4], f, g[4], fprev = INFINITY;
    int ok = -1;
    if (xtab_init(&ts, sub))
        return -1;
    if (xtab_init(&tf, d)) {
        xtab_deinit(&ts);
        return -1;
    }
    for (int j = 0; j < 4; j++) {
        double t2[4] = {th[0], th[1], th[2], th[3]}, e = 1e-4;
        t2[j] += e;
        if (mean_nll(s, sub, &ts, t2, &f, gp))
            goto out;
        t2[j] -= 2 * e;
        if (mean_nll(s, sub, &ts, t2, &f, gm))
            goto out;
        for (int i = 0; i < 4; i++)
            h[i][j] = (gp[i] - gm[i]) / (2 * e);
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++)
            h[i][j] = h[j][i] = 0.5 * (h[i][j] + h[j][i]);
    if (chol4(h))
        goto out;
    for (int it = 0; it < 30; it++) {
        double step[4], W;
        if (mean_nll(s, d, &tf, th, &f, g))
            goto out;
        (*evals)++;
        if (f > fprev + 1e-14 * fabs(fprev))
            goto out; /* not descending: leave it to L-BFGS */
        cholsolve4(h, g, step);
        double dec = g[0] * step[0] + g[1] * step[1] + g[2] * step[2] + g[3] * step[3];
        if (dec < 1e-13 * fmax(1.0, fabs(f))) {
            W = 0;
            for (size_t i = 0; i < d->n; i++)
                W += d->w ? d->w[i] : 1.0;
            *ll = -f * W;
            ok = 0;
            goto out;
        }
        fprev = f;
        for (int k = 0; k < 4; k++)
            th[k] -= step[k];
    }
out:
    xtab_deinit(&ts);
    xtab_deinit(&tf);
    return ok;
}

int tc_bgnbd_fit(tc_bgnbd_model_t model, const tc_bgnbd_data_t *d,
                 const tc_bgnbd_fit_opts_t *opts, tc_bgnbd_fit_result_t *res)
{
    tc_bgnbd_fit_opts_t def;
    if (!res || !data_ok(d) || (model != TC_BGNBD_BG && model != TC_BGNBD_MBG))
        return TC_EINVAL;
    if (!opts) {
        tc_bgnbd_fit_opts_default(&def);
        opts = &def;
    }
    if (opts->n_starts < 1 || opts->n_starts > 8)
        return TC_EINVAL;
    if (d->n == 0)
        return TC_ETOOFEW;
    for (size_t i = 0; i < d->n; i++)
        if (!(d->t_x[i] >= 0 && d->t_x[i] <= d->T[i] && isfinite(d->T[i])))
            return TC_EINVAL;
    int s = model == TC_BGNBD_MBG;
    double best_ll = -INFINITY;
    int best_k = -1, rc;
    memset(res, 0, sizeof(*res));
    res->best_start = -1;

    size_t m = opts->warm_n;
    if (m > 0 && d->n > 2 * m) {
        /* Warm start: every start on an evenly spaced subsample of m
         * customers, then the best optimum polished on all of them. */
        size_t stride = d->n / m;
        uint32_t *sx = malloc(m * sizeof(*sx));
        double *stx = malloc(m * sizeof(*stx)), *sT = malloc(m * sizeof(*sT));
        double *sw = d->w ? malloc(m * sizeof(*sw)) : NULL;
        rc = TC_ENOMEM;
        if (sx && stx && sT && (sw || !d->w)) {
            for (size_t i = 0; i < m; i++) {
                sx[i] = d->x[i * stride];
                stx[i] = d->t_x[i * stride];
                sT[i] = d->T[i * stride];
                if (sw)
                    sw[i] = d->w[i * stride];
            }
            tc_bgnbd_data_t sub = {m, sx, stx, sT, sw};
            tc_bgnbd_params_t warm;
            rc = run_starts(s, &sub, opts->starts, opts->n_starts, opts, &warm, &best_ll, &best_k);
            if (rc >= 0) {
                res->warm_evaluations = rc;
                rc = best_k >= 0 ? 0 : TC_ENOCONVERGE;
            }
            double th[4] = {log(warm.r), log(warm.alpha), log(warm.a), log(warm.b)};
            if (rc == 0 && newton_polish(s, &sub, d, th, &best_ll, &res->iterations) == 0) {
                res->params = (tc_bgnbd_params_t){exp(th[0]), exp(th[1]), exp(th[2]), exp(th[3])};
            } else if (rc == 0) {
                /* L-BFGS from wherever the polish got to */
                tc_bgnbd_params_t from = {exp(th[0]), exp(th[1]), exp(th[2]), exp(th[3])};
                best_ll = -INFINITY;
                int k1 = -1;
                rc = run_starts(s, d, &from, 1, opts, &res->params, &best_ll, &k1);
                if (rc >= 0) {
                    res->iterations += rc;
                    rc = k1 >= 0 ? 0 : TC_ENOCONVERGE;
                }
            }
        }
        free(sx);
        free(stx);
        free(sT);
        free(sw);
    } else {
        rc = run_starts(s, d, opts->starts, opts->n_starts, opts, &res->params, &best_ll, &best_k);
        if (rc >= 0) {
            res->iterations = rc;
            rc = best_k >= 0 ? 0 : TC_ENOCONVERGE;
        }
    }
    if (rc == 0) {
        res->loglik = best_ll;
        res->best_start = best_k;
    }
    return rc;
}

double tc_bgnbd_p_alive(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p, double x,
                        double t_x, double T)
{
    int s = model == TC_BGNBD_MBG;
    if (!s && x <= 0)
        return 1.0;
    /* odds of being dead = a/(b+x-1+s) * e^lr; one log and one exp in the
     * usual range, the log-odds form where e^lr would overflow */
    double c = p->a / (p->b + x - 1 + s);
    double lr = (p->r + x) * log((p->alpha + T) / (p->alpha + t_x));
    if (lr < 600.0)
        return 1.0 / (1.0 + c * exp(lr));
    double lo = log(c) + lr;
    return lo > 0 ? exp(-lo) / (1.0 + exp(-lo)) : 1.0 / (1.0 + exp(lo));
}

double tc_bgnbd_risk(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p, double x, double t_x,
                     double T, double tau)
{
    double pa = tc_bgnbd_p_alive(model, p, x, t_x, T);
    /* 1 - ((alpha+T)/(alpha+T+tau))^(r+x) = -expm1(-(r+x) log1p(tau/(alpha+T))) */
    double buy = -expm1(-(p->r + x) * log1p(tau / (p->alpha + T)));
    return 1.0 - pa * buy;
}

int tc_bgnbd_log_hyp2f1(double a, double b, double c, double z, double *out)
{
    if (!out || !(a > 0 && b > 0 && c > 0 && z >= 0 && z < 1))
        return TC_EINVAL;
    double sum = 1.0, term = 1.0, lscale = 0.0;
    for (long k = 0; k < 20000000L; k++) {
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if (term < 1e-16 * sum) {
            *out = log(sum) + lscale;
            return 0;
        }
        if (sum > 1e250) {
            sum *= 1e-250;
            term *= 1e-250;
            lscale += 250.0 * M_LN10;
        }
    }
    return TC_ENOCONVERGE;
}

int tc_bgnbd_expected(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p, double x, double t_x,
                      double T, double t, double *out)
{
    if (!out || !p || !params_ok(p) || !(x >= 0 && t_x >= 0 && t_x <= T && t >= 0))
        return TC_EINVAL;
    if (t == 0) {
        *out = 0.0;
        return 0;
    }
    if (p->a == 1.0)
        return TC_EDEGENERATE;
    int s = model == TC_BGNBD_MBG;
    double z = t / (p->alpha + T + t);
    double c = p->a + p->b + x - 1 + s;
    if (!(c > 0))
        return TC_EDEGENERATE;
    double lh;
    int rc = tc_bgnbd_log_hyp2f1(p->r + x, p->b + x + s, c, z, &lh);
    if (rc)
        return rc;
    double u = (p->r + x) * log1p(-z) + lh;
    double bracket = -expm1(u);
    *out = c / (p->a - 1) * bracket * tc_bgnbd_p_alive(model, p, x, t_x, T);
    return 0;
}
