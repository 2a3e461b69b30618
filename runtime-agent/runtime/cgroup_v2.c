/* cgroup v2: one unified hierarchy; PARENT/ID gets the cpu, memory and pids controllers
 * enabled by its ancestors. Device access control (a BPF program in v2) is not applied. */
#include "runtime-agent/runtime/cgroup_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"

static const char *const wanted[] = {"cpu", "memory", "pids"};

static char *dir_of(struct cgroup *cg)
{
    return path_join(CGROUP_ROOT, cg->rel);
}

static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return true;
    return false;
}

/* Enable the wanted controllers in DIR's subtree when DIR offers them and they are off. */
static int enable_controllers(const char *dir, berr_t *err)
{
    char avail[512], on[512];

    if (cg_read(dir, "cgroup.controllers", avail, sizeof(avail)) < 0 ||
        cg_read(dir, "cgroup.subtree_control", on, sizeof(on)) < 0)
        return berr_set(err, errno, "cgroup: read controllers of %s", dir);
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        if (!has_word(avail, wanted[i]) || has_word(on, wanted[i]))
            continue;
        _cleanup_free_ char *v = xasprintf("+%s", wanted[i]);
        if (cg_write(dir, "cgroup.subtree_control", v, err) < 0)
            return -1;
    }
    return 0;
}

