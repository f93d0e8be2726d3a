/*
 * arima_pb.c - checkpoints of a SARIMA model as tidecast.v1.ArimaModel
 * (proto/tidecast/v1/arima.proto).  Everything a model's future behaviour
 * depends on is stored: orders, options, parameters, the filter's state,
 * covariance and frozen gain, the observation counter and the history ring
 * (oldest first).  Derived arrays (expanded polynomials) are recomputed from
 * the parameters by the same code, so a restored model continues bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arima_impl.h"
#include "error.h"
#include "tidecast/v1/arima.pb-c.h"

#define ARIMA_PB_VERSION 1

/* memcpy that accepts the NULL arrays protobuf-c gives for empty fields. */
static void copy_d(double *dst, const double *src, size_t n)
{
    if (n)
        memcpy(dst, src, sizeof(double) * n);
}

int tc_arima_save(const tc_arima_t *m, uint8_t **buf, size_t *len)
{
    if (!m || !buf || !len)
        return TC_EINVAL;
    Tidecast__V1__ArimaModel msg = TIDECAST__V1__ARIMA_MODEL__INIT;
    Tidecast__V1__ArimaSpec sp = TIDECAST__V1__ARIMA_SPEC__INIT;
    Tidecast__V1__ArimaOptions op = TIDECAST__V1__ARIMA_OPTIONS__INIT;
    Tidecast__V1__ArimaInfo in = TIDECAST__V1__ARIMA_INFO__INIT;
    const tc_arima_spec_t *s = &m->spec;
    int ne = s->n_exog, rc = 0;
    size_t M = (size_t)m->kf.M;
    sp.p = s->p;
    sp.d = s->d;
    sp.q = s->q;
    sp.seasonal_p = s->P;
    sp.seasonal_d = s->D;
    sp.seasonal_q = s->Q;
    sp.period = s->s;
    sp.n_exog = ne;
    sp.mean = s->mean;
    sp.drift = s->drift;
    sp.has_lambda = !isnan(s->lambda);
    sp.lambda = isnan(s->lambda) ? 0.0 : s->lambda;
    op.history = m->opt.history;
    op.steady_tol = m->opt.steady_tol;
    op.max_iter = m->opt.max_iter;
    op.time_budget = m->opt.time_budget;
    op.require_convergence = m->opt.require_convergence;
    in.loglik = m->info.loglik;
    in.aic = m->info.aic;
    in.aicc = m->info.aicc;
    in.bic = m->info.bic;
    in.nobs = m->info.nobs;
    in.n_params = m->info.n_params;
    in.iterations = m->info.iterations;
    in.converged = m->info.converged;
    in.models_tried = m->info.models_tried;
    msg.version = ARIMA_PB_VERSION;
    msg.spec = &sp;
    msg.options = &op;
    msg.info = &in;
    tc_arima_params_t par = m->par; /* the message points into this copy */
    msg.n_phi = (size_t)s->p;
    msg.phi = par.phi;
    msg.n_theta = (size_t)s->q;
    msg.theta = par.theta;
    msg.n_seasonal_phi = (size_t)s->P;
    msg.seasonal_phi = par.sphi;
    msg.n_seasonal_theta = (size_t)s->Q;
    msg.seasonal_theta = par.stheta;
    msg.n_beta = (size_t)m->nreg;
    msg.beta = par.beta;
    msg.sigma2 = par.sigma2;
    msg.n_state = M;
    msg.state = m->kf.a;
    msg.n_covariance = M * M;
    msg.covariance = m->kf.P;
    msg.steady = m->kf.steady;
    msg.n_gain = m->kf.steady ? M : 0;
    msg.gain = m->kf.K;
    msg.gain_variance = m->kf.F;
    msg.observations = m->t;
    double *hy = malloc(sizeof(double) * (m->hlen + 1));
    double *hx = ne ? malloc(sizeof(double) * (m->hlen * (size_t)ne + 1)) : NULL;
    uint8_t *out = NULL;
    if (!hy || (ne && !hx)) {
        rc = TC_ENOMEM;
        goto done;
    }
    tc__arima_history_copy(m, hy, hx);
    msg.n_history_y = m->hlen;
    msg.history_y = hy;
    msg.n_history_x = ne ? m->hlen * (size_t)ne : 0;
    msg.history_x = hx;
    size_t n = tidecast__v1__arima_model__get_packed_size(&msg);
    out = malloc(n ? n : 1);
    if (!out) {
        rc = TC_ENOMEM;
        goto done;
    }
    tidecast__v1__arima_model__pack(&msg, out);
    *buf = out;
    *len = n;
done:
    free(hy);
    free(hx);
    return rc;
}

