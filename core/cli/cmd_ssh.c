/* berth ssh, scp and mount: a machine's shell, files and directories over SSH. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/cli/cli.h"
#include "core/lib/machine.h"
#include "core/lib/xfer.h"

/* `berth ssh` exits like OpenSSH's ssh: the remote status, or 255 when berth failed. */
#define SSH_FAILED 255

/* NAME or USER@NAME; *user is NULL without '@'. Both malloc()ed. */
static void split_user(const char *spec, char **user, char **name)
{
    const char *at = strchr(spec, '@');
    *user = at ? xasprintf("%.*s", (int)(at - spec), spec) : NULL;
    *name = xstrdup(at ? at + 1 : spec);
}

static int ssh_session(struct cli *c, const char *spec, bool accept, bool tty, int argc,
                       char **argv, berr_t *err)
{
    _cleanup_free_ char *user = NULL;
    _cleanup_free_ char *name = NULL;
    _cleanup_free_ char *command = argc > 0 ? ssh_command_line(argc, argv) : NULL;
    struct berth_host *h = NULL;
    struct ssh_conn *conn = NULL;
    struct ssh_cmd x = {.command = command,
                        .in_fd = 0,
                        .out_fd = 1,
                        .err_fd = 2,
                        .pty = tty || (command == NULL && isatty(0))};
    int ret = -1;

    split_user(spec, &user, &name);
    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    struct machine_ssh_opts o = {.accept_host_key = accept, .user = user};
    if (machine_ssh_connect(h, &o, &conn, err) < 0)
        goto out;
    if (ssh_exec(conn, &x, err) < 0) {
        berr_prefix(err, "machine %s", name);
        goto out;
    }
    if (x.signal[0]) {
        berr_set(err, 0, "machine %s: remote command killed by signal %s", name, x.signal);
        goto out;
    }
    ret = x.status;
out:
    ssh_close(conn);
    host_free(h);
    return ret;
}

static int run_ssh(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"accept-host-key", no_argument, NULL, 'A'},
                                         {"tty", no_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    bool accept = false, tty = false;
    int ch;

    while ((ch = cli_getopt(&cmds_ssh[0], argc, argv, "+t", opts, err)) != -1) {
        if (ch == '?') {
            cli_report(*err);
            return SSH_FAILED;
        }
        if (ch == 'A')
            accept = true;
        else
            tty = true;
    }
    const char *spec = optind < argc ? argv[optind++] : "default";
    int ret = ssh_session(c, spec, accept, tty, argc - optind, argv + optind, err);
    if (ret < 0) {
        cli_report(*err);
        berr_free(err);
        return SSH_FAILED;
    }
    return ret;
}

/* ---- scp ------------------------------------------------------------------------------ */

struct endpoint {
    char *machine; /* NULL for a local path */
    char *user;
    char *path;
    char *prefix; /* "h1:" for messages */
};

/* One open connection per machine and user, shared by every argument naming it. */
struct remote_conn {
    char *machine, *user;
    struct berth_host *h;
    struct ssh_conn *conn;
    struct xfer_fs fs;
};

struct scp {
    struct cli *c;
    struct remote_conn conns[8];
    size_t n_conns;
    struct xfer_fs local;
};

/* [[user@]machine:]path: remote when the part before ':' names an existing machine. */
static void parse_endpoint(struct cli *c, const char *arg, struct endpoint *e)
{
    const char *colon = strchr(arg, ':');
    _cleanup_free_ char *head = colon ? xasprintf("%.*s", (int)(colon - arg), arg) : NULL;
    char *user = NULL, *name = NULL;

    memset(e, 0, sizeof(*e));
    if (head && !strchr(head, '/')) {
        split_user(head, &user, &name);
        if (store_check_name(name, NULL) == 0 && store_exists(&c->store, name)) {
            const char *p = colon + 1;
            if (strcmp(p, "~") == 0 || *p == '\0')
                p = ".";
            else if (strncmp(p, "~/", 2) == 0)
                p += 2; /* SFTP paths are relative to the login directory already */
            e->machine = name;
            e->user = user;
            e->path = xstrdup(p);
            e->prefix = xasprintf("%s:", name);
            return;
        }
        free(user);
        free(name);
    }
    e->path = xstrdup(arg);
    e->prefix = xstrdup("");
}

