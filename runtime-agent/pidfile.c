#include "runtime-agent/pidfile.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"

/* The pid recorded in PATH, or 0 when there is none. */
static pid_t read_pid(const char *path)
{
    _cleanup_free_ char *text = NULL;
    berr_t err = NULL;

    if (read_file(path, &text, NULL, &err) < 0) {
        berr_free(&err);
        return 0;
    }
    long pid = strtol(text, NULL, 10);
    return pid > 0 ? (pid_t)pid : 0;
}

int pidfile_write(const char *path, berr_t *err)
{
    _cleanup_free_ char *dir = xstrdup(path);
    pid_t old = read_pid(path);

    if (old > 0 && old != getpid() && (kill(old, 0) == 0 || errno == EPERM))
        return berr_set(err, 0,
                        "pid file %s: process %d is running; stop it, or remove the file if "
                        "it is not berthd",
                        path, (int)old);
    if (mkdir_p(dirname(dir), 0755, err) < 0)
        return berr_prefix(err, "pid file %s", path);
    _cleanup_free_ char *text = xasprintf("%d\n", (int)getpid());
    return write_file_atomic(path, text, strlen(text), 0644, err);
}

void pidfile_remove(const char *path)
{
    if (read_pid(path) == getpid())
        unlink(path);
}
