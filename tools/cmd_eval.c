/*
 * cmd_eval.c - `tidecast eval FILE.csv`: rolling-origin forecast accuracy.
 *
 * The protocol of PEERS.md ("Forecasting: hourly, 70/30, rolling origin"):
 *  1. `timestamp,value` rows (%Y-%m-%d %H:%M:%S) are bucketed by flooring the
 *     time to the bucket width; every bucket from the first to the last is
 *     kept.  Files whose name contains Twitter_volume, nyc_taxi or
 *     elb_request_count are counts: bucket = sum, empty bucket = 0; others
 *     are rates: bucket = mean, empty bucket = the previous bucket's value.
 *  2. n buckets, n_train = floor(0.7 n); Q = mean |y[t] - y[t-m]| over the
 *     training part (m = seasonal period, 24 for hourly buckets).
 *  3. Each model is fitted once on the training part.  For every test bucket
 *     t: a one-step forecast of y[t], and when t = n_train + H k with
 *     t + H <= n a path forecast of y[t..t+H-1] (H = 24); then the model's
 *     state is updated with y[t] (no re-estimation).
 *  4. MASE = mean|e| / Q, sMAPE, RMSE, R^2 (lib/accuracy.h); h1 over the
 *     one-step forecasts, h1-24 pooled over all (origin, horizon) pairs;
 *     cov80 = share of test buckets inside the one-step interval
 *     mean +- 1.2816 sd.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accuracy.h"
#include "error.h"
#include "eval_model.h"

const char cmd_eval_summary[] = "rolling-origin forecast accuracy of the models on a CSV series";

/* The models, in table order.  Add new models here (see eval_model.h). */
static const eval_model_ops_t *const models[] = {
    &eval_model_snaive,
    &eval_model_sarima,
    &eval_model_autoarima,
    &eval_model_lstm,
    &eval_model_ensemble,
    NULL,
};

#define Z80 1.2815515655446004

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tidecast eval FILE.csv [--bucket 1h] [--period M] [--horizon H]\n"
            "                     [--agg sum|mean] [--models a,b,...] [--csv OUT.csv]\n"
            "Reads timestamp,value rows, aggregates to buckets, fits each model on the\n"
            "first 70%% and forecasts the rest one step and H steps ahead (rolling origin,\n"
            "no refit).  Prints MASE, sMAPE, RMSE, R^2 and 80%% coverage per model.\n"
            "  --bucket W   bucket width: N[s|m|h|d] (default 1h)\n"
            "  --period M   seasonal period in buckets (default: one day of buckets, 24 for 1h)\n"
            "  --horizon H  path length and spacing (default 24)\n"
            "  --agg A      sum (empty bucket 0) or mean (empty = previous); default by file name\n"
            "  --models L   comma-separated subset of:");
    for (int i = 0; models[i]; i++)
        fprintf(f, " %s", models[i]->name);
    fprintf(f, "\n  --csv OUT    also write the results as CSV to OUT\n");
}

static long parse_width(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || v <= 0)
        return -1;
    switch (*end) {
    case '\0':
    case 's': return v;
    case 'm': return v * 60;
    case 'h': return v * 3600;
    case 'd': return v * 86400;
    default: return -1;
    }
}

bool eval_name_is_count(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return strstr(b, "Twitter_volume") || strstr(b, "nyc_taxi") || strstr(b, "elb_request_count");
}