static void endpoint_free(struct endpoint *e)
{
    free(e->machine);
    free(e->user);
    free(e->path);
    free(e->prefix);
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int fs_for(struct scp *s, const struct endpoint *e, struct xfer_fs **fs, berr_t *err)
{
    if (e->machine == NULL) {
        *fs = &s->local;
        return 0;
    }
    for (size_t i = 0; i < s->n_conns; i++) {
        if (strcmp(s->conns[i].machine, e->machine) == 0 && same(s->conns[i].user, e->user)) {
            *fs = &s->conns[i].fs;
            return 0;
        }
    }
    if (s->n_conns == sizeof(s->conns) / sizeof(s->conns[0]))
        return berr_set(err, 0, "scp: too many machines in one command");
    struct remote_conn *r = &s->conns[s->n_conns];
    struct machine_ssh_opts o = {.user = e->user};
    if (host_load(&s->c->store, e->machine, &r->h, err) < 0)
        return -1;
    r->machine = xstrdup(e->machine);
    r->user = e->user ? xstrdup(e->user) : NULL;
    s->n_conns++;
    if (machine_ssh_connect(r->h, &o, &r->conn, err) < 0)
        return -1;
    if (xfer_remote(&r->fs, r->conn, e->prefix, err) < 0)
        return berr_prefix(err, "machine %s", e->machine);
    *fs = &r->fs;
    return 0;
}

static void scp_close(struct scp *s)
{
    for (size_t i = 0; i < s->n_conns; i++) {
        xfer_release(&s->conns[i].fs);
        ssh_close(s->conns[i].conn);
        host_free(s->conns[i].h);
        free(s->conns[i].machine);
        free(s->conns[i].user);
    }
}

static int copy_one(struct scp *s, const struct endpoint *src, const struct endpoint *dst,
                    bool many, const struct xfer_opts *o, struct xfer_stats *st, berr_t *err)
{
    struct xfer_fs *sfs = NULL, *dfs = NULL;
    _cleanup_free_ char *target = NULL;

    if (fs_for(s, src, &sfs, err) < 0 || fs_for(s, dst, &dfs, err) < 0)
        return -1;
    if (xfer_target(dfs, dst->path, src->path, many, &target, err) < 0)
        return -1;
    return xfer_copy(sfs, src->path, dfs, target, o, st, err);
}

static int scp_all(struct cli *c, int n, char **args, const struct xfer_opts *o, berr_t *err)
{
    struct scp s = {.c = c};
    struct endpoint *eps = xcalloc((size_t)n, sizeof(*eps));
    struct xfer_stats st = {0};
    int ret = 0;

    xfer_local(&s.local);
    for (int i = 0; i < n; i++)
        parse_endpoint(c, args[i], &eps[i]);
    for (int i = 0; i < n - 1 && ret == 0; i++)
        ret = copy_one(&s, &eps[i], &eps[n - 1], n > 2, o, &st, err);
    if (ret == 0 && o->debug)
        fprintf(o->debug,
                "scp: %lu files copied (%llu bytes), %lu unchanged files skipped, %lu symlinks, "
                "%lu directories\n",
                st.copied, st.bytes, st.skipped, st.links, st.dirs);
    for (int i = 0; i < n; i++)
        endpoint_free(&eps[i]);
    free(eps);
    scp_close(&s);
    return ret;
}

static int run_scp(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"recursive", no_argument, NULL, 'r'},
                                         {"delta", no_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    struct xfer_opts o = {.debug = c->debug ? stderr : NULL};
    int ch;

    while ((ch = cli_getopt(&cmds_ssh[1], argc, argv, "rd", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        if (ch == 'r')
            o.recursive = true;
        else
            o.delta = true;
    }
    if (argc - optind < 2)
        return berr_set(err, 0, "scp: expected at least one source and a destination");
    return scp_all(c, argc - optind, argv + optind, &o, err);
}

/* ---- mount ---------------------------------------------------------------------------- */

/* Run ARGV and wait for it; its exit status, or -1 when it could not run. */
static int run_program(char *const *argv, berr_t *err)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return berr_set(err, errno, "fork");
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "berth: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return berr_set(err, errno, "wait for %s", argv[0]);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool on_path(const char *prog)
{
    _cleanup_free_ char *path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *save = NULL;
    for (char *dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *p = path_join(dir, prog);
        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

static int unmount(const char *mountpoint, berr_t *err)
{
    const char *prog = on_path("fusermount3") ? "fusermount3" : "fusermount";
    char *argv[] = {(char *)prog, "-u", (char *)mountpoint, NULL};
    int rc = run_program(argv, err);

    if (rc < 0)
        return -1;
    if (rc != 0)
        return berr_set(err, 0, "mount -u %s: %s exited with status %d", mountpoint, prog, rc);
    return 0;
}

/* OpenSSH's known_hosts line for the recorded host key, in the machine dir. */
static int write_known_hosts(struct berth_host *h, char **path, berr_t *err)
{
    _cleanup_free_ char *known = host_path(h, SSH_KNOWN_HOST_NAME);
    _cleanup_free_ char *key = NULL;
    _cleanup_free_ char *line = NULL;
    int port = h->m.ssh_port > 0 ? h->m.ssh_port : 22;

    if (read_file(known, &key, NULL, err) < 0)
        return -1;
    key[strcspn(key, "\n")] = '\0';
    if (port == 22)
        line = xasprintf("%s %s\n", h->m.ip_address, key);
    else
        line = xasprintf("[%s]:%d %s\n", h->m.ip_address, port, key);
    *path = host_path(h, "known_hosts");
    return write_file_atomic(*path, line, strlen(line), 0600, err);
}

static int sshfs(struct berth_host *h, const struct endpoint *e, const char *mountpoint,
                 const char *known, berr_t *err)
{
    _cleanup_free_ char *key = host_path(h, SSH_KEY_NAME);
    _cleanup_free_ char *o_key = xasprintf("IdentityFile=%s", key);
    _cleanup_free_ char *o_key2 =
        xasprintf("IdentityFile=%s", h->m.ssh_key_path ? h->m.ssh_key_path : key);
    _cleanup_free_ char *o_port = xasprintf("Port=%d", h->m.ssh_port > 0 ? h->m.ssh_port : 22);
    _cleanup_free_ char *o_known = xasprintf("UserKnownHostsFile=%s", known);
    const char *user = e->user ? e->user : h->m.ssh_user ? h->m.ssh_user : "root";
    _cleanup_free_ char *remote = xasprintf("%s@%s:%s", user, h->m.ip_address, e->path);
    char *argv[] = {"sshfs",
                    "-o",
                    o_key,
                    "-o",
                    o_key2,
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    o_port,
                    "-o",
                    o_known,
                    "-o",
                    "GlobalKnownHostsFile=/dev/null",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    "BatchMode=yes",
                    remote,
                    (char *)mountpoint,
                    NULL};

    if (!on_path("sshfs"))
        return berr_set(err, 0, "mount: sshfs is not installed (Debian: apt-get install sshfs)");
    int rc = run_program(argv, err);
    if (rc < 0)
        return -1;
    if (rc != 0)
        return berr_set(err, 0, "mount %s:%s on %s: sshfs exited with status %d", h->name, e->path,
                        mountpoint, rc);
    return 0;
}

static int mount_remote(struct cli *c, const char *spec, const char *mountpoint, berr_t *err)
{
    struct endpoint e;
    struct berth_host *h = NULL;
    struct ssh_conn *conn = NULL;
    _cleanup_free_ char *known = NULL;
    int ret = -1;

    parse_endpoint(c, spec, &e);
    struct machine_ssh_opts o = {.user = e.user};
    if (e.machine == NULL) {
        berr_set(err, 0, "mount: \"%s\" does not name a machine (MACHINE:PATH)", spec);
        goto out;
    }
    /* Connect once ourselves: the host key is checked (or recorded) with berth's rules. */
    if (host_load(&c->store, e.machine, &h, err) < 0 || machine_ssh_connect(h, &o, &conn, err) < 0)
        goto out;
    ssh_close(conn);
    if (write_known_hosts(h, &known, err) < 0 || sshfs(h, &e, mountpoint, known, err) < 0)
        goto out;
    ret = 0;
out:
    host_free(h);
    endpoint_free(&e);
    return ret;
}

static int run_mount(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"unmount", no_argument, NULL, 'u'}, {NULL, 0, NULL, 0}};
    bool un = false;
    int ch;

    while ((ch = cli_getopt(&cmds_ssh[2], argc, argv, "u", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        un = true;
    }
    int n = argc - optind;
    if (un && (n == 1 || n == 2))
        return unmount(argv[argc - 1], err);
    if (n != 2)
        return berr_set(err, 0, "mount: expected MACHINE:PATH MOUNTPOINT");
    return mount_remote(c, argv[optind], argv[optind + 1], err);
}

const struct cmd cmds_ssh[] = {
    {"ssh", "[OPTIONS] [USER@]NAME [COMMAND [ARG...]]",
     "run a command on a machine, or open a shell there",
     "      --accept-host-key  record the host key the machine presents now (after a\n"
     "                         deliberate change), instead of refusing a different one\n"
     "  -t, --tty              allocate a terminal for COMMAND too\n"
     "Options end at the machine name. One COMMAND argument is a command line for the\n"
     "remote shell ('ls | wc -l'); several are passed as they are, each quoted. Without\n"
     "COMMAND, and with a terminal, an interactive shell. The exit status is the remote\n"
     "command's, or 255 when berth could not run it.\n",
     run_ssh},
    {"scp", "[OPTIONS] [[USER@]NAME:]PATH... [[USER@]NAME:]PATH",
     "copy files between machines and this host (SFTP)",
     "  -r, --recursive   copy directories\n"
     "  -d, --delta       copy only files whose size or modification time differ\n"
     "Symlinks, permissions and modification times are kept. With -D (berth -D scp ...)\n"
     "each file is reported as copy, skip or link, with a summary at the end.\n",
     run_scp},
    {"mount", "[-u] NAME:PATH MOUNTPOINT", "mount a machine's directory here with sshfs",
     "  -u, --unmount   unmount MOUNTPOINT\n", run_mount},
    {NULL, NULL, NULL, NULL, NULL},
};
