/*
 * pipeline.c - decode -> key -> window -> engines -> sinks for one partition
 * (see pipeline.h for the contract).
 *
 * The window calls back on every closed bucket; the pipeline hands the
 * bucket to the sink and then to the per-(series, metric) tracks, all
 * inside the window's call. Tracks live in a flat array indexed by
 * series * n_metrics + metric slot (registry indices are dense).
 *
 * Seasonal naive forecaster (Hyndman & Athanasopoulos, Forecasting:
 * Principles and Practice, 3rd ed., section 5.5), season s, last time T:
 *     yhat_{T+h} = y_{T+h-s(k)},  k = floor((h-1)/s) + 1,
 *     sd_h = sigma * sqrt(k),     sigma^2 = mean of (y_t - y_{t-s})^2,
 * and before s values exist the naive yhat_{T+h} = y_T with
 *     sd_h = sigma_1 sqrt(h),     sigma_1^2 = mean of (y_t - y_{t-1})^2.
 * Intervals are Gaussian: mean -+ z sd_h, z80 = 1.2816, z95 = 1.9600.
 * The in-sample seasonal-naive MAE is the MASE scale of the accuracy
 * (Hyndman & Koehler 2006).
 */
#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ensemble.h"
#include "registry.h"
#include "tidecast/v1/state.pb-c.h"

#define SNAPSHOT_VERSION 1
#define Z80 1.2815515655446004
#define Z95 1.959963984540054

/* Models, in ensemble order; the ensemble itself is the last. */
enum { M_SNAIVE = 0, M_SARIMA = 1, M_LSTM = 2, M_ENSEMBLE = 3, N_MODELS = 4, N_BASE = 3 };
static const char *const model_names[N_MODELS] = {"snaive", "sarima", "lstm", "ensemble"};

typedef struct track {
    double *hist; /* ring of the last hcap values by time index mod hcap; NULL = unused */
    uint64_t n;   /* buckets seen */
    double ss_naive, ss_season, sa_season;
    uint64_t n_naive, n_season;
    bool pending; /* one-step forecasts below are for pending_for_ms */
    int64_t pending_for_ms;
    double pend_mean[N_MODELS], pend_lo80[N_MODELS], pend_hi80[N_MODELS]; /* NaN = none */
    tc_accuracy_t acc[N_MODELS];
    tc_ensemble_t ens;
    tc_arima_t *arima;
    uint64_t arima_tried_n; /* n at the last fit attempt */
    tc_pipeline_job_t *job; /* a SARIMA fit started at n == job_from_n, not applied yet */
    uint64_t job_from_n;
    tc_autoscale_t as;
} track_t;

/* A kept annotation: target key (normalised), validity and features. */
typedef struct annot {
    char key[TC_SERIESKEY_MAX + 1];
    size_t key_len;
    bool site_wide;      /* the key is a bare site: applies to all its series */
    int64_t from_ms, to_ms; /* [from, to); to == 0: open-ended */
    int64_t time_ms;     /* issue time */
    uint64_t seq;        /* arrival order, breaks ties of time */
    float *features;     /* exog_dim values */
} annot_t;

/* A bucket closed in the current tick. */
typedef struct closed {
    uint32_t series;
    tc_bucket_t b;
} closed_t;

struct tc_pipeline {
    tc_pipeline_config_t cfg;
    tc_pipeline_sink_t sink;
    tc_decoder_t *dec;
    tc_registry_t *reg;
    tc_window_t *win;
    tc_event_t ev;
    tc_pipeline_stats_t st;
    char err[256];
    char keybuf[TC_SERIESKEY_MAX + 1];
    /* forecasting */
    unsigned n_metrics;             /* forecast metrics */
    tc_metric_t metrics[TC_METRIC_COUNT];
    size_t hcap;                    /* history ring per track */
    track_t *tracks;                /* cap_series * n_metrics */
    size_t cap_series;
    closed_t *tick;                 /* buckets of the current tick */
    size_t n_tick, cap_tick;
    tc_lstm_t *lstm[TC_METRIC_COUNT]; /* per metric slot, when enabled */
    /* workspaces, allocated once (tick-sized ones grow with the series count) */
    tc_forecast_step_t *paths;      /* N_MODELS x horizon, per tick entry being emitted */
    bool has_path[N_MODELS];
    double *upper;                  /* horizon */
    double *fit_y;                  /* hcap */
    tc_arima_fc_t *afc;             /* horizon */
    int32_t *l_slots;               /* lstm max_batch */
    int64_t *l_t;
    float *l_y, *l_mean1, *l_sd1;
    float *l_mean, *l_sd;           /* max_batch x horizon */
    size_t *l_entry;                /* tick entry of each batch row */
    size_t *lstm_row;               /* per tick entry: row in the LSTM output, or SIZE_MAX */
    /* annotations */
    annot_t *annots;                /* max_annotations, n_annots used */
    float *annot_feat;              /* max_annotations x exog_dim */
    size_t n_annots;
    uint64_t annot_seq;
    float *l_exog1, *l_exogh;       /* max_batch x exog_dim, max_batch x horizon x exog_dim */
    /* churn */
    tc_churn_t *churn;
    int64_t churn_max_ms;           /* largest event time given to churn */
    int64_t next_sweep_ms, next_refit_ms; /* 0 = not scheduled yet */
    tc_pipeline_job_t *churn_job;   /* a population refit not applied yet */
    int64_t churn_job_due_ms;       /* applied at the first churn event at or after this */
    float *lstm_out_mean, *lstm_out_sd; /* cap_tick x horizon */
};

void tc_pipeline_config_default(tc_pipeline_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    tc_decode_limits_default(&cfg->decode);
    cfg->keying.mode = TC_SERIESKEY_SITE;
    cfg->keying.path_depth = 1;
    cfg->window.bucket_ms = 60000;
    cfg->window.lateness_ms = 10000;
    cfg->window.ring = 60;
    cfg->window.hll_precision = 12;
    cfg->window.max_series = 100000;
    cfg->horizon = 0;
    cfg->forecast_metrics = 1u << TC_METRIC_REQUESTS;
    cfg->season = 60;
    cfg->publish = TC_PIPELINE_PUBLISH_BEST;
    cfg->ensemble_lambda = 0.97;
    cfg->arima = false;
    tc_arima_spec_default(&cfg->arima_spec);
    cfg->arima_spec.p = 2;
    cfg->arima_spec.d = 1;
    cfg->arima_spec.q = 1;
    cfg->arima_spec.P = cfg->arima_spec.D = cfg->arima_spec.Q = 0;
    cfg->arima_spec.s = 0;
    cfg->arima_fit_after = 120;
    cfg->arima_refit_every = 0;
    cfg->lstm = false;
    tc_lstm_config_default(&cfg->lstm_cfg);
    cfg->exog_dim = 0;
    cfg->max_annotations = 1024;
    cfg->churn = false;
    tc_churn_config_default(&cfg->churn_cfg);
    cfg->churn_sweep_every_ms = 3600000;
    cfg->churn_sweep_users = 10000;
    cfg->churn_refit_apply_ms = 300000;
}

static const char *churn_model_name(const tc_churn_config_t *c)
{
    return c->supervised ? "supervised" : c->model == TC_BGNBD_MBG ? "mbgnbd" : "bgnbd";
}

static void on_churn_alert(void *ud, const tc_churn_alert_t *a)
{
    tc_pipeline_t *p = ud;
    p->st.churn_alerts++;
    if (!p->sink.churn_alert)
        return;
    tc_pipeline_churn_alert_t out = {.user = a->user_hex,
                                     .risk = a->risk,
                                     .p_alive = a->p_alive,
                                     .expected_transactions = a->expected_transactions,
                                     .threshold = a->threshold,
                                     .last_seen_ms = a->last_seen_ms,
                                     .as_of_ms = a->as_of_ms};
    if (p->sink.churn_alert(p->sink.ctx, &out))
        p->st.sink_errors++;
}

static void churn_refit_start(tc_pipeline_t *p, int64_t now_ms);
static void churn_refit_apply(tc_pipeline_t *p);

