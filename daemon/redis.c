/*
 * redis.c - hiredis async connection on libuv with a lossless command queue.
 *
 * The queue is a doubly linked list of formatted commands in submission
 * order. `next_unsent` points at the first command not yet written on the
 * current connection; tc_redis_flush writes from there to the end with
 * redisAsyncFormattedCommand, and hiredis' libuv adapter sends them in one
 * write when the socket is writable. A reply removes its command from the
 * list (replies come in order on one connection, so removals are at the head
 * of the sent part). When the connection drops, hiredis answers every
 * unanswered command with a NULL reply, which we ignore: the commands stay
 * in the list, `next_unsent` goes back to the head, and after reconnection
 * they are written again.
 */
#include "daemon/redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "error.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* hiredis' libuv adapter ignores uv_poll errors (POLLERR stops the handle and
 * reports only a status), so a refused connect or a reset socket can go
 * unnoticed. Watchdogs: a connection attempt gets CONNECT_TIMEOUT_MS, and a
 * connection with unanswered commands but no reply for STALL_MS is dropped. */
#define CONNECT_TIMEOUT_MS 2000
#define STALL_MS 10000

typedef struct entry {
    struct entry *prev, *next;
    char *cmd;
    size_t len;
    tc_redis_done_fn done;
    void *ud;
    tc_redis_t *r;
    bool sent;
} entry_t;

struct tc_redis {
    uv_loop_t *loop;
    tc_redis_hooks_t hooks;
    char *host, *username, *password;
    int port, db;
    size_t high_water;
    redisAsyncContext *ac;
    bool connected, ready, closing;
    int setup_pending;
    uv_timer_t flush_timer, retry_timer;
    int handles_open;
    int backoff_ms;
    uint64_t connect_started, last_progress;
    entry_t *head, *tail, *next_unsent;
    size_t n, bytes;
    tc_redis_stats_t st;
};

