/*
 * serieskey.h - the series an event belongs to.
 *
 * A series key is a short string: the site alone ("shop.example.com") or the
 * site and a normalised path prefix ("shop.example.com/shop"). Keys are what
 * the registry maps to dense series indices, what outputs are keyed by in
 * Kafka and Redis, and what an Annotation's target names.
 *
 * Normalisation (deterministic, so that the same page always gives one key):
 *   - site: ASCII upper case folded to lower case; a trailing '.' dropped;
 *   - path (site+path mode): the query ("?...") and fragment ("#...") are cut;
 *     a missing leading '/' is added; runs of '/' collapse to one; only the
 *     first path_depth segments are kept (0 keeps all); the trailing '/' is
 *     dropped unless keep_trailing_slash; the root path is "/", so the key of
 *     "https://x/" and of an empty path is "x/"; ASCII case of the path is
 *     kept unless lowercase_path.
 *   Example, depth 1: "Shop.Example.COM" + "/shop/cart/42?id=7" ->
 *   "shop.example.com/shop"; depth 2 -> "shop.example.com/shop/cart".
 *
 * By kind:
 *   - traffic: site (and path in site+path mode);
 *   - behavior: the site alone in both modes (behaviour events carry no
 *     path), so conversions and revenue land on the site series;
 *   - annotation: the target, split at its first '/', normalised as site and
 *     path with the same rules (a bare site target stays a bare site).
 */
#ifndef TC_SERIESKEY_H
#define TC_SERIESKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"

/* Longest key produced; a buffer of TC_SERIESKEY_MAX + 1 bytes always fits. */
#define TC_SERIESKEY_MAX 255

typedef enum tc_serieskey_mode {
    TC_SERIESKEY_SITE = 0,      /* key = site */
    TC_SERIESKEY_SITE_PATH = 1, /* key = site + normalised path prefix */
} tc_serieskey_mode_t;

typedef struct tc_serieskey_config {
    tc_serieskey_mode_t mode;
    unsigned path_depth;      /* leading path segments kept; 0 = all */
    bool keep_trailing_slash; /* "/shop/" stays "/shop/" (depth permitting) */
    bool lowercase_path;      /* fold ASCII case of the path too */
} tc_serieskey_config_t;

/*
 * Writes the key of ev into buf (cap bytes), NUL-terminated, and its length
 * without the NUL into *len. Returns 0; TC_EMISSING_KEY if the site (target)
 * is empty; TC_EOVERSIZED if the key would exceed TC_SERIESKEY_MAX;
 * TC_ERANGE if cap is too small (*len then holds the length needed);
 * TC_EINVAL for an unknown kind or mode. Allocates nothing.
 */
int tc_serieskey_make(const tc_serieskey_config_t *cfg, const tc_event_t *ev, char *buf,
                      size_t cap, size_t *len);

/*
 * The same normalisation on explicit parts: site[0..site_len) and, when
 * path is non-NULL and the mode is site+path, path[0..path_len).
 */
int tc_serieskey_format(const tc_serieskey_config_t *cfg, const char *site, size_t site_len,
                        const char *path, size_t path_len, char *buf, size_t cap, size_t *len);

#endif
