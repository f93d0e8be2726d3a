/*
 * source.c - framing of NDJSON and length-delimited protobuf input, and the
 * libuv reader of files, FIFOs and standard input (see source.h).
 *
 * Regular files are read with uv_fs_read in fixed chunks, the next read
 * issued only after the previous chunk was processed: the loop never queues
 * more than one chunk, which bounds memory whatever the file size. Pipes and
 * terminals are streams (uv_pipe_open / uv_tty_init) so that a signal can
 * stop the daemon while it waits for input.
 */
#include "daemon/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define CHUNK_SIZE (256 * 1024)

int tc_framer_init(tc_framer_t *f, int framing, size_t max_message)
{
    memset(f, 0, sizeof(*f));
    if ((framing != TC_FRAMING_NDJSON && framing != TC_FRAMING_PROTOBUF) || max_message == 0)
        return TC_EINVAL;
    f->framing = framing;
    f->max_message = max_message;
    f->buf = malloc(max_message + 1);
    return f->buf ? 0 : TC_ENOMEM;
}

void tc_framer_deinit(tc_framer_t *f)
{
    free(f->buf);
    f->buf = NULL;
}

/* NDJSON: a frame per non-blank line; '\r' before '\n' dropped. */
static int push_ndjson(tc_framer_t *f, const uint8_t *p, size_t len, tc_frame_cb cb, void *ctx)
{
    while (len) {
        const uint8_t *nl = memchr(p, '\n', len);
        size_t take = nl ? (size_t)(nl - p) : len;
        if (!f->discarding) {
            if (f->have + take > f->max_message) {
                /* Report the oversized line once, with its first bytes. */
                size_t room = f->max_message - f->have;
                memcpy(f->buf + f->have, p, room);
                f->have += room;
                f->discarding = true;
                int rc = cb(ctx, f->buf, f->have, f->index + 1, TC_EOVERSIZED);
                if (rc)
                    return rc;
            } else {
                memcpy(f->buf + f->have, p, take);
                f->have += take;
            }
        }
        if (!nl)
            return 0;
        f->index++;
        if (!f->discarding) {
            size_t n = f->have;
            if (n && f->buf[n - 1] == '\r')
                n--;
            size_t i = 0;
            while (i < n && (f->buf[i] == ' ' || f->buf[i] == '\t'))
                i++;
            if (i < n) {
                int rc = cb(ctx, f->buf, n, f->index, 0);
                if (rc) {
                    f->have = 0;
                    return rc;
                }
            }
        }
        f->have = 0;
        f->discarding = false;
        len -= take + 1;
        p += take + 1;
    }
    return 0;
}

/*
 * Protobuf: a base-128 varint length (at most 10 bytes), then the body. The
 * prefix is decoded a byte at a time (it is one or two bytes in practice);
 * the body is gathered in buf only when it spans pushes, else handed on in
 * place.
 */
