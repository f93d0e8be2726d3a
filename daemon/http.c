/*
 * http.c - the HTTP/1.1 server of tidecastd (see http.h for the scope).
 *
 * Each connection owns one buffer of max_request bytes. Bytes are read into
 * it until the head terminator (CRLF CRLF) appears; the head is parsed in
 * place, the route's handler builds the response, and the whole response
 * (head and body) goes out in one uv_write. Reading stops while a response
 * is being written, so at most one response per connection is in memory and
 * a client that does not read cannot make the daemon buffer without bound.
 *
 * Errors that end a connection (400, 405, 408, 413) use a lingering close:
 * the response is written, the write side shut down, and further input is
 * read and discarded until the client closes or a short timer expires.
 * Closing at once would make the kernel answer unread input with a reset,
 * which can destroy the error response before the client reads it.
 *
 * Handle lifetime follows libuv: a connection's tcp and timer handles are
 * closed together and its memory released in the second close callback; the
 * server itself is released once the listener and every connection are
 * closed.
 */
#include "daemon/http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

/* How long a connection being closed after an error keeps draining input. */
#define LINGER_MS 2000

struct tc_http_response {
    int status;
    char type[96];
    char *body;
    size_t len, cap;
    bool failed;
};

typedef struct route {
    char *path;
    tc_http_handler_fn fn;
    void *ctx;
} route_t;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    tc_http_t *srv;
    struct conn *prev, *next;
    char *buf;          /* max_request bytes */
    size_t len;
    char *out;          /* response being written */
    int handles;        /* open handles (tcp, timer) */
    bool writing;
    bool close_after_write;
    bool lingering;     /* draining input before the close */
    bool closing;
} conn_t;

struct tc_http {
    uv_loop_t *loop;
    tc_http_config_t cfg;
    uv_tcp_t listener;
    bool listener_open;
    bool freeing;
    int port;
    route_t *routes;
    size_t nroutes;
    conn_t *conns;
    unsigned nconns;
};

void tc_http_config_default(tc_http_config_t *c)
{
    c->max_request = 8192;
    c->max_connections = 64;
    c->request_timeout_ms = 10000;
}

static void maybe_release(tc_http_t *h)
{
    if (!h->freeing || h->listener_open || h->conns)
        return;
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].path);
    free(h->routes);
    free(h);
}

tc_http_t *tc_http_new(uv_loop_t *loop, const tc_http_config_t *conf)
{
    tc_http_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->loop = loop;
    tc_http_config_default(&h->cfg);
    if (conf) {
        if (conf->max_request >= 64)
            h->cfg.max_request = conf->max_request;
        if (conf->max_connections)
            h->cfg.max_connections = conf->max_connections;
        if (conf->request_timeout_ms)
            h->cfg.request_timeout_ms = conf->request_timeout_ms;
    }
    return h;
}

int tc_http_route(tc_http_t *h, const char *path, tc_http_handler_fn handler, void *ctx)
{
    if (!path || path[0] != '/' || !handler)
        return TC_EINVAL;
    for (size_t i = 0; i < h->nroutes; i++)
        if (!strcmp(h->routes[i].path, path)) {
            h->routes[i].fn = handler;
            h->routes[i].ctx = ctx;
            return 0;
        }
    route_t *rs = realloc(h->routes, (h->nroutes + 1) * sizeof(*rs));
    if (!rs)
        return TC_ENOMEM;
    h->routes = rs;
    char *p = strdup(path);
    if (!p)
        return TC_ENOMEM;
    h->routes[h->nroutes++] = (route_t){.path = p, .fn = handler, .ctx = ctx};
    return 0;
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *hd)
{
    conn_t *c = hd->data;
    if (--c->handles > 0)
        return;
    tc_http_t *h = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->nconns--;
    free(c->buf);
    free(c->out);
    free(c);
    maybe_release(h);
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    conn_t *c = hd->data;
    size_t cap = c->srv->cfg.max_request;
    if (c->lingering)
        c->len = 0; /* discarded input */
    *b = uv_buf_init(c->buf + c->len, (unsigned)(cap - c->len));
}

static void process(conn_t *c);

static void on_linger_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    (void)req;
}

static void on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    free(c->out);
    c->out = NULL;
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after_write) {
        /* Lingering close: FIN now, drain input until EOF or the timer. */
        c->lingering = true;
        c->len = 0;
        uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
        c->sreq.data = c;
        if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
            conn_close(c);
            return;
        }
    }
    process(c);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* Sends status + body; keep says whether the connection stays open. */
