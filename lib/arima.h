/*
 * arima.h - online seasonal ARIMA: regression with SARIMA(p,d,q)(P,D,Q)s
 * errors in state-space form, exact Gaussian maximum likelihood, automatic
 * order selection, h-step forecasts with prediction intervals, per-bucket
 * Kalman updates, background refits and checkpoints.
 *
 * Model (on the transformed scale y* = BoxCox(y, lambda), or y itself):
 *   y*_t = beta' x_t + u_t,
 *   phi(B) Phi(B^s) (1-B)^d (1-B^s)^D u_t = theta(B) Theta(B^s) eps_t,
 *   eps_t ~ N(0, sigma2) i.i.d.
 * x_t holds, in this order and only when enabled: a constant 1 (`mean`,
 * only when d + D == 0), the drift t + 1 (`drift`, only when d + D <= 1;
 * t counts observations from 0, the first fitted observation), and the
 * caller's n_exog regressors.  Polynomials follow R's sign convention:
 * phi(B) = 1 - phi_1 B - ..., theta(B) = 1 + theta_1 B + ...
 *
 * Likelihood convention (the one R's arima reports): the exact Gaussian
 * likelihood of the differenced series w = (1-B)^d (1-B^s)^D u, whose ARMA
 * state starts from the stationary (Lyapunov) covariance; the d + sD
 * differencing states are taken out of the likelihood, not made diffuse.
 * On log(AirPassengers) the airline model gives R's 244.70.
 *
 * Units: y in the caller's units (the bucket's sum or mean); sigma2 and the
 * internal state on the transformed scale; forecasts and intervals on the
 * caller's original scale.  Time is counted in observations (buckets).
 *
 * Threads: a tc_arima_t is not internally locked; all calls on one model
 * come from one thread (@locality: the daemon's loop thread), except that
 * tc_arima_refit_run() works only on its job and may run on any thread
 * while the model keeps being updated and forecast.  No function keeps
 * global state, so different models may be used on different threads.
 *
 * Life of a series in the daemon:
 *   tc_arima_new(&spec, NULL, &opts, &m)     new series: seasonal random walk
 *                                            (with D = 1) until the first refit;
 *   or tc_arima_fit / tc_arima_auto          when a history is at hand;
 *   per closed bucket:  tc_arima_update(m, y, x); tc_arima_forecast(m, h, xf, fc);
 *   periodically:       tc_arima_refit_new(m, auto, &job)      loop thread
 *                       tc_arima_refit_run(job)                 uv worker
 *                       tc_arima_refit_apply(m, job); tc_arima_refit_free(job)
 *                                                               loop thread (after-work cb)
 *   checkpoint:         tc_arima_save(m, &buf, &len) / tc_arima_load(buf, len, &m)
 * Costs (SARIMA(2,0,1)(1,1,1)24, state dimension 50): update about 60 ns
 * once steady (a few us before), forecast h = 24 about 50 us, fit on 60
 * days of hourly data about 0.15 s (bench/run_arima.sh).  Memory per model:
 * 3 m^2 + 8 m doubles (m = state dimension; 60 KB at m = 50) plus the
 * history ring (opts.history doubles, times 1 + n_exog).
 */
#ifndef TC_ARIMA_H
#define TC_ARIMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TC_ARIMA_MAX_ORDER 8  /* p and q */
#define TC_ARIMA_MAX_SORDER 3 /* P and Q */
#define TC_ARIMA_MAX_EXOG 16  /* n_exog */
#define TC_ARIMA_MAX_REG (TC_ARIMA_MAX_EXOG + 2)
#define TC_ARIMA_MAX_STATE 640 /* p+sP, q+sQ+1, d+sD combined */

typedef struct tc_arima_spec {
    int p, d, q;    /* non-seasonal orders, p,q <= 8, d <= 2 */
    int P, D, Q, s; /* seasonal orders and period; s <= 1 means none */
    int n_exog;     /* caller's regressors per observation, <= 16 */
    bool mean;      /* constant term (needs d + D == 0) */
    bool drift;     /* linear trend (needs d + D <= 1) */
    double lambda;  /* Box-Cox parameter; NAN: none; 0: log */
} tc_arima_spec_t;

