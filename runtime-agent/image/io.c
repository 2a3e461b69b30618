#include "runtime-agent/image/io.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
    int fd = (int)(intptr_t)ctx;

    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

struct io_reader io_fd_reader(int fd)
{
    return (struct io_reader){.read = fd_read, .ctx = (void *)(intptr_t)fd};
}

static int fd_write(void *ctx, const void *buf, size_t len)
{
    int fd = (int)(intptr_t)ctx;
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct io_writer io_fd_writer(int fd)
{
    return (struct io_writer){.write = fd_write, .ctx = (void *)(intptr_t)fd};
}

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
    struct io_mem *m = ctx;
    size_t n = m->len - m->off < len ? m->len - m->off : len;

    if (n > 0)
        memcpy(buf, (const char *)m->data + m->off, n);
    m->off += n;
    return (ssize_t)n;
}

struct io_reader io_mem_reader(struct io_mem *m)
{
    return (struct io_reader){.read = mem_read, .ctx = m};
}

static int buf_write(void *ctx, const void *data, size_t len)
{
    struct io_buf *b = ctx;

    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            errno = ENOMEM;
            return -1;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

struct io_writer io_buf_writer(struct io_buf *b)
{
    return (struct io_writer){.write = buf_write, .ctx = b};
}

static ssize_t hashing_read(void *ctx, void *buf, size_t len)
{
    struct io_hashing *h = ctx;
    ssize_t n = h->in->read(h->in->ctx, buf, len);

    if (n > 0) {
        sha256_update(&h->hash, buf, (size_t)n);
        h->total += n;
    }
    return n;
}

struct io_reader io_hashing_reader(struct io_hashing *h, struct io_reader *in)
{
    h->in = in;
    h->total = 0;
    sha256_init(&h->hash);
    return (struct io_reader){.read = hashing_read, .ctx = h};
}

ssize_t io_read_full(struct io_reader *r, void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = r->read(r->ctx, (char *)buf + off, len - off);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        off += (size_t)n;
    }
    return (ssize_t)off;
}

static la_ssize_t archive_out(struct archive *a, void *ctx, const void *buf, size_t len)
{
    struct io_writer *w = ctx;

    if (w->write(w->ctx, buf, len) < 0) {
        archive_set_error(a, errno, "write");
        return -1;
    }
    return (la_ssize_t)len;
}

int io_archive_write_open(struct archive *a, struct io_writer *w)
{
    return archive_write_open(a, w, NULL, archive_out, NULL);
}

int io_archive_extract_data(struct archive *a, struct archive_entry *e, int fd,
                            void (*each_block)(void), berr_t *err)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;

    while ((r = archive_read_data_block(a, &buf, &len, &off)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            const char *msg = archive_error_string(a);
            return berr_set(err, 0, "%s", msg ? msg : "read tar");
        }
        if (each_block)
            each_block();
        const char *p = buf;
        while (len > 0) {
            ssize_t w = pwrite(fd, p, len, off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return berr_set(err, errno, "write");
            p += w;
            off += w;
            len -= (size_t)w;
        }
    }
    /* A sparse file may end in a hole. */
    if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
        return berr_set(err, errno, "set size");
    return 0;
}

void io_archive_entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    ts[0] = ts[1];
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    }
}
