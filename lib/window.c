/*
 * window.c - event-time tumbling buckets with a watermark (window.h).
 *
 * Let w = bucket_ms, L = lateness_ms, T = max event time seen. The
 * watermark is W = T - L and the closing frontier C = floor(W / w) * w: all
 * buckets [s, s + w) with s < C have ended at or before W and are closed;
 * the bucket starting at C ends after W and is open. An event at t belongs
 * to bucket floor(t / w) * w and is late iff that start is < C.
 *
 * Every accepted event lies in [C, T] and T < C + w + L, so at most
 * floor(L / w) + 2 buckets of a series are open at once; each series keeps
 * that many open slots addressed by (bucket number mod n_open), so the add
 * path is an index computation and a few additions. A slot is recycled
 * only after its bucket closed (the slot count guarantees it).
 *
 * When C advances, buckets close one width step at a time in increasing
 * start; per step every series seen (and born at or before that start)
 * emits the bucket, zero-filled when its slot holds other data or none.
 *
 * Unique users: most buckets of most series see few users, so a slot keeps
 * its HyperLogLog registers sparsely, as up to SPARSE_MAX (index, rank)
 * pairs inline (the registers that are non-zero; the estimate is the same
 * as from the dense array, Heule et al. 2013 sec. 5.3 use the same idea).
 * Past that the slot takes a dense block (2^p registers plus their
 * histogram, so the close-time estimate is O(64), see hll.h) from a pool
 * shared by the window; blocks return to the pool when their bucket closes.
 * Memory thus follows the number of busy (series, bucket) pairs, not the
 * number of series. The pool grows in chunks (allocation on the add path
 * only when the number of busy buckets exceeds its past peak).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hll.h"
#include "registry.h"
#include "tidecast/v1/window.pb-c.h"
#include "window.h"

#define SNAPSHOT_VERSION 1
#define SLOT_FREE INT64_MIN
#define SPARSE_MAX 12
#define POOL_CHUNK_BLOCKS 64
#define NO_BLOCK UINT32_MAX

typedef struct open_slot {
    int64_t start; /* SLOT_FREE when holding no bucket */
    uint64_t requests, bytes, errors, conversions;
    double revenue;
    uint32_t dense;   /* pool block of the registers, or NO_BLOCK (sparse) */
    uint32_t nsparse; /* sparse pairs in use */
    uint32_t sparse[SPARSE_MAX]; /* (register index << 8) | rank, distinct indices */
} open_slot_t;

typedef struct series {
    int64_t first;       /* start of the earliest bucket with data */
    uint32_t n_closed;   /* buckets in the ring */
    uint32_t head;       /* next ring position to write */
    open_slot_t *open;   /* n_open slots */
    tc_bucket_t *closed; /* ring */
} series_t;

/* Dense register blocks: m registers followed by TC_HLL_HIST_LEN counts. */
typedef struct pool {
    uint8_t **chunks;
    size_t nchunks;
    size_t block_size;
    uint32_t *free_list; /* stack of free block numbers */
    size_t nfree;
    size_t nblocks;
} pool_t;

struct tc_window {
    tc_window_config_t cfg;
    unsigned n_open;
    size_t m; /* HLL registers per dense block */
    const tc_registry_t *names;
    tc_window_close_fn on_close;
    void *ud;
    bool started;
    int64_t max_t;
    int64_t closed_until;
    uint64_t accepted, late, closed;
    series_t **series; /* max_series pointers, NULL = not seen */
    size_t hi;         /* 1 + highest index seen */
    size_t nseen;
    pool_t pool;
};

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t bucket_of(const tc_window_t *w, int64_t t)
{
    return floordiv(t, w->cfg.bucket_ms) * w->cfg.bucket_ms;
}

static unsigned slot_of(const tc_window_t *w, int64_t start)
{
    int64_t k = floordiv(start, w->cfg.bucket_ms) % (int64_t)w->n_open;
    return (unsigned)(k < 0 ? k + (int64_t)w->n_open : k);
}

const char *tc_metric_name(tc_metric_t m)
{
    static const char *const names[TC_METRIC_COUNT] = {
        "requests", "unique_users", "bytes", "errors", "conversions", "revenue"};
    if ((int)m < 0 || (int)m >= TC_METRIC_COUNT)
        return NULL;
    return names[m];
}

