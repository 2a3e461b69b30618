#include "runtime-agent/runtime/cgroup_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"

static const struct cgroup_ops *detect(void)
{
    static const struct cgroup_ops *ops;

    if (ops == NULL)
        ops =
            access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0 ? &cgroup_v2_ops : &cgroup_v1_ops;
    return ops;
}

int cg_write(const char *dir, const char *file, const char *value, berr_t *err)
{
    _cleanup_free_ char *path = path_join(dir, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    size_t len = strlen(value);

    if (fd < 0)
        return berr_set(err, errno, "cgroup: open %s", path);
    if (write(fd, value, len) != (ssize_t)len)
        return berr_set(err, errno, "cgroup: write \"%s\" to %s", value, path);
    return 0;
}

int cg_write_int(const char *dir, const char *file, int64_t v, berr_t *err)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return cg_write(dir, file, buf, err);
}

int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
    _cleanup_free_ char *path = path_join(dir, file);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return 0;
}

uint64_t cg_read_u64(const char *dir, const char *file)
{
    char buf[64];

    if (cg_read(dir, file, buf, sizeof(buf)) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

uint64_t cg_key(const char *text, const char *key)
{
    size_t klen = strlen(key);

    for (const char *line = text; line != NULL; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return strtoull(line + klen + 1, NULL, 10);
    }
    return 0;
}

uint64_t cg_read_key(const char *dir, const char *file, const char *key)
{
    char buf[4096];

    if (cg_read(dir, file, buf, sizeof(buf)) < 0)
        return 0;
    return cg_key(buf, key);
}

/* The next line of *CURSOR (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **cursor)
{
    char *line = *cursor;

    if (line == NULL || *line == '\0')
        return NULL;
    char *nl = strchr(line, '\n');
    if (nl != NULL)
        *nl++ = '\0';
    *cursor = nl;
    return line;
}

char *cg_read_text(const char *dir, const char *file)
{
    _cleanup_free_ char *path = path_join(dir, file);
    char *text = NULL;
    berr_t err = NULL;

    if (read_file(path, &text, NULL, &err) < 0) {
        berr_free(&err);
        return NULL;
    }
    return text;
}

void cg_read_memory_stat(const char *dir, const char *file, struct runtime_stats *st)
{
    _cleanup_free_ char *text = cg_read_text(dir, file);
    size_t cap = 0;

    for (char *cur = text, *line; (line = next_line(&cur)) != NULL;) {
        char key[sizeof(st->memory_stat[0].key)];
        unsigned long long v;
        if (sscanf(line, "%63s %llu", key, &v) != 2)
            continue;
        if (st->n_memory_stat == cap) {
            cap = cap ? 2 * cap : 64;
            st->memory_stat = xrealloc(st->memory_stat, cap * sizeof(*st->memory_stat));
        }
        struct runtime_stat_kv *kv = &st->memory_stat[st->n_memory_stat++];
        snprintf(kv->key, sizeof(kv->key), "%s", key);
        kv->value = v;
    }
}

void cg_read_percpu(const char *dir, const char *file, struct runtime_stats *st)
{
    _cleanup_free_ char *text = cg_read_text(dir, file);
    size_t cap = 0;

    for (char *p = text, *end; p != NULL; p = end) {
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            break;
        if (st->n_percpu == cap) {
            cap = cap ? 2 * cap : 16;
            st->percpu_ns = xrealloc(st->percpu_ns, cap * sizeof(*st->percpu_ns));
        }
        st->percpu_ns[st->n_percpu++] = v;
    }
}

void cg_add_blkio(struct runtime_stats *st, unsigned major, unsigned minor, const char *op,
                  uint64_t value)
{
    st->blkio = xrealloc(st->blkio, (st->n_blkio + 1) * sizeof(*st->blkio));
    st->blkio[st->n_blkio++] =
        (struct runtime_blkio){.major = major, .minor = minor, .op = op, .value = value};
}

uint64_t cg_ticks_to_ns(uint64_t ticks)
{
    long hz = sysconf(_SC_CLK_TCK);
    return ticks * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int cg_rmdir(const char *dir, berr_t *err)
{
    for (int i = 0; i < 200; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            break;
        pause_ms(i < 20 ? 1 : 10);
    }
    return berr_set(err, errno, "cgroup: remove %s", dir);
}

int cg_wait_for(const char *dir, const char *file, const char *want, berr_t *err)
{
    char buf[4096];

    for (int i = 0; i < 400; i++) {
        if (cg_read(dir, file, buf, sizeof(buf)) == 0 && strstr(buf, want) != NULL)
            return 0;
        pause_ms(i < 50 ? 1 : 5);
    }
    return berr_set(err, ETIMEDOUT, "cgroup %s: waiting for %s to show \"%s\"", dir, file, want);
}

int cgroup_open(struct cgroup *cg, const char *parent, const char *id, berr_t *err)
{
    (void)err;
    cg->ops = detect();
    cg->rel = xasprintf("%s/%s", parent, id);
    return 0;
}

void cgroup_open_rel(struct cgroup *cg, const char *rel)
{
    cg->ops = detect();
    cg->rel = xstrdup(rel);
}

int cgroup_create(struct cgroup *cg, const struct rt_resources *res, bool privileged, berr_t *err)
{
    return cg->ops->create(cg, res, privileged, err);
}

int cgroup_add_pid(struct cgroup *cg, pid_t pid, berr_t *err)
{
    return cg->ops->add_pid(cg, pid, err);
}

bool cgroup_oom_killed(struct cgroup *cg)
{
    return cg->ops->oom_killed(cg);
}

int cgroup_freeze(struct cgroup *cg, bool freeze, berr_t *err)
{
    return cg->ops->freeze(cg, freeze, err);
}

bool cgroup_frozen(struct cgroup *cg)
{
    return cg->ops->frozen(cg);
}

int cgroup_stats(struct cgroup *cg, struct runtime_stats *st, berr_t *err)
{
    memset(st, 0, sizeof(*st));
    return cg->ops->stats(cg, st, err);
}

int cgroup_destroy(struct cgroup *cg, berr_t *err)
{
    return cg->ops->destroy(cg, err);
}

void cgroup_close(struct cgroup *cg)
{
    free(cg->rel);
    cg->rel = NULL;
}

int cgroup_join(pid_t target, berr_t *err)
{
    return detect()->join(target, err);
}
