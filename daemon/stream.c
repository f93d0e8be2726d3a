/*
 * stream.c - the Kafka runtime of tidecastd (see stream.h for the protocol).
 *
 * Partitions are kept in a small array (a daemon holds tens of partitions,
 * not thousands); the message hook remembers the last one it found, since
 * consecutive messages of a batch mostly come from the same partition.
 */
#include "daemon/stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/kafka.h"
#include "daemon/log.h"
#include "daemon/output.h"
#include "error.h"
#include "tidecast/v1/outputs.pb-c.h"

#define PAUSE_CHECKPOINT 1u
#define PAUSE_BACKPRESSURE 2u
#define PAUSE_STOP 4u
#define ENC_CAP (256 * 1024)
#define DEAD_LETTER_LOG_LIMIT 100

/* The latest churn score of one user within a tick (written to Redis once per tick). */
typedef struct score {
    char user[128];
    double risk, p_alive, expected;
    uint32_t frequency;
    int64_t last_seen_ms, as_of_ms;
    bool used;
} score_t;

/* The latest forecast of one series and metric within a tick. */
typedef struct latest_fc {
    char key[256];          /* full Redis key */
    double num[13];         /* point, lo80, hi80, lo95, hi95, actual, mae, rmse, mase, smape, r2, coverage */
    char model[24];
    size_t horizon;
    int64_t origin_ms, issued_ms;
    uint64_t n;
    bool used;
} latest_fc_t;

typedef struct part {
    struct tc_stream *s;
    char *topic;
    tc_event_kind_t kind;
    int32_t partition;
    tc_pipeline_t *pipe;
    int64_t next_off;   /* next offset to consume; -1: none consumed yet */
    int64_t ckpt_off;   /* offset of the last snapshot taken */
    bool live;          /* assigned and restored */
} part_t;

/* A snapshot on its way to Redis, then to the offset commit. */
typedef struct ckpt {
    struct tc_stream *s;
    struct ckpt *next;
    char *topic;
    int32_t partition;
    int64_t offset;
    uint8_t *buf;
    size_t len;
} ckpt_t;

struct tc_stream {
    uv_loop_t *loop;
    tc_stream_conf_t conf;
    tc_pipeline_config_t pcfg;
    tc_pipeline_sink_t extra, sink;
    tc_kafka_t *k;
    tc_redis_t *r;
    part_t **parts;
    size_t nparts, cap;
    part_t *last;
    uv_timer_t ckpt_timer, wait_timer, prog_timer;
    uint64_t prog_ms, prog_msgs;
    int handles_open;
    unsigned pause_reasons;
    ckpt_t *waiting;        /* snapshots waiting for the producer to drain */
    bool ckpt_running;
    bool stopping, stopped;
    uint64_t stop_deadline;
    void (*done)(void *ud);
    void *done_ud;
    latest_fc_t *fcs;       /* open addressing, cap a power of two */
    size_t fc_cap, fc_n;
    uv_timer_t bp_timer;
    score_t *scores;        /* open addressing, cap a power of two */
    size_t score_cap, score_n;
    uv_timer_t score_timer;
    char key[1024];
    uint8_t *enc;           /* encoding scratch, ENC_CAP bytes */
    FILE *jf;               /* fmemopen over enc, for JSON outputs */
    tc_stream_stats_t st;
};

/* ---- helpers ---- */

static const char *ckpt_key(tc_stream_t *s, const char *topic, int32_t p, char *buf, size_t n)
{
    snprintf(buf, n, "%sckpt:%s:%s:%" PRId32, s->conf.redis_prefix, s->conf.group, topic, p);
    return buf;
}

static bool on(const char *topic)
{
    return topic && *topic;
}

static void set_pause(tc_stream_t *s, unsigned reason, bool set)
{
    unsigned before = s->pause_reasons;
    if (set)
        s->pause_reasons |= reason;
    else
        s->pause_reasons &= ~reason;
    if (!before != !s->pause_reasons)
        tc_kafka_pause(s->k, s->pause_reasons != 0);
}

static part_t *find_part(tc_stream_t *s, const char *topic, int32_t p)
{
    part_t *l = s->last;
    if (l && l->partition == p && !strcmp(l->topic, topic))
        return l;
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i]->partition == p && !strcmp(s->parts[i]->topic, topic))
            return s->last = s->parts[i];
    return NULL;
}

static void drop_part(tc_stream_t *s, part_t *pt)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i] == pt) {
            s->parts[i] = s->parts[--s->nparts];
            break;
        }
    if (s->last == pt)
        s->last = NULL;
    tc_pipeline_free(pt->pipe);
    free(pt->topic);
    free(pt);
}

/* Wall-clock ms: the "issued at" of outputs (the only non-deterministic field). */
static int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void fmt_num(char *buf, size_t n, double v)
{
    snprintf(buf, n, "%.17g", v);
}

/* JSON through output.c's writers into the scratch buffer; returns length. */
static size_t json_begin(tc_stream_t *s)
{
    rewind(s->jf);
    return 0;
}

static size_t json_end(tc_stream_t *s)
{
    fflush(s->jf);
    long n = ftell(s->jf);
    if (n > 0 && s->enc[n - 1] == '\n')
        n--;
    return n > 0 ? (size_t)n : 0;
}

