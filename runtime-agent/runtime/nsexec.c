/* `berthd nsexec PID SPEC_FILE`: run a process inside the running container whose init is
 * PID: join its namespaces and cgroup, fork into its pid namespace, become the spec's process
 * and exec it on the inherited stdio. Exits with the command's status. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/cgroup.h"
#include "runtime-agent/runtime/process.h"
#include "runtime-agent/runtime/runtime.h"

/* The namespaces joined. The parent joins ipc, uts, net and pid while still in the initial
 * user namespace (with a remapped container the network namespace belongs to the initial user
 * namespace, which a process inside the container's user namespace could no longer join),
 * then forks; the child joins the user namespace and then the mount namespace, which the
 * container's user namespace owns. The parent stays in the initial user namespace, so it can
 * return to its own pid namespace. */
static const struct {
    const char *name;
    int flag;
} ns_order[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
    {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
};
#define NS_N (sizeof(ns_order) / sizeof(ns_order[0]))

static pid_t child_pid;

/* Open PID's namespaces (before joining any: /proc changes meaning with the mount ns);
 * -1 where PID shares ours. */
static int open_namespaces(pid_t pid, int fds[NS_N], berr_t *err)
{
    for (size_t i = 0; i < NS_N; i++) {
        struct stat theirs, ours;
        char path[64], self[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_order[i].name);
        snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_order[i].name);
        fds[i] = -1;
        if (stat(path, &theirs) < 0)
            return berr_set(err, errno, "container process %d: namespace %s", (int)pid,
                            ns_order[i].name);
        if (stat(self, &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
            continue;
        if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return berr_set(err, errno, "open %s", path);
    }
    return 0;
}

/* What the parent joins: PID's cgroup and every namespace but the user and mount namespaces,
 * which the child enters after the fork (the parent keeps the host's /proc; a pid namespace
 * only takes effect for children anyway). */
static int join_parent(pid_t pid, int fds[NS_N], berr_t *err)
{
    if (open_namespaces(pid, fds, err) < 0 || cgroup_join(pid, err) < 0)
        return -1;
    for (size_t i = 0; i < NS_N; i++)
        if (ns_order[i].flag != CLONE_NEWNS && ns_order[i].flag != CLONE_NEWUSER && fds[i] >= 0 &&
            setns(fds[i], ns_order[i].flag) < 0)
            return berr_set(err, errno, "join the %s namespace of process %d", ns_order[i].name,
                            (int)pid);
    return 0;
}

static void close_all(int fds[NS_N])
{
    for (size_t i = 0; i < NS_N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* In the child: enter the user namespace, the mount namespace and the container's root. */
static int join_mnt(int userfd, int mntfd, int rootfd, berr_t *err)
{
    if (userfd >= 0 && setns(userfd, CLONE_NEWUSER) < 0)
        return berr_set(err, errno, "join the user namespace");
    if (mntfd >= 0 && setns(mntfd, CLONE_NEWNS) < 0)
        return berr_set(err, errno, "join the mount namespace");
    if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return berr_set(err, errno, "enter the container's root");
    return 0;
}

static __attribute__((noreturn)) void run_child(const struct rt_process *p, int userfd, int mntfd,
                                                int rootfd)
{
    berr_t err = NULL;
    char **env = NULL;
    int code = EXIT_SETUP_FAILED;

    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (join_mnt(userfd, mntfd, rootfd, &err) < 0) {
        code = EXIT_SETUP_FAILED;
    } else if (p->tty && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0)) {
        berr_set(&err, errno, "make stdin the controlling terminal");
    } else if (process_prepare(p, &env, &err) == 0) {
        code = process_exec(p, env, &err);
    }
    fprintf(stderr, "berthd nsexec: %s\n", berr_msg(err));
    _exit(code);
}

static void forward(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

static int wait_child(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};
    int status;

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    while (waitpid(child_pid, &status, 0) < 0)
        if (errno != EINTR)
            return EXIT_SETUP_FAILED;
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int open_root(pid_t pid, berr_t *err)
{
    char root[64];

    snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : berr_set(err, errno, "open %s", root);
}

static int run(pid_t pid, const struct rt_process *proc, berr_t *err)
{
    int fds[NS_N] = {-1, -1, -1, -1, -1, -1};
    _cleanup_close_ int rootfd = open_root(pid, err);
    _cleanup_close_ int own_pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);

    if (rootfd < 0 || join_parent(pid, fds, err) < 0) {
        close_all(fds);
        return -1;
    }
    child_pid = fork();
    if (child_pid == 0)
        run_child(proc, fds[0], fds[NS_N - 1], rootfd);
    close_all(fds);
    /* Back to our own pid namespace for any later child (the sanitizers' exit-time helper). */
    if (own_pid >= 0)
        setns(own_pid, CLONE_NEWPID);
    if (child_pid < 0)
        return berr_set(err, errno, "fork");
    return 0;
}

int nsexec_main(int argc, char **argv)
{
    struct rt_process proc;
    berr_t err = NULL;

    if (argc != 3 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "Usage: berthd nsexec PID SPEC_FILE\n");
        return 2;
    }
    int rc = spec_load_process(argv[2], &proc, &err);
    if (rc == 0)
        rc = run((pid_t)atoi(argv[1]), &proc, &err);
    spec_process_free(&proc);
    if (rc < 0) {
        fprintf(stderr, "berthd nsexec: %s\n", berr_msg(err));
        berr_free(&err);
        return EXIT_SETUP_FAILED;
    }
    return wait_child();
}