typedef struct tc_arima_params {
    double phi[TC_ARIMA_MAX_ORDER];
    double theta[TC_ARIMA_MAX_ORDER];
    double sphi[TC_ARIMA_MAX_SORDER];
    double stheta[TC_ARIMA_MAX_SORDER];
    double beta[TC_ARIMA_MAX_REG]; /* mean, drift, exog: those enabled */
    double sigma2;                 /* innovation variance, transformed scale */
} tc_arima_params_t;

typedef struct tc_arima_opts {
    size_t history;     /* observations kept for refits; 0: 4096 */
    double steady_tol;  /* relative change of P below which the gain is
                           frozen; 0: 1e-11; negative: never freeze */
    int max_iter;       /* L-BFGS iterations per stage; 0: 200 */
    double time_budget; /* seconds for automatic order search; 0: 30 */
    bool require_convergence; /* fit fails with TC_ENOCONVERGE when the
                                 optimiser stops without converging (default:
                                 keep the best point, info.converged false) */
} tc_arima_opts_t;

typedef struct tc_arima_info {
    double loglik;  /* exact log-likelihood (differenced, transformed scale) */
    double aic, aicc, bic;
    size_t nobs;    /* observations in the likelihood */
    int n_params;   /* estimated, sigma2 included */
    int iterations; /* gradient evaluations of the exact-likelihood stage */
    bool converged;
    int models_tried; /* automatic selection only */
} tc_arima_info_t;

/* One horizon of a forecast, on the original scale. */
typedef struct tc_arima_fc {
    double mean; /* bias-adjusted mean when a transform is used */
    double var;  /* forecast-error variance (delta method if transformed) */
    double lo80, hi80, lo95, hi95;
} tc_arima_fc_t;

typedef struct tc_arima tc_arima_t;

/* Fills *spec with SARIMA(0,0,0), no season, no regressors, no transform. */
void tc_arima_spec_default(tc_arima_spec_t *spec);

/*
 * Creates a model with the given orders and parameters, state at the start
 * of time (no observation yet: the ARMA block starts from its stationary
 * distribution, the d + sD differencing states from an approximately
 * diffuse prior, variance 1e6 sigma2, so they are set by the first d + sD
 * observations).  params may be NULL (all zero, sigma2 = 1).  opts may be NULL (defaults).  Returns TC_EINVAL for orders
 * out of range or not identifiable, TC_ERANGE for non-stationary or
 * non-invertible params, TC_ENOMEM.  Caller owns *out (tc_arima_free).
 */
int tc_arima_new(const tc_arima_spec_t *spec, const tc_arima_params_t *params,
                 const tc_arima_opts_t *opts, tc_arima_t **out);

/* Frees the model; NULL is a no-op. */
void tc_arima_free(tc_arima_t *m);

/*
 * Estimates the parameters by exact maximum likelihood (starting values by
 * conditional sum of squares) on y[0..n-1] (NaN = missing) with regressors
 * x (row-major n x n_exog, NULL when n_exog == 0), then filters y so that
 * the returned model forecasts y[n], y[n+1], ...  Returns TC_ETOOFEW (not
 * enough finite observations for the orders), TC_EDEGENERATE (constant
 * series after differencing), TC_ERANGE (transform of a non-positive value,
 * or values so large that their squares overflow), TC_ENAN (infinite y),
 * TC_ENOCONVERGE (no finite likelihood found, or the optimiser stopped
 * without converging when opts->require_convergence), TC_EINVAL,
 * TC_ENOMEM.  Caller owns *out.
 */
int tc_arima_fit(const tc_arima_spec_t *spec, const double *y, const double *x,
                 size_t n, const tc_arima_opts_t *opts, tc_arima_t **out);

