/*
 * churn.h - the churn-risk engine: a per-user table of BG/NBD sufficient
 * statistics, churn risk as P(no transaction in the next horizon), alerts with
 * hysteresis and cooldown, an incremental sweeper, an online supervised layer
 * and versioned snapshots.
 *
 * Identity. Users are keyed by a pseudonymous 64-bit id (lib/pseudonym.h:
 * SipHash of the raw id under the configured secret). tc_churn_observe()
 * hashes the raw id on entry; the raw id is stored only when
 * cfg.keep_raw_ids is set, and then only in a side table that snapshots carry
 * (field raw_id) and tc_churn_raw_id() returns. Alerts, scores and snapshots
 * otherwise carry the pseudonymous id only.
 *
 * Transactions. cfg.tx_mode says what counts as one:
 *   TC_CHURN_TX_PURCHASE: a purchase event; with cfg.merge_same_day, a purchase
 *     on the same UTC day as the user's previous transaction merges into it
 *     (the CDNOW protocol).
 *   TC_CHURN_TX_VISIT: any event of the user more than cfg.visit_gap_ms after
 *     the user's previous event starts a new visit, which is the transaction.
 * Per user: first transaction (first seen), last transaction, x = repeat
 * transactions (saturating at 2^24 - 1), monetary sum (values of purchase
 * events, kept as a float), last event, a decayed
 * activity count, alert state. 48 bytes per user plus a 4-byte index slot per
 * 0.75 user of capacity (see tc_churn_bytes_per_user). The user array is
 * sized for max_users up front but its pages are only touched as users
 * arrive (anonymous mapping with transparent huge pages advised).
 *
 * Time. Event times are ms since the Unix epoch and are kept at one-second
 * resolution in [1970, 2106). The model's statistics (t_x, T), the horizon
 * and alpha use cfg.time_unit_s seconds as their unit (86400: days).
 *
 * Risk. With population parameters (r, alpha, a, b), a user's model risk at
 * time now is tc_bgnbd_risk(model, params, x, t_x, T = now - first, horizon):
 * the probability of no transaction in (now, now + horizon]. It is computed
 * on every event of the user and again by tc_churn_sweep(), so it rises while
 * the user stays away. A cancel event sets the published risk to 1 until the
 * user transacts again. When the supervised layer is enabled and has seen
 * cfg.sup_min_labels labels, its probability is the published risk.
 *
 * Supervised layer. Online logistic regression (AdaGrad, L2, features
 * standardised online) over: logit(model risk), log1p(recency), log1p(x),
 * log1p(age), log1p(mean value per transaction), log1p(activity). Labels come
 * from windows the sweeper opens (origin = now) and that close at
 * origin + cfg.label_horizon: label 0 as soon as the user transacts inside the
 * window, label 1 once the window has passed without one, and label 1 at an
 * explicit cancel event. Features are those at the window's origin, and a
 * label is used only once it is known, so training never sees the future.
 * Its output is P(no transaction within label_horizon).
 *
 * Threading. A tc_churn_t is used by one thread (the daemon's loop). The
 * population refit runs elsewhere on a copy: tc_churn_stats_export() (loop
 * thread) -> tc_bgnbd_fit() (worker thread, touches only the copy) ->
 * tc_churn_set_params() (loop thread). Callbacks run synchronously on the
 * calling thread inside observe/sweep and must not call back into the table.
 *
 * Errors: functions return 0 or a negative TC_E* code; nothing aborts or logs.
 * Per-event rejections (bad time, empty id, late event, table full) leave the
 * table unchanged and are counted in tc_churn_counters_t.
 */
#ifndef TC_CHURN_H
#define TC_CHURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bgnbd.h"
#include "event.h"
#include "pseudonym.h"

typedef enum {
    TC_CHURN_TX_PURCHASE = 0,
    TC_CHURN_TX_VISIT = 1,
} tc_churn_tx_mode_t;

/* What an event is for the engine (the daemon maps BehaviorType onto this:
 * PURCHASE -> PURCHASE, CANCEL -> CANCEL, everything else -> ACTIVITY). */
typedef enum {
    TC_CHURN_EV_ACTIVITY = 0,
    TC_CHURN_EV_PURCHASE = 1,
    TC_CHURN_EV_CANCEL = 2,
} tc_churn_ev_t;

/* An alert, valid only during the callback. */
typedef struct tc_churn_alert {
    uint64_t user;                /* pseudonymous id */
    char user_hex[17];            /* the same as 16 hex digits */
    double risk;                  /* published risk, 0..1 */
    double p_alive;               /* P(alive) under the population model */
    double expected_transactions; /* E[transactions in the next horizon] */
    double threshold;             /* cfg.alert_threshold */
    int64_t last_seen_ms;         /* last transaction */
    int64_t as_of_ms;             /* time the risk refers to */
} tc_churn_alert_t;

typedef void (*tc_churn_alert_fn)(void *ud, const tc_churn_alert_t *alert);

