/* cgroup v1: one hierarchy per controller (or a few co-mounted), each holding PARENT/ID. */
#include "runtime-agent/runtime/cgroup_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"

enum { C_MEMORY, C_PIDS, C_CPU, C_CPUACCT, C_FREEZER, C_DEVICES, C_BLKIO, C_COUNT };

static const char *const names[C_COUNT] = {"memory",  "pids",    "cpu",  "cpuacct",
                                           "freezer", "devices", "blkio"};

/* Docker's default device rules: mknod anything, use only the harmless devices. */
static const char *const device_rules[] = {
    "c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 1:8 rwm",
    "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
};

/* Which controllers are mounted, each hierarchy counted once (cpu,cpuacct may share one). */
static const bool *hierarchies(void)
{
    static bool use[C_COUNT], done;
    dev_t seen[C_COUNT];
    int n = 0;

    if (done)
        return use;
    for (int c = 0; c < C_COUNT; c++) {
        struct stat st;
        _cleanup_free_ char *dir = path_join(CGROUP_ROOT, names[c]);
        if (stat(dir, &st) < 0)
            continue;
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup = dup || seen[i] == st.st_dev;
        use[c] = !dup;
        seen[n++] = st.st_dev;
    }
    done = true;
    return use;
}

static char *dir_of(struct cgroup *cg, int c)
{
    return xasprintf(CGROUP_ROOT "/%s/%s", names[c], cg->rel);
}

static int make_dir(const char *dir, berr_t *err)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return berr_set(err, errno, "cgroup: create %s", dir);
    _cleanup_free_ char *parent = xstrdup(dir);
    *strrchr(parent, '/') = '\0';
    if (mkdir_p(parent, 0755, err) < 0)
        return -1;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return berr_set(err, errno, "cgroup: create %s", dir);
    return 0;
}

static int set_memory(const char *dir, const struct rt_resources *r, berr_t *err)
{
    if (r->memory <= 0)
        return 0;
    if (cg_write_int(dir, "memory.limit_in_bytes", r->memory, err) < 0)
        return -1;
    int64_t sw = r->memory_swap == 0 ? 2 * r->memory : r->memory_swap;
    _cleanup_free_ char *memsw = path_join(dir, "memory.memsw.limit_in_bytes");
    if (access(memsw, F_OK) < 0)
        return 0;
    return cg_write_int(dir, "memory.memsw.limit_in_bytes", sw, err);
}

