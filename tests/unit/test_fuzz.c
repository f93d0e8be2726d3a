/*
 * Seeded mutation fuzzing inside the unit suite: the promise of DESIGN.md,
 * "a message that does not decode ... never stops the daemon", and "a bad
 * config line names the file, the line and what was expected", checked on
 * inputs derived from real ones.
 *
 * Seeds: NASA weblog rows (traffic) and CDNOW rows (purchases) encoded by
 * the library's own encoders as bare protobuf, Envelope and JSON, a few
 * annotations; real snapshots of every restorable state; conf/tidecast.conf.
 * Mutations: bit flips, interesting bytes, truncation, insertion, deletion,
 * duplicated ranges, splices between seeds, concatenation (protobuf merges
 * duplicated fields), inserted protobuf fields with random tags and huge
 * lengths; for JSON also field values replaced by deep nesting, huge
 * numbers, NaN/Infinity, wrong types, invalid UTF-8 and escapes; for the
 * config line deletion, duplication and nasty values.
 *
 * The checks are in fuzz_targets.c (shared with the libFuzzer harnesses of
 * tests/fuzz/). The generator is a fixed-seed xorshift, so a run is
 * reproducible: a failure prints the iteration, and TC_FUZZ_ITERS /
 * TC_FUZZ_SECONDS change the budget (default: the iteration counts below,
 * stopped early after 3 s of wall time per target so that the ASan tree
 * stays fast). With TC_FUZZ_SEED_DIR set, the seeds are also written there
 * (one file each) as the starting corpus of tests/fuzz/run.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "decode.h"
#include "lstm.h"
#include "error.h"
#include "tests/test.h"
#include "tests/unit/fuzz_targets.h"

/* ------------------------------------------------------------ the generator */

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t rnd(rng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static size_t below(rng_t *r, size_t n)
{
    return n ? (size_t)(rnd(r) % n) : 0;
}

typedef struct corpus {
    uint8_t **data;
    size_t *len;
    size_t n, cap;
} corpus_t;

static int corpus_add(corpus_t *c, const void *d, size_t len)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        uint8_t **nd = realloc(c->data, cap * sizeof(*nd));
        if (!nd)
            return TC_ENOMEM;
        c->data = nd;
        size_t *nl = realloc(c->len, cap * sizeof(*nl));
        if (!nl)
            return TC_ENOMEM;
        c->len = nl;
        c->cap = cap;
    }
    uint8_t *b = malloc(len ? len : 1);
    if (!b)
        return TC_ENOMEM;
    memcpy(b, d, len);
    c->data[c->n] = b;
    c->len[c->n++] = len;
    return 0;
}

static void corpus_free(corpus_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->data[i]);
    free(c->data);
    free(c->len);
}

/* Writes the corpus to $TC_FUZZ_SEED_DIR/<name>/ when set. */
static void corpus_dump(const corpus_t *c, const char *name)
{
    const char *dir = getenv("TC_FUZZ_SEED_DIR");
    if (!dir || !*dir)
        return;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    for (size_t i = 0; i < c->n; i++) {
        snprintf(path, sizeof(path), "%s/%s/seed-%04zu", dir, name, i);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(c->data[i], 1, c->len[i], f);
            fclose(f);
        }
    }
}

/* Values that break parsers: the edges of integer and float types. */
static const uint64_t interesting64[] = {
    0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
    0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffffffffffffffULL,
    0x7ff0000000000000ULL /* +inf */, 0x7ff8000000000000ULL /* NaN */,
    0xfff0000000000000ULL /* -inf */, 0x7f800000 /* float inf */, 0x7fc00000 /* float NaN */,
};

#define MAX_INPUT (1 << 20) /* larger than any seed (a pipeline snapshot is ~150 kB) */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Inserts ins[0..k) at pos of buf (len, capacity MAX_INPUT); returns the new length. */
static size_t insert(uint8_t *buf, size_t len, size_t pos, const uint8_t *ins, size_t k)
{
    if (len + k > MAX_INPUT)
        k = MAX_INPUT - len;
    memmove(buf + pos + k, buf + pos, len - pos);
    memcpy(buf + pos, ins, k);
    return len + k;
}