double tc_bucket_metric(const tc_bucket_t *b, tc_metric_t m)
{
    switch (m) {
    case TC_METRIC_REQUESTS:
        return (double)b->requests;
    case TC_METRIC_UNIQUE_USERS:
        return b->unique_users;
    case TC_METRIC_BYTES:
        return (double)b->bytes;
    case TC_METRIC_ERRORS:
        return (double)b->errors;
    case TC_METRIC_CONVERSIONS:
        return (double)b->conversions;
    case TC_METRIC_REVENUE:
        return b->revenue;
    }
    return 0.0;
}

tc_window_t *tc_window_new(const tc_window_config_t *cfg, const tc_registry_t *names,
                           tc_window_close_fn on_close, void *ud)
{
    if (!cfg || cfg->bucket_ms <= 0 || cfg->lateness_ms < 0 || cfg->ring < 1 ||
        cfg->ring > (1u << 20) || cfg->max_series < 1 || cfg->max_series > ((size_t)1 << 31))
        return NULL;
    unsigned p = cfg->hll_precision ? cfg->hll_precision : 12;
    if (p < TC_HLL_MIN_P || p > TC_HLL_MAX_P)
        return NULL;
    int64_t n_open = cfg->lateness_ms / cfg->bucket_ms + 2;
    if (n_open > 4096)
        return NULL;
    tc_window_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->cfg = *cfg;
    w->cfg.hll_precision = p;
    w->n_open = (unsigned)n_open;
    w->m = tc_hll_size(p);
    w->pool.block_size = (w->m + TC_HLL_HIST_LEN * sizeof(uint32_t) + 15) & ~(size_t)15;
    w->names = names;
    w->on_close = on_close;
    w->ud = ud;
    w->series = calloc(cfg->max_series, sizeof(*w->series));
    if (!w->series) {
        free(w);
        return NULL;
    }
    return w;
}

/* ---------------------------------------------------------- register pool */

static uint8_t *block_regs(const tc_window_t *w, uint32_t b)
{
    return w->pool.chunks[b / POOL_CHUNK_BLOCKS] + (size_t)(b % POOL_CHUNK_BLOCKS) * w->pool.block_size;
}

static uint32_t *block_hist(const tc_window_t *w, uint32_t b)
{
    return (uint32_t *)(block_regs(w, b) + w->m);
}

/* Makes sure at least one block is free, growing the pool by a chunk. */
static int pool_reserve(tc_window_t *w)
{
    pool_t *pl = &w->pool;
    if (!pl->nfree) {
        uint8_t **chunks = realloc(pl->chunks, (pl->nchunks + 1) * sizeof(*chunks));
        if (!chunks)
            return TC_ENOMEM;
        pl->chunks = chunks;
        uint32_t *fl = realloc(pl->free_list, (pl->nblocks + POOL_CHUNK_BLOCKS) * sizeof(*fl));
        if (!fl)
            return TC_ENOMEM;
        pl->free_list = fl;
        uint8_t *c = calloc(POOL_CHUNK_BLOCKS, pl->block_size);
        if (!c)
            return TC_ENOMEM;
        pl->chunks[pl->nchunks++] = c;
        for (size_t i = POOL_CHUNK_BLOCKS; i-- > 0;)
            pl->free_list[pl->nfree++] = (uint32_t)(pl->nblocks + i);
        pl->nblocks += POOL_CHUNK_BLOCKS;
        for (size_t i = 0; i < POOL_CHUNK_BLOCKS; i++)
            block_hist(w, (uint32_t)(pl->nblocks - POOL_CHUNK_BLOCKS + i))[0] = (uint32_t)w->m;
    }
    return 0;
}

/* Takes an empty dense block (registers zero, histogram {m, 0, ...}). */
static int pool_get(tc_window_t *w, uint32_t *out)
{
    if (pool_reserve(w))
        return TC_ENOMEM;
    *out = w->pool.free_list[--w->pool.nfree];
    return 0;
}

