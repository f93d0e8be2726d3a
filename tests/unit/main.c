/*
 * main.c - unit-test runner: runs every TC_TEST (or those whose name contains
 * argv[1]) in a forked child with a timeout and prints `N passed, N failed`.
 * Exit status is non-zero when any test failed.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "tests/test.h"

#define X(name) void tc_test_##name(tc_test_ctx *);
#include "unit_table.h"
#undef X

static const struct {
    const char *name;
    void (*fn)(tc_test_ctx *);
} tests[] = {
#define X(name) {#name, tc_test_##name},
#include "unit_table.h"
#undef X
    {NULL, NULL}};

static char tmpdir_buf[256];

void tc_test_fail(tc_test_ctx *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  FAIL %s (%s:%d): ", t->name, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t->failed = 1;
}

const char *tc_test_data_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("TC_DATA_DIR");
    snprintf(buf, sizeof(buf), "%s/%s", dir && *dir ? dir : "data", rel);
    return buf;
}

const char *tc_test_tmpdir(void)
{
    if (!tmpdir_buf[0]) {
        snprintf(tmpdir_buf, sizeof(tmpdir_buf), "/tmp/tc_test_XXXXXX");
        if (!mkdtemp(tmpdir_buf))
            return "/tmp";
    }
    return tmpdir_buf;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int timeout = getenv("TC_TEST_TIMEOUT") ? atoi(getenv("TC_TEST_TIMEOUT")) : 300;
    int passed = 0, failed = 0;

    for (int i = 0; tests[i].name; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            tc_test_ctx t = {tests[i].name, 0};
            alarm((unsigned)timeout);
            tests[i].fn(&t);
            if (tmpdir_buf[0]) {
                char cmd[300];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir_buf);
                if (system(cmd) != 0)
                    fprintf(stderr, "  warning: could not remove %s\n", tmpdir_buf);
            }
            exit(t.failed ? 1 : 0); /* exit, not _exit: LeakSanitizer runs at exit */
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0) {
            perror("fork/wait");
            return 2;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok   %s\n", tests[i].name);
            passed++;
        } else {
            if (WIFSIGNALED(status))
                printf("FAIL %s (signal %d%s)\n", tests[i].name, WTERMSIG(status),
                       WTERMSIG(status) == SIGALRM ? ", timeout" : "");
            else
                printf("FAIL %s (exit %d)\n", tests[i].name, WEXITSTATUS(status));
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
