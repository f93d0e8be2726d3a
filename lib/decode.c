/*
 * decode.c - protobuf (protobuf-c) and JSON (jansson) input events into
 * tc_event_t, and the reverse (decode.h).
 *
 * Both formats first fill a tc_event_t with views into the decoder's arena,
 * then one validation pass (validate) applies the rules of decode.h, so the
 * two formats cannot drift apart. The arena is a single block sized once
 * from the limits: protobuf-c unpacks through a ProtobufCAllocator whose
 * free is a no-op and every decode call rewinds the block, so decoding a
 * protobuf message costs no malloc.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "error.h"
#include "tidecast/v1/events.pb-c.h"

/* Worst-case unpacked size of a message is a small multiple of its wire
 * size (unknown fields cost ~32 bytes of bookkeeping per 2 wire bytes);
 * ARENA_FACTOR * max_message_bytes + ARENA_SLACK covers it. */
#define ARENA_FACTOR 17
#define ARENA_SLACK 16384

struct tc_decoder {
    tc_decode_limits_t lim;
    int64_t now_ms;
    ProtobufCAllocator alloc;
    uint8_t *arena;
    size_t arena_size;
    size_t arena_used;
    bool arena_exhausted;
    char err[192];
};

void tc_decode_limits_default(tc_decode_limits_t *limits)
{
    limits->max_message_bytes = 65536;
    limits->max_string_bytes = 2048;
    limits->max_text_bytes = 16384;
    limits->max_features = TC_EVENT_MAX_FEATURES;
    limits->min_time_ms = 631152000000LL;
    limits->max_future_ms = 3600000;
}

static void *arena_alloc(void *ud, size_t n)
{
    tc_decoder_t *dec = ud;
    size_t off = (dec->arena_used + 15) & ~(size_t)15;
    if (off > dec->arena_size || n > dec->arena_size - off) {
        dec->arena_exhausted = true;
        return NULL;
    }
    dec->arena_used = off + n;
    return dec->arena + off;
}

static void arena_free(void *ud, void *p)
{
    (void)ud;
    (void)p;
}

static void arena_reset(tc_decoder_t *dec)
{
    dec->arena_used = 0;
    dec->arena_exhausted = false;
    dec->err[0] = '\0';
}

tc_decoder_t *tc_decoder_new(const tc_decode_limits_t *limits)
{
    tc_decode_limits_t lim, def;
    tc_decode_limits_default(&def);
    lim = limits ? *limits : def;
    if (!lim.max_message_bytes)
        lim.max_message_bytes = def.max_message_bytes;
    if (!lim.max_string_bytes)
        lim.max_string_bytes = def.max_string_bytes;
    if (!lim.max_text_bytes)
        lim.max_text_bytes = def.max_text_bytes;
    if (!lim.max_features)
        lim.max_features = def.max_features;
    if (!lim.min_time_ms)
        lim.min_time_ms = def.min_time_ms;
    if (!lim.max_future_ms)
        lim.max_future_ms = def.max_future_ms;
    if (lim.max_features > TC_EVENT_MAX_FEATURES || lim.max_message_bytes > ((size_t)1 << 26))
        return NULL;

    tc_decoder_t *dec = calloc(1, sizeof(*dec));
    if (!dec)
        return NULL;
    dec->lim = lim;
    dec->arena_size = ARENA_FACTOR * lim.max_message_bytes + ARENA_SLACK;
    dec->arena = malloc(dec->arena_size);
    if (!dec->arena) {
        free(dec);
        return NULL;
    }
    dec->alloc.alloc = arena_alloc;
    dec->alloc.free = arena_free;
    dec->alloc.allocator_data = dec;
    return dec;
}

void tc_decoder_free(tc_decoder_t *dec)
{
    if (!dec)
        return;
    free(dec->arena);
    free(dec);
}

void tc_decoder_set_now(tc_decoder_t *dec, int64_t now_ms)
{
    dec->now_ms = now_ms;
}

const char *tc_decoder_last_error(const tc_decoder_t *dec)
{
    return dec->err;
}

