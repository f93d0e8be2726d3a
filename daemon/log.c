/*
 * log.c - logfmt records to stderr (see log.h). Each record is formatted into
 * one buffer and written with a single fwrite so that lines from the daemon
 * never interleave mid-record with other writers of stderr.
 */
#include "daemon/log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"

static enum tc_log_level cur_level = TC_LOG_INFO;
static FILE *cur_out;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void tc_log_set_level(enum tc_log_level level)
{
    cur_level = level;
}

enum tc_log_level tc_log_get_level(void)
{
    return cur_level;
}

void tc_log_set_output(FILE *out)
{
    cur_out = out;
}

int tc_log_level_parse(const char *word, enum tc_log_level *level)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(word, level_names[i])) {
            *level = (enum tc_log_level)i;
            return 0;
        }
    if (!strcasecmp(word, "warning")) {
        *level = TC_LOG_WARN;
        return 0;
    }
    return TC_EINVAL;
}

const char *tc_log_level_name(enum tc_log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

int tc_log_enabled(enum tc_log_level level)
{
    return level >= cur_level;
}

static int needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
            return 1;
    }
    return 0;
}

const char *tc_log_quote(char *buf, size_t n, const char *s)
{
    if (n == 0)
        return buf;
    if (!s)
        s = "";
    if (!needs_quotes(s)) {
        snprintf(buf, n, "%s", s);
        return buf;
    }
    size_t o = 0;
    /* Reserve room for the closing quote and the terminator. */
    if (n < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[5];
        size_t len;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            len = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            len = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            len = 4;
        } else {
            esc[0] = (char)c;
            len = 1;
        }
        if (o + len + 2 > n)
            break;
        memcpy(buf + o, esc, len);
        o += len;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void tc_log(enum tc_log_level level, const char *msg, const char *kvfmt, ...)
{
    if (level < cur_level)
        return;
    char line[4096], q[1024], ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    /* msg is always quoted, even when it is a single word, for grep-ability. */
    char *o = q;
    *o++ = '"';
    for (const char *s = msg; *s && o < q + sizeof(q) - 3; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s == '\n' ? ' ' : *s;
    }
    *o++ = '"';
    *o = '\0';

    int len = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s msg=%s", ts,
                       now.tv_nsec / 1000000L, tc_log_level_name(level), q);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof(line) - 2)
        len = (int)sizeof(line) - 2;
    if (kvfmt && *kvfmt) {
        line[len++] = ' ';
        va_list ap;
        size_t avail = sizeof(line) - (size_t)len - 1; /* keep room for '\n' */
        va_start(ap, kvfmt);
        int k = vsnprintf(line + len, avail, kvfmt, ap);
        va_end(ap);
        if (k > 0 && avail > 1)
            len += (size_t)k < avail ? k : (int)avail - 1;
    }
    line[len++] = '\n';
    FILE *out = cur_out ? cur_out : stderr;
    fwrite(line, 1, (size_t)len, out);
    fflush(out);
}