/* Reads and buckets the file; *y is malloc'd (declared in eval_model.h). */
int eval_load_series(const char *path, long width, bool sum, double **y, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return TC_EIO;
    size_t cap = 1024, cnt = 0;
    long long *ts = malloc(sizeof(*ts) * cap);
    double *vs = malloc(sizeof(*vs) * cap);
    char line[512];
    int rc = 0;
    if (!ts || !vs) {
        rc = TC_ENOMEM;
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        char *rest = strptime(line, "%Y-%m-%d %H:%M:%S", &tm);
        if (!rest || *rest != ',')
            continue; /* header or malformed row */
        char *end;
        double v = strtod(rest + 1, &end);
        if (end == rest + 1)
            continue;
        if (cnt == cap) {
            cap *= 2;
            long long *t2 = realloc(ts, sizeof(*ts) * cap);
            if (t2)
                ts = t2;
            double *v2 = realloc(vs, sizeof(*vs) * cap);
            if (v2)
                vs = v2;
            if (!t2 || !v2) {
                rc = TC_ENOMEM;
                goto out;
            }
        }
        ts[cnt] = (long long)timegm(&tm);
        vs[cnt] = v;
        cnt++;
    }
    if (cnt == 0) {
        rc = TC_EPARSE;
        goto out;
    }
    long long lo = ts[0], hi = ts[0];
    for (size_t i = 1; i < cnt; i++) {
        lo = ts[i] < lo ? ts[i] : lo;
        hi = ts[i] > hi ? ts[i] : hi;
    }
    long long b0 = lo / width - (lo % width < 0), b1 = hi / width - (hi % width < 0);
    size_t nb = (size_t)(b1 - b0 + 1);
    double *acc = calloc(nb, sizeof(double));
    size_t *num = calloc(nb, sizeof(size_t));
    if (!acc || !num) {
        free(acc);
        free(num);
        rc = TC_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cnt; i++) {
        long long b = ts[i] / width - (ts[i] % width < 0) - b0;
        acc[b] += vs[i];
        num[b]++;
    }
    for (size_t b = 0; b < nb; b++) {
        if (num[b])
            acc[b] = sum ? acc[b] : acc[b] / (double)num[b];
        else
            acc[b] = sum ? 0.0 : (b ? acc[b - 1] : NAN);
    }
    free(num);
    *y = acc;
    *n = nb;
out:
    fclose(f);
    free(ts);
    free(vs);
    return rc;
}

typedef struct result {
    tc_accuracy_report_t h1, hh;
    double fit_s;
    int rc;
} result_t;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int run_model(const eval_model_ops_t *mo, const double *y, size_t n, size_t ntrain,
                     int m, int H, double Q, result_t *res)
{
    void *ctx = NULL;
    double mean[512], var[512];
    tc_accuracy_t a1, ah;
    tc_accuracy_init(&a1, Q, 1.0);
    tc_accuracy_init(&ah, Q, 1.0);
    double t0 = now_s();
    int rc = mo->fit(y, ntrain, m, &ctx);
    res->fit_s = now_s() - t0;
    for (size_t t = ntrain; t < n && !rc; t++) {
        if ((t - ntrain) % (size_t)H == 0 && t + (size_t)H <= n) {
            rc = mo->forecast(ctx, H, mean, var);
            for (int k = 0; k < H && !rc; k++)
                tc_accuracy_add(&ah, y[t + (size_t)k], mean[k]);
        }
        if (!rc)
            rc = mo->forecast(ctx, 1, mean, var);
        if (!rc) {
            double sd = sqrt(var[0]);
            tc_accuracy_add_interval(&a1, y[t], mean[0], mean[0] - Z80 * sd, mean[0] + Z80 * sd);
            rc = mo->update(ctx, y[t]);
        }
    }
    if (ctx)
        mo->free(ctx);
    tc_accuracy_get(&a1, &res->h1);
    tc_accuracy_get(&ah, &res->hh);
    res->rc = rc;
    return rc;
}

static bool selected(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t ln = strlen(name);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == ln && strncmp(p, name, len) == 0)
            return true;
        p += len + (c ? 1 : 0);
    }
    return false;
}

static void print_csv(FILE *f, const char *file, const eval_model_ops_t *mo, const result_t *r,
                      size_t n, size_t ntrain)
{
    fprintf(f, "%s,%s,%zu,%zu,%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%s\n", file,
            mo->name, n, ntrain, n - ntrain, r->h1.mase, r->hh.mase, r->h1.smape, r->hh.smape,
            r->h1.rmse, r->hh.rmse, r->h1.r2, r->hh.r2, r->h1.coverage, r->fit_s,
            r->rc ? tc_errname(r->rc) : "ok");
}