static void produce(tc_stream_t *s, const char *topic, const char *key, size_t klen,
                    const void *val, size_t vlen)
{
    int rc = tc_kafka_produce(s->k, topic, key, klen, val, vlen, NULL, 0);
    if (rc)
        tc_log_error("cannot produce", "topic=%s error=%s", topic, tc_errname(rc));
}

/* ---- pipeline sinks ---- */

static int sink_bucket(void *ctx, const tc_pipeline_bucket_t *b)
{
    part_t *pt = ctx;
    return pt->s->extra.bucket ? pt->s->extra.bucket(pt->s->extra.ctx, b) : 0;
}

static uint64_t hash_str(const char *p);
static void redis_forecast(tc_stream_t *s, const latest_fc_t *e)
{
    char v[17][40];
    for (int i = 0; i < 5; i++)
        fmt_num(v[i], 40, e->num[i]);
    snprintf(v[5], 40, "%zu", e->horizon);
    snprintf(v[6], 40, "%s", e->model);
    fmt_num(v[7], 40, e->num[5]);
    snprintf(v[8], 40, "%" PRId64, e->origin_ms);
    for (int i = 0; i < 6; i++)
        fmt_num(v[9 + i], 40, e->num[6 + i]);
    snprintf(v[15], 40, "%" PRIu64, e->n);
    snprintf(v[16], 40, "%" PRId64, e->issued_ms);
    static const char *const fields[17] = {
        "point", "lo80", "hi80", "lo95", "hi95", "horizon", "model", "actual", "origin_ms",
        "mae", "rmse", "mase", "smape", "r2", "coverage80", "n", "issued_at_ms"};
    const char *vals[17];
    for (int i = 0; i < 17; i++)
        vals[i] = v[i];
    tc_redis_hset(s->r, e->key, fields, vals, 17, s->conf.redis_ttl_s);
}

/* Writes the remembered latest forecasts to Redis and forgets them. */
static void flush_forecasts(tc_stream_t *s)
{
    for (size_t i = 0; s->fc_n && i < s->fc_cap; i++) {
        if (!s->fcs[i].used)
            continue;
        redis_forecast(s, &s->fcs[i]);
        s->fcs[i].used = false;
        s->fc_n--;
    }
}

static int grow_forecasts(tc_stream_t *s)
{
    size_t cap = s->fc_cap ? s->fc_cap * 2 : 256;
    latest_fc_t *old = s->fcs, *nw = calloc(cap, sizeof(*nw));
    if (!nw)
        return TC_ENOMEM;
    for (size_t i = 0; i < s->fc_cap; i++) {
        if (!old[i].used)
            continue;
        size_t j = hash_str(old[i].key) & (cap - 1);
        while (nw[j].used)
            j = (j + 1) & (cap - 1);
        nw[j] = old[i];
    }
    free(old);
    s->fcs = nw;
    s->fc_cap = cap;
    return 0;
}

/*
 * The Redis hash holds the latest forecast of a series: within a tick only
 * the last one per series and metric is written (a fast replay closes many
 * buckets per tick; per-bucket writes would flood Redis for nothing).
 */
static void remember_forecast(tc_stream_t *s, const tc_pipeline_forecast_t *f, const char *metric,
                              int64_t now)
{
    latest_fc_t e = {0};
    int kl = snprintf(e.key, sizeof(e.key), "%sfc:%.*s:%s", s->conf.redis_prefix,
                      (int)f->key_len, f->key, metric);
    const tc_forecast_step_t *h1 = &f->steps[0];
    double num[13] = {h1->mean, h1->lo80, h1->hi80, h1->lo95, h1->hi95, f->actual,
                      f->accuracy.mae, f->accuracy.rmse, f->accuracy.mase, f->accuracy.smape,
                      f->accuracy.r2, f->accuracy.coverage, 0};
    memcpy(e.num, num, sizeof(num));
    snprintf(e.model, sizeof(e.model), "%s", f->model);
    e.horizon = f->horizon;
    e.origin_ms = f->origin_ms;
    e.issued_ms = now;
    e.n = (uint64_t)f->accuracy.n;
    e.used = true;
    if (kl >= (int)sizeof(e.key) || ((s->fc_n + 1) * 2 > s->fc_cap && grow_forecasts(s))) {
        redis_forecast(s, &e);
        return;
    }
    size_t j = hash_str(e.key) & (s->fc_cap - 1);
    while (s->fcs[j].used && strcmp(s->fcs[j].key, e.key))
        j = (j + 1) & (s->fc_cap - 1);
    if (!s->fcs[j].used)
        s->fc_n++;
    s->fcs[j] = e;
}

/* Packs an output message into the stream's encode buffer; *len is its size. */
static int pack_out(tc_stream_t *s, const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    if (*len > ENC_CAP)
        return TC_EOVERSIZED;
    protobuf_c_message_pack(m, s->enc);
    return 0;
}

