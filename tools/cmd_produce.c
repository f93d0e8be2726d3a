/*
 * cmd_produce.c - `tidecast produce`: replays an event file into Kafka.
 *
 * Reads an event file as `tidecast convert` writes it (NDJSON, or
 * length-delimited Envelopes), decodes every event, and produces it to the
 * topic of its kind (traffic, behavior, annotations) as a bare protobuf
 * message (or the JSON text with --json), keyed so that everything one
 * series or one user needs lands in one partition: traffic by site,
 * behavior by user id, annotations by target. Events that do not decode are
 * produced unchanged to the traffic topic with key "bad" (that is how tests
 * feed the dead-letter path). --rate limits events per second; --bad N
 * injects N undecodable messages spread over the run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "daemon/kafka.h"
#include "daemon/source.h"
#include "decode.h"
#include "error.h"

const char cmd_produce_summary[] = "replay an event file into Kafka topics";

typedef struct {
    tc_kafka_t *k;
    uv_loop_t *loop;
    tc_decoder_t *dec;
    bool json_out, json_in;
    const char *topic[4];
    uint64_t n, bad, bad_every, limit;
    unsigned sites;          /* > 0: rewrite site to <site>-<n mod sites> */
    int64_t shift;           /* added to event time (per repetition) */
    char site[256];
    FILE *out;               /* --out: write Envelope frames here instead */
    double rate;
    uint64_t t0;
    uint8_t buf[1 << 16];
} prod_t;

static void pace(prod_t *p)
{
    if ((p->n & 1023) == 0) {
        uv_run(p->loop, UV_RUN_NOWAIT);
        tc_kafka_service(p->k);
    }
    while (tc_kafka_backlog(p->k) > 2000000) {
        uv_run(p->loop, UV_RUN_NOWAIT);
        tc_kafka_service(p->k);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (p->rate <= 0)
        return;
    double due = (double)p->n / p->rate * 1e9;
    for (;;) {
        double el = (double)(uv_hrtime() - p->t0);
        if (el >= due)
            break;
        double w = due - el;
        struct timespec ts = {(time_t)(w / 1e9), (long)((uint64_t)w % 1000000000u)};
        if (w > 20e6)
            ts = (struct timespec){0, 20000000};
        nanosleep(&ts, NULL);
        uv_run(p->loop, UV_RUN_NOWAIT);
        tc_kafka_service(p->k);
    }
}

static int on_frame(void *ctx, const uint8_t *data, size_t len, uint64_t index, int status)
{
    (void)index;
    prod_t *p = ctx;
    if (p->limit && p->n >= p->limit)
        return 1;
    tc_event_t ev;
    int rc = status ? status
             : p->json_in ? tc_decode_json(p->dec, TC_EVENT_NONE, (const char *)data, len, &ev)
                          : tc_decode_envelope(p->dec, data, len, &ev);
    if (rc) {
        tc_kafka_produce(p->k, p->topic[TC_EVENT_TRAFFIC], "bad", 3, data, len, NULL, 0);
        p->n++;
        return 0;
    }
    ev.time_ms += p->shift;
    if (p->sites && ev.kind != TC_EVENT_ANNOTATION) {
        int sl = snprintf(p->site, sizeof(p->site), "%.*s-%u", (int)ev.site.len, ev.site.ptr,
                          (unsigned)(p->n % p->sites));
        ev.site.ptr = p->site;
        ev.site.len = (size_t)sl;
    }
    const tc_str_t *key = ev.kind == TC_EVENT_BEHAVIOR ? &ev.user_id
                          : ev.kind == TC_EVENT_ANNOTATION ? &ev.annotation.target : &ev.site;
    size_t vlen = 0;
    if (p->out) {
        rc = tc_encode_envelope(&ev, p->buf, sizeof(p->buf), &vlen);
        if (rc == 0 && fwrite(p->buf, 1, vlen, p->out) != vlen)
            return TC_EIO;
        p->n++;
        return 0; /* an event that cannot be encoded is skipped */
    }
    if (p->json_out)
        rc = tc_encode_json(&ev, (char *)p->buf, sizeof(p->buf), &vlen);
    else
        rc = tc_encode_pb(&ev, p->buf, sizeof(p->buf), &vlen);
    if (rc) {
        fprintf(stderr, "tidecast produce: cannot encode event %llu: %s\n",
                (unsigned long long)index, tc_strerror(rc));
        return 0;
    }
    const char *topic = p->topic[ev.kind];
    if (topic && *topic)
        tc_kafka_produce(p->k, topic, key->ptr, key->len, p->buf, vlen, NULL, 0);
    p->n++;
    if (p->bad_every && p->n % p->bad_every == 0) {
        static const char junk[] = "\x0a\xff\xff\xff\xff not an event";
        tc_kafka_produce(p->k, p->topic[TC_EVENT_TRAFFIC], "bad", 3, junk, sizeof(junk) - 1,
                         NULL, 0);
        p->bad++;
    }
    pace(p);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tidecast produce --brokers HOST:PORT [options] FILE\n"
            "  -b, --brokers B        bootstrap servers\n"
            "  -f, --format F         file framing: protobuf (default) or ndjson\n"
            "      --json             produce JSON messages instead of bare protobuf\n"
            "      --traffic T        topic of traffic events (default traffic)\n"
            "      --behavior T       topic of behavior events (default behavior)\n"
            "      --annotations T    topic of annotations (default annotations)\n"
            "  -r, --rate N           events per second (default: as fast as possible)\n"
            "  -n, --limit N          stop after N events\n"
            "      --bad N            also produce N undecodable messages, spread evenly\n"
            "      --repeat N         replay the file N times, event times shifted by\n"
            "      --shift MS         MS more at each repetition (default 1 day)\n"
            "      --sites N          spread events over N sites <site>-0..N-1 (bench data)\n"
            "  -o, --out FILE         write the (transformed) events to FILE as length-\n"
            "                         delimited Envelopes instead of producing them\n"
            "  -X KEY=VALUE           librdkafka producer property\n");
}

