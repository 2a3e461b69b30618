#include "runtime-agent/runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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

/* Device nodes: made with mknod, or, in a user namespace (where mknod is refused), the host's
 * nodes bound onto empty files as runc does. */
static int populate_dev(int rootfd, int devfd, bool userns, berr_t *err)
{
    for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
        const struct dev_node *n = &dev_nodes[i];
        if (userns) {
            _cleanup_free_ char *path = xasprintf("/dev/%s", n->name);
            if (mount_dest(rootfd, path, DEST_FILE, path, NULL, MS_BIND, NULL, err) < 0)
                return -1;
        } else if (mknodat(devfd, n->name, S_IFCHR | 0666, makedev(n->maj, n->min)) < 0) {
            return berr_set(err, errno, "rootfs: create /dev/%s", n->name);
        }
    }
    for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
        if (symlinkat(dev_links[i][1], devfd, dev_links[i][0]) < 0)
            return berr_set(err, errno, "rootfs: create /dev/%s", dev_links[i][0]);
    if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0 ||
        mkdirat(devfd, "mqueue", 0755) < 0)
        return berr_set(err, errno, "rootfs: create /dev directories");
    return 0;
}

static int mount_dev(int rootfd, bool userns, berr_t *err)
{
    const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;

    if (mount_dest(rootfd, "/dev", DEST_DIR, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                   "mode=755,size=65536k", err) < 0)
        return -1;
    _cleanup_close_ int devfd = open_in_root(rootfd, "/dev", O_DIRECTORY | O_RDONLY);
    if (devfd < 0)
        return berr_set(err, errno, "rootfs: open /dev");
    if (populate_dev(rootfd, devfd, userns, err) < 0)
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

/* The flags of the mount holding PATH that a user namespace may not clear on a bind remount
 * (the kernel locks them). */
static unsigned long locked_flags(const char *path)
{
    static const struct {
        unsigned long st, ms;
    } map[] = {{ST_NOSUID, MS_NOSUID},         {ST_NODEV, MS_NODEV},
               {ST_NOEXEC, MS_NOEXEC},         {ST_NOATIME, MS_NOATIME},
               {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME}};
    struct statvfs sv;
    unsigned long flags = 0;

    if (statvfs(path, &sv) < 0)
        return 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (sv.f_flag & map[i].st)
            flags |= map[i].ms;
    return flags;
}

/* SRC_FD: the source opened beforehand (O_PATH), or -1 to use its path. */
static int mount_bind(int rootfd, const struct rt_mount *m, int src_fd, struct mount_opts *o,
                      berr_t *err)
{
    struct stat st;
    unsigned long rec = o->flags & MS_REC, rest = o->flags & ~(MS_BIND | MS_REC);
    char fdsrc[FD_PATH_LEN];
    const char *src = m->source;

    if (src_fd >= 0) {
        fd_path(fdsrc, src_fd);
        src = fdsrc;
    }
    if (stat(src, &st) < 0)
        return berr_set(err, errno, "mount %s: source %s", m->destination, m->source);
    if (src_fd >= 0 && rest != 0) /* a user namespace: keep what the kernel locked */
        rest |= locked_flags(src);
    enum dest_kind kind = S_ISDIR(st.st_mode) ? DEST_DIR : DEST_FILE;
    if (mount_dest(rootfd, m->destination, kind, src, NULL, MS_BIND | rec, NULL, err) < 0)
        return -1;
    if (rest == 0)
        return 0;
    return remount_dest(rootfd, m->destination, MS_REMOUNT | MS_BIND | rest, err);
}

static int mount_one(int rootfd, const struct rt_mount *m, int src_fd, berr_t *err)
{
    struct mount_opts o;
    int rc;

    parse_opts(m, &o);
    if (o.bind)
        rc = mount_bind(rootfd, m, src_fd, &o, err);
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

/* With a user namespace, the setup runs as the mapped root (what it creates in the container's
 * file systems must have an owner the namespace maps), which cannot reach sources below
 * root-only directories (the container's /etc files, volumes): open them first, still with the
 * shim's host uid, and bind them through /proc/self/fd. */
static int open_sources(const struct rt_spec *s, int *src_fd, berr_t *err)
{
    for (size_t i = 0; i < s->n_mounts; i++) {
        struct mount_opts o;
        parse_opts(&s->mounts[i], &o);
        free(o.data);
        src_fd[i] = -1;
        if (o.bind && (src_fd[i] = open(s->mounts[i].source, O_PATH | O_CLOEXEC)) < 0)
            return berr_set(err, errno, "mount %s: source %s", s->mounts[i].destination,
                            s->mounts[i].source);
    }
    return 0;
}

/* Attach the overlay the shim made (rootfs_idmapped_overlay) at ROOTFS. */
static int attach_overlay(int overlay_fd, const char *rootfs, berr_t *err)
{
    if (mkdir(rootfs, 0755) < 0 && errno != EEXIST)
        return berr_set(err, errno, "rootfs: create %s", rootfs);
    if (move_mount(overlay_fd, "", AT_FDCWD, rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return berr_set(err, errno, "rootfs: attach the idmapped overlay on %s", rootfs);
    return 0;
}

int rootfs_setup(const struct rt_spec *s, const char *bundle, int overlay_fd, berr_t *err)
{
    _cleanup_free_ char *rootfs = path_join(bundle, "rootfs");
    const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return berr_set(err, errno, "rootfs: make mounts private");
    if (overlay_fd >= 0 ? attach_overlay(overlay_fd, rootfs, err) < 0
                        : mount_overlay(s, rootfs, err) < 0)
        return -1;
    _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return berr_set(err, errno, "rootfs: open %s", rootfs);
    int *src_fd = xcalloc(s->n_mounts + 1, sizeof(int));
    int rc = s->userns ? open_sources(s, src_fd, err) : 0;
    if (rc == 0 && s->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
        rc = berr_set(err, errno, "user namespace: become the mapped root");
    if (rc == 0 && (mount_dest(rootfd, "/proc", DEST_DIR, "proc", "proc", nse, NULL, err) < 0 ||
                    mount_dev(rootfd, s->userns, err) < 0 || mount_sys(rootfd, err) < 0))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < s->n_mounts; i++)
        if (mount_one(rootfd, &s->mounts[i], s->userns ? src_fd[i] : -1, err) < 0)
            rc = -1;
    for (size_t i = 0; s->userns && i < s->n_mounts; i++)
        if (src_fd[i] >= 0)
            close(src_fd[i]);
    free(src_fd);
    return rc < 0 ? -1 : pivot(rootfd, err);
}

/* ---- the idmapped overlay, made by the shim --------------------------------------------- */

/* A detached copy of the mount at PATH whose ids are mapped through USERNS_FD. */
static int idmapped_tree(const char *path, int userns_fd, berr_t *err)
{
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd};
    int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

    if (fd < 0)
        return berr_set(err, errno, "rootfs: clone the mount of layer %s", path);
    if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
        berr_set(err, errno,
                 "rootfs: idmap layer %s for the user namespace (the kernel or this file system "
                 "does not support idmapped mounts; --userns-remap needs them)",
                 path);
        close(fd);
        return -1;
    }
    return fd;
}

static int ovl_set(int fsfd, const char *key, int fd, berr_t *err)
{
    char path[FD_PATH_LEN];

    fd_path(path, fd);
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, path, 0) < 0)
        return berr_set(err, errno, "rootfs: overlay option %s", key);
    return 0;
}