/* One byte-level mutation of buf[skip..len); returns the new length. */
static size_t mutate_bytes(rng_t *r, uint8_t *buf, size_t len, size_t skip, const corpus_t *c)
{
    size_t body = len - skip;
    uint8_t tmp[64];
    switch (below(r, 11)) {
    case 0: /* flip a bit */
        if (body)
            buf[skip + below(r, body)] ^= (uint8_t)(1u << below(r, 8));
        return len;
    case 1: /* a random or interesting byte */
        if (body) {
            static const uint8_t ib[] = {0, 1, 0x7f, 0x80, 0xff, '"', '\\', '{', '[', ',', 0xc0};
            buf[skip + below(r, body)] =
                below(r, 2) ? (uint8_t)rnd(r) : ib[below(r, sizeof(ib))];
        }
        return len;
    case 2: /* truncate */
        return skip + below(r, body + 1);
    case 3: { /* insert random bytes */
        size_t k = 1 + below(r, 16);
        for (size_t i = 0; i < k; i++)
            tmp[i] = (uint8_t)rnd(r);
        return insert(buf, len, skip + below(r, body + 1), tmp, k);
    }
    case 4: { /* delete a range */
        if (!body)
            return len;
        size_t a = skip + below(r, body), k = 1 + below(r, len - a);
        memmove(buf + a, buf + a + k, len - a - k);
        return len - k;
    }
    case 5: { /* duplicate a range elsewhere */
        if (!body)
            return len;
        size_t a = skip + below(r, body), k = 1 + below(r, len - a < 64 ? len - a : 64);
        memcpy(tmp, buf + a, k);
        return insert(buf, len, skip + below(r, body + 1), tmp, k);
    }
    case 6: { /* splice: our prefix, another seed's suffix */
        size_t idx = below(r, c->n);
        const uint8_t *o = c->data[idx];
        size_t on = c->len[idx];
        if (on <= skip)
            return len;
        size_t cut = skip + below(r, body + 1), from = skip + below(r, on - skip);
        size_t k = on - from;
        if (cut + k > MAX_INPUT)
            k = MAX_INPUT - cut;
        memcpy(buf + cut, o + from, k);
        return cut + k;
    }
    case 7: { /* append the body again: protobuf merges, fields repeat */
        size_t k = body;
        if (len + k > MAX_INPUT)
            k = MAX_INPUT - len;
        memmove(buf + len, buf + skip, k);
        return len + k;
    }
    case 8: { /* a protobuf field with a random tag, wire type and payload */
        size_t n = put_varint(tmp, ((uint64_t)(1 + below(r, 16)) << 3) | below(r, 8));
        switch (below(r, 4)) {
        case 0:
            n += put_varint(tmp + n, interesting64[below(r, sizeof(interesting64) / 8)]);
            break;
        case 1: /* length far beyond the message */
            n += put_varint(tmp + n, (uint64_t)1 << below(r, 63));
            break;
        case 2: { /* a short length-delimited payload */
            size_t k = below(r, 12);
            n += put_varint(tmp + n, k);
            for (size_t i = 0; i < k; i++)
                tmp[n++] = (uint8_t)rnd(r);
            break;
        }
        default: {
            uint64_t v = interesting64[below(r, sizeof(interesting64) / 8)];
            memcpy(tmp + n, &v, 8);
            n += 8;
            break;
        }
        }
        return insert(buf, len, skip + below(r, body + 1), tmp, n);
    }
    case 9: { /* overwrite with an interesting 8-, 4- or 1-byte value */
        uint64_t v = interesting64[below(r, sizeof(interesting64) / 8)];
        size_t w = (size_t)1 << below(r, 4);
        if (body < w)
            return len;
        memcpy(buf + skip + below(r, body - w + 1), &v, w);
        return len;
    }
    default: { /* a long run of one byte (oversized fields) */
        size_t k = 1 + below(r, 3000);
        uint8_t b = below(r, 2) ? 'A' : (uint8_t)rnd(r);
        if (len + k > MAX_INPUT)
            return len;
        size_t pos = skip + below(r, body + 1);
        memmove(buf + pos + k, buf + pos, len - pos);
        memset(buf + pos, b, k);
        return len + k;
    }
    }
}

/* JSON values that are wrong in some way for some field. */
static const char *const nasty_json[] = {
    "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "null", "true", "false", "[]", "{}",
    "\"\"", "\"\\ud800\"", "\"\\u0000\"", "\"\xff\xfe\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
    "99999999999999999999999999", "-9223372036854775808", "9223372036854775807",
    "18446744073709551615", "18446744073709551616", "-1", "0", "1.5", "4294967296",
    "\"abc\"", "\"-12\"", "\"12x\"", "\" 12\"", "\"807256800000\"", "1e-320", "-0",
    "[1,2,3]", "[1e999]", "[null]", "[\"x\"]", "{\"a\":1}", "\"purchase\"", "\"PURCHASE\"",
    "\"traffic\"", "\"behavior\"", "\"annotation\"", "9", "10", "2.5e15", "1e18",
};

