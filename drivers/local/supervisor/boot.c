#include "drivers/local/supervisor/boot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)
#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* Messages on the boot socket: the supervisor says GO_ENTER once the child is in the
 * machine's cgroup and GO_SETUP once that cgroup delegates its controllers; the child says
 * MOVED once it sits in REL/init, or "E<text>" when a step failed. Its exec closes the socket. */
#define GO_ENTER '1'
#define GO_SETUP '2'
#define MOVED 'M'
#define FAILED 'E'

static const struct {
    const char *name;
    unsigned maj, min;
} dev_nodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const char *const dev_links[][2] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
};

/* Capabilities a machine never needs: its root must not load modules or set the host's
 * clocks. The rest stays, since the engine inside creates namespaces, mounts and networks. */
static const int dropped_caps[] = {CAP_SYS_MODULE, CAP_SYS_TIME, CAP_WAKE_ALARM, CAP_SYSLOG};

static int send_byte(int sock, char c)
{
    return send(sock, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* One message into BUF (NUL-terminated); 0 at end of stream. */
static ssize_t recv_msg(int sock, char *buf, size_t len)
{
    ssize_t n;

    do
        n = recv(sock, buf, len - 1, 0);
    while (n < 0 && errno == EINTR);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

static __attribute__((noreturn)) void child_fail(int sock, berr_t *err)
{
    char msg[2048];

    snprintf(msg, sizeof(msg), "%c%s", FAILED, berr_msg(*err));
    send(sock, msg, strlen(msg), MSG_NOSIGNAL);
    _exit(1);
}

/* An O_PATH fd for the directory PATH in the rootfs, created (0755) when missing. */
static int ensure_dir(int rootfd, const char *path, berr_t *err)
{
    int fd = root_open(rootfd, path, O_PATH | O_DIRECTORY);

    if (fd >= 0 || errno != ENOENT) {
        if (fd < 0)
            berr_set(err, errno, "rootfs: open %s", path);
        return fd;
    }
    _cleanup_free_ char *parent = xstrdup(path);
    char *slash = strrchr(parent, '/');
    const char *name = slash ? path + (slash - parent) + 1 : path;
    if (slash)
        *slash = '\0';
    _cleanup_close_ int pfd = slash ? ensure_dir(rootfd, parent, err) : dup(rootfd);
    if (pfd < 0)
        return -1;
    if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
        berr_set(err, errno, "rootfs: create %s", path);
        return -1;
    }
    fd = root_open(rootfd, path, O_PATH | O_DIRECTORY);
    if (fd < 0)
        berr_set(err, errno, "rootfs: open %s", path);
    return fd;
}

static int mount_in(int rootfd, const char *dest, const char *src, const char *type,
                    unsigned long flags, const char *data, berr_t *err)
{
    char target[64];
    _cleanup_close_ int fd = ensure_dir(rootfd, dest, err);

    if (fd < 0)
        return -1;
    snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
    if (mount(src, target, type, flags, data) < 0)
        return berr_set(err, errno, "mount %s on /%s", src ? src : type, dest);
    return 0;
}

static int remount_in(int rootfd, const char *dest, unsigned long flags, const char *data,
                      berr_t *err)
{
    char target[64];
    _cleanup_close_ int fd = root_open(rootfd, dest, O_PATH | O_DIRECTORY);

    if (fd < 0)
        return berr_set(err, errno, "rootfs: open %s", dest);
    snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
    if (mount(NULL, target, NULL, MS_REMOUNT | flags, data) < 0)
        return berr_set(err, errno, "remount /%s", dest);
    return 0;
}

static int populate_dev(int rootfd, berr_t *err)
{
    _cleanup_close_ int dev = root_open(rootfd, "dev", O_RDONLY | O_DIRECTORY);
    struct stat fuse;

    if (dev < 0)
        return berr_set(err, errno, "rootfs: open /dev");
    for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++)
        if (mknodat(dev, dev_nodes[i].name, S_IFCHR | 0666,
                    makedev(dev_nodes[i].maj, dev_nodes[i].min)) < 0)
            return berr_set(err, errno, "create /dev/%s", dev_nodes[i].name);
    if (stat("/dev/fuse", &fuse) == 0 && S_ISCHR(fuse.st_mode) &&
        mknodat(dev, "fuse", S_IFCHR | 0666, fuse.st_rdev) < 0)
        return berr_set(err, errno, "create /dev/fuse");
    for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
        if (symlinkat(dev_links[i][1], dev, dev_links[i][0]) < 0)
            return berr_set(err, errno, "create /dev/%s", dev_links[i][0]);
    return 0;
}

static int mount_dev(int rootfd, berr_t *err)
{
    if (mount_in(rootfd, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                 "mode=755,size=65536k", err) < 0 ||
        populate_dev(rootfd, err) < 0)
        return -1;
    return mount_in(rootfd, "dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                    "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0 ||
                   mount_in(rootfd, "dev/shm", "shm", "tmpfs", NOSUID_NODEV_NOEXEC,
                            "mode=1777,size=65536k", err) < 0 ||
                   mount_in(rootfd, "dev/mqueue", "mqueue", "mqueue", NOSUID_NODEV_NOEXEC, NULL,
                            err) < 0
               ? -1
               : 0;
}

/* The host's links in /sys/fs/cgroup (cpu -> cpu,cpuacct) again inside, under DEST. */
static int copy_cgroup_links(int rootfd, const char *dest, berr_t *err)
{
    _cleanup_close_ int dfd = root_open(rootfd, dest, O_RDONLY | O_DIRECTORY);
    DIR *d = opendir(CGROUP_ROOT);

    if (dfd < 0 || d == NULL) {
        if (d)
            closedir(d);
        return berr_set(err, errno, "cgroup links in /%s", dest);
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char target[256];
        _cleanup_free_ char *path = path_join(CGROUP_ROOT, e->d_name);
        ssize_t n;
        if (e->d_type != DT_LNK || (n = readlink(path, target, sizeof(target) - 1)) <= 0)
            continue;
        target[n] = '\0';
        if (symlinkat(target, dfd, e->d_name) < 0 && errno != EEXIST) {
            closedir(d);
            return berr_set(err, errno, "create /%s/%s", dest, e->d_name);
        }
    }
    closedir(d);
    return 0;
}

/* The machine's cgroup in every hierarchy, at the place the host mounts that hierarchy. */
static int mount_cgroups(int rootfd, const struct mcgroup *cg, berr_t *err)
{
    const char *top = "sys/fs/cgroup";

    for (size_t i = 0; i < cg->n; i++) {
        if (cg->h[i].name[0] != '\0')
            continue;
        /* A v2-only host: the hierarchy is /sys/fs/cgroup itself. */
        _cleanup_free_ char *src = path_join(cg->h[i].mnt, cg->rel);
        if (mount_in(rootfd, top, src, NULL, MS_BIND, NULL, err) < 0)
            return -1;
        return remount_in(rootfd, top, MS_BIND | NOSUID_NODEV_NOEXEC, NULL, err);
    }
    if (mount_in(rootfd, top, "tmpfs", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755", err) < 0)
        return -1;
    for (size_t i = 0; i < cg->n; i++) {
        _cleanup_free_ char *src = path_join(cg->h[i].mnt, cg->rel);
        _cleanup_free_ char *dest = path_join(top, cg->h[i].name);
        if (mount_in(rootfd, dest, src, NULL, MS_BIND, NULL, err) < 0 ||
            remount_in(rootfd, dest, MS_BIND | NOSUID_NODEV_NOEXEC, NULL, err) < 0)
            return -1;
    }
    if (copy_cgroup_links(rootfd, top, err) < 0)
        return -1;
    return remount_in(rootfd, top, MS_RDONLY | NOSUID_NODEV_NOEXEC, "mode=755", err);
}

static int setup_mounts(const struct local_run *r, const struct mcgroup *cg, berr_t *err)
{
    _cleanup_close_ int rootfd = -1;

    /* Nothing mounted from here on may reach the host's mount namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return berr_set(err, errno, "make the mounts private");
    if (mount(r->rootfs, r->rootfs, NULL, MS_BIND, NULL) < 0)
        return berr_set(err, errno, "bind %s onto itself", r->rootfs);
    rootfd = open(r->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return berr_set(err, errno, "open %s", r->rootfs);
    if (mount_in(rootfd, "proc", "proc", "proc", NOSUID_NODEV_NOEXEC, NULL, err) < 0 ||
        mount_in(rootfd, "sys", "sysfs", "sysfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL, err) < 0 ||
        mount_cgroups(rootfd, cg, err) < 0 || mount_dev(rootfd, err) < 0 ||
        mount_in(rootfd, "run", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755", err) < 0 ||
        mount_in(rootfd, "tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err) < 0)
        return -1;
    if (fchdir(rootfd) < 0)
        return berr_set(err, errno, "enter %s", r->rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return berr_set(err, errno, "pivot_root into %s", r->rootfs);
    if (umount2(".", MNT_DETACH) < 0)
        return berr_set(err, errno, "detach the host's root");
    if (chdir("/") < 0)
        return berr_set(err, errno, "chdir /");
    return 0;
}

static int loopback_up(berr_t *err)
{
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return berr_set(err, errno, "read the flags of lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return berr_set(err, errno, "bring lo up");
    return 0;
}

/* Implicitly bound sockets (a UDP resolver's sendto) get ports of MACHINE_EPHEMERAL_PORTS,
 * below the engine's -P range (49000-49900): the supervisor forwards only UDP ports outside
 * the machine's ephemeral range, so published ports and client sockets stay apart. */
static int ephemeral_ports(berr_t *err)
{
    static const char range[] = MACHINE_EPHEMERAL_PORTS "\n";
    const char *path = "/proc/sys/net/ipv4/ip_local_port_range";
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

    if (fd < 0 || write(fd, range, sizeof(range) - 1) != (ssize_t)sizeof(range) - 1)
        return berr_set(err, errno, "set the machine's ephemeral ports in %s", path);
    return 0;
}

static int setup_process(const struct local_run *r, int console, int null, berr_t *err)
{
    size_t len = strlen(r->name);

    /* Machine names may be longer than the kernel's 64 characters for a hostname. */
    if (sethostname(r->name, len > 64 ? 64 : len) < 0)
        return berr_set(err, errno, "set the hostname to %s", r->name);
    if (loopback_up(err) < 0 || ephemeral_ports(err) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(dropped_caps) / sizeof(dropped_caps[0]); i++)
        if (prctl(PR_CAPBSET_DROP, dropped_caps[i], 0, 0, 0) < 0 && errno != EINVAL)
            return berr_set(err, errno, "drop capability %d", dropped_caps[i]);
    if (dup2(null, 0) < 0 || dup2(console, 1) < 0 || dup2(console, 2) < 0)
        return berr_set(err, errno, "set up stdio");
    /* Everything else the supervisor holds (listeners, logs) closes at exec. */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        return berr_set(err, errno, "close the supervisor's files");
    if (setsid() < 0)
        return berr_set(err, errno, "setsid");
    umask(022);
    /* The machine starts with the signal state of a fresh system, not the supervisor's
     * (SIGPIPE ignored, SIGCHLD and the stop signals blocked for its signalfd). */
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        return berr_set(err, errno, "unblock signals");
    return 0;
}

static __attribute__((noreturn)) void child_main(const struct local_run *r, struct mcgroup *cg,
                                                 int console, int null, int sock)
{
    static char *const argv[] = {"/sbin/init", NULL};
    static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
                                 "container=berth-local", NULL};
    berr_t err = NULL;
    char msg[16];

    /* The machine lives only as long as its supervisor. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        _exit(1);
    if (recv_msg(sock, msg, sizeof(msg)) <= 0 || msg[0] != GO_ENTER)
        _exit(1);
    /* The namespace is rooted at the cgroup we are in now, REL; then move one level down. */
    if (unshare(CLONE_NEWCGROUP) < 0) {
        berr_set(&err, errno, "create a cgroup namespace");
        child_fail(sock, &err);
    }
    if (mcg_enter(cg, 0, "init", &err) < 0)
        child_fail(sock, &err);
    if (send_byte(sock, MOVED) < 0 || recv_msg(sock, msg, sizeof(msg)) <= 0 || msg[0] != GO_SETUP)
        _exit(1);
    if (setup_mounts(r, cg, &err) < 0 || setup_process(r, console, null, &err) < 0)
        child_fail(sock, &err);
    execve(argv[0], argv, envp);
    berr_set(&err, errno, "exec /sbin/init in %s", r->rootfs);
    child_fail(sock, &err);
}

/* Wait for the child's next word: 0 when it is EXPECT (or, with EXPECT 0, the end of the
 * stream that its exec makes); -1 with its message or a generic one otherwise. */
static int expect(int sock, char expect, berr_t *err)
{
    char msg[2048];
    ssize_t n = recv_msg(sock, msg, sizeof(msg));

    if (n == 0 && expect == 0)
        return 0;
    if (n > 0 && msg[0] == expect)
        return 0;
    if (n > 0 && msg[0] == FAILED)
        return berr_set(err, 0, "%s", msg + 1);
    return berr_set(err, n < 0 ? errno : 0, "the machine's init exited during its setup");
}

int boot_machine(const struct local_run *r, struct mcgroup *cg, int console, pid_t *init,
                 berr_t *err)
{
    int sp[2];
    _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null < 0)
        return berr_set(err, errno, "open /dev/null");
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return berr_set(err, errno, "socketpair");
    /* A fork-like clone (no shared memory, no new stack) keeps the child's code plain C. */
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)NS_FLAGS | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid == 0) {
        close(sp[0]);
        child_main(r, cg, console, null, sp[1]);
    }
    int saved = errno;
    close(sp[1]);
    if (pid < 0) {
        close(sp[0]);
        return berr_set(err, saved, "clone the machine's namespaces");
    }
    if (mcg_enter(cg, pid, NULL, err) < 0 || send_byte(sp[0], GO_ENTER) < 0 ||
        expect(sp[0], MOVED, err) < 0 || mcg_delegate(cg, err) < 0 ||
        send_byte(sp[0], GO_SETUP) < 0 || expect(sp[0], 0, err) < 0) {
        if (err && *err == NULL)
            berr_set(err, errno, "talk to the machine's init");
        close(sp[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    close(sp[0]);
    *init = pid;
    return 0;
}
