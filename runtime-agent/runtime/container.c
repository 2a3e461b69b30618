#include "runtime-agent/runtime/container.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/process.h"
#include "runtime-agent/runtime/rootfs.h"

enum sync_type { SYNC_GO = 1, SYNC_PTY, SYNC_ERROR, SYNC_ROOTFS };

struct sync_msg {
    int type;
    int code;
    char text[2048];
};

static const int ns_flag[RT_NS_COUNT] = {CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS,
                                         CLONE_NEWNS};

/* Namespaces given as paths, opened by the parent: -1 where the spec says new or host.
 *
 * With a user namespace the order matters: a namespace owned by the initial user namespace
 * (the network namespace berthd made, another container's) cannot be joined from inside the
 * container's new user namespace, which has no capability over it. So the shim joins every
 * namespace given as a path itself, before the clone that creates the user namespace (the
 * child inherits them; the shim then returns to its own), and the clone creates the user
 * namespace together with the new ones, which it therefore owns. */
struct ns_fds {
    int fd[RT_NS_COUNT];
    int own[RT_NS_COUNT]; /* the shim's own namespaces, to return to after the clone */
};

static int send_msg(int sock, int type, int code, const char *text, int fd)
{
    struct sync_msg m = {.type = type, .code = code};
    struct iovec iov = {&m, sizeof(m)};
    char cbuf[CMSG_SPACE(sizeof(int))] = {0};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (text)
        snprintf(m.text, sizeof(m.text), "%s", text);
    if (fd >= 0) {
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Receive one message (and the fd it carries into *FD); 0 at end of stream. */
static ssize_t recv_msg(int sock, struct sync_msg *m, int *fd)
{
    struct iovec iov = {m, sizeof(*m)};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n;

    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(c), sizeof(int));
    m->text[sizeof(m->text) - 1] = '\0';
    return n;
}

/* In the child: report ERR to the shim and end. */
static __attribute__((noreturn)) void child_fail(int sock, int code, berr_t *err)
{
    send_msg(sock, SYNC_ERROR, code, berr_msg(*err), -1);
    _exit(code);
}

static int join_namespaces(const struct ns_fds *ns, berr_t *err)
{
    for (int i = 0; i < RT_NS_COUNT; i++)
        if (i != RT_NS_PID && ns->fd[i] >= 0 && setns(ns->fd[i], ns_flag[i]) < 0)
            return berr_set(err, errno, "join namespace %d", i);
    return 0;
}

static int set_stdio(const struct container_io *io, berr_t *err)
{
    if (dup2(io->in, 0) < 0 || dup2(io->out, 1) < 0 || dup2(io->err, 2) < 0)
        return berr_set(err, errno, "set up stdio");
    return 0;
}

/* A new network namespace starts with lo down; containers expect 127.0.0.1 to work. */
static int loopback_up(const struct rt_spec *s, berr_t *err)
{
    struct ifreq ifr = {0};

    if (strcmp(s->ns[RT_NS_NET], "new") != 0)
        return 0;
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berr_set(err, errno, "network: socket");
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return berr_set(err, errno, "network: get flags of lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return berr_set(err, errno, "network: bring lo up");
    return 0;
}

static int set_names(const struct rt_spec *s, berr_t *err)
{
    if (strcmp(s->ns[RT_NS_UTS], "new") != 0)
        return 0;
    if (s->hostname[0] && sethostname(s->hostname, strlen(s->hostname)) < 0)
        return berr_set(err, errno, "set hostname %s", s->hostname);
    if (s->domainname[0] && setdomainname(s->domainname, strlen(s->domainname)) < 0)
        return berr_set(err, errno, "set domainname %s", s->domainname);
    return 0;
}

/* A pty from the container's own devpts: the master goes to the shim, the slave becomes the
 * controlling terminal, stdio and /dev/console. */
static int set_tty(int sock, berr_t *err)
{
    char name[64];
    _cleanup_close_ int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (master < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
        return berr_set(err, errno, "tty: create a pty");
    _cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return berr_set(err, errno, "tty: open %s", name);
    int fd = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
        return berr_set(err, errno, "tty: bind %s to /dev/console", name);
    close(fd);
    if (send_msg(sock, SYNC_PTY, 0, NULL, master) < 0)
        return berr_set(err, errno, "tty: send the pty to the shim");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return berr_set(err, errno, "tty: make %s the controlling terminal", name);
    if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
        return berr_set(err, errno, "tty: set up stdio");
    return 0;
}

/* In a new user namespace: wait for the shim to write the maps and send the root file system.
 * Until rootfs_setup switches to the mapped root the child keeps the shim's host uid, so it can
 * still reach the bundle and the bind sources below root-only dirs. */
static int await_maps(int sock, int *overlay_fd, berr_t *err)
{
    struct sync_msg m;

    *overlay_fd = -1;
    if (recv_msg(sock, &m, overlay_fd) <= 0 || m.type != SYNC_ROOTFS || *overlay_fd < 0)
        return berr_set(err, 0, "user namespace: the shim did not set it up");
    return 0;
}

static int setup_child(const struct rt_spec *s, const char *bundle, const struct ns_fds *ns,
                       const struct container_io *io, int sock, berr_t *err)
{
    _cleanup_close_ int overlay_fd = -1;

    if (s->userns && await_maps(sock, &overlay_fd, err) < 0)
        return -1;
    if (join_namespaces(ns, err) < 0)
        return -1;
    if (!s->proc.tty && set_stdio(io, err) < 0)
        return -1;
    if (setsid() < 0)
        return berr_set(err, errno, "setsid");
    if (rootfs_setup(s, bundle, overlay_fd, err) < 0 || rootfs_finish(s, err) < 0 ||
        set_names(s, err) < 0 || loopback_up(s, err) < 0)
        return -1;
    if (s->proc.tty && set_tty(sock, err) < 0)
        return -1;
    return 0;
}

static __attribute__((noreturn)) void child_main(const struct rt_spec *s, const char *bundle,
                                                 const struct ns_fds *ns,
                                                 const struct container_io *io, int sock)
{
    struct sync_msg m;
    int fd = -1;
    berr_t err = NULL;
    char **env = NULL;

    umask(0);
    if (setup_child(s, bundle, ns, io, sock, &err) < 0 || process_prepare(&s->proc, &env, &err) < 0)
        child_fail(sock, EXIT_SETUP_FAILED, &err);
    /* The shim moves us into the cgroup meanwhile (a slow RCU-synchronised step in the
     * kernel): only the command itself must wait for it. */
    if (recv_msg(sock, &m, &fd) <= 0 || m.type != SYNC_GO)
        _exit(EXIT_SETUP_FAILED);
    child_fail(sock, process_exec(&s->proc, env, &err), &err);
}

static const char *const ns_proc_name[RT_NS_COUNT] = {"pid", "net", "ipc", "uts", "mnt"};

/* Join namespace I (given as a path) in the shim for the clone; close_namespaces comes back. */
static int join_for_clone(const struct rt_spec *s, struct ns_fds *ns, int i, berr_t *err)
{
    char self[64];

    snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_proc_name[i]);
    ns->own[i] = open(self, O_RDONLY | O_CLOEXEC);
    if (ns->own[i] < 0 || setns(ns->fd[i], ns_flag[i]) < 0)
        return berr_set(err, errno, "join %s namespace %s", ns_proc_name[i], s->ns[i]);
    close(ns->fd[i]);
    ns->fd[i] = -1;
    return 0;
}

/* A network namespace the shim joined for a user-namespaced container belongs to the initial
 * user namespace, so the container's root has no CAP_NET_BIND_SERVICE or CAP_NET_RAW there:
 * let everyone bind low ports and ping in it, the sysctls dockerd sets by default (runs in the
 * joined namespace: /proc/sys/net is the opener's). */
static int open_net_to_all(berr_t *err)
{
    static const char *const keys[][2] = {
        {"/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"},
        {"/proc/sys/net/ipv4/ping_group_range", "0 2147483647"},
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        _cleanup_close_ int fd = open(keys[i][0], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, keys[i][1], strlen(keys[i][1])) < 0)
            return berr_set(err, errno, "network: set %s", keys[i][0]);
    }
    return 0;
}

static int open_namespaces(const struct rt_spec *s, struct ns_fds *ns, int *flags, berr_t *err)
{
    *flags = s->userns ? CLONE_NEWUSER : 0;
    for (int i = 0; i < RT_NS_COUNT; i++)
        ns->fd[i] = ns->own[i] = -1;
    for (int i = 0; i < RT_NS_COUNT; i++) {
        if (strcmp(s->ns[i], "new") == 0)
            *flags |= ns_flag[i];
        else if (strcmp(s->ns[i], "host") != 0 &&
                 (ns->fd[i] = open(s->ns[i], O_RDONLY | O_CLOEXEC)) < 0)
            return berr_set(err, errno, "namespace %s", s->ns[i]);
    }
    /* A pid namespace applies to children only: join it for the clone, then come back. */
    for (int i = 0; i < RT_NS_COUNT; i++)
        if (ns->fd[i] >= 0 && (i == RT_NS_PID || s->userns) && join_for_clone(s, ns, i, err) < 0)
            return -1;
    if (s->userns && ns->own[RT_NS_NET] >= 0 && open_net_to_all(err) < 0)
        return -1;
    return 0;
}

static void close_namespaces(struct ns_fds *ns)
{
    for (int i = 0; i < RT_NS_COUNT; i++) {
        if (ns->fd[i] >= 0)
            close(ns->fd[i]);
        if (ns->own[i] >= 0) {
            setns(ns->own[i], ns_flag[i]);
            close(ns->own[i]);
        }
    }
}

static int write_map(pid_t pid, const char *file, const struct rt_idmap *map, size_t n, berr_t *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    for (size_t i = 0; i < n; i++)
        fprintf(f, "%u %u %u\n", map[i].container_id, map[i].host_id, map[i].size);
    fclose(f);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t w = fd < 0 ? -1 : write(fd, text, len);
    free(text);
    if (w < 0 || (size_t)w != len)
        return berr_set(err, errno, "user namespace: write %s", path);
    return 0;
}

/* In the shim, for a child in a new user namespace: its uid and gid maps, then its root file
 * system (rootfs_idmapped_overlay), sent to it over SOCK. */
static int setup_userns(const struct rt_spec *s, pid_t pid, int sock, berr_t *err)
{
    _cleanup_free_ char *user = xasprintf("/proc/%d/ns/user", (int)pid);

    if (write_map(pid, "uid_map", s->uid_map, s->n_uid_map, err) < 0 ||
        write_map(pid, "gid_map", s->gid_map, s->n_gid_map, err) < 0)
        return -1;
    _cleanup_close_ int ufd = open(user, O_RDONLY | O_CLOEXEC);
    if (ufd < 0)
        return berr_set(err, errno, "user namespace: open %s", user);
    _cleanup_close_ int mfd = rootfs_idmapped_overlay(s, ufd, err);
    if (mfd < 0)
        return -1;
    if (send_msg(sock, SYNC_ROOTFS, 0, NULL, mfd) < 0)
        return berr_set(err, errno, "user namespace: send the root file system");
    return 0;
}

/* Read the child's reports until its execve closes the socket. */
static int wait_child(int sock, struct container *c, berr_t *err)
{
    struct sync_msg m;
    int fd = -1;
    ssize_t n;
    bool reset = false;

    for (;;) {
        n = recv_msg(sock, &m, &fd);
        /* A child that fails before it reads SYNC_GO closes its end with our message unread:
         * the kernel then reports ECONNRESET once, ahead of the error report it queued. */
        if (n < 0 && errno == ECONNRESET && !reset) {
            reset = true;
            continue;
        }
        if (n <= 0)
            break;
        if (m.type == SYNC_PTY) {
            c->pty = fd;
            fd = -1;
        } else if (m.type == SYNC_ERROR) {
            c->exit_code = m.code;
            berr_set(err, 0, "%s", m.text);
        }
    }
    if (n < 0)
        return berr_set(err, errno, "container: wait for the child");
    return *err != NULL ? -1 : 0;
}

/* A fork-like clone (no shared memory, no new stack) keeps the child's code ordinary C. */
static pid_t clone_child(int flags)
{
    return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0);
}

