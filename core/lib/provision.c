/* The provisioning flow over one SSH connection: detect, authorize the machine key,
 * upload, install, (re)start, wait for berthd, check it end to end over mutual TLS. */
#include "core/lib/provision.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/engine.h"
#include "core/lib/machine.h"
#include "core/lib/xfer.h"

#define CMD_TIMEOUT_MS 120000
#define ENGINE_WAIT_MS 30000
#define ENGINE_TRY_MS 2000
#define STATUS_EVERY_MS 1000

struct prov {
    struct berth_host *h;
    const struct provision_opts *o;
    struct ssh_conn *c;
    struct host_info hi;
    const char *sudo;  /* "" as root, "sudo -n " otherwise */
    char *stage;       /* remote upload directory */
    char *local_stage; /* machine dir/provision: what was written, kept for reference */
    struct xfer_fs local, remote;
    bool remote_open;
};

/* Set a step's failure: "machine NAME: CAUSE (step: STEP)". */
static int step_fail(struct prov *p, const char *step, berr_t *err)
{
    berr_prefix(err, "machine %s", p->h->name);
    return berr_append(err, " (step: %s)", step);
}

/* Run COMMAND as root (through sudo -n unless logged in as root). */
static int run_root(struct prov *p, const char *command, char **out, berr_t *err)
{
    _cleanup_free_ char *q = ssh_quote(command);
    _cleanup_free_ char *full = *p->sudo ? xasprintf("%ssh -c %s", p->sudo, q) : xstrdup(command);
    return ssh_run(p->c, full, CMD_TIMEOUT_MS, out, err);
}

static int detect(struct prov *p, berr_t *err)
{
    _cleanup_free_ char *out = NULL;
    struct utsname u;

    if (ssh_run(p->c, provision_probe_script(), CMD_TIMEOUT_MS, &out, err) < 0 ||
        provision_parse_probe(out, &p->hi, err) < 0)
        return step_fail(p, "detect the host", err);
    if (!p->hi.root && !p->hi.sudo) {
        berr_set(err, 0,
                 "%s: user %s is not root and cannot use sudo without a password "
                 "('sudo -n true' failed); log in as root or allow password-less sudo",
                 ssh_label(p->c), p->h->m.ssh_user ? p->h->m.ssh_user : "root");
        return step_fail(p, "detect the host", err);
    }
    uname(&u);
    if (strcmp(p->hi.arch, u.machine) != 0) {
        berr_set(err, 0, "the host is %s, but the berthd this berth carries is built for %s",
                 p->hi.arch, u.machine);
        return step_fail(p, "detect the host", err);
    }
    p->sudo = p->hi.root ? "" : "sudo -n ";
    return 0;
}

/* Put the machine's own key in the SSH user's authorized_keys (once). */
static int authorize_key(struct prov *p, berr_t *err)
{
    _cleanup_free_ char *key = host_path(p->h, SSH_KEY_NAME);
    _cleanup_free_ char *line = NULL;

    if (ssh_key_pub_line(key, &line, err) < 0)
        return step_fail(p, "install the machine's SSH key", err);
    char *blob = strchr(line, ' ') + 1;
    _cleanup_free_ char *blob_only = xasprintf("%.*s", (int)strcspn(blob, " "), blob);
    _cleanup_free_ char *qb = ssh_quote(blob_only);
    _cleanup_free_ char *ql = ssh_quote(line);
    _cleanup_free_ char *cmd =
        xasprintf("umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && "
                  "{ grep -qF %s ~/.ssh/authorized_keys || echo %s >>~/.ssh/authorized_keys; }",
                  qb, ql);
    if (ssh_run(p->c, cmd, CMD_TIMEOUT_MS, NULL, err) < 0)
        return step_fail(p, "install the machine's SSH key", err);
    return 0;
}

/* berthd for machines: $BERTH_BERTHD_BINARY, else <dir of berth>/../lib/berth/berthd-static. */
static int local_berthd(char **path, berr_t *err)
{
    const char *env = getenv("BERTH_BERTHD_BINARY");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env) {
        *path = xstrdup(env);
    } else {
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
            return berr_set(err, errno, "find berth's own path (/proc/self/exe)");
        exe[n] = '\0';
        *path = xasprintf("%s/../lib/berth/berthd-static", dirname(exe));
    }
    if (access(*path, R_OK) < 0)
        return berr_set(err, errno,
                        "the berthd to install on machines is missing: %s (build it with "
                        "'make', or name one with BERTH_BERTHD_BINARY)",
                        *path);
    return 0;
}

static int sha256_file(const char *path, char out[65], berr_t *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    ssize_t n;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (fd < 0 || ctx == NULL) {
        EVP_MD_CTX_free(ctx);
        return berr_set(err, errno, "read %s", path);
    }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (n < 0)
        return berr_set(err, errno, "read %s", path);
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    return 0;
}