__attribute__((format(printf, 3, 4))) static int fail(tc_decoder_t *dec, int code,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dec->err, sizeof(dec->err), fmt, ap);
    va_end(ap);
    return code;
}

static int64_t clock_now_ms(const tc_decoder_t *dec)
{
    if (dec->now_ms)
        return dec->now_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const tc_str_t empty_str = {"", 0};

/* ---------------------------------------------------------------- validation */

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629: shortest form, no
 * surrogates, at most U+10FFFF). protobuf-c does not check string fields, and
 * keys made of them reach JSON outputs, which cannot carry anything else. */
static bool utf8_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* beyond U+10FFFF */
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += n + 1;
    }
    return true;
}

static int check_len(tc_decoder_t *dec, const char *name, tc_str_t s, size_t max)
{
    if (s.len > max)
        return fail(dec, TC_EOVERSIZED, "field %s is %zu bytes, limit %zu", name, s.len, max);
    if (!utf8_ok((const unsigned char *)s.ptr, s.len))
        return fail(dec, TC_EPARSE, "field %s is not valid UTF-8", name);
    return 0;
}

static int check_finite(tc_decoder_t *dec, const char *name, double v)
{
    if (!isfinite(v))
        return fail(dec, TC_ENAN, "field %s is not a finite number", name);
    return 0;
}

/* The rules of decode.h common to both formats, in a fixed order: sizes,
 * required fields, timestamps, enums, finiteness. */