/* Score of one user; see tc_churn_score(). */
typedef struct tc_churn_score {
    uint64_t user;
    double risk;         /* published risk (supervised when active) */
    double model_risk;   /* BG/NBD or MBG/NBD risk */
    double p_alive;
    double expected_transactions; /* NAN if the series did not converge */
    uint32_t frequency;  /* x */
    int64_t first_seen_ms, last_seen_ms, last_event_ms;
    double monetary;
    bool alerting;
    bool cancelled;
    int64_t as_of_ms;    /* time the score refers to */
} tc_churn_score_t;

/* A score change, valid only during the callback (see cfg.on_score). */
typedef void (*tc_churn_score_fn)(void *ud, const tc_churn_score_t *score);

typedef struct tc_churn_config {
    size_t max_users;             /* capacity (default 1,000,000); when full the
                                     least recently active of a sample is evicted */
    tc_churn_tx_mode_t tx_mode;   /* default TC_CHURN_TX_VISIT */
    int64_t visit_gap_ms;         /* default 30 min */
    bool merge_same_day;          /* default false */
    double time_unit_s;           /* default 86400 (days) */
    double horizon;               /* risk horizon tau, time units; default 30 */
    tc_bgnbd_model_t model;       /* default TC_BGNBD_BG */
    tc_bgnbd_params_t params;     /* starting population parameters; default
                                     CDNOW's (0.243, 4.414*7, 0.793, 2.426) in days */
    double alert_threshold;       /* default 0.8 */
    double alert_hysteresis;      /* re-arm below threshold - hysteresis; default 0.05 */
    int64_t alert_cooldown_ms;    /* min time between two alerts of a user; default 7 days */
    uint32_t alert_min_repeat;    /* alert only users with at least this many repeat
                                     transactions; default 1 (a one-time user's risk
                                     starts high, so 0 alerts on first sight) */
    tc_churn_alert_fn on_alert;   /* optional */
    void *on_alert_ud;
    tc_churn_score_fn on_score;   /* optional: called when a user's published risk
                                     moves into another cell of width score_step
                                     (and for a new user), from observe and sweep */
    void *on_score_ud;
    double score_step;            /* default 0.01; 0 calls on_score at every rescore */
    double activity_half_life;    /* decay of the activity count, time units; default 7 */
    bool supervised;              /* default false */
    double label_horizon;         /* time units; default = horizon */
    double sup_learning_rate;     /* AdaGrad step; default 0.05 */
    double sup_l2;                /* default 1e-4 */
    uint64_t sup_min_labels;      /* labels before the layer publishes; default 200 */
    bool keep_raw_ids;            /* default false */
} tc_churn_config_t;

typedef struct tc_churn_counters {
    uint64_t users;         /* live users */
    uint64_t events;        /* accepted events */
    uint64_t transactions;  /* transactions counted (incl. first) */
    uint64_t late;          /* rejected: earlier than the user's last event */
    uint64_t rejected;      /* rejected: bad time, empty id, non-finite value */
    uint64_t full;          /* rejected: table full and nothing evictable */
    uint64_t evicted;
    uint64_t alerts;        /* alerts raised */
    uint64_t alerting;      /* users currently in alert state */
    uint64_t labels;        /* supervised labels used */
    uint64_t cancels;
    uint64_t swept;         /* user visits by the sweeper */
} tc_churn_counters_t;

typedef struct tc_churn tc_churn_t;

/* Defaults as documented on each field. */
void tc_churn_config_default(tc_churn_config_t *cfg);

/* Creates a table. secret (len >= 16 bytes) keys the pseudonyms and is not
 * kept (only the derived key is). Returns 0, TC_EINVAL / TC_ECONFIG (bad
 * config, e.g. threshold outside (0,1)), TC_ENOMEM. *out is NULL on failure. */
int tc_churn_new(const tc_churn_config_t *cfg, const void *secret, size_t secret_len,
                 tc_churn_t **out);

/* Frees the table and wipes its key; NULL is a no-op. */
void tc_churn_free(tc_churn_t *t);

/* One event of a user given by raw id (len bytes, hashed here). value is the
 * money value (purchase amount; 0 if none). Returns 0, TC_EMISSING_KEY (empty
 * id), TC_EBAD_TIMESTAMP (outside [1970, 2106)), TC_ENAN (value not finite),
 * TC_ELATE (earlier than the user's last event: ignored), TC_EFULL,
 * TC_ENOMEM (keep_raw_ids only). May call on_alert. */
int tc_churn_observe(tc_churn_t *t, const void *raw_id, size_t len, int64_t time_ms,
                     tc_churn_ev_t kind, double value);

/* A decoded input event (lib/event.h): a behavior event, or a traffic event
 * carrying a user id (activity). BehaviorType PURCHASE is a purchase, CANCEL a
 * cancel, every other type activity; value is the behavior's money value.
 * The site is not part of the user's key: one table holds one partition's
 * users across sites. Returns what tc_churn_observe() returns, or TC_EINVAL
 * for an annotation or a traffic event without a user id. */
