#include "runtime-agent/runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "berth/util.h"

#define FD_PATH_LEN 32

struct dev_node {
    const char *name;
    unsigned maj, min;
};

static const struct dev_node dev_nodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const char *const dev_links[][2] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},         {"core", "/proc/kcore"},
};

/* Docker's masked and read-only paths. */
static const char *const masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                             "/proc/sysrq-trigger"};

enum dest_kind { DEST_DIR, DEST_FILE };

static void fd_path(char buf[FD_PATH_LEN], int fd)
{
    snprintf(buf, FD_PATH_LEN, "/proc/self/fd/%d", fd);
}

/* Open PATH below ROOTFD as if ROOTFD were "/": symlinks cannot leave it. */
static int open_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    while (*path == '/')
        path++;
    return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
}

static int create_leaf(int parent, const char *name, enum dest_kind kind)
{
    if (kind == DEST_DIR)
        return mkdirat(parent, name, 0755) < 0 && errno != EEXIST ? -1 : 0;
    int fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == EEXIST ? 0 : -1;
    close(fd);
    return 0;
}

/* An O_PATH fd for PATH inside the rootfs, creating it (and its parents) when missing. */
static int resolve_dest(int rootfd, const char *path, enum dest_kind kind, berr_t *err)
{
    int fd = open_in_root(rootfd, path, O_PATH);
    if (fd >= 0 || errno != ENOENT) {
        if (fd < 0)
            berr_set(err, errno, "rootfs: resolve %s", path);
        return fd;
    }
    _cleanup_free_ char *parent = xstrdup(path);
    char *slash = strrchr(parent, '/');
    const char *name = path + (slash - parent) + 1;
    *slash = '\0';
    _cleanup_close_ int pfd = resolve_dest(rootfd, parent, DEST_DIR, err);
    if (pfd < 0)
        return -1;
    if (create_leaf(pfd, name, kind) < 0) {
        berr_set(err, errno, "rootfs: create %s", path);
        return -1;
    }
    fd = open_in_root(rootfd, path, O_PATH);
    if (fd < 0)
        berr_set(err, errno, "rootfs: resolve %s", path);
    return fd;
}

static int mount_dest(int rootfd, const char *dest, enum dest_kind kind, const char *src,
                      const char *type, unsigned long flags, const char *data, berr_t *err)
{
    char target[FD_PATH_LEN];
    _cleanup_close_ int fd = resolve_dest(rootfd, dest, kind, err);

    if (fd < 0)
        return -1;
    fd_path(target, fd);
    if (mount(src, target, type, flags, data) < 0)
        return berr_set(err, errno, "mount %s on %s", src ? src : type, dest);
    return 0;
}

/* Change flags of the mount now on DEST (MS_REMOUNT, or a propagation type). */
static int remount_dest(int rootfd, const char *dest, unsigned long flags, berr_t *err)
{
    char target[FD_PATH_LEN];
    _cleanup_close_ int fd = open_in_root(rootfd, dest, O_PATH);

    if (fd < 0)
        return berr_set(err, errno, "rootfs: resolve %s", dest);
    fd_path(target, fd);
    if (mount(NULL, target, NULL, flags, NULL) < 0)
        return berr_set(err, errno, "remount %s", dest);
    return 0;
}

static int mount_overlay(const struct rt_spec *s, const char *rootfs, berr_t *err)
{
    size_t len = 64 + strlen(s->upper) + strlen(s->work);
    for (size_t i = 0; s->layers[i]; i++)
        len += strlen(s->layers[i]) + 1;
    if (len >= (size_t)sysconf(_SC_PAGESIZE))
        return berr_set(err, E2BIG, "rootfs: overlay options for %zu layers", len);
    _cleanup_free_ char *data = xcalloc(1, len);
    strcpy(data, "lowerdir=");
    for (size_t i = 0; s->layers[i]; i++) {
        if (i > 0)
            strcat(data, ":");
        strcat(data, s->layers[i]);
    }
    snprintf(data + strlen(data), len - strlen(data), ",upperdir=%s,workdir=%s", s->upper, s->work);
    if (mkdir(rootfs, 0755) < 0 && errno != EEXIST)
        return berr_set(err, errno, "rootfs: create %s", rootfs);
    if (mount("overlay", rootfs, "overlay", 0, data) < 0)
        return berr_set(err, errno, "rootfs: mount overlay on %s (%s)", rootfs, data);
    return 0;
}

