/*
 * Tests of daemon/http.c, daemon/endpoints.c and daemon/metrics.c.
 *
 * The server runs on the test's own libuv loop on a free loopback port; a
 * client thread talks to it with plain blocking sockets and records the raw
 * bytes it receives, which the test parses independently afterwards
 * (status line, Content-Length, JSON bodies with jansson, the Prometheus
 * text format with a small parser written here from the format's grammar).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "daemon/endpoints.h"
#include "daemon/http.h"
#include "daemon/metrics.h"
#include "error.h"
#include "tests/test.h"

/* ---- client side (runs on its own thread) ---- */

#define MAXGOT 65536
#define MAXEX 8

/* One connection: bytes sent, bytes received until EOF or nresp answers. */
typedef struct exch {
    const char *send;
    size_t len;       /* 0: strlen(send) */
    int trickle_ms;   /* > 0: one byte at a time, waiting this long between */
    int nresp;        /* stop reading after this many complete responses; 0: EOF */
    char got[MAXGOT];
    size_t gotlen;
    bool eof;         /* the server closed (EOF or reset) */
    bool connected;
} exch_t;

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Number of complete responses at the start of buf (Content-Length framed). */
static int complete_responses(const char *buf, size_t len)
{
    int n = 0;
    size_t off = 0;
    for (;;) {
        const char *end = memmem(buf + off, len - off, "\r\n\r\n", 4);
        if (!end)
            return n;
        size_t head = (size_t)(end - (buf + off)) + 4;
        const char *cl = memmem(buf + off, head, "Content-Length: ", 16);
        size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
        if (off + head + body > len)
            return n;
        off += head + body;
        n++;
    }
}

/* Reads what is available within ms; returns false at EOF or error. */
static bool read_some(int fd, exch_t *e, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return true;
    ssize_t n = recv(fd, e->got + e->gotlen, MAXGOT - 1 - e->gotlen, 0);
    if (n <= 0) {
        e->eof = true;
        return false;
    }
    e->gotlen += (size_t)n;
    e->got[e->gotlen] = '\0';
    return e->gotlen < MAXGOT - 1;
}

static bool done_reading(const exch_t *e)
{
    return e->eof || (e->nresp && complete_responses(e->got, e->gotlen) >= e->nresp);
}