int tc_arima_load(const uint8_t *buf, size_t len, tc_arima_t **out)
{
    if (!buf || !out)
        return TC_EINVAL;
    Tidecast__V1__ArimaModel *msg = tidecast__v1__arima_model__unpack(NULL, len, buf);
    if (!msg)
        return TC_EPARSE;
    tc_arima_t *m = NULL;
    int rc = 0;
    if (msg->version != ARIMA_PB_VERSION) {
        rc = TC_EVERSION;
        goto done;
    }
    if (!msg->spec || !msg->options || msg->options->history > ((uint64_t)1 << 24)) {
        rc = TC_ECORRUPT;
        goto done;
    }
    const Tidecast__V1__ArimaSpec *sp = msg->spec;
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.p = sp->p;
    s.d = sp->d;
    s.q = sp->q;
    s.P = sp->seasonal_p;
    s.D = sp->seasonal_d;
    s.Q = sp->seasonal_q;
    s.s = sp->period;
    s.n_exog = sp->n_exog;
    s.mean = sp->mean;
    s.drift = sp->drift;
    s.lambda = sp->has_lambda ? sp->lambda : NAN;
    tc_arima_opts_t o;
    memset(&o, 0, sizeof(o));
    o.history = (size_t)msg->options->history;
    o.steady_tol = msg->options->steady_tol;
    o.max_iter = msg->options->max_iter;
    o.time_budget = msg->options->time_budget;
    o.require_convergence = msg->options->require_convergence;
    rc = tc__arima_alloc(&s, &o, &m);
    if (rc) {
        rc = rc == TC_ENOMEM ? rc : TC_ECORRUPT;
        goto done;
    }
    size_t M = (size_t)m->kf.M;
    int ne = m->spec.n_exog;
    if (msg->n_phi != (size_t)m->spec.p || msg->n_theta != (size_t)m->spec.q ||
        msg->n_seasonal_phi != (size_t)m->spec.P || msg->n_seasonal_theta != (size_t)m->spec.Q ||
        msg->n_beta != (size_t)m->nreg || msg->n_state != M || msg->n_covariance != M * M ||
        (msg->steady && msg->n_gain != M) || msg->n_history_y > m->hcap ||
        msg->n_history_x != msg->n_history_y * (size_t)ne) {
        rc = TC_ECORRUPT;
        goto done;
    }
    tc_arima_params_t par;
    memset(&par, 0, sizeof(par));
    copy_d(par.phi, msg->phi, msg->n_phi);
    copy_d(par.theta, msg->theta, msg->n_theta);
    copy_d(par.sphi, msg->seasonal_phi, msg->n_seasonal_phi);
    copy_d(par.stheta, msg->seasonal_theta, msg->n_seasonal_theta);
    copy_d(par.beta, msg->beta, msg->n_beta);
    par.sigma2 = msg->sigma2;
    rc = tc__arima_set_params(m, &par);
    if (rc) {
        rc = rc == TC_ENOMEM ? rc : TC_ECORRUPT;
        goto done;
    }
    copy_d(m->kf.a, msg->state, M);
    copy_d(m->kf.P, msg->covariance, M * M);
    m->kf.steady = msg->steady;
    if (msg->steady)
        copy_d(m->kf.K, msg->gain, M);
    m->kf.F = msg->gain_variance;
    m->t = msg->observations;
    for (size_t i = 0; i < msg->n_history_y; i++)
        tc__arima_history_push(m, msg->history_y[i], ne ? msg->history_x + i * (size_t)ne : NULL);
    if (msg->info) {
        m->info.loglik = msg->info->loglik;
        m->info.aic = msg->info->aic;
        m->info.aicc = msg->info->aicc;
        m->info.bic = msg->info->bic;
        m->info.nobs = (size_t)msg->info->nobs;
        m->info.n_params = msg->info->n_params;
        m->info.iterations = msg->info->iterations;
        m->info.converged = msg->info->converged;
        m->info.models_tried = msg->info->models_tried;
    }
done:
    tidecast__v1__arima_model__free_unpacked(msg, NULL);
    if (rc) {
        tc_arima_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