/* Returns block b to the pool, cleared. */
static void pool_put(tc_window_t *w, uint32_t b)
{
    memset(block_regs(w, b), 0, w->pool.block_size);
    block_hist(w, b)[0] = (uint32_t)w->m;
    w->pool.free_list[w->pool.nfree++] = b;
}

/* ------------------------------------------------------------------ series */

/* Empties slot o, returning its dense block if it has one. */
static void slot_clear(tc_window_t *w, open_slot_t *o)
{
    if (o->dense != NO_BLOCK)
        pool_put(w, o->dense);
    memset(o, 0, sizeof(*o));
    o->start = SLOT_FREE;
    o->dense = NO_BLOCK;
}

static void free_series(tc_window_t *w)
{
    for (size_t i = 0; i < w->hi; i++) {
        series_t *s = w->series[i];
        if (!s)
            continue;
        for (unsigned k = 0; k < w->n_open; k++)
            slot_clear(w, &s->open[k]);
        free(s);
        w->series[i] = NULL;
    }
    w->hi = 0;
    w->nseen = 0;
}

void tc_window_free(tc_window_t *w)
{
    if (!w)
        return;
    free_series(w);
    for (size_t i = 0; i < w->pool.nchunks; i++)
        free(w->pool.chunks[i]);
    free(w->pool.chunks);
    free(w->pool.free_list);
    free(w->series);
    free(w);
}

/* One allocation per series: header, open slots, ring. */
static series_t *series_new(tc_window_t *w, int64_t first)
{
    size_t n_open = w->n_open;
    series_t *s = calloc(1, sizeof(series_t) + n_open * sizeof(open_slot_t) +
                                w->cfg.ring * sizeof(tc_bucket_t));
    if (!s)
        return NULL;
    s->first = first;
    s->open = (open_slot_t *)(s + 1);
    s->closed = (tc_bucket_t *)(s->open + n_open);
    for (size_t i = 0; i < n_open; i++) {
        s->open[i].start = SLOT_FREE;
        s->open[i].dense = NO_BLOCK;
    }
    return s;
}

static int series_get(tc_window_t *w, uint32_t idx, int64_t first, series_t **out)
{
    series_t *s = w->series[idx];
    if (!s) {
        s = series_new(w, first);
        if (!s)
            return TC_ENOMEM;
        w->series[idx] = s;
        w->nseen++;
        if (idx + 1 > w->hi)
            w->hi = idx + 1;
    }
    *out = s;
    return 0;
}

static void ring_push(const tc_window_t *w, series_t *s, const tc_bucket_t *b)
{
    s->closed[s->head] = *b;
    s->head = (s->head + 1) % w->cfg.ring;
    if (s->n_closed < w->cfg.ring)
        s->n_closed++;
}

/* Distinct-user estimate of slot o. */
static double slot_users(const tc_window_t *w, const open_slot_t *o)
{
    if (o->dense != NO_BLOCK)
        return tc_hll_estimate_histogram(w->cfg.hll_precision, block_hist(w, o->dense));
    if (!o->nsparse)
        return 0.0;
    uint32_t hist[TC_HLL_HIST_LEN] = {0};
    hist[0] = (uint32_t)(w->m - o->nsparse);
    for (uint32_t i = 0; i < o->nsparse; i++)
        hist[o->sparse[i] & 0xff]++;
    return tc_hll_estimate_histogram(w->cfg.hll_precision, hist);
}

/* Raises register idx of slot o to rank, going dense when the sparse pairs
 * run out. Returns 0, or TC_ENOMEM (slot unchanged) if no block is free:
 * tc_window_add reserves one beforehand so that it cannot fail here. */
static int slot_raise(tc_window_t *w, open_slot_t *o, uint32_t idx, uint8_t rank)
{
    if (o->dense == NO_BLOCK) {
        for (uint32_t i = 0; i < o->nsparse; i++) {
            if (o->sparse[i] >> 8 == idx) {
                if ((o->sparse[i] & 0xff) < rank)
                    o->sparse[i] = idx << 8 | rank;
                return 0;
            }
        }
        if (o->nsparse < SPARSE_MAX) {
            o->sparse[o->nsparse++] = idx << 8 | rank;
            return 0;
        }
        uint32_t b;
        if (pool_get(w, &b))
            return TC_ENOMEM;
        tc_hll_t h = {(uint8_t)w->cfg.hll_precision, block_regs(w, b)};
        for (uint32_t i = 0; i < o->nsparse; i++)
            tc_hll_raise(&h, o->sparse[i] >> 8, (uint8_t)(o->sparse[i] & 0xff), block_hist(w, b));
        o->dense = b;
        o->nsparse = 0;
    }
    tc_hll_t h = {(uint8_t)w->cfg.hll_precision, block_regs(w, o->dense)};
    tc_hll_raise(&h, idx, rank, block_hist(w, o->dense));
    return 0;
}