/* lowerdir+ (Linux 6.8) takes one layer at a time; older kernels get one lowerdir string,
 * which fsconfig limits to 256 bytes. */
static int ovl_lowers(int fsfd, const int *fds, size_t n, berr_t *err)
{
    char path[FD_PATH_LEN];
    size_t i;

    for (i = 0; i < n; i++) {
        fd_path(path, fds[i]);
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", path, 0) < 0)
            break;
    }
    if (i == n)
        return 0;
    if (i > 0 || errno != EINVAL)
        return berr_set(err, errno, "rootfs: overlay option lowerdir+");
    char all[256] = "";
    for (i = 0; i < n; i++) {
        fd_path(path, fds[i]);
        if (strlen(all) + strlen(path) + 2 >= sizeof(all))
            return berr_set(err, E2BIG, "rootfs: %zu idmapped layers need Linux 6.8", n);
        if (i > 0)
            strcat(all, ":");
        strcat(all, path);
    }
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", all, 0) < 0)
        return berr_set(err, errno, "rootfs: overlay option lowerdir");
    return 0;
}

static int make_overlay(const struct rt_spec *s, const int *lower, size_t n, berr_t *err)
{
    _cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
    _cleanup_close_ int upper = open(s->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_close_ int work = open(s->work, O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (fsfd < 0)
        return berr_set(err, errno, "rootfs: open an overlay file system context");
    if (upper < 0 || work < 0)
        return berr_set(err, errno, "rootfs: open %s", upper < 0 ? s->upper : s->work);
    if (ovl_lowers(fsfd, lower, n, err) < 0 || ovl_set(fsfd, "upperdir", upper, err) < 0 ||
        ovl_set(fsfd, "workdir", work, err) < 0)
        return -1;
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return berr_set(err, errno,
                        "rootfs: create the overlay on idmapped layers (overlayfs needs Linux "
                        "5.19 for idmapped lower layers)");
    int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
    if (mfd < 0)
        return berr_set(err, errno, "rootfs: mount the overlay");
    return mfd;
}

int rootfs_idmapped_overlay(const struct rt_spec *s, int userns_fd, berr_t *err)
{
    size_t n = 0;
    int ret = -1;

    while (s->layers[n])
        n++;
    int *fds = xcalloc(n, sizeof(int));
    for (size_t i = 0; i < n; i++)
        fds[i] = -1;
    size_t i;
    for (i = 0; i < n; i++)
        if ((fds[i] = idmapped_tree(s->layers[i], userns_fd, err)) < 0)
            break;
    if (i == n)
        ret = make_overlay(s, fds, n, err);
    for (i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return ret;
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