static int sink_forecast(void *ctx, const tc_pipeline_forecast_t *f)
{
    part_t *pt = ctx;
    tc_stream_t *s = pt->s;
    int64_t now = wall_ms();
    if (s->extra.forecast)
        s->extra.forecast(s->extra.ctx, f);
    const char *metric = tc_metric_name(f->metric);
    if (on(s->conf.forecasts)) {
        int kl = snprintf(s->key, sizeof(s->key), "%.*s|%s", (int)f->key_len, f->key, metric);
        size_t len;
        if (s->conf.json_output) {
            json_begin(s);
            tc_output_forecast(s->jf, f);
            len = json_end(s);
        } else {
            Tidecast__V1__Forecast m = TIDECAST__V1__FORECAST__INIT;
            Tidecast__V1__Accuracy acc = TIDECAST__V1__ACCURACY__INIT;
            Tidecast__V1__ForecastStep steps[TC_PIPELINE_MAX_HORIZON];
            Tidecast__V1__ForecastStep *sp[TC_PIPELINE_MAX_HORIZON];
            char series[512];
            snprintf(series, sizeof(series), "%.*s", (int)f->key_len, f->key);
            m.series = series;
            m.metric = (char *)metric;
            m.model = (char *)f->model;
            m.origin_ms = f->origin_ms;
            m.bucket_ms = f->bucket_ms;
            m.actual = f->actual;
            m.issued_at_ms = now;
            size_t hz = f->horizon < TC_PIPELINE_MAX_HORIZON ? f->horizon : TC_PIPELINE_MAX_HORIZON;
            for (size_t h = 0; h < hz; h++) {
                tidecast__v1__forecast_step__init(&steps[h]);
                steps[h].h = (uint32_t)(h + 1);
                steps[h].mean = f->steps[h].mean;
                steps[h].lo80 = f->steps[h].lo80;
                steps[h].hi80 = f->steps[h].hi80;
                steps[h].lo95 = f->steps[h].lo95;
                steps[h].hi95 = f->steps[h].hi95;
                sp[h] = &steps[h];
            }
            m.n_steps = hz;
            m.steps = sp;
            acc.n = f->accuracy.n;
            acc.mae = f->accuracy.mae;
            acc.rmse = f->accuracy.rmse;
            acc.mase = f->accuracy.mase;
            acc.smape = f->accuracy.smape;
            acc.r2 = f->accuracy.r2;
            acc.coverage80 = f->accuracy.coverage;
            m.accuracy = &acc;
            if (pack_out(s, &m.base, &len))
                return TC_EOVERSIZED;
        }
        produce(s, s->conf.forecasts, s->key, (size_t)kl, s->enc, len);
    }
    if (s->r && f->horizon > 0)
        remember_forecast(s, f, metric, now);
    return 0;
}

static int sink_scale(void *ctx, const tc_pipeline_scale_t *sc)
{
    part_t *pt = ctx;
    tc_stream_t *s = pt->s;
    if (s->extra.scale)
        s->extra.scale(s->extra.ctx, sc);
    if (!on(s->conf.autoscale))
        return 0;
    size_t len;
    if (s->conf.json_output) {
        json_begin(s);
        tc_output_scale(s->jf, sc);
        len = json_end(s);
    } else {
        Tidecast__V1__ScaleSignal m = TIDECAST__V1__SCALE_SIGNAL__INIT;
        char series[512];
        snprintf(series, sizeof(series), "%.*s", (int)sc->key_len, sc->key);
        m.series = series;
        m.current_replicas = sc->current_replicas;
        m.recommended_replicas = sc->recommended_replicas;
        m.forecast_upper = sc->forecast_upper;
        m.at_h = sc->at_h;
        m.capacity_per_replica = sc->capacity_per_replica;
        m.reason = (char *)sc->reason;
        m.origin_ms = sc->origin_ms;
        m.issued_at_ms = wall_ms();
        if (pack_out(s, &m.base, &len))
            return TC_EOVERSIZED;
    }
    produce(s, s->conf.autoscale, sc->key, sc->key_len, s->enc, len);
    return 0;
}

static void redis_user(tc_stream_t *s, const char *user, double risk, double p_alive,
                       double expected, uint32_t freq, int64_t last_seen, int64_t as_of)
{
    snprintf(s->key, sizeof(s->key), "%schurn:risk", s->conf.redis_prefix);
    tc_redis_zadd(s->r, s->key, risk, user);
    snprintf(s->key, sizeof(s->key), "%schurn:user:%s", s->conf.redis_prefix, user);
    char v[6][40];
    fmt_num(v[0], 40, risk);
    fmt_num(v[1], 40, p_alive);
    fmt_num(v[2], 40, expected);
    snprintf(v[3], 40, "%" PRIu32, freq);
    snprintf(v[4], 40, "%" PRId64, last_seen);
    snprintf(v[5], 40, "%" PRId64, as_of);
    static const char *const fields[6] = {"risk", "p_alive", "expected", "frequency",
                                          "last_seen_ms", "as_of_ms"};
    const char *vals[6] = {v[0], v[1], v[2], v[3], v[4], v[5]};
    tc_redis_hset(s->r, s->key, fields, vals, freq == UINT32_MAX ? 3 : 6, 0);
}