/* Create every component of REL below the root, enabling controllers on the way down. */
static int make_path(const char *rel, berr_t *err)
{
    _cleanup_free_ char *dir = xstrdup(CGROUP_ROOT);

    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (enable_controllers(dir, err) < 0)
            return -1;
        char *next = xasprintf("%s/%.*s", dir, (int)n, p);
        free(dir);
        dir = next;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return berr_set(err, errno, "cgroup: create %s", dir);
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

static int set_memory(const char *dir, const struct rt_resources *r, berr_t *err)
{
    if (r->memory <= 0)
        return 0;
    if (cg_write_int(dir, "memory.max", r->memory, err) < 0)
        return -1;
    _cleanup_free_ char *swap_file = path_join(dir, "memory.swap.max");
    if (access(swap_file, F_OK) < 0)
        return 0;
    if (r->memory_swap < 0)
        return cg_write(dir, "memory.swap.max", "max", err);
    int64_t swap = r->memory_swap == 0 ? r->memory : r->memory_swap - r->memory;
    return cg_write_int(dir, "memory.swap.max", swap > 0 ? swap : 0, err);
}

static int set_cpu(const char *dir, const struct rt_resources *r, berr_t *err)
{
    if (r->cpu_shares > 0) {
        int64_t w = 1 + ((r->cpu_shares - 2) * 9999) / 262142;
        if (cg_write_int(dir, "cpu.weight", w < 1 ? 1 : w > 10000 ? 10000 : w, err) < 0)
            return -1;
    }
    if (r->cpu_quota <= 0 && r->cpu_period <= 0)
        return 0;
    char v[64];
    int64_t period = r->cpu_period > 0 ? r->cpu_period : 100000;
    if (r->cpu_quota > 0)
        snprintf(v, sizeof(v), "%lld %lld", (long long)r->cpu_quota, (long long)period);
    else
        snprintf(v, sizeof(v), "max %lld", (long long)period);
    return cg_write(dir, "cpu.max", v, err);
}

static int v2_create(struct cgroup *cg, const struct rt_resources *res, bool privileged,
                     berr_t *err)
{
    _cleanup_free_ char *dir = dir_of(cg);

    (void)privileged;
    if (make_path(cg->rel, err) < 0 || set_memory(dir, res, err) < 0 || set_cpu(dir, res, err) < 0)
        return -1;
    if (res->pids_limit > 0 && cg_write_int(dir, "pids.max", res->pids_limit, err) < 0)
        return -1;
    return 0;
}

static int v2_add_pid(struct cgroup *cg, pid_t pid, berr_t *err)
{
    _cleanup_free_ char *dir = dir_of(cg);
    return cg_write_int(dir, "cgroup.procs", pid, err);
}

static bool v2_oom_killed(struct cgroup *cg)
{
    _cleanup_free_ char *dir = dir_of(cg);
    return cg_read_key(dir, "memory.events", "oom_kill") > 0;
}

static int v2_freeze(struct cgroup *cg, bool freeze, berr_t *err)
{
    _cleanup_free_ char *dir = dir_of(cg);

    if (cg_write(dir, "cgroup.freeze", freeze ? "1" : "0", err) < 0)
        return -1;
    return cg_wait_for(dir, "cgroup.events", freeze ? "frozen 1" : "frozen 0", err);
}

static bool v2_frozen(struct cgroup *cg)
{
    _cleanup_free_ char *dir = dir_of(cg);
    return cg_read_key(dir, "cgroup.events", "frozen") > 0;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N ..." lines. */
static void read_io(const char *dir, struct runtime_stats *st)
{
    _cleanup_free_ char *text = cg_read_text(dir, "io.stat");
    char *save = NULL;

    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned maj, min;
        if (sscanf(line, "%u:%u", &maj, &min) != 2)
            continue;
        const char *r = strstr(line, " rbytes="), *w = strstr(line, " wbytes=");
        cg_add_blkio(st, maj, min, "read", r ? strtoull(r + 8, NULL, 10) : 0);
        cg_add_blkio(st, maj, min, "write", w ? strtoull(w + 8, NULL, 10) : 0);
    }
}

static int v2_stats(struct cgroup *cg, struct runtime_stats *st, berr_t *err)
{
    _cleanup_free_ char *dir = dir_of(cg);

    if (access(dir, F_OK) < 0)
        return berr_set(err, errno, "cgroup %s", dir);
    st->memory_usage = cg_read_u64(dir, "memory.current");
    st->memory_limit = cg_read_u64(dir, "memory.max");
    cg_read_memory_stat(dir, "memory.stat", st);
    st->pids_current = cg_read_u64(dir, "pids.current");
    st->pids_limit = cg_read_u64(dir, "pids.max");
    _cleanup_free_ char *cpu = cg_read_text(dir, "cpu.stat");
    st->cpu_usage_ns = cg_key(cpu, "usage_usec") * 1000;
    st->cpu_user_ns = cg_key(cpu, "user_usec") * 1000;
    st->cpu_kernel_ns = cg_key(cpu, "system_usec") * 1000;
    st->throttle_periods = cg_key(cpu, "nr_periods");
    st->throttled_periods = cg_key(cpu, "nr_throttled");
    st->throttled_ns = cg_key(cpu, "throttled_usec") * 1000;
    read_io(dir, st);
    return 0;
}

static int v2_destroy(struct cgroup *cg, berr_t *err)
{
    _cleanup_free_ char *dir = dir_of(cg);
    return cg_rmdir(dir, err);
}

static int v2_join(pid_t target, berr_t *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/cgroup", (int)target);
    _cleanup_free_ char *text = NULL;

    if (read_file(path, &text, NULL, err) < 0)
        return -1;
    char *line = strstr(text, "0::");
    if (line == NULL)
        return berr_set(err, 0, "cgroup: no cgroup v2 entry in %s", path);
    line += 3;
    line[strcspn(line, "\n")] = '\0';
    _cleanup_free_ char *dir = path_join(CGROUP_ROOT, line);
    return cg_write_int(dir, "cgroup.procs", getpid(), err);
}

const struct cgroup_ops cgroup_v2_ops = {
    .name = "v2",
    .create = v2_create,
    .add_pid = v2_add_pid,
    .oom_killed = v2_oom_killed,
    .freeze = v2_freeze,
    .frozen = v2_frozen,
    .stats = v2_stats,
    .destroy = v2_destroy,
    .join = v2_join,
};
