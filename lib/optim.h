/*
 * optim.h - unconstrained quasi-Newton minimisation (L-BFGS).
 *
 * The one place where tidecast meets an optimisation library: models give an
 * objective with its gradient and a start, and get back the point reached,
 * the objective there and a TC_E* status. Nothing here is specific to a model.
 */
#ifndef TC_OPTIM_H
#define TC_OPTIM_H

/* Objective: returns f(x) and writes the gradient df/dx into g[0..n-1].
 * x and g are distinct arrays of n doubles owned by the minimiser; valid
 * only during the call. A point outside the domain should return a large
 * finite value (the line search then shortens its step), never NaN. */
typedef double (*tc_optim_fn)(void *ctx, const double *x, double *g, int n);

typedef enum {
    /* More & Thuente (1994): sufficient decrease and curvature by safeguarded
     * cubic interpolation. The default. */
    TC_OPTIM_LS_MORE_THUENTE = 0,
    /* Backtracking: step halved (or interpolated) until the condition holds. */
    TC_OPTIM_LS_ARMIJO,
    TC_OPTIM_LS_WOLFE,
    TC_OPTIM_LS_STRONG_WOLFE,
} tc_optim_linesearch_t;

typedef struct {
    int max_iterations;    /* 0: no limit */
    int memory;            /* correction pairs kept (m of L-BFGS), >= 1 */
    /* Converged when ||g|| < epsilon * max(1, ||x||) (Euclidean norms). */
    double epsilon;
    /* Also converged when (f[k-past] - f[k]) / f[k] < delta; past = 0 disables. */
    int past;
    double delta;
    tc_optim_linesearch_t linesearch;
    int max_linesearch;    /* objective evaluations per line search */
} tc_optim_opts_t;

typedef struct {
    double f;        /* objective at the returned x */
    int iterations;  /* completed quasi-Newton iterations */
    int evaluations; /* calls of the objective */
    int status;      /* as returned by tc_optim_minimize */
} tc_optim_result_t;

/* Fills *o with the defaults: no iteration limit, memory 6, epsilon 1e-5,
 * past 0, delta 1e-5, More-Thuente line search of at most 40 evaluations. */
void tc_optim_opts_init(tc_optim_opts_t *o);

/* Minimises fn over R^n starting from x[0..n-1] (n >= 1), by L-BFGS (Nocedal
 * 1980; Liu & Nocedal 1989). opts NULL means the defaults. On return x holds
 * the last accepted point (never a rejected trial point) and *res (if not
 * NULL) its objective and the counts, whatever the status. Allocates a
 * workspace of O(memory * n) doubles for the call and frees it.
 * @locality any thread: no state outlives the call (ARIMA refits run it on
 * the worker pool while the loop thread fits BG/NBD).
 * Returns
 *   0               converged (gradient or relative-decrease test, or the
 *                   start already satisfied the gradient test),
 *   TC_ENOCONVERGE  max_iterations reached first,
 *   TC_EPRECISION   the line search could not improve f within rounding
 *                   (often at the optimum of a noisy objective),
 *   TC_ELINESEARCH  the line search failed otherwise (step bounds, its own
 *                   evaluation limit, an ascent direction),
 *   TC_EINVAL       bad n, options or arguments,
 *   TC_ENOMEM.                                                              */
int tc_optim_minimize(int n, double *x, tc_optim_fn fn, void *ctx, const tc_optim_opts_t *opts,
                      tc_optim_result_t *res);

#endif
