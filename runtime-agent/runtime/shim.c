/* `berthd shim [--sync-fd N] BUNDLE`: daemonize, create the container, supervise it, record
 * how it ended, clean up and exit. The start result goes to the --sync-fd connection (an
 * attach connection of runtime_start), as a frame of stream 3: empty when the command runs,
 * the error text otherwise. */
#include "runtime-agent/runtime/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/container.h"
#include "runtime-agent/runtime/process.h"
#include "runtime-agent/runtime/state.h"

#define SHIM_LOG "shim.log"
#define CLOSE_FLUSH_MS 1000

void shim_log(const char *fmt, ...)
{
    char now[40], *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    int fd = open(SHIM_LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd >= 0) {
        state_now(now, sizeof(now));
        dprintf(fd, "%s shim[%d]: %s\n", now, (int)getpid(), msg);
        close(fd);
    }
    free(msg);
}

/* Fork twice with a setsid between, so the shim is nobody's child but init's and can never
 * acquire a terminal. Returns 0 in the shim, 1 in the caller, -1 on failure. */
static int daemonize(void)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid > 0)
        return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0
                   ? 1
                   : -1;
    if (setsid() < 0)
        _exit(1);
    pid = fork();
    if (pid != 0)
        _exit(pid < 0 ? 1 : 0);
    return 0;
}

/* The shim keeps nothing of its caller: cwd is the bundle, stdio is /dev/null, and only the
 * sync connection stays open. */
static int detach_from_caller(const char *bundle, int sync_fd)
{
    if (chdir(bundle) < 0)
        return -1;
    if (sync_fd >= 0) {
        if (sync_fd > 3)
            close_range(3, (unsigned)sync_fd - 1, 0);
        close_range((unsigned)sync_fd + 1, ~0U, 0);
        fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
    } else {
        close_range(3, ~0U, 0);
    }
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
        return -1;
    if (null > 2)
        close(null);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    return 0;
}

static void send_start_result(struct shim *sh, const char *error)
{
    if (sh->n_clients > 0 &&
        !attach_send(sh->clients[0], ATTACH_STREAM_START, error, strlen(error)))
        shim_log("cannot report the start result to the caller");
}

static void record(struct shim *sh)
{
    berr_t err = NULL;

    if (state_write(sh->bundle, &sh->st, &err) < 0) {
        shim_log("%s", berr_msg(err));
        berr_free(&err);
    }
}

static int open_pipes(struct shim *sh, struct container_io *io, berr_t *err)
{
    int p[2];

    io->in = 0; /* /dev/null */
    for (int s = 1; s <= 2; s++) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return berr_set(err, errno, "shim: create output pipe");
        sh->out_fd[s] = p[0];
        *(s == 1 ? &io->out : &io->err) = p[1];
        fcntl(p[0], F_SETFL, O_NONBLOCK);
    }
    if (sh->spec.open_stdin) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return berr_set(err, errno, "shim: create input pipe");
        io->in = p[0];
        sh->in_fd = p[1];
        fcntl(p[1], F_SETFL, O_NONBLOCK);
    }
    return 0;
}

static void close_io(struct container_io *io)
{
    if (io->in > 2)
        close(io->in);
    if (io->out > 2)
        close(io->out);
    if (io->err > 2)
        close(io->err);
}

