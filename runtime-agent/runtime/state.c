#include "runtime-agent/runtime/state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/timefmt.h"

void state_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char frac[16];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
    size_t f = strlen(frac);
    while (f > 1 && frac[f - 1] == '0')
        frac[--f] = '\0';
    snprintf(buf + n, len - n, "%sZ", f > 1 ? frac : "");
}

int state_write(const char *dir, const struct runtime_state *st, berr_t *err)
{
    _cleanup_free_ char *path = path_join(dir, STATE_FILE);
    json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:b, s:s, s:s, s:s, s:s}", "status",
                          st->running ? "running" : "exited", "pid", (int)st->pid, "shim_pid",
                          (int)st->shim_pid, "exit_code", st->exit_code, "oom_killed",
                          st->oom_killed, "error", st->error, "started_at", st->started_at,
                          "finished_at", st->finished_at, "cgroup", st->cgroup);
    if (o == NULL)
        return berr_set(err, EINVAL, "state %s: encode", path);
    _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return berr_set(err, ENOMEM, "state %s: encode", path);
    return write_file_atomic(path, text, strlen(text), 0644, err);
}

static void copy_str(json_t *o, const char *key, char *dst, size_t len)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, len, "%s", v ? v : "");
}

int state_read(const char *dir, struct runtime_state *st, berr_t *err)
{
    _cleanup_free_ char *path = path_join(dir, STATE_FILE);
    json_error_t jerr;

    memset(st, 0, sizeof(*st));
    if (!file_exists(path))
        return berr_set(err, ENOENT, "state %s", path);
    json_t *o = json_load_file(path, 0, &jerr);
    if (o == NULL)
        return berr_set(err, 0, "state %s: %s", path, jerr.text);
    const char *status = json_string_value(json_object_get(o, "status"));
    st->running = status && strcmp(status, "running") == 0;
    st->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
    st->shim_pid = (pid_t)json_integer_value(json_object_get(o, "shim_pid"));
    st->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
    st->oom_killed = json_is_true(json_object_get(o, "oom_killed"));
    copy_str(o, "error", st->error, sizeof(st->error));
    copy_str(o, "started_at", st->started_at, sizeof(st->started_at));
    copy_str(o, "finished_at", st->finished_at, sizeof(st->finished_at));
    copy_str(o, "cgroup", st->cgroup, sizeof(st->cgroup));
    json_decref(o);
    return 0;
}