static const char *const json_fields[] = {
    "kind", "event_time_ms", "site", "path", "user_id", "session_id", "method", "status",
    "bytes", "latency_ms", "referrer", "ua_class", "type", "value", "quantity", "target",
    "valid_from_ms", "valid_to_ms", "features", "schema", "text",
};

/* Replaces (or adds) one member of a JSON object text with a nasty value. */
static size_t mutate_json(rng_t *r, uint8_t *buf, size_t len, size_t skip)
{
    char val[8192];
    size_t vl;
    int which = (int)below(r, 8);
    if (which == 0) { /* deep nesting */
        size_t d = 1 + below(r, 3000);
        if (d > sizeof(val) / 2 - 2)
            d = sizeof(val) / 2 - 2;
        memset(val, '[', d);
        memset(val + d, ']', d);
        vl = 2 * d;
        if (below(r, 4) == 0)
            vl = d; /* unclosed */
    } else if (which == 1) { /* a long string */
        size_t k = 1 + below(r, sizeof(val) - 3);
        val[0] = '"';
        memset(val + 1, below(r, 2) ? 'x' : 0xe9, k);
        val[k + 1] = '"';
        vl = k + 2;
    } else if (which == 2) { /* many features */
        vl = 0;
        val[vl++] = '[';
        size_t k = below(r, 130);
        for (size_t i = 0; i < k && vl < sizeof(val) - 16; i++)
            vl += (size_t)snprintf(val + vl, 16, "%s%.3g", i ? "," : "", (double)i / 3);
        val[vl++] = ']';
    } else {
        const char *v = nasty_json[below(r, sizeof(nasty_json) / sizeof(nasty_json[0]))];
        vl = strlen(v);
        memcpy(val, v, vl);
    }
    const char *field = json_fields[below(r, sizeof(json_fields) / sizeof(json_fields[0]))];
    char pat[64];
    int pl = snprintf(pat, sizeof(pat), "\"%s\":", field);
    uint8_t *at = memmem(buf + skip, len - skip, pat, (size_t)pl);
    if (!at || below(r, 4) == 0) {
        /* add it after the opening brace (a duplicate if it was there) */
        uint8_t *brace = memchr(buf + skip, '{', len - skip);
        if (!brace)
            return len;
        char ins[8300];
        int il = snprintf(ins, sizeof(ins), "%s%.*s,", pat, (int)vl, val);
        return insert(buf, len, (size_t)(brace + 1 - buf), (const uint8_t *)ins, (size_t)il);
    }
    /* the value runs to the next ',' or '}' outside a string */
    size_t vs = (size_t)(at - buf) + (size_t)pl, ve = vs;
    bool in_str = false;
    while (ve < len) {
        uint8_t ch = buf[ve];
        if (in_str && ch == '\\') {
            ve += 2;
            continue;
        }
        if (ch == '"')
            in_str = !in_str;
        else if (!in_str && (ch == ',' || ch == '}'))
            break;
        ve++;
    }
    if (ve > len)
        ve = len;
    size_t tail = len - ve;
    if (vs + vl + tail > MAX_INPUT)
        return len;
    memmove(buf + vs + vl, buf + ve, tail);
    memcpy(buf + vs, val, vl);
    return vs + vl + tail;
}

/* ------------------------------------------------------------------- seeds */

static int64_t cdnow_ms(int ymd)
{
    struct tm tm = {.tm_year = ymd / 10000 - 1900, .tm_mon = ymd / 100 % 100 - 1,
                    .tm_mday = ymd % 100, .tm_hour = 12};
    return (int64_t)timegm(&tm) * 1000;
}

/* Adds ev in every form to the corpus: mode byte, then the bytes. */
static int add_event(corpus_t *c, const tc_event_t *ev)
{
    static uint8_t buf[1 + 65536 + 16];
    size_t len;
    int rc = tc_encode_pb(ev, buf + 1, sizeof(buf) - 1, &len);
    if (rc)
        return rc;
    buf[0] = (uint8_t)(ev->kind - 1);
    if ((rc = corpus_add(c, buf, len + 1)))
        return rc;
    if ((rc = tc_encode_envelope(ev, buf + 1, sizeof(buf) - 1, &len)))
        return rc;
    size_t hdr, msg;
    if ((rc = tc_decode_frame(buf + 1, len, len, &hdr, &msg)))
        return rc;
    buf[hdr] = 3; /* the Envelope without its prefix */
    if ((rc = corpus_add(c, buf + hdr, msg + 1)))
        return rc;
    if ((rc = tc_encode_json(ev, (char *)buf + 1, sizeof(buf) - 1, &len)))
        return rc;
    buf[0] = (uint8_t)(4 + (len % 2 ? 0 : ev->kind)); /* with and without the topic's kind */
    return corpus_add(c, buf, len + 1);
}

