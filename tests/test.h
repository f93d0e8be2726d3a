/*
 * test.h - the unit-test harness.
 *
 * A test is `TC_TEST(name) { ... }` at the start of a line in any
 * tests/unit/ source file; scripts/gen-table.sh collects them into the runner's
 * table, so adding a test is writing it. Each test runs in a forked child
 * with a timeout, so a crash, a hang or (under ASan) a leak is one failure,
 * not the end of the run. A failed check prints both operands and returns
 * from the test.
 *
 * Data files: tc_test_data_path("nab/nyc_taxi.csv") resolves against
 * $TC_DATA_DIR, default "data" (the repository's bundled samples).
 */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct tc_test_ctx {
    const char *name;
    int failed;
} tc_test_ctx;

#define TC_TEST(name) void tc_test_##name(tc_test_ctx *tc_t_)

void tc_test_fail(tc_test_ctx *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Returns a path under the data directory; the buffer is static to the test process. */
const char *tc_test_data_path(const char *rel);

/* Returns a fresh temporary directory for the current test (removed by the runner). */
const char *tc_test_tmpdir(void);

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            tc_test_fail(tc_t_, __FILE__, __LINE__, "CHECK(%s)", #cond);    \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                \
    do {                                                                    \
        if (!(cond)) {                                                      \
            tc_test_fail(tc_t_, __FILE__, __LINE__, __VA_ARGS__);           \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                  \
    do {                                                                    \
        long long va_ = (long long)(a), vb_ = (long long)(b);               \
        if (va_ != vb_) {                                                   \
            tc_test_fail(tc_t_, __FILE__, __LINE__, "%s == %s: %lld != %lld", \
                         #a, #b, va_, vb_);                                 \
            return;                                                         \
        }                                                                   \
    } while (0)

/* rc must be 0; otherwise prints the TC_E* name. Needs lib/error.h. */
#define CHECK_OK(expr)                                                      \
    do {                                                                    \
        int rc_ = (expr);                                                   \
        if (rc_ != 0) {                                                     \
            tc_test_fail(tc_t_, __FILE__, __LINE__, "%s returned %d (%s)",  \
                         #expr, rc_, tc_errname(rc_));                      \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                               \
    do {                                                                    \
        double va_ = (double)(a), vb_ = (double)(b), t_ = (double)(tol);    \
        if (!(fabs(va_ - vb_) <= t_)) {                                     \
            tc_test_fail(tc_t_, __FILE__, __LINE__,                         \
                         "|%s - %s| <= %g: %.10g vs %.10g (diff %.3g)",     \
                         #a, #b, t_, va_, vb_, fabs(va_ - vb_));            \
            return;                                                         \
        }                                                                   \
    } while (0)

/* Relative tolerance: |a-b| <= rel * max(|a|,|b|). */
#define CHECK_REL(a, b, rel)                                                \
    do {                                                                    \
        double va_ = (double)(a), vb_ = (double)(b), r_ = (double)(rel);    \
        double m_ = fmax(fabs(va_), fabs(vb_));                             \
        if (!(fabs(va_ - vb_) <= r_ * m_)) {                                \
            tc_test_fail(tc_t_, __FILE__, __LINE__,                         \
                         "%s ~ %s within rel %g: %.10g vs %.10g",           \
                         #a, #b, r_, va_, vb_);                             \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                  \
    do {                                                                    \
        const char *sa_ = (a), *sb_ = (b);                                  \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                        \
            tc_test_fail(tc_t_, __FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", \
                         #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
            return;                                                         \
        }                                                                   \
    } while (0)

#endif
