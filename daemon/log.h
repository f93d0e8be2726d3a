/*
 * log.h - logfmt logging of tidecastd to stderr.
 *
 * One line per record:
 *
 *     ts=2026-12-04T20:58:48.123Z level=info msg="bucket closed" series=nasa n=3
 *
 * The timestamp is wall-clock UTC with milliseconds. The message is always
 * quoted; the key=value pairs are formatted by the caller with printf
 * conventions, and any value that may contain spaces, quotes or control
 * characters must go through tc_log_quote() first. Records below the
 * configured level are dropped before formatting.
 *
 * The logger is process-wide state of the daemon (lib/ never logs).
 * @locality loop thread only (not synchronised).
 */
#ifndef TC_DAEMON_LOG_H
#define TC_DAEMON_LOG_H

#include <stddef.h>
#include <stdio.h>

enum tc_log_level {
    TC_LOG_DEBUG = 0,
    TC_LOG_INFO = 1,
    TC_LOG_WARN = 2,
    TC_LOG_ERROR = 3,
};

/* Sets the lowest level written (default TC_LOG_INFO). */
void tc_log_set_level(enum tc_log_level level);

/* Current level. */
enum tc_log_level tc_log_get_level(void);

/* Redirects records to out (default stderr; NULL restores stderr). */
void tc_log_set_output(FILE *out);

/*
 * Parses "debug", "info", "warn" (or "warning"), "error" into *level.
 * Returns 0, or TC_EINVAL for any other word.
 */
int tc_log_level_parse(const char *word, enum tc_log_level *level);

/* Lower-case name of level ("info"). */
const char *tc_log_level_name(enum tc_log_level level);

/* True if a record at level would be written. */
int tc_log_enabled(enum tc_log_level level);

/*
 * Writes one record: msg (quoted for the caller) then the optional
 * key=value text produced from kvfmt (may be NULL). Never fails visibly.
 */
void tc_log(enum tc_log_level level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Quotes s as a logfmt value into buf (size n): returned bare if it has no
 * space, '=', quote, backslash or control character, else in double quotes
 * with \" \\ \n \t and \xHH escapes. Truncates to fit (always terminated).
 * Returns buf so that it can be used directly as a %s argument.
 */
const char *tc_log_quote(char *buf, size_t n, const char *s);

#define tc_log_debug(msg, ...) tc_log(TC_LOG_DEBUG, msg, __VA_ARGS__)
#define tc_log_info(msg, ...) tc_log(TC_LOG_INFO, msg, __VA_ARGS__)
#define tc_log_warn(msg, ...) tc_log(TC_LOG_WARN, msg, __VA_ARGS__)
#define tc_log_error(msg, ...) tc_log(TC_LOG_ERROR, msg, __VA_ARGS__)

#endif