/* Whether the host's berthd is byte for byte BIN. */
static bool same_berthd(struct prov *p, const char *bin)
{
    char local[65] = "";
    _cleanup_free_ char *remote = NULL;

    if (sha256_file(bin, local, NULL) < 0)
        return false;
    if (ssh_run(p->c, "sha256sum " PROVISION_BIN " 2>/dev/null || true", CMD_TIMEOUT_MS, &remote,
                NULL) < 0)
        return false;
    return strncmp(remote, local, 64) == 0;
}

static int open_stage(struct prov *p, berr_t *err)
{
    _cleanup_free_ char *out = NULL;

    if (ssh_run(p->c, "mktemp -d /tmp/berth-provision.XXXXXX", CMD_TIMEOUT_MS, &out, err) < 0)
        return step_fail(p, "upload files", err);
    out[strcspn(out, "\r\n")] = '\0';
    p->stage = xstrdup(out);
    if (xfer_remote(&p->remote, p->c, "", err) < 0)
        return step_fail(p, "upload files", err);
    p->remote_open = true;
    xfer_local(&p->local);
    p->local_stage = host_path(p->h, "provision");
    if (mkdir_p(p->local_stage, 0700, err) < 0)
        return step_fail(p, "upload files", err);
    return 0;
}

/* Copy local file SRC to NAME in the remote upload directory. */
static int upload(struct prov *p, const char *src, const char *name, berr_t *err)
{
    static const struct xfer_opts o = {0};
    struct xfer_stats st = {0};
    _cleanup_free_ char *dst = path_join(p->stage, name);

    if (xfer_copy(&p->local, src, &p->remote, dst, &o, &st, err) < 0)
        return berr_prefix(err, "%s: upload %s", ssh_label(p->c), name);
    return 0;
}

/* Write TEXT as NAME in the local record, then upload it. */
static int upload_text(struct prov *p, const char *name, const char *text, berr_t *err)
{
    _cleanup_free_ char *path = path_join(p->local_stage, name);
    if (write_file_atomic(path, text, strlen(text), 0600, err) < 0)
        return -1;
    return upload(p, path, name, err);
}

static int upload_berthd(struct prov *p, bool *sent, berr_t *err)
{
    _cleanup_free_ char *bin = NULL;
    struct stat st;

    *sent = false;
    if (local_berthd(&bin, err) < 0)
        return -1;
    if (p->o->what == PROVISION_ALL && same_berthd(p, bin))
        return 0;
    if (stat(bin, &st) == 0)
        fprintf(stderr, "Copying berthd (%.1f MB) to %s...\n", (double)st.st_size / 1e6,
                p->h->name);
    if (upload(p, bin, "berthd", err) < 0)
        return -1;
    *sent = true;
    return 0;
}

static int upload_certs(struct prov *p, berr_t *err)
{
    static const char *const files[] = {"ca.pem", "server.pem", "server-key.pem"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_free_ char *src = host_path(p->h, files[i]);
        if (upload(p, src, files[i], err) < 0)
            return -1;
    }
    return 0;
}

static int upload_config(struct prov *p, berr_t *err)
{
    _cleanup_free_ char *json = NULL;
    _cleanup_free_ char *service = NULL;

    if (provision_daemon_json(p->h->engine, &json, err) < 0 ||
        provision_service(p->hi.init, p->h->engine, p->h->m.engine_port, &service, err) < 0)
        return -1;
    if (upload_text(p, "daemon.json", json, err) < 0 || upload_text(p, "service", service, err) < 0)
        return -1;
    return 0;
}

/* The root script that moves the uploaded files into place and restarts berthd. Each file
 * is copied next to its destination, then renamed over it: a running berthd and its
 * containers keep the old inode. */
static char *install_script(struct prov *p, bool berthd, bool certs, bool config)
{
    _cleanup_free_ char *q = ssh_quote(p->stage);
    const char *svc = provision_service_path(p->hi.init);
    char *s = xasprintf("set -e\nS=%s\numask 022\n"
                        "mkdir -p /usr/local/bin " PROVISION_ETC " /var/lib/berth /run/berth "
                        "/var/log\n"
                        "put() { cp \"$S/$1\" \"$2.berth-new\"; chmod \"$3\" \"$2.berth-new\"; "
                        "mv -f \"$2.berth-new\" \"$2\"; }\n",
                        q);
    char *next;
    if (berthd) {
        next = xasprintf("%sput berthd " PROVISION_BIN " 0755\n", s);
        free(s);
        s = next;
    }
    if (certs) {
        next = xasprintf("%sput ca.pem " PROVISION_ETC "/ca.pem 0644\n"
                         "put server.pem " PROVISION_ETC "/server.pem 0644\n"
                         "(umask 077; put server-key.pem " PROVISION_ETC "/server-key.pem 0600)\n",
                         s);
        free(s);
        s = next;
    }
    if (config) {
        next = xasprintf("%sput daemon.json " PROVISION_ETC "/daemon.json 0644\n"
                         "mkdir -p \"$(dirname %s)\"\nput service %s %s\n",
                         s, svc, svc, p->hi.init == INIT_SYSTEMD ? "0644" : "0755");
        free(s);
        s = next;
    }
    next = xasprintf("%s%s\n", s, provision_restart_cmd(p->hi.init));
    free(s);
    return next;
}