static void say(tc_redis_t *r, tc_redis_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(tc_redis_t *r, tc_redis_level_t lvl, const char *fmt, ...)
{
    if (!r->hooks.log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->hooks.log(r->hooks.ud, lvl, buf);
}

static void connect_now(tc_redis_t *r);

static void on_retry(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule_reconnect(tc_redis_t *r)
{
    if (r->closing || uv_is_active((uv_handle_t *)&r->retry_timer))
        return;
    uv_timer_start(&r->retry_timer, on_retry, (uint64_t)r->backoff_ms, 0);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void unlink_entry(tc_redis_t *r, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        r->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        r->tail = e->prev;
    if (r->next_unsent == e)
        r->next_unsent = e->next;
    r->n--;
    r->bytes -= e->len;
    free(e->cmd);
    free(e);
}

/* Errors that say "not now" rather than "never": reconnect and resend. */
static bool retriable_error(const char *s)
{
    static const char *const prefixes[] = {"LOADING", "BUSY", "TRYAGAIN", "NOAUTH", "READONLY",
                                           "MASTERDOWN", "CLUSTERDOWN"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (!strncmp(s, prefixes[i], strlen(prefixes[i])))
            return true;
    return false;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    entry_t *e = privdata;
    redisReply *rep = reply;
    if (!rep)
        return; /* connection lost: the entry stays queued */
    tc_redis_t *r = e->r;
    int rc = 0;
    const void *data = NULL;
    size_t len = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (retriable_error(rep->str)) {
            say(r, TC_REDIS_LOG_WARN, "redis: %s; reconnecting", rep->str);
            redisAsyncDisconnect(ac);
            return;
        }
        r->st.error_replies++;
        say(r, TC_REDIS_LOG_ERROR, "redis: error reply: %s", rep->str);
        rc = TC_EIO;
    } else if (rep->type == REDIS_REPLY_STRING) {
        data = rep->str;
        len = rep->len;
    }
    r->st.replies++;
    r->last_progress = uv_now(r->loop);
    tc_redis_done_fn done = e->done;
    void *ud = e->ud;
    unlink_entry(r, e);
    if (done)
        done(ud, rc, data, len);
}

static void send_pending(tc_redis_t *r)
{
    if (r->next_unsent && !(r->head && r->head->sent))
        r->last_progress = uv_now(r->loop); /* the wait for replies starts now */
    while (r->next_unsent) {
        entry_t *e = r->next_unsent;
        if (redisAsyncFormattedCommand(r->ac, on_reply, e, e->cmd, e->len) != REDIS_OK)
            return;
        e->sent = true;
        r->next_unsent = e->next;
    }
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    tc_redis_t *r = privdata;
    redisReply *rep = reply;
    if (!rep)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        say(r, TC_REDIS_LOG_ERROR, "redis: connection setup failed: %s", rep->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (--r->setup_pending == 0) {
        r->ready = true;
        r->backoff_ms = BACKOFF_MIN_MS;
        say(r, TC_REDIS_LOG_INFO, "redis: connected to %s:%d, %zu command(s) queued", r->host,
            r->port, r->n);
        send_pending(r);
    }
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    tc_redis_t *r = ac->data;
    if (status != REDIS_OK) {
        say(r, TC_REDIS_LOG_WARN, "redis: connect to %s:%d failed: %s; retry in %d ms", r->host,
            r->port, ac->errstr, r->backoff_ms);
        r->ac = NULL; /* hiredis frees it */
        schedule_reconnect(r);
        return;
    }
    r->connected = true;
    r->st.connected = true;
    r->last_progress = uv_now(r->loop);
    r->setup_pending = 1;
    if (r->password) {
        r->setup_pending++;
        if (r->username)
            redisAsyncCommand(ac, on_setup_reply, r, "AUTH %s %s", r->username, r->password);
        else
            redisAsyncCommand(ac, on_setup_reply, r, "AUTH %s", r->password);
    }
    if (r->db) {
        r->setup_pending++;
        redisAsyncCommand(ac, on_setup_reply, r, "SELECT %d", r->db);
    }
    /* A PING closes the setup, so that `ready` needs at least one reply. */
    redisAsyncCommand(ac, on_setup_reply, r, "PING");
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    tc_redis_t *r = ac->data;
    r->ac = NULL;
    r->connected = r->ready = false;
    r->st.connected = false;
    size_t resend = 0;
    for (entry_t *e = r->head; e; e = e->next)
        if (e->sent) {
            e->sent = false;
            resend++;
        }
    r->st.resent += resend;
    r->next_unsent = r->head;
    if (r->closing)
        return;
    say(r, TC_REDIS_LOG_WARN, "redis: connection lost (%s); %zu unanswered command(s) kept",
        status == REDIS_OK ? "closed" : ac->errstr, resend);
    schedule_reconnect(r);
}

static void connect_now(tc_redis_t *r)
{
    if (r->closing || r->ac)
        return;
    r->st.reconnects++;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac) {
        schedule_reconnect(r);
        return;
    }
    if (ac->err) {
        say(r, TC_REDIS_LOG_WARN, "redis: connect to %s:%d: %s; retry in %d ms", r->host, r->port,
            ac->errstr, r->backoff_ms);
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->connect_started = uv_now(r->loop);
}

/* Drops a connection attempt or a connection that makes no progress. */
static void watchdog(tc_redis_t *r)
{
    if (!r->ac || r->closing)
        return;
    uint64_t now = uv_now(r->loop);
    if (!r->connected && now - r->connect_started > CONNECT_TIMEOUT_MS) {
        say(r, TC_REDIS_LOG_WARN, "redis: connect to %s:%d timed out; retry in %d ms", r->host,
            r->port, r->backoff_ms);
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    bool waiting = r->head && r->head->sent;
    if (r->connected && (waiting || !r->ready) && now - r->last_progress > STALL_MS) {
        say(r, TC_REDIS_LOG_WARN, "redis: no reply for %d ms; reconnecting", STALL_MS);
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac); /* on_disconnect keeps the commands and schedules */
    }
}

static void on_flush_timer(uv_timer_t *t)
{
    tc_redis_t *r = t->data;
    watchdog(r);
    tc_redis_flush(r);
}

tc_redis_t *tc_redis_new(uv_loop_t *loop, const tc_redis_conf_t *conf, const tc_redis_hooks_t *hooks)
{
    tc_redis_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->loop = loop;
    if (hooks)
        r->hooks = *hooks;
    r->host = strdup(conf->host ? conf->host : "127.0.0.1");
    r->username = conf->username ? strdup(conf->username) : NULL;
    r->password = conf->password && *conf->password ? strdup(conf->password) : NULL;
    if (!r->host || (conf->username && !r->username) ||
        (conf->password && *conf->password && !r->password)) {
        tc_redis_free(r);
        return NULL;
    }
    r->port = conf->port > 0 ? conf->port : 6379;
    r->db = conf->db;
    r->high_water = conf->high_water ? conf->high_water : (size_t)64 << 20;
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->flush_timer);
    uv_timer_init(loop, &r->retry_timer);
    r->flush_timer.data = r->retry_timer.data = r;
    r->handles_open = 2;
    int tick = conf->flush_ms > 0 ? conf->flush_ms : 20;
    uv_timer_start(&r->flush_timer, on_flush_timer, (uint64_t)tick, (uint64_t)tick);
    connect_now(r);
    return r;
}

static void on_timer_closed(uv_handle_t *h)
{
    tc_redis_t *r = h->data;
    r->handles_open--;
}

void tc_redis_close(tc_redis_t *r)
{
    if (!r || r->closing)
        return;
    r->closing = true;
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac); /* calls on_disconnect when connected */
    }
    uv_close((uv_handle_t *)&r->flush_timer, on_timer_closed);
    uv_close((uv_handle_t *)&r->retry_timer, on_timer_closed);
}

void tc_redis_free(tc_redis_t *r)
{
    if (!r)
        return;
    while (r->head)
        unlink_entry(r, r->head);
    free(r->host);
    free(r->username);
    free(r->password);
    free(r);
}

int tc_redis_command(tc_redis_t *r, int argc, const char **argv, const size_t *argvlen,
                     tc_redis_done_fn done, void *ud)
{
    entry_t *e = calloc(1, sizeof(*e));
    if (!e)
        return TC_ENOMEM;
    int len = redisFormatCommandArgv(&e->cmd, argc, argv, argvlen);
    if (len < 0) {
        free(e);
        return TC_ENOMEM;
    }
    e->len = (size_t)len;
    e->done = done;
    e->ud = ud;
    e->r = r;
    e->prev = r->tail;
    if (r->tail)
        r->tail->next = e;
    else
        r->head = e;
    r->tail = e;
    if (!r->next_unsent)
        r->next_unsent = e;
    r->n++;
    r->bytes += e->len;
    r->st.commands++;
    return 0;
}

int tc_redis_hset(tc_redis_t *r, const char *key, const char *const *fields,
                  const char *const *values, int n, int ttl_s)
{
    const char *stack[2 + 2 * 32];
    const char **argv = n <= 32 ? stack : malloc((size_t)(2 + 2 * n) * sizeof(*argv));
    if (!argv)
        return TC_ENOMEM;
    argv[0] = "HSET";
    argv[1] = key;
    for (int i = 0; i < n; i++) {
        argv[2 + 2 * i] = fields[i];
        argv[3 + 2 * i] = values[i];
    }
    int rc = tc_redis_command(r, 2 + 2 * n, argv, NULL, NULL, NULL);
    if (argv != stack)
        free((void *)argv);
    if (rc == 0 && ttl_s > 0) {
        char ttl[24];
        snprintf(ttl, sizeof(ttl), "%d", ttl_s);
        const char *ev[] = {"EXPIRE", key, ttl};
        rc = tc_redis_command(r, 3, ev, NULL, NULL, NULL);
    }
    return rc;
}

int tc_redis_zadd(tc_redis_t *r, const char *key, double score, const char *member)
{
    char s[32];
    snprintf(s, sizeof(s), "%.17g", score);
    const char *argv[] = {"ZADD", key, s, member};
    return tc_redis_command(r, 4, argv, NULL, NULL, NULL);
}

int tc_redis_xadd(tc_redis_t *r, const char *key, long maxlen, const char *const *fields,
                  const char *const *values, int n)
{
    const char *stack[6 + 2 * 32];
    const char **argv = n <= 32 ? stack : malloc((size_t)(6 + 2 * n) * sizeof(*argv));
    if (!argv)
        return TC_ENOMEM;
    int a = 0;
    char ml[24];
    argv[a++] = "XADD";
    argv[a++] = key;
    if (maxlen > 0) {
        snprintf(ml, sizeof(ml), "%ld", maxlen);
        argv[a++] = "MAXLEN";
        argv[a++] = "~";
        argv[a++] = ml;
    }
    argv[a++] = "*";
    for (int i = 0; i < n; i++) {
        argv[a++] = fields[i];
        argv[a++] = values[i];
    }
    int rc = tc_redis_command(r, a, argv, NULL, NULL, NULL);
    if (argv != stack)
        free((void *)argv);
    return rc;
}

int tc_redis_set(tc_redis_t *r, const char *key, const void *blob, size_t len,
                 tc_redis_done_fn done, void *ud)
{
    const char *argv[] = {"SET", key, blob};
    size_t lens[] = {3, strlen(key), len};
    return tc_redis_command(r, 3, argv, lens, done, ud);
}

int tc_redis_get(tc_redis_t *r, const char *key, tc_redis_done_fn done, void *ud)
{
    const char *argv[] = {"GET", key};
    return tc_redis_command(r, 2, argv, NULL, done, ud);
}

void tc_redis_flush(tc_redis_t *r)
{
    if (r->ac && r->ready)
        send_pending(r);
}

size_t tc_redis_backlog(const tc_redis_t *r)
{
    return r->n;
}

size_t tc_redis_backlog_bytes(const tc_redis_t *r)
{
    return r->bytes;
}

bool tc_redis_full(const tc_redis_t *r)
{
    return r->bytes >= r->high_water;
}

bool tc_redis_connected(const tc_redis_t *r)
{
    return r->ready;
}

void tc_redis_stats(const tc_redis_t *r, tc_redis_stats_t *out)
{
    *out = r->st;
    out->connected = r->ready;
    out->backlog = r->n;
    out->backlog_bytes = r->bytes;
}
