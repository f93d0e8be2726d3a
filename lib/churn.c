/*
 * churn.c - the churn-risk engine of churn.h.
 *
 * Model (lib/bgnbd.c, Fader, Hardie & Lee 2005; Batislam et al. 2007): per
 * user the sufficient statistics x (repeat transactions), t_x (last
 * transaction) and T (now), both from the first transaction, in time units.
 * Risk at now = P(no transaction in (now, now + tau])
 *             = 1 - P(alive) (1 - ((alpha+T)/(alpha+T+tau))^(r+x)).
 *
 * Supervised layer: logistic regression p = sigmoid(w . z + w0) on the
 * standardised features z_j = (f_j - mean_j) / sd_j (running mean and
 * variance by Welford's update), trained one label at a time by AdaGrad
 * (Duchi, Hazan & Singer 2011): G_j += g_j^2, w_j -= eta g_j / sqrt(G_j),
 * with g_j = (p - y) z_j + l2 w_j.
 *
 * Table: users live in one dense array (48 bytes each, so that a full table is
 * one allocation whose untouched pages cost nothing) indexed by an
 * open-addressing hash index of 4-byte slots (dense position + 1; 0 = empty)
 * with linear probing and backward-shift deletion (Knuth 6.4, Algorithm R).
 * The pseudonymous id is a keyed SipHash output, hence already uniform, and
 * serves as its own hash.
 */
#include "churn.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "tidecast/v1/churn.pb-c.h"

#define XMASK ((1u << 24) - 1)
#define F_ALERT (1u << 24)
#define F_CANCEL (1u << 25)
#define NFEAT 6
#define EVICT_SAMPLE 32
#define SNAP_VERSION 1
#define N_COUNTERS (sizeof(tc_churn_counters_t) / sizeof(uint64_t))
#define PREFETCH_SLOT 16 /* events ahead whose index slot is prefetched */
#define PREFETCH_USER 8  /* events ahead whose user entry is prefetched */

typedef struct user {
    uint64_t id;
    uint32_t first_s;   /* first transaction */
    uint32_t last_tx_s; /* last transaction */
    uint32_t last_ev_s; /* last event of any kind */
    uint32_t xf;        /* x (low 24 bits) | flags */
    float monetary;     /* sum of values */
    float risk;         /* published risk */
    uint32_t alert_s;   /* last alert, 0 = never */
    uint32_t origin_s;  /* open label window, 0 = none */
    float activity;     /* decayed event count at last_ev_s */
    float act_origin;   /* activity at origin_s */
} user_t;

_Static_assert(sizeof(user_t) == 48, "user state must stay 48 bytes");

struct tc_churn {
    tc_churn_config_t cfg;
    tc_pseudonym_t ps;
    tc_bgnbd_model_t model;
    tc_bgnbd_params_t params;
    user_t *users;
    char **raw;
    uint32_t *slots;
    size_t mask;
    size_t cap;
    size_t n;
    size_t cursor;
    tc_churn_counters_t c;
    double unit_inv;     /* 1 / time_unit_s */
    double decay_k;      /* activity decay rate per second */
    uint32_t label_h_s;  /* label horizon, seconds */
    double w[NFEAT + 1], g2[NFEAT + 1], fmean[NFEAT], fm2[NFEAT], fn;
};

/* Zeroed memory for the big arrays: an anonymous mapping (pages cost nothing
 * until touched) with huge pages advised, which cuts TLB misses of random
 * access to a large table. */
static void *big_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advisory: failure is harmless */
    return p;
}

static void big_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

void tc_churn_config_default(tc_churn_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->max_users = 1000000;
    c->tx_mode = TC_CHURN_TX_VISIT;
    c->visit_gap_ms = 30 * 60 * 1000;
    c->time_unit_s = 86400.0;
    c->horizon = 30.0;
    c->model = TC_BGNBD_BG;
    c->params = (tc_bgnbd_params_t){0.243, 4.414 * 7, 0.793, 2.426};
    c->alert_threshold = 0.8;
    c->alert_hysteresis = 0.05;
    c->alert_cooldown_ms = 7LL * 86400 * 1000;
    c->alert_min_repeat = 1;
    c->score_step = 0.01;
    c->activity_half_life = 7.0;
    c->sup_learning_rate = 0.05;
    c->sup_l2 = 1e-4;
    c->sup_min_labels = 200;
}

static int params_valid(const tc_bgnbd_params_t *p)
{
    return p->r > 0 && p->alpha > 0 && p->a > 0 && p->b > 0 && isfinite(p->r) &&
           isfinite(p->alpha) && isfinite(p->a) && isfinite(p->b);
}

