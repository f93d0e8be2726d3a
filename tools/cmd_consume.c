/*
 * cmd_consume.c - `tidecast consume`: prints an output topic as NDJSON.
 *
 * Reads a topic from the beginning (its own consumer group, nothing
 * committed) and writes one JSON line per message: protobuf outputs
 * (forecast, scale, alert, score) decoded field by field, JSON outputs as
 * they are, dead letters with their headers. It stops after --idle-ms
 * without a message once at least --min messages have been read, or after
 * --max messages.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "daemon/kafka.h"
#include "error.h"
#include "tidecast/v1/outputs.pb-c.h"

const char cmd_consume_summary[] = "print an output topic as NDJSON";

enum { T_FORECAST, T_SCALE, T_ALERT, T_SCORE, T_DEAD, T_RAW };

typedef struct {
    uv_loop_t *loop;
    tc_kafka_t *k;
    int type;
    uint64_t n, max, min;
    uint64_t last_ms, idle_ms, start_ms;
} cons_t;

/* A JSON number, or null for NaN and infinities (rotating static buffers). */
static const char *jnum(double v)
{
    static char buf[8][32];
    static int i;
    char *b = buf[i++ & 7];
    if (isfinite(v))
        snprintf(b, 32, "%.17g", v);
    else
        snprintf(b, 32, "null");
    return b;
}

