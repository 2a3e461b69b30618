/* The API layer's side of the runtime: start a shim and learn the result, read state, signal,
 * pause, attach, exec. */
#include "runtime-agent/runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/attach.h"
#include "runtime-agent/runtime/cgroup.h"
#include "runtime-agent/runtime/state.h"

#define START_TIMEOUT_MS 10000
#define SYNC_FD 3

extern char **environ;

static const char *self_exe(void)
{
    const char *s = getenv(RUNTIME_SELF_ENV);
    return s && *s ? s : "/proc/self/exe";
}

/* Spawn SELF ARGV with FDS (-1: not passed) as its fds 0..3, default signals and mask. */
static int spawn_self(char *const argv[], const int fds[4], pid_t *pid, berr_t *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    int rc = posix_spawn(pid, self_exe(), &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return berr_set(err, rc, "run %s %s", self_exe(), argv[1]);
    return 0;
}

/* Read exactly LEN bytes before DEADLINE (ms); 0 at end of file, -1 on timeout or error. */
static ssize_t read_full(int fd, void *buf, size_t len, long long deadline)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* The first frame the shim sends: stream 3, empty when the command runs, else the error. */
static int read_start_result(int fd, const char *bundle, berr_t *err)
{
    unsigned char h[ATTACH_FRAME_HEADER];
    long long deadline = now_ms() + START_TIMEOUT_MS;
    ssize_t n = read_full(fd, h, sizeof(h), deadline);
    struct runtime_state st;

    if (n < 0)
        return berr_set(err, errno, "container %s: wait for the shim", bundle);
    if (n == 0 || h[0] != ATTACH_STREAM_START) {
        berr_t e2 = NULL;
        if (state_read(bundle, &st, &e2) == 0 && st.error[0])
            return berr_set(err, 0, "%s", st.error);
        berr_free(&e2);
        return berr_set(err, 0,
                        "container %s: the shim exited without starting it (see %s/"
                        "shim.log)",
                        bundle, bundle);
    }
    size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    if (len == 0)
        return 0;
    _cleanup_free_ char *msg = xcalloc(1, len + 1);
    if (read_full(fd, msg, len, deadline) != (ssize_t)len)
        return berr_set(err, errno, "container %s: read the start result", bundle);
    return berr_set(err, 0, "%s", msg);
}

int runtime_start(const char *bundle_dir, int *attach_fd, berr_t *err)
{
    int sp[2], status;
    pid_t pid;
    char fdarg[16];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return berr_set(err, errno, "container %s: socketpair", bundle_dir);
    snprintf(fdarg, sizeof(fdarg), "%d", SYNC_FD);
    char *argv[] = {"berthd", "shim", "--sync-fd", fdarg, (char *)bundle_dir, NULL};
    int fds[4] = {-1, -1, -1, sp[1]};
    int rc = spawn_self(argv, fds, &pid, err);
    close(sp[1]);
    if (rc == 0) {
        /* The first process only forks the shim off and exits. */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        rc = read_start_result(sp[0], bundle_dir, err);
    }
    if (rc == 0 && attach_fd != NULL) {
        *attach_fd = sp[0];
        return 0;
    }
    close(sp[0]);
    return rc;
}

/* True when PID is the shim serving BUNDLE (its cwd is the bundle): survives pid reuse. */
static bool shim_alive(pid_t pid, const char *bundle)
{
    char link[64], cwd[4096];
    _cleanup_free_ char *real = realpath(bundle, NULL);

    if (pid <= 0 || real == NULL)
        return false;
    snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
    ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
    if (n < 0)
        return false;
    cwd[n] = '\0';
    return strcmp(cwd, real) == 0;
}

int runtime_state(const char *bundle_dir, struct runtime_state *st, berr_t *err)
{
    if (state_read(bundle_dir, st, err) < 0)
        return -1;
    if (!st->running)
        return 0;
    if (shim_alive(st->shim_pid, bundle_dir)) {
        struct cgroup cg;
        cgroup_open_rel(&cg, st->cgroup);
        st->paused = st->cgroup[0] && cgroup_frozen(&cg);
        cgroup_close(&cg);
        return 0;
    }
    /* The shim may have recorded the exit and gone between our two looks. */
    if (state_read(bundle_dir, st, err) < 0 || !st->running)
        return st->running ? -1 : 0;
    st->running = false;
    st->exit_code = 255;
    snprintf(st->error, sizeof(st->error),
             "the container's shim (pid %d) is gone: the container was lost (host reboot or "
             "shim crash)",
             (int)st->shim_pid);
    return 0;
}

static int open_cgroup(const struct runtime_state *st, struct cgroup *cg, berr_t *err)
{
    if (st->cgroup[0] == '\0')
        return berr_set(err, ENOENT, "container has no cgroup recorded in %s", STATE_FILE);
    cgroup_open_rel(cg, st->cgroup);
    return 0;
}

static int running_state(const char *bundle_dir, struct runtime_state *st, berr_t *err)
{
    if (runtime_state(bundle_dir, st, err) < 0)
        return -1;
    if (!st->running)
        return berr_set(err, ESRCH, "container %s is not running", bundle_dir);
    return 0;
}

/* The parent pid of PID from /proc, 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    _cleanup_close_ int fd = -1;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int ppid = 0;
    return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : 0;
}

int runtime_kill(const char *bundle_dir, int sig, berr_t *err)
{
    struct runtime_state st;

    if (running_state(bundle_dir, &st, err) < 0)
        return -1;
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st.pid, 0);
    if (pidfd < 0 || parent_of(st.pid) != st.shim_pid)
        return berr_set(err, ESRCH, "container %s: process %d is gone", bundle_dir, (int)st.pid);
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
        return berr_set(err, errno, "container %s: signal %d", bundle_dir, sig);
    if (sig == SIGKILL && st.paused) {
        /* Frozen tasks cannot die: thaw them. */
        struct cgroup cg;
        if (open_cgroup(&st, &cg, err) < 0)
            return -1;
        int rc = cgroup_freeze(&cg, false, err);
        cgroup_close(&cg);
        return rc;
    }
    return 0;
}

