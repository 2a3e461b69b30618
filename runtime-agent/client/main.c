/* The client's entry: global options (docker's -H/--host, --tls, --tlsverify, --tlscacert,
 * --tlscert, --tlskey), the command table, and what every command shares: JSON calls and
 * docker's error lines ("Error response from daemon: MESSAGE", exit 1). */
#include "runtime-agent/client/client.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/client/cli.h"

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} commands[] = {
    {"run", cmd_run, "Create and run a new container from an image"},
    {"exec", cmd_exec, "Execute a command in a running container"},
    {"ps", cmd_ps, "List containers"},
    {"images", cmd_images, "List images"},
    {"logs", cmd_logs, "Fetch the logs of a container"},
    {"start", cmd_start, "Start one or more stopped containers"},
    {"stop", cmd_stop, "Stop one or more running containers"},
    {"rm", cmd_rm, "Remove one or more containers"},
    {"rmi", cmd_rmi, "Remove one or more images"},
    {"inspect", cmd_inspect, "Return low-level information on containers or images"},
    {"import", cmd_import, "Import the contents from a tarball to create a filesystem image"},
    {"load", cmd_load, "Load an image from a tar archive or STDIN"},
    {"save", cmd_save, "Save one or more images to a tar archive"},
    {"tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"version", cmd_version, "Show the client and daemon version information"},
    {"info", cmd_info, "Display system-wide information"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *const global_flags[] = {"-H",          "--host",    "--tls",   "--tlsverify",
                                           "--tlscacert", "--tlscert", "--tlskey"};

bool client_handles(const char *arg)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(arg, commands[i].name) == 0)
            return true;
    for (size_t i = 0; i < sizeof(global_flags) / sizeof(global_flags[0]); i++) {
        size_t n = strlen(global_flags[i]);
        if (strncmp(arg, global_flags[i], n) == 0 && (arg[n] == '\0' || arg[n] == '='))
            return true;
    }
    return strncmp(arg, "-H", 2) == 0;
}

void cli_getopt_reset(void)
{
    optind = 0; /* glibc: full re-initialisation */
    opterr = 1;
}

void cli_print_err(berr_t *err)
{
    /* A closed stdout (`berthd logs c | head`) ends the command quietly. */
    if (*err == NULL || (*err)->errnum != EPIPE)
        fprintf(stderr, "%s\n", berr_msg(*err));
    berr_free(err);
}

int cli_usage_error(const char *cmd, const char *usage, const char *what)
{
    fprintf(stderr, "\"berthd %s\" requires %s.\nSee 'berthd %s --help'.\n\nUsage:  berthd %s %s\n",
            cmd, what, cmd, cmd, usage);
    return 1;
}

int cli_daemon_error(struct cli_http *h, berr_t *err)
{
    berr_t rerr = NULL;

    if (!h->done && cli_http_body(h, &rerr) < 0) {
        berr_free(&rerr);
        return berr_set(err, 0, "Error response from daemon: HTTP status %d", h->status);
    }
    json_t *j = h->body ? json_loads(h->body, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (msg != NULL) {
        berr_set(err, 0, "Error response from daemon: %s", msg);
    } else {
        size_t n = h->body ? strcspn(h->body, "\n") : 0;
        if (n > 0)
            berr_set(err, 0, "Error response from daemon: %.*s", (int)n, h->body);
        else
            berr_set(err, 0, "Error response from daemon: HTTP status %d", h->status);
    }
    json_decref(j);
    return -1;
}

int cli_open(struct cli *cli, const struct cli_req *req, struct cli_http *h, berr_t *err)
{
    if (cli_http_send(&cli->ep, h, req, err) < 0 || cli_http_headers(h, err) < 0)
        return -1;
    if (h->status >= 400)
        return cli_daemon_error(h, err);
    return h->status;
}

int cli_json(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out,
             berr_t *err)
{
    struct cli_http h;
    _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct cli_req req = {
        method, path, text ? "application/json" : NULL, text, text ? strlen(text) : 0, -1, false};
    int rc = -1;

    if (out != NULL)
        *out = NULL;
    if (cli_open(cli, &req, &h, err) < 0 || cli_http_body(&h, err) < 0)
        goto out;
    if (out != NULL && h.body_len > 0) {
        json_error_t je;
        *out = json_loads(h.body, JSON_DECODE_ANY, &je);
        if (*out == NULL) {
            berr_set(err, 0, "%s %s: the daemon's answer is not JSON: %s", method, path, je.text);
            goto out;
        }
    }
    rc = h.status;
out:
    cli_http_close(&h);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "\nUsage:  berthd [OPTIONS] COMMAND\n\n"
                 "A docker-compatible client of berthd (and of any Docker Engine API)\n\n"
                 "Options:\n"
                 "  -H, --host string      Daemon socket to connect to (DOCKER_HOST, default "
                 "unix:///run/berth/berthd.sock)\n"
                 "      --tls              Use TLS; implied by --tlsverify\n"
                 "      --tlscacert string Trust certs signed only by this CA "
                 "(DOCKER_CERT_PATH/ca.pem)\n"
                 "      --tlscert string   Path to TLS certificate file\n"
                 "      --tlskey string    Path to TLS key file\n"
                 "      --tlsverify        Use TLS and verify the remote (DOCKER_TLS_VERIFY)\n\n"
                 "Commands:\n"
                 "  daemon      Run the engine (berthd daemon --help)\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
}

int client_main(int argc, char **argv)
{
    enum { O_TLS = 256, O_TLSVERIFY, O_CACERT, O_CERT, O_KEY };
    static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
                                         {"tls", no_argument, NULL, O_TLS},
                                         {"tlsverify", no_argument, NULL, O_TLSVERIFY},
                                         {"tlscacert", required_argument, NULL, O_CACERT},
                                         {"tlscert", required_argument, NULL, O_CERT},
                                         {"tlskey", required_argument, NULL, O_KEY},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_tls_flags f = {0};
    struct cli cli = {0};
    berr_t err = NULL;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+H:h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            f.host = optarg;
            break;
        case O_TLS:
            f.tls = true;
            break;
        case O_TLSVERIFY:
            f.tlsverify = true;
            break;
        case O_CACERT:
            f.cacert = optarg;
            break;
        case O_CERT:
            f.cert = optarg;
            break;
        case O_KEY:
            f.key = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 125;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 1;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        if (cli_endpoint_init(&cli.ep, &f, &err) < 0) {
            cli_endpoint_free(&cli.ep);
            cli_print_err(&err);
            return 1;
        }
        signal(SIGPIPE, SIG_IGN);
        int rc = commands[i].fn(&cli, argc - optind, argv + optind);
        fflush(stdout);
        cli_endpoint_free(&cli.ep);
        return rc;
    }
    fprintf(stderr, "berthd: '%s' is not a berthd command.\nSee 'berthd --help'\n", name);
    return 1;
}