static int sink_churn_alert(void *ctx, const tc_pipeline_churn_alert_t *a)
{
    part_t *pt = ctx;
    tc_stream_t *s = pt->s;
    if (s->extra.churn_alert)
        s->extra.churn_alert(s->extra.ctx, a);
    if (on(s->conf.churn_alerts)) {
        size_t len;
        if (s->conf.json_output) {
            json_begin(s);
            tc_output_churn_alert(s->jf, a);
            len = json_end(s);
        } else {
            Tidecast__V1__ChurnAlert m = TIDECAST__V1__CHURN_ALERT__INIT;
            m.user = (char *)a->user;
            m.risk = a->risk;
            m.p_alive = a->p_alive;
            m.last_seen_ms = a->last_seen_ms;
            m.expected_transactions = a->expected_transactions;
            m.threshold = a->threshold;
            m.as_of_ms = a->as_of_ms;
            if (pack_out(s, &m.base, &len))
                return TC_EOVERSIZED;
        }
        produce(s, s->conf.churn_alerts, a->user, strlen(a->user), s->enc, len);
    }
    if (s->r) {
        char v[6][40];
        fmt_num(v[0], 40, a->risk);
        fmt_num(v[1], 40, a->p_alive);
        fmt_num(v[2], 40, a->expected_transactions);
        fmt_num(v[3], 40, a->threshold);
        snprintf(v[4], 40, "%" PRId64, a->last_seen_ms);
        snprintf(v[5], 40, "%" PRId64, a->as_of_ms);
        static const char *const fields[7] = {"user", "risk", "p_alive", "expected",
                                              "threshold", "last_seen_ms", "as_of_ms"};
        const char *vals[7] = {a->user, v[0], v[1], v[2], v[3], v[4], v[5]};
        snprintf(s->key, sizeof(s->key), "%salerts", s->conf.redis_prefix);
        tc_redis_xadd(s->r, s->key, 100000, fields, vals, 7);
        redis_user(s, a->user, a->risk, a->p_alive, a->expected_transactions, UINT32_MAX,
                   a->last_seen_ms, a->as_of_ms);
    }
    return 0;
}

static uint64_t hash_str(const char *p)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Writes every remembered score to Redis (ZADD + HSET per user) and forgets them. */
static void flush_scores(tc_stream_t *s)
{
    if (!s->score_n)
        return;
    for (size_t i = 0; i < s->score_cap; i++) {
        score_t *e = &s->scores[i];
        if (!e->used)
            continue;
        redis_user(s, e->user, e->risk, e->p_alive, e->expected, e->frequency, e->last_seen_ms,
                   e->as_of_ms);
        e->used = false;
    }
    s->score_n = 0;
}

static int grow_scores(tc_stream_t *s)
{
    size_t cap = s->score_cap ? s->score_cap * 2 : 1024;
    score_t *old = s->scores, *nw = calloc(cap, sizeof(*nw));
    if (!nw)
        return TC_ENOMEM;
    for (size_t i = 0; i < s->score_cap; i++) {
        if (!old[i].used)
            continue;
        size_t j = hash_str(old[i].user) & (cap - 1);
        while (nw[j].used)
            j = (j + 1) & (cap - 1);
        nw[j] = old[i];
    }
    free(old);
    s->scores = nw;
    s->score_cap = cap;
    return 0;
}

/*
 * Keeps the latest score per user until the next tick: per-event Redis
 * writes would cost a round of formatting and a queue entry per event
 * (FACTS.md), while a user's hash only needs its last value.
 */
static void remember_score(tc_stream_t *s, const tc_pipeline_churn_score_t *c)
{
    size_t ul = strlen(c->user);
    if (ul >= sizeof(s->scores[0].user) ||
        ((s->score_n + 1) * 2 > s->score_cap && grow_scores(s))) {
        redis_user(s, c->user, c->risk, c->p_alive, c->expected_transactions, c->frequency,
                   c->last_seen_ms, c->as_of_ms);
        return;
    }
    size_t j = hash_str(c->user) & (s->score_cap - 1);
    while (s->scores[j].used && strcmp(s->scores[j].user, c->user))
        j = (j + 1) & (s->score_cap - 1);
    score_t *e = &s->scores[j];
    if (!e->used) {
        memcpy(e->user, c->user, ul + 1);
        e->used = true;
        s->score_n++;
    }
    e->risk = c->risk;
    e->p_alive = c->p_alive;
    e->expected = c->expected_transactions;
    e->frequency = c->frequency;
    e->last_seen_ms = c->last_seen_ms;
    e->as_of_ms = c->as_of_ms;
}

static void on_score_timer(uv_timer_t *t)
{
    flush_forecasts(t->data);
    flush_scores(t->data);
}

static int sink_churn_score(void *ctx, const tc_pipeline_churn_score_t *c)
{
    part_t *pt = ctx;
    tc_stream_t *s = pt->s;
    if (s->extra.churn_score)
        s->extra.churn_score(s->extra.ctx, c);
    if (on(s->conf.churn_scores)) {
        size_t len;
        if (s->conf.json_output) {
            json_begin(s);
            tc_output_churn_score(s->jf, c);
            len = json_end(s);
        } else {
            Tidecast__V1__ChurnScore m = TIDECAST__V1__CHURN_SCORE__INIT;
            m.user = (char *)c->user;
            m.risk = c->risk;
            m.p_alive = c->p_alive;
            m.expected_transactions = c->expected_transactions;
            m.last_seen_ms = c->last_seen_ms;
            m.frequency = c->frequency;
            m.horizon_ms = c->horizon_ms;
            m.as_of_ms = c->as_of_ms;
            m.model = (char *)(c->model ? c->model : "");
            if (pack_out(s, &m.base, &len))
                return TC_EOVERSIZED;
        }
        produce(s, s->conf.churn_scores, c->user, strlen(c->user), s->enc, len);
    }
    if (s->r)
        remember_score(s, c);
    return 0;
}

