/*
 * bgnbd.h - the BG/NBD and MBG/NBD models of repeat transactions in a
 * non-contractual setting: likelihood, maximum-likelihood population fit,
 * P(alive), churn risk and conditional expected transactions.
 *
 * Per customer the sufficient statistics are (x, t_x, T): x repeat
 * transactions (transactions after the first), t_x the time of the last one
 * and T the time of observation, both measured from the first transaction,
 * in one caller-chosen time unit (days, weeks). The population parameters
 * (r, alpha, a, b) are in the same unit: alpha scales with it.
 *
 * Threading: every function here is pure (no globals, no shared state); a fit
 * may run on any thread as long as its data arrays are not written meanwhile.
 * Nothing here logs or aborts.
 */
#ifndef TC_BGNBD_H
#define TC_BGNBD_H

#include <stddef.h>
#include <stdint.h>

/* Which model: BG/NBD (Fader, Hardie & Lee 2005) or MBG/NBD (Batislam,
 * Denizel & Filiztekin 2007, drop-out also possible right after the first
 * transaction). */
typedef enum {
    TC_BGNBD_BG = 0,
    TC_BGNBD_MBG = 1,
} tc_bgnbd_model_t;

/* Population parameters: lambda ~ Gamma(r, alpha), p ~ Beta(a, b). All > 0. */
typedef struct tc_bgnbd_params {
    double r;
    double alpha;
    double a;
    double b;
} tc_bgnbd_params_t;

/* Customer statistics, borrowed (never freed or written here). Arrays of n:
 * x[i] >= 0, 0 <= t_x[i] <= T[i]. w is optional (NULL: every customer counts
 * once); a weight lets identical customers be folded into one row. */
typedef struct tc_bgnbd_data {
    size_t n;
    const uint32_t *x;
    const double *t_x;
    const double *T;
    const double *w;
} tc_bgnbd_data_t;

/* Fit options; tc_bgnbd_fit_opts_default() fills the defaults given here. */
typedef struct tc_bgnbd_fit_opts {
    /* Starting points, (r, alpha, a, b) each; the best log-likelihood wins.
     * Default: the five starts of the churn evaluation protocol. */
    int n_starts;
    tc_bgnbd_params_t starts[8];
    /* L-BFGS stop: ||grad of mean -lnL|| < epsilon * max(1, ||theta||); default
     * 1e-7. The fit also stops when one iteration improves mean -lnL by less
     * than 1e-12 of its value. */
    double epsilon;
    /* Iteration cap per start; default 500. */
    int max_iterations;
    /* With more than 2 * warm_n customers, the starts run on an evenly spaced
     * subsample of warm_n customers and only the best optimum is then refined
     * on all of them (same optimum, far fewer full passes). 0 disables;
     * default 50000. */
    size_t warm_n;
} tc_bgnbd_fit_opts_t;

typedef struct tc_bgnbd_fit_result {
    tc_bgnbd_params_t params;
    double loglik;     /* sum over customers of ln L_i at params */
    int iterations;       /* evaluations of the full likelihood, all starts */
    int warm_evaluations; /* evaluations on the warm-start subsample */
    int best_start;       /* index into opts->starts */
} tc_bgnbd_fit_result_t;

void tc_bgnbd_fit_opts_default(tc_bgnbd_fit_opts_t *opts);

/* Sum of ln L_i over the customers (weighted), into *ll.
 * Returns 0, TC_EINVAL (bad parameters or statistics, e.g. t_x > T). */
int tc_bgnbd_loglik(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p,
                    const tc_bgnbd_data_t *d, double *ll);

/* The same and its gradient with respect to theta = ln(r, alpha, a, b)
 * (grad[0..3]). Exposed for checks against finite differences. */
int tc_bgnbd_loglik_grad(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p,
                         const tc_bgnbd_data_t *d, double *ll, double grad[4]);

/* Maximum-likelihood fit over theta = ln(r, alpha, a, b) by L-BFGS
 * (lib/optim) with the analytic gradient, from each start of opts (NULL:
 * defaults). Allocates a workspace for the call and frees it. Returns 0,
 * TC_EINVAL (bad data), TC_ETOOFEW (no customer), TC_ENOMEM, or
 * TC_ENOCONVERGE when no start reached a finite optimum. */
int tc_bgnbd_fit(tc_bgnbd_model_t model, const tc_bgnbd_data_t *d,
                 const tc_bgnbd_fit_opts_t *opts, tc_bgnbd_fit_result_t *res);

/* P(alive | x, t_x, T). BG/NBD gives exactly 1 when x == 0. */
double tc_bgnbd_p_alive(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p,
                        double x, double t_x, double T);

/* Churn risk: probability of no transaction in (T, T + tau]:
 *   1 - P(alive) * (1 - ((alpha+T)/(alpha+T+tau))^(r+x)),
 * since given alive, lambda | history ~ Gamma(r + x, alpha + T). */
double tc_bgnbd_risk(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p,
                     double x, double t_x, double T, double tau);

/* Conditional expected transactions in (T, T + t], E[Y(t) | x, t_x, T], into
 * *out. Returns 0, TC_EINVAL, TC_EDEGENERATE (a == 1 or a non-positive
 * hypergeometric parameter), TC_ENOCONVERGE (series cap reached). */
int tc_bgnbd_expected(tc_bgnbd_model_t model, const tc_bgnbd_params_t *p,
                      double x, double t_x, double T, double t, double *out);

/* ln 2F1(a, b; c; z) for a, b, c > 0 and 0 <= z < 1 by the Gauss series,
 * rescaled so that large sums do not overflow. Returns 0, TC_EINVAL,
 * TC_ENOCONVERGE. */
int tc_bgnbd_log_hyp2f1(double a, double b, double c, double z, double *out);

/* Digamma psi(x) for x > 0 (recurrence to x >= 10, then the asymptotic series). */
double tc_bgnbd_digamma(double x);

#endif
