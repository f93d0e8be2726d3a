/*
 * source.h - the file/stdin event source of tidecastd.
 *
 * Two layers:
 *   - tc_framer_t cuts a byte stream into messages: NDJSON lines, or
 *     protobuf frames (a base-128 varint length, then that many bytes). Pure,
 *     no I/O, unit-tested.
 *   - tc_source_t reads a file, a FIFO or standard input through libuv
 *     (uv_fs_read in chunks for regular files, uv_pipe/uv_tty streams
 *     otherwise) and hands each frame to a callback on the loop thread.
 *
 * A frame that cannot be delivered whole (an NDJSON line or a protobuf frame
 * longer than max_message, a truncated last frame) is reported to the same
 * callback with a negative status and the bytes kept so far, and reading
 * goes on: bad input never stops the source. Only a protobuf length prefix
 * that is not a valid varint leaves no way to find the next frame; it is
 * reported as TC_ECORRUPT and the source ends.
 *
 * @locality loop thread only.
 */
#ifndef TC_DAEMON_SOURCE_H
#define TC_DAEMON_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum tc_framing {
    TC_FRAMING_NDJSON = 0,
    TC_FRAMING_PROTOBUF = 1,
};

/*
 * Receives one frame. status is 0 for a whole frame, else TC_EOVERSIZED
 * (frame longer than max_message: data holds its first bytes), TC_EPARSE
 * (truncated frame at end of input) or TC_ECORRUPT (bad length prefix).
 * index counts frames from 1 (the line number for NDJSON if no blank lines
 * were skipped; blank lines are not frames but do count as lines: index is
 * the line number). Returning non-zero stops the source (end_cb gets it).
 */
typedef int (*tc_frame_cb)(void *ctx, const uint8_t *data, size_t len, uint64_t index,
                           int status);

typedef struct tc_framer {
    int framing;
    size_t max_message;
    uint8_t *buf; /* partial frame carried between pushes (max_message + 1 bytes) */
    size_t have;
    uint64_t index;     /* frames (protobuf) or lines (NDJSON) seen */
    uint64_t skip;      /* protobuf: bytes of an oversized frame still to skip */
    uint8_t pre[10];    /* protobuf: length prefix read so far */
    size_t npre;
    size_t flen;        /* protobuf: length of the frame being gathered */
    bool in_body;       /* protobuf: gathering a body into buf */
    bool discarding;    /* NDJSON: inside an oversized line */
    bool dead;          /* a corrupt length prefix was met */
} tc_framer_t;

/* Returns 0 or TC_ENOMEM / TC_EINVAL. */
int tc_framer_init(tc_framer_t *f, int framing, size_t max_message);
void tc_framer_deinit(tc_framer_t *f);

/*
 * Feeds len bytes; calls cb for every frame completed. Returns 0, the
 * callback's non-zero value, or TC_ECORRUPT once the stream is unframeable.
 */
int tc_framer_push(tc_framer_t *f, const uint8_t *data, size_t len, tc_frame_cb cb, void *ctx);

/* End of input: delivers a last NDJSON line without '\n', reports a truncated frame. */
int tc_framer_finish(tc_framer_t *f, tc_frame_cb cb, void *ctx);

/* Called once when the source ends: status 0 at end of input, else the error. */
typedef void (*tc_source_end_cb)(void *ctx, int status);

typedef struct tc_source {
    uv_loop_t *loop;
    tc_framer_t framer;
    tc_frame_cb frame_cb;
    tc_source_end_cb end_cb;
    void *ctx;
    char *path;
    int fd;
    bool is_file;  /* regular file read with uv_fs_read */
    bool reading;  /* a uv_fs_read is in flight */
    bool stopped;  /* tc_source_stop() was called or the end was reported */
    bool stream_open;
    int64_t offset;
    uv_fs_t req;
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
        uv_stream_t stream;
        uv_handle_t handle;
    } s;
    uint8_t *chunk;
    size_t chunk_size;
} tc_source_t;

/*
 * Opens path ("-" = standard input) and starts reading at once. Returns 0,
 * TC_EIO (cannot open; errbuf says why) or TC_ENOMEM. The callbacks run on
 * the loop thread; end_cb exactly once.
 */
int tc_source_start(tc_source_t *s, uv_loop_t *loop, const char *path, int framing,
                    size_t max_message, tc_frame_cb frame_cb, tc_source_end_cb end_cb, void *ctx,
                    char *errbuf, size_t errsize);

/*
 * Stops reading (no more callbacks) and starts closing handles; the loop
 * may need to run once more before tc_source_deinit(). Idempotent.
 */
void tc_source_stop(tc_source_t *s);

/* True while a uv_fs_read is still in flight (the loop must run it out). */
bool tc_source_busy(const tc_source_t *s);

/* Frees buffers; call after the loop has run the close callbacks. */
void tc_source_deinit(tc_source_t *s);

#endif