/* ---- input ---- */

static void dead_letter(tc_stream_t *s, const tc_kafka_msg_t *m, int code, const char *reason)
{
    uint64_t n = s->st.dead_letters++;
    char q[512];
    if (n < DEAD_LETTER_LOG_LIMIT)
        tc_log_warn("malformed event", "topic=%s partition=%" PRId32 " offset=%" PRId64
                    " error=%s reason=%s",
                    m->topic, m->partition, m->offset, tc_errname(code),
                    tc_log_quote(q, sizeof(q), reason));
    if (!on(s->conf.dead_letter))
        return;
    char src[512];
    int sl = snprintf(src, sizeof(src), "%s/%" PRId32 "/%" PRId64, m->topic, m->partition,
                      m->offset);
    const char *en = tc_errname(code);
    tc_kafka_header_t h[3] = {
        {"tidecast-error", en, strlen(en)},
        {"tidecast-reason", reason, strlen(reason)},
        {"tidecast-source", src, (size_t)sl},
    };
    int rc = tc_kafka_produce(s->k, s->conf.dead_letter, m->key, m->key_len, m->payload, m->len,
                              h, 3);
    if (rc)
        tc_log_error("cannot produce dead letter", "error=%s", tc_errname(rc));
}

static void on_message(void *ud, const tc_kafka_msg_t *m)
{
    tc_stream_t *s = ud;
    part_t *pt = find_part(s, m->topic, m->partition);
    if (!pt || !pt->live)
        return;
    s->st.messages++;
    int rc = s->conf.json_input
                 ? tc_pipeline_feed_json(pt->pipe, pt->kind, m->payload, m->len)
                 : tc_pipeline_feed_pb(pt->pipe, pt->kind, m->payload, m->len);
    switch (rc) {
    case 0:
    case TC_ELATE:
    case TC_EFULL:
        break;
    case TC_ENOMEM:
        tc_log_error("out of memory processing an event", "topic=%s offset=%" PRId64, m->topic,
                     m->offset);
        break;
    default:
        dead_letter(s, m, rc, tc_pipeline_last_error(pt->pipe));
    }
    pt->next_off = m->offset + 1;
}

static void on_bp_timer(uv_timer_t *t);

static void check_backpressure(tc_stream_t *s)
{
    size_t kb = tc_kafka_backlog(s->k);
    bool rfull = s->r && tc_redis_full(s->r);
    if (!(s->pause_reasons & PAUSE_BACKPRESSURE)) {
        if (kb > s->conf.max_backlog || rfull) {
            s->st.pauses++;
            tc_log_warn("output backlog full: pausing input", "kafka_backlog=%zu redis_bytes=%zu",
                        kb, s->r ? tc_redis_backlog_bytes(s->r) : 0);
            set_pause(s, PAUSE_BACKPRESSURE, true);
            uv_timer_start(&s->bp_timer, on_bp_timer, 10, 10);
        }
    } else if (kb <= s->conf.max_backlog / 2 && !rfull) {
        tc_log_info("output backlog drained: resuming input", "kafka_backlog=%zu", kb);
        set_pause(s, PAUSE_BACKPRESSURE, false);
    }
}

static void on_batch_done(void *ud)
{
    check_backpressure(ud);
}

/* While paused for back-pressure no batch completes: re-check on a timer. */
static void on_bp_timer(uv_timer_t *t)
{
    tc_stream_t *s = t->data;
    tc_kafka_service(s->k);
    check_backpressure(s);
    if (!(s->pause_reasons & PAUSE_BACKPRESSURE))
        uv_timer_stop(t);
}

/* ---- assignment and restore ---- */

static tc_event_kind_t topic_kind(tc_stream_t *s, const char *topic)
{
    if (on(s->conf.traffic) && !strcmp(topic, s->conf.traffic))
        return TC_EVENT_TRAFFIC;
    if (on(s->conf.behavior) && !strcmp(topic, s->conf.behavior))
        return TC_EVENT_BEHAVIOR;
    if (on(s->conf.annotations) && !strcmp(topic, s->conf.annotations))
        return TC_EVENT_ANNOTATION;
    return TC_EVENT_NONE;
}

static void restored_offset(void *ud, const char *topic, int64_t offset)
{
    part_t *pt = ud;
    if (!strcmp(topic, pt->topic))
        pt->next_off = offset;
}

static void on_ckpt_read(void *ud, int rc, const void *data, size_t len)
{
    part_t *pt = ud;
    tc_stream_t *s = pt->s;
    int64_t start = TC_KAFKA_OFFSET_STORED;
    if (rc == 0 && data) {
        int r = tc_pipeline_restore(pt->pipe, data, len, restored_offset, pt);
        if (r == 0 && pt->next_off >= 0) {
            start = pt->next_off;
            pt->ckpt_off = pt->next_off;
            s->st.restores++;
            tc_log_info("partition restored", "topic=%s partition=%" PRId32 " offset=%" PRId64,
                        pt->topic, pt->partition, start);
        } else {
            tc_log_error("checkpoint not usable, starting empty", "topic=%s partition=%" PRId32
                         " error=%s",
                         pt->topic, pt->partition, tc_errname(r ? r : TC_ECORRUPT));
            tc_pipeline_free(pt->pipe);
            pt->pipe = NULL;
            pt->next_off = -1;
            tc_pipeline_sink_t sink = s->sink;
            sink.ctx = pt;
            tc_pipeline_new(&s->pcfg, &sink, &pt->pipe);
        }
    }
    pt->live = pt->pipe != NULL;
    tc_kafka_assign_offset(s->k, pt->topic, pt->partition, start);
}

