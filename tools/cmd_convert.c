/*
 * cmd_convert.c - `tidecast convert`: turns the bundled real data sets into
 * tidecast event files (NDJSON or length-delimited protobuf Envelopes).
 *
 * Mappings (documented in README, "Input formats"):
 *   nasa   TSV with header host, logname, time, method, url, response, bytes,
 *          referer, useragent -> one TrafficEvent per request: event time =
 *          time * 1000, site = --site (default "nasa"), path = url, user_id =
 *          host, method, status, bytes (empty -> 0), referrer.
 *   nab    CSV `timestamp,value` (UTC, "YYYY-MM-DD HH:MM:SS") -> one
 *          TrafficEvent per row at the row's time, path "/", with
 *          bytes = round(value * --scale) (negatives clamped to 0): a bucket's
 *          `bytes` metric is then the sum of the series over the bucket and
 *          `requests` the number of rows in it.
 *   cdnow  whitespace-separated `customer sample date(YYYYMMDD) cds dollars`
 *          -> one BehaviorEvent of type purchase per record at 00:00 UTC of
 *          the date, user_id = customer id, value = dollars, quantity = cds.
 * Encoding is lib/decode.h's (tc_encode_json, tc_encode_envelope), so what
 * the converter writes is exactly what the daemon reads.
 * Events are written in event-time order (stable: ties keep file order),
 * since the CDNOW file is ordered by customer, not by time.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "error.h"
#include "event.h"

const char cmd_convert_summary[] = "convert NASA/NAB/CDNOW data into event files";

enum { KIND_TRAFFIC, KIND_BEHAVIOR };

typedef struct row {
    int64_t t_ms;
    size_t seq;
    int kind;
    char *site, *path, *user, *method, *referrer;
    uint32_t status, quantity;
    uint64_t bytes;
    double value;
} row_t;

typedef struct rows {
    row_t *v;
    size_t n, cap;
} rows_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tidecast convert --from nasa|nab|cdnow [--format ndjson|protobuf]\n"
            "                        [--site NAME] [--scale F] IN OUT\n"
            "  IN and OUT may be '-' for stdin/stdout. Defaults: --format ndjson,\n"
            "  --site nasa|nab|cdnow (the source name), --scale 1 (nab only).\n");
}

static row_t *push(rows_t *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 4096;
        row_t *v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        r->v = v;
        r->cap = cap;
    }
    row_t *x = &r->v[r->n];
    memset(x, 0, sizeof(*x));
    x->seq = r->n++;
    return x;
}

static void rows_free(rows_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].path);
        free(r->v[i].user);
        free(r->v[i].method);
        free(r->v[i].referrer);
    }
    free(r->v);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* Splits line at tabs in place; returns the number of fields (at most max). */
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

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static int read_nasa(FILE *in, const char *name, rows_t *rows)
{
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 1;
    while (getline(&line, &cap, in) > 0) {
        lineno++;
        chomp(line);
        char *f[9] = {0};
        int nf = split_tabs(line, f, 9);
        if (lineno == 1) {
            if (nf < 7 || strcmp(f[0], "host") || strcmp(f[2], "time") || strcmp(f[4], "url")) {
                fprintf(stderr, "%s:1: expected the header host, logname, time, method, url, "
                                "response, bytes, ...\n", name);
                goto out;
            }
            continue;
        }
        char *end = NULL;
        long long t = 0;
        errno = 0;
        if (nf >= 7)
            t = strtoll(f[2], &end, 10);
        if (nf < 7 || errno || *end || t <= 0) {
            fprintf(stderr, "%s:%ld: expected 9 tab-separated fields with a unix time, skipped\n",
                    name, lineno);
            continue;
        }
        row_t *r = push(rows);
        if (!r)
            goto out;
        r->kind = KIND_TRAFFIC;
        r->t_ms = t * 1000;
        r->user = dup_or_null(f[0]);
        r->method = dup_or_null(f[3]);
        r->path = dup_or_null(f[4]);
        r->status = (uint32_t)strtoul(f[5], NULL, 10);
        r->bytes = strtoull(f[6], NULL, 10);
        r->referrer = nf > 7 ? dup_or_null(f[7]) : NULL;
    }
    rc = 0;
out:
    free(line);
    return rc;
}

