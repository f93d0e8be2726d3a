/* The CDNOW sample for the churn tests (see fixture_cdnow.h). */
#include "fixture_cdnow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tests/test.h"

char *tc_test_read_data(const char *rel, size_t *len)
{
    char *b = NULL;
    FILE *f = fopen(tc_test_data_path(rel), "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0)
        goto out;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
out:
    fclose(f);
    return b;
}

int tc_test_cdnow_sample(tc_cdnow_t *c)
{
    memset(c, 0, sizeof(*c));
    size_t len;
    char *buf = tc_test_read_data("cdnow/CDNOW_sample.txt", &len);
    if (!buf)
        return TC_EIO;
    int rc = tc_cdnow_parse(buf, len, 272, 545, c, NULL);
    free(buf);
    return rc;
}