static void on_assign(void *ud, const char *topic, int32_t partition)
{
    tc_stream_t *s = ud;
    part_t *pt = find_part(s, topic, partition);
    if (pt) /* left over from an unfinished revoke: start afresh */
        drop_part(s, pt);
    pt = calloc(1, sizeof(*pt));
    if (!pt || (s->nparts == s->cap && !(s->parts = realloc(s->parts, (s->cap = s->cap * 2 + 8) *
                                                                      sizeof(*s->parts))))) {
        tc_log_error("out of memory on assignment", "topic=%s", topic);
        free(pt);
        tc_kafka_assign_offset(s->k, topic, partition, TC_KAFKA_OFFSET_STORED);
        return;
    }
    pt->s = s;
    pt->topic = strdup(topic);
    pt->kind = topic_kind(s, topic);
    pt->partition = partition;
    pt->next_off = pt->ckpt_off = -1;
    tc_pipeline_sink_t sink = s->sink;
    sink.ctx = pt;
    int rc = tc_pipeline_new(&s->pcfg, &sink, &pt->pipe);
    if (rc) {
        tc_log_error("cannot create the pipeline", "error=%s", tc_errname(rc));
    }
    s->parts[s->nparts++] = pt;
    s->st.partitions = s->nparts;
    if (s->r) {
        char key[512];
        tc_redis_get(s->r, ckpt_key(s, topic, partition, key, sizeof(key)), on_ckpt_read, pt);
        tc_redis_flush(s->r);
    } else {
        pt->live = pt->pipe != NULL;
        tc_kafka_assign_offset(s->k, topic, partition, TC_KAFKA_OFFSET_STORED);
    }
}

/* ---- checkpoints ---- */

static void free_ckpt(ckpt_t *c)
{
    free(c->topic);
    free(c->buf);
    free(c);
}

static void on_ckpt_stored(void *ud, int rc, const void *data, size_t len)
{
    (void)data;
    (void)len;
    ckpt_t *c = ud;
    tc_stream_t *s = c->s;
    if (rc == 0) {
        s->st.checkpoints++;
        if (tc_kafka_commit(s->k, c->topic, c->partition, c->offset) == 0)
            s->st.commits++;
    } else {
        tc_log_error("checkpoint not stored", "topic=%s partition=%" PRId32, c->topic,
                     c->partition);
    }
    free_ckpt(c);
}

/* Serialises one partition into a ckpt_t (NULL if nothing new or on failure). */
static ckpt_t *take_snapshot(tc_stream_t *s, part_t *pt)
{
    if (!pt->live || pt->next_off < 0 || pt->next_off == pt->ckpt_off)
        return NULL;
    ckpt_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    tc_pipeline_offset_t off = {pt->topic, pt->next_off};
    int rc = tc_pipeline_snapshot(pt->pipe, s->conf.group, pt->partition, &off, 1, wall_ms(),
                                  &c->buf, &c->len);
    if (rc) {
        tc_log_error("snapshot failed", "topic=%s partition=%" PRId32 " error=%s", pt->topic,
                     pt->partition, tc_errname(rc));
        free(c);
        return NULL;
    }
    c->s = s;
    c->topic = strdup(pt->topic);
    c->partition = pt->partition;
    c->offset = pt->next_off;
    pt->ckpt_off = pt->next_off;
    return c;
}

/* Outputs before the snapshots are delivered: store them, then commit. */
static void store_snapshots(tc_stream_t *s)
{
    flush_forecasts(s); /* outputs before the snapshots go first */
    flush_scores(s);
    while (s->waiting) {
        ckpt_t *c = s->waiting;
        s->waiting = c->next;
        if (s->r) {
            char key[512];
            tc_redis_set(s->r, ckpt_key(s, c->topic, c->partition, key, sizeof(key)), c->buf,
                         c->len, on_ckpt_stored, c);
        } else {
            if (tc_kafka_commit(s->k, c->topic, c->partition, c->offset) == 0)
                s->st.commits++;
            free_ckpt(c);
        }
    }
    if (s->r)
        tc_redis_flush(s->r);
}

static void finish_stop(tc_stream_t *s);

static void on_wait(uv_timer_t *t)
{
    tc_stream_t *s = t->data;
    tc_kafka_service(s->k);
    uint64_t now = uv_now(s->loop);
    if (s->ckpt_running) {
        if (tc_kafka_backlog(s->k) > 0 && !(s->stopping && now > s->stop_deadline))
            return; /* the timer repeats */
        store_snapshots(s);
        s->ckpt_running = false;
        if (!s->stopping)
            set_pause(s, PAUSE_CHECKPOINT, false);
    }
    if (s->stopping) {
        if (s->r && tc_redis_backlog(s->r) > 0 && now <= s->stop_deadline)
            return;
        uv_timer_stop(t);
        finish_stop(s);
        return;
    }
    uv_timer_stop(t);
}