/* One event into the churn engine, then the sweeper and refit when due. */
static void churn_event(tc_pipeline_t *p, const tc_event_t *ev)
{
    if (!ev->user_id.len)
        return;
    tc_churn_ev_t kind = TC_CHURN_EV_ACTIVITY;
    double value = 0;
    if (ev->kind == TC_EVENT_BEHAVIOR) {
        value = ev->behavior.value;
        if (ev->behavior.type == TC_BEHAVIOR_PURCHASE)
            kind = TC_CHURN_EV_PURCHASE;
        else if (ev->behavior.type == TC_BEHAVIOR_CANCEL)
            kind = TC_CHURN_EV_CANCEL;
    }
    if (tc_churn_observe(p->churn, ev->user_id.ptr, ev->user_id.len, ev->time_ms, kind, value))
        return;
    p->st.churn_events++;
    if (ev->time_ms > p->churn_max_ms)
        p->churn_max_ms = ev->time_ms;
    if (p->sink.churn_score) {
        uint64_t id = tc_churn_id(p->churn, ev->user_id.ptr, ev->user_id.len);
        tc_churn_score_t sc;
        if (tc_churn_score(p->churn, id, ev->time_ms, &sc) == 0) {
            char hex[17];
            snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)id);
            const tc_churn_config_t *c = &p->cfg.churn_cfg;
            tc_pipeline_churn_score_t out = {
                .user = hex,
                .risk = sc.risk,
                .p_alive = sc.p_alive,
                .expected_transactions = sc.expected_transactions,
                .last_seen_ms = sc.last_seen_ms,
                .horizon_ms = (int64_t)(c->horizon * c->time_unit_s * 1000.0),
                .as_of_ms = ev->time_ms,
                .frequency = sc.frequency,
                .model = churn_model_name(c)};
            if (p->sink.churn_score(p->sink.ctx, &out))
                p->st.sink_errors++;
        }
    }
    int64_t now = p->churn_max_ms;
    if (p->cfg.churn_sweep_every_ms) {
        if (!p->next_sweep_ms)
            p->next_sweep_ms = now + p->cfg.churn_sweep_every_ms;
        else if (now >= p->next_sweep_ms) {
            tc_churn_sweep(p->churn, now, p->cfg.churn_sweep_users, p->cfg.churn_evict_idle_ms,
                           NULL);
            p->next_sweep_ms = now + p->cfg.churn_sweep_every_ms;
        }
    }
    if (p->churn_job && now >= p->churn_job_due_ms)
        churn_refit_apply(p);
    if (p->cfg.churn_refit_every_ms) {
        if (!p->next_refit_ms)
            p->next_refit_ms = now + p->cfg.churn_refit_every_ms;
        else if (now >= p->next_refit_ms) {
            churn_refit_start(p, now);
            p->next_refit_ms = now + p->cfg.churn_refit_every_ms;
        }
    }
}

/* Returns the track of (series, metric slot), creating it; NULL if no memory. */
static track_t *track_get(tc_pipeline_t *p, uint32_t series, unsigned slot)
{
    if (series >= p->cap_series) {
        size_t cap = p->cap_series ? p->cap_series : 16;
        while (cap <= series)
            cap *= 2;
        track_t *t = realloc(p->tracks, cap * p->n_metrics * sizeof(*t));
        if (!t)
            return NULL;
        memset(t + p->cap_series * p->n_metrics, 0,
               (cap - p->cap_series) * p->n_metrics * sizeof(*t));
        p->tracks = t;
        p->cap_series = cap;
    }
    track_t *t = &p->tracks[(size_t)series * p->n_metrics + slot];
    if (!t->hist) {
        t->hist = calloc(p->hcap, sizeof(*t->hist));
        if (!t->hist)
            return NULL;
        for (int m = 0; m < N_MODELS; m++) {
            tc_accuracy_init(&t->acc[m], NAN, 1.0);
            t->pend_mean[m] = t->pend_lo80[m] = t->pend_hi80[m] = NAN;
        }
        tc_ensemble_init(&t->ens, N_BASE, p->cfg.ensemble_lambda);
        if (p->cfg.autoscale.enabled)
            tc_autoscale_init(&t->as, &p->cfg.autoscale.rule);
    }
    return t;
}

static double hist_at(const tc_pipeline_t *p, const track_t *t, uint64_t tau)
{
    return t->hist[tau % p->hcap];
}

/*
 * A SARIMA fit on a copy of a track's last values, or a churn population
 * refit (BG/NBD MLE) on a copy of the users' statistics.
 */
enum { JOB_ARIMA = 0, JOB_CHURN = 1 };

struct tc_pipeline_job {
    int kind;
    tc_arima_spec_t spec;
    bool automatic;
    int season;
    size_t n;
    double *y;         /* n values, owned */
    bool submitted;    /* handed to the executor (wait before use) */
    bool ran;
    int rc;            /* of the fit, once ran */
    tc_arima_t *result;
    tc_churn_stats_t cs;            /* churn: the statistics, owned when has_cs */
    bool has_cs;
    tc_bgnbd_model_t churn_model;
    tc_bgnbd_params_t churn_params; /* churn: the fit, once ran with rc == 0 */
    void *user;
};

void tc_pipeline_job_run(tc_pipeline_job_t *job)
{
    if (job->kind == JOB_CHURN) {
        tc_bgnbd_fit_opts_t opts;
        tc_bgnbd_fit_opts_default(&opts);
        tc_bgnbd_fit_result_t res;
        job->rc = job->cs.data.n < 2 ? TC_EINVAL
                                     : tc_bgnbd_fit(job->churn_model, &job->cs.data, &opts, &res);
        if (job->rc == 0)
            job->churn_params = res.params;
        job->ran = true;
        return;
    }
    job->rc = job->automatic
                  ? tc_arima_auto(job->y, NULL, job->n, 0, job->season, NAN, NULL, &job->result)
                  : tc_arima_fit(&job->spec, job->y, NULL, job->n, NULL, &job->result);
    job->ran = true;
}

void tc_pipeline_job_set_user(tc_pipeline_job_t *job, void *user)
{
    job->user = user;
}

void *tc_pipeline_job_user(const tc_pipeline_job_t *job)
{
    return job->user;
}

/* Makes sure the job has run (waiting for the executor when submitted). */
static void job_settle(const tc_pipeline_t *p, tc_pipeline_job_t *job)
{
    if (job->submitted) {
        p->cfg.executor.wait(p->cfg.executor.ud, job);
        job->submitted = false;
        if (p->cfg.executor.release)
            p->cfg.executor.release(p->cfg.executor.ud, job);
    }
    if (!job->ran)
        tc_pipeline_job_run(job);
}

static void job_free(const tc_pipeline_t *p, tc_pipeline_job_t *job)
{
    if (!job)
        return;
    if (job->submitted) { /* never free memory a worker may still touch */
        p->cfg.executor.wait(p->cfg.executor.ud, job);
        if (p->cfg.executor.release)
            p->cfg.executor.release(p->cfg.executor.ud, job);
    }
    tc_arima_free(job->result);
    free(job->y);
    if (job->has_cs)
        tc_churn_stats_deinit(&job->cs);
    free(job);
}

/* Hands a job to the executor when it may run late, else runs it now. */
static void job_start(const tc_pipeline_t *p, tc_pipeline_job_t *job, bool may_wait)
{
    if (p->cfg.executor.submit && may_wait && p->cfg.executor.submit(p->cfg.executor.ud, job) == 0)
        job->submitted = true;
    else
        tc_pipeline_job_run(job);
}

/* Uses the finished population refit. */
static void churn_refit_apply(tc_pipeline_t *p)
{
    tc_pipeline_job_t *job = p->churn_job;
    job_settle(p, job);
    if (job->rc == 0 && tc_churn_set_params(p->churn, job->churn_model, &job->churn_params) == 0)
        p->st.churn_refits++;
    p->churn_job = NULL;
    job_free(p, job);
}

/*
 * Starts a population refit on the statistics at now_ms; it is used
 * churn_refit_apply_ms of event time later (at once when 0), so the scores
 * do not depend on when the worker finishes.
 */
static void churn_refit_start(tc_pipeline_t *p, int64_t now_ms)
{
    if (p->churn_job)
        churn_refit_apply(p); /* refits closer together than the lag: use the older first */
    tc_pipeline_job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return; /* out of memory: retried when due again */
    job->kind = JOB_CHURN;
    if (tc_churn_stats_export(p->churn, now_ms, &job->cs)) {
        free(job);
        return;
    }
    job->has_cs = true;
    tc_bgnbd_params_t cur;
    tc_churn_get_params(p->churn, &job->churn_model, &cur);
    p->churn_job = job;
    p->churn_job_due_ms = now_ms + p->cfg.churn_refit_apply_ms;
    job_start(p, job, p->cfg.churn_refit_apply_ms > 0);
    if (!p->cfg.churn_refit_apply_ms)
        churn_refit_apply(p);
}