/* Sends e->send and reads the answer (at most 20 s without progress). */
static void run_exchange(int fd, exch_t *e)
{
    size_t len = e->len ? e->len : strlen(e->send);
    e->connected = fd >= 0;
    if (fd < 0)
        return;
    if (e->trickle_ms > 0) {
        for (size_t i = 0; i < len && !done_reading(e); i++) {
            if (send(fd, e->send + i, 1, MSG_NOSIGNAL) != 1)
                break;
            if (!read_some(fd, e, e->trickle_ms))
                break;
        }
    } else {
        size_t off = 0;
        while (off < len) {
            ssize_t n = send(fd, e->send + off, len - off, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    for (int idle = 0; !done_reading(e) && idle < 200;) {
        size_t before = e->gotlen;
        if (!read_some(fd, e, 100))
            break;
        idle = e->gotlen == before ? idle + 1 : 0;
    }
}

typedef struct client {
    uv_async_t done;
    pthread_t th;
    int port;
    exch_t *ex;
    size_t nex;
    bool parallel; /* open every connection first, then run the exchanges */
    tc_http_t *srv;
} client_t;

static void *client_main(void *arg)
{
    client_t *c = arg;
    if (c->parallel) {
        int fds[MAXEX];
        for (size_t i = 0; i < c->nex; i++)
            fds[i] = connect_port(c->port);
        /* Give the server time to accept (and refuse) them all. */
        usleep(300 * 1000);
        for (size_t i = 0; i < c->nex; i++) {
            run_exchange(fds[i], &c->ex[i]);
            if (fds[i] >= 0)
                close(fds[i]);
        }
    } else {
        for (size_t i = 0; i < c->nex; i++) {
            int fd = connect_port(c->port);
            run_exchange(fd, &c->ex[i]);
            if (fd >= 0)
                close(fd);
        }
    }
    uv_async_send(&c->done);
    return NULL;
}

static void on_client_done(uv_async_t *a)
{
    client_t *c = a->data;
    tc_http_free(c->srv);
    uv_close((uv_handle_t *)a, NULL);
}

/*
 * Runs the exchanges against srv (already routed) on a fresh loop; returns
 * 0 or a negative code. Every handle is closed when it returns.
 */
static int run_client(uv_loop_t *loop, tc_http_t *srv, exch_t *ex, size_t nex, bool parallel)
{
    char err[256];
    int rc = tc_http_listen(srv, "127.0.0.1:0", err, sizeof(err));
    if (rc) {
        fprintf(stderr, "listen: %s\n", err);
        tc_http_free(srv);
        uv_run(loop, UV_RUN_DEFAULT);
        return rc;
    }
    static client_t c;
    memset(&c, 0, sizeof(c));
    c.port = tc_http_port(srv);
    c.ex = ex;
    c.nex = nex;
    c.parallel = parallel;
    c.srv = srv;
    uv_async_init(loop, &c.done, on_client_done);
    c.done.data = &c;
    if (pthread_create(&c.th, NULL, client_main, &c))
        return TC_EIO;
    uv_run(loop, UV_RUN_DEFAULT);
    pthread_join(c.th, NULL);
    return 0;
}

/* Status of the k-th response in buf (0 if absent); body into *body. */
static int nth_response(const char *buf, size_t len, int k, const char **body, size_t *blen,
                        char *head_out, size_t head_size)
{
    size_t off = 0;
    for (int i = 0;; i++) {
        const char *end = memmem(buf + off, len - off, "\r\n\r\n", 4);
        if (!end)
            return 0;
        size_t head = (size_t)(end - (buf + off)) + 4;
        const char *cl = memmem(buf + off, head, "Content-Length: ", 16);
        size_t bl = cl ? strtoul(cl + 16, NULL, 10) : 0;
        if (off + head + bl > len)
            return 0;
        if (i == k) {
            int status = 0;
            if (sscanf(buf + off, "HTTP/1.1 %d ", &status) != 1)
                return 0;
            if (body)
                *body = buf + off + head;
            if (blen)
                *blen = bl;
            if (head_out) {
                size_t n = head < head_size ? head : head_size - 1;
                memcpy(head_out, buf + off, n);
                head_out[n] = '\0';
            }
            return status;
        }
        off += head + bl;
    }
}

static int status_of(const exch_t *e)
{
    return nth_response(e->got, e->gotlen, 0, NULL, NULL, NULL, 0);
}

/* ---- a daemon stand-in supplying the hooks ---- */

typedef struct fake {
    bool ready;
    const char *keys[3];
} fake_t;

static bool fake_ready(void *ctx, char *why, size_t n)
{
    fake_t *f = ctx;
    if (!f->ready)
        snprintf(why, n, "kafka: not connected \"yet\"");
    return f->ready;
}

static int fake_series(void *ctx, tc_endpoints_emit_fn emit, void *ectx)
{
    fake_t *f = ctx;
    for (int i = 0; i < 3 && f->keys[i]; i++)
        emit(ectx, f->keys[i], strlen(f->keys[i]));
    return 0;
}

static int fake_forecast(void *ctx, const char *series, tc_http_response_t *res)
{
    (void)ctx;
    if (strcmp(series, "site a/b"))
        return TC_ENOTFOUND;
    tc_http_response_printf(res, "{\"series\":");
    tc_http_response_json_string(res, series);
    tc_http_response_printf(res, ",\"mean\":[1.5,2.5]}");
    return 0;
}

static int fake_churn_fails(void *ctx, const char *user, tc_http_response_t *res)
{
    (void)ctx;
    (void)user;
    (void)res;
    return TC_EIO;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

TC_TEST(http_routes_and_json_api)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_t f = {.ready = false, .keys = {"nasa", "we\"ird\\key", NULL}};
    tc_endpoints_hooks_t hooks = {.ctx = &f,
                                  .ready = fake_ready,
                                  .series = fake_series,
                                  .forecast = fake_forecast,
                                  .churn = fake_churn_fails};
    tc_metrics_t *m = tc_metrics_new();
    CHECK(m);
    tc_http_t *srv = tc_http_new(&loop, NULL);
    CHECK(srv);
    tc_endpoints_t ep;
    CHECK_OK(tc_endpoints_init(&ep, srv, m, &hooks));
    static exch_t ex[8];
    memset(ex, 0, sizeof(ex));
    ex[0] = (exch_t){.send = GET("/healthz"), .nresp = 1};
    ex[1] = (exch_t){.send = GET("/readyz"), .nresp = 1};
    ex[2] = (exch_t){.send = GET("/v1/series"), .nresp = 1};
    /* Three pipelined requests on one keep-alive connection. */
    ex[3] = (exch_t){.send = GET("/v1/forecast?series=site+a%2Fb") GET("/v1/forecast?series=x")
                         GET("/v1/forecast?other=1"),
                     .nresp = 3};
    ex[4] = (exch_t){.send = GET("/nowhere"), .nresp = 1};
    ex[5] = (exch_t){.send = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"};
    ex[6] = (exch_t){.send = "GET /healthz HTTP/1.0\r\n\r\n"}; /* closes after the answer */
    ex[7] = (exch_t){.send = GET("/v1/churn?user=abc"), .nresp = 1};
    CHECK_OK(run_client(&loop, srv, ex, 8, false));

    const char *body;
    size_t blen;
    char head[1024];
    CHECK_INT_EQ(nth_response(ex[0].got, ex[0].gotlen, 0, &body, &blen, NULL, 0), 200);
    CHECK_INT_EQ(blen, 3);
    CHECK(!memcmp(body, "ok\n", 3));

    CHECK_INT_EQ(nth_response(ex[1].got, ex[1].gotlen, 0, &body, &blen, head, sizeof(head)), 503);
    CHECK(strstr(head, "Content-Type: application/json\r\n"));
    json_error_t je;
    json_t *j = json_loadb(body, blen, 0, &je);
    CHECK_MSG(j, "readyz body is not JSON: %s", je.text);
    CHECK(json_is_false(json_object_get(j, "ready")));
    CHECK_STR_EQ(json_string_value(json_object_get(j, "reason")), "kafka: not connected \"yet\"");
    json_decref(j);

    CHECK_INT_EQ(nth_response(ex[2].got, ex[2].gotlen, 0, &body, &blen, NULL, 0), 200);
    j = json_loadb(body, blen, 0, &je);
    CHECK_MSG(j, "series body is not JSON: %s", je.text);
    json_t *arr = json_object_get(j, "series");
    CHECK_INT_EQ(json_array_size(arr), 2);
    CHECK_STR_EQ(json_string_value(json_array_get(arr, 0)), "nasa");
    CHECK_STR_EQ(json_string_value(json_array_get(arr, 1)), "we\"ird\\key");
    json_decref(j);

    CHECK_INT_EQ(nth_response(ex[3].got, ex[3].gotlen, 0, &body, &blen, NULL, 0), 200);
    j = json_loadb(body, blen, 0, &je);
    CHECK_MSG(j, "forecast body is not JSON: %s", je.text);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "series")), "site a/b");
    CHECK_NEAR(json_real_value(json_array_get(json_object_get(j, "mean"), 1)), 2.5, 0);
    json_decref(j);
    CHECK_INT_EQ(nth_response(ex[3].got, ex[3].gotlen, 1, NULL, NULL, NULL, 0), 404);
    CHECK_INT_EQ(nth_response(ex[3].got, ex[3].gotlen, 2, &body, &blen, NULL, 0), 400);
    j = json_loadb(body, blen, 0, &je);
    CHECK_MSG(j, "400 body is not JSON: %s", je.text);
    json_decref(j);

    CHECK_INT_EQ(status_of(&ex[4]), 404);
    CHECK_INT_EQ(nth_response(ex[5].got, ex[5].gotlen, 0, NULL, NULL, head, sizeof(head)), 405);
    CHECK(strstr(head, "Allow: GET\r\n"));
    CHECK(ex[5].eof);
    CHECK_INT_EQ(status_of(&ex[6]), 200);
    CHECK(ex[6].eof);
    CHECK_INT_EQ(status_of(&ex[7]), 500);

    tc_metrics_free(m);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(http_malformed_requests)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_http_config_t cfg;
    tc_http_config_default(&cfg);
    cfg.max_request = 1024;
    tc_http_t *srv = tc_http_new(&loop, &cfg);
    tc_endpoints_t ep;
    CHECK_OK(tc_endpoints_init(&ep, srv, NULL, NULL));
    static char big[4096];
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /healthz HTTP/1.1\r\nX-Pad: ", 30);
    static char nul[] = "GET /healthz HTTP/1.1\r\nHost: t\0x\r\n\r\n";
    static exch_t ex[8];
    memset(ex, 0, sizeof(ex));
    ex[0] = (exch_t){.send = "\x01\x02\xff garbage \x7f\r\n\r\n"};
    ex[1] = (exch_t){.send = "GET /healthz HTTP/1.1\r\n\r\n"}; /* no Host */
    ex[2] = (exch_t){.send = big, .len = sizeof(big)};             /* head too large */
    ex[3] = (exch_t){.send = "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"};
    ex[4] = (exch_t){.send = "GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n"};
    ex[5] = (exch_t){.send = nul, .len = sizeof(nul) - 1};
    ex[6] = (exch_t){.send = "GET  /healthz HTTP/1.1\r\nHost: t\r\n\r\n"};
    /* The server still answers after all of the above. */
    ex[7] = (exch_t){.send = GET("/healthz"), .nresp = 1};
    CHECK_OK(run_client(&loop, srv, ex, 8, false));
    CHECK_INT_EQ(status_of(&ex[0]), 400);
    CHECK_INT_EQ(status_of(&ex[1]), 400);
    CHECK_INT_EQ(status_of(&ex[2]), 413);
    CHECK_INT_EQ(status_of(&ex[3]), 400);
    CHECK_INT_EQ(status_of(&ex[4]), 400);
    CHECK_INT_EQ(status_of(&ex[5]), 400);
    CHECK_INT_EQ(status_of(&ex[6]), 400);
    for (int i = 0; i < 7; i++)
        CHECK_MSG(ex[i].eof, "connection %d not closed after an error", i);
    CHECK_INT_EQ(status_of(&ex[7]), 200);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(http_random_bytes_never_crash)
{
    /* Random heads (with a terminator so that they are parsed) all get an
     * error status and the connection closed; the server survives. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_http_t *srv = tc_http_new(&loop, NULL);
    tc_endpoints_t ep;
    CHECK_OK(tc_endpoints_init(&ep, srv, NULL, NULL));
    enum { N = 8 };
    static char bufs[N - 1][300];
    static exch_t ex[N];
    memset(ex, 0, sizeof(ex));
    unsigned seed = 12345;
    for (int i = 0; i < N - 1; i++) {
        size_t n = 20 + (size_t)(rand_r(&seed) % 250);
        for (size_t k = 0; k < n; k++)
            bufs[i][k] = (char)(rand_r(&seed) & 0xff);
        if (i % 2) /* half of them start like a real request */
            memcpy(bufs[i], "GET /healthz HTTP/1.1\r\n", 23);
        memcpy(bufs[i] + n, "\r\n\r\n", 4);
        ex[i] = (exch_t){.send = bufs[i], .len = n + 4};
    }
    ex[N - 1] = (exch_t){.send = GET("/healthz"), .nresp = 1};
    CHECK_OK(run_client(&loop, srv, ex, N, false));
    for (int i = 0; i < N - 1; i++) {
        int s = status_of(&ex[i]);
        CHECK_MSG(s == 400 || s == 404 || s == 405, "random head %d got status %d", i, s);
    }
    CHECK_INT_EQ(status_of(&ex[N - 1]), 200);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(http_slowloris_is_cut_off)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_http_config_t cfg;
    tc_http_config_default(&cfg);
    cfg.request_timeout_ms = 300;
    tc_http_t *srv = tc_http_new(&loop, &cfg);
    tc_endpoints_t ep;
    CHECK_OK(tc_endpoints_init(&ep, srv, NULL, NULL));
    /* 200 bytes, one per 100 ms: 20 s if the server waited for all of them. */
    static char slow[256];
    snprintf(slow, sizeof(slow), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: %0160d\r\n\r\n", 0);
    static exch_t ex[3];
    memset(ex, 0, sizeof(ex));
    ex[0] = (exch_t){.send = slow, .trickle_ms = 100};
    ex[1] = (exch_t){.send = ""}; /* connects, sends nothing: closed when idle */
    ex[2] = (exch_t){.send = GET("/healthz"), .nresp = 1};
    CHECK_OK(run_client(&loop, srv, ex, 3, false));
    CHECK_INT_EQ(status_of(&ex[0]), 408);
    CHECK(ex[0].eof);
    CHECK(ex[1].eof);
    CHECK_INT_EQ(ex[1].gotlen, 0);
    CHECK_INT_EQ(status_of(&ex[2]), 200);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(http_connection_limit)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_http_config_t cfg;
    tc_http_config_default(&cfg);
    cfg.max_connections = 2;
    tc_http_t *srv = tc_http_new(&loop, &cfg);
    tc_endpoints_t ep;
    CHECK_OK(tc_endpoints_init(&ep, srv, NULL, NULL));
    static exch_t ex[3];
    memset(ex, 0, sizeof(ex));
    for (int i = 0; i < 3; i++)
        ex[i] = (exch_t){.send = GET("/healthz"), .nresp = 1};
    CHECK_OK(run_client(&loop, srv, ex, 3, true));
    CHECK_INT_EQ(status_of(&ex[0]), 200);
    CHECK_INT_EQ(status_of(&ex[1]), 200);
    CHECK_INT_EQ(status_of(&ex[2]), 0);
    CHECK(ex[2].eof);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

TC_TEST(http_query_param_decoding)
{
    char b[16];
    CHECK_OK(tc_http_query_param("a=1&series=x%2Fy+z&b", "series", b, sizeof(b)));
    CHECK_STR_EQ(b, "x/y z");
    CHECK_OK(tc_http_query_param("a=1&b", "b", b, sizeof(b)));
    CHECK_STR_EQ(b, "");
    CHECK_INT_EQ(tc_http_query_param("ab=1", "a", b, sizeof(b)), TC_ENOTFOUND);
    CHECK_INT_EQ(tc_http_query_param("a=%4", "a", b, sizeof(b)), TC_EPARSE);
    CHECK_INT_EQ(tc_http_query_param("a=%zz", "a", b, sizeof(b)), TC_EPARSE);
    CHECK_INT_EQ(tc_http_query_param("a=%00", "a", b, sizeof(b)), TC_EPARSE);
    CHECK_INT_EQ(tc_http_query_param("a=0123456789abcdef", "a", b, sizeof(b)), TC_EOVERSIZED);
}

/* ---- Prometheus text format, parsed back ---- */

typedef struct parsed {
    char name[64];
    char labels[4][2][64]; /* unescaped (name, value) */
    int nlabels;
    double value;
    char type[16];
} parsed_t;

/*
 * Parses exposition text following the format's grammar: "# HELP name
 * text", "# TYPE name counter|gauge", and "name{l="v",...} value" lines;
 * every sample's family must have been typed before it and each family
 * typed once. Returns the number of samples, or -1 (line in *bad).
 */
static int parse_prometheus(const char *text, parsed_t *out, int max, int *bad)
{
    char types[32][64];
    char typev[32][16];
    int ntypes = 0, n = 0, lineno = 0;
    const char *p = text;
    while (*p) {
        lineno++;
        const char *eol = strchr(p, '\n');
        if (!eol)
            goto fail; /* every line ends in \n */
        char line[512];
        size_t ll = (size_t)(eol - p);
        if (ll >= sizeof(line))
            goto fail;
        memcpy(line, p, ll);
        line[ll] = '\0';
        p = eol + 1;
        char name[64];
        if (!strncmp(line, "# HELP ", 7)) {
            if (sscanf(line + 7, "%63[a-zA-Z0-9_:] ", name) != 1)
                goto fail;
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            char t[16];
            if (sscanf(line + 7, "%63[a-zA-Z0-9_:] %15s", name, t) != 2 ||
                (strcmp(t, "counter") && strcmp(t, "gauge")) || ntypes == 32)
                goto fail;
            for (int i = 0; i < ntypes; i++)
                if (!strcmp(types[i], name))
                    goto fail;
            strcpy(types[ntypes], name);
            strcpy(typev[ntypes++], t);
            continue;
        }
        if (line[0] == '#' || n == max)
            goto fail;
        parsed_t *s = &out[n];
        memset(s, 0, sizeof(*s));
        const char *q = line;
        size_t k = 0;
        while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_' || *q == ':' ||
               (k && *q >= '0' && *q <= '9'))
            s->name[k++] = *q++;
        if (!k || k >= 64)
            goto fail;
        if (*q == '{') {
            q++;
            while (*q != '}') {
                if (s->nlabels == 4)
                    goto fail;
                char *ln = s->labels[s->nlabels][0], *lv = s->labels[s->nlabels][1];
                k = 0;
                while (*q && *q != '=')
                    ln[k++] = *q++;
                if (*q++ != '=' || *q++ != '"')
                    goto fail;
                k = 0;
                while (*q && *q != '"') {
                    if (*q == '\\') {
                        q++;
                        lv[k++] = *q == 'n' ? '\n' : *q;
                        if (*q != 'n' && *q != '\\' && *q != '"')
                            goto fail;
                        q++;
                    } else {
                        lv[k++] = *q++;
                    }
                }
                if (*q++ != '"')
                    goto fail;
                s->nlabels++;
                if (*q == ',')
                    q++;
                else if (*q != '}')
                    goto fail;
            }
            q++;
        }
        if (*q++ != ' ')
            goto fail;
        char *end;
        s->value = strtod(q, &end);
        if (end == q || *end)
            goto fail;
        for (int i = 0; i < ntypes; i++)
            if (!strcmp(types[i], s->name))
                strcpy(s->type, typev[i]);
        if (!s->type[0])
            goto fail;
        n++;
    }
    return n;
fail:
    *bad = lineno;
    return -1;
}

static void collect(void *ctx, tc_metrics_t *m)
{
    (void)m;
    tc_metrics_set(ctx, 7); /* refreshed before each rendering */
}

TC_TEST(metrics_prometheus_format_parses_back)
{
    tc_metrics_t *m = tc_metrics_new();
    CHECK(m);
    tc_metrics_sample_t *traffic, *behavior, *lag, *odd, *mase;
    CHECK_OK(tc_metrics_add1(m, TC_METRICS_COUNTER, "tidecast_events_total",
                             "Events decoded,\nper kind \\ type.", "kind", "traffic", &traffic));
    CHECK_OK(tc_metrics_add1(m, TC_METRICS_COUNTER, "tidecast_events_total", NULL, "kind",
                             "behavior", &behavior));
    CHECK_OK(tc_metrics_add0(m, TC_METRICS_GAUGE, "tidecast_kafka_lag", "Consumer lag.", &lag));
    const char *lv[] = {"model", "sarima", "reason", "a \"quoted\"\nback\\slash"};
    CHECK_OK(tc_metrics_add(m, TC_METRICS_GAUGE, "tidecast_odd", "Odd labels.", lv, 2, &odd));
    CHECK_OK(tc_metrics_add1(m, TC_METRICS_GAUGE, "tidecast_mase", "MASE.", "model", "lstm",
                             &mase));
    tc_metrics_inc(traffic, 3);
    tc_metrics_inc(traffic, 2);
    tc_metrics_set(behavior, 12345678901.0);
    tc_metrics_set(odd, -0.125);
    tc_metrics_set(mase, NAN);
    tc_metrics_set_collect(m, collect, lag);
    CHECK_INT_EQ(tc_metrics_count(m), 5);

    /* Registration errors. */
    tc_metrics_sample_t *again;
    CHECK_INT_EQ(tc_metrics_add1(m, TC_METRICS_COUNTER, "tidecast_events_total", NULL, "kind",
                                 "traffic", &again),
                 TC_EEXISTS);
    CHECK(again == traffic);
    CHECK_INT_EQ(tc_metrics_add0(m, TC_METRICS_GAUGE, "tidecast_events_total", NULL, NULL),
                 TC_EINVAL); /* type and label set differ */
    CHECK_INT_EQ(tc_metrics_add1(m, TC_METRICS_COUNTER, "tidecast_events_total", NULL, "other",
                                 "x", NULL),
                 TC_EINVAL);
    CHECK_INT_EQ(tc_metrics_add0(m, TC_METRICS_GAUGE, "9bad", "x", NULL), TC_EINVAL);
    CHECK_INT_EQ(tc_metrics_add0(m, TC_METRICS_GAUGE, "bad-name", "x", NULL), TC_EINVAL);
    CHECK_INT_EQ(tc_metrics_add1(m, TC_METRICS_GAUGE, "ok", "x", "__reserved", "v", NULL),
                 TC_EINVAL);
    CHECK_INT_EQ(tc_metrics_count(m), 5);

    char *text;
    size_t len;
    CHECK_OK(tc_metrics_render(m, &text, &len));
    CHECK_INT_EQ(strlen(text), len);
    parsed_t s[8];
    int bad = 0;
    int n = parse_prometheus(text, s, 8, &bad);
    CHECK_MSG(n == 5, "parsed %d samples (bad line %d) in:\n%s", n, bad, text);
    CHECK(strstr(text, "# HELP tidecast_events_total Events decoded,\\nper kind \\\\ type.\n"));
    CHECK_STR_EQ(s[0].name, "tidecast_events_total");
    CHECK_STR_EQ(s[0].type, "counter");
    CHECK_STR_EQ(s[0].labels[0][0], "kind");
    CHECK_STR_EQ(s[0].labels[0][1], "traffic");
    CHECK_NEAR(s[0].value, 5, 0);
    CHECK_STR_EQ(s[1].labels[0][1], "behavior");
    CHECK_NEAR(s[1].value, 12345678901.0, 0);
    CHECK_STR_EQ(s[2].name, "tidecast_kafka_lag");
    CHECK_STR_EQ(s[2].type, "gauge");
    CHECK_INT_EQ(s[2].nlabels, 0);
    CHECK_NEAR(s[2].value, 7, 0);
    CHECK_INT_EQ(s[3].nlabels, 2);
    CHECK_STR_EQ(s[3].labels[1][1], "a \"quoted\"\nback\\slash");
    CHECK_NEAR(s[3].value, -0.125, 0);
    CHECK(isnan(s[4].value));
    free(text);
    tc_metrics_free(m);
    tc_metrics_free(NULL);
}

TC_TEST(http_metrics_endpoint)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_metrics_t *m = tc_metrics_new();
    tc_metrics_sample_t *c;
    CHECK_OK(tc_metrics_add1(m, TC_METRICS_COUNTER, "tidecast_dead_letters_total",
                             "Dead letters per reason.", "reason", "decode", &c));
    tc_metrics_inc(c, 42);
    tc_http_t *srv = tc_http_new(&loop, NULL);
    tc_endpoints_t ep;
    CHECK_OK(tc_endpoints_init(&ep, srv, m, NULL));
    static exch_t ex[2];
    memset(ex, 0, sizeof(ex));
    ex[0] = (exch_t){.send = GET("/metrics"), .nresp = 1};
    ex[1] = (exch_t){.send = GET("/readyz"), .nresp = 1}; /* no hook: ready */
    CHECK_OK(run_client(&loop, srv, ex, 2, false));
    const char *body;
    size_t blen;
    char head[1024];
    CHECK_INT_EQ(nth_response(ex[0].got, ex[0].gotlen, 0, &body, &blen, head, sizeof(head)), 200);
    CHECK(strstr(head, "Content-Type: text/plain; version=0.0.4"));
    char text[4096];
    CHECK(blen < sizeof(text));
    memcpy(text, body, blen);
    text[blen] = '\0';
    parsed_t s[2];
    int bad = 0;
    CHECK_INT_EQ(parse_prometheus(text, s, 2, &bad), 1);
    CHECK_STR_EQ(s[0].labels[0][1], "decode");
    CHECK_NEAR(s[0].value, 42, 0);
    CHECK_INT_EQ(status_of(&ex[1]), 200);
    tc_metrics_free(m);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}
