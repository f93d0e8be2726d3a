/*
 * Decoding: good events of each kind in protobuf and JSON, and one test per
 * malformed case with its distinct code. Protobuf inputs are built with
 * protobuf-c's generated packers directly (an encoder independent of
 * lib/decode.c), JSON inputs are literal text.
 */
#include <stdlib.h>

#include "decode.h"
#include "error.h"
#include "tests/test.h"
#include "tidecast/v1/events.pb-c.h"

#define T0 807256800000LL /* 1995-08-01T04:00:00Z, the first NASA request */

static tc_decoder_t *new_dec(void)
{
    tc_decoder_t *dec = tc_decoder_new(NULL);
    if (dec)
        tc_decoder_set_now(dec, 1700000000000LL);
    return dec;
}

static size_t pack_traffic(const Tidecast__V1__TrafficEvent *m, uint8_t *buf)
{
    return tidecast__v1__traffic_event__pack(m, buf);
}

static int eq(tc_str_t v, const char *s)
{
    return v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0 && v.ptr[v.len] == '\0';
}

TC_TEST(decode_pb_traffic_good)
{
    Tidecast__V1__TrafficEvent m = TIDECAST__V1__TRAFFIC_EVENT__INIT;
    m.event_time_ms = T0;
    m.site = "ksc.nasa.gov";
    m.path = "/shuttle/missions/missions.html";
    m.user_id = "vcc7.langara.bc.ca";
    m.method = "GET";
    m.status = 200;
    m.bytes = 8677;
    m.latency_ms = 12.5;
    uint8_t buf[512];
    size_t n = pack_traffic(&m, buf);
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    tc_event_t ev;
    CHECK_OK(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev));
    CHECK_INT_EQ(ev.kind, TC_EVENT_TRAFFIC);
    CHECK_INT_EQ(ev.time_ms, T0);
    CHECK(eq(ev.site, "ksc.nasa.gov"));
    CHECK(eq(ev.traffic.path, "/shuttle/missions/missions.html"));
    CHECK(eq(ev.user_id, "vcc7.langara.bc.ca"));
    CHECK(eq(ev.session_id, ""));
    CHECK(eq(ev.traffic.method, "GET"));
    CHECK_INT_EQ(ev.traffic.status, 200);
    CHECK_INT_EQ(ev.traffic.bytes, 8677);
    CHECK_NEAR(ev.traffic.latency_ms, 12.5, 0);
    CHECK_STR_EQ(tc_decoder_last_error(dec), "");
    tc_decoder_free(dec);
}

TC_TEST(decode_pb_behavior_and_annotation_good)
{
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    uint8_t buf[512];
    tc_event_t ev;

    Tidecast__V1__BehaviorEvent b = TIDECAST__V1__BEHAVIOR_EVENT__INIT;
    b.event_time_ms = T0 + 5;
    b.user_id = "u42";
    b.site = "shop.example.com";
    b.type = TIDECAST__V1__BEHAVIOR_TYPE__BEHAVIOR_PURCHASE;
    b.value = 29.97;
    b.quantity = 3;
    size_t n = tidecast__v1__behavior_event__pack(&b, buf);
    CHECK_OK(tc_decode_pb(dec, TC_EVENT_BEHAVIOR, buf, n, &ev));
    CHECK_INT_EQ(ev.kind, TC_EVENT_BEHAVIOR);
    CHECK_INT_EQ(ev.time_ms, T0 + 5);
    CHECK(eq(ev.user_id, "u42"));
    CHECK(eq(ev.site, "shop.example.com"));
    CHECK_INT_EQ(ev.behavior.type, TC_BEHAVIOR_PURCHASE);
    CHECK_NEAR(ev.behavior.value, 29.97, 0);
    CHECK_INT_EQ(ev.behavior.quantity, 3);

    float feats[3] = {0.25f, -1.5f, 3.0f};
    Tidecast__V1__Annotation a = TIDECAST__V1__ANNOTATION__INIT;
    a.event_time_ms = T0;
    a.target = "shop.example.com/sale";
    a.valid_from_ms = T0;
    a.valid_to_ms = T0 + 3600000;
    a.n_features = 3;
    a.features = feats;
    a.schema = "campaign-v1";
    a.text = "Summer sale, 20% off";
    n = tidecast__v1__annotation__pack(&a, buf);
    CHECK_OK(tc_decode_pb(dec, TC_EVENT_ANNOTATION, buf, n, &ev));
    CHECK_INT_EQ(ev.kind, TC_EVENT_ANNOTATION);
    CHECK(eq(ev.annotation.target, "shop.example.com/sale"));
    CHECK_INT_EQ(ev.annotation.valid_to_ms, T0 + 3600000);
    CHECK_INT_EQ(ev.annotation.n_features, 3);
    CHECK_NEAR(ev.annotation.features[1], -1.5, 0);
    CHECK(eq(ev.annotation.schema, "campaign-v1"));
    CHECK(eq(ev.annotation.text, "Summer sale, 20% off"));
    tc_decoder_free(dec);
}