static int validate(tc_decoder_t *dec, tc_event_t *ev)
{
    const tc_decode_limits_t *lim = &dec->lim;
    size_t ms = lim->max_string_bytes;
    int rc = 0;

    if ((rc = check_len(dec, "site", ev->site, ms)) || (rc = check_len(dec, "user_id", ev->user_id, ms)) ||
        (rc = check_len(dec, "session_id", ev->session_id, ms)))
        return rc;
    switch (ev->kind) {
    case TC_EVENT_TRAFFIC:
        if ((rc = check_len(dec, "path", ev->traffic.path, ms)) ||
            (rc = check_len(dec, "method", ev->traffic.method, ms)) ||
            (rc = check_len(dec, "referrer", ev->traffic.referrer, ms)) ||
            (rc = check_len(dec, "ua_class", ev->traffic.ua_class, ms)))
            return rc;
        break;
    case TC_EVENT_ANNOTATION:
        if ((rc = check_len(dec, "target", ev->annotation.target, ms)) ||
            (rc = check_len(dec, "schema", ev->annotation.schema, ms)) ||
            (rc = check_len(dec, "text", ev->annotation.text, lim->max_text_bytes)))
            return rc;
        if (ev->annotation.n_features > lim->max_features)
            return fail(dec, TC_EOVERSIZED, "field features has %zu values, limit %zu",
                        ev->annotation.n_features, lim->max_features);
        break;
    default:
        break;
    }

    if (ev->time_ms == 0)
        return fail(dec, TC_EMISSING_KEY, "missing field event_time_ms");
    switch (ev->kind) {
    case TC_EVENT_TRAFFIC:
        if (!ev->site.len)
            return fail(dec, TC_EMISSING_KEY, "missing field site");
        break;
    case TC_EVENT_BEHAVIOR:
        if (!ev->site.len)
            return fail(dec, TC_EMISSING_KEY, "missing field site");
        if (!ev->user_id.len)
            return fail(dec, TC_EMISSING_KEY, "missing field user_id");
        break;
    case TC_EVENT_ANNOTATION:
        if (!ev->annotation.target.len)
            return fail(dec, TC_EMISSING_KEY, "missing field target");
        break;
    default:
        return fail(dec, TC_EUNKNOWN_TYPE, "unknown event kind %d", (int)ev->kind);
    }

    if (ev->time_ms < 0)
        return fail(dec, TC_EBAD_TIMESTAMP, "event_time_ms %lld is negative",
                    (long long)ev->time_ms);
    if (ev->time_ms < lim->min_time_ms)
        return fail(dec, TC_EBAD_TIMESTAMP, "event_time_ms %lld is before the minimum %lld",
                    (long long)ev->time_ms, (long long)lim->min_time_ms);
    if (lim->max_future_ms >= 0) {
        int64_t now = clock_now_ms(dec);
        if (ev->time_ms > now && ev->time_ms - now > lim->max_future_ms)
            return fail(dec, TC_EBAD_TIMESTAMP,
                        "event_time_ms %lld is %lld ms in the future (limit %lld)",
                        (long long)ev->time_ms, (long long)(ev->time_ms - now),
                        (long long)lim->max_future_ms);
    }
    if (ev->kind == TC_EVENT_ANNOTATION && ev->annotation.valid_to_ms != 0 &&
        ev->annotation.valid_to_ms <= ev->annotation.valid_from_ms)
        return fail(dec, TC_EBAD_TIMESTAMP, "valid_to_ms %lld is not after valid_from_ms %lld",
                    (long long)ev->annotation.valid_to_ms,
                    (long long)ev->annotation.valid_from_ms);

    switch (ev->kind) {
    case TC_EVENT_TRAFFIC:
        return check_finite(dec, "latency_ms", ev->traffic.latency_ms);
    case TC_EVENT_BEHAVIOR:
        if ((int)ev->behavior.type < 0 || (int)ev->behavior.type >= TC_BEHAVIOR_COUNT)
            return fail(dec, TC_EUNKNOWN_TYPE, "unknown behavior type %d",
                        (int)ev->behavior.type);
        return check_finite(dec, "value", ev->behavior.value);
    case TC_EVENT_ANNOTATION:
        for (size_t i = 0; i < ev->annotation.n_features; i++)
            if (!isfinite(ev->annotation.features[i]))
                return fail(dec, TC_ENAN, "feature %zu is not a finite number", i);
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ protobuf */

static tc_str_t pbstr(const char *s)
{
    tc_str_t v = {s ? s : "", s ? strlen(s) : 0};
    return v;
}

static void from_traffic(const Tidecast__V1__TrafficEvent *m, tc_event_t *ev)
{
    ev->kind = TC_EVENT_TRAFFIC;
    ev->time_ms = m->event_time_ms;
    ev->site = pbstr(m->site);
    ev->user_id = pbstr(m->user_id);
    ev->session_id = pbstr(m->session_id);
    ev->traffic.path = pbstr(m->path);
    ev->traffic.method = pbstr(m->method);
    ev->traffic.referrer = pbstr(m->referrer);
    ev->traffic.ua_class = pbstr(m->ua_class);
    ev->traffic.status = m->status;
    ev->traffic.bytes = m->bytes;
    ev->traffic.latency_ms = m->latency_ms;
}

static void from_behavior(const Tidecast__V1__BehaviorEvent *m, tc_event_t *ev)
{
    ev->kind = TC_EVENT_BEHAVIOR;
    ev->time_ms = m->event_time_ms;
    ev->site = pbstr(m->site);
    ev->user_id = pbstr(m->user_id);
    ev->session_id = pbstr(m->session_id);
    ev->behavior.type = (tc_behavior_type_t)m->type;
    ev->behavior.value = m->value;
    ev->behavior.quantity = m->quantity;
}

static void from_annotation(const Tidecast__V1__Annotation *m, tc_event_t *ev)
{
    ev->kind = TC_EVENT_ANNOTATION;
    ev->time_ms = m->event_time_ms;
    ev->site = empty_str;
    ev->user_id = empty_str;
    ev->session_id = empty_str;
    ev->annotation.target = pbstr(m->target);
    ev->annotation.valid_from_ms = m->valid_from_ms;
    ev->annotation.valid_to_ms = m->valid_to_ms;
    ev->annotation.features = m->features;
    ev->annotation.n_features = m->n_features;
    ev->annotation.schema = pbstr(m->schema);
    ev->annotation.text = pbstr(m->text);
}

static int unpack_failed(tc_decoder_t *dec, const char *what)
{
    if (dec->arena_exhausted)
        return fail(dec, TC_EOVERSIZED, "%s needs more decode memory than the limits allow",
                    what);
    return fail(dec, TC_EPARSE, "%s is not a valid protobuf message", what);
}

static int check_message_len(tc_decoder_t *dec, size_t len)
{
    if (len > dec->lim.max_message_bytes)
        return fail(dec, TC_EOVERSIZED, "message is %zu bytes, limit %zu", len,
                    dec->lim.max_message_bytes);
    return 0;
}

int tc_decode_pb(tc_decoder_t *dec, tc_event_kind_t kind, const uint8_t *buf, size_t len,
                 tc_event_t *out)
{
    arena_reset(dec);
    int rc = check_message_len(dec, len);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    switch (kind) {
    case TC_EVENT_TRAFFIC: {
        Tidecast__V1__TrafficEvent *m = tidecast__v1__traffic_event__unpack(&dec->alloc, len, buf);
        if (!m)
            return unpack_failed(dec, "TrafficEvent");
        from_traffic(m, out);
        break;
    }
    case TC_EVENT_BEHAVIOR: {
        Tidecast__V1__BehaviorEvent *m = tidecast__v1__behavior_event__unpack(&dec->alloc, len, buf);
        if (!m)
            return unpack_failed(dec, "BehaviorEvent");
        from_behavior(m, out);
        break;
    }
    case TC_EVENT_ANNOTATION: {
        Tidecast__V1__Annotation *m = tidecast__v1__annotation__unpack(&dec->alloc, len, buf);
        if (!m)
            return unpack_failed(dec, "Annotation");
        from_annotation(m, out);
        break;
    }
    default:
        return fail(dec, TC_EUNKNOWN_TYPE, "unknown event kind %d", (int)kind);
    }
    return validate(dec, out);
}

int tc_decode_envelope(tc_decoder_t *dec, const uint8_t *buf, size_t len, tc_event_t *out)
{
    arena_reset(dec);
    int rc = check_message_len(dec, len);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    Tidecast__V1__Envelope *env = tidecast__v1__envelope__unpack(&dec->alloc, len, buf);
    if (!env)
        return unpack_failed(dec, "Envelope");
    switch (env->event_case) {
    case TIDECAST__V1__ENVELOPE__EVENT_TRAFFIC:
        from_traffic(env->traffic, out);
        break;
    case TIDECAST__V1__ENVELOPE__EVENT_BEHAVIOR:
        from_behavior(env->behavior, out);
        break;
    case TIDECAST__V1__ENVELOPE__EVENT_ANNOTATION:
        from_annotation(env->annotation, out);
        break;
    default:
        return fail(dec, TC_EPARSE, "Envelope has no event set");
    }
    return validate(dec, out);
}

int tc_decode_frame(const uint8_t *buf, size_t avail, size_t max_len, size_t *hdr_len,
                    size_t *msg_len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 10; i++) {
        if (i >= avail)
            return TC_EAGAIN;
        v |= (uint64_t)(buf[i] & 0x7f) << (7 * i);
        if (!(buf[i] & 0x80)) {
            if (i == 9 && buf[i] > 1)
                return TC_EPARSE;
            *hdr_len = i + 1;
            *msg_len = (size_t)v;
            if (v > max_len)
                return TC_EOVERSIZED;
            return avail - (i + 1) < v ? TC_EAGAIN : 0;
        }
    }
    return TC_EPARSE;
}

/* ---------------------------------------------------------------------- JSON */

static int jstr(tc_decoder_t *dec, json_t *obj, const char *name, tc_str_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        *out = empty_str;
        return 0;
    }
    if (!json_is_string(v))
        return fail(dec, TC_EBAD_TYPE, "field %s is not a string", name);
    size_t len = json_string_length(v);
    /* Over-long strings are reported by validate; do not copy them. */
    if (len > dec->lim.max_string_bytes && len > dec->lim.max_text_bytes) {
        out->ptr = "";
        out->len = len;
        return 0;
    }
    char *p = arena_alloc(dec, len + 1);
    if (!p)
        return fail(dec, TC_EOVERSIZED, "field %s exceeds the decode memory", name);
    memcpy(p, json_string_value(v), len);
    p[len] = '\0';
    out->ptr = p;
    out->len = len;
    return 0;
}

