/*
 * http.h - a small HTTP/1.1 server on the libuv loop for /metrics, health
 * checks and the JSON query API.
 *
 * Scope: GET requests without a body, exact-path routes, keep-alive
 * (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive"), one
 * request in flight per connection (pipelined requests are answered in
 * order). The request head is parsed here, minimally: Debian 12 ships no
 * llhttp, and its libhttp-parser is the archived, unmaintained
 * nodejs/http-parser; for GET-only traffic the request line, the end of
 * the head and three headers (Connection, Content-Length,
 * Transfer-Encoding) are all that matter.
 *
 * Bounds, so that no client can hurt the daemon:
 *   - a request head longer than max_request bytes:        413, closed;
 *   - a head not complete within request_timeout_ms of its first byte
 *     (slowloris), or a keep-alive connection idle that long: 408 / closed;
 *   - more than max_connections open connections: the newest is closed;
 *   - a malformed request line or header, a request with a body, an
 *     unsupported version:                                    400, closed;
 *   - a method other than GET:                                405, closed;
 *   - a path without a route:                                 404.
 * A handler that fails (non-zero return) gives 500.
 *
 * Lifetime: tc_http_new, tc_http_route..., tc_http_listen; tc_http_free
 * closes the listener and every connection; the memory is released from
 * the last close callback, so the loop must run once more afterwards (as
 * for any libuv handle).
 *
 * @locality loop thread only.
 */
#ifndef TC_DAEMON_HTTP_H
#define TC_DAEMON_HTTP_H

#include <stdarg.h>
#include <stddef.h>
#include <uv.h>

typedef struct tc_http tc_http_t;
typedef struct tc_http_response tc_http_response_t;

typedef struct tc_http_config {
    size_t max_request;        /* bytes of request head, default 8192 */
    unsigned max_connections;  /* default 64 */
    unsigned request_timeout_ms; /* head completion and keep-alive idle, default 10000 */
} tc_http_config_t;

/* The parsed request, valid during the handler call only. */
typedef struct tc_http_request {
    const char *path;   /* "/v1/forecast", not decoded */
    const char *query;  /* "series=a%2Fb" (without '?'), "" if none */
} tc_http_request_t;

/*
 * A route handler: sets the status (default 200) and content type (default
 * "text/plain; charset=utf-8") and appends the body. Returns 0, or a
 * negative code: the response is then replaced by a 500.
 */
typedef int (*tc_http_handler_fn)(void *ctx, const tc_http_request_t *req,
                                  tc_http_response_t *res);

void tc_http_config_default(tc_http_config_t *c);

/* Creates a server on loop (not yet listening). NULL on allocation failure. */
tc_http_t *tc_http_new(uv_loop_t *loop, const tc_http_config_t *conf);

/*
 * Registers handler for the exact path (copied). A second registration of
 * a path replaces the first. Returns 0, TC_EINVAL (path not starting with
 * '/'), TC_ENOMEM.
 */
int tc_http_route(tc_http_t *h, const char *path, tc_http_handler_fn handler, void *ctx);

/*
 * Binds and listens on addr, "HOST:PORT" with a numeric IPv4 host or a
 * bracketed IPv6 one ("[::1]:9464"); port 0 picks a free port (see
 * tc_http_port). Returns 0, or TC_EINVAL (unparsable address) / TC_EIO
 * (bind or listen failed) with a reason in err.
 */
int tc_http_listen(tc_http_t *h, const char *addr, char *err, size_t errsize);

/* The bound port (after tc_http_listen), 0 if not listening. */
int tc_http_port(const tc_http_t *h);

/* Open client connections. */
unsigned tc_http_connections(const tc_http_t *h);

/* Closes everything; memory is freed by the close callbacks. NULL is a no-op. */
void tc_http_free(tc_http_t *h);

/* ---- building a response (inside a handler) ---- */

void tc_http_response_status(tc_http_response_t *res, int status);
void tc_http_response_type(tc_http_response_t *res, const char *content_type);
/* Drops the body written so far (status and type are kept). */
void tc_http_response_clear(tc_http_response_t *res);
void tc_http_response_append(tc_http_response_t *res, const char *data, size_t len);
void tc_http_response_printf(tc_http_response_t *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quoted, escaped; invalid UTF-8 bytes as \u00XX). */
void tc_http_response_json_string(tc_http_response_t *res, const char *s);

/*
 * Copies the percent-decoded value of query parameter name ('+' is a space)
 * from query into buf (size n, NUL-terminated). Returns 0, TC_ENOTFOUND,
 * TC_EOVERSIZED (does not fit) or TC_EPARSE (bad escape or a NUL byte).
 */
int tc_http_query_param(const char *query, const char *name, char *buf, size_t n);

#endif