static int set_cpu(const char *dir, const struct rt_resources *r, berr_t *err)
{
    if (r->cpu_shares > 0 && cg_write_int(dir, "cpu.shares", r->cpu_shares, err) < 0)
        return -1;
    if (r->cpu_period > 0 && cg_write_int(dir, "cpu.cfs_period_us", r->cpu_period, err) < 0)
        return -1;
    if (r->cpu_quota > 0 && cg_write_int(dir, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
        return -1;
    return 0;
}

static int set_devices(const char *dir, berr_t *err)
{
    if (cg_write(dir, "devices.deny", "a", err) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(device_rules) / sizeof(device_rules[0]); i++)
        if (cg_write(dir, "devices.allow", device_rules[i], err) < 0)
            return -1;
    return 0;
}

static int apply(int c, const char *dir, const struct rt_resources *r, bool privileged, berr_t *err)
{
    switch (c) {
    case C_MEMORY:
        return set_memory(dir, r, err);
    case C_PIDS:
        return r->pids_limit > 0 ? cg_write_int(dir, "pids.max", r->pids_limit, err) : 0;
    case C_CPU:
        return set_cpu(dir, r, err);
    case C_DEVICES:
        return privileged ? 0 : set_devices(dir, err);
    default:
        return 0;
    }
}

static int v1_create(struct cgroup *cg, const struct rt_resources *res, bool privileged,
                     berr_t *err)
{
    const bool *use = hierarchies();

    for (int c = 0; c < C_COUNT; c++) {
        if (!use[c])
            continue;
        _cleanup_free_ char *dir = dir_of(cg, c);
        if (make_dir(dir, err) < 0 || apply(c, dir, res, privileged, err) < 0)
            return -1;
    }
    return 0;
}

static int v1_add_pid(struct cgroup *cg, pid_t pid, berr_t *err)
{
    const bool *use = hierarchies();

    for (int c = 0; c < C_COUNT; c++) {
        if (!use[c])
            continue;
        _cleanup_free_ char *dir = dir_of(cg, c);
        if (cg_write_int(dir, "cgroup.procs", pid, err) < 0)
            return -1;
    }
    return 0;
}

static bool v1_oom_killed(struct cgroup *cg)
{
    _cleanup_free_ char *dir = dir_of(cg, C_MEMORY);
    char buf[512];

    if (cg_read(dir, "memory.oom_control", buf, sizeof(buf)) < 0)
        return false;
    if (strstr(buf, "oom_kill ") != NULL)
        return cg_read_key(dir, "memory.oom_control", "oom_kill") > 0;
    /* Kernels before 4.13 do not count kills: a hit limit is the best sign there is. */
    return cg_read_u64(dir, "memory.failcnt") > 0;
}

static int v1_freeze(struct cgroup *cg, bool freeze, berr_t *err)
{
    _cleanup_free_ char *dir = dir_of(cg, C_FREEZER);
    const char *want = freeze ? "FROZEN" : "THAWED";

    if (cg_write(dir, "freezer.state", want, err) < 0)
        return -1;
    return cg_wait_for(dir, "freezer.state", want, err);
}

static bool v1_frozen(struct cgroup *cg)
{
    _cleanup_free_ char *dir = dir_of(cg, C_FREEZER);
    char buf[32];

    return cg_read(dir, "freezer.state", buf, sizeof(buf)) == 0 && strcmp(buf, "THAWED") != 0;
}

/* v1 reports "no limit" as a huge page-aligned number. */
static uint64_t limit_or_zero(uint64_t v)
{
    return v >= (1ULL << 62) ? 0 : v;
}

/* blkio.throttle.io_service_bytes_recursive: "MAJ:MIN Read N" lines (and a "Total N"). */
static void read_blkio(const char *dir, struct runtime_stats *st)
{
    _cleanup_free_ char *text = cg_read_text(dir, "blkio.throttle.io_service_bytes_recursive");
    char *save = NULL;

    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned maj, min;
        char op[16];
        unsigned long long v;
        if (sscanf(line, "%u:%u %15s %llu", &maj, &min, op, &v) != 4)
            continue;
        if (strcmp(op, "Read") == 0)
            cg_add_blkio(st, maj, min, "read", v);
        else if (strcmp(op, "Write") == 0)
            cg_add_blkio(st, maj, min, "write", v);
    }
}

static int v1_stats(struct cgroup *cg, struct runtime_stats *st, berr_t *err)
{
    _cleanup_free_ char *mem = dir_of(cg, C_MEMORY);
    _cleanup_free_ char *pids = dir_of(cg, C_PIDS);
    _cleanup_free_ char *cpu = dir_of(cg, C_CPU);
    _cleanup_free_ char *acct = dir_of(cg, C_CPUACCT);
    _cleanup_free_ char *blkio = dir_of(cg, C_BLKIO);

    if (access(mem, F_OK) < 0)
        return berr_set(err, errno, "cgroup %s", mem);
    st->memory_usage = cg_read_u64(mem, "memory.usage_in_bytes");
    st->memory_limit = limit_or_zero(cg_read_u64(mem, "memory.limit_in_bytes"));
    st->memory_max_usage = cg_read_u64(mem, "memory.max_usage_in_bytes");
    st->memory_failcnt = cg_read_u64(mem, "memory.failcnt");
    cg_read_memory_stat(mem, "memory.stat", st);
    st->pids_current = cg_read_u64(pids, "pids.current");
    st->pids_limit = cg_read_u64(pids, "pids.max");
    st->cpu_usage_ns = cg_read_u64(acct, "cpuacct.usage");
    _cleanup_free_ char *ticks = cg_read_text(acct, "cpuacct.stat");
    st->cpu_user_ns = cg_ticks_to_ns(cg_key(ticks, "user"));
    st->cpu_kernel_ns = cg_ticks_to_ns(cg_key(ticks, "system"));
    cg_read_percpu(acct, "cpuacct.usage_percpu", st);
    _cleanup_free_ char *cpu_stat = cg_read_text(cpu, "cpu.stat");
    st->throttle_periods = cg_key(cpu_stat, "nr_periods");
    st->throttled_periods = cg_key(cpu_stat, "nr_throttled");
    st->throttled_ns = cg_key(cpu_stat, "throttled_time");
    read_blkio(blkio, st);
    return 0;
}

static int v1_destroy(struct cgroup *cg, berr_t *err)
{
    const bool *use = hierarchies();
    int rc = 0;

    for (int c = 0; c < C_COUNT; c++) {
        if (!use[c])
            continue;
        _cleanup_free_ char *dir = dir_of(cg, c);
        if (cg_rmdir(dir, err) < 0)
            rc = -1;
    }
    return rc;
}

/* Each "N:ctrl1,ctrl2:/path" line of /proc/TARGET/cgroup names a hierarchy mounted (in the
 * usual layout) at /sys/fs/cgroup/ctrl1; the unified "0::/path" line is skipped. */
static int join_line(char *line, berr_t *err)
{
    char *ctrls = strchr(line, ':'), *path;

    if (ctrls == NULL || (path = strchr(++ctrls, ':')) == NULL)
        return 0;
    *path++ = '\0';
    if (*ctrls == '\0')
        return 0;
    ctrls[strcspn(ctrls, ",")] = '\0';
    if (strncmp(ctrls, "name=", 5) == 0)
        ctrls += 5;
    _cleanup_free_ char *dir = xasprintf(CGROUP_ROOT "/%s%s", ctrls, path);
    if (access(dir, F_OK) < 0)
        return 0;
    return cg_write_int(dir, "cgroup.procs", getpid(), err);
}

static int v1_join(pid_t target, berr_t *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/cgroup", (int)target);
    _cleanup_free_ char *text = NULL;

    if (read_file(path, &text, NULL, err) < 0)
        return -1;
    for (char *line = text, *next; line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (join_line(line, err) < 0)
            return -1;
    }
    return 0;
}

const struct cgroup_ops cgroup_v1_ops = {
    .name = "v1",
    .create = v1_create,
    .add_pid = v1_add_pid,
    .oom_killed = v1_oom_killed,
    .freeze = v1_freeze,
    .frozen = v1_frozen,
    .stats = v1_stats,
    .destroy = v1_destroy,
    .join = v1_join,
};
