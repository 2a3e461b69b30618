/* BUNDLE_DIR/state.json: written atomically by the shim, read by the API layer. */
#ifndef BERTHD_RUNTIME_STATE_H
#define BERTHD_RUNTIME_STATE_H

#include <stddef.h>

#include "runtime-agent/runtime/runtime.h"

#define STATE_FILE "state.json"
#define SHIM_PID_FILE "shim.pid"
#define ATTACH_SOCK "attach.sock"

/* Write ST as DIR/state.json atomically. */
int state_write(const char *dir, const struct runtime_state *st, berr_t *err);

/* Read DIR/state.json into ST as recorded (no liveness check). */
int state_read(const char *dir, struct runtime_state *st, berr_t *err);

/* The current time as RFC 3339 with nanoseconds in UTC, Go's format (trailing zeros cut). */
void state_now(char *buf, size_t len);

#endif