/* int64 as JSON integer or decimal string; *present tells if given. */
static int ji64(tc_decoder_t *dec, json_t *obj, const char *name, int64_t *out, bool *present)
{
    json_t *v = json_object_get(obj, name);
    *out = 0;
    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (!*s || *end || errno || (*s != '-' && (*s < '0' || *s > '9')))
            return fail(dec, TC_EBAD_TYPE, "field %s is not an integer", name);
        *out = x;
    } else {
        return fail(dec, TC_EBAD_TYPE, "field %s is not an integer", name);
    }
    if (present)
        *present = true;
    return 0;
}

static int ju64(tc_decoder_t *dec, json_t *obj, const char *name, uint64_t *out)
{
    json_t *v = json_object_get(obj, name);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return fail(dec, TC_EBAD_TYPE, "field %s is negative", name);
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (!*s || *end || errno || *s < '0' || *s > '9')
            return fail(dec, TC_EBAD_TYPE, "field %s is not an unsigned integer", name);
        *out = x;
        return 0;
    }
    return fail(dec, TC_EBAD_TYPE, "field %s is not an unsigned integer", name);
}

static int ju32(tc_decoder_t *dec, json_t *obj, const char *name, uint32_t *out)
{
    json_t *v = json_object_get(obj, name);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > (json_int_t)UINT32_MAX)
        return fail(dec, TC_EBAD_TYPE, "field %s is not an integer in 0..4294967295", name);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static int jdouble(tc_decoder_t *dec, json_t *obj, const char *name, double *out)
{
    json_t *v = json_object_get(obj, name);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return fail(dec, TC_EBAD_TYPE, "field %s is not a number", name);
    *out = json_number_value(v);
    return 0;
}