static int populate_dev(int devfd, berr_t *err)
{
    for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
        const struct dev_node *n = &dev_nodes[i];
        if (mknodat(devfd, n->name, S_IFCHR | 0666, makedev(n->maj, n->min)) < 0)
            return berr_set(err, errno, "rootfs: create /dev/%s", n->name);
    }
    for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
        if (symlinkat(dev_links[i][1], devfd, dev_links[i][0]) < 0)
            return berr_set(err, errno, "rootfs: create /dev/%s", dev_links[i][0]);
    if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0 ||
        mkdirat(devfd, "mqueue", 0755) < 0)
        return berr_set(err, errno, "rootfs: create /dev directories");
    return 0;
}

static int mount_dev(int rootfd, berr_t *err)
{
    const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;

    if (mount_dest(rootfd, "/dev", DEST_DIR, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                   "mode=755,size=65536k", err) < 0)
        return -1;
    _cleanup_close_ int devfd = open_in_root(rootfd, "/dev", O_DIRECTORY | O_RDONLY);
    if (devfd < 0)
        return berr_set(err, errno, "rootfs: open /dev");
    if (populate_dev(devfd, err) < 0)
        return -1;
    if (mount_dest(rootfd, "/dev/pts", DEST_DIR, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0 ||
        mount_dest(rootfd, "/dev/shm", DEST_DIR, "shm", "tmpfs", nse, "mode=1777,size=65536k",
                   err) < 0 ||
        mount_dest(rootfd, "/dev/mqueue", DEST_DIR, "mqueue", "mqueue", nse, NULL, err) < 0)
        return -1;
    return 0;
}

/* sysfs can only be mounted for a network namespace one owns; otherwise bind the host's. */
static int mount_sys(int rootfd, berr_t *err)
{
    const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

    if (mount_dest(rootfd, "/sys", DEST_DIR, "sysfs", "sysfs", ro, NULL, err) == 0)
        return 0;
    berr_free(err);
    if (mount_dest(rootfd, "/sys", DEST_DIR, "/sys", NULL, MS_BIND | MS_REC, NULL, err) < 0)
        return -1;
    return remount_dest(rootfd, "/sys", MS_REMOUNT | MS_BIND | ro, err);
}

struct mount_opts {
    unsigned long flags, prop;
    bool bind;
    char *data;
};

static const struct {
    const char *name;
    unsigned long set, clear, prop;
} opt_table[] = {
    {"ro", MS_RDONLY, 0, 0},
    {"rw", 0, MS_RDONLY, 0},
    {"nosuid", MS_NOSUID, 0, 0},
    {"suid", 0, MS_NOSUID, 0},
    {"nodev", MS_NODEV, 0, 0},
    {"dev", 0, MS_NODEV, 0},
    {"noexec", MS_NOEXEC, 0, 0},
    {"exec", 0, MS_NOEXEC, 0},
    {"sync", MS_SYNCHRONOUS, 0, 0},
    {"async", 0, MS_SYNCHRONOUS, 0},
    {"noatime", MS_NOATIME, 0, 0},
    {"nodiratime", MS_NODIRATIME, 0, 0},
    {"relatime", MS_RELATIME, 0, 0},
    {"strictatime", MS_STRICTATIME, 0, 0},
    {"bind", MS_BIND, 0, 0},
    {"rbind", MS_BIND | MS_REC, 0, 0},
    {"private", 0, 0, MS_PRIVATE},
    {"rprivate", 0, 0, MS_PRIVATE | MS_REC},
    {"slave", 0, 0, MS_SLAVE},
    {"rslave", 0, 0, MS_SLAVE | MS_REC},
    {"shared", 0, 0, MS_SHARED},
    {"rshared", 0, 0, MS_SHARED | MS_REC},
    {"unbindable", 0, 0, MS_UNBINDABLE},
    {"runbindable", 0, 0, MS_UNBINDABLE | MS_REC},
};

static void add_data(char **data, const char *opt)
{
    char *d = *data ? xasprintf("%s,%s", *data, opt) : xstrdup(opt);
    free(*data);
    *data = d;
}

static void parse_opts(const struct rt_mount *m, struct mount_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->bind = strcmp(m->type, "bind") == 0;
    for (size_t i = 0; m->options[i]; i++) {
        size_t k, n = sizeof(opt_table) / sizeof(opt_table[0]);
        for (k = 0; k < n && strcmp(opt_table[k].name, m->options[i]) != 0; k++)
            ;
        if (k == n) {
            add_data(&o->data, m->options[i]);
            continue;
        }
        o->flags = (o->flags | opt_table[k].set) & ~opt_table[k].clear;
        o->prop |= opt_table[k].prop;
    }
    if (o->flags & MS_BIND)
        o->bind = true;
}

static int mount_bind(int rootfd, const struct rt_mount *m, struct mount_opts *o, berr_t *err)
{
    struct stat st;
    unsigned long rec = o->flags & MS_REC, rest = o->flags & ~(MS_BIND | MS_REC);

    if (stat(m->source, &st) < 0)
        return berr_set(err, errno, "mount %s: source %s", m->destination, m->source);
    enum dest_kind kind = S_ISDIR(st.st_mode) ? DEST_DIR : DEST_FILE;
    if (mount_dest(rootfd, m->destination, kind, m->source, NULL, MS_BIND | rec, NULL, err) < 0)
        return -1;
    if (rest == 0)
        return 0;
    return remount_dest(rootfd, m->destination, MS_REMOUNT | MS_BIND | rest, err);
}

static int mount_one(int rootfd, const struct rt_mount *m, berr_t *err)
{
    struct mount_opts o;
    int rc;

    parse_opts(m, &o);
    if (o.bind)
        rc = mount_bind(rootfd, m, &o, err);
    else
        rc = mount_dest(rootfd, m->destination, DEST_DIR, m->source, m->type, o.flags, o.data, err);
    free(o.data);
    if (rc == 0 && o.prop != 0)
        rc = remount_dest(rootfd, m->destination, o.prop, err);
    return rc;
}

static int pivot(int rootfd, berr_t *err)
{
    if (fchdir(rootfd) < 0)
        return berr_set(err, errno, "rootfs: enter");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return berr_set(err, errno, "rootfs: pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return berr_set(err, errno, "rootfs: detach the old root");
    if (chdir("/") < 0)
        return berr_set(err, errno, "rootfs: chdir /");
    return 0;
}

int rootfs_setup(const struct rt_spec *s, const char *bundle, berr_t *err)
{
    _cleanup_free_ char *rootfs = path_join(bundle, "rootfs");
    const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return berr_set(err, errno, "rootfs: make mounts private");
    if (mount_overlay(s, rootfs, err) < 0)
        return -1;
    _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return berr_set(err, errno, "rootfs: open %s", rootfs);
    if (mount_dest(rootfd, "/proc", DEST_DIR, "proc", "proc", nse, NULL, err) < 0 ||
        mount_dev(rootfd, err) < 0 || mount_sys(rootfd, err) < 0)
        return -1;
    for (size_t i = 0; i < s->n_mounts; i++)
        if (mount_one(rootfd, &s->mounts[i], err) < 0)
            return -1;
    return pivot(rootfd, err);
}

static int mask_path(const char *path, berr_t *err)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0") < 0)
            return berr_set(err, errno, "mask %s", path);
    } else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
        return berr_set(err, errno, "mask %s", path);
    }
    return 0;
}

static int readonly_path(const char *path, berr_t *err)
{
    const unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return errno == ENOENT ? 0 : berr_set(err, errno, "bind %s", path);
    if (mount(NULL, path, NULL, ro, NULL) < 0)
        return berr_set(err, errno, "make %s read-only", path);
    return 0;
}

int rootfs_finish(const struct rt_spec *s, berr_t *err)
{
    if (!s->proc.privileged) {
        for (size_t i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++)
            if (mask_path(masked_paths[i], err) < 0)
                return -1;
        for (size_t i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++)
            if (readonly_path(readonly_paths[i], err) < 0)
                return -1;
    }
    if (s->readonly_rootfs && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return berr_set(err, errno, "make the root file system read-only");
    return 0;
}
