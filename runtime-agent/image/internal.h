/* Helpers shared by the image modules: errors whose errnum is a status for
 * the API layer, and growing arrays. */
#ifndef BERTHD_IMAGE_INTERNAL_H
#define BERTHD_IMAGE_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "berth/error.h"

/* Errnum as a status rather than a system cause: ENOENT means 404 ("No such image: REF"),
 * EBUSY 409 (conflict), EINVAL 400 (bad input); the message carries no strerror suffix.
 * Set *err to the formatted message with errnum CODE and no ": strerror" suffix. Returns -1. */
static inline __attribute__((format(printf, 3, 4))) int berr_status(berr_t *err, int code,
                                                                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    berr_vset(err, 0, fmt, ap);
    va_end(ap);
    if (err != NULL && *err != NULL)
        (*err)->errnum = code;
    return -1;
}

/* A JSON string made from the heap string S, which is freed. */
static inline json_t *json_string_take(char *s)
{
    json_t *v = json_string(s);

    free(s);
    return v;
}

/* The names in directory FD (which stays the caller's; "." and ".." left out), sorted so
 * that the same tree always gives the same tar (pack.c). -1 with errno on failure. */
int image_dir_names(int fd, char ***names, size_t *n);
void image_names_free(char **names, size_t n);

/* Make room in ARR (of capacity CAP) for element N, doubling; aborts without memory. */
#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) >= (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            void *grown_ = realloc((arr), (cap) * sizeof(*(arr)));                                 \
            if (grown_ == NULL) {                                                                  \
                fputs("berthd: out of memory\n", stderr);                                          \
                abort();                                                                           \
            }                                                                                      \
            (arr) = grown_;                                                                        \
        }                                                                                          \
    } while (0)

#endif