int tc_churn_observe_event(tc_churn_t *t, const tc_event_t *ev);

/* The same for an id already pseudonymised with this table's key (id != 0). */
int tc_churn_observe_id(tc_churn_t *t, uint64_t id, int64_t time_ms, tc_churn_ev_t kind,
                        double value);

/* One event of a batch for tc_churn_observe_batch(). */
typedef struct tc_churn_event {
    uint64_t id;     /* pseudonymous id (tc_churn_id) */
    int64_t time_ms;
    double value;
    tc_churn_ev_t kind;
} tc_churn_event_t;

/* Observes n events in order, as tc_churn_observe_id() would one by one, but
 * prefetches the index slots and user entries of the events ahead, so that
 * cache misses of a large table overlap. rc (may be NULL) gets each event's
 * return code. Returns the number of events accepted. */
size_t tc_churn_observe_batch(tc_churn_t *t, const tc_churn_event_t *ev, size_t n, int *rc);

/* The pseudonymous id this table gives raw. */
uint64_t tc_churn_id(const tc_churn_t *t, const void *raw_id, size_t len);

/* Re-scores up to max_users users from the sweep cursor onwards at time now_ms
 * (wrapping round the table), closes and opens label windows, raises alerts
 * and evicts users idle for more than evict_idle_ms (0: never). *visited (may
 * be NULL) gets the number of users visited. Returns 0 or TC_EBAD_TIMESTAMP. */
int tc_churn_sweep(tc_churn_t *t, int64_t now_ms, size_t max_users, int64_t evict_idle_ms,
                   size_t *visited);

/* Score of user id at now_ms (computes P(alive) and the expectation).
 * Returns 0, TC_ENOTFOUND. */
int tc_churn_score(const tc_churn_t *t, uint64_t id, int64_t now_ms, tc_churn_score_t *out);

/* The raw id of a user when keep_raw_ids is set: a NUL-terminated string
 * owned by the table, valid until the user is evicted or the table freed.
 * NULL otherwise. */
const char *tc_churn_raw_id(const tc_churn_t *t, uint64_t id);

/* Replaces the population parameters (after a refit). Returns 0 or TC_EINVAL. */
int tc_churn_set_params(tc_churn_t *t, tc_bgnbd_model_t model, const tc_bgnbd_params_t *p);
void tc_churn_get_params(const tc_churn_t *t, tc_bgnbd_model_t *model, tc_bgnbd_params_t *p);

/* A copy of every user's statistics at now_ms, in time units, for a refit on
 * another thread: data.x/t_x/T point into arrays owned by *s. Users with a
 * first transaction after now_ms are left out. Returns 0 or TC_ENOMEM. */
typedef struct tc_churn_stats {
    tc_bgnbd_data_t data;
    uint32_t *x;
    double *t_x, *T;
} tc_churn_stats_t;
int tc_churn_stats_export(const tc_churn_t *t, int64_t now_ms, tc_churn_stats_t *s);
void tc_churn_stats_deinit(tc_churn_stats_t *s);

void tc_churn_counters(const tc_churn_t *t, tc_churn_counters_t *out);

/* Aggregate counts for publication: users, users active within the horizon
 * before now, users whose published risk is at or above the threshold, users
 * in alert state. With epsilon > 0 each count gets independent Laplace noise
 * of scale 1/epsilon (one user changes each count by at most 1, so each count
 * is epsilon-differentially private; the four together 4 epsilon), drawn from
 * libsodium's CSPRNG. O(users): call it per publication period, not per event. */
typedef struct tc_churn_aggregates {
    double users, active, at_risk, alerting;
} tc_churn_aggregates_t;
int tc_churn_aggregates(const tc_churn_t *t, int64_t now_ms, double epsilon,
                        tc_churn_aggregates_t *out);

/* Laplace(0, scale) sample from libsodium's CSPRNG. */
double tc_churn_laplace(double scale);

/* Memory of the table divided by its users (index + entries + raw ids). */
double tc_churn_bytes_per_user(const tc_churn_t *t);

/* Snapshot of the whole table as a tidecast.v1.ChurnSnapshot protobuf
 * (proto/tidecast/v1/churn.proto) in a malloc'd buffer the caller frees.
 * The key is never part of it; raw ids only with keep_raw_ids. Must not run
 * concurrently with updates. Returns 0 or TC_ENOMEM. */
int tc_churn_snapshot(const tc_churn_t *t, uint8_t **buf, size_t *len);

/* Replaces the table's users, parameters, supervised state and counters with
 * a snapshot's. Returns 0, TC_ECORRUPT (does not decode or columns disagree),
 * TC_EVERSION (unknown version), TC_EFULL (more users than max_users). On
 * failure the table is emptied. */
int tc_churn_restore(tc_churn_t *t, const uint8_t *buf, size_t len);

#endif