/* Starts a fit on the track's last arima_fit_after values (inline without executor). */
static void arima_start_fit(tc_pipeline_t *p, track_t *t)
{
    t->arima_tried_n = t->n;
    tc_pipeline_job_t *job = calloc(1, sizeof(*job));
    size_t n = p->cfg.arima_fit_after;
    if (!job || !(job->y = malloc(n * sizeof(*job->y)))) {
        free(job);
        return; /* out of memory: retried when due again */
    }
    for (size_t i = 0; i < n; i++)
        job->y[i] = hist_at(p, t, t->n - n + i);
    job->n = n;
    job->spec = p->cfg.arima_spec;
    job->automatic = p->cfg.arima_auto;
    job->season = (int)p->cfg.season;
    t->job = job;
    t->job_from_n = t->n;
    job_start(p, job, p->cfg.arima_apply_lag > 0);
}

/* Uses the finished fit: replays the values seen since it started. */
static void arima_apply(tc_pipeline_t *p, track_t *t)
{
    tc_pipeline_job_t *job = t->job;
    job_settle(p, job);
    if (job->rc == 0 && job->result) {
        for (uint64_t tau = t->job_from_n; tau < t->n; tau++)
            tc_arima_update(job->result, hist_at(p, t, tau), NULL);
        tc_arima_free(t->arima);
        t->arima = job->result;
        job->result = NULL;
    }
    t->job = NULL;
    job_free(p, job);
}

/*
 * Adds the value y of the bucket starting at start_ms: scores the pending
 * one-step forecasts, feeds the ensemble their errors, updates the naive
 * residuals, the history and the SARIMA filter (fitting it when due).
 */
static void track_observe(tc_pipeline_t *p, track_t *t, int64_t start_ms, double y)
{
    unsigned s = p->cfg.season;
    if (t->pending && t->pending_for_ms == start_ms) {
        for (int m = 0; m < N_MODELS; m++)
            if (isfinite(t->pend_mean[m]))
                tc_accuracy_add_interval(&t->acc[m], y, t->pend_mean[m], t->pend_lo80[m],
                                         t->pend_hi80[m]);
        tc_ensemble_observe(&t->ens, t->pend_mean, y);
    }
    t->pending = false;
    if (t->n >= 1) {
        double e = y - hist_at(p, t, t->n - 1);
        t->ss_naive += e * e;
        t->n_naive++;
    }
    if (t->n >= s) {
        double e = y - hist_at(p, t, t->n - s);
        t->ss_season += e * e;
        t->sa_season += fabs(e);
        t->n_season++;
        for (int m = 0; m < N_MODELS; m++)
            t->acc[m].scale = t->sa_season / (double)t->n_season;
    }
    t->hist[t->n % p->hcap] = y;
    t->n++;
    if (!p->cfg.arima)
        return;
    /* The current model keeps filtering until a new fit replaces it. */
    if (t->arima)
        tc_arima_update(t->arima, y, NULL);
    if (!t->job) {
        bool due = t->arima ? p->cfg.arima_refit_every &&
                                  t->n - t->arima_tried_n >= p->cfg.arima_refit_every
                            : t->n >= p->cfg.arima_fit_after &&
                                  (t->arima_tried_n == 0 ||
                                   t->n - t->arima_tried_n >= p->cfg.arima_fit_after);
        if (due)
            arima_start_fit(p, t);
    }
    if (t->job && t->n >= t->job_from_n + p->cfg.arima_apply_lag)
        arima_apply(p, t);
}

static void set_step(tc_forecast_step_t *st, double mean, double sd)
{
    st->mean = mean;
    st->lo80 = mean - Z80 * sd;
    st->hi80 = mean + Z80 * sd;
    st->lo95 = mean - Z95 * sd;
    st->hi95 = mean + Z95 * sd;
}

/* Seasonal-naive path; false while there is too little history. */
static bool snaive_path(const tc_pipeline_t *p, const track_t *t, tc_forecast_step_t *out)
{
    unsigned s = p->cfg.season;
    bool seasonal = s > 1 && t->n >= s && t->n_season > 0;
    if (!seasonal && t->n_naive == 0)
        return false;
    double sigma = sqrt(seasonal ? t->ss_season / (double)t->n_season
                                 : t->ss_naive / (double)t->n_naive);
    uint64_t last = t->n - 1; /* time index of the newest value */
    for (unsigned h = 1; h <= p->cfg.horizon; h++) {
        if (seasonal) {
            uint64_t k = (h - 1) / s + 1;
            set_step(&out[h - 1], hist_at(p, t, last + h - s * k), sigma * sqrt((double)k));
        } else {
            set_step(&out[h - 1], hist_at(p, t, last), sigma * sqrt((double)h));
        }
    }
    return true;
}

static bool arima_path(tc_pipeline_t *p, track_t *t, tc_forecast_step_t *out)
{
    if (!t->arima || tc_arima_forecast(t->arima, (int)p->cfg.horizon, NULL, p->afc))
        return false;
    for (unsigned h = 0; h < p->cfg.horizon; h++) {
        const tc_arima_fc_t *f = &p->afc[h];
        if (!isfinite(f->mean))
            return false;
        out[h] = (tc_forecast_step_t){f->mean, f->lo80, f->hi80, f->lo95, f->hi95};
    }
    return true;
}

static bool lstm_path(const tc_pipeline_t *p, size_t entry, tc_forecast_step_t *out)
{
    size_t row = p->lstm_row[entry];
    if (row == SIZE_MAX)
        return false;
    const float *mean = p->lstm_out_mean + row * p->cfg.horizon;
    const float *sd = p->lstm_out_sd + row * p->cfg.horizon;
    for (unsigned h = 0; h < p->cfg.horizon; h++) {
        if (!isfinite(mean[h]) || !isfinite(sd[h]))
            return false;
        set_step(&out[h], mean[h], sd[h]);
    }
    return true;
}

/* Combines the base paths with the track's ensemble weights, step by step. */
static bool ensemble_path(tc_pipeline_t *p, const track_t *t, tc_forecast_step_t *out)
{
    int have = 0;
    for (int m = 0; m < N_BASE; m++)
        have += p->has_path[m];
    if (have < 2)
        return false;
    for (unsigned h = 0; h < p->cfg.horizon; h++) {
        double mean[N_BASE], sd[N_BASE], cm, csd;
        for (int m = 0; m < N_BASE; m++) {
            const tc_forecast_step_t *st = &p->paths[(size_t)m * p->cfg.horizon + h];
            mean[m] = p->has_path[m] ? st->mean : NAN;
            sd[m] = p->has_path[m] ? (st->hi95 - st->mean) / Z95 : NAN;
        }
        if (tc_ensemble_combine(&t->ens, mean, sd, &cm, &csd) || !isfinite(cm))
            return false;
        set_step(&out[h], cm, isfinite(csd) ? csd : 0);
    }
    return true;
}

static void emit_forecast(tc_pipeline_t *p, const track_t *t, uint32_t series, tc_metric_t metric,
                          int model, const tc_bucket_t *b)
{
    p->st.forecasts++;
    if (!p->sink.forecast)
        return;
    size_t key_len;
    const char *key = tc_registry_key(p->reg, series, &key_len);
    tc_pipeline_forecast_t f = {.series = series,
                                .key = key,
                                .key_len = key_len,
                                .metric = metric,
                                .model = model_names[model],
                                .origin_ms = b->start_ms,
                                .bucket_ms = p->cfg.window.bucket_ms,
                                .actual = tc_bucket_metric(b, metric),
                                .horizon = p->cfg.horizon,
                                .steps = p->paths + (size_t)model * p->cfg.horizon};
    tc_accuracy_get(&t->acc[model], &f.accuracy);
    if (p->sink.forecast(p->sink.ctx, &f))
        p->st.sink_errors++;
}