static int json_common(tc_decoder_t *dec, json_t *o, tc_event_t *ev)
{
    bool present;
    int rc;
    if ((rc = ji64(dec, o, "event_time_ms", &ev->time_ms, &present)))
        return rc;
    if (present && ev->time_ms == 0)
        return fail(dec, TC_EBAD_TIMESTAMP, "event_time_ms is 0");
    if (!present)
        ev->time_ms = 0; /* validate reports it missing */
    if (ev->kind == TC_EVENT_ANNOTATION) {
        ev->site = ev->user_id = ev->session_id = empty_str;
        return 0;
    }
    if ((rc = jstr(dec, o, "site", &ev->site)) || (rc = jstr(dec, o, "user_id", &ev->user_id)) ||
        (rc = jstr(dec, o, "session_id", &ev->session_id)))
        return rc;
    return 0;
}

static int json_traffic(tc_decoder_t *dec, json_t *o, tc_event_t *ev)
{
    int rc;
    tc_traffic_t *t = &ev->traffic;
    if ((rc = jstr(dec, o, "path", &t->path)) || (rc = jstr(dec, o, "method", &t->method)) ||
        (rc = jstr(dec, o, "referrer", &t->referrer)) ||
        (rc = jstr(dec, o, "ua_class", &t->ua_class)) || (rc = ju32(dec, o, "status", &t->status)) ||
        (rc = ju64(dec, o, "bytes", &t->bytes)) ||
        (rc = jdouble(dec, o, "latency_ms", &t->latency_ms)))
        return rc;
    return 0;
}

static int json_behavior(tc_decoder_t *dec, json_t *o, tc_event_t *ev)
{
    int rc;
    tc_behavior_t *b = &ev->behavior;
    json_t *v = json_object_get(o, "type");
    b->type = TC_BEHAVIOR_UNSPECIFIED;
    if (v && json_is_string(v)) {
        int t = tc_behavior_from_name(json_string_value(v), json_string_length(v));
        if (t < 0)
            return fail(dec, TC_EUNKNOWN_TYPE, "unknown behavior type \"%.64s\"",
                        json_string_value(v));
        b->type = (tc_behavior_type_t)t;
    } else if (v && json_is_integer(v)) {
        json_int_t t = json_integer_value(v);
        if (t < 0 || t >= TC_BEHAVIOR_COUNT)
            return fail(dec, TC_EUNKNOWN_TYPE, "unknown behavior type %lld", (long long)t);
        b->type = (tc_behavior_type_t)t;
    } else if (v && !json_is_null(v)) {
        return fail(dec, TC_EBAD_TYPE, "field type is not a string");
    }
    if ((rc = jdouble(dec, o, "value", &b->value)) || (rc = ju32(dec, o, "quantity", &b->quantity)))
        return rc;
    return 0;
}