static void checkpoint_cycle(tc_stream_t *s)
{
    if (s->ckpt_running)
        return;
    set_pause(s, PAUSE_CHECKPOINT, true);
    for (size_t i = 0; i < s->nparts; i++) {
        ckpt_t *c = take_snapshot(s, s->parts[i]);
        if (c) {
            c->next = s->waiting;
            s->waiting = c;
        }
    }
    s->ckpt_running = true;
    uv_timer_start(&s->wait_timer, on_wait, 0, 5);
}

/* A progress line every 250 ms at debug level: consumed, rate, lag. */
static void on_progress(uv_timer_t *t)
{
    tc_stream_t *s = t->data;
    if (!tc_log_enabled(TC_LOG_DEBUG))
        return;
    uint64_t now = uv_now(s->loop);
    double dt = (double)(now - s->prog_ms) / 1000.0;
    tc_log_debug("stream progress", "messages=%" PRIu64 " rate=%.0f lag=%" PRId64
                 " kafka_backlog=%zu redis_backlog=%zu",
                 s->st.messages, dt > 0 ? (double)(s->st.messages - s->prog_msgs) / dt : 0.0,
                 tc_kafka_lag(s->k), tc_kafka_backlog(s->k), s->r ? tc_redis_backlog(s->r) : 0);
    s->prog_ms = now;
    s->prog_msgs = s->st.messages;
}

static void on_ckpt_timer(uv_timer_t *t)
{
    tc_stream_t *s = t->data;
    if (!s->stopping)
        checkpoint_cycle(s);
}

static void on_revoke(void *ud, const char *topic, int32_t partition)
{
    tc_stream_t *s = ud;
    part_t *pt = find_part(s, topic, partition);
    if (!pt)
        return;
    if (!s->stopping) {
        /* Outputs first, then the snapshot: both before the partition moves. */
        ckpt_t *c = take_snapshot(s, pt);
        if (c) {
            tc_kafka_flush(s->k, 10000);
            c->next = s->waiting;
            s->waiting = c;
            if (!s->ckpt_running)
                store_snapshots(s);
        }
    }
    drop_part(s, pt);
    s->st.partitions = s->nparts;
}

/* ---- lifecycle ---- */

static void redis_log(void *ud, tc_redis_level_t lvl, const char *msg)
{
    (void)ud;
    char q[600];
    tc_log((enum tc_log_level)lvl, "redis", "detail=%s", tc_log_quote(q, sizeof(q), msg));
}

static void kafka_log_q(void *ud, tc_kafka_level_t lvl, const char *msg)
{
    char q[600];
    (void)ud;
    tc_log((enum tc_log_level)lvl, "kafka", "detail=%s", tc_log_quote(q, sizeof(q), msg));
}