/* berthd's last log lines on the host, indented, or a note why there are none. */
static char *log_tail(struct prov *p)
{
    char *out = NULL;
    berr_t e = NULL;

    if (run_root(p, provision_log_cmd(p->hi.init), &out, &e) < 0) {
        char *msg = xasprintf("    (could not read the log: %s)", berr_msg(e));
        berr_free(&e);
        return msg;
    }
    char *text = xstrdup("");
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *next = xasprintf("%s\n    %s", text, l);
        free(text);
        text = next;
    }
    free(out);
    if (*text == '\0') {
        free(text);
        return xstrdup("\n    (empty)");
    }
    return text;
}

/* The command that starts berthd, as a user would type it. */
static const char *start_command(enum init_system init)
{
    switch (init) {
    case INIT_SYSTEMD:
        return "systemctl restart berthd";
    case INIT_OPENRC:
        return "rc-service berthd restart";
    case INIT_SYSV:
        break;
    }
    return "/etc/init.d/berthd restart";
}

static const char *log_where(enum init_system init)
{
    return init == INIT_SYSTEMD ? "journalctl -u berthd" : PROVISION_LOG;
}

/* Replace *err with the full story: what was tried, what answered, berthd's log. */
static int start_fail(struct prov *p, const char *what, berr_t *err)
{
    _cleanup_free_ char *logs = log_tail(p);
    _cleanup_free_ char *cause = xstrdup(berr_msg(err ? *err : NULL));

    berr_set(err, 0,
             "machine %s: berthd did not start (step: start berthd): %s; tried '%s' as root "
             "(%s, %s); %s. Last lines of %s on the host:%s",
             p->h->name, what, start_command(p->hi.init), p->hi.pretty,
             provision_init_name(p->hi.init), cause, log_where(p->hi.init), logs);
    return -1;
}

static int install(struct prov *p, bool berthd, bool certs, bool config, berr_t *err)
{
    _cleanup_free_ char *script = install_script(p, berthd, certs, config);

    fprintf(stderr, "Starting berthd on %s...\n", p->h->name);
    if (run_root(p, script, NULL, err) < 0)
        return start_fail(p, "the install script failed", err);
    return 0;
}

static bool service_running(struct prov *p)
{
    return run_root(p, provision_status_cmd(p->hi.init), NULL, NULL) == 0;
}