static int json_annotation(tc_decoder_t *dec, json_t *o, tc_event_t *ev)
{
    int rc;
    tc_annotation_t *a = &ev->annotation;
    if ((rc = jstr(dec, o, "target", &a->target)) || (rc = jstr(dec, o, "schema", &a->schema)) ||
        (rc = jstr(dec, o, "text", &a->text)) ||
        (rc = ji64(dec, o, "valid_from_ms", &a->valid_from_ms, NULL)) ||
        (rc = ji64(dec, o, "valid_to_ms", &a->valid_to_ms, NULL)))
        return rc;
    json_t *f = json_object_get(o, "features");
    a->features = NULL;
    a->n_features = 0;
    if (!f || json_is_null(f))
        return 0;
    if (!json_is_array(f))
        return fail(dec, TC_EBAD_TYPE, "field features is not an array");
    size_t n = json_array_size(f);
    if (n > dec->lim.max_features)
        return fail(dec, TC_EOVERSIZED, "field features has %zu values, limit %zu", n,
                    dec->lim.max_features);
    float *vals = arena_alloc(dec, n * sizeof(float) + 1);
    if (!vals)
        return fail(dec, TC_EOVERSIZED, "field features exceeds the decode memory");
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(f, i);
        if (!json_is_number(x))
            return fail(dec, TC_EBAD_TYPE, "feature %zu is not a number", i);
        vals[i] = (float)json_number_value(x);
    }
    a->features = vals;
    a->n_features = n;
    return 0;
}

