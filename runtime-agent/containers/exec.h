/* `docker exec`: an in-memory registry of exec instances (Docker keeps them in memory too)
 * and starting one inside a running container through `berthd nsexec`.
 *
 * An instance is created by POST /containers/{id}/exec, started once by POST
 * /exec/{id}/start, and inspected by GET /exec/{id}/json. Instances go away when their
 * container is removed (exec_forget_container) or an hour after they finished.
 *
 * The registry is process-wide (one daemon per process) and has its own lock; it never takes
 * the container store's lock, so callers may hold that one while calling in. */
#ifndef BERTHD_CONTAINERS_EXEC_H
#define BERTHD_CONTAINERS_EXEC_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "berth/error.h"

/* Finished instances are forgotten this long after they exit. */
#define EXEC_KEEP_SECONDS 3600

struct exec_inst;

/* What exec_spawn hands back: our ends of the command's stdio (-1 where not attached). With
 * a TTY, OUT is the pty master (also written to for stdin: IN is then a dup of it). */
struct exec_io {
    int in;  /* write end of the command's stdin */
    int out; /* read end of its stdout, or the pty master */
    int err; /* read end of its stderr */
};

/* Register an exec for container CTR_ID from Docker's create BODY (AttachStdin/Stdout/
 * Stderr, Tty, Env, Cmd, User, WorkingDir, Privileged, DetachKeys, ConsoleSize). EINVAL
 * "No exec command specified" when Cmd is empty or invalid, "Invalid escape keys (K)
 * provided" when DetachKeys is not valid (detachkeys.h). ID receives the new 64-hex id.
 * (Whether the container runs is the caller's check.) */
int exec_create(const char *ctr_id, const json_t *body, char id[65], berr_t *err);

/* Find an exec by its full id, taking a reference; ENOENT "No such exec instance: ID". */
struct exec_inst *exec_get(const char *id, berr_t *err);

/* Drop a reference taken by exec_get. */
void exec_put(struct exec_inst *e);

const char *exec_id(const struct exec_inst *e);
const char *exec_container_id(const struct exec_inst *e);
bool exec_tty(const struct exec_inst *e);
/* The DetachKeys E was created with (valid: checked at create), "" when none. */
const char *exec_detach_keys(const struct exec_inst *e);
bool exec_attach_stdin(const struct exec_inst *e);
bool exec_attach_stdout(const struct exec_inst *e);
bool exec_attach_stderr(const struct exec_inst *e);

/* Run E in the container whose init is CTR_PID and whose runtime bundle is BUNDLE (its
 * spec.json gives the container's env, cwd, user and security settings; the exec's spec
 * goes to BUNDLE/exec-ID.json). DETACHED: the command gets no attached streams (with a TTY
 * still a pty, drained by E's reaper). Otherwise *IO receives our ends of the attached
 * streams. EBUSY (409) when E already started ("Error: Exec command ID is already running"
 * or "... has already run"). On success E is running; finish it with exec_wait (or, when
 * detached, a reaper thread already does). */
int exec_spawn(struct exec_inst *e, pid_t ctr_pid, const char *bundle, bool detached,
               struct exec_io *io, berr_t *err);

/* Wait for E's command to exit (blocking), record its exit code and mark E finished: the
 * code is visible to exec_inspect before this returns. Returns the exit code. Safe to call
 * more than once. */
int exec_wait(struct exec_inst *e);

/* True (and *code set) once E's command exited, without waiting; reaps it when it did. */
bool exec_poll_exit(struct exec_inst *e, int *code);

/* Hand E's running command over to a thread that waits for it and records its exit (and
 * drains its pty, if any, so it never blocks on output nobody reads): for detached execs,
 * and when the client of an attached one went away. */
void exec_detach(struct exec_inst *e);

/* A pidfd for E's command (poll()able: readable once it exited), or -1 when unavailable.
 * The caller closes it. */
int exec_pidfd(struct exec_inst *e);

/* Set E's terminal size (before start: the size the pty starts with). No-op without a TTY. */
int exec_resize(struct exec_inst *e, unsigned short rows, unsigned short cols, berr_t *err);

/* Close and forget E's pty master (the attached stream is over). */
void exec_release_tty(struct exec_inst *e);

/* GET /exec/{id}/json. */
json_t *exec_inspect(struct exec_inst *e);

/* Forget every exec of container CTR_ID (it is being removed). */
void exec_forget_container(const char *ctr_id);

/* The ids of CTR_ID's execs as a JSON array, or JSON null when none (inspect's ExecIDs). */
json_t *exec_ids_of(const char *ctr_id);

#endif
