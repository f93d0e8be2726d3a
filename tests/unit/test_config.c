/* Tests of the daemon configuration (daemon/config.c) and log quoting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "error.h"
#include "tests/test.h"

/* Writes text to a fresh file in the test's temp dir and returns its path. */
static const char *write_conf(const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/tidecast.conf", tc_test_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

TC_TEST(config_defaults)
{
    tc_config_t c;
    CHECK_OK(tc_config_init(&c));
    CHECK_INT_EQ(c.window.bucket_ms, 60000);
    CHECK_INT_EQ(c.window.lateness_ms, 10000);
    CHECK_STR_EQ(c.input.source, "-");
    CHECK_INT_EQ(c.input.format, TC_CONFIG_FORMAT_NDJSON);
    CHECK_INT_EQ(c.limits.max_message, 65536);
    CHECK_INT_EQ(c.window.metrics, 0x3f);
    CHECK_STR_EQ(c.output.dead_letter, "");
    tc_config_deinit(&c);
}

TC_TEST(config_reads_every_type)
{
    const char *p = write_conf("; comment\n"
                               "[input]\n"
                               "source = /tmp/x.pb\n"
                               "format = protobuf\n"
                               "[window]\n"
                               "bucket = 5m\n"
                               "lateness = 250ms\n"
                               "ring = 24\n"
                               "metrics = requests, revenue\n"
                               "[keying]\nmode = site_path\npath_depth = 2\n"
                               "[limits]\nmax_message = 1M\n"
                               "[log]\nlevel = debug\n"
                               "[kafka]\nbootstrap.servers = 127.0.0.1:9092\nsasl.mechanism = PLAIN\n");
    tc_config_t c;
    char err[512];
    CHECK_OK(tc_config_init(&c));
    int rc = tc_config_load(&c, p, err, sizeof(err));
    CHECK_MSG(rc == 0, "load: %s", err);
    CHECK_STR_EQ(c.input.source, "/tmp/x.pb");
    CHECK_INT_EQ(c.input.format, TC_CONFIG_FORMAT_PROTOBUF);
    CHECK_INT_EQ(c.window.bucket_ms, 300000);
    CHECK_INT_EQ(c.window.lateness_ms, 250);
    CHECK_INT_EQ(c.window.ring, 24);
    CHECK_INT_EQ(c.window.metrics, TC_CONFIG_METRIC_REQUESTS | TC_CONFIG_METRIC_REVENUE);
    CHECK_INT_EQ(c.keying.mode, TC_CONFIG_KEYING_SITE_PATH);
    CHECK_INT_EQ(c.keying.path_depth, 2);
    CHECK_INT_EQ(c.limits.max_message, 1048576);
    CHECK_INT_EQ(c.log.level, TC_LOG_DEBUG);
    CHECK_INT_EQ(c.n_kafka, 2);
    CHECK_STR_EQ(c.kafka[0].key, "bootstrap.servers");
    CHECK_STR_EQ(c.kafka[1].value, "PLAIN");
    CHECK_INT_EQ(c.kafka[1].line, 19);
    CHECK_OK(tc_config_set(&c, "arima.order", "3, 0,2", "t", err, sizeof(err)));
    CHECK_INT_EQ(c.arima.order[0], 3);
    CHECK_INT_EQ(c.arima.order[2], 2);
    CHECK_OK(tc_config_set(&c, "autoscale.enabled", "yes", "t", err, sizeof(err)));
    CHECK_INT_EQ(c.autoscale.enabled, 1);
    CHECK_OK(tc_config_set(&c, "autoscale.capacity", "250.5", "t", err, sizeof(err)));
    CHECK_NEAR(c.autoscale.capacity, 250.5, 0);
    CHECK_OK(tc_config_set(&c, "forecast.models", "snaive,lstm", "t", err, sizeof(err)));
    CHECK_INT_EQ(c.forecast.models, TC_CONFIG_MODEL_SNAIVE | TC_CONFIG_MODEL_LSTM);
    tc_config_deinit(&c);
}

/* Each bad file must give exactly this message (file:line: key: expected, got). */
TC_TEST(config_errors_name_file_line_key)
{
    static const struct {
        const char *text, *msg_after_path;
    } cases[] = {
        {"[window]\n\nbucket = abc\n",
         ":3: window.bucket: expected a duration like 60s, 5m, 1h, got 'abc'"},
        {"[window]\nbucket = 60\n", ":2: window.bucket: expected a duration like 60s, 5m, 1h, got '60'"},
        {"[input]\nformat = xml\n", ":2: input.format: expected one of ndjson, protobuf, got 'xml'"},
        {"[window]\nbuckt = 1m\n",
         ":2: window.buckt: unknown key; expected one of bucket, lateness, ring, metrics"},
        {"[windw]\nbucket = 1m\n", ":2: [windw]: unknown section; expected one of input, window, "
                                   "keying, limits, log, forecast, arima, lstm, autoscale, churn, stream, redis, http, output, kafka"},
        {"[arima]\norder = 2,1\n",
         ":2: arima.order: expected three integers from 0 to 8 like 2,1,1, got '2,1'"},
        {"[autoscale]\nenabled = maybe\n",
         ":2: autoscale.enabled: expected true or false, got 'maybe'"},
        {"[autoscale]\ndown_margin = 1.5\n",
         ":2: autoscale.down_margin: expected a number from 0 to 0.95, got '1.5'"},
        {"[window]\nring = -3\n", ":2: window.ring: expected an integer from 1 to 1000000, got '-3'"},
        {"[window]\nring = 5\nring = 6\n",
         ":3: window.ring: set twice (first on line 2); expected one value"},
        {"bucket = 1m\n", ":1: bucket: key outside any section; expected a [section] line first"},
        {"[window]\nmetrics = requests,clicks\n",
         ":2: window.metrics: expected a comma-separated list of requests, unique_users, bytes, "
         "errors, conversions, revenue, got 'requests,clicks'"},
        {"[log]\nlevel = loud\n", ":2: log.level: expected one of debug, info, warn, error, got 'loud'"},
        {"[limits]\nmax_message = 3X\n",
         ":2: limits.max_message: expected a size in bytes like 4096, 64k, 1M (from 64 to 67108864 "
         "bytes), got '3X'"},
        {"[input]\nsource =\n", ":2: input.source: expected a non-empty value, got ''"},
        {"[input]\n\njust words\n",
         ":3: syntax error: expected '[section]', 'key = value' or a comment"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *p = write_conf(cases[i].text);
        tc_config_t c;
        char err[512], want[640];
        CHECK_OK(tc_config_init(&c));
        int rc = tc_config_load(&c, p, err, sizeof(err));
        tc_config_deinit(&c);
        CHECK_INT_EQ(rc, TC_ECONFIG);
        snprintf(want, sizeof(want), "%s%s", p, cases[i].msg_after_path);
        CHECK_STR_EQ(err, want);
    }
}

TC_TEST(config_long_line_and_missing_file)
{
    char text[600];
    memset(text, 'x', sizeof(text));
    memcpy(text, "[input]\nsource = ", 17);
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';
    const char *p = write_conf(text);
    tc_config_t c;
    char err[512], want[600];
    CHECK_OK(tc_config_init(&c));
    CHECK_INT_EQ(tc_config_load(&c, p, err, sizeof(err)), TC_ECONFIG);
    snprintf(want, sizeof(want), "%s:2: line longer than 197 characters", p);
    CHECK_STR_EQ(err, want);
    CHECK_INT_EQ(tc_config_load(&c, "/nonexistent/tidecast.conf", err, sizeof(err)), TC_EIO);
    CHECK(strstr(err, "/nonexistent/tidecast.conf: cannot open") == err);
    tc_config_deinit(&c);
}

TC_TEST(config_set_override)
{
    tc_config_t c;
    char err[256];
    CHECK_OK(tc_config_init(&c));
    CHECK_OK(tc_config_set(&c, "window.bucket", "2h", "cmdline", err, sizeof(err)));
    CHECK_INT_EQ(c.window.bucket_ms, 7200000);
    CHECK_INT_EQ(tc_config_set(&c, "window.bucket", "2x", "cmdline", err, sizeof(err)), TC_ECONFIG);
    CHECK_STR_EQ(err, "cmdline:0: window.bucket: expected a duration like 60s, 5m, 1h, got '2x'");
    tc_config_deinit(&c);
}

TC_TEST(log_quote)
{
    char b[64];
    CHECK_STR_EQ(tc_log_quote(b, sizeof(b), "plain"), "plain");
    CHECK_STR_EQ(tc_log_quote(b, sizeof(b), "two words"), "\"two words\"");
    CHECK_STR_EQ(tc_log_quote(b, sizeof(b), "a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    CHECK_STR_EQ(tc_log_quote(b, sizeof(b), ""), "\"\"");
    CHECK_STR_EQ(tc_log_quote(b, 8, "abc def ghi"), "\"abc d\"");
}

TC_TEST(log_record_format)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/log.txt", tc_test_tmpdir());
    FILE *f = fopen(path, "w+");
    CHECK(f != NULL);
    tc_log_set_output(f);
    tc_log_set_level(TC_LOG_WARN);
    tc_log_info("hidden", "n=%d", 1);
    tc_log_warn("late event", "series=%s n=%d", "nasa", 3);
    tc_log_set_output(NULL);
    rewind(f);
    char line[256] = "";
    CHECK(fgets(line, sizeof(line), f) != NULL);
    fclose(f);
    CHECK_MSG(!strncmp(line, "ts=", 3) && strlen(line) > 27 && line[26] == 'Z', "%s", line);
    CHECK_STR_EQ(line + 27, " level=warn msg=\"late event\" series=nasa n=3\n");
}
