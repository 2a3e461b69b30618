/* The shim's state, shared by shim.c (start, finish) and shim_loop.c (the event loop). */
#ifndef BERTHD_RUNTIME_SHIM_H
#define BERTHD_RUNTIME_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runtime-agent/runtime/attach.h"
#include "runtime-agent/runtime/cgroup.h"
#include "runtime-agent/runtime/jsonlog.h"
#include "runtime-agent/runtime/runtime.h"
#include "runtime-agent/runtime/spec.h"

#define SHIM_MAX_STDIN (1u << 20)
#define SHIM_DRAIN_MS 2000

struct shim {
    char *bundle;
    struct rt_spec spec;
    struct cgroup cg;
    struct runtime_state st;
    struct jsonlog *log;
    int listen_fd, sig_fd;
    int out_fd[3];   /* [1] stdout (or the pty master), [2] stderr; -1 once at end of file */
    int in_fd;       /* the container's stdin (pipe or pty master), -1 when closed */
    int pty;         /* pty master with a TTY, else -1 */
    bool in_closing; /* close in_fd once in_buf is written */
    char *in_buf;
    size_t in_len;
    struct attach_client **clients;
    size_t n_clients;
    bool exited;
    int status;
    long long drain_until;
};

/* Append a line to BUNDLE/shim.log (the shim's own errors; its stderr is /dev/null). */
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Serve the container until it exited and its output is drained. */
void shim_loop(struct shim *sh);

/* Register a connected attach client. */
void shim_add_client(struct shim *sh, int fd);

#endif