static int event_seeds(corpus_t *c)
{
    FILE *f = fopen(tc_test_data_path("weblog/nasa_19950801.tsv"), "r");
    if (!f)
        return TC_EIO;
    char line[4096];
    int rc = 0, i = 0;
    static const char *ua[] = {"", "browser", "bot"};
    while (!rc && fgets(line, sizeof(line), f)) {
        if (i++ % 150) /* about 200 rows spread over the day */
            continue;
        char host[256], method[16], url[1024];
        long long t, bytes = 0;
        unsigned status;
        if (sscanf(line, "%255[^\t]\t%*[^\t]\t%lld\t%15[^\t]\t%1023[^\t]\t%u\t%lld", host, &t,
                   method, url, &status, &bytes) < 5)
            continue;
        tc_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = TC_EVENT_TRAFFIC;
        ev.time_ms = t * 1000 + i % 1000;
        ev.site = tc_str_c("ksc.nasa.gov");
        ev.user_id = tc_str_c(host);
        ev.session_id = tc_str_c(i % 3 ? "" : host);
        ev.traffic.path = tc_str_c(url);
        ev.traffic.method = tc_str_c(method);
        ev.traffic.referrer = tc_str_c(i % 5 ? "" : "http://www.nasa.gov/");
        ev.traffic.ua_class = tc_str_c(ua[i % 3]);
        ev.traffic.status = status;
        ev.traffic.bytes = (uint64_t)bytes;
        ev.traffic.latency_ms = (i % 7) * 1.25;
        rc = add_event(c, &ev);
    }
    fclose(f);
    if (rc)
        return rc;
    f = fopen(tc_test_data_path("cdnow/CDNOW_sample.txt"), "r");
    if (!f)
        return TC_EIO;
    i = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        if (i++ % 35)
            continue;
        char cust[16];
        int ymd, ncd;
        double usd;
        if (sscanf(line, "%15s %*s %d %d %lf", cust, &ymd, &ncd, &usd) != 4)
            continue;
        tc_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = TC_EVENT_BEHAVIOR;
        ev.time_ms = cdnow_ms(ymd);
        ev.site = tc_str_c("cdnow.com");
        ev.user_id = tc_str_c(cust);
        ev.session_id = tc_str_c("");
        ev.behavior.type = i % 4 ? TC_BEHAVIOR_PURCHASE : (tc_behavior_type_t)(i % TC_BEHAVIOR_COUNT);
        ev.behavior.value = usd;
        ev.behavior.quantity = (uint32_t)ncd;
        rc = add_event(c, &ev);
    }
    fclose(f);
    /* Annotations: a campaign vector for the site, an open-ended one, one
     * with the most features allowed and one with a long text. */
    static float feat[TC_EVENT_MAX_FEATURES];
    static char text[3000];
    for (int k = 0; k < TC_EVENT_MAX_FEATURES; k++)
        feat[k] = (float)k / 7.0f - 3.0f;
    memset(text, 'a', sizeof(text) - 1);
    for (int k = 0; !rc && k < 4; k++) {
        tc_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = TC_EVENT_ANNOTATION;
        ev.time_ms = 807260000000LL + k * 600000;
        ev.site = ev.user_id = ev.session_id = tc_str_c("");
        ev.annotation.target = tc_str_c(k % 2 ? "ksc.nasa.gov" : "cdnow.com");
        ev.annotation.valid_from_ms = ev.time_ms + 60000;
        ev.annotation.valid_to_ms = k == 1 ? 0 : ev.time_ms + 3600000;
        ev.annotation.features = feat;
        ev.annotation.n_features = k == 2 ? TC_EVENT_MAX_FEATURES : 2;
        ev.annotation.schema = tc_str_c("campaign-v1");
        ev.annotation.text = tc_str_c(k == 3 ? text : "summer sale");
        rc = add_event(c, &ev);
    }
    return rc;
}

/* ---------------------------------------------------------------- the loop */

static double budget_s(void)
{
    const char *s = getenv("TC_FUZZ_SECONDS");
    return s && *s ? atof(s) : 3.0;
}