static void autoscale(tc_pipeline_t *p, track_t *t, uint32_t series, int model,
                      const tc_bucket_t *b)
{
    const tc_forecast_step_t *path = p->paths + (size_t)model * p->cfg.horizon;
    for (unsigned h = 0; h < p->cfg.horizon; h++)
        p->upper[h] = p->cfg.autoscale.use_80 ? path[h].hi80 : path[h].hi95;
    tc_autoscale_decision_t d;
    if (tc_autoscale_decide(&p->cfg.autoscale.rule, &t->as, b->start_ms, p->upper,
                            p->cfg.horizon, p->cfg.autoscale.use_80 ? "p80" : "p95", &d) ||
        !d.change)
        return;
    p->st.scale_signals++;
    if (!p->sink.scale)
        return;
    size_t key_len;
    const char *key = tc_registry_key(p->reg, series, &key_len);
    tc_pipeline_scale_t sc = {.series = series,
                              .key = key,
                              .key_len = key_len,
                              .current_replicas = d.previous,
                              .recommended_replicas = d.recommended,
                              .forecast_upper = d.peak,
                              .at_h = d.at_h,
                              .capacity_per_replica = p->cfg.autoscale.rule.capacity_per_replica,
                              .origin_ms = b->start_ms,
                              .reason = d.reason};
    if (p->sink.scale(p->sink.ctx, &sc))
        p->st.sink_errors++;
}

/* Whether annotation a applies to series key k during [t, t + w). */
static bool annot_applies(const annot_t *a, const char *k, size_t klen, int64_t t, int64_t w)
{
    if (a->from_ms >= t + w || (a->to_ms && a->to_ms <= t))
        return false;
    if (klen == a->key_len && !memcmp(k, a->key, klen))
        return true;
    return a->site_wide && klen > a->key_len && k[a->key_len] == '/' &&
           !memcmp(k, a->key, a->key_len);
}

/* Features for series during the bucket starting at t into row (zeros if none). */
static void exog_row(const tc_pipeline_t *p, uint32_t series, int64_t t, float *row)
{
    unsigned d = p->cfg.exog_dim;
    size_t klen;
    const char *k = tc_registry_key(p->reg, series, &klen);
    const annot_t *best = NULL;
    for (size_t i = 0; k && i < p->n_annots; i++) {
        const annot_t *a = &p->annots[i];
        if (annot_applies(a, k, klen, t, p->cfg.window.bucket_ms) &&
            (!best || a->time_ms > best->time_ms ||
             (a->time_ms == best->time_ms && a->seq > best->seq)))
            best = a;
    }
    if (best)
        memcpy(row, best->features, d * sizeof(*row));
    else
        memset(row, 0, d * sizeof(*row));
}

/*
 * Keeps an annotation. When the table is full the one that expires first
 * (open-ended ones last; ties: the oldest) makes room.
 */
static int annot_add(tc_pipeline_t *p, const tc_event_t *ev)
{
    unsigned d = p->cfg.exog_dim;
    if (ev->annotation.n_features != d) {
        snprintf(p->err, sizeof(p->err), "annotation has %zu features, exog_dim is %u",
                 ev->annotation.n_features, d);
        return TC_EINVAL;
    }
    char key[TC_SERIESKEY_MAX + 1];
    size_t klen;
    int rc = tc_serieskey_make(&p->cfg.keying, ev, key, sizeof(key), &klen);
    if (rc) {
        snprintf(p->err, sizeof(p->err), "annotation target: %s", tc_strerror(rc));
        return rc;
    }
    size_t slot = p->n_annots;
    if (slot == p->cfg.max_annotations) {
        slot = 0;
        for (size_t i = 1; i < p->n_annots; i++) {
            const annot_t *a = &p->annots[i], *b = &p->annots[slot];
            int64_t ea = a->to_ms ? a->to_ms : INT64_MAX, eb = b->to_ms ? b->to_ms : INT64_MAX;
            if (ea < eb || (ea == eb && a->seq < b->seq))
                slot = i;
        }
    } else {
        p->n_annots++;
    }
    annot_t *a = &p->annots[slot];
    memcpy(a->key, key, klen + 1);
    a->key_len = klen;
    a->site_wide = memchr(key, '/', klen) == NULL;
    a->from_ms = ev->annotation.valid_from_ms;
    a->to_ms = ev->annotation.valid_to_ms;
    a->time_ms = ev->time_ms;
    a->seq = ++p->annot_seq;
    a->features = p->annot_feat + slot * d;
    for (unsigned j = 0; j < d; j++)
        a->features[j] = ev->annotation.features[j];
    return 0;
}

/* One LSTM step (and path forecast) for the tick's entries of metric slot i. */
static void lstm_tick(tc_pipeline_t *p, unsigned i)
{
    tc_lstm_t *m = p->lstm[i];
    size_t max_batch = (size_t)p->cfg.lstm_cfg.max_batch, H = p->cfg.horizon;
    size_t e = 0;
    for (size_t k = 0; k < p->n_tick; k++)
        p->lstm_row[k] = SIZE_MAX;
    while (e < p->n_tick) {
        size_t nb = 0;
        for (; e < p->n_tick && nb < max_batch; e++) {
            const closed_t *c = &p->tick[e];
            if (c->series >= (uint32_t)p->cfg.lstm_cfg.max_series)
                continue;
            p->l_slots[nb] = (int32_t)c->series;
            p->l_t[nb] = c->b.start_ms;
            p->l_y[nb] = (float)tc_bucket_metric(&c->b, p->metrics[i]);
            p->l_entry[nb] = e;
            if (p->cfg.exog_dim) {
                /* Step: features of the next bucket; path: of bucket t + h. */
                size_t d = p->cfg.exog_dim;
                int64_t w = p->cfg.window.bucket_ms;
                exog_row(p, c->series, c->b.start_ms + w, p->l_exog1 + nb * d);
                for (size_t h = 1; h <= H; h++)
                    exog_row(p, c->series, c->b.start_ms + (int64_t)h * w,
                             p->l_exogh + (nb * H + h - 1) * d);
            }
            nb++;
        }
        if (!nb)
            continue;
        const float *x1 = p->cfg.exog_dim ? p->l_exog1 : NULL;
        const float *xh = p->cfg.exog_dim ? p->l_exogh : NULL;
        if (tc_lstm_step(m, nb, p->l_slots, p->l_t, p->l_y, x1, true, p->l_mean1, p->l_sd1) ||
            tc_lstm_forecast(m, nb, p->l_slots, (int)H, xh, p->l_mean, p->l_sd))
            continue;
        for (size_t r = 0; r < nb; r++) {
            size_t ent = p->l_entry[r];
            p->lstm_row[ent] = ent;
            memcpy(p->lstm_out_mean + ent * H, p->l_mean + r * H, H * sizeof(float));
            memcpy(p->lstm_out_sd + ent * H, p->l_sd + r * H, H * sizeof(float));
        }
    }
}

/* Runs the engines on the buckets of the current tick, then empties it. */
static void process_tick(tc_pipeline_t *p)
{
    size_t H = p->cfg.horizon;
    for (unsigned i = 0; i < p->n_metrics; i++) {
        tc_metric_t metric = p->metrics[i];
        for (size_t e = 0; e < p->n_tick; e++) {
            track_t *t = track_get(p, p->tick[e].series, i);
            if (t)
                track_observe(p, t, p->tick[e].b.start_ms, tc_bucket_metric(&p->tick[e].b, metric));
        }
        if (p->lstm[i])
            lstm_tick(p, i);
        for (size_t e = 0; e < p->n_tick; e++) {
            const closed_t *c = &p->tick[e];
            track_t *t = track_get(p, c->series, i);
            if (!t)
                continue; /* out of memory: this series is not forecast */
            p->has_path[M_SNAIVE] = snaive_path(p, t, p->paths + M_SNAIVE * H);
            p->has_path[M_SARIMA] = arima_path(p, t, p->paths + M_SARIMA * H);
            p->has_path[M_LSTM] = p->lstm[i] && lstm_path(p, e, p->paths + M_LSTM * H);
            p->has_path[M_ENSEMBLE] = ensemble_path(p, t, p->paths + M_ENSEMBLE * H);
            int best = -1;
            for (int m = 0; m < N_MODELS; m++) {
                t->pend_mean[m] = p->has_path[m] ? p->paths[m * H].mean : NAN;
                t->pend_lo80[m] = p->has_path[m] ? p->paths[m * H].lo80 : NAN;
                t->pend_hi80[m] = p->has_path[m] ? p->paths[m * H].hi80 : NAN;
                if (p->has_path[m])
                    best = m; /* the ensemble when it exists, else the one model */
            }
            if (best < 0)
                continue;
            t->pending = true;
            t->pending_for_ms = c->b.start_ms + p->cfg.window.bucket_ms;
            for (int m = 0; m < N_MODELS; m++)
                if (p->has_path[m] && (m == best || p->cfg.publish == TC_PIPELINE_PUBLISH_ALL))
                    emit_forecast(p, t, c->series, metric, m, &c->b);
            if (p->cfg.autoscale.enabled && metric == p->cfg.autoscale.metric)
                autoscale(p, t, c->series, best, &c->b);
        }
    }
    p->n_tick = 0;
}

