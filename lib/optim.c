/*
 * optim.c - L-BFGS minimisation, the adapter to liblbfgs (Okazaki's port of
 * Nocedal's L-BFGS; Nocedal 1980, "Updating quasi-Newton matrices with
 * limited storage", Math. Comp. 35; Liu & Nocedal 1989, Math. Prog. 45).
 *
 * Iteration k: direction d = -H g, with H the inverse-Hessian estimate built
 * by the two-loop recursion from the last m pairs s_i = x_{i+1} - x_i,
 * y_i = g_{i+1} - g_i (H_0 = (s'y / y'y) I); then x <- x + t d, the step t
 * from a line search: sufficient decrease f(x + t d) <= f(x) + ftol t g'd
 * and, for the Wolfe variants, the curvature condition on g(x + t d)'d.
 * Stops when ||g|| < epsilon max(1, ||x||), or when the relative decrease
 * over the last `past` iterations is below delta.
 *
 * This file is the only one that includes lbfgs.h: the rest of tidecast sees
 * plain doubles, tc_optim_opts_t and TC_E* codes.
 */
#include "optim.h"

#include <lbfgs.h>
#include <stddef.h>

#include "error.h"

void tc_optim_opts_init(tc_optim_opts_t *o)
{
    lbfgs_parameter_t p;
    lbfgs_parameter_init(&p);
    o->max_iterations = p.max_iterations;
    o->memory = p.m;
    o->epsilon = p.epsilon;
    o->past = p.past;
    o->delta = p.delta;
    o->linesearch = TC_OPTIM_LS_MORE_THUENTE;
    o->max_linesearch = p.max_linesearch;
}

/* Per-call state handed to liblbfgs as its instance pointer. */
typedef struct {
    tc_optim_fn fn;
    void *ctx;
    int evaluations;
    int iterations;
    double f; /* objective at the last accepted point */
} call_t;

static lbfgsfloatval_t evaluate(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                const int n, const lbfgsfloatval_t step)
{
    (void)step;
    call_t *c = inst;
    double f = c->fn(c->ctx, x, g, n);
    if (c->evaluations++ == 0)
        c->f = f; /* the start is the first accepted point */
    return f;
}

/* Called once per completed iteration; records the count and never stops. */
static int progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                    const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                    const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k, int ls)
{
    (void)x, (void)g, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)ls;
    call_t *c = inst;
    c->iterations = k;
    c->f = fx;
    return 0;
}

static int linesearch_code(tc_optim_linesearch_t ls)
{
    switch (ls) {
    case TC_OPTIM_LS_MORE_THUENTE:
        return LBFGS_LINESEARCH_MORETHUENTE;
    case TC_OPTIM_LS_ARMIJO:
        return LBFGS_LINESEARCH_BACKTRACKING_ARMIJO;
    case TC_OPTIM_LS_WOLFE:
        return LBFGS_LINESEARCH_BACKTRACKING_WOLFE;
    case TC_OPTIM_LS_STRONG_WOLFE:
        return LBFGS_LINESEARCH_BACKTRACKING_STRONG_WOLFE;
    }
    return -1;
}

/* liblbfgs status -> TC_E* (see optim.h for the meaning of each). */
static int map_status(int ret)
{
    switch (ret) {
    case LBFGS_SUCCESS:
    case LBFGS_STOP:
    case LBFGS_ALREADY_MINIMIZED:
        return 0;
    case LBFGSERR_MAXIMUMITERATION:
        return TC_ENOCONVERGE;
    case LBFGSERR_ROUNDING_ERROR:
        return TC_EPRECISION;
    case LBFGSERR_OUTOFMEMORY:
        return TC_ENOMEM;
    case LBFGSERR_LOGICERROR:
    case LBFGSERR_OUTOFINTERVAL:
    case LBFGSERR_INCORRECT_TMINMAX:
    case LBFGSERR_MINIMUMSTEP:
    case LBFGSERR_MAXIMUMSTEP:
    case LBFGSERR_MAXIMUMLINESEARCH:
    case LBFGSERR_WIDTHTOOSMALL:
    case LBFGSERR_INCREASEGRADIENT:
    case LBFGSERR_INVALIDPARAMETERS: /* a trial step that is not positive */
        return TC_ELINESEARCH;
    default: /* LBFGSERR_INVALID_* (options), CANCELED, UNKNOWNERROR */
        return TC_EINVAL;
    }
}

int tc_optim_minimize(int n, double *x, tc_optim_fn fn, void *ctx, const tc_optim_opts_t *opts,
                      tc_optim_result_t *res)
{
    call_t c = {.fn = fn, .ctx = ctx, .f = 0.0};
    lbfgsfloatval_t fx = 0.0;
    lbfgsfloatval_t *xv = NULL;
    int rc;
    if (n < 1 || !x || !fn) {
        rc = TC_EINVAL;
        goto out;
    }
    lbfgs_parameter_t p;
    lbfgs_parameter_init(&p);
    if (opts) {
        int ls = linesearch_code(opts->linesearch);
        if (ls < 0 || opts->max_iterations < 0 || opts->memory < 1 || opts->past < 0 ||
            opts->max_linesearch < 1) {
            rc = TC_EINVAL;
            goto out;
        }
        p.max_iterations = opts->max_iterations;
        p.m = opts->memory;
        p.epsilon = opts->epsilon;
        p.past = opts->past;
        p.delta = opts->delta;
        p.linesearch = ls;
        p.max_linesearch = opts->max_linesearch;
    }
    /* liblbfgs may be built with SSE and then needs its own aligned x. */
    xv = lbfgs_malloc(n);
    if (!xv) {
        rc = TC_ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++)
        xv[i] = x[i];
    /* On every exit liblbfgs leaves xv at the last accepted point (a failed
     * line search restores the point it started from), but fx may hold the
     * last rejected trial; the objective reported is c.f, recorded at each
     * accepted point. */
    rc = map_status(lbfgs(n, xv, &fx, evaluate, progress, &c, &p));
    for (int i = 0; i < n; i++)
        x[i] = xv[i];
out:
    lbfgs_free(xv);
    if (res) {
        res->f = c.f;
        res->iterations = c.iterations;
        res->evaluations = c.evaluations;
        res->status = rc;
    }
    return rc;
}