TC_TEST(decode_envelope_and_frames)
{
    Tidecast__V1__BehaviorEvent b = TIDECAST__V1__BEHAVIOR_EVENT__INIT;
    b.event_time_ms = T0;
    b.user_id = "u1";
    b.site = "s";
    b.type = TIDECAST__V1__BEHAVIOR_TYPE__BEHAVIOR_LOGIN;
    Tidecast__V1__Envelope env = TIDECAST__V1__ENVELOPE__INIT;
    env.event_case = TIDECAST__V1__ENVELOPE__EVENT_BEHAVIOR;
    env.behavior = &b;
    uint8_t msg[256], file[600];
    size_t n = tidecast__v1__envelope__pack(&env, msg);
    CHECK(n < 128);
    /* two records: 1-byte varint prefix each */
    file[0] = (uint8_t)n;
    memcpy(file + 1, msg, n);
    file[1 + n] = (uint8_t)n;
    memcpy(file + 2 + n, msg, n);
    size_t total = 2 + 2 * n, off = 0, hdr, len;
    int records = 0;
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    while (off < total) {
        CHECK_OK(tc_decode_frame(file + off, total - off, 65536, &hdr, &len));
        tc_event_t ev;
        CHECK_OK(tc_decode_envelope(dec, file + off + hdr, len, &ev));
        CHECK_INT_EQ(ev.kind, TC_EVENT_BEHAVIOR);
        CHECK_INT_EQ(ev.behavior.type, TC_BEHAVIOR_LOGIN);
        off += hdr + len;
        records++;
    }
    CHECK_INT_EQ(records, 2);
    CHECK_INT_EQ(tc_decode_frame(file, n, 65536, &hdr, &len), TC_EAGAIN); /* truncated */
    const uint8_t big[] = {0x80, 0x80, 0x04};                            /* 65536 */
    CHECK_INT_EQ(tc_decode_frame(big, 3, 1000, &hdr, &len), TC_EOVERSIZED);
    CHECK_INT_EQ(tc_decode_frame(big, 2, 1000, &hdr, &len), TC_EAGAIN);
    const uint8_t bad[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK_INT_EQ(tc_decode_frame(bad, 11, 1000, &hdr, &len), TC_EPARSE);
    /* Envelope with nothing set */
    tc_event_t ev;
    CHECK_INT_EQ(tc_decode_envelope(dec, (const uint8_t *)"", 0, &ev), TC_EPARSE);
    tc_decoder_free(dec);
}

TC_TEST(decode_json_good_each_kind)
{
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    tc_event_t ev;
    const char *t = "{\"kind\":\"traffic\",\"event_time_ms\":807256804000,\"site\":\"ksc.nasa.gov\","
                    "\"path\":\"/a?b=1\",\"method\":\"GET\",\"status\":404,\"bytes\":\"8677\","
                    "\"latency_ms\":3,\"unknown_field\":[1,2]}\n";
    CHECK_OK(tc_decode_json(dec, TC_EVENT_NONE, t, strlen(t), &ev));
    CHECK_INT_EQ(ev.kind, TC_EVENT_TRAFFIC);
    CHECK_INT_EQ(ev.time_ms, 807256804000LL);
    CHECK(eq(ev.site, "ksc.nasa.gov"));
    CHECK(eq(ev.traffic.path, "/a?b=1"));
    CHECK_INT_EQ(ev.traffic.status, 404);
    CHECK_INT_EQ(ev.traffic.bytes, 8677);
    CHECK_NEAR(ev.traffic.latency_ms, 3.0, 0);

    const char *b = "{\"event_time_ms\":\"807256804000\",\"user_id\":\"u7\",\"site\":\"s\","
                    "\"type\":\"purchase\",\"value\":19.5,\"quantity\":2}";
    CHECK_OK(tc_decode_json(dec, TC_EVENT_BEHAVIOR, b, strlen(b), &ev));
    CHECK_INT_EQ(ev.kind, TC_EVENT_BEHAVIOR);
    CHECK_INT_EQ(ev.behavior.type, TC_BEHAVIOR_PURCHASE);
    CHECK_NEAR(ev.behavior.value, 19.5, 0);
    CHECK_INT_EQ(ev.behavior.quantity, 2);
    const char *b2 = "{\"kind\":\"behavior\",\"event_time_ms\":807256804000,\"user_id\":\"u7\","
                     "\"site\":\"s\",\"type\":3}";
    CHECK_OK(tc_decode_json(dec, TC_EVENT_BEHAVIOR, b2, strlen(b2), &ev));
    CHECK_INT_EQ(ev.behavior.type, TC_BEHAVIOR_ADD_TO_CART);

    const char *a = "{\"kind\":\"annotation\",\"event_time_ms\":807256804000,\"target\":\"s/x\","
                    "\"valid_from_ms\":1,\"valid_to_ms\":2,\"features\":[0.5,1,-2],"
                    "\"schema\":\"campaign-v1\",\"text\":\"caf\\u00e9\"}";
    CHECK_OK(tc_decode_json(dec, TC_EVENT_NONE, a, strlen(a), &ev));
    CHECK_INT_EQ(ev.kind, TC_EVENT_ANNOTATION);
    CHECK_INT_EQ(ev.annotation.n_features, 3);
    CHECK_NEAR(ev.annotation.features[2], -2.0, 0);
    CHECK(eq(ev.annotation.text, "caf\xc3\xa9"));
    tc_decoder_free(dec);
}

/* Encoding then decoding gives the event back, in both formats. */
TC_TEST(decode_encode_round_trip)
{
    float feats[2] = {1.25f, -0.5f};
    tc_event_t in[3];
    memset(in, 0, sizeof(in));
    in[0].kind = TC_EVENT_TRAFFIC;
    in[0].time_ms = T0;
    in[0].site = tc_str_c("ksc.nasa.gov");
    in[0].user_id = tc_str_c("host1");
    in[0].session_id = tc_str_c("");
    in[0].traffic.path = tc_str_c("/images/x.gif");
    in[0].traffic.method = tc_str_c("GET");
    in[0].traffic.referrer = tc_str_c("");
    in[0].traffic.ua_class = tc_str_c("browser");
    in[0].traffic.status = 304;
    in[0].traffic.bytes = 0;
    in[0].traffic.latency_ms = 0.125;
    in[1].kind = TC_EVENT_BEHAVIOR;
    in[1].time_ms = T0 + 1;
    in[1].site = tc_str_c("shop");
    in[1].user_id = tc_str_c("u1");
    in[1].session_id = tc_str_c("s9");
    in[1].behavior.type = TC_BEHAVIOR_PURCHASE;
    in[1].behavior.value = 12.34;
    in[1].behavior.quantity = 1;
    in[2].kind = TC_EVENT_ANNOTATION;
    in[2].time_ms = T0 + 2;
    in[2].site = in[2].user_id = in[2].session_id = tc_str_c("");
    in[2].annotation.target = tc_str_c("shop/sale");
    in[2].annotation.valid_from_ms = T0;
    in[2].annotation.valid_to_ms = T0 + 10;
    in[2].annotation.features = feats;
    in[2].annotation.n_features = 2;
    in[2].annotation.schema = tc_str_c("v1");
    in[2].annotation.text = tc_str_c("hello");
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    for (int i = 0; i < 3; i++) {
        uint8_t buf[512];
        char js[512];
        size_t n, hdr, mlen;
        tc_event_t out[3];
        CHECK_OK(tc_encode_pb(&in[i], buf, sizeof(buf), &n));
        CHECK_OK(tc_decode_pb(dec, in[i].kind, buf, n, &out[0]));
        CHECK_OK(tc_encode_envelope(&in[i], buf, sizeof(buf), &n));
        CHECK_OK(tc_decode_frame(buf, n, 65536, &hdr, &mlen));
        CHECK_INT_EQ(hdr + mlen, n);
        tc_decoder_t *dec2 = new_dec();
        CHECK(dec2 != NULL);
        int rc = tc_decode_envelope(dec2, buf + hdr, mlen, &out[1]);
        tc_decoder_t *dec3 = new_dec();
        CHECK(dec3 != NULL);
        CHECK_OK(tc_encode_json(&in[i], js, sizeof(js), &n));
        CHECK_INT_EQ(strlen(js), n);
        int rc3 = tc_decode_json(dec3, TC_EVENT_NONE, js, n, &out[2]);
        for (int f = 0; f < 3 && rc == 0 && rc3 == 0; f++) {
            const tc_event_t *e = &out[f];
            CHECK_INT_EQ(e->kind, in[i].kind);
            CHECK_INT_EQ(e->time_ms, in[i].time_ms);
            CHECK(eq(e->site, in[i].site.ptr));
            CHECK(eq(e->user_id, in[i].user_id.ptr));
            CHECK(eq(e->session_id, in[i].session_id.ptr));
            if (i == 0) {
                CHECK(eq(e->traffic.path, "/images/x.gif"));
                CHECK(eq(e->traffic.ua_class, "browser"));
                CHECK_INT_EQ(e->traffic.status, 304);
                CHECK_NEAR(e->traffic.latency_ms, 0.125, 0);
            } else if (i == 1) {
                CHECK_INT_EQ(e->behavior.type, TC_BEHAVIOR_PURCHASE);
                CHECK_NEAR(e->behavior.value, 12.34, 0);
                CHECK_INT_EQ(e->behavior.quantity, 1);
            } else {
                CHECK(eq(e->annotation.target, "shop/sale"));
                CHECK_INT_EQ(e->annotation.n_features, 2);
                CHECK_NEAR(e->annotation.features[0], 1.25, 0);
                CHECK_NEAR(e->annotation.features[1], -0.5, 0);
                CHECK(eq(e->annotation.text, "hello"));
                CHECK_INT_EQ(e->annotation.valid_to_ms, T0 + 10);
            }
        }
        tc_decoder_free(dec2);
        tc_decoder_free(dec3);
        CHECK_OK(rc);
        CHECK_OK(rc3);
        CHECK_INT_EQ(tc_encode_pb(&in[i], buf, 3, &n), TC_ERANGE);
        CHECK(n > 3);
    }
    tc_decoder_free(dec);
}

/* One JSON text and the code and reason it must give. */
typedef struct bad_case {
    tc_event_kind_t kind;
    const char *json;
    int code;
    const char *reason_part;
} bad_case_t;

static const bad_case_t bad_json[] = {
    {TC_EVENT_NONE, "{\"kind\":\"traffic\",", TC_EPARSE, "invalid JSON"},
    {TC_EVENT_NONE, "[1,2]", TC_EPARSE, "not an object"},
    {TC_EVENT_NONE, "{\"event_time_ms\":807256804000,\"site\":\"s\"}", TC_EMISSING_KEY,
     "missing field kind"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":807256804000}", TC_EMISSING_KEY, "missing field site"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":807256804000,\"site\":\"\"}", TC_EMISSING_KEY,
     "missing field site"},
    {TC_EVENT_TRAFFIC, "{\"site\":\"s\"}", TC_EMISSING_KEY, "missing field event_time_ms"},
    {TC_EVENT_BEHAVIOR, "{\"event_time_ms\":807256804000,\"site\":\"s\",\"type\":\"view\"}",
     TC_EMISSING_KEY, "missing field user_id"},
    {TC_EVENT_ANNOTATION, "{\"event_time_ms\":807256804000}", TC_EMISSING_KEY,
     "missing field target"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":807256804000,\"site\":5}", TC_EBAD_TYPE,
     "site is not a string"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":807256804000,\"site\":\"s\",\"status\":\"200\"}",
     TC_EBAD_TYPE, "status"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":807256804000,\"site\":\"s\",\"status\":-1}",
     TC_EBAD_TYPE, "status"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":807256804000,\"site\":\"s\",\"bytes\":1.5}",
     TC_EBAD_TYPE, "bytes"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":\"soon\",\"site\":\"s\"}", TC_EBAD_TYPE,
     "event_time_ms is not an integer"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":8.07e11,\"site\":\"s\"}", TC_EBAD_TYPE,
     "event_time_ms is not an integer"},
    {TC_EVENT_NONE, "{\"kind\":7,\"event_time_ms\":807256804000,\"site\":\"s\"}", TC_EBAD_TYPE,
     "kind is not a string"},
    {TC_EVENT_BEHAVIOR,
     "{\"event_time_ms\":807256804000,\"site\":\"s\",\"user_id\":\"u\",\"type\":true}",
     TC_EBAD_TYPE, "type"},
    {TC_EVENT_ANNOTATION, "{\"event_time_ms\":807256804000,\"target\":\"t\",\"features\":[1,\"x\"]}",
     TC_EBAD_TYPE, "feature 1"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":0,\"site\":\"s\"}", TC_EBAD_TIMESTAMP, "is 0"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":-5,\"site\":\"s\"}", TC_EBAD_TIMESTAMP, "negative"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":12,\"site\":\"s\"}", TC_EBAD_TIMESTAMP, "before"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":631151999999,\"site\":\"s\"}", TC_EBAD_TIMESTAMP,
     "before"},
    {TC_EVENT_TRAFFIC, "{\"event_time_ms\":1700003600001,\"site\":\"s\"}", TC_EBAD_TIMESTAMP,
     "in the future"},
    {TC_EVENT_ANNOTATION,
     "{\"event_time_ms\":807256804000,\"target\":\"t\",\"valid_from_ms\":5,\"valid_to_ms\":5}",
     TC_EBAD_TIMESTAMP, "valid_to_ms"},
    {TC_EVENT_NONE, "{\"kind\":\"click\",\"event_time_ms\":807256804000,\"site\":\"s\"}",
     TC_EUNKNOWN_TYPE, "unknown kind"},
    {TC_EVENT_TRAFFIC, "{\"kind\":\"behavior\",\"event_time_ms\":807256804000,\"site\":\"s\"}",
     TC_EUNKNOWN_TYPE, "on a traffic input"},
    {TC_EVENT_BEHAVIOR,
     "{\"event_time_ms\":807256804000,\"site\":\"s\",\"user_id\":\"u\",\"type\":\"refund\"}",
     TC_EUNKNOWN_TYPE, "unknown behavior type"},
    {TC_EVENT_BEHAVIOR,
     "{\"event_time_ms\":807256804000,\"site\":\"s\",\"user_id\":\"u\",\"type\":42}",
     TC_EUNKNOWN_TYPE, "unknown behavior type 42"},
};

TC_TEST(decode_json_each_malformed_case)
{
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        const bad_case_t *c = &bad_json[i];
        tc_event_t ev;
        int rc = tc_decode_json(dec, c->kind, c->json, strlen(c->json), &ev);
        CHECK_MSG(rc == c->code, "case %zu %s: got %s (%s), want %s", i, c->json, tc_errname(rc),
                  tc_decoder_last_error(dec), tc_errname(c->code));
        CHECK_MSG(strstr(tc_decoder_last_error(dec), c->reason_part) != NULL,
                  "case %zu: reason \"%s\" lacks \"%s\"", i, tc_decoder_last_error(dec),
                  c->reason_part);
    }
    tc_decoder_free(dec);
}