static void send_response(conn_t *c, int status, const char *type, const char *body, size_t blen,
                          bool keep)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%sConnection: %s\r\n\r\n",
                     status, reason_phrase(status), type, blen,
                     status == 405 ? "Allow: GET\r\n" : "", keep ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof(head) || !(c->out = malloc((size_t)n + blen))) {
        conn_close(c);
        return;
    }
    memcpy(c->out, head, (size_t)n);
    if (blen)
        memcpy(c->out + n, body, blen);
    uv_buf_t b = uv_buf_init(c->out, (unsigned)((size_t)n + blen));
    c->wreq.data = c;
    c->writing = true;
    c->close_after_write = !keep;
    /* No reading while a response is out: see the file comment. */
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(c->out);
        c->out = NULL;
        c->writing = false;
        conn_close(c);
    }
}

static void send_error(conn_t *c, int status, const char *text)
{
    send_response(c, status, "text/plain; charset=utf-8", text, strlen(text), false);
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* True if the comma-separated header value contains token (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && !strncasecmp(v + s, token, tl))
            return true;
    }
    return false;
}

/* Runs the handler for path and sends its response. */
static void dispatch(conn_t *c, char *target, bool keep)
{
    tc_http_t *h = c->srv;
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    tc_http_request_t req = {.path = target, .query = q ? q : ""};
    route_t *r = NULL;
    for (size_t i = 0; i < h->nroutes; i++)
        if (!strcmp(h->routes[i].path, target))
            r = &h->routes[i];
    if (!r) {
        static const char nf[] = "not found\n";
        send_response(c, 404, "text/plain; charset=utf-8", nf, sizeof(nf) - 1, keep);
        return;
    }
    tc_http_response_t res = {.status = 200};
    snprintf(res.type, sizeof(res.type), "text/plain; charset=utf-8");
    int rc = r->fn(r->ctx, &req, &res);
    if (rc || res.failed || res.status < 100 || res.status > 599) {
        static const char ie[] = "internal error\n";
        send_response(c, 500, "text/plain; charset=utf-8", ie, sizeof(ie) - 1, keep);
    } else {
        send_response(c, res.status, res.type, res.body ? res.body : "", res.len, keep);
    }
    free(res.body);
}

/*
 * Parses the head buf[0..n) (ending in CRLF CRLF, which is included) and
 * answers it. The head is modified in place.
 */
static void handle_head(conn_t *c, char *head, size_t n)
{
    /* Replace the final CRLF CRLF so that lines can be walked as strings. */
    head[n - 2] = '\0';
    if (memchr(head, '\0', n - 2)) {
        send_error(c, 400, "bad request: NUL byte\n");
        return;
    }
    char *eol = strstr(head, "\r\n");
    if (!eol) {
        send_error(c, 400, "bad request\n");
        return;
    }
    *eol = '\0';
    char *line = head;
    /* Request line: METHOD SP TARGET SP HTTP/1.x, single spaces. */
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1 == line || strchr(sp2 + 1, ' ')) {
        send_error(c, 400, "bad request line\n");
        return;
    }
    *sp1 = *sp2 = '\0';
    const char *method = line, *version = sp2 + 1;
    char *target = sp1 + 1;
    for (const char *p = method; *p; p++)
        if (!is_tchar((unsigned char)*p)) {
            send_error(c, 400, "bad method\n");
            return;
        }
    if (target[0] != '/') {
        send_error(c, 400, "bad request target\n");
        return;
    }
    for (const unsigned char *p = (const unsigned char *)target; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) {
            send_error(c, 400, "bad request target\n");
            return;
        }
    bool http11;
    if (!strcmp(version, "HTTP/1.1"))
        http11 = true;
    else if (!strcmp(version, "HTTP/1.0"))
        http11 = false;
    else {
        send_error(c, 400, "unsupported protocol version\n");
        return;
    }
    bool keep = http11, host = false;
    /* Header fields: name ":" OWS value OWS; no obsolete line folding. */
    for (char *p = eol + 2; *p;) {
        char *e = strstr(p, "\r\n");
        if (e)
            *e = '\0';
        char *colon = strchr(p, ':');
        if (!colon || colon == p) {
            send_error(c, 400, "bad header field\n");
            return;
        }
        for (const char *k = p; k < colon; k++)
            if (!is_tchar((unsigned char)*k)) {
                send_error(c, 400, "bad header field\n");
                return;
            }
        const char *v = colon + 1;
        for (const unsigned char *k = (const unsigned char *)v; *k; k++)
            if ((*k < 0x20 && *k != '\t') || *k == 0x7f) {
                send_error(c, 400, "bad header value\n");
                return;
            }
        while (*v == ' ' || *v == '\t')
            v++;
        size_t nlen = (size_t)(colon - p), vlen = strlen(v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (nlen == 10 && !strncasecmp(p, "Connection", 10)) {
            if (has_token(v, vlen, "close"))
                keep = false;
            else if (has_token(v, vlen, "keep-alive"))
                keep = true;
        } else if (nlen == 4 && !strncasecmp(p, "Host", 4)) {
            host = true;
        } else if (nlen == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
            send_error(c, 400, "request bodies are not accepted\n");
            return;
        } else if (nlen == 14 && !strncasecmp(p, "Content-Length", 14)) {
            if (vlen != 1 || v[0] != '0') {
                send_error(c, 400, "request bodies are not accepted\n");
                return;
            }
        }
        if (!e)
            break;
        p = e + 2;
    }
    if (http11 && !host) {
        send_error(c, 400, "missing Host header\n");
        return;
    }
    if (strcmp(method, "GET")) {
        send_error(c, 405, "method not allowed\n");
        return;
    }
    dispatch(c, target, keep);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

/* A head not complete in time (slowloris), or an idle keep-alive connection. */
static void on_request_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->closing || c->writing)
        return;
    if (c->len)
        send_error(c, 408, "request timeout\n");
    else
        conn_close(c);
}