static int push_proto(tc_framer_t *f, const uint8_t *p, size_t len, tc_frame_cb cb, void *ctx)
{
    while (len) {
        if (f->skip) { /* rest of an oversized frame */
            size_t n = f->skip < len ? (size_t)f->skip : len;
            f->skip -= n;
            p += n;
            len -= n;
            continue;
        }
        if (!f->in_body) {
            uint8_t b = *p++;
            len--;
            f->pre[f->npre++] = b;
            if (b & 0x80) {
                if (f->npre == sizeof(f->pre)) {
                    f->dead = true;
                    int rc = cb(ctx, f->pre, f->npre, f->index + 1, TC_ECORRUPT);
                    return rc ? rc : TC_ECORRUPT;
                }
                continue;
            }
            uint64_t flen = 0;
            for (size_t i = 0; i < f->npre; i++)
                flen |= (uint64_t)(f->pre[i] & 0x7f) << (7 * i);
            f->npre = 0;
            f->index++;
            if (flen > f->max_message) {
                f->skip = flen;
                int rc = cb(ctx, NULL, 0, f->index, TC_EOVERSIZED);
                if (rc)
                    return rc;
                continue;
            }
            f->flen = (size_t)flen;
            f->have = 0;
            f->in_body = true;
            if (flen == 0 || (f->have == 0 && len >= flen)) {
                /* Whole body available: no copy. */
                f->in_body = false;
                int rc = cb(ctx, p, f->flen, f->index, 0);
                p += flen;
                len -= flen;
                if (rc)
                    return rc;
            }
            continue;
        }
        size_t n = f->flen - f->have < len ? f->flen - f->have : len;
        memcpy(f->buf + f->have, p, n);
        f->have += n;
        p += n;
        len -= n;
        if (f->have == f->flen) {
            f->in_body = false;
            f->have = 0;
            int rc = cb(ctx, f->buf, f->flen, f->index, 0);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int tc_framer_push(tc_framer_t *f, const uint8_t *data, size_t len, tc_frame_cb cb, void *ctx)
{
    if (f->dead)
        return TC_ECORRUPT;
    return f->framing == TC_FRAMING_NDJSON ? push_ndjson(f, data, len, cb, ctx)
                                           : push_proto(f, data, len, cb, ctx);
}

int tc_framer_finish(tc_framer_t *f, tc_frame_cb cb, void *ctx)
{
    if (f->dead)
        return 0;
    int rc = 0;
    if (f->framing == TC_FRAMING_NDJSON) {
        if (f->have && !f->discarding) {
            static const uint8_t nl = '\n';
            rc = push_ndjson(f, &nl, 1, cb, ctx);
        }
    } else if (f->in_body) {
        rc = cb(ctx, f->buf, f->have, f->index, TC_EPARSE);
    } else if (f->npre) {
        rc = cb(ctx, f->pre, f->npre, f->index + 1, TC_EPARSE);
    }
    f->npre = 0;
    f->in_body = false;
    f->have = 0;
    f->skip = 0;
    f->discarding = false;
    return rc;
}

/* ---- the libuv reader ---- */

static void finish(tc_source_t *s, int status)
{
    if (s->stopped)
        return;
    if (status == 0)
        status = tc_framer_finish(&s->framer, s->frame_cb, s->ctx);
    s->stopped = true;
    s->end_cb(s->ctx, status);
}

static void on_fs_read(uv_fs_t *req);

static void read_next(tc_source_t *s)
{
    uv_buf_t b = uv_buf_init((char *)s->chunk, (unsigned)s->chunk_size);
    s->reading = true;
    int r = uv_fs_read(s->loop, &s->req, s->fd, &b, 1, s->offset, on_fs_read);
    if (r < 0) {
        s->reading = false;
        finish(s, TC_EIO);
    }
}

static void on_fs_read(uv_fs_t *req)
{
    tc_source_t *s = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    s->reading = false;
    if (s->stopped)
        return;
    if (n < 0) {
        finish(s, TC_EIO);
        return;
    }
    if (n == 0) {
        finish(s, 0);
        return;
    }
    s->offset += n;
    int rc = tc_framer_push(&s->framer, s->chunk, (size_t)n, s->frame_cb, s->ctx);
    if (rc) {
        finish(s, rc);
        return;
    }
    if (!s->stopped)
        read_next(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    tc_source_t *s = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)s->chunk, (unsigned)s->chunk_size);
}

static void on_stream_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    tc_source_t *s = st->data;
    (void)buf;
    if (s->stopped || n == 0)
        return;
    if (n < 0) {
        uv_read_stop(st);
        finish(s, n == UV_EOF ? 0 : TC_EIO);
        return;
    }
    int rc = tc_framer_push(&s->framer, s->chunk, (size_t)n, s->frame_cb, s->ctx);
    if (rc) {
        uv_read_stop(st);
        finish(s, rc);
    }
}

int tc_source_start(tc_source_t *s, uv_loop_t *loop, const char *path, int framing,
                    size_t max_message, tc_frame_cb frame_cb, tc_source_end_cb end_cb, void *ctx,
                    char *errbuf, size_t errsize)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->frame_cb = frame_cb;
    s->end_cb = end_cb;
    s->ctx = ctx;
    s->fd = -1;
    s->req.data = s;
    s->chunk_size = CHUNK_SIZE;
    int rc = tc_framer_init(&s->framer, framing, max_message);
    if (rc)
        return rc;
    s->chunk = malloc(s->chunk_size);
    s->path = strdup(path);
    if (!s->chunk || !s->path) {
        tc_source_deinit(s);
        return TC_ENOMEM;
    }
    bool is_stdin = !strcmp(path, "-");
    /* A FIFO is opened blocking, i.e. startup waits for its first writer:
     * opened non-blocking it would read as ended until a writer appears. */
    struct stat st;
    s->fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &st)) {
        snprintf(errbuf, errsize, "%s: %s", path, strerror(errno));
        if (s->fd > 0)
            close(s->fd);
        tc_source_deinit(s);
        return TC_EIO;
    }
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        s->is_file = true;
        s->offset = is_stdin ? lseek(0, 0, SEEK_CUR) : 0;
        if (s->offset < 0)
            s->offset = 0;
        read_next(s);
        return 0;
    }
    int r;
    if (isatty(s->fd))
        r = uv_tty_init(loop, &s->s.tty, s->fd, 1);
    else if ((r = uv_pipe_init(loop, &s->s.pipe, 0)) == 0) {
        r = uv_pipe_open(&s->s.pipe, s->fd);
        if (r)
            uv_close(&s->s.handle, NULL);
    }
    if (r) {
        snprintf(errbuf, errsize, "%s: %s", path, uv_strerror(r));
        tc_source_deinit(s);
        return TC_EIO;
    }
    s->stream_open = true;
    s->s.handle.data = s;
    r = uv_read_start(&s->s.stream, on_alloc, on_stream_read);
    if (r) {
        snprintf(errbuf, errsize, "%s: %s", path, uv_strerror(r));
        tc_source_stop(s);
        return TC_EIO;
    }
    return 0;
}

void tc_source_stop(tc_source_t *s)
{
    s->stopped = true;
    if (s->stream_open) {
        uv_read_stop(&s->s.stream);
        uv_close(&s->s.handle, NULL);
        s->stream_open = false;
    }
}

bool tc_source_busy(const tc_source_t *s)
{
    return s->reading;
}

void tc_source_deinit(tc_source_t *s)
{
    if (s->fd > 0 && s->is_file)
        close(s->fd);
    /* Stream fds are closed by uv_close. */
    s->fd = -1;
    tc_framer_deinit(&s->framer);
    free(s->chunk);
    free(s->path);
    s->chunk = NULL;
    s->path = NULL;
}
