/* Container streams after the hijack, and the local terminal.
 *
 * Without a TTY the daemon multiplexes stdout and stderr: frames of an 8-byte header
 * (stream id, three zero bytes, a big-endian length) and the payload; a demux routes each
 * payload to our fd 1 or 2 and is fed in pieces of any size (the logs endpoint sends the same
 * framing in its body). With a TTY the stream is raw and goes to stdout as is.
 *
 * stream_pump() runs one poll loop for the whole session: the connection (and what OpenSSL
 * or the HTTP layer already buffered) to the output, our stdin to the connection (its end
 * closes our write side only), and SIGWINCH through a self-pipe into a resize callback. */
#ifndef BERTHD_CLIENT_STREAM_H
#define BERTHD_CLIENT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "runtime-agent/client/http.h"

struct demux {
    unsigned char head[8];
    size_t have;   /* header bytes collected */
    uint32_t left; /* payload bytes still to route */
    int fd;        /* where the current payload goes */
};

/* Feed N bytes of a multiplexed stream (a cli_sink_fn: ARG is a struct demux). */
int demux_feed(void *arg, const char *data, size_t n, berr_t *err);
/* Copy bytes to stdout (a cli_sink_fn for raw TTY streams; ARG unused). */
int raw_feed(void *arg, const char *data, size_t n, berr_t *err);

struct pump_opts {
    bool tty;                  /* raw stream, else multiplexed */
    int stdin_fd;              /* -1: send nothing */
    void (*resize)(void *arg); /* on SIGWINCH (and once at the start); may be NULL */
    void *resize_arg;
};

/* Pump H's upgraded stream until the daemon ends it. */
int stream_pump(struct cli_http *h, const struct pump_opts *o, berr_t *err);

/* The terminal on FD in raw mode (the old settings in *SAVED); 0, or -1 when not a tty. */
int term_raw(int fd, struct termios *saved);
void term_restore(int fd, const struct termios *saved);
/* FD's size; false when it is not a terminal. */
bool term_size(int fd, unsigned *rows, unsigned *cols);

#endif