int tc_churn_new(const tc_churn_config_t *cfg, const void *secret, size_t secret_len,
                 tc_churn_t **out)
{
    if (!out)
        return TC_EINVAL;
    *out = NULL;
    if (!cfg || cfg->max_users < 1 || cfg->max_users > (1u << 30) ||
        !(cfg->time_unit_s > 0) || !(cfg->horizon > 0) || !params_valid(&cfg->params) ||
        !(cfg->alert_threshold > 0 && cfg->alert_threshold < 1) ||
        !(cfg->alert_hysteresis >= 0) || cfg->alert_cooldown_ms < 0 || cfg->visit_gap_ms < 0 ||
        !(cfg->activity_half_life > 0) || !(cfg->label_horizon >= 0) ||
        (cfg->model != TC_BGNBD_BG && cfg->model != TC_BGNBD_MBG) ||
        (cfg->tx_mode != TC_CHURN_TX_PURCHASE && cfg->tx_mode != TC_CHURN_TX_VISIT))
        return TC_ECONFIG;
    tc_churn_t *t = calloc(1, sizeof(*t));
    if (!t)
        return TC_ENOMEM;
    int rc = tc_pseudonym_init(&t->ps, secret, secret_len);
    if (rc)
        goto fail;
    t->cfg = *cfg;
    t->model = cfg->model;
    t->params = cfg->params;
    t->cap = cfg->max_users;
    size_t slots = 16;
    while (slots < t->cap + t->cap / 3 + 1)
        slots <<= 1;
    t->mask = slots - 1;
    rc = TC_ENOMEM;
    t->slots = big_alloc(slots * sizeof(*t->slots));
    t->users = big_alloc(t->cap * sizeof(*t->users));
    if (!t->slots || !t->users)
        goto fail;
    if (cfg->keep_raw_ids && !(t->raw = calloc(t->cap, sizeof(*t->raw))))
        goto fail;
    t->unit_inv = 1.0 / cfg->time_unit_s;
    t->decay_k = M_LN2 / (cfg->activity_half_life * cfg->time_unit_s);
    double lh = cfg->label_horizon > 0 ? cfg->label_horizon : cfg->horizon;
    t->label_h_s = (uint32_t)fmin(lh * cfg->time_unit_s, 4e9);
    *out = t;
    return 0;
fail:
    tc_churn_free(t);
    return rc;
}

void tc_churn_free(tc_churn_t *t)
{
    if (!t)
        return;
    if (t->raw) {
        for (size_t i = 0; i < t->n; i++)
            free(t->raw[i]);
        free(t->raw);
    }
    big_free(t->users, t->cap * sizeof(*t->users));
    big_free(t->slots, (t->mask + 1) * sizeof(*t->slots));
    tc_pseudonym_deinit(&t->ps);
    free(t);
}

uint64_t tc_churn_id(const tc_churn_t *t, const void *raw_id, size_t len)
{
    return tc_pseudonym_id(&t->ps, raw_id, len);
}

/* ---- index ---- */

static inline size_t home(const tc_churn_t *t, uint64_t id)
{
    return (size_t)(id ^ (id >> 29)) & t->mask;
}

/* Slot holding id, or the empty slot where it would go (*found false). */
static inline size_t find_slot(const tc_churn_t *t, uint64_t id, int *found)
{
    size_t i = home(t, id);
    for (;;) {
        uint32_t s = t->slots[i];
        if (!s) {
            *found = 0;
            return i;
        }
        if (t->users[s - 1].id == id) {
            *found = 1;
            return i;
        }
        i = (i + 1) & t->mask;
    }
}

static void slot_delete(tc_churn_t *t, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        uint32_t s = t->slots[j];
        if (!s)
            break;
        size_t k = home(t, t->users[s - 1].id);
        /* the entry at j may stay if its home lies cyclically in (i, j] */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->slots[i] = s;
        i = j;
    }
    t->slots[i] = 0;
}

/* Removes dense entry d: the last entry moves into its place. */
static void remove_user(tc_churn_t *t, size_t d)
{
    int found;
    size_t i = find_slot(t, t->users[d].id, &found);
    if (t->users[d].xf & F_ALERT)
        t->c.alerting--;
    slot_delete(t, i);
    if (t->raw) {
        free(t->raw[d]);
        t->raw[d] = NULL;
    }
    size_t last = t->n - 1;
    if (d != last) {
        size_t li = find_slot(t, t->users[last].id, &found);
        t->users[d] = t->users[last];
        t->slots[li] = (uint32_t)(d + 1);
        if (t->raw) {
            t->raw[d] = t->raw[last];
            t->raw[last] = NULL;
        }
    }
    memset(&t->users[last], 0, sizeof(user_t));
    t->n--;
    t->c.users = t->n;
}

/* ---- scoring ---- */

static inline double model_risk(const tc_churn_t *t, const user_t *u, uint32_t s)
{
    double x = u->xf & XMASK;
    double t_x = (double)(u->last_tx_s - u->first_s) * t->unit_inv;
    double T = (double)(s - u->first_s) * t->unit_inv;
    return tc_bgnbd_risk(t->model, &t->params, x, t_x, T, t->cfg.horizon);
}

