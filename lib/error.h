/*
 * error.h - the one table of tidecast error codes.
 *
 * Every fallible function in lib/ and daemon/ returns 0 on success or one of
 * the negative TC_E* codes below; tc_strerror() names it. Codes marked
 * retriable (tc_error_retriable) describe conditions that may clear by
 * themselves (a server away, a full buffer) and drive backoff and retry;
 * the others are final for the input or call that caused them.
 *
 * New codes are appended at the end of the map so that numbers stay stable.
 */
#ifndef TC_ERROR_H
#define TC_ERROR_H

#include <stdbool.h>

#define TC_ERRNO_MAP(X)                                                        \
    X(NOMEM, "out of memory")                                                  \
    X(INVAL, "invalid argument")                                               \
    X(RANGE, "value out of range")                                             \
    X(NOTFOUND, "not found")                                                   \
    X(FULL, "capacity reached")                                                \
    X(EXISTS, "already exists")                                                \
    X(IO, "input/output error")                                                \
    X(PARSE, "malformed input")                                                \
    X(MISSING_KEY, "required field missing")                                   \
    X(BAD_TYPE, "field has the wrong type")                                    \
    X(BAD_TIMESTAMP, "absurd timestamp")                                       \
    X(OVERSIZED, "field or message too large")                                 \
    X(LATE, "event later than the allowed lateness")                           \
    X(NOCONVERGE, "optimisation did not converge")                             \
    X(DEGENERATE, "degenerate input (constant or singular)")                   \
    X(TOOFEW, "too few observations")                                          \
    X(NAN, "not a finite number")                                              \
    X(VERSION, "unsupported format version")                                   \
    X(CORRUPT, "corrupt or inconsistent data")                                 \
    X(AGAIN, "temporarily unavailable, retry")                                 \
    X(TIMEOUT, "timed out")                                                    \
    X(CONFIG, "configuration error")                                           \
    X(UNSUPPORTED, "not supported")                                            \
    X(SHUTDOWN, "shutting down")                                               \
    X(BUSY, "busy, operation in progress")                                     \
    X(UNKNOWN_TYPE, "unknown event type")                                      \
    X(LINESEARCH, "line search found no acceptable step")                      \
    X(PRECISION, "no further progress within floating-point precision")

enum {
    TC_OK = 0,
#define TC_X_(name, msg) TC_E##name##_IDX_,
    TC_E_BASE_ = 0,
    TC_ERRNO_MAP(TC_X_)
#undef TC_X_
};

/* TC_ENOMEM == -1, TC_EINVAL == -2, ... in map order. */
#define TC_X_(name, msg) TC_E##name = -(TC_E##name##_IDX_),
enum { TC_ERRNO_MAP(TC_X_) };
#undef TC_X_

/* Returns a static, human-readable description of code (0 gives "ok"). */
const char *tc_strerror(int code);

/* Returns the symbolic name of code ("TC_ENOMEM"), or "TC_E?" if unknown. */
const char *tc_errname(int code);

/* True if the condition may clear by itself and the operation be retried. */
bool tc_error_retriable(int code);

#endif
