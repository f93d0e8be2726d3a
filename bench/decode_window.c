/*
 * decode_window - throughput of the per-event path decode -> key -> window
 * on real events, one thread.
 *
 * The NASA-HTTP day (data/weblog/nasa_19950801.tsv: host, logname, unix
 * time, method, url, status, bytes, ...) is turned into TrafficEvents (site
 * "ksc.nasa.gov", path = url, user_id = host) and replicated with each copy
 * shifted by the day's span rounded up to a minute, so the stream stays in
 * time order and continuous, until at least the requested number of events
 * (default 1,000,000). The events are encoded once into an in-memory buffer
 * as bare protobuf TrafficEvent messages (the Kafka form) and as NDJSON
 * lines; then each format is timed through
 *   tc_decode_pb / tc_decode_json -> tc_serieskey_make (site + first path
 *   segment) -> tc_registry_intern -> tc_window_add (1-minute buckets,
 *   60 s lateness, HyperLogLog p = 12 for unique users),
 * with the closed buckets delivered to a callback that sums them (checked
 * against the event count). Decode alone is timed too, for the breakdown.
 * Each measurement is repeated (default 5) and the median reported.
 *
 * Usage: decode_window [TSV] [min_events] [repeats]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "error.h"
#include "registry.h"
#include "serieskey.h"
#include "window.h"

typedef struct corpus {
    uint8_t *pb;
    size_t pb_len;
    char *js;
    size_t js_len;
    size_t *pb_off; /* n + 1 offsets */
    size_t *js_off;
    size_t n;
} corpus_t;

typedef struct sink {
    uint64_t requests;
    uint64_t buckets;
} sink_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_close(void *ud, uint32_t series, const char *key, size_t key_len,
                     const tc_bucket_t *b)
{
    (void)series;
    (void)key;
    (void)key_len;
    sink_t *s = ud;
    s->requests += b->requests;
    s->buckets++;
}

/* Splits line in place at tabs into at most max fields. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    void *q = realloc(*p, ncap * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = ncap;
    return 0;
}

static int build_corpus(const char *path, size_t min_events, corpus_t *c)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    /* Read the rows once. */
    char **lines = NULL;
    size_t nlines = 0, lines_cap = 0;
    char buf[8192];
    long long tmin = 0, tmax = 0;
    while (fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        char tmp[8192];
        memcpy(tmp, buf, sizeof(tmp));
        char *fl[9];
        if (split_tabs(tmp, fl, 9) < 7 || fl[2][0] < '0' || fl[2][0] > '9')
            continue; /* header or short row */
        long long t = atoll(fl[2]);
        if (!nlines || t < tmin)
            tmin = t;
        if (!nlines || t > tmax)
            tmax = t;
        if (grow((void **)&lines, &lines_cap, nlines + 1, sizeof(*lines)) || !(lines[nlines] = strdup(buf)))
            return -1;
        nlines++;
    }
    fclose(f);
    if (!nlines)
        return -1;
    long long span = ((tmax - tmin) / 60 + 1) * 60;

    size_t copies = (min_events + nlines - 1) / nlines;
    size_t pb_cap = 0, js_cap = 0, off_cap = 0;
    memset(c, 0, sizeof(*c));
    for (size_t k = 0; k < copies; k++) {
        for (size_t i = 0; i < nlines; i++) {
            char tmp[8192];
            snprintf(tmp, sizeof(tmp), "%s", lines[i]);
            char *fl[9] = {NULL};
            if (split_tabs(tmp, fl, 9) < 7)
                continue;
            tc_event_t ev;
            memset(&ev, 0, sizeof(ev));
            ev.kind = TC_EVENT_TRAFFIC;
            ev.time_ms = (atoll(fl[2]) + (long long)k * span) * 1000;
            ev.site = tc_str_c("ksc.nasa.gov");
            ev.user_id = tc_str_c(fl[0]);
            ev.session_id = tc_str_c("");
            ev.traffic.method = tc_str_c(fl[3]);
            ev.traffic.path = tc_str_c(fl[4]);
            ev.traffic.status = (uint32_t)atoi(fl[5]);
            ev.traffic.bytes = (uint64_t)atoll(fl[6]);
            ev.traffic.referrer = tc_str_c("");
            ev.traffic.ua_class = tc_str_c("");
            size_t n;
            if (grow((void **)&c->pb_off, &off_cap, c->n + 2, sizeof(size_t)) ||
                !(c->js_off = realloc(c->js_off, off_cap * sizeof(size_t))))
                return -1;
            if (grow((void **)&c->pb, &pb_cap, c->pb_len + 16384, 1) ||
                tc_encode_pb(&ev, c->pb + c->pb_len, pb_cap - c->pb_len, &n))
                return -1;
            c->pb_off[c->n] = c->pb_len;
            c->pb_len += n;
            if (grow((void **)&c->js, &js_cap, c->js_len + 16384, 1) ||
                tc_encode_json(&ev, c->js + c->js_len, js_cap - c->js_len, &n))
                return -1;
            c->js_off[c->n] = c->js_len;
            c->js_len += n;
            c->js[c->js_len++] = '\n';
            c->n++;
        }
    }
    c->pb_off[c->n] = c->pb_len;
    c->js_off[c->n] = c->js_len;
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    return 0;
}

