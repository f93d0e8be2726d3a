/*
 * pipeline - end-to-end throughput of lib/pipeline from an in-memory buffer
 * of real events, one thread: decode -> key -> window -> engines -> a
 * counting sink. The in-memory comparison point for the Kafka benchmarks.
 *
 * Corpus: the NASA-HTTP day (data/weblog/nasa_19950801.tsv) as bare
 * protobuf TrafficEvents (site "ksc.nasa.gov", path = url, user_id = host),
 * replicated with each copy shifted by the day's span rounded up to a
 * minute until at least min_events (default 1,000,000). Keying site+path
 * depth 1 (one series per top-level directory), 1-minute buckets, 60 s
 * lateness. Configurations, each timed over the whole corpus (median of
 * `repeats`, default 3):
 *   window      no forecasting
 *   snaive      + seasonal naive (season 60), horizon 15, requests
 *   +sarima     + SARIMA(2,1,1) fitted after 120 buckets, Kalman updates
 *   +lstm       + global LSTM (hidden 32), batched per tick, and the ensemble
 *   +churn      + churn engine (visits of hosts, sweep every 10 min of event time)
 *   +autoscale  + autoscale signals on the published forecast
 * "engine us/bk" is the time beyond the window-only run divided by the
 * closed buckets: the engines work per closed bucket, not per event, so
 * events/s depends on how many events a bucket holds (here ~1-5 per series
 * and minute, a light load per series).
 *
 * Usage: pipeline [TSV] [min_events] [repeats]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "error.h"
#include "pipeline.h"

typedef struct corpus {
    uint8_t *pb;
    size_t pb_len, *off, n;
} corpus_t;

typedef struct counts {
    uint64_t buckets, forecasts, scales, alerts;
    double sum; /* keeps the sink's reads from being optimised away */
} counts_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_bucket(void *ctx, const tc_pipeline_bucket_t *b)
{
    counts_t *c = ctx;
    c->buckets++;
    c->sum += (double)b->b->requests;
    return 0;
}

static int on_forecast(void *ctx, const tc_pipeline_forecast_t *f)
{
    counts_t *c = ctx;
    c->forecasts++;
    c->sum += f->steps[0].mean;
    return 0;
}

static int on_scale(void *ctx, const tc_pipeline_scale_t *s)
{
    counts_t *c = ctx;
    c->scales++;
    c->sum += s->recommended_replicas;
    return 0;
}

static int on_alert(void *ctx, const tc_pipeline_churn_alert_t *a)
{
    counts_t *c = ctx;
    c->alerts++;
    c->sum += a->risk;
    return 0;
}