static inline float activity_at(const tc_churn_t *t, const user_t *u, uint32_t s)
{
    if (s <= u->last_ev_s)
        return u->activity;
    return (float)(u->activity * exp(-(double)(s - u->last_ev_s) * t->decay_k));
}

static void features(const tc_churn_t *t, const user_t *u, uint32_t s, float act, double f[NFEAT])
{
    double mr = model_risk(t, u, s);
    mr = fmin(fmax(mr, 1e-6), 1 - 1e-6);
    double x = u->xf & XMASK;
    f[0] = log(mr / (1 - mr));
    f[1] = log1p((double)(s - u->last_tx_s) * t->unit_inv);
    f[2] = log1p(x);
    f[3] = log1p((double)(s - u->first_s) * t->unit_inv);
    f[4] = log1p(fmax(0.0, u->monetary / (x + 1)));
    f[5] = log1p(fmax(0.0, act));
}

static double sup_predict(const tc_churn_t *t, const double f[NFEAT])
{
    double a = t->w[NFEAT];
    for (int j = 0; j < NFEAT; j++) {
        double var = t->fn > 1 ? t->fm2[j] / (t->fn - 1) : 1.0;
        a += t->w[j] * (f[j] - t->fmean[j]) / sqrt(var + 1e-9);
    }
    return 1.0 / (1.0 + exp(-a));
}

static void sup_train(tc_churn_t *t, const double f[NFEAT], double y)
{
    t->fn += 1;
    for (int j = 0; j < NFEAT; j++) {
        double d = f[j] - t->fmean[j];
        t->fmean[j] += d / t->fn;
        t->fm2[j] += d * (f[j] - t->fmean[j]);
    }
    double z[NFEAT + 1], a = t->w[NFEAT];
    for (int j = 0; j < NFEAT; j++) {
        double var = t->fn > 1 ? t->fm2[j] / (t->fn - 1) : 1.0;
        z[j] = (f[j] - t->fmean[j]) / sqrt(var + 1e-9);
        a += t->w[j] * z[j];
    }
    z[NFEAT] = 1.0;
    double p = 1.0 / (1.0 + exp(-a));
    for (int j = 0; j <= NFEAT; j++) {
        double g = (p - y) * z[j] + (j < NFEAT ? t->cfg.sup_l2 * t->w[j] : 0.0);
        t->g2[j] += g * g;
        t->w[j] -= t->cfg.sup_learning_rate * g / sqrt(t->g2[j] + 1e-12);
    }
    t->c.labels++;
}

static inline int sup_active(const tc_churn_t *t)
{
    return t->cfg.supervised && t->c.labels >= t->cfg.sup_min_labels;
}

static void fill_alert(const tc_churn_t *t, const user_t *u, uint32_t s, double risk,
                       tc_churn_alert_t *a)
{
    double x = u->xf & XMASK;
    double t_x = (double)(u->last_tx_s - u->first_s) * t->unit_inv;
    double T = (double)(s - u->first_s) * t->unit_inv;
    memset(a, 0, sizeof(*a));
    a->user = u->id;
    tc_pseudonym_hex(u->id, a->user_hex);
    a->risk = risk;
    a->p_alive = tc_bgnbd_p_alive(t->model, &t->params, x, t_x, T);
    if (tc_bgnbd_expected(t->model, &t->params, x, t_x, T, t->cfg.horizon,
                          &a->expected_transactions) != 0)
        a->expected_transactions = NAN;
    a->threshold = t->cfg.alert_threshold;
    a->last_seen_ms = (int64_t)u->last_tx_s * 1000;
    a->as_of_ms = (int64_t)s * 1000;
}

static void alert_check(tc_churn_t *t, user_t *u, uint32_t s, double risk)
{
    const tc_churn_config_t *c = &t->cfg;
    if (u->xf & F_ALERT) {
        if (risk < c->alert_threshold - c->alert_hysteresis) {
            u->xf &= ~F_ALERT;
            t->c.alerting--;
        }
        return;
    }
    if (risk < c->alert_threshold || (u->xf & XMASK) < c->alert_min_repeat)
        return;
    if (u->alert_s && (int64_t)(s - u->alert_s) * 1000 < c->alert_cooldown_ms)
        return;
    u->xf |= F_ALERT;
    u->alert_s = s;
    t->c.alerting++;
    t->c.alerts++;
    if (c->on_alert) {
        tc_churn_alert_t a;
        fill_alert(t, u, s, risk, &a);
        c->on_alert(c->on_alert_ud, &a);
    }
}

static void fill_score(const tc_churn_t *t, const user_t *u, uint32_t s, tc_churn_score_t *out);

