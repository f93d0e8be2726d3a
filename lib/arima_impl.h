/*
 * arima_impl.h - internals shared by arima.c, arima_auto.c and arima_pb.c.
 * Not part of the public contract.
 */
#ifndef TC_ARIMA_IMPL_H
#define TC_ARIMA_IMPL_H

#include "arima.h"

/*
 * Kalman filter over the state of R's arima (Gardner et al. 1980; Durbin &
 * Koopman 2012, sec. 3.4): the ARMA block alpha (r = max(p', q'+1) with p',
 * q' the orders of the expanded seasonal polynomials) followed by nd = d+sD
 * past values of the undifferenced series.  P is in units of sigma2.
 */
typedef struct kf {
    int r, nd, M;
    double *ar;    /* r: ar[i] multiplies lag i+1 (zero padded) */
    double *R;     /* r: (1, ma_1, ..., ma_{r-1}) */
    double *delta; /* nd: y_t = w_t + sum delta[i] y_{t-1-i} */
    int *arnz;     /* indices of non-zero ar, count narnz */
    int narnz;
    int *dnz; /* indices of non-zero delta, count ndnz */
    int ndnz;
    double *a;  /* M: predicted state for the next observation */
    double *P;  /* M*M: its covariance (row-major, sigma2 units) */
    double *P2, *W; /* M*M workspaces */
    double *PZ, *tmp; /* M workspaces */
    double *K; /* M: frozen gain, a_next = T (a + K v) */
    double F;  /* frozen innovation variance */
    bool steady;
    double tol; /* negative: never freeze */
} kf_t;

struct tc_arima {
    tc_arima_spec_t spec;
    tc_arima_params_t par;
    tc_arima_opts_t opt;
    tc_arima_info_t info;
    int nreg;    /* mean + drift + n_exog */
    kf_t kf;     /* online filter, M = r + nd */
    int64_t t;   /* observations seen (the next one has index t) */
    /* forecast workspaces (M + 1 each; the covariance uses kf.P2 and kf.W) */
    double *fa, *ftmp;
    /* ring of recent raw observations and their regressors for refits */
    size_t hcap, hlen, hhead; /* hhead: slot of the oldest */
    double *hy, *hx;
};

int tc__arima_alloc(const tc_arima_spec_t *spec, const tc_arima_opts_t *opts,
                    tc_arima_t **out);
int tc__arima_set_params(tc_arima_t *m, const tc_arima_params_t *par);
void tc__arima_history_push(tc_arima_t *m, double y, const double *x);
/* Copies the history ring, oldest first: hlen values into y and, with
 * regressors, hlen * n_exog into x (row per observation). */
void tc__arima_history_copy(const tc_arima_t *m, double *y, double *x);
/* Fit by CSS then exact ML (ustart: CSS skipped, ML starts at the given
 * unconstrained ARMA parameters); t0 is the absolute time of y[0]. */
int tc__arima_fit_spec(const tc_arima_spec_t *spec, const double *y, const double *x, size_t n,
                       int64_t t0, const tc_arima_opts_t *opts, const double *ustart,
                       tc_arima_t **out);
/* AICc of the CSS fit with residuals counted from index cond on; u gets the
 * unconstrained parameters (size: ARMA orders + regressors). */
int tc__arima_css_score(const tc_arima_spec_t *spec, const double *y, const double *x, size_t n,
                        size_t cond, int max_iter, double *aicc, double *u);
/* Stationary covariance of the ARMA block (r x r into P0, r <= rows it can
 * hold: caller sizes it from the orders), by autocovariances or doubling. */
int tc__arima_p0(const tc_arima_spec_t *spec, const tc_arima_params_t *par, double *P0, int *r,
                 bool doubling);

#endif
