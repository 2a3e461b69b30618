/* Small helpers shared by berth and berthd: cleanup attributes, strings,
 * files written atomically, advisory locks. */
#ifndef BERTH_UTIL_H
#define BERTH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "berth/error.h"

void berth_freep(void *p);
void berth_closep(int *fd);

#define _cleanup_free_ __attribute__((cleanup(berth_freep)))
#define _cleanup_close_ __attribute__((cleanup(berth_closep)))

/* Return *p and set it to NULL: moves ownership out of a cleanup variable. */
#define steal_pointer(p)                                                                           \
    ({                                                                                             \
        __typeof__(*(p)) _v = *(p);                                                                \
        *(p) = NULL;                                                                               \
        _v;                                                                                        \
    })

/* asprintf that aborts on allocation failure (berth cannot go on without memory). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);

/* Join two path parts with exactly one '/'. */
char *path_join(const char *a, const char *b);

/* mkdir -p with MODE for each created component. */
int mkdir_p(const char *path, mode_t mode, berr_t *err);

/* Remove PATH and everything below it; a missing PATH is not an error. */
int rm_rf(const char *path, berr_t *err);

/* Read a whole file into a NUL-terminated buffer (*len excludes the NUL; len may be NULL). */
int read_file(const char *path, char **out, size_t *len, berr_t *err);

/* Write a file atomically: temp file in the same dir, fsync, rename, fsync dir. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, berr_t *err);

/* Copy SRC to DST atomically with MODE. */
int copy_file_atomic(const char *src, const char *dst, mode_t mode, berr_t *err);

/* Take an exclusive flock on PATH (created 0600); returns the fd holding it. */
int lock_path(const char *path, berr_t *err);

bool file_exists(const char *path);

/* Milliseconds from CLOCK_MONOTONIC. */
long long now_ms(void);

struct timespec;

/* *TS = CLOCK_REALTIME now plus MS milliseconds: a deadline for pthread_cond_timedwait. */
void deadline_in(struct timespec *ts, long ms);

#endif