static void rescore(tc_churn_t *t, user_t *u, uint32_t s)
{
    double risk;
    float old = u->risk;
    if (u->xf & F_CANCEL) {
        risk = 1.0;
    } else if (sup_active(t)) {
        double f[NFEAT];
        features(t, u, s, activity_at(t, u, s), f);
        risk = sup_predict(t, f);
    } else {
        risk = model_risk(t, u, s);
    }
    u->risk = (float)risk;
    alert_check(t, u, s, risk);
    if (t->cfg.on_score) {
        double st = t->cfg.score_step;
        int moved = st > 0 ? floor(old / st) != floor(u->risk / st) || u->first_s == s : 1;
        if (moved) {
            tc_churn_score_t sc;
            fill_score(t, u, s, &sc);
            t->cfg.on_score(t->cfg.on_score_ud, &sc);
        }
    }
}

/* ---- events ---- */

static int time_ok(int64_t ms)
{
    return ms >= 1000 && ms / 1000 <= (int64_t)UINT32_MAX - 1;
}

/* Evicts the least recently active of a sample of users after the cursor. */
static void evict_one(tc_churn_t *t)
{
    size_t best = t->cursor % t->n;
    for (size_t k = 1; k < EVICT_SAMPLE && k < t->n; k++) {
        size_t d = (t->cursor + k) % t->n;
        if (t->users[d].last_ev_s < t->users[best].last_ev_s)
            best = d;
    }
    remove_user(t, best);
    t->c.evicted++;
}

/* Observes one event; *dense_out gets the user's position when a user was
 * created (for the raw-id side table), else SIZE_MAX. */
static int observe(tc_churn_t *t, uint64_t id, int64_t time_ms, tc_churn_ev_t kind, double value,
                   size_t *dense_out)
{
    *dense_out = SIZE_MAX;
    if (!id) {
        t->c.rejected++;
        return TC_EMISSING_KEY;
    }
    if (!time_ok(time_ms)) {
        t->c.rejected++;
        return TC_EBAD_TIMESTAMP;
    }
    if (!isfinite(value)) {
        t->c.rejected++;
        return TC_ENAN;
    }
    if (kind != TC_CHURN_EV_ACTIVITY && kind != TC_CHURN_EV_PURCHASE &&
        kind != TC_CHURN_EV_CANCEL) {
        t->c.rejected++;
        return TC_EUNKNOWN_TYPE;
    }
    uint32_t s = (uint32_t)(time_ms / 1000);
    int found;
    size_t i = find_slot(t, id, &found);
    if (!found) {
        /* a user enters the table with a first transaction */
        int is_tx = t->cfg.tx_mode == TC_CHURN_TX_VISIT ? kind != TC_CHURN_EV_CANCEL
                                                        : kind == TC_CHURN_EV_PURCHASE;
        t->c.events++;
        if (!is_tx)
            return 0;
        if (t->n == t->cap) {
            evict_one(t);
            i = find_slot(t, id, &found);
        }
        size_t d = t->n++;
        user_t *u = &t->users[d];
        *u = (user_t){.id = id, .first_s = s, .last_tx_s = s, .last_ev_s = s,
                      .monetary = kind == TC_CHURN_EV_PURCHASE ? (float)value : 0.0f,
                      .activity = 1.0f};
        t->slots[i] = (uint32_t)(d + 1);
        t->c.users = t->n;
        t->c.transactions++;
        rescore(t, u, s);
        *dense_out = d;
        return 0;
    }
    user_t *u = &t->users[t->slots[i] - 1];
    if (s < u->last_ev_s) {
        t->c.late++;
        return TC_ELATE;
    }
    t->c.events++;
    int is_tx;
    if (t->cfg.tx_mode == TC_CHURN_TX_PURCHASE)
        is_tx = kind == TC_CHURN_EV_PURCHASE &&
                !(t->cfg.merge_same_day && s / 86400 == u->last_tx_s / 86400);
    else
        is_tx = kind != TC_CHURN_EV_CANCEL &&
                (int64_t)(s - u->last_ev_s) * 1000 > t->cfg.visit_gap_ms;
    if (t->cfg.supervised && (is_tx || kind == TC_CHURN_EV_CANCEL) && u->origin_s) {
        /* the open window's label is known now; features as of its origin */
        double f[NFEAT];
        features(t, u, u->origin_s, u->act_origin, f);
        int in_window = s - u->origin_s <= t->label_h_s;
        /* a cancel inside the window leaves its label unknown: dropped */
        if (is_tx || !in_window)
            sup_train(t, f, is_tx && in_window ? 0.0 : 1.0);
        u->origin_s = 0;
    }
    if (kind == TC_CHURN_EV_CANCEL) {
        t->c.cancels++;
        if (t->cfg.supervised) {
            double f[NFEAT];
            features(t, u, s, activity_at(t, u, s), f);
            sup_train(t, f, 1.0);
        }
        u->xf |= F_CANCEL;
    }
    u->activity = activity_at(t, u, s) + 1.0f;
    u->last_ev_s = s;
    if (kind == TC_CHURN_EV_PURCHASE)
        u->monetary += (float)value;
    if (is_tx) {
        uint32_t x = u->xf & XMASK;
        if (x < XMASK)
            u->xf = (u->xf & ~XMASK) | (x + 1);
        u->xf &= ~F_CANCEL;
        u->last_tx_s = s;
        t->c.transactions++;
    }
    rescore(t, u, s);
    return 0;
}

