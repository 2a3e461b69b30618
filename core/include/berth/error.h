/* One error convention for all of berth (CLI, library, drivers, berthd).
 *
 * Every fallible function takes a trailing `berr_t *err`, returns a negative
 * value on failure and sets *err with a message that names the object, the
 * operation and the cause ("machine m1: write config.json: No space left").
 * Call sites propagate with `if (ret < 0) return ret;` and may add context
 * with berr_prefix(). The error object is part of the driver ABI. */
#ifndef BERTH_ERROR_H
#define BERTH_ERROR_H

#include <stdarg.h>

struct berr_s {
    int errnum; /* errno-style cause, 0 when none */
    char *msg;  /* full message, heap allocated */
};
typedef struct berr_s *berr_t;

/* Set *err from a printf format; appends ": strerror(errnum)" when errnum != 0. Returns -1. */
int berr_set(berr_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Same as berr_set with a va_list. Returns -1. */
int berr_vset(berr_t *err, int errnum, const char *fmt, va_list ap);

/* Prefix the message of an already set *err with "CONTEXT: ". Returns -1. */
int berr_prefix(berr_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append SUFFIX to the message of an already set *err (e.g. " (step: upload)"). Returns -1. */
int berr_append(berr_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message of err, or "unknown error" when unset. */
const char *berr_msg(berr_t err);

/* Release *err and reset it to NULL. */
void berr_free(berr_t *err);

#endif
