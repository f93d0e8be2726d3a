/*
 * redis.h - the Redis adapter of tidecastd: one hiredis async connection on
 * the libuv loop (hiredis' libuv adapter), with a queue that survives
 * outages.
 *
 * This is the only module that includes hiredis. It offers the few commands
 * tidecast needs (HSET + EXPIRE, ZADD, XADD, SET, GET, DEL) as binary-safe
 * argv commands. Commands are not written one by one: they are formatted
 * into an in-memory queue and handed to the connection together on the next
 * tick (tc_redis_flush, also run by a timer), where they go out as one
 * pipelined write (FACTS.md: per-event round trips cost 60x).
 *
 * Nothing is lost when Redis goes away: a command leaves the queue only when
 * its reply has arrived. On a lost connection every unanswered command is
 * sent again after reconnection (backoff from 100 ms doubling to 5 s), so
 * idempotent commands (HSET, ZADD, SET, DEL, EXPIRE) are applied exactly
 * once in effect; an XADD whose reply was lost may be applied twice. The
 * queue is bounded only by the caller: tc_redis_backlog_bytes() says how big
 * it is so that consumption can be paused (tc_redis_conf_t.high_water).
 *
 * On every (re)connection AUTH (when a password is configured) and SELECT
 * (when db != 0) are sent first.
 *
 * @locality All functions and callbacks: the loop thread.
 */
#ifndef TC_DAEMON_REDIS_H
#define TC_DAEMON_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct tc_redis tc_redis_t;

typedef struct tc_redis_conf {
    const char *host;        /* default 127.0.0.1 */
    int port;                /* default 6379 */
    const char *username;    /* ACL user (AUTH user pass), NULL: AUTH pass */
    const char *password;    /* NULL: no AUTH */
    int db;                  /* SELECT db when != 0 */
    int flush_ms;            /* tick of the flush timer, default 20 */
    size_t high_water;       /* backlog bytes counted as "full", default 64 MiB */
} tc_redis_conf_t;

typedef enum { TC_REDIS_LOG_DEBUG, TC_REDIS_LOG_INFO, TC_REDIS_LOG_WARN, TC_REDIS_LOG_ERROR } tc_redis_level_t;

typedef struct tc_redis_hooks {
    void *ud;
    void (*log)(void *ud, tc_redis_level_t level, const char *msg);
} tc_redis_hooks_t;

/* Reply to tc_redis_set / tc_redis_get. For GET, data is NULL when the key
 * does not exist; rc is 0 or TC_EIO for an error reply (e.g. WRONGTYPE). */
typedef void (*tc_redis_done_fn)(void *ud, int rc, const void *data, size_t len);

typedef struct tc_redis_stats {
    uint64_t commands;        /* queued */
    uint64_t replies;         /* answered */
    uint64_t error_replies;
    uint64_t reconnects;
    uint64_t resent;          /* commands sent again after a lost connection */
    bool connected;
    size_t backlog;           /* commands queued or unanswered */
    size_t backlog_bytes;
} tc_redis_stats_t;

/* Creates the adapter and starts connecting. NULL only on allocation failure. */
tc_redis_t *tc_redis_new(uv_loop_t *loop, const tc_redis_conf_t *conf, const tc_redis_hooks_t *hooks);

/* Stops timers and the connection; unanswered commands are dropped (callers
 * wait with tc_redis_backlog() == 0 first). Run the loop once more, then free. */
void tc_redis_close(tc_redis_t *r);
void tc_redis_free(tc_redis_t *r);

/*
 * Queues one command from argv (binary-safe, argc >= 1). done may be NULL.
 * Returns 0 or TC_ENOMEM.
 */
int tc_redis_command(tc_redis_t *r, int argc, const char **argv, const size_t *argvlen,
                     tc_redis_done_fn done, void *ud);

/* HSET key f1 v1 ... (n pairs, NUL-terminated strings), then EXPIRE key ttl_s when ttl_s > 0. */
int tc_redis_hset(tc_redis_t *r, const char *key, const char *const *fields,
                  const char *const *values, int n, int ttl_s);
/* ZADD key score member. */
int tc_redis_zadd(tc_redis_t *r, const char *key, double score, const char *member);
/* XADD key MAXLEN ~ maxlen * f1 v1 ... (maxlen <= 0: unbounded). */
int tc_redis_xadd(tc_redis_t *r, const char *key, long maxlen, const char *const *fields,
                  const char *const *values, int n);
/* SET key blob; done is called once Redis has stored it. */
int tc_redis_set(tc_redis_t *r, const char *key, const void *blob, size_t len,
                 tc_redis_done_fn done, void *ud);
/* GET key; done gets the value (NULL if absent). */
int tc_redis_get(tc_redis_t *r, const char *key, tc_redis_done_fn done, void *ud);

/* Hands every queued command to the connection now (one pipelined write). */
void tc_redis_flush(tc_redis_t *r);

/* Commands queued or sent but unanswered, and their bytes. */
size_t tc_redis_backlog(const tc_redis_t *r);
size_t tc_redis_backlog_bytes(const tc_redis_t *r);
/* backlog_bytes >= high_water. */
bool tc_redis_full(const tc_redis_t *r);
bool tc_redis_connected(const tc_redis_t *r);
void tc_redis_stats(const tc_redis_t *r, tc_redis_stats_t *out);

#endif
