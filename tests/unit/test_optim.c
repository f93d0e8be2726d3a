/*
 * Tests of lib/optim against minimisers known in closed form: the Rosenbrock
 * function (Rosenbrock 1960) has its only minimum f = 0 at (1, 1); a convex
 * quadratic 1/2 (x - c)' A (x - c) + f0 with A positive definite has its
 * minimum f0 at c.
 */
#include <math.h>

#include "error.h"
#include "optim.h"
#include "tests/test.h"

/* Rosenbrock, f = (1 - x)^2 + 100 (y - x^2)^2, with its analytic gradient;
 * ctx counts calls when not NULL. */
static double rosenbrock(void *ctx, const double *x, double *g, int n)
{
    (void)n;
    if (ctx)
        (*(int *)ctx)++;
    double a = 1.0 - x[0], b = x[1] - x[0] * x[0];
    g[0] = -2.0 * a - 400.0 * x[0] * b;
    g[1] = 200.0 * b;
    return a * a + 100.0 * b * b;
}

/* 1/2 (x - c)' A (x - c) + 7 with A = [[4,1,0],[1,3,1],[0,1,2]] (SPD: leading
 * minors 4, 11, 18) and c = (1, -2, 0.5). */
static const double QA[9] = {4, 1, 0, 1, 3, 1, 0, 1, 2};
static const double QC[3] = {1, -2, 0.5};

static double quadratic(void *ctx, const double *x, double *g, int n)
{
    (void)ctx;
    double f = 7.0;
    for (int i = 0; i < n; i++) {
        g[i] = 0.0;
        for (int j = 0; j < n; j++)
            g[i] += QA[i * n + j] * (x[j] - QC[j]);
        f += 0.5 * (x[i] - QC[i]) * g[i];
    }
    return f;
}

/* f = x: unbounded below, so no line search can end. */
static double linear(void *ctx, const double *x, double *g, int n)
{
    (void)ctx, (void)n;
    g[0] = 1.0;
    return x[0];
}

TC_TEST(optim_rosenbrock_minimum_at_one_one)
{
    double x[2] = {-1.2, 1.0}; /* the classic start */
    int calls = 0;
    tc_optim_opts_t o;
    tc_optim_opts_init(&o);
    o.epsilon = 1e-8;
    tc_optim_result_t r;
    CHECK_OK(tc_optim_minimize(2, x, rosenbrock, &calls, &o, &r));
    CHECK_NEAR(x[0], 1.0, 1e-6);
    CHECK_NEAR(x[1], 1.0, 1e-6);
    CHECK_NEAR(r.f, 0.0, 1e-12);
    CHECK_INT_EQ(r.status, 0);
    CHECK_INT_EQ(r.evaluations, calls);
    CHECK(r.iterations > 0 && r.iterations <= r.evaluations);
}

TC_TEST(optim_quadratic_minimiser_every_line_search)
{
    const tc_optim_linesearch_t ls[] = {TC_OPTIM_LS_MORE_THUENTE, TC_OPTIM_LS_ARMIJO,
                                        TC_OPTIM_LS_WOLFE, TC_OPTIM_LS_STRONG_WOLFE};
    for (int k = 0; k < 4; k++) {
        double x[3] = {0.0, 0.0, 0.0};
        tc_optim_opts_t o;
        tc_optim_opts_init(&o);
        o.epsilon = 1e-10;
        o.linesearch = ls[k];
        tc_optim_result_t r;
        int rc = tc_optim_minimize(3, x, quadratic, NULL, &o, &r);
        CHECK_MSG(rc == 0, "line search %d: %s", k, tc_errname(rc));
        for (int i = 0; i < 3; i++)
            CHECK_NEAR(x[i], QC[i], 1e-8);
        CHECK_NEAR(r.f, 7.0, 1e-12);
    }
}

TC_TEST(optim_start_at_minimum_is_converged_without_iterations)
{
    double x[3] = {QC[0], QC[1], QC[2]};
    tc_optim_result_t r;
    CHECK_OK(tc_optim_minimize(3, x, quadratic, NULL, NULL, &r));
    CHECK_INT_EQ(r.iterations, 0);
    CHECK_INT_EQ(r.evaluations, 1);
    CHECK_NEAR(r.f, 7.0, 0.0);
    CHECK_NEAR(x[1], -2.0, 0.0);
}

TC_TEST(optim_iteration_limit_returns_noconverge)
{
    double x[2] = {-1.2, 1.0};
    tc_optim_opts_t o;
    tc_optim_opts_init(&o);
    o.max_iterations = 3;
    tc_optim_result_t r;
    CHECK_INT_EQ(tc_optim_minimize(2, x, rosenbrock, NULL, &o, &r), TC_ENOCONVERGE);
    CHECK_INT_EQ(r.status, TC_ENOCONVERGE);
    CHECK_INT_EQ(r.iterations, 3);
    /* The point returned is an improvement on the start (f = 24.2) but not
     * the minimum, and the reported f is the objective there. */
    double g[2], f = rosenbrock(NULL, x, g, 2);
    CHECK_NEAR(r.f, f, 0.0);
    CHECK(f < 24.2 && f > 1e-3);
}

TC_TEST(optim_unbounded_objective_is_a_line_search_failure)
{
    const tc_optim_linesearch_t ls[] = {TC_OPTIM_LS_MORE_THUENTE, TC_OPTIM_LS_STRONG_WOLFE};
    for (int k = 0; k < 2; k++) {
        double x[1] = {0.0};
        tc_optim_opts_t o;
        tc_optim_opts_init(&o);
        o.linesearch = ls[k];
        o.max_iterations = 1000;
        tc_optim_result_t r;
        int rc = tc_optim_minimize(1, x, linear, NULL, &o, &r);
        CHECK_MSG(rc == TC_ELINESEARCH, "line search %d: %s", k, tc_errname(rc));
        /* x is the last accepted point and f its objective. */
        CHECK_NEAR(r.f, x[0], 0.0);
        CHECK(x[0] <= 0.0);
    }
}

TC_TEST(optim_rejects_bad_arguments)
{
    double x[2] = {0.0, 0.0};
    tc_optim_opts_t o;
    tc_optim_opts_init(&o);
    tc_optim_result_t r;
    CHECK_INT_EQ(tc_optim_minimize(0, x, rosenbrock, NULL, &o, &r), TC_EINVAL);
    CHECK_INT_EQ(r.evaluations, 0);
    CHECK_INT_EQ(tc_optim_minimize(2, x, NULL, NULL, &o, NULL), TC_EINVAL);
    o.memory = 0;
    CHECK_INT_EQ(tc_optim_minimize(2, x, rosenbrock, NULL, &o, NULL), TC_EINVAL);
    tc_optim_opts_init(&o);
    o.epsilon = -1.0; /* rejected by the library itself */
    CHECK_INT_EQ(tc_optim_minimize(2, x, rosenbrock, NULL, &o, NULL), TC_EINVAL);
    CHECK_NEAR(x[0], 0.0, 0.0);
}