static int build(const char *path, size_t min_events, corpus_t *c)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[8192];
    char **rows = NULL;
    size_t n = 0, cap = 0;
    long long tmin = 0, tmax = 0;
    while (fgets(line, sizeof(line), f)) {
        char host[256];
        long long t;
        if (sscanf(line, "%255[^\t]\t%*[^\t]\t%lld", host, &t) != 2)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            rows = realloc(rows, cap * sizeof(*rows));
        }
        rows[n++] = strdup(line);
        if (n == 1 || t < tmin)
            tmin = t;
        if (t > tmax)
            tmax = t;
    }
    fclose(f);
    long long span = ((tmax - tmin) / 60 + 1) * 60;
    size_t copies = (min_events + n - 1) / n, pcap = 0;
    memset(c, 0, sizeof(*c));
    c->off = malloc((copies * n + 1) * sizeof(*c->off));
    for (size_t k = 0; k < copies; k++)
        for (size_t i = 0; i < n; i++) {
            char tmp[8192], *fl[9] = {0};
            snprintf(tmp, sizeof(tmp), "%s", rows[i]);
            tmp[strcspn(tmp, "\r\n")] = '\0';
            int nf = 0;
            fl[nf++] = tmp;
            for (char *p = tmp; *p && nf < 9; p++)
                if (*p == '\t') {
                    *p = '\0';
                    fl[nf++] = p + 1;
                }
            if (nf < 7)
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
            if (c->pb_len + 16384 > pcap) {
                pcap = pcap ? 2 * pcap : 1 << 20;
                c->pb = realloc(c->pb, pcap);
            }
            size_t len;
            if (tc_encode_pb(&ev, c->pb + c->pb_len, pcap - c->pb_len, &len))
                return -1;
            c->off[c->n++] = c->pb_len;
            c->pb_len += len;
        }
    c->off[c->n] = c->pb_len;
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "data/weblog/nasa_19950801.tsv";
    size_t min_events = argc > 2 ? (size_t)atoll(argv[2]) : 1000000;
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    corpus_t c;
    if (build(path, min_events, &c))
        return 1;
    printf("corpus: %zu protobuf TrafficEvents (%.1f MB), NASA-HTTP day replicated\n", c.n,
           (double)c.pb_len / 1e6);
    printf("%-11s %10s %9s %12s %7s %9s %10s %7s %7s %6s\n", "config", "events/s", "ns/event",
           "engine us/bk", "series", "buckets", "forecasts", "scales", "alerts", "late");
    double s_window = 0;
    for (int level = 0; level < 6; level++) {
        static const char *const names[] = {"window", "snaive", "+sarima", "+lstm", "+churn",
                                            "+autoscale"};
        tc_pipeline_config_t cfg;
        tc_pipeline_config_default(&cfg);
        cfg.decode.max_future_ms = -1;
        cfg.keying.mode = TC_SERIESKEY_SITE_PATH;
        cfg.keying.path_depth = 1;
        cfg.window.lateness_ms = 60000;
        if (level >= 1) {
            cfg.horizon = 15;
            cfg.season = 60;
        }
        if (level >= 2) {
            cfg.arima = true;
            cfg.arima_fit_after = 120;
        }
        if (level >= 3) {
            cfg.lstm = true;
            cfg.lstm_cfg.season = 60;
            cfg.lstm_cfg.max_series = 4096;
            cfg.lstm_cfg.max_batch = 4096;
        }
        if (level >= 4) {
            cfg.churn = true;
            cfg.churn_cfg.visit_gap_ms = 1800000;
            cfg.churn_sweep_every_ms = 600000;
            memcpy(cfg.churn_secret, "bench-secret-0123456789", 23);
            cfg.churn_secret_len = 23;
        }
        if (level >= 5) {
            cfg.autoscale.enabled = true;
            cfg.autoscale.metric = TC_METRIC_REQUESTS;
            cfg.autoscale.rule = (tc_autoscale_config_t){.capacity_per_replica = 20,
                                                         .min_replicas = 1,
                                                         .max_replicas = 100,
                                                         .down_margin = 0.2,
                                                         .cooldown_ms = 600000};
        }
        double secs[16];
        counts_t cnt = {0};
        tc_pipeline_stats_t st = {0};
        for (int r = 0; r < repeats && r < 16; r++) {
            memset(&cnt, 0, sizeof(cnt));
            tc_pipeline_sink_t sink = {.ctx = &cnt,
                                       .bucket = on_bucket,
                                       .forecast = on_forecast,
                                       .scale = on_scale,
                                       .churn_alert = on_alert};
            tc_pipeline_t *p;
            int rc = tc_pipeline_new(&cfg, &sink, &p);
            if (rc) {
                fprintf(stderr, "%s: %s\n", names[level], tc_strerror(rc));
                return 1;
            }
            double t0 = now_s();
            for (size_t i = 0; i < c.n; i++)
                tc_pipeline_feed_pb(p, TC_EVENT_TRAFFIC, c.pb + c.off[i], c.off[i + 1] - c.off[i]);
            tc_pipeline_flush(p);
            secs[r] = now_s() - t0;
            tc_pipeline_stats(p, &st);
            tc_pipeline_free(p);
        }
        qsort(secs, (size_t)repeats, sizeof(double), cmp_double);
        double s = secs[repeats / 2];
        if (level == 0)
            s_window = s;
        /* Engine cost per closed bucket: time beyond the window-only run. */
        double us_bk = level && cnt.buckets ? 1e6 * (s - s_window) / (double)cnt.buckets : 0;
        printf("%-11s %10.0f %9.1f %12.2f %7zu %9llu %10llu %7llu %7llu %6llu\n", names[level],
               (double)c.n / s, 1e9 * s / (double)c.n, us_bk, st.series,
               (unsigned long long)cnt.buckets, (unsigned long long)cnt.forecasts,
               (unsigned long long)cnt.scales, (unsigned long long)cnt.alerts,
               (unsigned long long)st.late);
        fflush(stdout);
    }
    free(c.pb);
    free(c.off);
    return 0;
}
