/* berth-local: the supervisor of one local machine, started (detached) by the local driver:
 *
 *   berth-local supervise MACHINE_DIR
 *
 * It boots the machine described by MACHINE_DIR/local/run.json (boot.c), forwards the host's
 * 127.0.0.1 ports into it (forward.c) or, on the host-only network, gives it an eth0 on the
 * host-only bridge instead (hostonly.c), records itself and the machine's init in
 * local/state.json, and reports "ok" or "error: ..." on fd 3 once the machine's SSH server
 * listens. SIGTERM asks the machine to power off (busybox init's SIGUSR2), with SIGKILL after
 * the stop timeout; a reboot inside the machine boots it again. When the machine is gone it
 * removes the machine's cgroup and its state and exits. The machine dies with it
 * (PR_SET_PDEATHSIG), so a killed supervisor never leaves a machine nobody can reach. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "drivers/local/cgroup.h"
#include "drivers/local/run.h"
#include "drivers/local/supervisor/boot.h"
#include "drivers/local/supervisor/extract.h"
#include "drivers/local/supervisor/forward.h"
#include "drivers/local/supervisor/hostonly.h"
#include "drivers/local/supervisor/slog.h"

#define READY_TIMEOUT_MS 20000
#define SCAN_INTERVAL_MS 1000
#define MAX_POLLFDS 1024

struct sup {
    struct local_run run;
    struct mcgroup cg;
    struct fwd *fwd;
    struct local_state state;
    int sigfd;
    int ready_fd; /* open until "ok" or "error" was reported */
    int console;  /* local/console.log */
    pid_t init;   /* 0 when the machine is down */
    int init_status;
    bool stopping; /* a stop was asked for: do not boot again */
    long long kill_at;
    long long ready_deadline;
};

void slog(const char *fmt, ...)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;

    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s berth-local[%d]: ", stamp, (int)getpid());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* Tell the driver how the start went, once. */
static void report(struct sup *s, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;

    if (s->ready_fd < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (write(s->ready_fd, msg, strlen(msg)) < 0)
        slog("cannot report to the driver: %s", strerror(errno));
    close(s->ready_fd);
    s->ready_fd = -1;
}

/* "; last lines of console.log: ..." to explain a machine that failed to come up, or "". */
static char *console_tail(const struct sup *s)
{
    _cleanup_free_ char *path = local_path(s->run.machine_dir, "console.log");
    _cleanup_free_ char *text = NULL;
    size_t len;

    if (read_file(path, &text, &len, NULL) < 0 || len == 0)
        return xstrdup("");
    const char *p = text + len;
    for (int lines = 0; p > text && lines < 6; p--)
        if (p[-1] == '\n' && p != text + len)
            lines++;
    return xasprintf("; last lines of %s:\n%s", path, p);
}

static void save_state(struct sup *s, enum local_phase phase)
{
    berr_t err = NULL;

    s->state.phase = phase;
    if (local_state_save(s->run.machine_dir, &s->state, &err) < 0) {
        slog("cannot record the state: %s", berr_msg(err));
        berr_free(&err);
    }
}

static int boot(struct sup *s, berr_t *err)
{
    _cleanup_free_ char *console = local_path(s->run.machine_dir, "console.log");
    char netns[64];

    if (s->console >= 0)
        close(s->console);
    s->console = open(console, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (s->console < 0)
        return berr_set(err, errno, "open %s", console);
    /* Whatever a machine that died uncleanly left behind goes first. */
    if (mcg_destroy(&s->cg, err) < 0 || mcg_create(&s->cg, s->run.cpus, s->run.memory_mb, err) < 0)
        return -1;
    if (boot_machine(&s->run, &s->cg, s->console, &s->init, err) < 0)
        return -1;
    if (proc_id_get(s->init, &s->state.init) < 0)
        return berr_set(err, 0, "the machine's init (pid %d) exited at once", (int)s->init);
    snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)s->init);
    int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "open %s", netns);
    fwd_attach(s->fwd, fd, s->init);
    if (s->run.address != NULL) {
        if (hostonly_attach(&s->run, s->init, err) < 0)
            return -1;
        slog("machine %s: eth0 %s/%d on bridge %s (host end %s)", s->run.name, s->run.address,
             s->run.prefix, s->run.bridge, s->run.host_if);
    }
    slog("machine %s booted: init is pid %d", s->run.name, (int)s->init);
    save_state(s, s->ready_fd >= 0 ? LOCAL_STARTING : LOCAL_RUNNING);
    return 0;
}