/* Closes bucket [start, start + w) for every series. */
static void close_step(tc_window_t *w, int64_t start)
{
    unsigned k = slot_of(w, start);
    for (size_t i = 0; i < w->hi; i++) {
        series_t *s = w->series[i];
        if (!s || start < s->first)
            continue;
        tc_bucket_t b;
        memset(&b, 0, sizeof(b));
        b.start_ms = start;
        open_slot_t *o = &s->open[k];
        if (o->start == start) {
            b.requests = o->requests;
            b.bytes = o->bytes;
            b.errors = o->errors;
            b.conversions = o->conversions;
            b.revenue = o->revenue;
            b.unique_users = slot_users(w, o);
            slot_clear(w, o);
        }
        ring_push(w, s, &b);
        w->closed++;
        if (w->on_close) {
            size_t klen = 0;
            const char *key = w->names ? tc_registry_key(w->names, (uint32_t)i, &klen) : NULL;
            w->on_close(w->ud, (uint32_t)i, key, key ? klen : 0, &b);
        }
    }
}

static void close_until(tc_window_t *w, int64_t target)
{
    while (w->closed_until < target) {
        close_step(w, w->closed_until);
        w->closed_until += w->cfg.bucket_ms;
    }
}

static void start_at(tc_window_t *w, int64_t t)
{
    w->started = true;
    w->max_t = t;
    w->closed_until = bucket_of(w, t - w->cfg.lateness_ms);
}

static void raise_max(tc_window_t *w, int64_t t)
{
    if (t <= w->max_t)
        return;
    w->max_t = t;
    close_until(w, bucket_of(w, t - w->cfg.lateness_ms));
}

int tc_window_add(tc_window_t *w, uint32_t series, const tc_event_t *ev)
{
    if ((ev->kind != TC_EVENT_TRAFFIC && ev->kind != TC_EVENT_BEHAVIOR) ||
        series >= w->cfg.max_series)
        return TC_EINVAL;
    int64_t t = ev->time_ms;
    int64_t start = bucket_of(w, t);
    if (w->started && start < w->closed_until) {
        w->late++;
        return TC_ELATE;
    }
    /* Everything that can fail comes before any change: a free dense block
     * (the slot may need one; closing buckets below only frees more) and
     * the series' own memory. */
    if (ev->user_id.len && pool_reserve(w))
        return TC_ENOMEM;
    series_t *s;
    int rc = series_get(w, series, start, &s);
    if (rc)
        return rc;
    if (start < s->first)
        s->first = start;
    /* Advance first: closing the buckets the new maximum passes frees the
     * slot this event's bucket may share with an older bucket. */
    if (!w->started)
        start_at(w, t);
    else
        raise_max(w, t);
    open_slot_t *o = &s->open[slot_of(w, start)];
    if (o->start != start)
        o->start = start; /* the slot is free (see the header comment) */
    if (ev->user_id.len) {
        uint32_t idx;
        uint8_t rank;
        tc_hll_split(w->cfg.hll_precision,
                     tc_hll_hash(ev->user_id.ptr, ev->user_id.len, w->cfg.hll_key), &idx, &rank);
        slot_raise(w, o, idx, rank); /* cannot fail: a block is reserved */
    }
    if (ev->kind == TC_EVENT_TRAFFIC) {
        o->requests++;
        o->bytes += ev->traffic.bytes;
        if (ev->traffic.status >= 500 || (w->cfg.errors_include_4xx && ev->traffic.status >= 400))
            o->errors++;
    } else if (ev->behavior.type == TC_BEHAVIOR_PURCHASE) {
        o->conversions++;
        o->revenue += ev->behavior.value;
    }
    w->accepted++;
    return 0;
}