static int read_nab(FILE *in, const char *name, double scale, rows_t *rows)
{
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 1;
    while (getline(&line, &cap, in) > 0) {
        lineno++;
        chomp(line);
        if (lineno == 1) {
            if (strcmp(line, "timestamp,value")) {
                fprintf(stderr, "%s:1: expected the header 'timestamp,value'\n", name);
                goto out;
            }
            continue;
        }
        struct tm tm = {0};
        double v;
        int used = 0;
        if (sscanf(line, "%d-%d-%d %d:%d:%d,%lf%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &v, &used) != 7 ||
            line[used] || !isfinite(v)) {
            fprintf(stderr, "%s:%ld: expected 'YYYY-MM-DD HH:MM:SS,value', skipped\n", name,
                    lineno);
            continue;
        }
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        row_t *r = push(rows);
        if (!r)
            goto out;
        r->kind = KIND_TRAFFIC;
        r->t_ms = (int64_t)timegm(&tm) * 1000;
        r->path = strdup("/");
        r->method = strdup("GET");
        r->status = 200;
        double b = llround(v * scale);
        r->bytes = b > 0 ? (uint64_t)b : 0;
    }
    rc = 0;
out:
    free(line);
    return rc;
}

static int read_cdnow(FILE *in, const char *name, rows_t *rows)
{
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 1;
    while (getline(&line, &cap, in) > 0) {
        lineno++;
        char cust[32];
        unsigned sid, ymd, cds;
        double usd;
        if (sscanf(line, "%31s %u %u %u %lf", cust, &sid, &ymd, &cds, &usd) != 5 ||
            ymd < 19000101) {
            fprintf(stderr, "%s:%ld: expected 'customer sample YYYYMMDD cds dollars', skipped\n",
                    name, lineno);
            continue;
        }
        struct tm tm = {.tm_year = (int)(ymd / 10000) - 1900,
                        .tm_mon = (int)(ymd / 100 % 100) - 1,
                        .tm_mday = (int)(ymd % 100)};
        row_t *r = push(rows);
        if (!r)
            goto out;
        r->kind = KIND_BEHAVIOR;
        r->t_ms = (int64_t)timegm(&tm) * 1000;
        r->user = strdup(cust);
        r->quantity = cds;
        r->value = usd;
    }
    rc = 0;
out:
    free(line);
    return rc;
}

static int by_time(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->t_ms != y->t_ms)
        return x->t_ms < y->t_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Builds the event of row r; views point into r and site (NUL-terminated). */
static void to_event(const row_t *r, const char *site, tc_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->time_ms = r->t_ms;
    ev->site = tc_str_c(site);
    ev->user_id = tc_str_c(r->user);
    ev->session_id = tc_str_c(NULL);
    if (r->kind == KIND_TRAFFIC) {
        ev->kind = TC_EVENT_TRAFFIC;
        ev->traffic.path = tc_str_c(r->path);
        ev->traffic.method = tc_str_c(r->method);
        ev->traffic.referrer = tc_str_c(r->referrer);
        ev->traffic.ua_class = tc_str_c(NULL);
        ev->traffic.status = r->status;
        ev->traffic.bytes = r->bytes;
    } else {
        ev->kind = TC_EVENT_BEHAVIOR;
        ev->behavior.type = TC_BEHAVIOR_PURCHASE;
        ev->behavior.value = r->value;
        ev->behavior.quantity = r->quantity;
    }
}

static int write_event(FILE *out, const row_t *r, const char *site, int proto)
{
    tc_event_t ev;
    uint8_t buf[8192];
    size_t len;
    to_event(r, site, &ev);
    int rc = proto ? tc_encode_envelope(&ev, buf, sizeof(buf), &len)
                   : tc_encode_json(&ev, (char *)buf, sizeof(buf) - 1, &len);
    if (rc)
        return rc;
    if (!proto)
        buf[len++] = '\n';
    return fwrite(buf, 1, len, out) == len ? 0 : TC_EIO;
}

int cmd_convert(int argc, char **argv)
{
    const char *from = NULL, *format = "ndjson", *site = NULL, *inp = NULL, *outp = NULL;
    double scale = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--from") && i + 1 < argc) {
            from = argv[++i];
        } else if (!strcmp(a, "--format") && i + 1 < argc) {
            format = argv[++i];
        } else if (!strcmp(a, "--site") && i + 1 < argc) {
            site = argv[++i];
        } else if (!strcmp(a, "--scale") && i + 1 < argc) {
            char *e;
            scale = strtod(argv[++i], &e);
            if (*e || !isfinite(scale) || scale <= 0) {
                fprintf(stderr, "tidecast convert: --scale: expected a positive number\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tidecast convert: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!inp) {
            inp = a;
        } else if (!outp) {
            outp = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    int proto = !strcmp(format, "protobuf");
    if (!from || !inp || !outp || (!proto && strcmp(format, "ndjson")) ||
        (strcmp(from, "nasa") && strcmp(from, "nab") && strcmp(from, "cdnow"))) {
        usage(stderr);
        return 2;
    }
    if (!site)
        site = from;

    int rc = 1;
    rows_t rows = {0};
    FILE *in = strcmp(inp, "-") ? fopen(inp, "r") : stdin;
    FILE *out = NULL;
    if (!in) {
        fprintf(stderr, "tidecast convert: %s: %s\n", inp, strerror(errno));
        goto out;
    }
    int r = !strcmp(from, "nasa") ? read_nasa(in, inp, &rows)
            : !strcmp(from, "nab") ? read_nab(in, inp, scale, &rows)
                                   : read_cdnow(in, inp, &rows);
    if (r)
        goto out;
    qsort(rows.v, rows.n, sizeof(*rows.v), by_time);
    out = strcmp(outp, "-") ? fopen(outp, proto ? "wb" : "w") : stdout;
    if (!out) {
        fprintf(stderr, "tidecast convert: %s: %s\n", outp, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < rows.n; i++)
        if (write_event(out, &rows.v[i], site, proto)) {
            fprintf(stderr, "tidecast convert: %s: write failed\n", outp);
            goto out;
        }
    if (fflush(out)) {
        fprintf(stderr, "tidecast convert: %s: %s\n", outp, strerror(errno));
        goto out;
    }
    fprintf(stderr, "tidecast convert: %zu events written to %s\n", rows.n, outp);
    rc = 0;
out:
    if (in && in != stdin)
        fclose(in);
    if (out && out != stdout && fclose(out) && rc == 0)
        rc = 1;
    rows_free(&rows);
    return rc;
}
