#include "berth/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int berr_vset(berr_t *err, int errnum, const char *fmt, va_list ap)
{
    char *text = NULL;
    char *full = NULL;

    if (err == NULL)
        return -1;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    if (text != NULL && errnum != 0) {
        if (asprintf(&full, "%s: %s", text, strerror(errnum)) < 0)
            full = NULL;
        free(text);
    } else {
        full = text;
    }
    berr_free(err);
    *err = calloc(1, sizeof(**err));
    if (*err == NULL) {
        free(full);
        return -1;
    }
    (*err)->errnum = errnum;
    (*err)->msg = full;
    return -1;
}

int berr_set(berr_t *err, int errnum, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    berr_vset(err, errnum, fmt, ap);
    va_end(ap);
    return -1;
}

int berr_prefix(berr_t *err, const char *fmt, ...)
{
    va_list ap;
    char *ctx = NULL;
    char *full = NULL;

    if (err == NULL || *err == NULL)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        ctx = NULL;
    va_end(ap);
    if (ctx != NULL && asprintf(&full, "%s: %s", ctx, berr_msg(*err)) >= 0) {
        free((*err)->msg);
        (*err)->msg = full;
    }
    free(ctx);
    return -1;
}

int berr_append(berr_t *err, const char *fmt, ...)
{
    va_list ap;
    char *tail = NULL;
    char *full = NULL;

    if (err == NULL || *err == NULL)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&tail, fmt, ap) < 0)
        tail = NULL;
    va_end(ap);
    if (tail != NULL && asprintf(&full, "%s%s", berr_msg(*err), tail) >= 0) {
        free((*err)->msg);
        (*err)->msg = full;
    }
    free(tail);
    return -1;
}

const char *berr_msg(berr_t err)
{
    if (err == NULL || err->msg == NULL)
        return "unknown error";
    return err->msg;
}

void berr_free(berr_t *err)
{
    if (err == NULL || *err == NULL)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}