typedef struct result {
    double secs;
    uint64_t bad, late, requests;
    size_t series;
} result_t;

/* One pass over the corpus; full = decode + key + registry + window. */
static int run_once(const corpus_t *c, int json, int full, result_t *r)
{
    tc_decode_limits_t lim;
    tc_decode_limits_default(&lim);
    lim.max_future_ms = -1; /* replayed history */
    tc_decoder_t *dec = tc_decoder_new(&lim);
    tc_registry_t *reg = tc_registry_new(100000, NULL);
    tc_window_config_t wcfg;
    memset(&wcfg, 0, sizeof(wcfg));
    wcfg.bucket_ms = 60000;
    wcfg.lateness_ms = 60000;
    wcfg.ring = 60;
    wcfg.hll_precision = 12;
    wcfg.max_series = 100000;
    sink_t sink = {0, 0};
    tc_window_t *win = tc_window_new(&wcfg, reg, on_close, &sink);
    tc_serieskey_config_t kcfg = {TC_SERIESKEY_SITE_PATH, 1, false, false};
    if (!dec || !reg || !win)
        return -1;
    memset(r, 0, sizeof(*r));
    char key[TC_SERIESKEY_MAX + 1];
    uint64_t sink_sum = 0;
    double t0 = now_s();
    for (size_t i = 0; i < c->n; i++) {
        tc_event_t ev;
        int rc = json ? tc_decode_json(dec, TC_EVENT_TRAFFIC, c->js + c->js_off[i],
                                       c->js_off[i + 1] - c->js_off[i], &ev)
                      : tc_decode_pb(dec, TC_EVENT_TRAFFIC, c->pb + c->pb_off[i],
                                     c->pb_off[i + 1] - c->pb_off[i], &ev);
        if (rc) {
            r->bad++;
            continue;
        }
        if (!full) {
            sink_sum += ev.traffic.bytes + ev.site.len;
            continue;
        }
        size_t klen;
        uint32_t idx;
        if (tc_serieskey_make(&kcfg, &ev, key, sizeof(key), &klen) ||
            tc_registry_intern(reg, key, klen, &idx, NULL)) {
            r->bad++;
            continue;
        }
        rc = tc_window_add(win, idx, &ev);
        if (rc == TC_ELATE)
            r->late++;
        else if (rc)
            r->bad++;
    }
    if (full)
        tc_window_flush(win);
    r->secs = now_s() - t0;
    r->requests = full ? sink.requests : sink_sum;
    r->series = tc_registry_count(reg);
    tc_window_free(win);
    tc_registry_free(reg);
    tc_decoder_free(dec);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int measure(const corpus_t *c, int json, int full, int reps, const char *label)
{
    double secs[64];
    result_t r;
    for (int k = 0; k < reps; k++) {
        if (run_once(c, json, full, &r))
            return -1;
        secs[k] = r.secs;
    }
    qsort(secs, (size_t)reps, sizeof(double), cmp_double);
    double med = secs[reps / 2];
    printf("%-34s %9zu events  %10.0f events/s  %7.1f ns/event  (median of %d; min %.1f ns)",
           label, c->n, (double)c->n / med, med * 1e9 / (double)c->n, reps,
           secs[0] * 1e9 / (double)c->n);
    if (full)
        printf("  series=%zu late=%llu bad=%llu windowed=%llu", r.series,
               (unsigned long long)r.late, (unsigned long long)r.bad,
               (unsigned long long)r.requests);
    printf("\n");
    if (full && r.requests + r.late + r.bad != c->n) {
        fprintf(stderr, "decode_window: %llu windowed + %llu late + %llu bad != %zu events\n",
                (unsigned long long)r.requests, (unsigned long long)r.late,
                (unsigned long long)r.bad, c->n);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("TC_DATA_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/weblog/nasa_19950801.tsv", dir && *dir ? dir : "data");
    const char *tsv = argc > 1 ? argv[1] : path;
    size_t min_events = argc > 2 ? (size_t)atoll(argv[2]) : 1000000;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    if (reps < 1 || reps > 64)
        reps = 5;
    corpus_t c;
    if (build_corpus(tsv, min_events, &c)) {
        fprintf(stderr, "decode_window: cannot build the corpus from %s\n", tsv);
        return 1;
    }
    printf("corpus: %zu NASA-HTTP events; protobuf %.1f bytes/event, JSON %.1f bytes/event\n",
           c.n, (double)c.pb_len / (double)c.n, (double)c.js_len / (double)c.n);
    int rc = 0;
    rc |= measure(&c, 0, 0, reps, "protobuf decode only");
    rc |= measure(&c, 0, 1, reps, "protobuf decode+key+window");
    rc |= measure(&c, 1, 0, reps, "JSON decode only");
    rc |= measure(&c, 1, 1, reps, "JSON decode+key+window");
    free(c.pb);
    free(c.js);
    free(c.pb_off);
    free(c.js_off);
    return rc ? 1 : 0;
}