/* Grows the tick-sized workspaces to n entries. */
static int tick_reserve(tc_pipeline_t *p, size_t n)
{
    if (n <= p->cap_tick)
        return 0;
    size_t cap = p->cap_tick ? 2 * p->cap_tick : 64;
    while (cap < n)
        cap *= 2;
    size_t H = p->cfg.horizon ? p->cfg.horizon : 1;
    closed_t *tick = realloc(p->tick, cap * sizeof(*tick));
    if (!tick)
        return TC_ENOMEM;
    p->tick = tick;
    size_t *row = realloc(p->lstm_row, cap * sizeof(*row));
    if (!row)
        return TC_ENOMEM;
    p->lstm_row = row;
    if (p->cfg.lstm) {
        float *a = realloc(p->lstm_out_mean, cap * H * sizeof(*a));
        if (!a)
            return TC_ENOMEM;
        p->lstm_out_mean = a;
        float *b = realloc(p->lstm_out_sd, cap * H * sizeof(*b));
        if (!b)
            return TC_ENOMEM;
        p->lstm_out_sd = b;
    }
    p->cap_tick = cap;
    return 0;
}

static void on_close(void *ud, uint32_t series, const char *key, size_t key_len,
                     const tc_bucket_t *b)
{
    tc_pipeline_t *p = ud;
    p->st.buckets++;
    if (p->sink.bucket) {
        tc_pipeline_bucket_t out = {.series = series,
                                    .key = key,
                                    .key_len = key_len,
                                    .bucket_ms = p->cfg.window.bucket_ms,
                                    .b = b};
        if (p->sink.bucket(p->sink.ctx, &out))
            p->st.sink_errors++;
    }
    if (!p->cfg.horizon)
        return;
    if (p->n_tick && p->tick[0].b.start_ms != b->start_ms)
        process_tick(p);
    if (tick_reserve(p, p->n_tick + 1))
        return; /* out of memory: this bucket is not forecast */
    p->tick[p->n_tick].series = series;
    p->tick[p->n_tick].b = *b;
    p->n_tick++;
}

/* Ends a public call: the last tick's buckets are processed now. */
static void end_call(tc_pipeline_t *p)
{
    if (p->n_tick)
        process_tick(p);
}

