/* berth: create and manage container hosts. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/cli/cli.h"

static const struct cmd *const tables[] = {cmds_create, cmds_query,     cmds_env,
                                           cmds_life,   cmds_provision, cmds_ssh};

static const struct cmd *find_cmd(const char *name)
{
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const struct cmd *c = tables[t]; c->name; c++) {
            if (strcmp(c->name, name) == 0)
                return c;
        }
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: berth [OPTIONS] COMMAND [ARGS...]\n\n"
               "Create and manage container hosts running berthd.\n\n"
               "Options:\n"
               "  -s, --storage-path DIR  where machines are kept "
               "(env BERTH_STORAGE_PATH, default ~/.berth)\n"
               "  -D, --debug             verbose output\n"
               "  -v, --version           print the version\n"
               "  -h, --help              this help\n\n"
               "Commands:\n");
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const struct cmd *c = tables[t]; c->name; c++)
            fprintf(f, "  %-18s %s\n", c->name, c->summary);
    }
    fprintf(f, "  %-18s %s\n\nRun 'berth help COMMAND' for a command's options.\n", "help",
            "show help for a command");
}

void cmd_help(const struct cmd *cmd)
{
    printf("Usage: berth %s %s\n\n%s\n", cmd->name, cmd->args, cmd->summary);
    if (cmd->options)
        printf("\nOptions:\n%s", cmd->options);
}

void cli_report(berr_t err)
{
    fprintf(stderr, "berth: %s\n", berr_msg(err));
}

int cli_getopt(const struct cmd *cmd, int argc, char **argv, const char *shortopts,
               const struct option *opts, berr_t *err)
{
    int idx = 0;
    opterr = 0;
    int ch = getopt_long(argc, argv, shortopts, opts, &idx);
    if (ch == '?') {
        if (optopt)
            return berr_set(err, 0, "%s: unknown option '-%c'; see 'berth help %s'", cmd->name,
                            optopt, cmd->name),
                   '?';
        return berr_set(err, 0, "%s: unknown or incomplete option '%s'; see 'berth help %s'",
                        cmd->name, argv[optind - 1], cmd->name),
               '?';
    }
    if (ch == ':')
        return berr_set(err, 0, "%s: option '%s' needs a value", cmd->name, argv[optind - 1]), '?';
    return ch;
}

void cli_names(int argc, char **argv, int first, char ***names, int *n)
{
    static char *def[] = {"default"};
    if (first >= argc) {
        *names = def;
        *n = 1;
    } else {
        *names = argv + first;
        *n = argc - first;
    }
}

int cli_each(struct cli *c, int argc, char **argv, int first,
             int (*fn)(struct cli *c, const char *name, void *ud, berr_t *err), void *ud,
             berr_t *err)
{
    char **names;
    int n, ret = 0;

    cli_names(argc, argv, first, &names, &n);
    for (int i = 0; i < n; i++) {
        berr_t e = NULL;
        if (fn(c, names[i], ud, &e) < 0) {
            if (ret < 0)
                cli_report(*err);
            berr_free(err);
            *err = e;
            ret = -1;
        }
    }
    return ret;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"storage-path", required_argument, NULL, 's'},
                                         {"debug", no_argument, NULL, 'D'},
                                         {"version", no_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli c = {.argc = argc, .argv = argv};
    berr_t err = NULL;
    int ch, ret;

    while ((ch = getopt_long(argc, argv, "+s:Dvh", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            c.storage_path = optarg;
            break;
        case 'D':
            c.debug = true;
            break;
        case 'v':
            printf("berth version %s, build %s\n", BERTH_VERSION, BERTH_GIT_COMMIT);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    int first = optind;
    const char *name = argv[first];
    if (strcmp(name, "help") == 0) {
        const struct cmd *cmd = first + 1 < argc ? find_cmd(argv[first + 1]) : NULL;
        if (first + 1 < argc && cmd == NULL) {
            fprintf(stderr, "berth: help: unknown command \"%s\"\n", argv[first + 1]);
            return 2;
        }
        if (cmd)
            cmd_help(cmd);
        else
            usage(stdout);
        return 0;
    }
    const struct cmd *cmd = find_cmd(name);
    if (cmd == NULL) {
        fprintf(stderr, "berth: unknown command \"%s\"; run 'berth help' for the list\n", name);
        return 2;
    }
    /* `ssh`'s options end at the machine name: what follows belongs to the remote command. */
    bool stop_at_name = strcmp(name, "ssh") == 0;
    for (int i = first + 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (stop_at_name && argv[i][0] != '-')
            break;
        if (strcmp(argv[i], "--help") == 0 && strcmp(name, "create") != 0) {
            cmd_help(cmd);
            return 0;
        }
    }
    /* Once, before any thread: curl_easy_init would do it lazily, and not thread-safely. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (store_open(&c.store, c.storage_path, &err) < 0) {
        cli_report(err);
        berr_free(&err);
        return 1;
    }
    optind = 0; /* reset getopt for the command's own options */
    ret = cmd->run(&c, argc - first, argv + first, &err);
    if (ret < 0)
        cli_report(err);
    berr_free(&err);
    store_close(&c.store);
    return ret < 0 ? 1 : ret;
}
