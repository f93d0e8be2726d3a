/*
 * Tests of daemon/redis against a real redis-server started by the test on a
 * free loopback port: pipelined commands arrive, values read back equal what
 * was written, AUTH and SELECT are applied, and commands queued while Redis
 * is down (or sent just before it died) are all applied after it comes back.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "daemon/redis.h"
#include "error.h"
#include "tests/test.h"

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    bind(s, (struct sockaddr *)&a, sizeof(a));
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static bool can_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

/* Starts redis-server on port (with a password if pass); returns its pid or -1. */
static pid_t start_redis(int port, const char *pass)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    const char *argv[16] = {"redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--loglevel", "warning"};
    int a = 11;
    if (pass) {
        argv[a++] = "--requirepass";
        argv[a++] = pass;
    }
    argv[a] = NULL;
    /* The server dies with the test process, even when a check returns early. */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int dn = open("/dev/null", O_RDWR);
        dup2(dn, 0);
        dup2(dn, 1);
        dup2(dn, 2);
        execvp("redis-server", (char **)argv);
        _exit(127);
    }
    for (int i = 0; i < 100 && !can_connect(port); i++)
        usleep(50000);
    return can_connect(port) ? pid : -1;
}

static void stop_redis(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

typedef struct {
    int got;
    int rc;
    char val[256];
    bool absent;
} reply_t;

static void on_done(void *ud, int rc, const void *data, size_t len)
{
    reply_t *r = ud;
    r->got++;
    r->rc = rc;
    r->absent = data == NULL;
    if (data) {
        size_t n = len < sizeof(r->val) - 1 ? len : sizeof(r->val) - 1;
        memcpy(r->val, data, n);
        r->val[n] = 0;
    }
}

typedef struct {
    uv_loop_t *loop;
    tc_redis_t *r;
    int ticks, max;
} wait_t;

static void on_tick(uv_timer_t *t)
{
    wait_t *w = t->data;
    if (tc_redis_backlog(w->r) == 0 || ++w->ticks > w->max)
        uv_stop(w->loop);
}

/* Runs the loop until every queued command is answered (or max_s). */
static void drain(uv_loop_t *loop, tc_redis_t *r, int max_s)
{
    uv_timer_t t;
    wait_t w = {loop, r, 0, max_s * 50};
    uv_timer_init(loop, &t);
    t.data = &w;
    uv_timer_start(&t, on_tick, 20, 20);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void run_for(uv_loop_t *loop, int ms)
{
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    while (uv_now(loop) < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
        uv_update_time(loop);
    }
}

static void log_hook(void *ud, tc_redis_level_t lvl, const char *msg)
{
    (void)ud;
    if (lvl >= TC_REDIS_LOG_ERROR || getenv("TC_TEST_VERBOSE"))
        fprintf(stderr, "  log: %s\n", msg);
}

static const tc_redis_hooks_t hooks = {.log = log_hook};

static void shut(uv_loop_t *loop, tc_redis_t *r)
{
    tc_redis_close(r);
    uv_run(loop, UV_RUN_DEFAULT);
    tc_redis_free(r);
}

TC_TEST(redis_pipelined_writes_read_back)
{
    int port = free_port();
    pid_t pid = start_redis(port, NULL);
    CHECK(pid > 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_redis_conf_t c = {.port = port};
    tc_redis_t *r = tc_redis_new(&loop, &c, &hooks);
    CHECK(r != NULL);
    const char *f[] = {"point", "lo80"};
    char key[64];
    for (int i = 0; i < 1000; i++) {
        char v[32];
        snprintf(key, sizeof(key), "fc:%d", i);
        snprintf(v, sizeof(v), "%d.5", i);
        const char *vals[] = {v, "1"};
        CHECK_OK(tc_redis_hset(r, key, f, vals, 2, 60));
        CHECK_OK(tc_redis_zadd(r, "risk", i / 1000.0, key));
    }
    const char *af[] = {"user", "risk"}, *av[] = {"u1", "0.9"};
    CHECK_OK(tc_redis_xadd(r, "alerts", 1000, af, av, 2));
    const char blob[] = {'a', 0, 'b', (char)0xff};
    reply_t set = {0}, get = {0}, none = {0};
    CHECK_OK(tc_redis_set(r, "ckpt", blob, sizeof(blob), on_done, &set));
    CHECK_OK(tc_redis_get(r, "ckpt", on_done, &get));
    CHECK_OK(tc_redis_get(r, "no-such-key", on_done, &none));
    CHECK_INT_EQ(tc_redis_backlog(r), 3004); /* HSET + EXPIRE, ZADD, XADD, SET, 2 GET */
    drain(&loop, r, 20);
    CHECK_INT_EQ(tc_redis_backlog(r), 0);
    CHECK_INT_EQ(set.got, 1);
    CHECK_INT_EQ(set.rc, 0);
    CHECK_INT_EQ(get.got, 1);
    CHECK(memcmp(get.val, blob, sizeof(blob)) == 0);
    CHECK(none.got == 1 && none.absent);

    /* Read back through the same adapter with raw commands. */
    reply_t hv = {0}, zc = {0}, ttl = {0};
    const char *hget[] = {"HGET", "fc:777", "point"};
    const char *zs[] = {"ZSCORE", "risk", "fc:500"};
    const char *tt[] = {"TTL", "fc:1"};
    CHECK_OK(tc_redis_command(r, 3, hget, NULL, on_done, &hv));
    CHECK_OK(tc_redis_command(r, 3, zs, NULL, on_done, &zc));
    CHECK_OK(tc_redis_command(r, 2, tt, NULL, on_done, &ttl));
    drain(&loop, r, 10);
    CHECK_STR_EQ(hv.val, "777.5");
    CHECK_NEAR(atof(zc.val), 0.5, 1e-12);
    CHECK(ttl.got == 1 && ttl.absent); /* integer reply: no string data */
    tc_redis_stats_t st;
    tc_redis_stats(r, &st);
    CHECK_INT_EQ(st.error_replies, 0);
    shut(&loop, r);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    stop_redis(pid);
}

TC_TEST(redis_auth_and_select)
{
    int port = free_port();
    pid_t pid = start_redis(port, "s3cret");
    CHECK(pid > 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_redis_conf_t c = {.port = port, .password = "s3cret", .db = 3};
    tc_redis_t *r = tc_redis_new(&loop, &c, &hooks);
    reply_t set = {0}, db = {0};
    CHECK_OK(tc_redis_set(r, "k", "v", 1, on_done, &set));
    const char *cl[] = {"CLIENT", "INFO"};
    CHECK_OK(tc_redis_command(r, 2, cl, NULL, on_done, &db));
    drain(&loop, r, 10);
    CHECK_INT_EQ(set.rc, 0);
    CHECK_MSG(strstr(db.val, " db=3 ") != NULL, "client info: %s", db.val);
    shut(&loop, r);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);

    /* A wrong password never gets a command through, and loses none. */
    uv_loop_init(&loop);
    tc_redis_conf_t bad = {.port = port, .password = "wrong"};
    r = tc_redis_new(&loop, &bad, NULL);
    reply_t x = {0};
    CHECK_OK(tc_redis_set(r, "k2", "v", 1, on_done, &x));
    run_for(&loop, 500);
    CHECK_INT_EQ(x.got, 0);
    CHECK_INT_EQ(tc_redis_backlog(r), 1);
    shut(&loop, r);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    stop_redis(pid);
}

TC_TEST(redis_outage_loses_nothing)
{
    int port = free_port();
    pid_t pid = start_redis(port, NULL);
    CHECK(pid > 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    tc_redis_conf_t c = {.port = port};
    tc_redis_t *r = tc_redis_new(&loop, &c, &hooks);
    char key[32], v[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(v, sizeof(v), "%d", i);
        CHECK_OK(tc_redis_set(r, key, v, strlen(v), NULL, NULL));
    }
    drain(&loop, r, 10);
    CHECK_INT_EQ(tc_redis_backlog(r), 0);
    stop_redis(pid); /* everything so far is in memory of the dead server: gone */

    /* Queue while Redis is away; the adapter keeps retrying. */
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        CHECK_OK(tc_redis_set(r, key, v, strlen(v), NULL, NULL));
    }
    run_for(&loop, 700);
    CHECK(!tc_redis_connected(r));
    CHECK_INT_EQ(tc_redis_backlog(r), 2000);
    pid = start_redis(port, NULL);
    CHECK(pid > 0);
    drain(&loop, r, 30);
    CHECK_INT_EQ(tc_redis_backlog(r), 0);
    reply_t a = {0}, b = {0}, n = {0};
    CHECK_OK(tc_redis_get(r, "k0", on_done, &a));
    CHECK_OK(tc_redis_get(r, "k1999", on_done, &b));
    const char *dbs[] = {"DBSIZE"};
    CHECK_OK(tc_redis_command(r, 1, dbs, NULL, on_done, &n));
    drain(&loop, r, 10);
    CHECK_STR_EQ(a.val, "v0");
    CHECK_STR_EQ(b.val, "v1999");
    tc_redis_stats_t st;
    tc_redis_stats(r, &st);
    CHECK(st.reconnects >= 2);
    shut(&loop, r);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    stop_redis(pid);
}