int tc_churn_observe_id(tc_churn_t *t, uint64_t id, int64_t time_ms, tc_churn_ev_t kind,
                        double value)
{
    size_t d;
    if (!t)
        return TC_EINVAL;
    return observe(t, id, time_ms, kind, value, &d);
}

size_t tc_churn_observe_batch(tc_churn_t *t, const tc_churn_event_t *ev, size_t n, int *rc)
{
    size_t ok = 0, d;
    if (!t || (!ev && n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_SLOT < n)
            __builtin_prefetch(&t->slots[home(t, ev[i + PREFETCH_SLOT].id)]);
        if (i + PREFETCH_USER < n) {
            uint32_t s = t->slots[home(t, ev[i + PREFETCH_USER].id)];
            if (s) { /* 48-byte entries may straddle two cache lines */
                __builtin_prefetch(&t->users[s - 1]);
                __builtin_prefetch((const char *)&t->users[s - 1] + sizeof(user_t) - 1);
            }
        }
        int r = observe(t, ev[i].id, ev[i].time_ms, ev[i].kind, ev[i].value, &d);
        ok += r == 0;
        if (rc)
            rc[i] = r;
    }
    return ok;
}

int tc_churn_observe_event(tc_churn_t *t, const tc_event_t *ev)
{
    if (!t || !ev)
        return TC_EINVAL;
    tc_churn_ev_t kind = TC_CHURN_EV_ACTIVITY;
    double value = 0.0;
    if (ev->kind == TC_EVENT_BEHAVIOR) {
        if (ev->behavior.type == TC_BEHAVIOR_PURCHASE)
            kind = TC_CHURN_EV_PURCHASE;
        else if (ev->behavior.type == TC_BEHAVIOR_CANCEL)
            kind = TC_CHURN_EV_CANCEL;
        value = ev->behavior.value;
    } else if (ev->kind != TC_EVENT_TRAFFIC || ev->user_id.len == 0) {
        return TC_EINVAL;
    }
    return tc_churn_observe(t, ev->user_id.ptr, ev->user_id.len, ev->time_ms, kind, value);
}

int tc_churn_observe(tc_churn_t *t, const void *raw_id, size_t len, int64_t time_ms,
                     tc_churn_ev_t kind, double value)
{
    if (!t)
        return TC_EINVAL;
    if (!raw_id || len == 0) {
        t->c.rejected++;
        return TC_EMISSING_KEY;
    }
    size_t d;
    int rc = observe(t, tc_pseudonym_id(&t->ps, raw_id, len), time_ms, kind, value, &d);
    if (rc == 0 && d != SIZE_MAX && t->raw) {
        char *r = malloc(len + 1);
        if (!r)
            return TC_ENOMEM; /* the user stays, without its raw id */
        memcpy(r, raw_id, len);
        r[len] = 0;
        t->raw[d] = r;
    }
    return rc;
}

int tc_churn_sweep(tc_churn_t *t, int64_t now_ms, size_t max_users, int64_t evict_idle_ms,
                   size_t *visited)
{
    size_t v = 0;
    if (visited)
        *visited = 0;
    if (!t || !time_ok(now_ms))
        return t ? TC_EBAD_TIMESTAMP : TC_EINVAL;
    uint32_t now = (uint32_t)(now_ms / 1000);
    for (; v < max_users && t->n > 0; v++) {
        if (t->cursor >= t->n)
            t->cursor = 0;
        size_t d = t->cursor;
        user_t *u = &t->users[d];
        uint32_t s = now > u->last_ev_s ? now : u->last_ev_s;
        if (evict_idle_ms > 0 && (int64_t)(s - u->last_ev_s) * 1000 > evict_idle_ms) {
            remove_user(t, d); /* the last user moved to d: visit it next */
            t->c.evicted++;
            t->c.swept++;
            continue;
        }
        if (t->cfg.supervised) {
            if (u->origin_s && s - u->origin_s >= t->label_h_s) {
                double f[NFEAT];
                features(t, u, u->origin_s, u->act_origin, f);
                sup_train(t, f, 1.0);
                u->origin_s = 0;
            }
            if (!u->origin_s && !(u->xf & F_CANCEL)) {
                u->origin_s = s;
                u->act_origin = activity_at(t, u, s);
            }
        }
        rescore(t, u, s);
        t->c.swept++;
        t->cursor = d + 1;
    }
    if (visited)
        *visited = v;
    return 0;
}