TC_TEST(decode_oversized_cases)
{
    tc_decode_limits_t lim;
    tc_decode_limits_default(&lim);
    lim.max_message_bytes = 4096;
    lim.max_string_bytes = 100;
    lim.max_text_bytes = 200;
    lim.max_features = 4;
    tc_decoder_t *dec = tc_decoder_new(&lim);
    CHECK(dec != NULL);
    tc_decoder_set_now(dec, 1700000000000LL);
    char big[5000], js[6000];
    tc_event_t ev;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    /* whole message */
    snprintf(js, sizeof(js), "{\"event_time_ms\":807256804000,\"site\":\"s\",\"path\":\"%s\"}", big);
    CHECK_INT_EQ(tc_decode_json(dec, TC_EVENT_TRAFFIC, js, strlen(js), &ev), TC_EOVERSIZED);
    CHECK(strstr(tc_decoder_last_error(dec), "message is") != NULL);
    /* one string field */
    snprintf(js, sizeof(js), "{\"event_time_ms\":807256804000,\"site\":\"s\",\"path\":\"%.101s\"}",
             big);
    CHECK_INT_EQ(tc_decode_json(dec, TC_EVENT_TRAFFIC, js, strlen(js), &ev), TC_EOVERSIZED);
    CHECK(strstr(tc_decoder_last_error(dec), "field path is 101 bytes") != NULL);
    /* text has its own, larger limit */
    snprintf(js, sizeof(js), "{\"event_time_ms\":807256804000,\"target\":\"t\",\"text\":\"%.150s\"}",
             big);
    CHECK_OK(tc_decode_json(dec, TC_EVENT_ANNOTATION, js, strlen(js), &ev));
    snprintf(js, sizeof(js), "{\"event_time_ms\":807256804000,\"target\":\"t\",\"text\":\"%.201s\"}",
             big);
    CHECK_INT_EQ(tc_decode_json(dec, TC_EVENT_ANNOTATION, js, strlen(js), &ev), TC_EOVERSIZED);
    /* features */
    const char *f5 = "{\"event_time_ms\":807256804000,\"target\":\"t\",\"features\":[1,2,3,4,5]}";
    CHECK_INT_EQ(tc_decode_json(dec, TC_EVENT_ANNOTATION, f5, strlen(f5), &ev), TC_EOVERSIZED);

    /* the same limits on protobuf input */
    big[101] = '\0';
    Tidecast__V1__TrafficEvent m = TIDECAST__V1__TRAFFIC_EVENT__INIT;
    m.event_time_ms = T0;
    m.site = "s";
    m.referrer = big;
    uint8_t buf[8192];
    size_t n = tidecast__v1__traffic_event__pack(&m, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev), TC_EOVERSIZED);
    CHECK(strstr(tc_decoder_last_error(dec), "referrer") != NULL);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, 4097, &ev), TC_EOVERSIZED);
    float feats[5] = {1, 2, 3, 4, 5};
    Tidecast__V1__Annotation a = TIDECAST__V1__ANNOTATION__INIT;
    a.event_time_ms = T0;
    a.target = "t";
    a.n_features = 5;
    a.features = feats;
    n = tidecast__v1__annotation__pack(&a, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_ANNOTATION, buf, n, &ev), TC_EOVERSIZED);
    tc_decoder_free(dec);

    lim.max_features = TC_EVENT_MAX_FEATURES + 1;
    CHECK(tc_decoder_new(&lim) == NULL);
}