void tc_window_advance(tc_window_t *w, int64_t t_ms)
{
    if (!w->started) {
        start_at(w, t_ms);
        return;
    }
    raise_max(w, t_ms);
}

void tc_window_flush(tc_window_t *w)
{
    if (!w->started)
        return;
    close_until(w, bucket_of(w, w->max_t) + w->cfg.bucket_ms);
}

void tc_window_stats(const tc_window_t *w, tc_window_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->accepted = w->accepted;
    st->late = w->late;
    st->closed = w->closed;
    st->series = w->nseen;
    st->started = w->started;
    if (w->started) {
        st->max_event_ms = w->max_t;
        st->watermark_ms = w->max_t - w->cfg.lateness_ms;
        st->closed_until_ms = w->closed_until;
    }
}

int tc_window_closed(const tc_window_t *w, uint32_t series, unsigned i, tc_bucket_t *b)
{
    if (series >= w->hi || !w->series[series])
        return TC_ENOTFOUND;
    const series_t *s = w->series[series];
    if (i >= s->n_closed)
        return TC_ENOTFOUND;
    unsigned pos = (s->head + w->cfg.ring - 1 - i) % w->cfg.ring;
    *b = s->closed[pos];
    return 0;
}

int tc_window_rolling(const tc_window_t *w, uint32_t series, tc_metric_t m, unsigned k,
                      size_t *n, double *sum, double *mean)
{
    if (series >= w->hi || !w->series[series] || !tc_metric_name(m))
        return TC_EINVAL;
    const series_t *s = w->series[series];
    unsigned use = k < s->n_closed ? k : s->n_closed;
    double acc = 0.0;
    for (unsigned i = 0; i < use; i++) {
        unsigned pos = (s->head + w->cfg.ring - 1 - i) % w->cfg.ring;
        acc += tc_bucket_metric(&s->closed[pos], m);
    }
    if (n)
        *n = use;
    if (sum)
        *sum = acc;
    if (mean)
        *mean = use ? acc / use : 0.0;
    return 0;
}

/* ------------------------------------------------------------------ snapshot */

static void values_out(Tidecast__V1__BucketValues *v, const tc_bucket_t *b)
{
    tidecast__v1__bucket_values__init(v);
    v->start_ms = b->start_ms;
    v->requests = b->requests;
    v->bytes = b->bytes;
    v->errors = b->errors;
    v->conversions = b->conversions;
    v->unique_users = b->unique_users;
    v->revenue = b->revenue;
}

static void values_in(tc_bucket_t *b, const Tidecast__V1__BucketValues *v)
{
    b->start_ms = v->start_ms;
    b->requests = v->requests;
    b->bytes = v->bytes;
    b->errors = v->errors;
    b->conversions = v->conversions;
    b->unique_users = v->unique_users;
    b->revenue = v->revenue;
}

/*
 * The message tree is built over a few flat arrays (one per message type)
 * so that building and freeing it is a handful of allocations.
 */
