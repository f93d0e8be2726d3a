/*
 * endpoints.h - the routes tidecastd serves over HTTP (daemon/http.h):
 *
 *   GET /healthz                200 "ok": the process and its loop are alive.
 *   GET /readyz                 200 {"ready":true}, or 503
 *                               {"ready":false,"reason":"..."} from hooks.ready.
 *   GET /metrics                the registry (daemon/metrics.h) in the
 *                               Prometheus text format, version 0.0.4.
 *   GET /v1/series              {"series":["key",...]} from hooks.series.
 *   GET /v1/forecast?series=K   the latest forecast of K (hooks.forecast);
 *                               400 without the parameter, 404 if unknown.
 *   GET /v1/churn?user=P        the churn risk of pseudonym P (hooks.churn);
 *                               400 / 404 likewise.
 *
 * A route whose hook is NULL is not registered (404). The JSON hooks write
 * one JSON object with the tc_http_response_* helpers and return 0,
 * TC_ENOTFOUND (404) or another negative code (500).
 *
 * @locality loop thread only.
 */
#ifndef TC_DAEMON_ENDPOINTS_H
#define TC_DAEMON_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/http.h"
#include "daemon/metrics.h"

/* Called once per series key by hooks.series (key need not be NUL-terminated). */
typedef void (*tc_endpoints_emit_fn)(void *ectx, const char *key, size_t len);

typedef struct tc_endpoints_hooks {
    void *ctx;
    /* True when ready; otherwise writes a one-line reason into why (size n). */
    bool (*ready)(void *ctx, char *why, size_t n);
    /* Calls emit for every series key; returns 0 or a negative code. */
    int (*series)(void *ctx, tc_endpoints_emit_fn emit, void *ectx);
    int (*forecast)(void *ctx, const char *series, tc_http_response_t *res);
    int (*churn)(void *ctx, const char *user, tc_http_response_t *res);
} tc_endpoints_hooks_t;

/* Caller-allocated; must outlive the server's use of it. */
typedef struct tc_endpoints {
    tc_endpoints_hooks_t hooks;
    tc_metrics_t *metrics; /* not owned; NULL: no /metrics */
} tc_endpoints_t;

/*
 * Stores hooks and metrics in e and registers the routes on h.
 * Returns 0 or TC_ENOMEM.
 */
int tc_endpoints_init(tc_endpoints_t *e, tc_http_t *h, tc_metrics_t *metrics,
                      const tc_endpoints_hooks_t *hooks);

#endif