/* Answers the next complete request in the buffer, or waits for more input. */
static void process(conn_t *c)
{
    size_t cap = c->srv->cfg.max_request;
    if (c->closing || c->writing)
        return;
    if (c->lingering) {
        c->len = 0;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        return;
    }
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end) {
        size_t n = (size_t)(end - c->buf) + 4;
        /* The head is parsed in a copy; the bytes after it stay buffered. */
        char *head = malloc(n);
        if (!head) {
            conn_close(c);
            return;
        }
        memcpy(head, c->buf, n);
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        handle_head(c, head, n);
        free(head);
        return; /* resumed from on_write */
    }
    if (c->len >= cap) {
        send_error(c, 413, "request head too large\n");
        return;
    }
    /* The timer runs from the end of the last response (or the accept), not
     * from the last byte: a trickling client cannot hold the connection. */
    if (!uv_is_active((uv_handle_t *)&c->timer))
        uv_timer_start(&c->timer, on_request_timeout, c->srv->cfg.request_timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    conn_t *c = st->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (c->lingering) {
        c->len = 0;
        return;
    }
    c->len += (size_t)nread;
    if (nread > 0)
        process(c);
}

static void free_handle(uv_handle_t *hd)
{
    free(hd);
}

static void on_connection(uv_stream_t *server, int status)
{
    tc_http_t *h = server->data;
    if (status < 0 || h->freeing)
        return;
    conn_t *c = calloc(1, sizeof(*c));
    if (c)
        c->buf = malloc(h->cfg.max_request);
    if (!c || !c->buf) {
        /* Out of memory: accept into a throwaway handle and close it, since
         * libuv stops watching the listener until a connection is taken. */
        free(c);
        uv_tcp_t *t = malloc(sizeof(*t));
        if (t) {
            uv_tcp_init(h->loop, t);
            uv_accept(server, (uv_stream_t *)t);
            uv_close((uv_handle_t *)t, free_handle);
        }
        return;
    }
    c->srv = h;
    c->handles = 2;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || h->nconns > h->cfg.max_connections) {
        conn_close(c);
        return;
    }
    process(c);
}

/* ---- server ---- */

static void on_listener_closed(uv_handle_t *hd)
{
    tc_http_t *h = hd->data;
    h->listener_open = false;
    h->port = 0;
    maybe_release(h);
}