int tc_window_snapshot(const tc_window_t *w, uint8_t **buf, size_t *len)
{
    int rc = TC_ENOMEM;
    size_t n_open_total = 0, n_closed_total = 0;
    for (size_t i = 0; i < w->hi; i++) {
        const series_t *s = w->series[i];
        if (!s)
            continue;
        n_closed_total += s->n_closed;
        for (unsigned k = 0; k < w->n_open; k++)
            if (s->open[k].start != SLOT_FREE)
                n_open_total++;
    }
    size_t nkeys = w->names ? tc_registry_count(w->names) : 0;

    Tidecast__V1__WindowState st;
    tidecast__v1__window_state__init(&st);
    Tidecast__V1__SeriesWindowState *ser = calloc(w->nseen + 1, sizeof(*ser));
    Tidecast__V1__SeriesWindowState **serp = calloc(w->nseen + 1, sizeof(*serp));
    Tidecast__V1__OpenBucketState *opn = calloc(n_open_total + 1, sizeof(*opn));
    Tidecast__V1__OpenBucketState **opnp = calloc(n_open_total + 1, sizeof(*opnp));
    Tidecast__V1__BucketValues *vals = calloc(n_open_total + n_closed_total + 1, sizeof(*vals));
    Tidecast__V1__BucketValues **valp = calloc(n_closed_total + 1, sizeof(*valp));
    ProtobufCBinaryData *keys = calloc(nkeys + 1, sizeof(*keys));
    uint8_t *out = NULL;
    if (!ser || !serp || !opn || !opnp || !vals || !valp || !keys)
        goto out_free;

    st.version = SNAPSHOT_VERSION;
    st.bucket_ms = w->cfg.bucket_ms;
    st.lateness_ms = w->cfg.lateness_ms;
    st.ring = w->cfg.ring;
    st.hll_precision = w->cfg.hll_precision;
    st.errors_include_4xx = w->cfg.errors_include_4xx;
    st.started = w->started;
    st.max_event_ms = w->max_t;
    st.closed_until_ms = w->closed_until;
    st.accepted = w->accepted;
    st.late = w->late;
    st.closed = w->closed;

    size_t si = 0, oi = 0, vi = 0, ci = 0;
    for (size_t i = 0; i < w->hi; i++) {
        const series_t *s = w->series[i];
        if (!s)
            continue;
        Tidecast__V1__SeriesWindowState *x = &ser[si];
        tidecast__v1__series_window_state__init(x);
        x->index = (uint32_t)i;
        x->first_bucket_ms = s->first;
        x->open = &opnp[oi];
        for (unsigned k = 0; k < w->n_open; k++) {
            const open_slot_t *o = &s->open[k];
            if (o->start == SLOT_FREE)
                continue;
            Tidecast__V1__OpenBucketState *ob = &opn[oi];
            tidecast__v1__open_bucket_state__init(ob);
            tc_bucket_t b = {o->start, o->requests, o->bytes, o->errors, o->conversions, 0.0,
                             o->revenue};
            values_out(&vals[vi], &b);
            ob->values = &vals[vi++];
            if (o->dense != NO_BLOCK) {
                ob->hll.data = block_regs(w, o->dense);
                ob->hll.len = w->m;
            } else if (o->nsparse) {
                ob->hll_sparse = (uint32_t *)o->sparse;
                ob->n_hll_sparse = o->nsparse;
            }
            opnp[oi++] = ob;
            x->n_open++;
        }
        x->closed = &valp[ci];
        for (unsigned j = s->n_closed; j-- > 0;) { /* oldest first */
            unsigned pos = (s->head + w->cfg.ring - 1 - j) % w->cfg.ring;
            values_out(&vals[vi], &s->closed[pos]);
            valp[ci++] = &vals[vi++];
            x->n_closed++;
        }
        serp[si++] = x;
    }
    st.n_series = si;
    st.series = serp;
    for (size_t i = 0; i < nkeys; i++) {
        size_t kl;
        const char *k = tc_registry_key(w->names, (uint32_t)i, &kl);
        keys[i].data = (uint8_t *)k;
        keys[i].len = kl;
    }
    st.n_keys = nkeys;
    st.keys = keys;

    size_t n = tidecast__v1__window_state__get_packed_size(&st);
    out = malloc(n ? n : 1);
    if (!out)
        goto out_free;
    tidecast__v1__window_state__pack(&st, out);
    *buf = out;
    *len = n;
    rc = 0;

out_free:
    free(keys);
    free(valp);
    free(vals);
    free(opnp);
    free(opn);
    free(serp);
    free(ser);
    return rc;
}

static void reset_fresh(tc_window_t *w)
{
    free_series(w);
    w->started = false;
    w->max_t = w->closed_until = 0;
    w->accepted = w->late = w->closed = 0;
}