static void fill_score(const tc_churn_t *t, const user_t *u, uint32_t s, tc_churn_score_t *out)
{
    double x = u->xf & XMASK;
    double t_x = (double)(u->last_tx_s - u->first_s) * t->unit_inv;
    double T = (double)(s - u->first_s) * t->unit_inv;
    memset(out, 0, sizeof(*out));
    out->user = u->id;
    out->model_risk = model_risk(t, u, s);
    out->p_alive = tc_bgnbd_p_alive(t->model, &t->params, x, t_x, T);
    if (tc_bgnbd_expected(t->model, &t->params, x, t_x, T, t->cfg.horizon,
                          &out->expected_transactions) != 0)
        out->expected_transactions = NAN;
    if (u->xf & F_CANCEL) {
        out->risk = 1.0;
    } else if (sup_active(t)) {
        double f[NFEAT];
        features(t, u, s, activity_at(t, u, s), f);
        out->risk = sup_predict(t, f);
    } else {
        out->risk = out->model_risk;
    }
    out->frequency = u->xf & XMASK;
    out->first_seen_ms = (int64_t)u->first_s * 1000;
    out->last_seen_ms = (int64_t)u->last_tx_s * 1000;
    out->last_event_ms = (int64_t)u->last_ev_s * 1000;
    out->monetary = u->monetary;
    out->alerting = (u->xf & F_ALERT) != 0;
    out->cancelled = (u->xf & F_CANCEL) != 0;
    out->as_of_ms = (int64_t)s * 1000;
}

int tc_churn_score(const tc_churn_t *t, uint64_t id, int64_t now_ms, tc_churn_score_t *out)
{
    int found;
    if (!t || !out)
        return TC_EINVAL;
    size_t i = find_slot(t, id, &found);
    if (!found)
        return TC_ENOTFOUND;
    const user_t *u = &t->users[t->slots[i] - 1];
    uint32_t now = time_ok(now_ms) ? (uint32_t)(now_ms / 1000) : u->last_ev_s;
    fill_score(t, u, now > u->last_ev_s ? now : u->last_ev_s, out);
    return 0;
}

const char *tc_churn_raw_id(const tc_churn_t *t, uint64_t id)
{
    int found;
    if (!t || !t->raw)
        return NULL;
    size_t i = find_slot(t, id, &found);
    return found ? t->raw[t->slots[i] - 1] : NULL;
}

int tc_churn_set_params(tc_churn_t *t, tc_bgnbd_model_t model, const tc_bgnbd_params_t *p)
{
    if (!t || !p || !params_valid(p) || (model != TC_BGNBD_BG && model != TC_BGNBD_MBG))
        return TC_EINVAL;
    t->model = model;
    t->params = *p;
    return 0;
}

void tc_churn_get_params(const tc_churn_t *t, tc_bgnbd_model_t *model, tc_bgnbd_params_t *p)
{
    if (model)
        *model = t->model;
    if (p)
        *p = t->params;
}

void tc_churn_stats_deinit(tc_churn_stats_t *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->t_x);
    free(s->T);
    memset(s, 0, sizeof(*s));
}

int tc_churn_stats_export(const tc_churn_t *t, int64_t now_ms, tc_churn_stats_t *s)
{
    if (!t || !s)
        return TC_EINVAL;
    memset(s, 0, sizeof(*s));
    size_t n = t->n ? t->n : 1;
    s->x = malloc(n * sizeof(*s->x));
    s->t_x = malloc(n * sizeof(*s->t_x));
    s->T = malloc(n * sizeof(*s->T));
    if (!s->x || !s->t_x || !s->T) {
        tc_churn_stats_deinit(s);
        return TC_ENOMEM;
    }
    double now = (double)(now_ms / 1000);
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        const user_t *u = &t->users[i];
        if (u->first_s > now)
            continue;
        double end = now > u->last_tx_s ? now : u->last_tx_s;
        s->x[k] = u->xf & XMASK;
        s->t_x[k] = (double)(u->last_tx_s - u->first_s) * t->unit_inv;
        s->T[k] = (end - u->first_s) * t->unit_inv;
        k++;
    }
    s->data = (tc_bgnbd_data_t){k, s->x, s->t_x, s->T, NULL};
    return 0;
}

void tc_churn_counters(const tc_churn_t *t, tc_churn_counters_t *out)
{
    *out = t->c;
}

double tc_churn_laplace(double scale)
{
    uint64_t r;
    randombytes_buf(&r, sizeof(r));
    double u = ((double)(r >> 11) + 0.5) * 0x1p-53 - 0.5; /* (-0.5, 0.5) */
    return -scale * (u < 0 ? -1.0 : 1.0) * log1p(-2.0 * fabs(u));
}

