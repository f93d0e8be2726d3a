/*
 * endpoints.c - health, readiness, metrics and the JSON query API on top of
 * the HTTP server. The daemon supplies the data through hooks; this file
 * only shapes the answers (status codes, content types, JSON framing).
 */
#include "daemon/endpoints.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Longest query parameter value accepted (a series key or a pseudonym). */
#define PARAM_MAX 1024

static const char JSON[] = "application/json";

static int on_healthz(void *ctx, const tc_http_request_t *req, tc_http_response_t *res)
{
    (void)ctx;
    (void)req;
    tc_http_response_append(res, "ok\n", 3);
    return 0;
}

static int on_readyz(void *ctx, const tc_http_request_t *req, tc_http_response_t *res)
{
    tc_endpoints_t *e = ctx;
    (void)req;
    char why[256] = "";
    tc_http_response_type(res, JSON);
    if (!e->hooks.ready || e->hooks.ready(e->hooks.ctx, why, sizeof(why))) {
        tc_http_response_printf(res, "{\"ready\":true}\n");
        return 0;
    }
    why[sizeof(why) - 1] = '\0';
    tc_http_response_status(res, 503);
    tc_http_response_printf(res, "{\"ready\":false,\"reason\":");
    tc_http_response_json_string(res, why[0] ? why : "not ready");
    tc_http_response_printf(res, "}\n");
    return 0;
}

static int on_metrics(void *ctx, const tc_http_request_t *req, tc_http_response_t *res)
{
    tc_endpoints_t *e = ctx;
    (void)req;
    char *text;
    size_t len;
    int rc = tc_metrics_render(e->metrics, &text, &len);
    if (rc)
        return rc;
    tc_http_response_type(res, "text/plain; version=0.0.4; charset=utf-8");
    tc_http_response_append(res, text, len);
    free(text);
    return 0;
}

typedef struct series_out {
    tc_http_response_t *res;
    size_t n;
} series_out_t;

static void emit_series(void *ectx, const char *key, size_t len)
{
    series_out_t *o = ectx;
    char *z = malloc(len + 1);
    if (!z) {
        tc_http_response_status(o->res, 0); /* turns the answer into a 500 */
        return;
    }
    memcpy(z, key, len);
    z[len] = '\0';
    if (o->n++)
        tc_http_response_append(o->res, ",", 1);
    tc_http_response_json_string(o->res, z);
    free(z);
}

static int on_series(void *ctx, const tc_http_request_t *req, tc_http_response_t *res)
{
    tc_endpoints_t *e = ctx;
    (void)req;
    series_out_t o = {.res = res};
    tc_http_response_type(res, JSON);
    tc_http_response_append(res, "{\"series\":[", 11);
    int rc = e->hooks.series(e->hooks.ctx, emit_series, &o);
    tc_http_response_append(res, "]}\n", 3);
    return rc;
}

/* Shared shape of /v1/forecast and /v1/churn: one required parameter. */
static int lookup(tc_http_response_t *res, const tc_http_request_t *req, const char *param,
                  int (*fn)(void *, const char *, tc_http_response_t *), void *fctx)
{
    char value[PARAM_MAX];
    tc_http_response_type(res, JSON);
    int rc = tc_http_query_param(req->query, param, value, sizeof(value));
    if (rc || !value[0]) {
        tc_http_response_status(res, 400);
        tc_http_response_printf(res, "{\"error\":\"%s\",\"parameter\":\"%s\"}\n",
                                rc == TC_ENOTFOUND || !rc ? "missing parameter"
                                : rc == TC_EOVERSIZED     ? "parameter too long"
                                                          : "bad percent-encoding",
                                param);
        return 0;
    }
    rc = fn(fctx, value, res);
    if (rc == TC_ENOTFOUND) {
        /* Whatever the hook wrote is replaced by a plain not-found object. */
        tc_http_response_clear(res);
        tc_http_response_status(res, 404);
        tc_http_response_printf(res, "{\"error\":\"not found\",\"%s\":", param);
        tc_http_response_json_string(res, value);
        tc_http_response_append(res, "}\n", 2);
        return 0;
    }
    return rc;
}

static int on_forecast(void *ctx, const tc_http_request_t *req, tc_http_response_t *res)
{
    tc_endpoints_t *e = ctx;
    return lookup(res, req, "series", e->hooks.forecast, e->hooks.ctx);
}

static int on_churn(void *ctx, const tc_http_request_t *req, tc_http_response_t *res)
{
    tc_endpoints_t *e = ctx;
    return lookup(res, req, "user", e->hooks.churn, e->hooks.ctx);
}

int tc_endpoints_init(tc_endpoints_t *e, tc_http_t *h, tc_metrics_t *metrics,
                      const tc_endpoints_hooks_t *hooks)
{
    memset(e, 0, sizeof(*e));
    if (hooks)
        e->hooks = *hooks;
    e->metrics = metrics;
    int rc = tc_http_route(h, "/healthz", on_healthz, e);
    if (!rc)
        rc = tc_http_route(h, "/readyz", on_readyz, e);
    if (!rc && metrics)
        rc = tc_http_route(h, "/metrics", on_metrics, e);
    if (!rc && e->hooks.series)
        rc = tc_http_route(h, "/v1/series", on_series, e);
    if (!rc && e->hooks.forecast)
        rc = tc_http_route(h, "/v1/forecast", on_forecast, e);
    if (!rc && e->hooks.churn)
        rc = tc_http_route(h, "/v1/churn", on_churn, e);
    return rc;
}