static size_t budget_iters(size_t dflt)
{
    const char *s = getenv("TC_FUZZ_ITERS");
    return s && *s ? (size_t)strtoull(s, NULL, 10) : dflt;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef const char *(*target_fn)(fuzz_ctx_t *f, const uint8_t *d, size_t n);

typedef struct fuzz_run {
    size_t iters, done;
    const char *why;
    size_t fail_iter;
    uint8_t *fail_input;
    size_t fail_len;
} fuzz_run_t;

/*
 * Runs the seeds, then mutants: each iteration picks a seed, applies 1-4
 * mutations (mostly one) (byte-level; JSON-aware where json_from applies to the mode
 * byte; skip = bytes of the selector kept intact) and calls the target.
 */
static void run_target(fuzz_ctx_t *f, const corpus_t *c, target_fn fn, uint64_t seed,
                       size_t iters, size_t skip, int json_from, fuzz_run_t *out)
{
    rng_t r = {seed};
    uint8_t *buf = malloc(MAX_INPUT);
    double t0 = now_s(), limit = budget_s();
    memset(out, 0, sizeof(*out));
    out->iters = iters;
    for (size_t i = 0; buf && i < c->n + iters; i++) {
        size_t len;
        if (i < c->n) {
            len = c->len[i];
            memcpy(buf, c->data[i], len);
        } else {
            size_t k = below(&r, c->n);
            len = c->len[k];
            memcpy(buf, c->data[k], len);
            size_t muts = below(&r, 3) ? 1 : 2 + below(&r, 3); /* mostly one */
            for (size_t m = 0; m < muts; m++) {
                if (json_from >= 0 && len > skip && buf[0] % FUZZ_DECODE_MODES >= json_from &&
                    below(&r, 2))
                    len = mutate_json(&r, buf, len, skip);
                else
                    len = mutate_bytes(&r, buf, len, skip, c);
            }
        }
        const char *why = fn(f, buf, len);
        out->done = i + 1;
        if (why) {
            out->why = why;
            out->fail_iter = i;
            out->fail_input = malloc(len ? len : 1);
            if (out->fail_input)
                memcpy(out->fail_input, buf, len);
            out->fail_len = len;
            break;
        }
        if ((i & 63) == 0 && now_s() - t0 > limit)
            break;
    }
    free(buf);
}

static void print_input(const uint8_t *d, size_t n)
{
    fprintf(stderr, "  input (%zu bytes):", n);
    for (size_t i = 0; i < n && i < 256; i++)
        fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", d[i]);
    fprintf(stderr, "\n");
}

#define CHECK_RUN(run)                                                                   \
    do {                                                                                 \
        if ((run).why)                                                                   \
            print_input((run).fail_input, (run).fail_len);                               \
        CHECK_MSG(!(run).why, "iteration %zu: %s", (run).fail_iter, (run).why);          \
    } while (0)

TC_TEST(fuzz_decode_and_pipeline)
{
    corpus_t c = {0};
    CHECK_OK(event_seeds(&c));
    CHECK(c.n > 500);
    corpus_dump(&c, "decode");
    fuzz_ctx_t *f = fuzz_new(tc_test_tmpdir());
    CHECK(f);
    fuzz_run_t run;
    run_target(f, &c, fuzz_decode, 0x7469646563617374ULL, budget_iters(150000), 1, 4, &run);
    size_t decoded, fed, restarts;
    fuzz_counts(f, &decoded, &fed, &restarts);
    fprintf(stderr,
            "  decode: %zu inputs (%zu seeds), %zu decoded, %zu accepted by the pipeline, "
            "%zu time jumps\n",
            run.done, c.n, decoded, fed, restarts);
    fuzz_free(f);
    corpus_free(&c);
    CHECK_RUN(run);
    free(run.fail_input);
    /* the seeds all decode, and so do some mutants */
    CHECK(decoded >= c.n && (run.done == c.n || decoded > c.n));
}

TC_TEST(fuzz_snapshot_restore)
{
    corpus_t c = {0};
    for (int k = 0; k < FUZZ_SNAP_KINDS; k++) {
        uint8_t *b;
        size_t n;
        int rc = fuzz_seed_snapshot(k, &b, &n);
        CHECK_MSG(rc == 0, "seed snapshot %d: %s", k, tc_errname(rc));
        rc = corpus_add(&c, b, n);
        free(b);
        CHECK_OK(rc);
    }
    corpus_dump(&c, "snapshot");
    fuzz_ctx_t *f = fuzz_new(tc_test_tmpdir());
    CHECK(f);
    /* each kind gets its share: the seed index picks the kind */
    fuzz_run_t run;
    run_target(f, &c, fuzz_snapshot, 0x736e617073686f74ULL, budget_iters(15000), 1, -1, &run);
    fprintf(stderr, "  snapshot: %zu inputs\n", run.done);
    fuzz_free(f);
    corpus_free(&c);
    CHECK_RUN(run);
    free(run.fail_input);
}

/* Line-level mutations of a config file, then byte-level ones. */
static size_t mutate_conf(rng_t *r, uint8_t *buf, size_t len)
{
    static const char *const vals[] = {
        "", "abc", "-1", "0", "99999999999999999999", "1e999", "nan", "60", "60s", "0s",
        "-5m", "1y", "64k", "1G", "9999999G", "requests,,", "requests,bogus", ",", "true",
        "yes", "2,1", "2,1,1,1", "9,9,9", "\xff\xfe", "\"quoted\"", "a ; comment", "=",
    };
    /* find the line starts */
    size_t starts[512], n = 0;
    for (size_t i = 0; i < len && n < 512; i++)
        if (i == 0 || buf[i - 1] == '\n')
            starts[n++] = i;
    if (!n)
        return len;
    size_t l = below(r, n), a = starts[l], e = l + 1 < n ? starts[l + 1] : len;
    uint8_t line[1200];
    switch (below(r, 5)) {
    case 0: /* delete the line */
        memmove(buf + a, buf + e, len - e);
        return len - (e - a);
    case 1: /* duplicate it */
        if (e - a > sizeof(line))
            return len;
        memcpy(line, buf + a, e - a);
        return insert(buf, len, below(r, 2) ? a : starts[below(r, n)], line, e - a);
    case 2: { /* replace the value after '=' */
        uint8_t *eq = memchr(buf + a, '=', e - a);
        if (!eq)
            return len;
        size_t vs = (size_t)(eq + 1 - buf), ve = e && buf[e - 1] == '\n' ? e - 1 : e;
        const char *v = vals[below(r, sizeof(vals) / sizeof(vals[0]))];
        size_t vl = strlen(v), tail = len - ve;
        memmove(buf + vs + vl, buf + ve, tail);
        memcpy(buf + vs, v, vl);
        return vs + vl + tail;
    }
    case 3: { /* a garbage or very long line */
        static const char *const junk[] = {"[unknown]\n", "[window\n", "bucket\n", "= 5\n",
                                           "nokey = 1\n", "[]\n", "  indented = 1\n", "\r\n",
                                           "[kafka]\nx=y\n", "\0\0\0\n"};
        if (below(r, 3) == 0) {
            size_t k = 100 + below(r, 1000);
            memset(line, 'k', k);
            line[k / 2] = '=';
            line[k] = '\n';
            return insert(buf, len, a, line, k + 1);
        }
        const char *j = junk[below(r, sizeof(junk) / sizeof(junk[0]))];
        size_t jl = j[0] ? strlen(j) : 4;
        return insert(buf, len, a, (const uint8_t *)j, jl);
    }
    default: { /* swap with another line */
        size_t l2 = below(r, n), a2 = starts[l2], e2 = l2 + 1 < n ? starts[l2 + 1] : len;
        if (l2 <= l || e - a > sizeof(line))
            return len;
        memcpy(line, buf + a, e - a);
        size_t k = e - a;
        /* move the second line to a, then the first to where the second was */
        uint8_t line2[1200];
        if (e2 - a2 > sizeof(line2))
            return len;
        memcpy(line2, buf + a2, e2 - a2);
        size_t k2 = e2 - a2;
        memmove(buf + a, buf + e, len - e);
        len -= k;
        a2 -= k;
        memmove(buf + a2, buf + a2 + k2, len - a2 - k2);
        len -= k2;
        len = insert(buf, len, a, line2, k2);
        return insert(buf, len, a2 + k2, line, k);
    }
    }
}

TC_TEST(fuzz_config_file)
{
    char *text = NULL;
    size_t tlen = 0;
    FILE *fp = fopen(tc_test_data_path("../conf/tidecast.conf"), "rb");
    CHECK(fp);
    text = malloc(MAX_INPUT);
    tlen = fread(text, 1, MAX_INPUT / 2, fp);
    fclose(fp);
    CHECK(tlen > 100);
    corpus_t c = {0};
    CHECK_OK(corpus_add(&c, text, tlen));
    free(text);
    corpus_dump(&c, "config");
    fuzz_ctx_t *f = fuzz_new(tc_test_tmpdir());
    CHECK(f);
    /* the shipped file loads as it is */
    const char *why = fuzz_config(f, c.data[0], c.len[0]);
    CHECK_MSG(!why, "%s", why);
    rng_t r = {0x636f6e66ULL};
    uint8_t *buf = malloc(MAX_INPUT);
    size_t iters = budget_iters(4000), i;
    double t0 = now_s();
    for (i = 0; buf && i < iters && !why; i++) {
        size_t len = c.len[0];
        memcpy(buf, c.data[0], len);
        size_t muts = 1 + below(&r, 3);
        for (size_t m = 0; m < muts; m++)
            len = below(&r, 4) ? mutate_conf(&r, buf, len) : mutate_bytes(&r, buf, len, 0, &c);
        why = fuzz_config(f, buf, len);
        if (why)
            print_input(buf, len);
        if (now_s() - t0 > budget_s())
            break;
    }
    fprintf(stderr, "  config: %zu files\n", i);
    free(buf);
    fuzz_free(f);
    corpus_free(&c);
    CHECK_MSG(!why, "iteration %zu: %s", i, why);
}

TC_TEST(fuzz_framer_stream)
{
    /* A stream of real frames of both framings: the decode seeds joined. */
    corpus_t ev = {0}, c = {0};
    CHECK_OK(event_seeds(&ev));
    static uint8_t buf[2][8192];
    size_t len[2] = {1, 1};
    buf[0][0] = 0x10; /* NDJSON, chunks of 57 */
    buf[1][0] = 0x21; /* protobuf, chunks of 113 */
    for (size_t i = 0; i < ev.n; i++) {
        int mode = ev.data[i][0];
        size_t n = ev.len[i] - 1;
        if (mode >= 4 && len[0] + n + 1 < sizeof(buf[0])) {
            memcpy(buf[0] + len[0], ev.data[i] + 1, n);
            len[0] += n;
            buf[0][len[0]++] = '\n';
        } else if (mode == 3 && len[1] + n + 10 < sizeof(buf[1])) {
            len[1] += put_varint(buf[1] + len[1], n);
            memcpy(buf[1] + len[1], ev.data[i] + 1, n);
            len[1] += n;
        }
    }
    corpus_free(&ev);
    CHECK_OK(corpus_add(&c, buf[0], len[0]));
    CHECK_OK(corpus_add(&c, buf[1], len[1]));
    corpus_dump(&c, "framer");
    fuzz_ctx_t *f = fuzz_new(tc_test_tmpdir());
    CHECK(f);
    fuzz_run_t run;
    /* byte 0 (framing and chunk size) is mutated too */
    run_target(f, &c, fuzz_framer, 0x6672616d6572ULL, budget_iters(10000), 0, -1, &run);
    fprintf(stderr, "  framer: %zu streams\n", run.done);
    fuzz_free(f);
    corpus_free(&c);
    CHECK_RUN(run);
    free(run.fail_input);
}

/* ------------------------------------------------------ regression tests */

/*
 * Found by fuzz_decode_and_pipeline: protobuf-c does not check that string
 * fields are UTF-8, so a TrafficEvent whose site was "\xff\xfe" was
 * accepted; its series key then could not be written by the JSON bucket
 * writer (the line lost its "series") nor re-encoded as JSON. Such fields
 * are now refused as TC_EPARSE. Cases from RFC 3629 and Markus Kuhn's
 * UTF-8 decoder stress test.
 */
TC_TEST(fuzz_regression_protobuf_strings_must_be_utf8)
{
    static const struct {
        const char *s;
        int rc;
    } cases[] = {
        {"z\xc3\xbcrich.example", 0},           /* U+00FC */
        {"\xe6\x97\xa5\xe6\x9c\xac", 0},         /* U+65E5 U+672C */
        {"\xf0\x9f\x98\x80", 0},                 /* U+1F600 */
        {"\xef\xbf\xbf", 0},                     /* U+FFFF is a valid scalar */
        {"\xf4\x8f\xbf\xbf", 0},                 /* U+10FFFF, the last one */
        {"\xff\xfe", TC_EPARSE},                 /* never in UTF-8 */
        {"\xc0\xaf", TC_EPARSE},                 /* overlong '/' */
        {"\xe0\x80\xaf", TC_EPARSE},             /* overlong '/' */
        {"\xf0\x80\x80\xaf", TC_EPARSE},         /* overlong '/' */
        {"\xed\xa0\x80", TC_EPARSE},             /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", TC_EPARSE},         /* U+110000 */
        {"abc\xe6\x97", TC_EPARSE},              /* truncated sequence */
        {"\x80", TC_EPARSE},                     /* lone continuation */
        {"a\xc3(", TC_EPARSE},                   /* bad continuation */
    };
    tc_decoder_t *dec = tc_decoder_new(NULL);
    CHECK(dec);
    tc_decoder_set_now(dec, FUZZ_NOW_MS);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int field = 0; field < 2; field++) {
            tc_event_t ev;
            memset(&ev, 0, sizeof(ev));
            ev.kind = TC_EVENT_TRAFFIC;
            ev.time_ms = 807256800000LL;
            ev.site = tc_str_c(field == 0 ? cases[i].s : "nasa");
            ev.user_id = ev.session_id = tc_str_c("");
            ev.traffic.path = tc_str_c(field == 1 ? cases[i].s : "/");
            ev.traffic.method = ev.traffic.referrer = ev.traffic.ua_class = tc_str_c("");
            uint8_t buf[256];
            size_t len;
            CHECK_OK(tc_encode_pb(&ev, buf, sizeof(buf), &len));
            tc_event_t out;
            int rc = tc_decode_pb(dec, TC_EVENT_TRAFFIC, buf, len, &out);
            CHECK_MSG(rc == cases[i].rc, "case %zu field %d: %s (%s)", i, field, tc_errname(rc),
                      tc_decoder_last_error(dec));
        }
    }
    tc_decoder_free(dec);
}

