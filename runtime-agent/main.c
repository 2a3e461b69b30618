/* berthd: the berth container engine, speaking the Docker Engine API.
 * This file is the entry: subcommands, startup, signals and shutdown. */
#include <errno.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/client/client.h"
#include "runtime-agent/config.h"
#include "runtime-agent/daemon.h"
#include "runtime-agent/http/server.h"
#include "runtime-agent/http/tls.h"
#include "runtime-agent/log.h"
#include "runtime-agent/pidfile.h"
#include "runtime-agent/runtime/runtime.h"

/* Everything a running daemon holds, released in one place. */
struct runtime {
    struct daemon_config cfg;
    struct daemon daemon;
    bool daemon_ready;
    bool pidfile_written;
    SSL_CTX *tls;
    struct router *router;
    struct http_service svc;
    struct http_server *server;
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: berthd COMMAND\n"
                 "\n"
                 "Commands:\n"
                 "  daemon     run the engine (berthd daemon --help for its options)\n"
                 "  --version  print berthd's version\n"
                 "\n"
                 "Client commands (docker's flags and output; DOCKER_HOST, DOCKER_TLS_VERIFY,\n"
                 "DOCKER_CERT_PATH or -H/--host, --tlsverify ...):\n"
                 "  run exec ps images logs start stop rm rmi inspect import load save tag\n"
                 "  version info          (berthd --help-client for details)\n");
}

static void print_version(void)
{
    printf("berthd version %s, build %s\n", BERTH_VERSION, BERTH_GIT_COMMIT);
}

/* Warn loudly about a tcp address clients reach without a verified certificate. */
static void warn_insecure(struct runtime *rt, const char *host)
{
    const char *how = rt->cfg.tls ? "without client certificate verification"
                                  : "without encryption or authentication";

    log_warn("!!! INSECURE: API on %s is reachable %s.", host, how);
    log_warn("!!! Anyone who can connect to it controls this host as root.");
    log_warn("!!! Use --tlsverify with --tlscacert/--tlscert/--tlskey instead.");
    daemon_add_warning(&rt->daemon,
                       "WARNING: API is accessible on %s %s. Access to the remote API is "
                       "equivalent to root access on the host.",
                       host, how);
}

/* Bind every -H address; TLS (when configured) applies to the tcp ones. */
static int listen_all(struct runtime *rt, berr_t *err)
{
    for (size_t i = 0; i < rt->cfg.n_hosts; i++) {
        const char *host = rt->cfg.hosts[i];
        bool tcp = config_host_is_tcp(host);
        if (tcp && rt->tls == NULL && rt->cfg.tls) {
            rt->tls = tls_server_ctx(rt->cfg.tlscert, rt->cfg.tlskey, rt->cfg.tlscacert,
                                     rt->cfg.tlsverify, err);
            if (rt->tls == NULL)
                return -1;
        }
        if (tcp && !rt->cfg.tlsverify)
            warn_insecure(rt, host);
        if (http_server_listen(rt->server, host, rt->tls, err) < 0)
            return -1;
    }
    return 0;
}

static int start(struct runtime *rt, berr_t *err)
{
    struct net_options net = {.bridge = rt->cfg.bridge,
                              .bip = rt->cfg.bip,
                              .fixed_cidr = rt->cfg.fixed_cidr,
                              .icc = rt->cfg.icc,
                              .ip_masq = rt->cfg.ip_masq,
                              .mtu = rt->cfg.mtu};
    if (daemon_init(&rt->daemon, rt->cfg.data_root, rt->cfg.exec_root, rt->cfg.cgroup_parent, &net,
                    rt->cfg.userns_remap, err) < 0)
        return -1;
    rt->daemon_ready = true;
    rt->daemon.debug = rt->cfg.log_level == LOG_LEVEL_DEBUG;
    if (pidfile_write(rt->cfg.pidfile, err) < 0)
        return -1;
    rt->pidfile_written = true;
    rt->router = api_router_new();
    rt->svc = (struct http_service){rt->router, api_common_headers(), &rt->daemon};
    rt->server = http_server_new(&rt->svc);
    if (listen_all(rt, err) < 0)
        return -1;
    return http_server_start(rt->server, err);
}

static void stop(struct runtime *rt)
{
    berr_t err = NULL;

    /* First wake the handlers blocked on the daemon's state (docker wait, an attach waiting
     * for the start, a stop's grace period), then end every connection: what handlers use
     * may only be freed once no connection thread is left. */
    if (rt->daemon_ready)
        daemon_shutdown(&rt->daemon);
    if (rt->server != NULL && http_server_stop(rt->server, &err) < 0) {
        /* Freeing under the busy threads, or returning from main while they run, could
         * crash: leave at once, cleaning up nothing. The containers keep running. */
        log_error("%s: exiting without cleaning up", berr_msg(err));
        if (rt->pidfile_written)
            pidfile_remove(rt->cfg.pidfile);
        _exit(1);
    }
    http_server_free(rt->server);
    router_free(rt->router);
    SSL_CTX_free(rt->tls);
    if (rt->pidfile_written)
        pidfile_remove(rt->cfg.pidfile);
    if (rt->daemon_ready)
        daemon_free(&rt->daemon);
    config_free(&rt->cfg);
}

/* Wait for SIGTERM or SIGINT (blocked in every thread, taken here). */
static void wait_for_stop(const sigset_t *set)
{
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
        log_info("ignoring %s: configuration reload is not supported", strsignal(sig));
    }
}

static int load_config(struct daemon_config *cfg, int argc, char **argv, berr_t *err)
{
    if (config_parse_args(cfg, argc, argv, err) < 0)
        return -1;
    if (cfg->help)
        return 0;
    log_set_level((enum log_level)cfg->log_level);
    if (config_load_file(cfg, err) < 0 || config_finish(cfg, err) < 0)
        return -1;
    log_set_level((enum log_level)cfg->log_level);
    return 0;
}

static int run_daemon(int argc, char **argv)
{
    struct runtime rt = {0};
    berr_t err = NULL;
    sigset_t set;
    int rc = 1;

    if (load_config(&rt.cfg, argc, argv, &err) < 0) {
        fprintf(stderr, "berthd: %s\n", berr_msg(err));
        goto out;
    }
    if (rt.cfg.help) {
        fputs(config_usage(), stdout);
        config_free(&rt.cfg);
        return 0;
    }
    /* Block the stop signals before any thread exists, so they all inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (start(&rt, &err) < 0) {
        log_error("cannot start: %s", berr_msg(err));
        goto out;
    }
    log_info("berthd %s (%s) started, data root %s", BERTH_VERSION, BERTH_GIT_COMMIT,
             rt.cfg.data_root);
    wait_for_stop(&set);
    stop(&rt);
    log_info("berthd stopped");
    return 0;
out:
    stop(&rt);
    berr_free(&err);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* Internal: the container supervisor and the exec helper re-execute berthd itself. */
    if (strcmp(cmd, "shim") == 0)
        return shim_main(argc - 1, argv + 1);
    if (strcmp(cmd, "nsexec") == 0)
        return nsexec_main(argc - 1, argv + 1);
    if (strcmp(cmd, "daemon") == 0)
        return run_daemon(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-v") == 0) {
        print_version();
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    /* The docker-compatible client: `berthd ps`, `berthd -H tcp://... run ...`. */
    if (strcmp(cmd, "--help-client") == 0) {
        char *help[] = {argv[0], "--help", NULL};
        return client_main(2, help);
    }
    if (client_handles(cmd))
        return client_main(argc, argv);
    fprintf(stderr, "berthd: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