static const char csv_header[] =
    "file,model,n,n_train,n_test,mase_h1,mase_h24,smape_h1,smape_h24,rmse_h1,rmse_h24,"
    "r2_h1,r2_h24,cov80_h1,fit_s,status\n";

int cmd_eval(int argc, char **argv)
{
    const char *file = NULL, *list = NULL, *csv = NULL, *agg = NULL;
    long width = 3600;
    int period = 0, H = 24;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--bucket") && v) {
            width = parse_width(v);
            i++;
        } else if (!strcmp(a, "--period") && v) {
            period = atoi(v);
            i++;
        } else if (!strcmp(a, "--horizon") && v) {
            H = atoi(v);
            i++;
        } else if (!strcmp(a, "--agg") && v) {
            agg = v;
            i++;
        } else if (!strcmp(a, "--models") && v) {
            list = v;
            i++;
        } else if (!strcmp(a, "--csv") && v) {
            csv = v;
            i++;
        } else if (a[0] != '-' && !file) {
            file = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!file || width <= 0 || H < 1 || H > 512 || period < 0 ||
        (agg && strcmp(agg, "sum") && strcmp(agg, "mean"))) {
        usage(stderr);
        return 2;
    }
    if (period == 0)
        period = width < 86400 && 86400 % width == 0 ? (int)(86400 / width) : 7;
    for (int i = 0; list && models[i]; i++)
        (void)0;
    bool sum = agg ? !strcmp(agg, "sum") : eval_name_is_count(file);
    double *y = NULL;
    size_t n = 0;
    int rc = eval_load_series(file, width, sum, &y, &n);
    if (rc) {
        fprintf(stderr, "tidecast eval: %s: %s\n", file, tc_strerror(rc));
        return 1;
    }
    size_t ntrain = (size_t)floor(0.7 * (double)n);
    if (ntrain <= (size_t)period || n - ntrain < 1) {
        fprintf(stderr, "tidecast eval: %s: too few buckets (%zu)\n", file, n);
        free(y);
        return 1;
    }
    double Q = tc_accuracy_mase_scale(y, ntrain, period);
    FILE *cf = NULL;
    if (csv && !(cf = fopen(csv, "w"))) {
        fprintf(stderr, "tidecast eval: cannot write %s\n", csv);
        free(y);
        return 1;
    }
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    printf("%s: %zu buckets of %lds (%s), train %zu, test %zu, period %d, Q = %.6g\n", base, n,
           width, sum ? "sum" : "mean", ntrain, n - ntrain, period, Q);
    printf("%-22s %8s %9s %8s %9s %11s %11s %7s %6s %8s\n", "model", "MASE h1", "MASE h24",
           "sMAPE h1", "sMAPE h24", "RMSE h1", "RMSE h24", "R2 h1", "cov80", "fit s");
    result_t res[16];
    const eval_model_ops_t *ran[16];
    int nr = 0;
    for (int i = 0; models[i] && nr < 16; i++) {
        if (!selected(list, models[i]->name))
            continue;
        result_t *r = &res[nr];
        ran[nr++] = models[i];
        run_model(models[i], y, n, ntrain, period, H, Q, r);
        if (r->rc)
            printf("%-22s error: %s\n", models[i]->label, tc_strerror(r->rc));
        else
            printf("%-22s %8.3f %9.3f %8.1f %9.1f %11.4g %11.4g %7.3f %6.3f %8.2f\n",
                   models[i]->label, r->h1.mase, r->hh.mase, r->h1.smape, r->hh.smape,
                   r->h1.rmse, r->hh.rmse, r->h1.r2, r->h1.coverage, r->fit_s);
        fflush(stdout);
    }
    printf("\n%s", csv_header);
    if (cf)
        fputs(csv_header, cf);
    for (int i = 0; i < nr; i++) {
        print_csv(stdout, base, ran[i], &res[i], n, ntrain);
        if (cf)
            print_csv(cf, base, ran[i], &res[i], n, ntrain);
    }
    if (cf)
        fclose(cf);
    free(y);
    int bad = 0;
    for (int i = 0; i < nr; i++)
        bad |= res[i].rc != 0;
    return nr == 0 ? 2 : bad;
}