/*
 * Found by tests/fuzz/fuzz_snapshot (UBSan): an LSTM snapshot whose weights
 * held a NaN was loaded, and the next step converted NaN to an integer in
 * the gate activation (undefined behaviour; in practice every output NaN).
 * Non-finite weights, moments or series states are now TC_ECORRUPT.
 */
TC_TEST(fuzz_regression_lstm_snapshot_with_nan_weight_is_corrupt)
{
    tc_lstm_config_t c;
    tc_lstm_config_default(&c);
    c.hidden = 16;
    c.max_series = 2;
    c.max_batch = 2;
    c.season = 3;
    tc_lstm_t *m = NULL, *back = NULL;
    CHECK_OK(tc_lstm_new(&c, &m));
    int32_t slot = 0;
    for (int i = 0; i < 10; i++) {
        int64_t t = 807256800000LL + i * 3600000LL;
        float y = (float)(10 + i % 3);
        CHECK_OK(tc_lstm_step(m, 1, &slot, &t, &y, NULL, true, NULL, NULL));
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(tc_lstm_save(m, &buf, &len));
    CHECK_OK(tc_lstm_load(buf, len, &back)); /* the intact snapshot loads */
    tc_lstm_free(back);
    back = NULL;
    free(buf);
    float keep = tc_lstm_params(m)[5];
    for (int k = 0; k < 3; k++) {
        tc_lstm_params(m)[5] = k == 0 ? NAN : (k == 1 ? INFINITY : -INFINITY);
        CHECK_OK(tc_lstm_save(m, &buf, &len));
        int rc = tc_lstm_load(buf, len, &back);
        free(buf);
        tc_lstm_free(back);
        back = NULL;
        CHECK_INT_EQ(rc, TC_ECORRUPT);
    }
    tc_lstm_params(m)[5] = keep;
    tc_lstm_free(m);
}

/*
 * Found by tests/fuzz/fuzz_snapshot (UBSan): finite but huge weights (3.5e37
 * in a damaged snapshot) overflow the gate pre-activations to inf - inf =
 * NaN, which fast_exp converted to an integer (undefined behaviour). A step
 * must stay defined whatever the weights; the ASan+UBSan tree checks it.
 */
TC_TEST(fuzz_regression_lstm_huge_weights_stay_defined)
{
    tc_lstm_config_t c;
    tc_lstm_config_default(&c);
    c.hidden = 16;
    c.max_series = 1;
    c.max_batch = 1;
    c.season = 0;
    tc_lstm_t *m = NULL;
    CHECK_OK(tc_lstm_new(&c, &m));
    size_t np = tc_lstm_n_params(m);
    float *p = tc_lstm_params(m);
    for (size_t i = 0; i < np; i++)
        p[i] = i % 2 ? 3.5e37f : -3.5e37f;
    int32_t slot = 0;
    for (int i = 0; i < 4; i++) {
        int64_t t = 807256800000LL + i * 3600000LL;
        float y = (float)(10 + i), mean, sd;
        CHECK_OK(tc_lstm_step(m, 1, &slot, &t, &y, NULL, true, &mean, &sd));
    }
    tc_lstm_free(m);
}
