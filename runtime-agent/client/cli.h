/* What the client's commands share: the endpoint, JSON calls with docker's error messages,
 * and the command signature. Internal to runtime-agent/client/. */
#ifndef BERTHD_CLIENT_CLI_H
#define BERTHD_CLIENT_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "runtime-agent/client/http.h"

struct cli {
    struct cli_endpoint ep;
};

/* A command: ARGV[0] is its name; returns the exit status. */
typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

/* METHOD PATH with an optional JSON BODY; a JSON response lands in *OUT (when OUT is not NULL
 * and there is one). A status >= 400 sets "Error response from daemon: MESSAGE". Returns
 * the status, or -1. */
int cli_json(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out,
             berr_t *err);
/* Connect, send REQ and read the response headers into H; a status >= 400 becomes the
 * daemon's error (as cli_daemon_error). Returns the status, or -1. H needs cli_http_close
 * either way. */
int cli_open(struct cli *cli, const struct cli_req *req, struct cli_http *h, berr_t *err);
/* The daemon's error in H (status >= 400): reads the body, sets *err. Returns -1. */
int cli_daemon_error(struct cli_http *h, berr_t *err);
/* Print "Error response ..." (or any error) to stderr the way docker does, free it. */
void cli_print_err(berr_t *err);
/* Usage error for COMMAND: docker's "requires ..." message; returns 1. */
int cli_usage_error(const char *cmd, const char *usage, const char *what);

/* getopt_long over a command's ARGV (which starts at the command name). */
void cli_getopt_reset(void);

int cmd_version(struct cli *cli, int argc, char **argv);
int cmd_info(struct cli *cli, int argc, char **argv);
int cmd_images(struct cli *cli, int argc, char **argv);
int cmd_rmi(struct cli *cli, int argc, char **argv);
int cmd_tag(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);
int cmd_load(struct cli *cli, int argc, char **argv);
int cmd_save(struct cli *cli, int argc, char **argv);
int cmd_ps(struct cli *cli, int argc, char **argv);
int cmd_stop(struct cli *cli, int argc, char **argv);
int cmd_rm(struct cli *cli, int argc, char **argv);
int cmd_logs(struct cli *cli, int argc, char **argv);
int cmd_inspect(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_start(struct cli *cli, int argc, char **argv);
int cmd_exec(struct cli *cli, int argc, char **argv);

#endif
