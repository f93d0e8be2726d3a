/*
 * window.h - event-time tumbling buckets per series, with a watermark.
 *
 * Time is cut into buckets [k*w, (k+1)*w) of width w = bucket_ms (aligned to
 * the epoch). For every series the window aggregates, per bucket:
 *   requests      traffic events
 *   unique_users  distinct user ids (traffic and behavior events with a
 *                 non-empty user_id), HyperLogLog estimate (hll.h)
 *   bytes         sum of traffic bytes
 *   errors        traffic events with status >= 500, or >= 400 when
 *                 errors_include_4xx (default: 5xx only, server errors are
 *                 what capacity planning cares about)
 *   conversions   behavior events of type purchase
 *   revenue       sum of the value of those purchases
 * Annotations are not aggregated (TC_EINVAL).
 *
 * Watermark W = (max event time seen) - lateness_ms. A bucket closes when W
 * reaches its end (start + w <= W). Closing is global: when W passes the end
 * of a bucket, every series that has been seen emits that bucket, zero-filled
 * if it had no events, so idle series keep producing buckets as long as
 * other series advance the watermark. A series first emits the bucket of its
 * earliest accepted event (no leading zero buckets before it was seen).
 * An event whose bucket is already closed is late: counted and dropped
 * (TC_ELATE). Events out of order within the lateness are aggregated into
 * their own bucket.
 *
 * Closed buckets are delivered to the callback in increasing bucket start;
 * for one bucket start, series in increasing index. The callback runs inside
 * tc_window_add / tc_window_advance / tc_window_flush and must not call back
 * into the same window. Each closed bucket also enters a ring of the last
 * `ring` closed buckets of its series, for rolling aggregates.
 *
 * Memory per series: (lateness_ms / bucket_ms + 2) open buckets of 104
 * bytes (counters and up to 12 sparse HyperLogLog registers) and `ring`
 * closed buckets of 56 bytes, allocated once when a series is first seen.
 * An open bucket that sees more than 12 distinct register updates borrows
 * a dense block of 2^hll_precision + 248 bytes from a pool shared by the
 * window and returns it when it closes, so dense memory follows the number
 * of busy buckets, not of series. The add path allocates nothing for a
 * known series except when the pool must grow past its previous peak (in
 * chunks of 64 blocks).
 *
 * Threads: one thread at a time per window.
 */
#ifndef TC_WINDOW_H
#define TC_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef struct tc_registry tc_registry_t;

/* Metrics of one bucket. */
typedef enum tc_metric {
    TC_METRIC_REQUESTS = 0,
    TC_METRIC_UNIQUE_USERS = 1,
    TC_METRIC_BYTES = 2,
    TC_METRIC_ERRORS = 3,
    TC_METRIC_CONVERSIONS = 4,
    TC_METRIC_REVENUE = 5,
} tc_metric_t;

#define TC_METRIC_COUNT 6

/* Returns "requests", "unique_users", "bytes", "errors", "conversions", "revenue", or NULL. */
const char *tc_metric_name(tc_metric_t m);

/* One closed bucket of one series. */
typedef struct tc_bucket {
    int64_t start_ms;      /* bucket start, ms since epoch; end = start + bucket_ms */
    uint64_t requests;
    uint64_t bytes;
    uint64_t errors;
    uint64_t conversions;
    double unique_users;   /* HLL estimate, 0 for an empty bucket */
    double revenue;
} tc_bucket_t;

/* Value of metric m of b as a double. */
double tc_bucket_metric(const tc_bucket_t *b, tc_metric_t m);

typedef struct tc_window_config {
    int64_t bucket_ms;        /* width, > 0 */
    int64_t lateness_ms;      /* allowed lateness, >= 0 */
    unsigned ring;            /* closed buckets kept per series, >= 1 */
    unsigned hll_precision;   /* TC_HLL_MIN_P..TC_HLL_MAX_P; 0 = 12 */
    size_t max_series;        /* series indices are < max_series, >= 1 */
    bool errors_include_4xx;  /* count 4xx as errors too */
    uint8_t hll_key[16];      /* SipHash key for user ids (zeros are fine:
                                 it only needs to be stable across restarts) */
} tc_window_config_t;