/* Poll berthd over mutual TLS until it answers; stop early when the service died. */
static int wait_engine(struct prov *p, berr_t *err)
{
    _cleanup_free_ char *url = NULL;
    char *version = NULL;
    long long deadline = now_ms() + ENGINE_WAIT_MS, next_status = 0;

    if (p->h->dh->drv->get_url(&p->h->m, &url, err) < 0)
        return step_fail(p, "check the engine over mutual TLS", err);
    for (;;) {
        berr_free(err);
        if (engine_version(url, p->h->m.machine_dir, ENGINE_TRY_MS, &version, err) == 0)
            break;
        if (now_ms() >= next_status) {
            if (!service_running(p))
                return start_fail(p, "the service is not running", err);
            next_status = now_ms() + STATUS_EVERY_MS;
        }
        if (now_ms() >= deadline) {
            berr_prefix(err,
                        "berthd runs on the host, but GET /version over mutual TLS did not "
                        "succeed within %ds (is port %d reachable from here?)",
                        ENGINE_WAIT_MS / 1000, p->h->m.engine_port);
            return start_fail(p, "no answer over TCP", err);
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "berthd %s answers on %s over mutual TLS\n", version, url);
    free(version);
    return 0;
}

static void close_stage(struct prov *p)
{
    if (p->stage != NULL) {
        _cleanup_free_ char *q = ssh_quote(p->stage);
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", q);
        ssh_run(p->c, cmd, CMD_TIMEOUT_MS, NULL, NULL);
    }
    if (p->remote_open)
        xfer_release(&p->remote);
    free(p->stage);
    free(p->local_stage);
}

static int upload_all(struct prov *p, bool *berthd, berr_t *err)
{
    bool certs = p->o->what != PROVISION_UPGRADE, config = p->o->what == PROVISION_ALL;

    *berthd = false;
    if (open_stage(p, err) < 0)
        return -1;
    if ((p->o->what != PROVISION_CERTS && upload_berthd(p, berthd, err) < 0) ||
        (certs && upload_certs(p, err) < 0) || (config && upload_config(p, err) < 0))
        return step_fail(p, "upload files", err);
    return 0;
}

static int prov_connect(struct prov *p, berr_t *err)
{
    struct machine_ssh_opts so = {
        .wait = p->o->wait, .accept_host_key = p->o->accept_host_key, .step = "waiting for SSH"};
    if (p->o->wait)
        fprintf(stderr, "Waiting for SSH on %s:%d...\n", p->h->m.ip_address,
                p->h->m.ssh_port > 0 ? p->h->m.ssh_port : 22);
    return machine_ssh_connect(p->h, &so, &p->c, err);
}

int provision_run(struct berth_host *h, const struct provision_opts *o, berr_t *err)
{
    struct prov p = {.h = h, .o = o};
    bool berthd = false;
    int ret = -1;

    if (prov_connect(&p, err) < 0)
        return -1;
    if (detect(&p, err) < 0)
        goto out;
    fprintf(stderr, "Provisioning %s: %s, %s, as %s\n", h->name, p.hi.pretty,
            provision_init_name(p.hi.init), p.hi.root ? "root" : "a sudo user");
    if ((o->what == PROVISION_ALL && authorize_key(&p, err) < 0) ||
        upload_all(&p, &berthd, err) < 0)
        goto out;
    if (install(&p, berthd, o->what != PROVISION_UPGRADE, o->what == PROVISION_ALL, err) < 0 ||
        wait_engine(&p, err) < 0)
        goto out;
    ret = 0;
out:
    close_stage(&p);
    ssh_close(p.c);
    return ret;
}

/* ---- purge ---------------------------------------------------------------------------- */

/* Refuse while berthd still runs containers: they would be left without an engine. */
static int check_no_containers(struct prov *p, berr_t *err)
{
    _cleanup_free_ char *url = NULL;
    json_t *list = NULL;
    berr_t e = NULL;

    if (p->h->dh->drv->get_url(&p->h->m, &url, &e) < 0 ||
        engine_get(url, "/containers/json", p->h->m.machine_dir, ENGINE_TRY_MS, &list, &e) < 0) {
        berr_free(&e); /* no engine answering: nothing to protect */
        return 0;
    }
    size_t n = json_array_size(list);
    json_decref(list);
    if (n == 0)
        return 0;
    berr_set(err, 0,
             "%zu container%s still run%s on the host; stop or remove %s first (docker "
             "rm -f ...), then run rm --purge again",
             n, n == 1 ? "" : "s", n == 1 ? "s" : "", n == 1 ? "it" : "them");
    return step_fail(p, "purge", err);
}

static int unauthorize_key(struct prov *p, berr_t *err)
{
    _cleanup_free_ char *key = host_path(p->h, SSH_KEY_NAME);
    _cleanup_free_ char *line = NULL;

    if (ssh_key_pub_line(key, &line, NULL) < 0)
        return 0;
    char *blob = strchr(line, ' ') + 1;
    _cleanup_free_ char *blob_only = xasprintf("%.*s", (int)strcspn(blob, " "), blob);
    _cleanup_free_ char *qb = ssh_quote(blob_only);
    _cleanup_free_ char *cmd = xasprintf(
        "f=~/.ssh/authorized_keys; if [ -f \"$f\" ]; then grep -vF %s \"$f\" >\"$f.berth-tmp\" "
        "|| true; cat \"$f.berth-tmp\" >\"$f\"; rm -f \"$f.berth-tmp\"; fi",
        qb);
    if (ssh_run(p->c, cmd, CMD_TIMEOUT_MS, NULL, err) < 0)
        return step_fail(p, "purge", err);
    return 0;
}

int provision_purge(struct berth_host *h, berr_t *err)
{
    const struct provision_opts o = {PROVISION_ALL, false, false};
    struct prov p = {.h = h, .o = &o};
    _cleanup_free_ char *cmd = NULL;
    int ret = -1;

    if (prov_connect(&p, err) < 0)
        return -1;
    if (detect(&p, err) < 0 || check_no_containers(&p, err) < 0)
        goto out;
    cmd = xasprintf("%s; rm -f " PROVISION_BIN " " PROVISION_LOG "; rm -rf " PROVISION_ETC
                    " /run/berth",
                    provision_remove_cmd(p.hi.init));
    if (run_root(&p, cmd, NULL, err) < 0) {
        step_fail(&p, "purge", err);
        goto out;
    }
    if (unauthorize_key(&p, err) < 0)
        goto out;
    fprintf(stderr,
            "Removed berthd, its service and " PROVISION_ETC " from %s; kept "
            "/var/lib/berth (images and container data)\n",
            h->name);
    ret = 0;
out:
    ssh_close(p.c);
    return ret;
}