TC_TEST(decode_pb_malformed_cases)
{
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    uint8_t buf[512];
    tc_event_t ev;
    Tidecast__V1__TrafficEvent m = TIDECAST__V1__TRAFFIC_EVENT__INIT;
    m.event_time_ms = T0;
    m.site = "s";
    size_t n = tidecast__v1__traffic_event__pack(&m, buf);
    CHECK_OK(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev));
    /* truncated: the last byte of the site string is cut */
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n - 1, &ev), TC_EPARSE);
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, garbage, 3, &ev), TC_EPARSE);
    CHECK_INT_EQ(tc_decode_pb(dec, (tc_event_kind_t)9, buf, n, &ev), TC_EUNKNOWN_TYPE);

    m.site = "";
    n = tidecast__v1__traffic_event__pack(&m, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev), TC_EMISSING_KEY);
    CHECK_STR_EQ(tc_decoder_last_error(dec), "missing field site");
    m.site = "s";
    m.event_time_ms = 0;
    n = tidecast__v1__traffic_event__pack(&m, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev), TC_EMISSING_KEY);
    m.event_time_ms = -1;
    n = tidecast__v1__traffic_event__pack(&m, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev), TC_EBAD_TIMESTAMP);
    m.event_time_ms = T0;
    m.latency_ms = NAN;
    n = tidecast__v1__traffic_event__pack(&m, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev), TC_ENAN);

    Tidecast__V1__BehaviorEvent b = TIDECAST__V1__BEHAVIOR_EVENT__INIT;
    b.event_time_ms = T0;
    b.site = "s";
    b.user_id = "u";
    b.type = (Tidecast__V1__BehaviorType)77;
    n = tidecast__v1__behavior_event__pack(&b, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_BEHAVIOR, buf, n, &ev), TC_EUNKNOWN_TYPE);
    b.type = TIDECAST__V1__BEHAVIOR_TYPE__BEHAVIOR_VIEW;
    b.user_id = "";
    n = tidecast__v1__behavior_event__pack(&b, buf);
    CHECK_INT_EQ(tc_decode_pb(dec, TC_EVENT_BEHAVIOR, buf, n, &ev), TC_EMISSING_KEY);
    CHECK_STR_EQ(tc_decoder_last_error(dec), "missing field user_id");

    /* a traffic message read as an envelope is not an envelope */
    m.latency_ms = 0;
    n = tidecast__v1__traffic_event__pack(&m, buf);
    CHECK(tc_decode_envelope(dec, buf, n, &ev) != 0);
    tc_decoder_free(dec);
}