/*
 * Called for each closed bucket. key/key_len come from the registry given
 * to tc_window_new (NULL, 0 without one). b is valid during the call only.
 */
typedef void (*tc_window_close_fn)(void *ud, uint32_t series, const char *key, size_t key_len,
                                   const tc_bucket_t *b);

typedef struct tc_window tc_window_t;

/* Counters, for metrics. */
typedef struct tc_window_stats {
    uint64_t accepted;        /* events aggregated */
    uint64_t late;            /* events dropped as late */
    uint64_t closed;          /* buckets delivered (all series) */
    size_t series;            /* series seen */
    bool started;             /* an event (or advance) has been seen */
    int64_t max_event_ms;     /* largest event time seen (valid if started) */
    int64_t watermark_ms;     /* max_event_ms - lateness_ms (valid if started) */
    int64_t closed_until_ms;  /* every bucket ending at or before this is closed */
} tc_window_stats_t;

/*
 * Creates a window. names (optional, not owned, must outlive the window)
 * supplies keys to the callback. on_close may be NULL. Returns NULL on bad
 * configuration or no memory.
 */
tc_window_t *tc_window_new(const tc_window_config_t *cfg, const tc_registry_t *names,
                           tc_window_close_fn on_close, void *ud);

/* Frees the window; NULL is a no-op. Open buckets are discarded (flush first). */
void tc_window_free(tc_window_t *w);

/*
 * Aggregates ev into series (an index from the registry, < max_series),
 * then advances the watermark, which may close buckets (callback). Returns
 * 0; TC_ELATE if ev's bucket is closed (counted, nothing changed);
 * TC_EINVAL for an annotation or series >= max_series (nothing changed);
 * TC_ENOMEM if memory for a new series or a dense register block could not
 * be had (nothing changed, no bucket closed).
 */
int tc_window_add(tc_window_t *w, uint32_t series, const tc_event_t *ev);

/*
 * Advances as if an event at t_ms had been seen (no series touched): used
 * to let time pass on idle input. Closes buckets like tc_window_add.
 */
void tc_window_advance(tc_window_t *w, int64_t t_ms);

/*
 * Closes every bucket that holds an event, i.e. up to and including the
 * bucket of the max event time, regardless of lateness (shutdown). Later
 * events in those buckets are late.
 */
void tc_window_flush(tc_window_t *w);

/* Fills *st with the counters and times. */
void tc_window_stats(const tc_window_t *w, tc_window_stats_t *st);

/*
 * Rolling aggregate of metric m over the last k closed buckets of series
 * (newest first). *n gets the number of buckets used (min(k, closed so far,
 * ring)); *sum and *mean (either may be NULL) their sum and mean (0 if
 * n == 0). For unique_users this sums per-bucket estimates (an upper bound
 * of the distinct users over the span, not a union). Returns TC_EINVAL for
 * a series not seen or bad m.
 */
int tc_window_rolling(const tc_window_t *w, uint32_t series, tc_metric_t m, unsigned k,
                      size_t *n, double *sum, double *mean);

/*
 * Copies the i-th newest closed bucket of series (i = 0 newest) into *b.
 * TC_ENOTFOUND if fewer are kept.
 */
int tc_window_closed(const tc_window_t *w, uint32_t series, unsigned i, tc_bucket_t *b);

/*
 * Serialises the whole state (times, counters, every series' open buckets
 * with HLL registers, closed rings, and the keys of the attached registry
 * when there is one) as a tidecast.v1.WindowState message
 * (proto/tidecast/v1/window.proto). *buf is malloc'd; the caller frees it.
 * Returns 0 or TC_ENOMEM.
 */
int tc_window_snapshot(const tc_window_t *w, uint8_t **buf, size_t *len);

/*
 * Restores a snapshot into a window created with the same configuration
 * and no series yet. When the snapshot has keys and registry is non-NULL,
 * they are interned into it (it must be empty, so indices match). Returns
 * 0; TC_EPARSE (not a WindowState); TC_EVERSION; TC_EINVAL (configuration
 * differs, window not fresh, registry not empty); TC_ECORRUPT
 * (inconsistent content); TC_ENOMEM. On error the window is left fresh.
 */
int tc_window_restore(tc_window_t *w, tc_registry_t *registry, const uint8_t *buf, size_t len);

#endif
