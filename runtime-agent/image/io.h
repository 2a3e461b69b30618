/* Byte streams for the image store: a reader and a writer that sit on top of
 * HTTP bodies, files or memory, and the bridge from a writer to libarchive. */
#ifndef BERTHD_IMAGE_IO_H
#define BERTHD_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/error.h"
#include "runtime-agent/image/digest.h"

struct archive;

/* read returns the bytes read (0 at end of stream) or -1 with errno set. */
struct io_reader {
    ssize_t (*read)(void *ctx, void *buf, size_t len);
    void *ctx;
};

/* write consumes all LEN bytes and returns 0, or -1 with errno set. */
struct io_writer {
    int (*write)(void *ctx, const void *buf, size_t len);
    void *ctx;
};

/* A reader over the open file descriptor FD (EINTR retried; FD stays the caller's). */
struct io_reader io_fd_reader(int fd);

/* A writer over the open file descriptor FD (short writes and EINTR retried). */
struct io_writer io_fd_writer(int fd);

/* A memory buffer read from its start; io_mem_reader reads it. */
struct io_mem {
    const void *data;
    size_t len, off;
};
struct io_reader io_mem_reader(struct io_mem *m);

/* A growing heap buffer (free data when done); io_buf_writer appends to it. */
struct io_buf {
    char *data;
    size_t len, cap;
};
struct io_writer io_buf_writer(struct io_buf *b);

/* A reader passing IN through while computing the SHA-256 and length of what it read;
 * set up with io_hashing_reader, finish with sha256_final(&h->hash) or sha256_discard. */
struct io_hashing {
    struct io_reader *in;
    struct sha256 hash;
    int64_t total;
};
struct io_reader io_hashing_reader(struct io_hashing *h, struct io_reader *in);

/* Read until LEN bytes or end of stream; returns the count or -1. */
ssize_t io_read_full(struct io_reader *r, void *buf, size_t len);

/* Open libarchive writer A so that its output goes to W (archive_write_open). */
int io_archive_write_open(struct archive *a, struct io_writer *w);

struct archive_entry;
struct timespec;

/* Write the data of entry E, read from A, into FD at the offsets the archive gives (holes of
 * sparse files stay holes), then set the file's size. EACH_BLOCK, when not NULL, runs before
 * every block is written. On failure *err says "write", "set size" or the archive's message:
 * callers prefix the object. */
int io_archive_extract_data(struct archive *a, struct archive_entry *e, int fd,
                            void (*each_block)(void), berr_t *err);

/* E's access and modification times for utimensat (access = modification when unset). */
void io_archive_entry_times(struct archive_entry *e, struct timespec ts[2]);

#endif