int tc_http_listen(tc_http_t *h, const char *addr, char *err, size_t errsize)
{
    char host[64];
    const char *colon = strrchr(addr ? addr : "", ':');
    struct sockaddr_storage ss;
    int rc;
    if (h->listener_open) {
        snprintf(err, errsize, "already listening");
        return TC_EINVAL;
    }
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host)) {
        snprintf(err, errsize, "'%s': expected HOST:PORT", addr ? addr : "");
        return TC_EINVAL;
    }
    char *endp;
    long port = strtol(colon + 1, &endp, 10);
    if (!colon[1] || *endp || port < 0 || port > 65535) {
        snprintf(err, errsize, "'%s': bad port", addr);
        return TC_EINVAL;
    }
    size_t hl = (size_t)(colon - addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        rc = uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)&ss);
    } else {
        rc = uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&ss);
    }
    if (rc) {
        snprintf(err, errsize, "'%s': not a numeric IPv4 or [IPv6] address", addr);
        return TC_EINVAL;
    }
    uv_tcp_init(h->loop, &h->listener);
    h->listener.data = h;
    h->listener_open = true;
    if ((rc = uv_tcp_bind(&h->listener, (struct sockaddr *)&ss, 0)) ||
        (rc = uv_listen((uv_stream_t *)&h->listener, 128, on_connection))) {
        snprintf(err, errsize, "cannot listen on %s: %s", addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&h->listener, on_listener_closed);
        return TC_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    if (!uv_tcp_getsockname(&h->listener, (struct sockaddr *)&bound, &blen))
        h->port = bound.ss_family == AF_INET6
                      ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                      : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

int tc_http_port(const tc_http_t *h)
{
    return h && h->listener_open ? h->port : 0;
}

unsigned tc_http_connections(const tc_http_t *h)
{
    return h ? h->nconns : 0;
}

void tc_http_free(tc_http_t *h)
{
    if (!h)
        return;
    h->freeing = true;
    if (h->listener_open && !uv_is_closing((uv_handle_t *)&h->listener))
        uv_close((uv_handle_t *)&h->listener, on_listener_closed);
    for (conn_t *c = h->conns; c; c = c->next)
        conn_close(c);
    maybe_release(h);
}

/* ---- responses ---- */

void tc_http_response_status(tc_http_response_t *res, int status)
{
    res->status = status;
}

void tc_http_response_type(tc_http_response_t *res, const char *content_type)
{
    snprintf(res->type, sizeof(res->type), "%s", content_type);
}

void tc_http_response_clear(tc_http_response_t *res)
{
    res->len = 0;
    if (res->body)
        res->body[0] = '\0';
}

void tc_http_response_append(tc_http_response_t *res, const char *data, size_t len)
{
    if (res->failed)
        return;
    if (res->len + len + 1 > res->cap) {
        size_t cap = res->cap ? res->cap : 1024;
        while (cap < res->len + len + 1)
            cap *= 2;
        char *p = realloc(res->body, cap);
        if (!p) {
            res->failed = true;
            return;
        }
        res->body = p;
        res->cap = cap;
    }
    memcpy(res->body + res->len, data, len);
    res->len += len;
    res->body[res->len] = '\0';
}

void tc_http_response_printf(tc_http_response_t *res, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        res->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        tc_http_response_append(res, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        res->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tc_http_response_append(res, big, (size_t)n);
    free(big);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    else if ((s[0] & 0xe0) == 0xc0)
        n = 2, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void tc_http_response_json_string(tc_http_response_t *res, const char *s)
{
    tc_http_response_append(res, "\"", 1);
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        char esc[8];
        size_t n = utf8_len(p);
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p;
            tc_http_response_append(res, esc, 2);
            p++;
        } else if (*p < 0x20 || !n) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            tc_http_response_append(res, esc, 6);
            p++;
        } else {
            tc_http_response_append(res, (const char *)p, n);
            p += n;
        }
    }
    tc_http_response_append(res, "\"", 1);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int tc_http_query_param(const char *query, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    const char *p = query ? query : "";
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        if ((size_t)(kend - p) == nl && !memcmp(p, name, nl)) {
            size_t o = 0;
            for (const char *v = eq ? eq + 1 : end; v < end; v++) {
                int ch = (unsigned char)*v;
                if (*v == '+') {
                    ch = ' ';
                } else if (*v == '%') {
                    int hi = end - v >= 3 ? hexval(v[1]) : -1;
                    int lo = end - v >= 3 ? hexval(v[2]) : -1;
                    if (hi < 0 || lo < 0)
                        return TC_EPARSE;
                    ch = hi * 16 + lo;
                    v += 2;
                }
                if (!ch)
                    return TC_EPARSE;
                if (o + 1 >= n)
                    return TC_EOVERSIZED;
                buf[o++] = (char)ch;
            }
            if (!n)
                return TC_EOVERSIZED;
            buf[o] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : end;
    }
    return TC_ENOTFOUND;
}
