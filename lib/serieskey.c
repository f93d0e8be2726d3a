/*
 * serieskey.c - series key normalisation (serieskey.h).
 *
 * The key is built in a stack buffer of TC_SERIESKEY_MAX + 1 bytes so that
 * an over-long key is detected before the caller's buffer is touched.
 */
#include "serieskey.h"
#include "error.h"

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

typedef struct out {
    char buf[TC_SERIESKEY_MAX + 1];
    size_t n;
    bool overflow;
} out_t;

static void put(out_t *o, char c)
{
    if (o->n >= TC_SERIESKEY_MAX) {
        o->overflow = true;
        return;
    }
    o->buf[o->n++] = c;
}

static void put_path(const tc_serieskey_config_t *cfg, out_t *o, const char *path, size_t len)
{
    size_t end = 0;
    while (end < len && path[end] != '?' && path[end] != '#')
        end++;
    unsigned kept = 0;
    bool truncated = false;
    size_t i = 0;
    while (i < end) {
        while (i < end && path[i] == '/')
            i++;
        if (i >= end)
            break;
        if (cfg->path_depth && kept == cfg->path_depth) {
            truncated = true;
            break;
        }
        put(o, '/');
        while (i < end && path[i] != '/') {
            put(o, cfg->lowercase_path ? lower(path[i]) : path[i]);
            i++;
        }
        kept++;
    }
    if (kept == 0)
        put(o, '/');
    else if (cfg->keep_trailing_slash && !truncated && end > 0 && path[end - 1] == '/')
        put(o, '/');
}

int tc_serieskey_format(const tc_serieskey_config_t *cfg, const char *site, size_t site_len,
                        const char *path, size_t path_len, char *buf, size_t cap, size_t *len)
{
    if (cfg->mode != TC_SERIESKEY_SITE && cfg->mode != TC_SERIESKEY_SITE_PATH)
        return TC_EINVAL;
    if (site_len > 0 && site[site_len - 1] == '.')
        site_len--;
    if (site_len == 0)
        return TC_EMISSING_KEY;
    out_t o;
    o.n = 0;
    o.overflow = false;
    for (size_t i = 0; i < site_len; i++)
        put(&o, lower(site[i]));
    if (path && cfg->mode == TC_SERIESKEY_SITE_PATH)
        put_path(cfg, &o, path, path_len);
    if (o.overflow)
        return TC_EOVERSIZED;
    *len = o.n;
    if (cap < o.n + 1)
        return TC_ERANGE;
    memcpy(buf, o.buf, o.n);
    buf[o.n] = '\0';
    return 0;
}

int tc_serieskey_make(const tc_serieskey_config_t *cfg, const tc_event_t *ev, char *buf,
                      size_t cap, size_t *len)
{
    switch (ev->kind) {
    case TC_EVENT_TRAFFIC:
        return tc_serieskey_format(cfg, ev->site.ptr, ev->site.len, ev->traffic.path.ptr,
                                   ev->traffic.path.len, buf, cap, len);
    case TC_EVENT_BEHAVIOR:
        return tc_serieskey_format(cfg, ev->site.ptr, ev->site.len, NULL, 0, buf, cap, len);
    case TC_EVENT_ANNOTATION: {
        const char *t = ev->annotation.target.ptr;
        size_t n = ev->annotation.target.len, slash = 0;
        while (slash < n && t[slash] != '/')
            slash++;
        if (slash == n)
            return tc_serieskey_format(cfg, t, n, NULL, 0, buf, cap, len);
        return tc_serieskey_format(cfg, t, slash, t + slash, n - slash, buf, cap, len);
    }
    default:
        return TC_EINVAL;
    }
}
