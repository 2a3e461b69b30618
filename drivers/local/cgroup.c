#include "drivers/local/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CPU_PERIOD_US 100000

/* What the engine inside hands its containers (Docker's defaults) plus /dev/fuse and
 * /dev/net/tun: creating any node, using only these. No block device of the host. */
static const char *const device_rules[] = {
    "c *:* m",     "b *:* m",      "c 1:3 rwm",    "c 1:5 rwm", "c 1:7 rwm",
    "c 1:8 rwm",   "c 1:9 rwm",    "c 5:0 rwm",    "c 5:1 rwm", "c 5:2 rwm",
    "c 136:* rwm", "c 10:200 rwm", "c 10:229 rwm",
};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *out = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
            *out++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static bool has_opt(const char *opts, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SRC SUPER". */
static void parse_line(struct mcgroup *cg, char *line, char (*devs)[32])
{
    char *f[6], *save = NULL, *sep = strstr(line, " - ");
    char type[32], src[256], super[512];

    if (sep == NULL || sscanf(sep + 3, "%31s %255s %511s", type, src, super) != 3)
        return;
    *sep = '\0';
    f[0] = strtok_r(line, " ", &save);
    for (int i = 1; i < 6; i++)
        f[i] = f[i - 1] ? strtok_r(NULL, " ", &save) : NULL;
    if (f[5] == NULL || (strcmp(type, "cgroup") != 0 && strcmp(type, "cgroup2") != 0))
        return;
    unescape(f[3]);
    unescape(f[4]);
    if (strcmp(f[3], "/") != 0 || strncmp(f[4], CGROUP_ROOT, strlen(CGROUP_ROOT)) != 0)
        return;
    for (size_t i = 0; i < cg->n; i++)
        if (strcmp(devs[i], f[2]) == 0)
            return; /* the same hierarchy mounted twice */
    struct mcg_hier *h = &cg->h[cg->n];
    snprintf(devs[cg->n], 32, "%s", f[2]);
    h->mnt = xstrdup(f[4]);
    h->name = xstrdup(f[4] + strlen(CGROUP_ROOT) + (f[4][strlen(CGROUP_ROOT)] == '/'));
    h->v2 = strcmp(type, "cgroup2") == 0;
    h->memory = !h->v2 && has_opt(super, "memory");
    h->cpu = !h->v2 && has_opt(super, "cpu");
    h->cpuset = !h->v2 && has_opt(super, "cpuset");
    h->devices = !h->v2 && has_opt(super, "devices");
    cg->n++;
}

int mcg_open(struct mcgroup *cg, const char *rel, berr_t *err)
{
    enum { MAX_HIER = 32 };
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char(*devs)[32] = NULL;
    char *line = NULL;
    size_t cap = 0;

    memset(cg, 0, sizeof(*cg));
    if (f == NULL)
        return berr_set(err, errno, "cgroup: open /proc/self/mountinfo");
    cg->h = xcalloc(MAX_HIER, sizeof(*cg->h));
    devs = xcalloc(MAX_HIER, sizeof(*devs));
    while (cg->n < MAX_HIER && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        parse_line(cg, line, devs);
    }
    free(line);
    free(devs);
    fclose(f);
    cg->rel = xstrdup(rel);
    if (cg->n == 0) {
        mcg_close(cg);
        return berr_set(err, 0, "cgroup: no cgroup file system is mounted under " CGROUP_ROOT);
    }
    return 0;
}

void mcg_close(struct mcgroup *cg)
{
    for (size_t i = 0; i < cg->n; i++) {
        free(cg->h[i].mnt);
        free(cg->h[i].name);
    }
    free(cg->h);
    free(cg->rel);
    memset(cg, 0, sizeof(*cg));
}

static int write_str(const char *dir, const char *file, const char *value, berr_t *err)
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

static int read_str(const char *dir, const char *file, char *buf, size_t len)
{
    _cleanup_free_ char *path = path_join(dir, file);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0 || (n = read(fd, buf, len - 1)) < 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* v2: turn on in DIR's subtree every controller DIR has. */
static int enable_all(const char *dir, berr_t *err)
{
    char avail[512], on[512], *save = NULL;

    if (read_str(dir, "cgroup.controllers", avail, sizeof(avail)) < 0 ||
        read_str(dir, "cgroup.subtree_control", on, sizeof(on)) < 0)
        return berr_set(err, errno, "cgroup: read the controllers of %s", dir);
    for (char *c = strtok_r(avail, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
        char want[64];
        size_t n = strlen(c);
        const char *p = on;
        bool enabled = false;
        for (; (p = strstr(p, c)) != NULL; p += n)
            enabled = enabled || ((p == on || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '));
        if (enabled)
            continue;
        snprintf(want, sizeof(want), "+%s", c);
        if (write_str(dir, "cgroup.subtree_control", want, err) < 0)
            return -1;
    }
    return 0;
}

/* v1 cpuset: a new cpuset cgroup holds no CPUs until given its parent's. */
static int inherit_cpuset(const char *parent, const char *dir, berr_t *err)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    char val[1024];

    for (size_t i = 0; i < 2; i++) {
        if (read_str(dir, files[i], val, sizeof(val)) == 0 && val[0] != '\0')
            continue;
        if (read_str(parent, files[i], val, sizeof(val)) < 0)
            return berr_set(err, errno, "cgroup: read %s/%s", parent, files[i]);
        if (write_str(dir, files[i], val, err) < 0)
            return -1;
    }
    return 0;
}

/* Create the path REL below H's root component by component. On v2 the controllers are
 * enabled in each parent on the way down to the machine's cgroup (the first DEPTH
 * components), never in the machine's cgroup itself: see mcg_delegate. */
static int make_path(const struct mcg_hier *h, const char *rel, int depth, berr_t *err)
{
    _cleanup_free_ char *dir = xstrdup(h->mnt);
    int k = 0;

    for (const char *p = rel; *p; k++) {
        size_t n = strcspn(p, "/");
        if (h->v2 && k < depth && enable_all(dir, err) < 0)
            return -1;
        char *next = xasprintf("%s/%.*s", dir, (int)n, p);
        if (mkdir(next, 0755) < 0 && errno != EEXIST) {
            berr_set(err, errno, "cgroup: create %s", next);
            free(next);
            return -1;
        }
        if (h->cpuset && inherit_cpuset(dir, next, err) < 0) {
            free(next);
            return -1;
        }
        free(dir);
        dir = next;
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

/* Limit DIR (the machine's cgroup in H); *mem and *cpu tell whether H applied those. */
static int set_limits(const struct mcg_hier *h, const char *dir, int cpus, int memory_mb, bool *mem,
                      bool *cpu, berr_t *err)
{
    char v[64];
    _cleanup_free_ char *memfile = path_join(dir, h->v2 ? "memory.max" : "memory.limit_in_bytes");
    _cleanup_free_ char *cpufile = path_join(dir, h->v2 ? "cpu.max" : "cpu.cfs_quota_us");

    /* On hybrid hosts the cgroup2 hierarchy has no controllers: the v1 ones limit. */
    if (memory_mb > 0 && (h->v2 ? file_exists(memfile) : h->memory)) {
        snprintf(v, sizeof(v), "%lld", (long long)memory_mb << 20);
        if (write_str(dir, h->v2 ? "memory.max" : "memory.limit_in_bytes", v, err) < 0)
            return -1;
        *mem = true;
    }
    if (cpus > 0 && h->v2 && file_exists(cpufile)) {
        snprintf(v, sizeof(v), "%d %d", cpus * CPU_PERIOD_US, CPU_PERIOD_US);
        if (write_str(dir, "cpu.max", v, err) < 0)
            return -1;
        *cpu = true;
    } else if (cpus > 0 && h->cpu) {
        snprintf(v, sizeof(v), "%d", CPU_PERIOD_US);
        if (write_str(dir, "cpu.cfs_period_us", v, err) < 0)
            return -1;
        snprintf(v, sizeof(v), "%d", cpus * CPU_PERIOD_US);
        if (write_str(dir, "cpu.cfs_quota_us", v, err) < 0)
            return -1;
        *cpu = true;
    }
    if (h->devices) {
        if (write_str(dir, "devices.deny", "a", err) < 0)
            return -1;
        for (size_t i = 0; i < sizeof(device_rules) / sizeof(device_rules[0]); i++)
            if (write_str(dir, "devices.allow", device_rules[i], err) < 0)
                return -1;
    }
    /* Cgroups the engine makes inside get CPUs and memory nodes without asking. */
    if (h->cpuset && write_str(dir, "cgroup.clone_children", "1", err) < 0)
        return -1;
    return 0;
}

int mcg_create(struct mcgroup *cg, int cpus, int memory_mb, berr_t *err)
{
    _cleanup_free_ char *init_rel = xasprintf("%s/init", cg->rel);
    int depth = 1;
    bool mem = false, cpu = false;

    for (const char *p = cg->rel; (p = strchr(p, '/')) != NULL; p++)
        depth++;
    for (size_t i = 0; i < cg->n; i++) {
        const struct mcg_hier *h = &cg->h[i];
        _cleanup_free_ char *dir = path_join(h->mnt, cg->rel);
        int rc = -1;
        /* A machine being removed may delete the shared parent under our feet: retry. */
        for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
            if (attempt > 0)
                berr_free(err);
            rc = make_path(h, cg->rel, depth, err);
        }
        if (rc < 0 || set_limits(h, dir, cpus, memory_mb, &mem, &cpu, err) < 0 ||
            make_path(h, init_rel, depth, err) < 0)
            return -1;
    }
    if (memory_mb > 0 && !mem)
        return berr_set(err, 0, "cgroup: no memory controller is mounted for --local-memory");
    if (cpus > 0 && !cpu)
        return berr_set(err, 0, "cgroup: no cpu controller is mounted for --local-cpus");
    return 0;
}

int mcg_enter(struct mcgroup *cg, pid_t pid, const char *sub, berr_t *err)
{
    char v[32];

    snprintf(v, sizeof(v), "%d", (int)pid);
    for (size_t i = 0; i < cg->n; i++) {
        _cleanup_free_ char *rel = sub ? xasprintf("%s/%s", cg->rel, sub) : xstrdup(cg->rel);
        _cleanup_free_ char *dir = path_join(cg->h[i].mnt, rel);
        if (write_str(dir, "cgroup.procs", v, err) < 0)
            return -1;
    }
    return 0;
}

int mcg_delegate(struct mcgroup *cg, berr_t *err)
{
    for (size_t i = 0; i < cg->n; i++) {
        _cleanup_free_ char *dir = path_join(cg->h[i].mnt, cg->rel);
        if (cg->h[i].v2 && enable_all(dir, err) < 0)
            return -1;
    }
    return 0;
}

bool mcg_exists(struct mcgroup *cg)
{
    for (size_t i = 0; i < cg->n; i++) {
        _cleanup_free_ char *dir = path_join(cg->h[i].mnt, cg->rel);
        if (file_exists(dir))
            return true;
    }
    return false;
}

/* SIGKILL every process in DIR and below; the number of processes found. */
static int kill_tree(const char *dir)
{
    _cleanup_free_ char *procs = path_join(dir, "cgroup.procs");
    _cleanup_free_ char *text = NULL;
    int found = 0;

    if (read_file(procs, &text, NULL, NULL) == 0) {
        for (char *p = text; *p;) {
            long pid = strtol(p, &p, 10);
            if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
                found++;
            while (*p == '\n')
                p++;
        }
    }
    DIR *d = opendir(dir);
    if (d == NULL)
        return found;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = path_join(dir, e->d_name);
        found += kill_tree(sub);
    }
    closedir(d);
    return found;
}

/* rmdir DIR after its subdirectories; EBUSY (tasks still exiting) is retried briefly. */
static int remove_tree(const char *dir, berr_t *err)
{
    DIR *d = opendir(dir);

    if (d == NULL)
        return errno == ENOENT ? 0 : berr_set(err, errno, "cgroup: open %s", dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = path_join(dir, e->d_name);
        if (remove_tree(sub, err) < 0) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    for (int i = 0; i < 200; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            break;
        pause_ms(i < 20 ? 1 : 10);
    }
    return berr_set(err, errno, "cgroup: remove %s", dir);
}

int mcg_destroy(struct mcgroup *cg, berr_t *err)
{
    int rc = 0;

    for (size_t i = 0; i < cg->n; i++) {
        _cleanup_free_ char *dir = path_join(cg->h[i].mnt, cg->rel);
        if (!file_exists(dir))
            continue;
        /* Normally empty: the machine's processes die with its pid namespace. */
        for (int round = 0; round < 50 && kill_tree(dir) > 0; round++)
            pause_ms(20);
        berr_t e = NULL;
        if (remove_tree(dir, &e) < 0) {
            if (rc == 0)
                *err = steal_pointer(&e);
            berr_free(&e);
            rc = -1;
        }
        /* The shared parent goes when the last machine does; another machine may be
         * creating its cgroup there right now, which mcg_create retries. */
        if (strchr(cg->rel, '/') != NULL) {
            *strrchr(dir, '/') = '\0';
            rmdir(dir);
        }
    }
    return rc;
}