int tc_pipeline_new(const tc_pipeline_config_t *cfg, const tc_pipeline_sink_t *sink,
                    tc_pipeline_t **out)
{
    *out = NULL;
    if (cfg->horizon > TC_PIPELINE_MAX_HORIZON || cfg->window.max_series < 1 ||
        cfg->window.max_series >= (1u << 31) || cfg->season < 1 || cfg->season > 100000 ||
        (cfg->forecast_metrics & ~((1u << TC_METRIC_COUNT) - 1)) ||
        !(cfg->ensemble_lambda > 0 && cfg->ensemble_lambda <= 1) ||
        (cfg->arima && (cfg->arima_fit_after < 8 || cfg->arima_fit_after > 100000 ||
                        cfg->arima_apply_lag > 100000)) ||
        (cfg->executor.submit && !cfg->executor.wait) ||
        cfg->exog_dim > TC_LSTM_MAX_EXOG || cfg->exog_dim > TC_EVENT_MAX_FEATURES ||
        (cfg->exog_dim && (cfg->max_annotations < 1 || cfg->max_annotations > 1000000)))
        return TC_EINVAL;
    if (cfg->autoscale.enabled &&
        (!cfg->horizon || tc_autoscale_config_check(&cfg->autoscale.rule) ||
         (unsigned)cfg->autoscale.metric >= TC_METRIC_COUNT ||
         !(cfg->forecast_metrics & (1u << cfg->autoscale.metric))))
        return TC_EINVAL;
    tc_pipeline_t *p = calloc(1, sizeof(*p));
    if (!p)
        return TC_ENOMEM;
    p->cfg = *cfg;
    if (sink)
        p->sink = *sink;
    int rc = TC_ENOMEM;
    p->dec = tc_decoder_new(&cfg->decode);
    /* A fixed hash key keeps the registry's layout, hence snapshots, reproducible. */
    static const uint8_t reg_key[TC_REGISTRY_KEYBYTES] = "tidecast-series";
    p->reg = tc_registry_new(cfg->window.max_series, reg_key);
    for (int m = 0; m < TC_METRIC_COUNT; m++)
        if (cfg->forecast_metrics & (1u << m))
            p->metrics[p->n_metrics++] = (tc_metric_t)m;
    if (!p->n_metrics)
        p->cfg.horizon = 0; /* nothing to forecast */
    if (!p->cfg.horizon)
        p->cfg.arima = p->cfg.lstm = false;
    p->hcap = p->cfg.season;
    if (p->cfg.arima && p->cfg.arima_fit_after > p->hcap)
        p->hcap = p->cfg.arima_fit_after;
    if (p->cfg.arima && p->cfg.arima_apply_lag >= p->hcap)
        p->hcap = p->cfg.arima_apply_lag + 1;
    size_t H = p->cfg.horizon ? p->cfg.horizon : 1;
    p->paths = calloc(N_MODELS * H, sizeof(*p->paths));
    p->upper = calloc(H, sizeof(*p->upper));
    p->fit_y = calloc(p->hcap, sizeof(*p->fit_y));
    p->afc = calloc(H, sizeof(*p->afc));
    if (!p->dec || !p->reg || !p->paths || !p->upper || !p->fit_y || !p->afc)
        goto fail;
    if (p->cfg.exog_dim) {
        p->annots = calloc(p->cfg.max_annotations, sizeof(*p->annots));
        p->annot_feat = calloc((size_t)p->cfg.max_annotations * p->cfg.exog_dim,
                               sizeof(*p->annot_feat));
        if (!p->annots || !p->annot_feat)
            goto fail;
    }
    if (p->cfg.lstm) {
        tc_lstm_config_t lc = p->cfg.lstm_cfg;
        lc.max_horizon = (int)H;
        lc.n_exog = (int)p->cfg.exog_dim;
        lc.bucket_ms = p->cfg.window.bucket_ms;
        if (lc.max_series > (int)p->cfg.window.max_series)
            lc.max_series = (int)p->cfg.window.max_series;
        if (lc.max_batch > lc.max_series)
            lc.max_batch = lc.max_series;
        p->cfg.lstm_cfg = lc;
        for (unsigned i = 0; i < p->n_metrics; i++)
            if ((rc = tc_lstm_new(&lc, &p->lstm[i])))
                goto fail;
        rc = TC_ENOMEM;
        size_t B = (size_t)lc.max_batch;
        p->l_slots = calloc(B, sizeof(*p->l_slots));
        p->l_t = calloc(B, sizeof(*p->l_t));
        p->l_y = calloc(B, sizeof(*p->l_y));
        p->l_mean1 = calloc(B, sizeof(*p->l_mean1));
        p->l_sd1 = calloc(B, sizeof(*p->l_sd1));
        p->l_mean = calloc(B * H, sizeof(*p->l_mean));
        p->l_sd = calloc(B * H, sizeof(*p->l_sd));
        p->l_entry = calloc(B, sizeof(*p->l_entry));
        size_t D = p->cfg.exog_dim ? p->cfg.exog_dim : 1;
        p->l_exog1 = calloc(B * D, sizeof(*p->l_exog1));
        p->l_exogh = calloc(B * H * D, sizeof(*p->l_exogh));
        if (!p->l_slots || !p->l_t || !p->l_y || !p->l_mean1 || !p->l_sd1 || !p->l_mean ||
            !p->l_sd || !p->l_entry || !p->l_exog1 || !p->l_exogh)
            goto fail;
    }
    if (p->cfg.churn) {
        tc_churn_config_t cc = p->cfg.churn_cfg;
        cc.on_alert = on_churn_alert;
        cc.on_alert_ud = p;
        p->cfg.churn_cfg = cc;
        if (p->cfg.churn_secret_len < 16 || p->cfg.churn_secret_len > sizeof(p->cfg.churn_secret) ||
            p->cfg.churn_refit_apply_ms < 0) {
            rc = TC_EINVAL;
            goto fail;
        }
        if ((rc = tc_churn_new(&cc, p->cfg.churn_secret, p->cfg.churn_secret_len, &p->churn)))
            goto fail;
        rc = TC_ENOMEM;
    }
    p->win = tc_window_new(&cfg->window, p->reg, on_close, p);
    if (!p->win) {
        rc = TC_EINVAL;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    tc_pipeline_free(p);
    return rc;
}

void tc_pipeline_free(tc_pipeline_t *p)
{
    if (!p)
        return;
    tc_window_free(p->win);
    tc_registry_free(p->reg);
    tc_decoder_free(p->dec);
    for (size_t i = 0; i < p->cap_series * p->n_metrics; i++) {
        free(p->tracks[i].hist);
        tc_arima_free(p->tracks[i].arima);
        job_free(p, p->tracks[i].job);
    }
    job_free(p, p->churn_job);
    for (int i = 0; i < TC_METRIC_COUNT; i++)
        tc_lstm_free(p->lstm[i]);
    tc_churn_free(p->churn);
    free(p->tracks);
    free(p->tick);
    free(p->paths);
    free(p->upper);
    free(p->fit_y);
    free(p->afc);
    free(p->l_slots);
    free(p->l_t);
    free(p->l_y);
    free(p->l_mean1);
    free(p->l_sd1);
    free(p->l_mean);
    free(p->l_sd);
    free(p->l_entry);
    free(p->l_exog1);
    free(p->l_exogh);
    free(p->annots);
    free(p->annot_feat);
    free(p->lstm_row);
    free(p->lstm_out_mean);
    free(p->lstm_out_sd);
    free(p);
}

void tc_pipeline_set_sink(tc_pipeline_t *p, const tc_pipeline_sink_t *sink)
{
    if (sink)
        p->sink = *sink;
    else
        memset(&p->sink, 0, sizeof(p->sink));
}

void tc_pipeline_set_now(tc_pipeline_t *p, int64_t now_ms)
{
    tc_decoder_set_now(p->dec, now_ms);
}

const char *tc_pipeline_last_error(const tc_pipeline_t *p)
{
    return p->err;
}

static int malformed(tc_pipeline_t *p, int rc)
{
    p->st.malformed++;
    snprintf(p->err, sizeof(p->err), "%s", tc_decoder_last_error(p->dec));
    return rc;
}

int tc_pipeline_feed_event(tc_pipeline_t *p, const tc_event_t *ev)
{
    p->err[0] = '\0';
    if (ev->kind == TC_EVENT_ANNOTATION) {
        if (p->cfg.exog_dim) {
            int rc = annot_add(p, ev);
            if (rc) {
                p->st.malformed++;
                return rc;
            }
        }
        p->st.events++;
        p->st.annotations++;
        return 0;
    }
    if (p->churn)
        churn_event(p, ev);
    size_t klen;
    int rc = tc_serieskey_make(&p->cfg.keying, ev, p->keybuf, sizeof(p->keybuf), &klen);
    if (rc) {
        p->st.malformed++;
        snprintf(p->err, sizeof(p->err), "no series key: %s", tc_strerror(rc));
        return rc;
    }
    uint32_t series;
    rc = tc_registry_intern(p->reg, p->keybuf, klen, &series, NULL);
    if (rc == TC_EFULL) {
        p->st.refused++;
        snprintf(p->err, sizeof(p->err), "series limit reached (%zu series)",
                 (size_t)p->cfg.window.max_series);
        return rc;
    }
    if (rc)
        return rc;
    rc = tc_window_add(p->win, series, ev);
    end_call(p);
    if (rc == TC_ELATE) {
        p->st.late++;
        tc_window_stats_t ws;
        tc_window_stats(p->win, &ws);
        snprintf(p->err, sizeof(p->err), "late: event time %lld is before closed-until %lld",
                 (long long)ev->time_ms, (long long)ws.closed_until_ms);
        return rc;
    }
    if (rc)
        return rc;
    p->st.events++;
    return 0;
}

int tc_pipeline_feed_json(tc_pipeline_t *p, tc_event_kind_t kind, const char *buf, size_t len)
{
    int rc = tc_decode_json(p->dec, kind, buf, len, &p->ev);
    if (rc)
        return rc == TC_ENOMEM ? rc : malformed(p, rc);
    return tc_pipeline_feed_event(p, &p->ev);
}

int tc_pipeline_feed_pb(tc_pipeline_t *p, tc_event_kind_t kind, const uint8_t *buf, size_t len)
{
    int rc = tc_decode_pb(p->dec, kind, buf, len, &p->ev);
    if (rc)
        return rc == TC_ENOMEM ? rc : malformed(p, rc);
    return tc_pipeline_feed_event(p, &p->ev);
}

int tc_pipeline_feed_envelope(tc_pipeline_t *p, const uint8_t *buf, size_t len)
{
    int rc = tc_decode_envelope(p->dec, buf, len, &p->ev);
    if (rc)
        return rc == TC_ENOMEM ? rc : malformed(p, rc);
    return tc_pipeline_feed_event(p, &p->ev);
}

void tc_pipeline_advance(tc_pipeline_t *p, int64_t t_ms)
{
    tc_window_advance(p->win, t_ms);
    end_call(p);
}

void tc_pipeline_flush(tc_pipeline_t *p)
{
    tc_window_flush(p->win);
    end_call(p);
}

void tc_pipeline_stats(const tc_pipeline_t *p, tc_pipeline_stats_t *st)
{
    *st = p->st;
    tc_window_stats_t ws;
    tc_window_stats(p->win, &ws);
    st->series = tc_registry_count(p->reg);
    st->started = ws.started;
    st->watermark_ms = ws.watermark_ms;
}

const char *tc_pipeline_series_key(const tc_pipeline_t *p, uint32_t series, size_t *len)
{
    return tc_registry_key(p->reg, series, len);
}

/* The fields of tc_accuracy_t in declaration order (TrackState.accuracy). */
#define ACC_FIELDS(X) X(scale) X(rho) X(w) X(sum_abs) X(sum_sq) X(sum_smape) X(mean_y) X(m2_y) \
    X(w_int) X(w_cov)
#define ACC_COUNT_(f) +1
enum { N_ACC = 0 ACC_FIELDS(ACC_COUNT_) };

int tc_pipeline_snapshot(const tc_pipeline_t *p, const char *group, int32_t partition,
                         const tc_pipeline_offset_t *offsets, size_t n_offsets,
                         int64_t taken_at_ms, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int rc = TC_ENOMEM;
    Tidecast__V1__Snapshot snap = TIDECAST__V1__SNAPSHOT__INIT;
    Tidecast__V1__PipelineState ps = TIDECAST__V1__PIPELINE_STATE__INIT;
    Tidecast__V1__PipelineCounters pc = TIDECAST__V1__PIPELINE_COUNTERS__INIT;
    Tidecast__V1__TopicOffset *offs = NULL, **offp = NULL;
    Tidecast__V1__TrackState *tracks = NULL, **trackp = NULL;
    double *acc = NULL;
    uint8_t *win = NULL;
    size_t win_len = 0, n_tracks = 0;
    ProtobufCBinaryData churn_buf = {0, NULL};
    Tidecast__V1__AnnotationState *annots = NULL, **annotp = NULL;

    if (tc_window_snapshot(p->win, &win, &win_len))
        goto out;
    snap.version = SNAPSHOT_VERSION;
    snap.group = (char *)(group ? group : "");
    snap.partition = partition;
    snap.taken_at_ms = taken_at_ms;
    tc_window_stats_t ws;
    tc_window_stats(p->win, &ws);
    snap.watermark_ms = ws.started ? ws.watermark_ms : 0;
    if (n_offsets) {
        offs = calloc(n_offsets, sizeof(*offs));
        offp = calloc(n_offsets, sizeof(*offp));
        if (!offs || !offp)
            goto out;
        for (size_t i = 0; i < n_offsets; i++) {
            tidecast__v1__topic_offset__init(&offs[i]);
            offs[i].topic = (char *)offsets[i].topic;
            offs[i].offset = offsets[i].offset;
            offp[i] = &offs[i];
        }
        snap.n_offsets = n_offsets;
        snap.offsets = offp;
    }
    pc.events = p->st.events;
    pc.annotations = p->st.annotations;
    pc.malformed = p->st.malformed;
    pc.late = p->st.late;
    pc.refused = p->st.refused;
    pc.buckets = p->st.buckets;
    pc.forecasts = p->st.forecasts;
    pc.scale_signals = p->st.scale_signals;
    pc.sink_errors = p->st.sink_errors;
    pc.churn_events = p->st.churn_events;
    pc.churn_alerts = p->st.churn_alerts;
    pc.churn_refits = p->st.churn_refits;
    ps.churn_max_ms = p->churn_max_ms;
    ps.next_sweep_ms = p->next_sweep_ms;
    ps.next_refit_ms = p->next_refit_ms;
    double churn_job_params[4];
    if (p->churn_job) {
        /* The refit's outcome is deterministic: wait for it and keep it. */
        const tc_pipeline_job_t *job = p->churn_job;
        job_settle(p, p->churn_job);
        ps.churn_job = true;
        ps.churn_job_due_ms = p->churn_job_due_ms;
        ps.churn_job_rc = job->rc;
        ps.churn_job_model = (uint32_t)job->churn_model;
        churn_job_params[0] = job->churn_params.r;
        churn_job_params[1] = job->churn_params.alpha;
        churn_job_params[2] = job->churn_params.a;
        churn_job_params[3] = job->churn_params.b;
        ps.n_churn_job_params = 4;
        ps.churn_job_params = churn_job_params;
    }
    if (p->churn && tc_churn_snapshot(p->churn, &churn_buf.data, &churn_buf.len))
        goto out;
    ps.churn = churn_buf;
    ps.annotation_seq = p->annot_seq;
    ps.exog_dim = p->cfg.exog_dim;
    if (p->n_annots) {
        annots = calloc(p->n_annots, sizeof(*annots));
        annotp = calloc(p->n_annots, sizeof(*annotp));
        if (!annots || !annotp)
            goto out;
        for (size_t i = 0; i < p->n_annots; i++) {
            const annot_t *a = &p->annots[i];
            tidecast__v1__annotation_state__init(&annots[i]);
            annots[i].key = (char *)a->key;
            annots[i].site_wide = a->site_wide;
            annots[i].valid_from_ms = a->from_ms;
            annots[i].valid_to_ms = a->to_ms;
            annots[i].time_ms = a->time_ms;
            annots[i].seq = a->seq;
            annots[i].n_features = p->cfg.exog_dim;
            annots[i].features = a->features;
            annotp[i] = &annots[i];
        }
        ps.n_annotations = p->n_annots;
        ps.annotations = annotp;
    }
    ps.counters = &pc;
    ps.window.data = win;
    ps.window.len = win_len;
    ps.season = p->cfg.season;
    ps.forecast_metrics = p->cfg.forecast_metrics;

    size_t n_all = p->cap_series * p->n_metrics;
    for (size_t i = 0; i < n_all; i++)
        n_tracks += p->tracks[i].hist != NULL;
    ProtobufCBinaryData lstm_bufs[TC_METRIC_COUNT];
    memset(lstm_bufs, 0, sizeof(lstm_bufs));
    size_t n_lstm = 0;
    for (unsigned i = 0; i < p->n_metrics; i++)
        if (p->lstm[i]) {
            if (tc_lstm_save(p->lstm[i], &lstm_bufs[i].data, &lstm_bufs[i].len))
                goto out_lstm;
            n_lstm++;
        }
    ps.n_lstm = n_lstm;
    ps.lstm = lstm_bufs;
    if (n_tracks) {
        tracks = calloc(n_tracks, sizeof(*tracks));
        trackp = calloc(n_tracks, sizeof(*trackp));
        acc = calloc(n_tracks * N_ACC * N_MODELS, sizeof(*acc));
        if (!tracks || !trackp || !acc)
            goto out_lstm;
    }
    for (size_t i = 0, k = 0; i < n_all; i++) {
        const track_t *t = &p->tracks[i];
        if (!t->hist)
            continue;
        Tidecast__V1__TrackState *ts = &tracks[k];
        tidecast__v1__track_state__init(ts);
        ts->series = (uint32_t)(i / p->n_metrics);
        ts->metric = (uint32_t)p->metrics[i % p->n_metrics];
        ts->n_history = p->hcap;
        ts->history = t->hist;
        ts->n = t->n;
        ts->ss_naive = t->ss_naive;
        ts->n_naive = t->n_naive;
        ts->ss_season = t->ss_season;
        ts->sa_season = t->sa_season;
        ts->n_season = t->n_season;
        ts->pending = t->pending;
        ts->pending_for_ms = t->pending_for_ms;
        ts->n_pending_mean = ts->n_pending_lo80 = ts->n_pending_hi80 = N_MODELS;
        ts->pending_mean = (double *)t->pend_mean;
        ts->pending_lo80 = (double *)t->pend_lo80;
        ts->pending_hi80 = (double *)t->pend_hi80;
        double *a = acc + k * N_ACC * N_MODELS;
        size_t j = 0;
        for (int m = 0; m < N_MODELS; m++) {
#define ACC_PUT_(f) a[j++] = t->acc[m].f;
            ACC_FIELDS(ACC_PUT_)
#undef ACC_PUT_
        }
        ts->n_accuracy = N_ACC * N_MODELS;
        ts->accuracy = a;
        ts->replicas = t->as.replicas;
        ts->scaled_once = t->as.changed_once;
        ts->last_scale_ms = t->as.last_change_ms;
        ts->ens_models = t->ens.n_models;
        ts->ens_lambda = t->ens.lambda;
        ts->n_ens_sse = ts->n_ens_wsum = ts->n_ens_n = TC_ENSEMBLE_MAX_MODELS;
        ts->ens_sse = (double *)t->ens.sse;
        ts->ens_wsum = (double *)t->ens.wsum;
        ts->ens_n = (uint64_t *)t->ens.n;
        ts->arima_tried_n = t->arima_tried_n;
        if (t->arima) {
            if (tc_arima_save(t->arima, &ts->arima.data, &ts->arima.len))
                goto out_lstm;
        }
        if (t->job) {
            /* The fit's outcome is deterministic: wait for it and keep it. */
            job_settle(p, t->job);
            ts->job = true;
            ts->job_from_n = t->job_from_n;
            ts->job_rc = t->job->rc;
            if (t->job->rc == 0 && t->job->result &&
                tc_arima_save(t->job->result, &ts->job_model.data, &ts->job_model.len))
                goto out_lstm;
        }
        trackp[k++] = ts;
    }
    ps.n_tracks = n_tracks;
    ps.tracks = trackp;
    snap.pipeline = &ps;

    *len = tidecast__v1__snapshot__get_packed_size(&snap);
    *buf = malloc(*len ? *len : 1);
    if (!*buf) {
        *len = 0;
        goto out_lstm;
    }
    tidecast__v1__snapshot__pack(&snap, *buf);
    rc = 0;
out_lstm:
    for (unsigned i = 0; i < TC_METRIC_COUNT; i++)
        free(lstm_bufs[i].data);
    for (size_t k = 0; k < n_tracks && tracks; k++) {
        free(tracks[k].arima.data);
        free(tracks[k].job_model.data);
    }
out:
    free(annots);
    free(annotp);
    free(churn_buf.data);
    free(win);
    free(offs);
    free(offp);
    free(tracks);
    free(trackp);
    free(acc);
    return rc;
}

static bool pipeline_fresh(const tc_pipeline_t *p)
{
    tc_window_stats_t ws;
    tc_window_stats(p->win, &ws);
    return !ws.started && tc_registry_count(p->reg) == 0 && p->st.events == 0 &&
           p->st.malformed == 0 && p->n_annots == 0;
}

int tc_pipeline_restore(tc_pipeline_t *p, const uint8_t *buf, size_t len,
                        void (*offset_cb)(void *ud, const char *topic, int64_t offset), void *ud)
{
    if (!pipeline_fresh(p))
        return TC_EINVAL;
    Tidecast__V1__Snapshot *snap = tidecast__v1__snapshot__unpack(NULL, len, buf);
    if (!snap)
        return TC_EPARSE;
    int rc = TC_EVERSION;
    if (snap->version != SNAPSHOT_VERSION)
        goto out;
    rc = TC_ECORRUPT;
    const Tidecast__V1__PipelineState *ps = snap->pipeline;
    if (!ps || !ps->counters)
        goto out;
    rc = TC_EINVAL;
    if (ps->season != p->cfg.season || ps->forecast_metrics != p->cfg.forecast_metrics)
        goto out;
    rc = tc_window_restore(p->win, p->reg, ps->window.data, ps->window.len);
    if (rc)
        goto out;
    /* Validate every track before touching the pipeline's tracks. */
    rc = TC_ECORRUPT;
    size_t n_series = tc_registry_count(p->reg);
    for (size_t i = 0; i < ps->n_tracks; i++) {
        const Tidecast__V1__TrackState *ts = ps->tracks[i];
        if (ts->series >= n_series || ts->metric >= TC_METRIC_COUNT ||
            !(p->cfg.forecast_metrics & (1u << ts->metric)) || ts->n_history != p->hcap ||
            ts->n_accuracy != N_ACC * N_MODELS || ts->n_pending_mean != N_MODELS ||
            ts->n_pending_lo80 != N_MODELS || ts->n_pending_hi80 != N_MODELS ||
            ts->n_ens_sse != TC_ENSEMBLE_MAX_MODELS || ts->n_ens_wsum != TC_ENSEMBLE_MAX_MODELS ||
            ts->n_ens_n != TC_ENSEMBLE_MAX_MODELS || ts->ens_models < 1 ||
            ts->ens_models > TC_ENSEMBLE_MAX_MODELS)
            goto out;
    }
    if (ps->exog_dim != p->cfg.exog_dim ||
        ps->n_annotations > (p->cfg.exog_dim ? p->cfg.max_annotations : 0)) {
        rc = TC_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < ps->n_annotations; i++) {
        const Tidecast__V1__AnnotationState *as = ps->annotations[i];
        size_t klen = strlen(as->key);
        if (as->n_features != p->cfg.exog_dim || klen > TC_SERIESKEY_MAX) {
            rc = TC_ECORRUPT;
            goto out;
        }
        annot_t *a = &p->annots[i];
        memcpy(a->key, as->key, klen + 1);
        a->key_len = klen;
        a->site_wide = as->site_wide;
        a->from_ms = as->valid_from_ms;
        a->to_ms = as->valid_to_ms;
        a->time_ms = as->time_ms;
        a->seq = as->seq;
        a->features = p->annot_feat + i * p->cfg.exog_dim;
        memcpy(a->features, as->features, p->cfg.exog_dim * sizeof(float));
    }
    p->n_annots = ps->n_annotations;
    p->annot_seq = ps->annotation_seq;
    if ((p->churn != NULL) != (ps->churn.len != 0)) {
        rc = TC_EINVAL;
        goto out;
    }
    if (ps->churn_job && (!p->churn || ps->n_churn_job_params != 4 ||
                          (ps->churn_job_model != TC_BGNBD_BG && ps->churn_job_model != TC_BGNBD_MBG))) {
        rc = TC_ECORRUPT;
        goto out;
    }
    if (p->churn && (rc = tc_churn_restore(p->churn, ps->churn.data, ps->churn.len)))
        goto out;
    if (ps->churn_job) {
        tc_pipeline_job_t *job = calloc(1, sizeof(*job));
        if (!job) {
            rc = TC_ENOMEM;
            goto out;
        }
        job->kind = JOB_CHURN;
        job->ran = true;
        job->rc = ps->churn_job_rc;
        job->churn_model = (tc_bgnbd_model_t)ps->churn_job_model;
        job->churn_params = (tc_bgnbd_params_t){ps->churn_job_params[0], ps->churn_job_params[1],
                                                ps->churn_job_params[2], ps->churn_job_params[3]};
        job_free(p, p->churn_job);
        p->churn_job = job;
        p->churn_job_due_ms = ps->churn_job_due_ms;
    }
    rc = TC_ECORRUPT;
    size_t want_lstm = 0;
    for (unsigned i = 0; i < p->n_metrics; i++)
        want_lstm += p->lstm[i] != NULL;
    if (ps->n_lstm != want_lstm) {
        rc = TC_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < ps->n_tracks; i++) {
        const Tidecast__V1__TrackState *ts = ps->tracks[i];
        unsigned slot = 0;
        while (p->metrics[slot] != (tc_metric_t)ts->metric)
            slot++;
        track_t *t = track_get(p, ts->series, slot);
        if (!t) {
            rc = TC_ENOMEM;
            goto out;
        }
        memcpy(t->hist, ts->history, p->hcap * sizeof(*t->hist));
        t->n = ts->n;
        t->ss_naive = ts->ss_naive;
        t->n_naive = ts->n_naive;
        t->ss_season = ts->ss_season;
        t->sa_season = ts->sa_season;
        t->n_season = ts->n_season;
        t->pending = ts->pending;
        t->pending_for_ms = ts->pending_for_ms;
        memcpy(t->pend_mean, ts->pending_mean, sizeof(t->pend_mean));
        memcpy(t->pend_lo80, ts->pending_lo80, sizeof(t->pend_lo80));
        memcpy(t->pend_hi80, ts->pending_hi80, sizeof(t->pend_hi80));
        size_t j = 0;
        for (int m = 0; m < N_MODELS; m++) {
#define ACC_GET_(f) t->acc[m].f = ts->accuracy[j++];
            ACC_FIELDS(ACC_GET_)
#undef ACC_GET_
        }
        t->as.replicas = ts->replicas;
        t->as.changed_once = ts->scaled_once;
        t->as.last_change_ms = ts->last_scale_ms;
        t->ens.n_models = ts->ens_models;
        t->ens.lambda = ts->ens_lambda;
        memcpy(t->ens.sse, ts->ens_sse, sizeof(t->ens.sse));
        memcpy(t->ens.wsum, ts->ens_wsum, sizeof(t->ens.wsum));
        memcpy(t->ens.n, ts->ens_n, sizeof(t->ens.n));
        t->arima_tried_n = ts->arima_tried_n;
        if (ts->arima.len) {
            tc_arima_t *m;
            rc = tc_arima_load(ts->arima.data, ts->arima.len, &m);
            if (rc)
                goto out;
            tc_arima_free(t->arima);
            t->arima = m;
        }
        if (ts->job) {
            tc_pipeline_job_t *job = calloc(1, sizeof(*job));
            if (!job) {
                rc = TC_ENOMEM;
                goto out;
            }
            job->ran = true;
            job->rc = ts->job_rc;
            if (ts->job_model.len &&
                (rc = tc_arima_load(ts->job_model.data, ts->job_model.len, &job->result))) {
                free(job);
                goto out;
            }
            job_free(p, t->job);
            t->job = job;
            t->job_from_n = ts->job_from_n;
        }
    }
    for (unsigned i = 0, k = 0; i < p->n_metrics; i++) {
        if (!p->lstm[i])
            continue;
        tc_lstm_t *m;
        rc = tc_lstm_load(ps->lstm[k].data, ps->lstm[k].len, &m);
        k++;
        if (rc)
            goto out;
        tc_lstm_free(p->lstm[i]);
        p->lstm[i] = m;
    }
    const Tidecast__V1__PipelineCounters *pc = ps->counters;
    p->st.events = pc->events;
    p->st.annotations = pc->annotations;
    p->st.malformed = pc->malformed;
    p->st.late = pc->late;
    p->st.refused = pc->refused;
    p->st.buckets = pc->buckets;
    p->st.forecasts = pc->forecasts;
    p->st.scale_signals = pc->scale_signals;
    p->st.sink_errors = pc->sink_errors;
    p->st.churn_events = pc->churn_events;
    p->st.churn_alerts = pc->churn_alerts;
    p->st.churn_refits = pc->churn_refits;
    p->churn_max_ms = ps->churn_max_ms;
    p->next_sweep_ms = ps->next_sweep_ms;
    p->next_refit_ms = ps->next_refit_ms;
    if (offset_cb)
        for (size_t i = 0; i < snap->n_offsets; i++)
            offset_cb(ud, snap->offsets[i]->topic, snap->offsets[i]->offset);
    rc = 0;
out:
    tidecast__v1__snapshot__free_unpacked(snap, NULL);
    return rc;
}