static int start_child(const struct rt_spec *s, const char *bundle, struct cgroup *cg,
                       const struct container_io *io, struct container *c, berr_t *err)
{
    struct ns_fds ns;
    int flags, sp[2];

    if (open_namespaces(s, &ns, &flags, err) < 0) {
        close_namespaces(&ns);
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        close_namespaces(&ns);
        return berr_set(err, errno, "container: socketpair");
    }
    c->pid = clone_child(flags);
    if (c->pid == 0) {
        close(sp[0]);
        child_main(s, bundle, &ns, io, sp[1]);
    }
    int saved = errno;
    close(sp[1]);
    close_namespaces(&ns);
    if (c->pid < 0) {
        close(sp[0]);
        return berr_set(err, saved, "container: clone");
    }
    if (s->userns && setup_userns(s, c->pid, sp[0], err) < 0) {
        close(sp[0]);
        return -1;
    }
    berr_t cg_err = NULL;
    bool placed = cgroup_add_pid(cg, c->pid, &cg_err) == 0;
    if (placed)
        send_msg(sp[0], SYNC_GO, 0, NULL, -1); /* a child that is gone reports why below */
    else
        kill(c->pid, SIGKILL);
    int rc = wait_child(sp[0], c, err);
    close(sp[0]);
    if (rc == 0 && !placed) {
        *err = steal_pointer(&cg_err);
        return -1;
    }
    berr_free(&cg_err);
    return rc;
}

int container_create(const struct rt_spec *s, const char *bundle, struct cgroup *cg,
                     const struct container_io *io, struct container *c, berr_t *err)
{
    c->pid = 0;
    c->pty = -1;
    c->exit_code = EXIT_SETUP_FAILED;
    if (start_child(s, bundle, cg, io, c, err) == 0)
        return 0;
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
    }
    if (c->pty >= 0)
        close(c->pty);
    c->pty = -1;
    return -1;
}