int runtime_pause(const char *bundle_dir, bool pause, berr_t *err)
{
    struct runtime_state st;
    struct cgroup cg;

    if (running_state(bundle_dir, &st, err) < 0 || open_cgroup(&st, &cg, err) < 0)
        return -1;
    int rc = cgroup_freeze(&cg, pause, err);
    cgroup_close(&cg);
    return rc < 0 ? berr_prefix(err, "container %s: %s", bundle_dir, pause ? "pause" : "unpause")
                  : 0;
}

int runtime_stats(const char *bundle_dir, struct runtime_stats *stats, berr_t *err)
{
    struct runtime_state st;
    struct cgroup cg;

    if (running_state(bundle_dir, &st, err) < 0 || open_cgroup(&st, &cg, err) < 0)
        return -1;
    int rc = cgroup_stats(&cg, stats, err);
    cgroup_close(&cg);
    return rc;
}

int runtime_attach(const char *bundle_dir, berr_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    _cleanup_close_ int dirfd = -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return berr_set(err, errno, "container %s: attach socket", bundle_dir);
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", bundle_dir, ATTACH_SOCK);
    if (n >= (int)sizeof(sa.sun_path)) {
        /* Too long for sun_path: reach the socket through an fd of the bundle directory. */
        dirfd = open(bundle_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, ATTACH_SOCK);
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return berr_set(err, e, "container %s: connect to %s", bundle_dir, ATTACH_SOCK);
    }
    return fd;
}

int runtime_exec_spawn(pid_t pid, const char *spec_file, const int fds[3], pid_t *child,
                       berr_t *err)
{
    char pidarg[16];
    int dup[4] = {-1, -1, -1, -1};
    int rc = 0;

    snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
    char *argv[] = {"berthd", "nsexec", pidarg, (char *)spec_file, NULL};
    /* Copies above 2 so that no dup2 of the child clobbers another source fd. */
    for (int i = 0; i < 3 && rc == 0; i++)
        if ((dup[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
            rc = berr_set(err, errno, "exec: duplicate fd %d", fds[i]);
    if (rc == 0)
        rc = spawn_self(argv, dup, child, err);
    for (int i = 0; i < 3; i++)
        if (dup[i] >= 0)
            close(dup[i]);
    return rc;
}
