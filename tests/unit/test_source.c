/* Tests of the input framer (daemon/source.c): NDJSON lines and varint-delimited protobuf. */
#include <stdint.h>
#include <string.h>

#include "daemon/source.h"
#include "error.h"
#include "tests/test.h"

typedef struct got {
    int n;
    char text[16][64];
    uint64_t index[16];
    int status[16];
} got_t;

static int collect(void *ctx, const uint8_t *data, size_t len, uint64_t index, int status)
{
    got_t *g = ctx;
    if (g->n < 16) {
        size_t m = len < 63 ? len : 63;
        if (data)
            memcpy(g->text[g->n], data, m);
        g->text[g->n][data ? m : 0] = '\0';
        g->index[g->n] = index;
        g->status[g->n] = status;
    }
    g->n++;
    return 0;
}

/* Pushes the input one byte at a time and whole, expecting the same frames. */
TC_TEST(framer_ndjson_lines)
{
    const char *in = "{\"a\":1}\r\n\n   \n{\"b\":2}\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n{\"c\":3}";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        tc_framer_t f;
        got_t g = {0};
        CHECK_OK(tc_framer_init(&f, TC_FRAMING_NDJSON, 16));
        size_t len = strlen(in);
        if (bytewise)
            for (size_t i = 0; i < len; i++)
                CHECK_OK(tc_framer_push(&f, (const uint8_t *)in + i, 1, collect, &g));
        else
            CHECK_OK(tc_framer_push(&f, (const uint8_t *)in, len, collect, &g));
        CHECK_OK(tc_framer_finish(&f, collect, &g));
        tc_framer_deinit(&f);
        CHECK_INT_EQ(g.n, 4);
        CHECK_STR_EQ(g.text[0], "{\"a\":1}");
        CHECK_INT_EQ(g.index[0], 1);
        CHECK_STR_EQ(g.text[1], "{\"b\":2}");
        CHECK_INT_EQ(g.index[1], 4);
        CHECK_INT_EQ(g.status[2], TC_EOVERSIZED);
        CHECK_INT_EQ(g.index[2], 5);
        CHECK_STR_EQ(g.text[2], "xxxxxxxxxxxxxxxx");
        CHECK_STR_EQ(g.text[3], "{\"c\":3}");
        CHECK_INT_EQ(g.index[3], 6);
        CHECK_INT_EQ(g.status[3], 0);
    }
}

TC_TEST(framer_protobuf_frames)
{
    /* frames: "abc", "" (empty), 200 x 'z' (2-byte prefix, oversized at 150), "de", then a
     * truncated frame announcing 5 bytes with 2 present. */
    uint8_t in[400];
    size_t n = 0;
    in[n++] = 3;
    memcpy(in + n, "abc", 3);
    n += 3;
    in[n++] = 0;
    in[n++] = 0x80 | (200 & 0x7f);
    in[n++] = 200 >> 7;
    memset(in + n, 'z', 200);
    n += 200;
    in[n++] = 2;
    memcpy(in + n, "de", 2);
    n += 2;
    in[n++] = 5;
    memcpy(in + n, "fg", 2);
    n += 2;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        tc_framer_t f;
        got_t g = {0};
        CHECK_OK(tc_framer_init(&f, TC_FRAMING_PROTOBUF, 150));
        if (bytewise)
            for (size_t i = 0; i < n; i++)
                CHECK_OK(tc_framer_push(&f, in + i, 1, collect, &g));
        else
            CHECK_OK(tc_framer_push(&f, in, n, collect, &g));
        CHECK_OK(tc_framer_finish(&f, collect, &g));
        tc_framer_deinit(&f);
        CHECK_INT_EQ(g.n, 5);
        CHECK_STR_EQ(g.text[0], "abc");
        CHECK_INT_EQ(g.status[1], 0);
        CHECK_STR_EQ(g.text[1], "");
        CHECK_INT_EQ(g.status[2], TC_EOVERSIZED);
        CHECK_INT_EQ(g.index[2], 3);
        CHECK_STR_EQ(g.text[3], "de");
        CHECK_INT_EQ(g.index[3], 4);
        CHECK_INT_EQ(g.status[4], TC_EPARSE);
        CHECK_STR_EQ(g.text[4], "fg");
    }
}

TC_TEST(framer_protobuf_corrupt_prefix)
{
    uint8_t in[12];
    memset(in, 0xff, sizeof(in));
    tc_framer_t f;
    got_t g = {0};
    CHECK_OK(tc_framer_init(&f, TC_FRAMING_PROTOBUF, 100));
    CHECK_INT_EQ(tc_framer_push(&f, in, sizeof(in), collect, &g), TC_ECORRUPT);
    CHECK_INT_EQ(g.n, 1);
    CHECK_INT_EQ(g.status[0], TC_ECORRUPT);
    CHECK_INT_EQ(tc_framer_push(&f, in, 1, collect, &g), TC_ECORRUPT);
    tc_framer_deinit(&f);
}