static int restore_series(tc_window_t *w, const Tidecast__V1__SeriesWindowState *x)
{
    if (x->index >= w->cfg.max_series || w->series[x->index] || x->n_closed > w->cfg.ring ||
        x->n_open > w->n_open)
        return TC_ECORRUPT;
    series_t *s;
    int rc = series_get(w, x->index, x->first_bucket_ms, &s);
    if (rc)
        return rc;
    for (size_t j = 0; j < x->n_open; j++) {
        const Tidecast__V1__OpenBucketState *ob = x->open[j];
        if (!ob->values || ob->values->start_ms % w->cfg.bucket_ms != 0 ||
            (ob->hll.len != 0 && ob->hll.len != w->m) || ob->values->start_ms < w->closed_until)
            return TC_ECORRUPT;
        unsigned k = slot_of(w, ob->values->start_ms);
        open_slot_t *o = &s->open[k];
        if (o->start != SLOT_FREE)
            return TC_ECORRUPT;
        tc_bucket_t b;
        values_in(&b, ob->values);
        o->start = b.start_ms;
        o->requests = b.requests;
        o->bytes = b.bytes;
        o->errors = b.errors;
        o->conversions = b.conversions;
        o->revenue = b.revenue;
        if (ob->hll.len && ob->n_hll_sparse)
            return TC_ECORRUPT;
        if (ob->hll.len) {
            for (size_t r = 0; r < w->m; r++)
                if (ob->hll.data[r] > 65 - w->cfg.hll_precision)
                    return TC_ECORRUPT;
            uint32_t blk;
            if (pool_get(w, &blk))
                return TC_ENOMEM;
            o->dense = blk;
            tc_hll_t h = {(uint8_t)w->cfg.hll_precision, block_regs(w, blk)};
            memcpy(h.regs, ob->hll.data, w->m);
            tc_hll_histogram(&h, block_hist(w, blk));
        }
        if (ob->n_hll_sparse > SPARSE_MAX)
            return TC_ECORRUPT;
        for (size_t r = 0; r < ob->n_hll_sparse; r++) {
            uint32_t v = ob->hll_sparse[r], idx = v >> 8, rank = v & 0xff;
            if (idx >= w->m || rank < 1 || rank > 65 - w->cfg.hll_precision)
                return TC_ECORRUPT;
            for (size_t q = 0; q < r; q++)
                if (ob->hll_sparse[q] >> 8 == idx)
                    return TC_ECORRUPT;
            o->sparse[o->nsparse++] = v;
        }
    }
    for (size_t j = 0; j < x->n_closed; j++) {
        tc_bucket_t b;
        values_in(&b, x->closed[j]);
        ring_push(w, s, &b);
    }
    return 0;
}

int tc_window_restore(tc_window_t *w, tc_registry_t *registry, const uint8_t *buf, size_t len)
{
    if (w->started || w->nseen)
        return TC_EINVAL;
    Tidecast__V1__WindowState *st = tidecast__v1__window_state__unpack(NULL, len, buf);
    if (!st)
        return TC_EPARSE;
    int rc = 0;
    if (st->version != SNAPSHOT_VERSION) {
        rc = TC_EVERSION;
        goto out_free;
    }
    if (st->bucket_ms != w->cfg.bucket_ms || st->lateness_ms != w->cfg.lateness_ms ||
        st->ring != w->cfg.ring || st->hll_precision != w->cfg.hll_precision ||
        st->errors_include_4xx != w->cfg.errors_include_4xx) {
        rc = TC_EINVAL;
        goto out_free;
    }
    if (registry && st->n_keys && tc_registry_count(registry) != 0) {
        rc = TC_EINVAL;
        goto out_free;
    }
    if (st->started && st->closed_until_ms % w->cfg.bucket_ms != 0) {
        rc = TC_ECORRUPT;
        goto out_free;
    }
    w->started = st->started;
    w->max_t = st->max_event_ms;
    w->closed_until = st->closed_until_ms;
    w->accepted = st->accepted;
    w->late = st->late;
    w->closed = st->closed;
    for (size_t i = 0; i < st->n_series; i++)
        if ((rc = restore_series(w, st->series[i])))
            goto out_reset;
    if (registry) {
        for (size_t i = 0; i < st->n_keys; i++) {
            uint32_t idx;
            bool added;
            rc = tc_registry_intern(registry, (const char *)st->keys[i].data, st->keys[i].len,
                                    &idx, &added);
            if (rc == 0 && (!added || idx != i))
                rc = TC_ECORRUPT;
            if (rc)
                goto out_reset;
        }
    }
    goto out_free;

out_reset:
    reset_fresh(w);
out_free:
    tidecast__v1__window_state__free_unpacked(st, NULL);
    return rc;
}