TC_TEST(decode_future_check_follows_clock)
{
    tc_decode_limits_t lim;
    tc_decode_limits_default(&lim);
    lim.max_future_ms = 1000;
    tc_decoder_t *dec = tc_decoder_new(&lim);
    CHECK(dec != NULL);
    tc_event_t ev;
    const char *j = "{\"event_time_ms\":807256805000,\"site\":\"s\"}";
    tc_decoder_set_now(dec, 807256804000LL);
    CHECK_OK(tc_decode_json(dec, TC_EVENT_TRAFFIC, j, strlen(j), &ev));
    tc_decoder_set_now(dec, 807256803999LL);
    CHECK_INT_EQ(tc_decode_json(dec, TC_EVENT_TRAFFIC, j, strlen(j), &ev), TC_EBAD_TIMESTAMP);
    tc_decoder_free(dec);
    lim.max_future_ms = -1; /* disabled */
    dec = tc_decoder_new(&lim);
    CHECK(dec != NULL);
    const char *far = "{\"event_time_ms\":9000000000000,\"site\":\"s\"}";
    CHECK_OK(tc_decode_json(dec, TC_EVENT_TRAFFIC, far, strlen(far), &ev));
    tc_decoder_free(dec);
    tc_decoder_free(NULL);
}

/* Is rc one of the codes decode.h documents for malformed input? */
static int documented(int rc)
{
    return rc == 0 || rc == TC_EPARSE || rc == TC_EMISSING_KEY || rc == TC_EBAD_TYPE ||
           rc == TC_EBAD_TIMESTAMP || rc == TC_EOVERSIZED || rc == TC_EUNKNOWN_TYPE ||
           rc == TC_ENAN;
}