static void jstr(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void on_msg(void *ud, const tc_kafka_msg_t *m)
{
    cons_t *c = ud;
    c->n++;
    c->last_ms = uv_now(c->loop);
    printf("{\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"key\":", m->partition, m->offset);
    jstr(m->key ? m->key : "", m->key_len);
    const uint8_t *p = m->payload;
    switch (c->type) {
    case T_FORECAST: {
        Tidecast__V1__Forecast *f = tidecast__v1__forecast__unpack(NULL, m->len, p);
        if (!f)
            break;
        printf(",\"series\":\"%s\",\"metric\":\"%s\",\"model\":\"%s\",\"origin_ms\":%" PRId64
               ",\"bucket_ms\":%" PRId64 ",\"actual\":%s,\"steps\":[",
               f->series, f->metric, f->model, f->origin_ms, f->bucket_ms, jnum(f->actual));
        for (size_t i = 0; i < f->n_steps; i++)
            printf("%s{\"h\":%u,\"mean\":%s,\"lo80\":%s,\"hi80\":%s,\"lo95\":%s,"
                   "\"hi95\":%s}",
                   i ? "," : "", f->steps[i]->h, jnum(f->steps[i]->mean), jnum(f->steps[i]->lo80),
                   jnum(f->steps[i]->hi80), jnum(f->steps[i]->lo95), jnum(f->steps[i]->hi95));
        printf("]");
        if (f->accuracy)
            printf(",\"accuracy\":{\"n\":%" PRIu64 ",\"mae\":%s,\"rmse\":%s}",
                   f->accuracy->n, jnum(f->accuracy->mae), jnum(f->accuracy->rmse));
        printf(",\"issued_at_ms\":%" PRId64, f->issued_at_ms);
        tidecast__v1__forecast__free_unpacked(f, NULL);
        break;
    }
    case T_SCALE: {
        Tidecast__V1__ScaleSignal *s = tidecast__v1__scale_signal__unpack(NULL, m->len, p);
        if (!s)
            break;
        printf(",\"series\":\"%s\",\"current_replicas\":%u,\"recommended_replicas\":%u,"
               "\"forecast_upper\":%s,\"at_h\":%u,\"origin_ms\":%" PRId64 ",\"reason\":",
               s->series, s->current_replicas, s->recommended_replicas, jnum(s->forecast_upper),
               s->at_h, s->origin_ms);
        jstr(s->reason, strlen(s->reason));
        tidecast__v1__scale_signal__free_unpacked(s, NULL);
        break;
    }
    case T_ALERT: {
        Tidecast__V1__ChurnAlert *a = tidecast__v1__churn_alert__unpack(NULL, m->len, p);
        if (!a)
            break;
        printf(",\"user\":\"%s\",\"risk\":%s,\"p_alive\":%s,\"last_seen_ms\":%" PRId64
               ",\"threshold\":%s,\"as_of_ms\":%" PRId64,
               a->user, jnum(a->risk), jnum(a->p_alive), a->last_seen_ms, jnum(a->threshold),
               a->as_of_ms);
        tidecast__v1__churn_alert__free_unpacked(a, NULL);
        break;
    }
    case T_SCORE: {
        Tidecast__V1__ChurnScore *s = tidecast__v1__churn_score__unpack(NULL, m->len, p);
        if (!s)
            break;
        printf(",\"user\":\"%s\",\"risk\":%s,\"p_alive\":%s,\"frequency\":%u,"
               "\"as_of_ms\":%" PRId64,
               s->user, jnum(s->risk), jnum(s->p_alive), s->frequency, s->as_of_ms);
        tidecast__v1__churn_score__free_unpacked(s, NULL);
        break;
    }
    case T_DEAD: {
        static const char *const names[] = {"tidecast-error", "tidecast-reason",
                                            "tidecast-source"};
        for (int i = 0; i < 3; i++) {
            const void *v;
            size_t n;
            if (tc_kafka_msg_header(m, names[i], &v, &n) == 0) {
                printf(",\"%s\":", names[i] + 9);
                jstr(v, n);
            }
        }
        printf(",\"bytes\":%zu", m->len);
        break;
    }
    default:
        printf(",\"value\":");
        jstr(m->payload, m->len);
    }
    printf("}\n");
    if (c->max && c->n >= c->max)
        uv_stop(c->loop);
}

static void on_tick(uv_timer_t *t)
{
    cons_t *c = t->data;
    uint64_t now = uv_now(c->loop);
    if (c->n >= c->min && c->last_ms && now - c->last_ms >= c->idle_ms)
        uv_stop(c->loop);
    if (!c->last_ms && c->min == 0 && now >= c->start_ms + c->idle_ms + 8000)
        uv_stop(c->loop); /* empty topic: give the group join time, then stop */
}

int cmd_consume(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"topic", required_argument, NULL, 't'},
        {"type", required_argument, NULL, 'T'},    {"max", required_argument, NULL, 'n'},
        {"min", required_argument, NULL, 'm'},     {"idle-ms", required_argument, NULL, 'i'},
        {"group", required_argument, NULL, 'g'},   {NULL, 0, NULL, 0}};
    const char *brokers = NULL, *topic = NULL, *group = NULL;
    cons_t c = {.type = T_RAW, .idle_ms = 3000};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "b:t:T:n:m:i:g:", opts, NULL)) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'T':
            c.type = !strcmp(optarg, "forecast") ? T_FORECAST
                     : !strcmp(optarg, "scale")  ? T_SCALE
                     : !strcmp(optarg, "alert")  ? T_ALERT
                     : !strcmp(optarg, "score")  ? T_SCORE
                     : !strcmp(optarg, "dead")   ? T_DEAD
                                                 : T_RAW;
            break;
        case 'n': c.max = strtoull(optarg, NULL, 10); break;
        case 'm': c.min = strtoull(optarg, NULL, 10); break;
        case 'i': c.idle_ms = strtoull(optarg, NULL, 10); break;
        case 'g': group = optarg; break;
        default:
            fprintf(stderr, "usage: tidecast consume --brokers B --topic T "
                            "[--type forecast|scale|alert|score|dead|raw] [--min N] [--max N] "
                            "[--idle-ms MS]\n");
            return 2;
        }
    }
    if (!brokers || !topic) {
        fprintf(stderr, "tidecast consume: --brokers and --topic are required\n");
        return 2;
    }
    char gbuf[64];
    if (!group) {
        snprintf(gbuf, sizeof(gbuf), "tidecast-consume-%llu", (unsigned long long)uv_hrtime());
        group = gbuf;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    c.loop = &loop;
    const char *topics[] = {topic, NULL};
    tc_kafka_conf_t kc = {.brokers = brokers, .group = group, .topics = topics,
                          .no_producer = true};
    tc_kafka_hooks_t kh = {.ud = &c, .message = on_msg};
    char err[512];
    c.k = tc_kafka_new(&loop, &kc, &kh, err, sizeof(err));
    if (!c.k) {
        fprintf(stderr, "tidecast consume: %s\n", err);
        return 1;
    }
    c.start_ms = uv_now(&loop);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &c;
    uv_timer_start(&t, on_tick, 100, 100);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    tc_kafka_close(c.k, 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    tc_kafka_free(c.k);
    uv_loop_close(&loop);
    fflush(stdout);
    fprintf(stderr, "tidecast consume: %llu messages from %s\n", (unsigned long long)c.n, topic);
    return 0;
}
