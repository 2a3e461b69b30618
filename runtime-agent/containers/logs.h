/* Reading a container's json-file log (written by the shim, runtime/jsonlog.c) for
 * GET /containers/{id}/logs: PATH plus its rotated files PATH.1 ... PATH.N (the highest
 * number is the oldest), one JSON object per line:
 *   {"log":"text\n","stream":"stdout"|"stderr","time":"RFC3339Nano"[,"attrs":{...}]}
 *
 * Messages go out as Docker sends them: raw bytes for a TTY container, otherwise each in an
 * 8-byte multiplexed frame [stream,0,0,0,size BE]. Files are read incrementally; `tail`
 * finds its start by scanning backwards from the end, so nothing is held in memory but one
 * line and a batch of output. Following polls the file and survives rotation (rename to
 * PATH.1 and a new PATH) and truncation (max-file 1). */
#ifndef BERTHD_CONTAINERS_LOGS_H
#define BERTHD_CONTAINERS_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

/* Docker's stream numbers in multiplexed frames. */
#define STDCOPY_STDIN 0
#define STDCOPY_STDOUT 1
#define STDCOPY_STDERR 2
#define STDCOPY_SYSERR 3
#define STDCOPY_HEADER 8

/* How often a follower looks for new output, in milliseconds. */
#define LOGS_FOLLOW_INTERVAL_MS 100

struct log_opts {
    bool show_stdout, show_stderr;
    bool timestamps;  /* prefix each line with its RFC3339Nano time (9 digits) and a space */
    bool details;     /* prefix each line with its attrs ("k=v,k2=v2") and a space */
    bool follow;      /* keep streaming new lines while sink->alive() */
    bool tty;         /* raw stream: no frame headers */
    long long tail;   /* only the last N lines (of both streams, as Docker counts); -1: all */
    int64_t since_ns; /* skip lines older than this (unix ns); 0: no bound */
    int64_t until_ns; /* stop at the first line newer than this (unix ns); 0: no bound */
};

struct log_sink {
    /* Send LEN bytes (whole frames, possibly several); -1 with *err when the client is gone. */
    int (*write)(void *ctx, const void *buf, size_t len, berr_t *err);
    /* Following: true while the container may still write (it is running). */
    bool (*alive)(void *ctx);
    /* Following: wait up to MS milliseconds for nothing in particular; -1 with *err when
     * the client went away (ends the stream). May be NULL (then the follower just sleeps). */
    int (*idle)(void *ctx, int ms, berr_t *err);
    void *ctx;
};

/* Stream the log at PATH to SINK per OPTS. A missing log is an empty one. Returns 0 when
 * done (no more output: end of the log, `until` reached, or the container stopped while
 * following), -1 with *err on a read or sink error. */
int logs_stream(const char *path, const struct log_opts *opts, const struct log_sink *sink,
                berr_t *err);

/* The `tail` query value: a count, or -1 for "all", "" or anything that is not a number
 * (Docker shows everything then). */
long long logs_parse_tail(const char *s);

/* A since/until query value: unix seconds with an optional fraction ("1700000000",
 * "1700000000.123456789"), as the docker CLI sends them. NULL or "" gives 0.
 * Returns 0, or -1 when S is not such a number. */
int logs_parse_unix(const char *s, int64_t *ns);

/* Format unix nanoseconds as Docker's fixed RFC3339Nano in UTC
 * ("2026-11-27T21:40:00.123456789Z"); OUT holds at least 40 bytes. */
void logs_format_time(int64_t ns, char *out, size_t len);

/* Fill a multiplexed frame header for STREAM and LEN payload bytes. */
void stdcopy_header(unsigned char h[STDCOPY_HEADER], int stream, uint32_t len);

#endif
