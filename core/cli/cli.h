/* The berth command line: a table of commands, each a function over the
 * already-opened store. Commands print their result on stdout; failures
 * come back as a berr_t and main() prints "berth: MESSAGE" and exits 1. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "core/lib/store.h"

struct cli {
    struct berth_store store;
    const char *storage_path; /* -s, or NULL */
    bool debug;
    int argc; /* the whole command line, for usage hints */
    char **argv;
};

struct cmd {
    const char *name;
    const char *args;    /* "[OPTIONS] [NAME...]" */
    const char *summary; /* one line */
    const char *options; /* option help, one per line, or NULL */
    /* 0 on success, -1 with *err set; `ssh` returns the remote exit status instead. */
    int (*run)(struct cli *c, int argc, char **argv, berr_t *err);
};

extern const struct cmd cmds_create[], cmds_query[], cmds_env[], cmds_life[], cmds_ssh[],
    cmds_provision[];

/* `berth ls`, kept in its own file (cmd_ls.c) for its size. */
int cmd_ls(struct cli *c, int argc, char **argv, berr_t *err);
extern const char cmd_ls_options[];

/* Print a command's help to stdout. */
void cmd_help(const struct cmd *cmd);

/* Parse ARGC/ARGV (argv[0] is the command name) with OPTS; unknown options
 * are errors naming the command. Returns the next option, -1 at the end. */
int cli_getopt(const struct cmd *cmd, int argc, char **argv, const char *shortopts,
               const struct option *opts, berr_t *err);

/* Names from ARGV[FIRST..]; with none, the single name "default". */
void cli_names(int argc, char **argv, int first, char ***names, int *n);

/* Load each named machine and run FN on it; every failure is printed, the last returned. */
int cli_each(struct cli *c, int argc, char **argv, int first,
             int (*fn)(struct cli *c, const char *name, void *ud, berr_t *err), void *ud,
             berr_t *err);

/* Print an error line "berth: MSG" to stderr. */
void cli_report(berr_t err);

#endif