int tc_churn_aggregates(const tc_churn_t *t, int64_t now_ms, double epsilon,
                        tc_churn_aggregates_t *out)
{
    if (!t || !out || !(epsilon >= 0))
        return TC_EINVAL;
    double now = (double)(now_ms / 1000), hs = t->cfg.horizon * t->cfg.time_unit_s;
    double active = 0, at_risk = 0;
    for (size_t i = 0; i < t->n; i++) {
        const user_t *u = &t->users[i];
        active += now - u->last_ev_s <= hs;
        at_risk += u->risk >= t->cfg.alert_threshold;
    }
    out->users = (double)t->n;
    out->active = active;
    out->at_risk = at_risk;
    out->alerting = (double)t->c.alerting;
    if (epsilon > 0) {
        if (sodium_init() < 0)
            return TC_ECONFIG;
        out->users += tc_churn_laplace(1.0 / epsilon);
        out->active += tc_churn_laplace(1.0 / epsilon);
        out->at_risk += tc_churn_laplace(1.0 / epsilon);
        out->alerting += tc_churn_laplace(1.0 / epsilon);
    }
    return 0;
}

double tc_churn_bytes_per_user(const tc_churn_t *t)
{
    if (!t || t->n == 0)
        return 0.0;
    double b = (double)(t->mask + 1) * sizeof(uint32_t) + (double)t->n * sizeof(user_t);
    if (t->raw) {
        b += (double)t->cap * sizeof(char *);
        for (size_t i = 0; i < t->n; i++)
            if (t->raw[i])
                b += strlen(t->raw[i]) + 1;
    }
    return b / (double)t->n;
}

/* ---- snapshots ---- */

int tc_churn_snapshot(const tc_churn_t *t, uint8_t **buf, size_t *len)
{
    if (!t || !buf || !len)
        return TC_EINVAL;
    *buf = NULL;
    *len = 0;
    Tidecast__V1__ChurnSnapshot m = TIDECAST__V1__CHURN_SNAPSHOT__INIT;
    size_t n = t->n, n1 = n ? n : 1;
    int rc = TC_ENOMEM;
    m.version = SNAP_VERSION;
    m.model = (uint32_t)t->model;
    m.r = t->params.r;
    m.alpha = t->params.alpha;
    m.a = t->params.a;
    m.b = t->params.b;
    m.time_unit_s = t->cfg.time_unit_s;
    m.n_id = m.n_first_s = m.n_last_tx_s = m.n_last_event_s = m.n_x_flags = m.n_monetary =
        m.n_risk = m.n_alert_s = m.n_origin_s = m.n_activity = m.n_act_origin = n;
    m.id = malloc(n1 * sizeof(uint64_t));
    m.first_s = malloc(n1 * sizeof(uint32_t));
    m.last_tx_s = malloc(n1 * sizeof(uint32_t));
    m.last_event_s = malloc(n1 * sizeof(uint32_t));
    m.x_flags = malloc(n1 * sizeof(uint32_t));
    m.monetary = malloc(n1 * sizeof(float));
    m.risk = malloc(n1 * sizeof(float));
    m.alert_s = malloc(n1 * sizeof(uint32_t));
    m.origin_s = malloc(n1 * sizeof(uint32_t));
    m.activity = malloc(n1 * sizeof(float));
    m.act_origin = malloc(n1 * sizeof(float));
    static char empty[] = "";
    if (t->raw) {
        m.n_raw_id = n;
        m.raw_id = malloc(n1 * sizeof(char *));
        if (!m.raw_id)
            goto out;
    }
    if (!m.id || !m.first_s || !m.last_tx_s || !m.last_event_s || !m.x_flags || !m.monetary ||
        !m.risk || !m.alert_s || !m.origin_s || !m.activity || !m.act_origin)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const user_t *u = &t->users[i];
        m.id[i] = u->id;
        m.first_s[i] = u->first_s;
        m.last_tx_s[i] = u->last_tx_s;
        m.last_event_s[i] = u->last_ev_s;
        m.x_flags[i] = u->xf;
        m.monetary[i] = u->monetary;
        m.risk[i] = u->risk;
        m.alert_s[i] = u->alert_s;
        m.origin_s[i] = u->origin_s;
        m.activity[i] = u->activity;
        m.act_origin[i] = u->act_origin;
        if (t->raw)
            m.raw_id[i] = t->raw[i] ? t->raw[i] : empty;
    }
    double w[NFEAT + 1], g2[NFEAT + 1], mean[NFEAT], m2[NFEAT];
    uint64_t ctr[N_COUNTERS];
    memcpy(w, t->w, sizeof(w));
    memcpy(g2, t->g2, sizeof(g2));
    memcpy(mean, t->fmean, sizeof(mean));
    memcpy(m2, t->fm2, sizeof(m2));
    memcpy(ctr, &t->c, sizeof(ctr));
    m.n_sup_w = m.n_sup_g2 = NFEAT + 1;
    m.sup_w = w;
    m.sup_g2 = g2;
    m.n_sup_mean = m.n_sup_m2 = NFEAT;
    m.sup_mean = mean;
    m.sup_m2 = m2;
    m.sup_n = t->fn;
    m.sweep_cursor = t->cursor;
    m.n_counters = N_COUNTERS;
    m.counters = ctr;
    size_t sz = tidecast__v1__churn_snapshot__get_packed_size(&m);
    uint8_t *b = malloc(sz ? sz : 1);
    if (!b)
        goto out;
    *len = tidecast__v1__churn_snapshot__pack(&m, b);
    *buf = b;
    rc = 0;