/* Everything the container needs before its clone: cgroup, attach socket, log, pipes. */
static int prepare(struct shim *sh, struct container_io *io, berr_t *err)
{
    sigset_t set;

    if (cgroup_open(&sh->cg, sh->spec.cgroup_parent, sh->spec.id, err) < 0 ||
        cgroup_create(&sh->cg, &sh->spec.res, sh->spec.proc.privileged, err) < 0)
        return -1;
    snprintf(sh->st.cgroup, sizeof(sh->st.cgroup), "%s", sh->cg.rel);
    if ((sh->listen_fd = attach_listen(ATTACH_SOCK, err)) < 0)
        return -1;
    if (strcmp(sh->spec.log_driver, "none") != 0 &&
        (sh->log = jsonlog_open(sh->spec.log_path, sh->spec.log_max_size, sh->spec.log_max_files,
                                err)) == NULL)
        return -1;
    if (!sh->spec.proc.tty && open_pipes(sh, io, err) < 0)
        return -1;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if ((sh->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
        return berr_set(err, errno, "shim: signalfd");
    return 0;
}

static int start(struct shim *sh, berr_t *err)
{
    struct container_io io = {-1, -1, -1};
    struct container c = {.pty = -1, .exit_code = EXIT_SETUP_FAILED};

    int rc = prepare(sh, &io, err);
    if (rc == 0)
        rc = container_create(&sh->spec, sh->bundle, &sh->cg, &io, &c, err);
    close_io(&io);
    if (rc < 0) {
        sh->st.exit_code = c.exit_code;
        return -1;
    }
    sh->st.pid = c.pid;
    sh->pty = c.pty;
    if (sh->pty >= 0) {
        fcntl(sh->pty, F_SETFL, O_NONBLOCK);
        sh->out_fd[1] = sh->pty;
        sh->in_fd = sh->spec.open_stdin ? sh->pty : -1;
    }
    return 0;
}

static void announce(struct shim *sh)
{
    char pid[32];
    berr_t err = NULL;

    sh->st.running = true;
    sh->st.shim_pid = getpid();
    state_now(sh->st.started_at, sizeof(sh->st.started_at));
    record(sh);
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    _cleanup_free_ char *path = path_join(sh->bundle, SHIM_PID_FILE);
    if (write_file_atomic(path, pid, strlen(pid), 0644, &err) < 0) {
        shim_log("%s", berr_msg(err));
        berr_free(&err);
    }
    send_start_result(sh, "");
}

static void remove_cgroup(struct shim *sh)
{
    berr_t err = NULL;

    if (sh->cg.rel == NULL)
        return;
    sh->st.oom_killed = cgroup_oom_killed(&sh->cg);
    if (cgroup_destroy(&sh->cg, &err) < 0) {
        shim_log("%s", berr_msg(err));
        berr_free(&err);
    }
}

/* Give clients a bounded moment to take their pending output, then close them. */
static void close_clients(struct shim *sh)
{
    long long until = now_ms() + CLOSE_FLUSH_MS;

    for (size_t i = 0; i < sh->n_clients; i++) {
        struct attach_client *c = sh->clients[i];
        while (c->out_len > 0 && attach_flush(c) && now_ms() < until) {
            struct pollfd p = {.fd = c->fd, .events = POLLOUT};
            poll(&p, 1, (int)(until - now_ms()));
        }
        shutdown(c->fd, SHUT_RDWR);
        attach_client_free(c);
    }
    free(sh->clients);
    sh->clients = NULL;
    sh->n_clients = 0;
}

static int exit_code(int status)
{
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static void finish(struct shim *sh)
{
    berr_t err = NULL;

    if (jsonlog_close(sh->log, &err) < 0) {
        shim_log("%s", berr_msg(err));
        berr_free(&err);
    }
    sh->log = NULL;
    remove_cgroup(sh);
    sh->st.running = false;
    sh->st.exit_code = exit_code(sh->status);
    state_now(sh->st.finished_at, sizeof(sh->st.finished_at));
    record(sh);
    close_clients(sh);
    unlink(ATTACH_SOCK);
}

static void fail(struct shim *sh, berr_t *err)
{
    shim_log("start failed: %s", berr_msg(*err));
    snprintf(sh->st.error, sizeof(sh->st.error), "%s", berr_msg(*err));
    if (sh->log)
        jsonlog_close(sh->log, NULL);
    sh->log = NULL;
    remove_cgroup(sh);
    sh->st.running = false;
    state_now(sh->st.finished_at, sizeof(sh->st.finished_at));
    record(sh);
    send_start_result(sh, sh->st.error);
    close_clients(sh);
    unlink(ATTACH_SOCK);
}

static void release(struct shim *sh)
{
    for (int s = 1; s <= 2; s++)
        if (sh->out_fd[s] >= 0)
            close(sh->out_fd[s]);
    if (sh->in_fd >= 0 && sh->in_fd != sh->out_fd[1])
        close(sh->in_fd);
    if (sh->listen_fd >= 0)
        close(sh->listen_fd);
    if (sh->sig_fd >= 0)
        close(sh->sig_fd);
    cgroup_close(&sh->cg);
    spec_free(&sh->spec);
    free(sh->in_buf);
    free(sh->bundle);
}

static int run(struct shim *sh, int sync_fd)
{
    berr_t err = NULL;
    _cleanup_free_ char *spec_path = path_join(sh->bundle, "spec.json");

    sh->st.exit_code = EXIT_SETUP_FAILED;
    if (sync_fd >= 0)
        shim_add_client(sh, sync_fd);
    if (spec_load(spec_path, &sh->spec, &err) < 0 || start(sh, &err) < 0) {
        fail(sh, &err);
        berr_free(&err);
        return 1;
    }
    announce(sh);
    shim_loop(sh);
    finish(sh);
    return 0;
}

static int parse_args(int argc, char **argv, int *sync_fd, char **bundle)
{
    int i = 1;

    *sync_fd = -1;
    if (argc == 4 && strcmp(argv[1], "--sync-fd") == 0) {
        *sync_fd = atoi(argv[2]);
        i = 3;
    }
    if (i != argc - 1 || (i == 3 && *sync_fd < 3))
        return -1;
    *bundle = realpath(argv[i], NULL);
    return *bundle ? 0 : -1;
}

int shim_main(int argc, char **argv)
{
    struct shim sh = {
        .listen_fd = -1, .sig_fd = -1, .out_fd = {-1, -1, -1}, .in_fd = -1, .pty = -1};
    int sync_fd;

    if (parse_args(argc, argv, &sync_fd, &sh.bundle) < 0) {
        fprintf(stderr, "Usage: berthd shim [--sync-fd N] BUNDLE_DIR (an existing directory)\n");
        free(sh.bundle);
        return 2;
    }
    int d = daemonize();
    if (d != 0) {
        if (d < 0)
            fprintf(stderr, "berthd shim: fork: %s\n", strerror(errno));
        free(sh.bundle);
        return d < 0 ? 1 : 0;
    }
    if (detach_from_caller(sh.bundle, sync_fd) < 0) {
        shim_log("detach: %s", strerror(errno));
        _exit(1);
    }
    int rc = run(&sh, sync_fd);
    release(&sh);
    return rc;
}
