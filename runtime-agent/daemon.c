#include "runtime-agent/daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "berth/util.h"

#define ENGINE_ID_FILE "engine-id"

/* A random (version 4) UUID, the form dockerd uses for its engine ID. */
static char *new_uuid(berr_t *err)
{
    unsigned char b[16];

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        berr_set(err, errno, "engine ID: read random bytes");
        return NULL;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                     b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                     b[13], b[14], b[15]);
}

/* Read the engine ID kept in the data root, creating it on first start. */
static int load_id(struct daemon *d, berr_t *err)
{
    _cleanup_free_ char *path = path_join(d->data_root, ENGINE_ID_FILE);
    char *text = NULL;

    if (file_exists(path)) {
        if (read_file(path, &text, NULL, err) < 0)
            return berr_prefix(err, "engine ID");
        text[strcspn(text, " \t\r\n")] = '\0';
        if (text[0] != '\0') {
            d->id = text;
            return 0;
        }
        free(text);
    }
    _cleanup_free_ char *id = new_uuid(err);
    if (id == NULL)
        return -1;
    _cleanup_free_ char *line = xasprintf("%s\n", id);
    if (write_file_atomic(path, line, strlen(line), 0600, err) < 0)
        return berr_prefix(err, "engine ID");
    d->id = steal_pointer(&id);
    return 0;
}

int daemon_init(struct daemon *d, const char *data_root, const char *exec_root, berr_t *err)
{
    memset(d, 0, sizeof(*d));
    d->data_root = xstrdup(data_root);
    d->exec_root = xstrdup(exec_root);
    /* 0711: others may reach the API socket inside, but not list what is there. */
    if (mkdir_p(data_root, 0711, err) < 0)
        return berr_prefix(err, "data root");
    if (mkdir_p(exec_root, 0711, err) < 0)
        return berr_prefix(err, "exec root");
    return load_id(d, err);
}

void daemon_add_warning(struct daemon *d, const char *fmt, ...)
{
    va_list ap;
    char *w = NULL;

    va_start(ap, fmt);
    if (vasprintf(&w, fmt, ap) < 0)
        abort();
    va_end(ap);
    char **nw = realloc(d->warnings, (d->n_warnings + 1) * sizeof(*nw));
    if (nw == NULL)
        abort();
    d->warnings = nw;
    d->warnings[d->n_warnings++] = w;
}

void daemon_counts(struct daemon *d, struct engine_counts *out)
{
    (void)d;
    /* Zero until the container and image stores exist. */
    memset(out, 0, sizeof(*out));
}

void daemon_free(struct daemon *d)
{
    free(d->data_root);
    free(d->exec_root);
    free(d->id);
    for (size_t i = 0; i < d->n_warnings; i++)
        free(d->warnings[i]);
    free(d->warnings);
    memset(d, 0, sizeof(*d));
}
