/* The shim's attach clients: Docker's multiplexed framing both ways (README.contract.md).
 * Output is never allowed to block the container: a client that falls more than
 * ATTACH_MAX_PENDING bytes behind is dropped. */
#ifndef BERTHD_RUNTIME_ATTACH_H
#define BERTHD_RUNTIME_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

#define ATTACH_MAX_PENDING (4u << 20)
#define ATTACH_FRAME_HEADER 8
#define ATTACH_STREAM_STDIN 0
#define ATTACH_STREAM_STDOUT 1
#define ATTACH_STREAM_STDERR 2
#define ATTACH_STREAM_START 3 /* start result on the connection runtime_start hands out */
#define ATTACH_STREAM_RESIZE 5

struct attach_client {
    int fd;
    bool reading;    /* the client has not closed its side yet */
    bool sent_stdin; /* it wrote to the container's stdin (stdin_once) */
    unsigned char hdr[ATTACH_FRAME_HEADER];
    size_t hdr_len;
    char *payload;
    size_t payload_len, payload_need;
    char *out;
    size_t out_len, out_cap;
};

/* Called for each complete frame a client sends. */
typedef void (*attach_frame_fn)(void *ctx, struct attach_client *c, int stream, const char *data,
                                size_t len);

/* Listen on PATH (a unix stream socket, non-blocking). */
int attach_listen(const char *path, berr_t *err);

/* Start serving the connected socket FD. */
struct attach_client *attach_client_new(int fd);

/* Queue one frame and send what the socket takes now; false when the client must go. */
bool attach_send(struct attach_client *c, int stream, const void *data, size_t len);

/* Send queued output; false when the client must go. */
bool attach_flush(struct attach_client *c);

/* Read what the client sent, calling FN per frame; false when the client must go. */
bool attach_read(struct attach_client *c, attach_frame_fn fn, void *ctx);

void attach_client_free(struct attach_client *c);

#endif