int tc_decode_json(tc_decoder_t *dec, tc_event_kind_t kind, const char *buf, size_t len,
                   tc_event_t *out)
{
    arena_reset(dec);
    int rc = check_message_len(dec, len);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return fail(dec, TC_EPARSE, "invalid JSON at column %d: %s", jerr.column, jerr.text);
    if (!json_is_object(o)) {
        rc = fail(dec, TC_EPARSE, "JSON value is not an object");
        goto out_decref;
    }
    json_t *k = json_object_get(o, "kind");
    if (k && !json_is_null(k)) {
        if (!json_is_string(k)) {
            rc = fail(dec, TC_EBAD_TYPE, "field kind is not a string");
            goto out_decref;
        }
        tc_event_kind_t named = tc_event_kind_from_name(json_string_value(k), json_string_length(k));
        if (named == TC_EVENT_NONE) {
            rc = fail(dec, TC_EUNKNOWN_TYPE, "unknown kind \"%.64s\"", json_string_value(k));
            goto out_decref;
        }
        if (kind != TC_EVENT_NONE && named != kind) {
            rc = fail(dec, TC_EUNKNOWN_TYPE, "kind \"%s\" on a %s input", tc_event_kind_name(named),
                      tc_event_kind_name(kind) ? tc_event_kind_name(kind) : "?");
            goto out_decref;
        }
        kind = named;
    } else if (kind == TC_EVENT_NONE) {
        rc = fail(dec, TC_EMISSING_KEY, "missing field kind");
        goto out_decref;
    }
    out->kind = kind;
    if ((rc = json_common(dec, o, out)))
        goto out_decref;
    switch (kind) {
    case TC_EVENT_TRAFFIC:
        rc = json_traffic(dec, o, out);
        break;
    case TC_EVENT_BEHAVIOR:
        rc = json_behavior(dec, o, out);
        break;
    case TC_EVENT_ANNOTATION:
        rc = json_annotation(dec, o, out);
        break;
    default:
        rc = fail(dec, TC_EUNKNOWN_TYPE, "unknown event kind %d", (int)kind);
        break;
    }
    if (!rc)
        rc = validate(dec, out);

out_decref:
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------------ encoding */

/* The view rule of event.h: NUL at ptr[len] and none before. */
static bool view_ok(tc_str_t s)
{
    return s.ptr && s.ptr[s.len] == '\0' && memchr(s.ptr, 0, s.len) == NULL;
}

static char *vs(tc_str_t s)
{
    return (char *)s.ptr;
}

typedef struct pbmsg {
    Tidecast__V1__TrafficEvent t;
    Tidecast__V1__BehaviorEvent b;
    Tidecast__V1__Annotation a;
    const ProtobufCMessage *msg;
} pbmsg_t;

static int to_pb(const tc_event_t *ev, pbmsg_t *m)
{
    if (!view_ok(ev->site) || !view_ok(ev->user_id) || !view_ok(ev->session_id))
        return TC_EINVAL;
    switch (ev->kind) {
    case TC_EVENT_TRAFFIC: {
        const tc_traffic_t *t = &ev->traffic;
        if (!view_ok(t->path) || !view_ok(t->method) || !view_ok(t->referrer) ||
            !view_ok(t->ua_class))
            return TC_EINVAL;
        tidecast__v1__traffic_event__init(&m->t);
        m->t.event_time_ms = ev->time_ms;
        m->t.site = vs(ev->site);
        m->t.path = vs(t->path);
        m->t.user_id = vs(ev->user_id);
        m->t.session_id = vs(ev->session_id);
        m->t.method = vs(t->method);
        m->t.status = t->status;
        m->t.bytes = t->bytes;
        m->t.latency_ms = t->latency_ms;
        m->t.referrer = vs(t->referrer);
        m->t.ua_class = vs(t->ua_class);
        m->msg = &m->t.base;
        return 0;
    }
    case TC_EVENT_BEHAVIOR:
        tidecast__v1__behavior_event__init(&m->b);
        m->b.event_time_ms = ev->time_ms;
        m->b.user_id = vs(ev->user_id);
        m->b.site = vs(ev->site);
        m->b.type = (Tidecast__V1__BehaviorType)ev->behavior.type;
        m->b.value = ev->behavior.value;
        m->b.quantity = ev->behavior.quantity;
        m->b.session_id = vs(ev->session_id);
        m->msg = &m->b.base;
        return 0;
    case TC_EVENT_ANNOTATION: {
        const tc_annotation_t *a = &ev->annotation;
        if (!view_ok(a->target) || !view_ok(a->schema) || !view_ok(a->text) ||
            (a->n_features && !a->features))
            return TC_EINVAL;
        tidecast__v1__annotation__init(&m->a);
        m->a.event_time_ms = ev->time_ms;
        m->a.target = vs(a->target);
        m->a.valid_from_ms = a->valid_from_ms;
        m->a.valid_to_ms = a->valid_to_ms;
        m->a.n_features = a->n_features;
        m->a.features = (float *)a->features;
        m->a.schema = vs(a->schema);
        m->a.text = vs(a->text);
        m->msg = &m->a.base;
        return 0;
    }
    default:
        return TC_EINVAL;
    }
}

int tc_encode_pb(const tc_event_t *ev, uint8_t *buf, size_t cap, size_t *len)
{
    pbmsg_t m;
    int rc = to_pb(ev, &m);
    if (rc)
        return rc;
    size_t n = protobuf_c_message_get_packed_size(m.msg);
    *len = n;
    if (n > cap)
        return TC_ERANGE;
    protobuf_c_message_pack(m.msg, buf);
    return 0;
}

int tc_encode_envelope(const tc_event_t *ev, uint8_t *buf, size_t cap, size_t *len)
{
    pbmsg_t m;
    int rc = to_pb(ev, &m);
    if (rc)
        return rc;
    Tidecast__V1__Envelope env;
    tidecast__v1__envelope__init(&env);
    switch (ev->kind) {
    case TC_EVENT_TRAFFIC:
        env.event_case = TIDECAST__V1__ENVELOPE__EVENT_TRAFFIC;
        env.traffic = &m.t;
        break;
    case TC_EVENT_BEHAVIOR:
        env.event_case = TIDECAST__V1__ENVELOPE__EVENT_BEHAVIOR;
        env.behavior = &m.b;
        break;
    default:
        env.event_case = TIDECAST__V1__ENVELOPE__EVENT_ANNOTATION;
        env.annotation = &m.a;
        break;
    }
    size_t n = tidecast__v1__envelope__get_packed_size(&env);
    uint8_t hdr[10];
    size_t h = 0;
    uint64_t v = n;
    do {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    *len = h + n;
    if (h + n > cap)
        return TC_ERANGE;
    memcpy(buf, hdr, h);
    tidecast__v1__envelope__pack(&env, buf + h);
    return 0;
}

static int jset_str(json_t *o, const char *name, tc_str_t s)
{
    if (!s.len)
        return 0;
    return json_object_set_new(o, name, json_stringn(s.ptr, s.len));
}

static int jset_int(json_t *o, const char *name, long long v)
{
    if (!v)
        return 0;
    return json_object_set_new(o, name, json_integer(v));
}

static int jset_real(json_t *o, const char *name, double v)
{
    if (v == 0.0)
        return 0;
    return json_object_set_new(o, name, json_real(v));
}

int tc_encode_json(const tc_event_t *ev, char *buf, size_t cap, size_t *len)
{
    const char *kind = tc_event_kind_name(ev->kind);
    if (!kind)
        return TC_EINVAL;
    json_t *o = json_object();
    if (!o)
        return TC_ENOMEM;
    int bad = 0;
    bad |= json_object_set_new(o, "kind", json_string(kind));
    bad |= json_object_set_new(o, "event_time_ms", json_integer(ev->time_ms));
    switch (ev->kind) {
    case TC_EVENT_TRAFFIC: {
        const tc_traffic_t *t = &ev->traffic;
        bad |= jset_str(o, "site", ev->site);
        bad |= jset_str(o, "path", t->path);
        bad |= jset_str(o, "user_id", ev->user_id);
        bad |= jset_str(o, "session_id", ev->session_id);
        bad |= jset_str(o, "method", t->method);
        bad |= jset_int(o, "status", t->status);
        if (t->bytes > (uint64_t)INT64_MAX) {
            char num[24];
            snprintf(num, sizeof(num), "%llu", (unsigned long long)t->bytes);
            bad |= json_object_set_new(o, "bytes", json_string(num));
        } else {
            bad |= jset_int(o, "bytes", (long long)t->bytes);
        }
        bad |= jset_real(o, "latency_ms", t->latency_ms);
        bad |= jset_str(o, "referrer", t->referrer);
        bad |= jset_str(o, "ua_class", t->ua_class);
        break;
    }
    case TC_EVENT_BEHAVIOR: {
        const char *tn = tc_behavior_name(ev->behavior.type);
        bad |= jset_str(o, "user_id", ev->user_id);
        bad |= jset_str(o, "site", ev->site);
        if (tn)
            bad |= json_object_set_new(o, "type", json_string(tn));
        bad |= jset_real(o, "value", ev->behavior.value);
        bad |= jset_int(o, "quantity", ev->behavior.quantity);
        bad |= jset_str(o, "session_id", ev->session_id);
        break;
    }
    default: {
        const tc_annotation_t *a = &ev->annotation;
        bad |= jset_str(o, "target", a->target);
        bad |= jset_int(o, "valid_from_ms", a->valid_from_ms);
        bad |= jset_int(o, "valid_to_ms", a->valid_to_ms);
        if (a->n_features) {
            json_t *arr = json_array();
            for (size_t i = 0; arr && i < a->n_features; i++)
                bad |= json_array_append_new(arr, json_real(a->features[i]));
            bad |= json_object_set_new(o, "features", arr);
        }
        bad |= jset_str(o, "schema", a->schema);
        bad |= jset_str(o, "text", a->text);
        break;
    }
    }
    int rc = 0;
    if (bad) {
        rc = TC_ENOMEM; /* jansson fails only on allocation or invalid UTF-8 */
        goto out_decref;
    }
    size_t n = json_dumpb(o, buf, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (n == 0) {
        rc = TC_ENOMEM;
        goto out_decref;
    }
    *len = n;
    if (n > cap)
        rc = TC_ERANGE;
    else if (n < cap)
        buf[n] = '\0';

out_decref:
    json_decref(o);
    return rc;
}
