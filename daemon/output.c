/*
 * output.c - NDJSON lines for closed buckets and dead letters (output.h),
 * built with jansson so that keys and payloads are always escaped properly.
 */
#include "daemon/output.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

void tc_output_iso8601(int64_t ms, char *buf, size_t n)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(buf + k, n - k, ".%03dZ", frac);
    else
        snprintf(buf + k, n - k, "Z");
}

static int dump_line(FILE *out, json_t *o)
{
    if (!o)
        return TC_ENOMEM;
    int rc = json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (rc || fputc('\n', out) == EOF)
        return TC_EIO;
    return 0;
}

int tc_output_bucket(FILE *out, const tc_pipeline_bucket_t *b, unsigned metrics)
{
    char iso[40];
    tc_output_iso8601(b->b->start_ms, iso, sizeof(iso));
    json_t *o = json_object();
    if (!o)
        return TC_ENOMEM;
    json_object_set_new(o, "series", json_stringn(b->key, b->key_len));
    json_object_set_new(o, "bucket_start_ms", json_integer(b->b->start_ms));
    json_object_set_new(o, "bucket_start", json_string(iso));
    json_object_set_new(o, "bucket_ms", json_integer(b->bucket_ms));
    for (int m = 0; m < TC_METRIC_COUNT; m++) {
        if (!(metrics & (1u << m)))
            continue;
        double v = tc_bucket_metric(b->b, (tc_metric_t)m);
        json_t *val = m == TC_METRIC_REVENUE ? json_real(v) : json_integer((json_int_t)llround(v));
        json_object_set_new(o, tc_metric_name((tc_metric_t)m), val);
    }
    return dump_line(out, o);
}

static json_t *hex(const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 15];
    }
    json_t *j = json_stringn(s, 2 * len);
    free(s);
    return j;
}