/* Ask the machine to power off; SIGKILL follows after the stop timeout. */
static void request_stop(struct sup *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = true;
    slog("%s: powering the machine off", why);
    if (s->init > 0) {
        save_state(s, LOCAL_STOPPING);
        kill(s->init, SIGUSR2); /* busybox init: poweroff */
        s->kill_at = now_ms() +
                     1000LL * (s->run.stop_timeout > 0 ? s->run.stop_timeout : LOCAL_STOP_TIMEOUT);
    }
}

static void handle_signals(struct sup *s)
{
    struct signalfd_siginfo si;

    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                if (pid == s->init) {
                    s->init = 0;
                    s->init_status = status;
                }
        } else {
            request_stop(s, strsignal((int)si.ssi_signo));
        }
    }
}

/* After the machine's init is gone: close its forwards and remove its cgroup. */
static void machine_down(struct sup *s)
{
    int st = s->init_status;
    berr_t err = NULL;

    fwd_attach(s->fwd, -1, 0);
    /* The pair would go with the machine's network namespace, but the kernel dismantles
     * namespaces asynchronously: remove it now, so that stop leaves no port on the bridge. */
    if (s->run.address != NULL)
        hostonly_detach(&s->run);
    if (WIFSIGNALED(st))
        slog("the machine's init ended by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        slog("the machine's init exited with status %d", WEXITSTATUS(st));
    if (mcg_destroy(&s->cg, &err) < 0) {
        slog("cannot remove the machine's cgroup: %s", berr_msg(err));
        berr_free(&err);
    }
    s->state.init = (struct proc_id){0, 0};
}

static void check_ready(struct sup *s)
{
    if (s->ready_fd < 0 || s->init <= 0)
        return;
    if (fwd_machine_listens(s->fwd, s->run.ssh_port)) {
        save_state(s, LOCAL_RUNNING);
        if (s->run.address != NULL)
            slog("the machine's SSH server listens; reachable on %s:%d", s->run.address,
                 s->run.ssh_port);
        else
            slog("the machine's SSH server listens; reachable on 127.0.0.1:%d",
                 s->run.ssh_host_port);
        report(s, "ok\n");
    } else if (now_ms() > s->ready_deadline) {
        _cleanup_free_ char *tail = console_tail(s);
        report(s, "error: the machine's SSH server did not listen on port %d within %d s%s\n",
               s->run.ssh_port, READY_TIMEOUT_MS / 1000, tail);
        request_stop(s, "start timed out");
    }
}

static int wait_timeout(const struct sup *s)
{
    long long t = SCAN_INTERVAL_MS, now = now_ms();

    if (s->ready_fd >= 0)
        t = 20;
    if (s->kill_at > 0 && s->init > 0)
        t = s->kill_at - now < t ? s->kill_at - now : t;
    return t < 0 ? 0 : (int)t;
}

/* Run the machine until it is down for good. */
static void run_loop(struct sup *s)
{
    static struct pollfd fds[MAX_POLLFDS];
    long long next_scan = 0;

    while (s->init > 0) {
        fds[0] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
        size_t n = fwd_pollfds(s->fwd, fds + 1, MAX_POLLFDS - 1);
        int r = poll(fds, n + 1, wait_timeout(s));
        if (r < 0 && errno != EINTR) {
            slog("poll: %s", strerror(errno));
            request_stop(s, "internal error");
        }
        if (r > 0) {
            if (fds[0].revents & POLLIN)
                handle_signals(s);
            fwd_handle(s->fwd, fds + 1, n);
        }
        if (s->init <= 0)
            break;
        if (s->kill_at > 0 && now_ms() >= s->kill_at) {
            slog("the machine did not power off within %d s: killing it", s->run.stop_timeout);
            kill(s->init, SIGKILL);
            s->kill_at = 0;
        }
        check_ready(s);
        /* Published ports are forwarded only without a network of the machine's own. */
        if (s->run.address == NULL && now_ms() >= next_scan) {
            fwd_scan(s->fwd);
            next_scan = now_ms() + SCAN_INTERVAL_MS;
        }
    }
}

/* Whether the machine asked to be booted again (`reboot` inside: the kernel ends the init of
 * a pid namespace with SIGHUP for a restart and SIGINT for a power-off). */
static bool wants_reboot(const struct sup *s)
{
    return !s->stopping && s->ready_fd < 0 && WIFSIGNALED(s->init_status) &&
           WTERMSIG(s->init_status) == SIGHUP;
}

static int setup(struct sup *s, const char *machine_dir, berr_t *err)
{
    static const int handled[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    sigset_t set;
    struct rlimit rl;

    if (local_run_load(machine_dir, &s->run, err) < 0)
        return -1;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
        /* An ignored SIGCHLD (inherited from whoever started berth) would reap the machine's
         * init behind our back. */
        signal(handled[i], SIG_DFL);
        sigaddset(&set, handled[i]);
    }
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        return berr_set(err, errno, "signalfd");
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (host_boot_id(s->state.boot_id, sizeof(s->state.boot_id), err) < 0 ||
        proc_id_get(getpid(), &s->state.supervisor) < 0)
        return berr_prefix(err, "identify this supervisor");
    if (mcg_open(&s->cg, s->run.cgroup, err) < 0)
        return -1;
    /* On the host-only network the forwarder only watches the machine's listeners (for the
     * SSH server's readiness): the machine is reached at its own address. */
    if ((s->fwd = fwd_new(s->run.machine_dir, err)) == NULL)
        return -1;
    if (s->run.address == NULL &&
        (fwd_add_fixed(s->fwd, s->run.ssh_host_port, s->run.ssh_port, err) < 0 ||
         fwd_add_fixed(s->fwd, s->run.engine_host_port, s->run.engine_port, err) < 0))
        return berr_prefix(err, "(another program uses the port, or another machine with the "
                                "same ports runs)");
    return 0;
}

/* Only one supervisor per machine: the lock is held for its whole life. */
static int take_lock(const char *machine_dir, berr_t *err)
{
    _cleanup_free_ char *path = local_path(machine_dir, "supervisor.lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return berr_set(err, errno, "open %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return berr_set(err, errno == EWOULDBLOCK ? 0 : errno,
                        "another supervisor runs this machine (%s is locked)", path);
    }
    return fd;
}

static int supervise(const char *machine_dir)
{
    struct sup s = {.sigfd = -1, .ready_fd = LOCAL_READY_FD, .console = -1};
    berr_t err = NULL;
    int lock;

    if (fcntl(s.ready_fd, F_SETFD, FD_CLOEXEC) < 0)
        s.ready_fd = -1;
    lock = take_lock(machine_dir, &err);
    if (lock < 0 || setup(&s, machine_dir, &err) < 0) {
        slog("cannot start: %s", berr_msg(err));
        report(&s, "error: %s\n", berr_msg(err));
        berr_free(&err);
        goto out;
    }
    slog("supervising machine %s (%s)", s.run.name, s.run.machine_dir);
    s.ready_deadline = now_ms() + READY_TIMEOUT_MS;
    do {
        if (boot(&s, &err) < 0) {
            _cleanup_free_ char *tail = console_tail(&s);
            slog("cannot boot the machine: %s", berr_msg(err));
            report(&s, "error: boot the machine: %s%s\n", berr_msg(err), tail);
            berr_free(&err);
            break;
        }
        run_loop(&s);
        machine_down(&s);
        if (s.ready_fd >= 0) {
            _cleanup_free_ char *tail = console_tail(&s);
            report(&s, "error: the machine stopped while starting%s\n", tail);
        }
    } while (wants_reboot(&s));
    {
        berr_t e = NULL;
        if (mcg_destroy(&s.cg, &e) < 0) {
            slog("cannot remove the machine's cgroup: %s", berr_msg(e));
            berr_free(&e);
        }
    }
    local_state_clear(s.run.machine_dir);
    slog("machine %s is down", s.run.name);
out:
    fwd_free(s.fwd);
    mcg_close(&s.cg);
    local_run_free(&s.run);
    if (s.sigfd >= 0)
        close(s.sigfd);
    if (s.console >= 0)
        close(s.console);
    if (lock >= 0)
        close(lock);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "extract") == 0) {
        berr_t err = NULL;
        if (rootfs_extract(argv[2], argv[3], &err) == 0)
            return 0;
        fprintf(stderr, "%s\n", berr_msg(err));
        berr_free(&err);
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "bridge-down") == 0) {
        berr_t err = NULL;
        bool deleted;
        if (hostonly_bridge_down(argv[2], &deleted, &err) == 0) {
            printf("%s\n", deleted ? "deleted" : "kept");
            return 0;
        }
        fprintf(stderr, "%s\n", berr_msg(err));
        berr_free(&err);
        return 1;
    }
    if (argc != 3 || strcmp(argv[1], "supervise") != 0) {
        fprintf(stderr,
                "usage: %s supervise MACHINE_DIR | extract IMAGE ROOTFS | bridge-down BRIDGE\n"
                "(started by berth's local driver)\n",
                argv[0]);
        return 2;
    }
    return supervise(argv[2]);
}