/*
 * Automatic orders in the spirit of Hyndman & Khandakar (2008): d by
 * repeated KPSS tests (5%), D = 1 when the seasonal strength of an additive
 * moving-average decomposition exceeds 0.64, then a stepwise search on
 * AICc over (p,q,P,Q) (p,q <= 5, P,Q <= 1) with a constant when d + D == 0,
 * scored by the conditional-sum-of-squares likelihood, the chosen model
 * refitted by exact ML.  Stops searching when opts->time_budget runs out and
 * keeps the best so far.  s <= 1: non-seasonal.  lambda: NAN or a Box-Cox
 * parameter.  Errors as tc_arima_fit.
 */
int tc_arima_auto(const double *y, const double *x, size_t n, int n_exog, int s,
                  double lambda, const tc_arima_opts_t *opts, tc_arima_t **out);

/*
 * Kalman update with one new observation (NaN = missing: the state is
 * propagated without a measurement update and its variance grows).  x is
 * the observation's n_exog regressors (NULL when n_exog == 0).  O(m^2) per
 * call until the covariance converges, then O(m) with the frozen gain.
 * Allocates nothing.  Returns TC_EINVAL (x missing), TC_ENAN (y infinite),
 * TC_ERANGE (y outside the transform's domain: treated as missing).
 */
int tc_arima_update(tc_arima_t *m, double y, const double *x);

/*
 * Forecasts the next h observations into out[0..h-1] (h >= 1).  xf holds
 * the future regressors, row-major h x n_exog (NULL when n_exog == 0).
 * Uses the model's workspace: not reentrant on one model.  Allocates
 * nothing.  Returns TC_EINVAL.
 */
int tc_arima_forecast(tc_arima_t *m, int h, const double *xf, tc_arima_fc_t *out);

/* Read-only views. */
const tc_arima_spec_t *tc_arima_spec(const tc_arima_t *m);
const tc_arima_params_t *tc_arima_params(const tc_arima_t *m);
const tc_arima_info_t *tc_arima_info(const tc_arima_t *m);
int64_t tc_arima_nobs_seen(const tc_arima_t *m); /* observations seen so far */
bool tc_arima_is_steady(const tc_arima_t *m);     /* gain frozen? */

/*
 * Exact log-likelihood (R's convention, see above) of y under the given spec
 * and params, with the concentrated sigma2 if params->sigma2 <= 0 or NaN.
 * For tests and benchmarks; allocates a workspace.
 */
int tc_arima_loglik(const tc_arima_spec_t *spec, const tc_arima_params_t *params,
                    const double *y, const double *x, size_t n, double *loglik,
                    double *sigma2);

/*
 * Background refit.  tc_arima_refit_new copies the model's recent history
 * (the last opts.history observations) into a job (@locality loop thread).
 * tc_arima_refit_run estimates new parameters on that copy, with the same
 * orders or, when auto_orders, automatic orders (@locality any thread; it
 * touches only the job, so the model may be updated and forecast
 * meanwhile).  tc_arima_refit_apply (@locality loop thread) swaps the new
 * parameters and state into m in one step and replays the observations m
 * received since the job was made; m's address stays valid.  If the refit
 * failed, apply returns its error and m is unchanged.  The job is freed by
 * tc_arima_refit_free (NULL no-op), applied or not.
 */
typedef struct tc_arima_refit tc_arima_refit_t;
int tc_arima_refit_new(const tc_arima_t *m, bool auto_orders, tc_arima_refit_t **out);
int tc_arima_refit_run(tc_arima_refit_t *job);
int tc_arima_refit_apply(tc_arima_t *m, tc_arima_refit_t *job);
void tc_arima_refit_free(tc_arima_refit_t *job);

/*
 * Checkpoints: the whole model (spec, params, filter state, history) as a
 * tidecast.v1.ArimaModel protobuf message (proto/tidecast/v1/arima.proto).
 * tc_arima_save allocates *buf (caller frees with free()).  tc_arima_load
 * returns TC_EVERSION for an unknown format version, TC_ECORRUPT for an
 * inconsistent message, TC_EPARSE for bytes that do not decode.  A restored
 * model behaves bit for bit like the saved one.
 */
int tc_arima_save(const tc_arima_t *m, uint8_t **buf, size_t *len);
int tc_arima_load(const uint8_t *buf, size_t len, tc_arima_t **out);

#endif