int tc_output_dead_letter(FILE *out, const char *source, uint64_t index, bool binary, int code,
                          const char *reason, const uint8_t *data, size_t len)
{
    json_t *o = json_object();
    if (!o)
        return TC_ENOMEM;
    json_object_set_new(o, "source", json_string(source));
    json_object_set_new(o, binary ? "frame" : "line", json_integer((json_int_t)index));
    json_object_set_new(o, "error", json_string(tc_errname(code)));
    /* The reason may quote input bytes: if it is not valid UTF-8, say so plainly. */
    json_t *r = json_string(reason && *reason ? reason : tc_strerror(code));
    json_object_set_new(o, "reason", r ? r : json_string(tc_strerror(code)));
    json_t *payload = NULL;
    if (!binary && data)
        payload = json_stringn((const char *)data, len); /* NULL if not UTF-8 */
    if (payload)
        json_object_set_new(o, "payload", payload);
    else if (data)
        json_object_set_new(o, "payload_hex", hex(data, len));
    return dump_line(out, o);
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int tc_output_forecast(FILE *out, const tc_pipeline_forecast_t *f)
{
    char iso[40];
    tc_output_iso8601(f->origin_ms, iso, sizeof(iso));
    json_t *o = json_object();
    json_t *steps = json_array();
    json_t *acc = json_object();
    if (!o || !steps || !acc) {
        json_decref(o);
        json_decref(steps);
        json_decref(acc);
        return TC_ENOMEM;
    }
    json_object_set_new(o, "type", json_string("forecast"));
    json_object_set_new(o, "series", json_stringn(f->key, f->key_len));
    json_object_set_new(o, "metric", json_string(tc_metric_name(f->metric)));
    json_object_set_new(o, "model", json_string(f->model));
    json_object_set_new(o, "origin_ms", json_integer(f->origin_ms));
    json_object_set_new(o, "origin", json_string(iso));
    json_object_set_new(o, "bucket_ms", json_integer(f->bucket_ms));
    json_object_set_new(o, "actual", num(f->actual));
    for (size_t h = 0; h < f->horizon; h++) {
        const tc_forecast_step_t *st = &f->steps[h];
        json_t *s = json_object();
        json_object_set_new(s, "h", json_integer((json_int_t)h + 1));
        json_object_set_new(s, "mean", num(st->mean));
        json_object_set_new(s, "lo80", num(st->lo80));
        json_object_set_new(s, "hi80", num(st->hi80));
        json_object_set_new(s, "lo95", num(st->lo95));
        json_object_set_new(s, "hi95", num(st->hi95));
        json_array_append_new(steps, s);
    }
    json_object_set_new(o, "steps", steps);
    const tc_accuracy_report_t *a = &f->accuracy;
    json_object_set_new(acc, "n", num(a->n));
    json_object_set_new(acc, "mae", num(a->mae));
    json_object_set_new(acc, "rmse", num(a->rmse));
    json_object_set_new(acc, "mase", num(a->mase));
    json_object_set_new(acc, "smape", num(a->smape));
    json_object_set_new(acc, "r2", num(a->r2));
    json_object_set_new(acc, "coverage80", num(a->coverage));
    json_object_set_new(o, "accuracy", acc);
    return dump_line(out, o);
}

int tc_output_scale(FILE *out, const tc_pipeline_scale_t *s)
{
    char iso[40];
    tc_output_iso8601(s->origin_ms, iso, sizeof(iso));
    json_t *o = json_object();
    if (!o)
        return TC_ENOMEM;
    json_object_set_new(o, "type", json_string("scale"));
    json_object_set_new(o, "series", json_stringn(s->key, s->key_len));
    json_object_set_new(o, "current_replicas", json_integer(s->current_replicas));
    json_object_set_new(o, "recommended_replicas", json_integer(s->recommended_replicas));
    json_object_set_new(o, "forecast_upper", num(s->forecast_upper));
    json_object_set_new(o, "at_h", json_integer(s->at_h));
    json_object_set_new(o, "capacity_per_replica", num(s->capacity_per_replica));
    json_object_set_new(o, "origin_ms", json_integer(s->origin_ms));
    json_object_set_new(o, "origin", json_string(iso));
    json_object_set_new(o, "reason", json_string(s->reason));
    return dump_line(out, o);
}

int tc_output_churn_alert(FILE *out, const tc_pipeline_churn_alert_t *a)
{
    char iso[40];
    tc_output_iso8601(a->as_of_ms, iso, sizeof(iso));
    json_t *o = json_object();
    if (!o)
        return TC_ENOMEM;
    json_object_set_new(o, "type", json_string("churn_alert"));
    json_object_set_new(o, "user", json_string(a->user));
    json_object_set_new(o, "risk", num(a->risk));
    json_object_set_new(o, "p_alive", num(a->p_alive));
    json_object_set_new(o, "expected_transactions", num(a->expected_transactions));
    json_object_set_new(o, "threshold", num(a->threshold));
    json_object_set_new(o, "last_seen_ms", json_integer(a->last_seen_ms));
    json_object_set_new(o, "as_of_ms", json_integer(a->as_of_ms));
    json_object_set_new(o, "as_of", json_string(iso));
    return dump_line(out, o);
}

int tc_output_churn_score(FILE *out, const tc_pipeline_churn_score_t *c)
{
    json_t *o = json_object();
    if (!o)
        return TC_ENOMEM;
    json_object_set_new(o, "type", json_string("churn_score"));
    json_object_set_new(o, "user", json_string(c->user));
    json_object_set_new(o, "risk", num(c->risk));
    json_object_set_new(o, "p_alive", num(c->p_alive));
    json_object_set_new(o, "expected_transactions", num(c->expected_transactions));
    json_object_set_new(o, "frequency", json_integer(c->frequency));
    json_object_set_new(o, "last_seen_ms", json_integer(c->last_seen_ms));
    json_object_set_new(o, "horizon_ms", json_integer(c->horizon_ms));
    json_object_set_new(o, "as_of_ms", json_integer(c->as_of_ms));
    json_object_set_new(o, "model", json_string(c->model));
    return dump_line(out, o);
}