/*
 * Random byte mutations (flips, truncations, insertions) of valid protobuf
 * and JSON events: every outcome must be a documented code with a reason
 * for failures and an event obeying the view rules for successes (under
 * ASan this also catches out-of-bounds reads in the decoders).
 */
TC_TEST(decode_mutated_inputs_give_documented_codes)
{
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    Tidecast__V1__TrafficEvent m = TIDECAST__V1__TRAFFIC_EVENT__INIT;
    m.event_time_ms = T0;
    m.site = "ksc.nasa.gov";
    m.path = "/shuttle/countdown/";
    m.user_id = "pppa006.compuserve.com";
    m.method = "GET";
    m.status = 200;
    m.bytes = 1713;
    Tidecast__V1__Envelope env = TIDECAST__V1__ENVELOPE__INIT;
    env.event_case = TIDECAST__V1__ENVELOPE__EVENT_TRAFFIC;
    env.traffic = &m;
    uint8_t pb[256], mut[300];
    size_t pn = tidecast__v1__envelope__pack(&env, pb);
    const char *js = "{\"kind\":\"behavior\",\"event_time_ms\":807256804000,\"user_id\":\"u7\","
                     "\"site\":\"s\",\"type\":\"purchase\",\"value\":19.5,\"quantity\":2}";
    size_t jn = strlen(js);
    uint64_t x = 88172645463325252ULL;
    int ok_pb = 0, ok_js = 0;
    for (int it = 0; it < 40000; it++) {
        int json = it & 1;
        size_t n = json ? jn : pn;
        memcpy(mut, json ? (const uint8_t *)js : pb, n);
        int edits = 1 + it % 4;
        for (int e = 0; e < edits; e++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t pos = (size_t)(x % (n ? n : 1));
            switch ((x >> 32) % 3) {
            case 0: mut[pos] ^= (uint8_t)(1u << ((x >> 40) % 8)); break;
            case 1: n = pos; break;
            default:
                if (n < sizeof(mut) - 1) {
                    memmove(mut + pos + 1, mut + pos, n - pos);
                    mut[pos] = (uint8_t)(x >> 48);
                    n++;
                }
            }
        }
        tc_event_t ev;
        int rc = json ? tc_decode_json(dec, TC_EVENT_NONE, (const char *)mut, n, &ev)
                      : tc_decode_envelope(dec, mut, n, &ev);
        CHECK_MSG(documented(rc), "iteration %d: undocumented code %s", it, tc_errname(rc));
        if (rc) {
            CHECK_MSG(tc_decoder_last_error(dec)[0] != '\0', "iteration %d: no reason", it);
            continue;
        }
        CHECK(ev.kind >= TC_EVENT_TRAFFIC && ev.kind <= TC_EVENT_ANNOTATION);
        CHECK(ev.time_ms > 0);
        CHECK(ev.site.ptr && ev.site.ptr[ev.site.len] == '\0');
        CHECK(ev.user_id.ptr && ev.user_id.ptr[ev.user_id.len] == '\0');
        if (json)
            ok_js++;
        else
            ok_pb++;
    }
    /* some mutations leave valid events (e.g. a flipped letter in a string) */
    CHECK(ok_pb > 0 && ok_js > 0);
    tc_decoder_free(dec);
}

/* Fields unknown to this version (a newer producer) are skipped in
 * protobuf as in JSON: forward compatibility of the schema. */
TC_TEST(decode_pb_skips_unknown_fields)
{
    Tidecast__V1__TrafficEvent m = TIDECAST__V1__TRAFFIC_EVENT__INIT;
    m.event_time_ms = T0;
    m.site = "s";
    m.status = 503;
    uint8_t buf[128];
    size_t n = tidecast__v1__traffic_event__pack(&m, buf);
    /* field 99, wire type 2 (length-delimited), 3 bytes; field 100 varint 5 */
    const uint8_t extra[] = {0x9a, 0x06, 0x03, 'a', 'b', 'c', 0xa0, 0x06, 0x05};
    memcpy(buf + n, extra, sizeof(extra));
    n += sizeof(extra);
    tc_decoder_t *dec = new_dec();
    CHECK(dec != NULL);
    tc_event_t ev;
    CHECK_OK(tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, n, &ev));
    CHECK_INT_EQ(ev.traffic.status, 503);
    CHECK(eq(ev.site, "s"));
    tc_decoder_free(dec);
}
