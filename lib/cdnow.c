/*
 * cdnow.c - parses the CDNOW purchase log and computes the churn evaluation
 * protocol's statistics (see cdnow.h and shared/PEERS.md): per customer
 * x = distinct calibration days - 1, t_x and T in weeks from the first day,
 * y = distinct holdout days. Dates become day numbers by the civil-from-days
 * inverse (Howard Hinnant's days_from_civil), so no time-zone library is
 * involved.
 */
#include "cdnow.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int32_t tc_cdnow_day(int y, int m, int d)
{
    return (int32_t)(days_from_civil(y, m, d) - days_from_civil(1997, 1, 1));
}

void tc_cdnow_deinit(tc_cdnow_t *c)
{
    if (!c)
        return;
    free(c->rec);
    free(c->cust);
    free(c->first_day);
    free(c->x);
    free(c->t_x);
    free(c->T);
    free(c->y);
    memset(c, 0, sizeof(*c));
}

/* Splits one line into at most 6 whitespace-separated fields. */
static int split(const char *s, const char *e, const char *f[6], size_t fl[6])
{
    int n = 0;
    while (s < e) {
        while (s < e && isspace((unsigned char)*s))
            s++;
        if (s >= e)
            break;
        const char *b = s;
        while (s < e && !isspace((unsigned char)*s))
            s++;
        if (n == 6)
            return 7;
        f[n] = b;
        fl[n] = (size_t)(s - b);
        n++;
    }
    return n;
}

static int parse_uint(const char *s, size_t n, uint32_t *v)
{
    uint64_t acc = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
    }
    if (acc > UINT32_MAX)
        return -1;
    *v = (uint32_t)acc;
    return 0;
}

static int parse_date(const char *s, size_t n, int32_t *day)
{
    uint32_t v;
    if (n != 8 || parse_uint(s, n, &v))
        return -1;
    int y = (int)(v / 10000), m = (int)(v / 100 % 100), d = (int)(v % 100);
    if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1900 || y > 2100)
        return -1;
    *day = tc_cdnow_day(y, m, d);
    return 0;
}

static int by_cust_day(const void *pa, const void *pb)
{
    const tc_cdnow_record_t *a = pa, *b = pb;
    if (a->cust != b->cust)
        return a->cust < b->cust ? -1 : 1;
    return (a->day > b->day) - (a->day < b->day);
}

static int by_day_cust(const void *pa, const void *pb)
{
    const tc_cdnow_record_t *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return (a->cust > b->cust) - (a->cust < b->cust);
}

int tc_cdnow_parse(const char *buf, size_t len, int32_t cal_end, int32_t hold_end,
                   tc_cdnow_t *out, size_t *bad_line)
{
    if (!buf || !out || hold_end < cal_end)
        return TC_EINVAL;
    memset(out, 0, sizeof(*out));
    size_t cap = 1024, n = 0, lineno = 0;
    tc_cdnow_record_t *rec = malloc(cap * sizeof(*rec));
    if (!rec)
        return TC_ENOMEM;
    int rc = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        lineno++;
        const char *f[6];
        size_t fl[6];
        int nf = split(p, e, f, fl);
        p = e + 1;
        if (nf == 0)
            continue;
        int di = nf == 5 ? 2 : nf == 4 ? 1 : -1;
        tc_cdnow_record_t r;
        if (di < 0 || parse_uint(f[0], fl[0], &r.cust) || parse_date(f[di], fl[di], &r.day)) {
            if (n == 0 && lineno == 1)
                continue; /* header line of the master file */
            rc = TC_EPARSE;
            if (bad_line)
                *bad_line = lineno;
            goto fail;
        }
        char tmp[64];
        size_t ul = fl[nf - 1] < sizeof(tmp) - 1 ? fl[nf - 1] : sizeof(tmp) - 1;
        memcpy(tmp, f[nf - 1], ul);
        tmp[ul] = 0;
        r.usd = strtod(tmp, NULL);
        if (n == cap) {
            cap *= 2;
            tc_cdnow_record_t *nr = realloc(rec, cap * sizeof(*rec));
            if (!nr) {
                rc = TC_ENOMEM;
                goto fail;
            }
            rec = nr;
        }
        rec[n++] = r;
    }
    if (n == 0) {
        rc = TC_ETOOFEW;
        goto fail;
    }
    qsort(rec, n, sizeof(*rec), by_cust_day);

    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || rec[i].cust != rec[i - 1].cust)
            nc++;
    out->cust = malloc(nc * sizeof(*out->cust));
    out->first_day = malloc(nc * sizeof(*out->first_day));
    out->x = malloc(nc * sizeof(*out->x));
    out->t_x = malloc(nc * sizeof(*out->t_x));
    out->T = malloc(nc * sizeof(*out->T));
    out->y = malloc(nc * sizeof(*out->y));
    if (!out->cust || !out->first_day || !out->x || !out->t_x || !out->T || !out->y) {
        rc = TC_ENOMEM;
        goto fail;
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int32_t first = rec[i].day, last_cal = -1;
        uint32_t cal_days = 0, hold_days = 0;
        for (; j < n && rec[j].cust == rec[i].cust; j++) {
            if (j > i && rec[j].day == rec[j - 1].day) {
                out->merged++;
                continue;
            }
            if (rec[j].day <= cal_end) {
                cal_days++;
                last_cal = rec[j].day;
            } else if (rec[j].day <= hold_end) {
                hold_days++;
            }
        }
        if (cal_days > 0) {
            out->cust[k] = rec[i].cust;
            out->first_day[k] = first;
            out->x[k] = cal_days - 1;
            out->t_x[k] = (last_cal - first) / 7.0;
            out->T[k] = (cal_end - first) / 7.0;
            out->y[k] = hold_days;
            k++;
        }
        i = j;
    }
    out->n_cust = k;
    qsort(rec, n, sizeof(*rec), by_day_cust);
    out->rec = rec;
    out->n_records = n;
    return 0;
fail:
    free(rec);
    tc_cdnow_deinit(out);
    return rc;
}