tc_stream_t *tc_stream_new(uv_loop_t *loop, const tc_stream_conf_t *conf,
                           const tc_pipeline_sink_t *extra, char *err, size_t errlen)
{
    tc_stream_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->conf = *conf;
    s->pcfg = *conf->pipeline;
    s->conf.pipeline = &s->pcfg;
    if (!s->conf.redis_prefix)
        s->conf.redis_prefix = "tc:";
    if (!s->conf.group)
        s->conf.group = "tidecast";
    if (s->conf.checkpoint_ms <= 0)
        s->conf.checkpoint_ms = 10000;
    if (!s->conf.max_backlog)
        s->conf.max_backlog = 500000;
    if (extra)
        s->extra = *extra;
    s->sink.bucket = s->extra.bucket ? sink_bucket : NULL;
    s->sink.forecast = sink_forecast;
    s->sink.scale = sink_scale;
    s->sink.churn_alert = sink_churn_alert;
    s->sink.churn_score =
        on(conf->churn_scores) || conf->use_redis || s->extra.churn_score ? sink_churn_score : NULL;
    s->enc = malloc(ENC_CAP);
    s->jf = s->enc ? fmemopen(s->enc, ENC_CAP, "w") : NULL;
    if (!s->jf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* A throw-away pipeline validates the configuration now rather than at assignment. */
    tc_pipeline_t *probe = NULL;
    int rc = tc_pipeline_new(&s->pcfg, &s->sink, &probe);
    tc_pipeline_free(probe);
    if (rc) {
        snprintf(err, errlen, "pipeline configuration: %s", tc_strerror(rc));
        goto fail;
    }
    const char *topics[4];
    int nt = 0;
    if (on(conf->traffic))
        topics[nt++] = conf->traffic;
    if (on(conf->behavior))
        topics[nt++] = conf->behavior;
    if (on(conf->annotations))
        topics[nt++] = conf->annotations;
    topics[nt] = NULL;
    if (!nt) {
        snprintf(err, errlen, "no input topic configured");
        goto fail;
    }
    uv_timer_init(loop, &s->ckpt_timer);
    uv_timer_init(loop, &s->wait_timer);
    uv_timer_init(loop, &s->prog_timer);
    uv_timer_init(loop, &s->score_timer);
    uv_timer_init(loop, &s->bp_timer);
    s->ckpt_timer.data = s->wait_timer.data = s->prog_timer.data = s->score_timer.data = s;
    s->bp_timer.data = s;
    s->handles_open = 5;
    s->prog_ms = uv_now(loop);
    if (conf->use_redis) {
        tc_redis_hooks_t rh = {.ud = s, .log = redis_log};
        s->r = tc_redis_new(loop, &conf->redis, &rh);
        if (!s->r) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    tc_kafka_conf_t kc = {
        .group = s->conf.group,
        .topics = topics,
        .props = conf->kafka_props,
        .nprops = conf->n_kafka_props,
        .mock_brokers = conf->mock_brokers,
    };
    tc_kafka_hooks_t kh = {
        .ud = s,
        .message = on_message,
        .batch_done = on_batch_done,
        .assign = on_assign,
        .revoke = on_revoke,
        .log = kafka_log_q,
    };
    /* bootstrap.servers comes with the passthrough properties (the last one wins). */
    for (size_t i = 0; i + 1 < 2 * conf->n_kafka_props; i += 2)
        if (!strcmp(conf->kafka_props[i], "bootstrap.servers"))
            kc.brokers = conf->kafka_props[i + 1];
    s->k = tc_kafka_new(loop, &kc, &kh, err, errlen);
    if (!s->k)
        goto fail;
    if (tc_kafka_mock_bootstrap(s->k))
        tc_log_info("mock cluster", "bootstrap=%s", tc_kafka_mock_bootstrap(s->k));
    uv_timer_start(&s->prog_timer, on_progress, 250, 250);
    uv_timer_start(&s->score_timer, on_score_timer, 50, 50);
    uv_timer_start(&s->ckpt_timer, on_ckpt_timer, (uint64_t)s->conf.checkpoint_ms,
                   (uint64_t)s->conf.checkpoint_ms);
    return s;
fail:
    if (s->r) {
        tc_redis_close(s->r);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    if (s->handles_open) {
        uv_close((uv_handle_t *)&s->ckpt_timer, NULL);
        uv_close((uv_handle_t *)&s->wait_timer, NULL);
        uv_close((uv_handle_t *)&s->prog_timer, NULL);
        uv_close((uv_handle_t *)&s->score_timer, NULL);
        uv_close((uv_handle_t *)&s->bp_timer, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    tc_redis_free(s->r);
    s->r = NULL;
    tc_stream_free(s);
    return NULL;
}

static void finish_stop(tc_stream_t *s)
{
    if (s->stopped)
        return;
    s->stopped = true;
    int rc = tc_kafka_close(s->k, 10000); /* revokes: parts are dropped */
    if (rc)
        tc_log_warn("outputs left undelivered at stop", "error=%s", tc_errname(rc));
    if (s->r) {
        if (tc_redis_backlog(s->r))
            tc_log_warn("redis writes left unanswered at stop", "count=%zu",
                        tc_redis_backlog(s->r));
        tc_redis_close(s->r);
    }
    uv_close((uv_handle_t *)&s->ckpt_timer, NULL);
    uv_close((uv_handle_t *)&s->wait_timer, NULL);
    uv_close((uv_handle_t *)&s->prog_timer, NULL);
    uv_close((uv_handle_t *)&s->score_timer, NULL);
    uv_close((uv_handle_t *)&s->bp_timer, NULL);
    tc_log_info("stream stopped", "messages=%" PRIu64 " dead_letters=%" PRIu64
                " checkpoints=%" PRIu64 " restores=%" PRIu64,
                s->st.messages, s->st.dead_letters, s->st.checkpoints, s->st.restores);
    if (s->done)
        s->done(s->done_ud);
}

void tc_stream_stop(tc_stream_t *s, int timeout_ms, void (*done)(void *ud), void *ud)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->done = done;
    s->done_ud = ud;
    s->stop_deadline = uv_now(s->loop) + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000);
    set_pause(s, PAUSE_STOP, true);
    uv_timer_stop(&s->ckpt_timer);
    if (s->ckpt_running) {
        /* The running cycle's wait timer finishes the stop. */
        return;
    }
    s->ckpt_running = false;
    for (size_t i = 0; i < s->nparts; i++) {
        ckpt_t *c = take_snapshot(s, s->parts[i]);
        if (c) {
            c->next = s->waiting;
            s->waiting = c;
        }
    }
    s->ckpt_running = true;
    uv_timer_start(&s->wait_timer, on_wait, 0, 5);
}

void tc_stream_free(tc_stream_t *s)
{
    if (!s)
        return;
    while (s->nparts)
        drop_part(s, s->parts[0]);
    free(s->parts);
    while (s->waiting) {
        ckpt_t *c = s->waiting;
        s->waiting = c->next;
        free_ckpt(c);
    }
    tc_kafka_free(s->k);
    tc_redis_free(s->r);
    free(s->scores);
    free(s->fcs);
    if (s->jf)
        fclose(s->jf);
    free(s->enc);
    free(s);
}

void tc_stream_stats(const tc_stream_t *s, tc_stream_stats_t *out)
{
    *out = s->st;
    memset(&out->total, 0, sizeof(out->total));
    for (size_t i = 0; i < s->nparts; i++) {
        tc_pipeline_stats_t p;
        if (!s->parts[i]->pipe)
            continue;
        tc_pipeline_stats(s->parts[i]->pipe, &p);
        out->total.events += p.events;
        out->total.malformed += p.malformed;
        out->total.late += p.late;
        out->total.buckets += p.buckets;
        out->total.forecasts += p.forecasts;
        out->total.scale_signals += p.scale_signals;
        out->total.churn_alerts += p.churn_alerts;
        out->total.series += p.series;
    }
}

const char *tc_stream_mock_bootstrap(const tc_stream_t *s)
{
    return tc_kafka_mock_bootstrap(s->k);
}