int cmd_produce(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"format", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},          {"traffic", required_argument, NULL, 1},
        {"behavior", required_argument, NULL, 2},  {"annotations", required_argument, NULL, 3},
        {"rate", required_argument, NULL, 'r'},    {"limit", required_argument, NULL, 'n'},
        {"bad", required_argument, NULL, 4},       {"help", no_argument, NULL, 'h'},
        {"repeat", required_argument, NULL, 5},    {"shift", required_argument, NULL, 6},
        {"sites", required_argument, NULL, 7},     {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    prod_t *p = calloc(1, sizeof(*p));
    const char *brokers = NULL;
    const char *props[64];
    size_t nprops = 0;
    uint64_t nbad = 0;
    const char *outpath = NULL;
    unsigned long repeat = 1;
    int64_t shift = 86400000;
    int opt, rc = 1;
    p->topic[TC_EVENT_TRAFFIC] = "traffic";
    p->topic[TC_EVENT_BEHAVIOR] = "behavior";
    p->topic[TC_EVENT_ANNOTATION] = "annotations";
    optind = 1;
    while ((opt = getopt_long(argc, argv, "b:f:jr:n:X:ho:", opts, NULL)) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 'f': p->json_in = !strcmp(optarg, "ndjson"); break;
        case 'j': p->json_out = true; break;
        case 1: p->topic[TC_EVENT_TRAFFIC] = optarg; break;
        case 2: p->topic[TC_EVENT_BEHAVIOR] = optarg; break;
        case 3: p->topic[TC_EVENT_ANNOTATION] = optarg; break;
        case 'r': p->rate = atof(optarg); break;
        case 'n': p->limit = strtoull(optarg, NULL, 10); break;
        case 4: nbad = strtoull(optarg, NULL, 10); break;
        case 5: repeat = strtoul(optarg, NULL, 10); break;
        case 6: shift = strtoll(optarg, NULL, 10); break;
        case 'o': outpath = optarg; break;
        case 7: p->sites = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq || nprops + 2 > 64) {
                usage(stderr);
                free(p);
                return 2;
            }
            *eq = 0;
            props[nprops++] = optarg;
            props[nprops++] = eq + 1;
            break;
        }
        case 'h': usage(stdout); free(p); return 0;
        default: usage(stderr); free(p); return 2;
        }
    }
    if ((!brokers && !outpath) || optind + 1 != argc) {
        usage(stderr);
        free(p);
        return 2;
    }
    const char *path = argv[optind];
    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in) {
        perror(path);
        free(p);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512];
    tc_kafka_conf_t kc = {.brokers = brokers, .props = props, .nprops = nprops / 2};
    tc_kafka_hooks_t kh = {0};
    p->loop = &loop;
    if (outpath) {
        p->out = fopen(outpath, "wb");
        if (!p->out) {
            perror(outpath);
            goto out;
        }
        /* The producer is still created (unused) to keep one code path. */
        kc.brokers = "127.0.0.1:1";
    }
    p->k = tc_kafka_new(&loop, &kc, &kh, err, sizeof(err));
    p->dec = tc_decoder_new(NULL);
    tc_framer_t fr;
    if (!p->k || !p->dec || tc_framer_init(&fr, p->json_in ? TC_FRAMING_NDJSON : TC_FRAMING_PROTOBUF, 1 << 16)) {
        fprintf(stderr, "tidecast produce: %s\n", p->k ? "out of memory" : err);
        goto out;
    }
    if (nbad) {
        /* Spread the bad messages: count the file's frames first. */
        fseek(in, 0, SEEK_END);
        long size = ftell(in);
        rewind(in);
        uint64_t approx = size > 0 ? (uint64_t)size / 40 : 1000;
        p->bad_every = approx / nbad ? approx / nbad : 1;
    }
    p->t0 = uv_hrtime();
    static uint8_t chunk[1 << 16];
    size_t got;
    int frc = 0;
    for (unsigned long r = 0; r < (repeat ? repeat : 1) && !frc; r++) {
        if (r) {
            if (in == stdin)
                break;
            rewind(in);
            tc_framer_deinit(&fr);
            tc_framer_init(&fr, p->json_in ? TC_FRAMING_NDJSON : TC_FRAMING_PROTOBUF, 1 << 16);
        }
        p->shift = (int64_t)r * shift;
        while (!frc && (got = fread(chunk, 1, sizeof(chunk), in)) > 0)
            frc = tc_framer_push(&fr, chunk, got, on_frame, p);
        if (!frc)
            frc = tc_framer_finish(&fr, on_frame, p);
    }
    tc_framer_deinit(&fr);
    /* Whatever was not spread yet. */
    static const char junk[] = "\x0a\xff\xff\xff\xff not an event";
    while (p->bad < nbad) {
        tc_kafka_produce(p->k, p->topic[TC_EVENT_TRAFFIC], "bad", 3, junk, sizeof(junk) - 1, NULL, 0);
        p->bad++;
    }
    if (p->out) {
        rc = fclose(p->out) ? 1 : 0;
        p->out = NULL;
        fprintf(stderr, "tidecast produce: %llu events written to %s\n", (unsigned long long)p->n,
                outpath);
        goto out;
    }
    rc = tc_kafka_flush(p->k, 120000) ? 1 : 0;
    tc_kafka_stats_t st;
    tc_kafka_stats(p->k, &st);
    double secs = (double)(uv_hrtime() - p->t0) / 1e9;
    fprintf(stderr, "tidecast produce: %llu events, %llu bad, %llu delivered, %.2f s, %.0f msgs/s\n",
            (unsigned long long)p->n, (unsigned long long)p->bad,
            (unsigned long long)st.delivered, secs, (double)st.delivered / (secs > 0 ? secs : 1));
    if (st.delivery_failed)
        rc = 1;
out:
    if (p->k) {
        tc_kafka_close(p->k, 1000);
        uv_run(&loop, UV_RUN_NOWAIT);
        tc_kafka_free(p->k);
    }
    tc_decoder_free(p->dec);
    uv_loop_close(&loop);
    if (in != stdin)
        fclose(in);
    free(p);
    return rc;
}