out:
    free(m.id);
    free(m.first_s);
    free(m.last_tx_s);
    free(m.last_event_s);
    free(m.x_flags);
    free(m.monetary);
    free(m.risk);
    free(m.alert_s);
    free(m.origin_s);
    free(m.activity);
    free(m.act_origin);
    free(m.raw_id);
    return rc;
}

static void clear_users(tc_churn_t *t)
{
    if (t->raw)
        for (size_t i = 0; i < t->n; i++) {
            free(t->raw[i]);
            t->raw[i] = NULL;
        }
    memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
    memset(t->users, 0, t->n * sizeof(*t->users));
    t->n = 0;
    t->cursor = 0;
    memset(&t->c, 0, sizeof(t->c));
}

int tc_churn_restore(tc_churn_t *t, const uint8_t *buf, size_t len)
{
    if (!t || (!buf && len))
        return TC_EINVAL;
    clear_users(t);
    Tidecast__V1__ChurnSnapshot *m = tidecast__v1__churn_snapshot__unpack(NULL, len, buf);
    if (!m)
        return TC_ECORRUPT;
    int rc = TC_EVERSION;
    if (m->version != SNAP_VERSION)
        goto out;
    rc = TC_ECORRUPT;
    size_t n = m->n_id;
    if (m->n_first_s != n || m->n_last_tx_s != n || m->n_last_event_s != n ||
        m->n_x_flags != n || m->n_monetary != n || m->n_risk != n || m->n_alert_s != n ||
        m->n_origin_s != n || m->n_activity != n || m->n_act_origin != n ||
        (m->n_raw_id && m->n_raw_id != n) || m->n_sup_w != NFEAT + 1 ||
        m->n_sup_g2 != NFEAT + 1 || m->n_sup_mean != NFEAT || m->n_sup_m2 != NFEAT ||
        m->n_counters != N_COUNTERS || m->model > 1)
        goto out;
    tc_bgnbd_params_t p = {m->r, m->alpha, m->a, m->b};
    if (!params_valid(&p) || m->time_unit_s != t->cfg.time_unit_s)
        goto out;
    if (n > t->cap) {
        rc = TC_EFULL;
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        int found;
        uint64_t id = m->id[k];
        if (!id || m->first_s[k] > m->last_tx_s[k] || m->last_tx_s[k] > m->last_event_s[k])
            goto out_clear;
        size_t i = find_slot(t, id, &found);
        if (found)
            goto out_clear;
        t->users[k] = (user_t){id,
                               m->first_s[k],
                               m->last_tx_s[k],
                               m->last_event_s[k],
                               m->x_flags[k],
                               m->monetary[k],
                               m->risk[k],
                               m->alert_s[k],
                               m->origin_s[k],
                               m->activity[k],
                               m->act_origin[k]};
        t->slots[i] = (uint32_t)(k + 1);
        t->n = k + 1;
        if (t->raw && m->n_raw_id && m->raw_id[k][0]) {
            if (!(t->raw[k] = strdup(m->raw_id[k]))) {
                rc = TC_ENOMEM;
                goto out_clear;
            }
        }
    }
    t->model = (tc_bgnbd_model_t)m->model;
    t->params = p;
    memcpy(t->w, m->sup_w, sizeof(t->w));
    memcpy(t->g2, m->sup_g2, sizeof(t->g2));
    memcpy(t->fmean, m->sup_mean, sizeof(t->fmean));
    memcpy(t->fm2, m->sup_m2, sizeof(t->fm2));
    t->fn = m->sup_n;
    memcpy(&t->c, m->counters, sizeof(t->c));
    t->c.users = t->n;
    t->c.alerting = 0;
    for (size_t k = 0; k < n; k++)
        t->c.alerting += (t->users[k].xf & F_ALERT) != 0;
    t->cursor = m->sweep_cursor < n ? (size_t)m->sweep_cursor : 0;
    rc = 0;
    goto out;
out_clear:
    clear_users(t);
out:
    tidecast__v1__churn_snapshot__free_unpacked(m, NULL);
    return rc;
}
