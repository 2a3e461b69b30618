/* Lifecycle commands: start, stop, restart, kill, rm, regenerate-certs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/cli/cli.h"
#include "core/lib/machine.h"

static int one_action(struct cli *c, const char *name, void *ud, berr_t *err)
{
    static const char *const doing[] = {"Starting", "Stopping", "Restarting", "Killing"};
    enum machine_action a = *(enum machine_action *)ud;
    struct berth_host *h = NULL;

    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    fprintf(stderr, "%s \"%s\"...\n", doing[a], name);
    int ret = machine_action(h, a, err);
    host_free(h);
    return ret;
}

static int run_action(struct cli *c, const struct cmd *cmd, enum machine_action a, int argc,
                      char **argv, berr_t *err)
{
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    int ch;
    while ((ch = cli_getopt(cmd, argc, argv, "", none, err)) != -1) {
        if (ch == '?')
            return -1;
    }
    return cli_each(c, argc, argv, optind, one_action, &a, err);
}

static int run_start(struct cli *c, int argc, char **argv, berr_t *err)
{
    return run_action(c, &cmds_life[0], ACT_START, argc, argv, err);
}

static int run_stop(struct cli *c, int argc, char **argv, berr_t *err)
{
    return run_action(c, &cmds_life[1], ACT_STOP, argc, argv, err);
}

static int run_restart(struct cli *c, int argc, char **argv, berr_t *err)
{
    return run_action(c, &cmds_life[2], ACT_RESTART, argc, argv, err);
}

static int run_kill(struct cli *c, int argc, char **argv, berr_t *err)
{
    return run_action(c, &cmds_life[3], ACT_KILL, argc, argv, err);
}

struct rm_opts {
    bool force, yes, purge;
};

/* Ask on the terminal; anything but y/Y means no. */
static bool confirm(const char *name)
{
    char line[16];
    fprintf(stderr, "About to remove %s\nAre you sure? (y/n): ", name);
    if (fgets(line, sizeof(line), stdin) == NULL)
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

static int one_rm(struct cli *c, const char *name, void *ud, berr_t *err)
{
    const struct rm_opts *o = ud;
    if (!o->yes && !confirm(name))
        return berr_set(err, 0,
                        "rm %s: not confirmed; nothing removed (use -y to skip the "
                        "question)",
                        name);
    if (machine_remove(&c->store, name, o->force, o->purge, err) < 0)
        return -1;
    printf("Successfully removed %s\n", name);
    return 0;
}

static int run_rm(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                         {"yes", no_argument, NULL, 'y'},
                                         {"purge", no_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    struct rm_opts o = {false, false, false};
    int ch;
    while ((ch = cli_getopt(&cmds_life[4], argc, argv, "fy", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        if (ch == 'f')
            o.force = o.yes = true;
        else if (ch == 'p')
            o.purge = true;
        else
            o.yes = true;
    }
    if (optind >= argc)
        return berr_set(err, 0, "rm: name the machines to remove");
    return cli_each(c, argc, argv, optind, one_rm, &o, err);
}

struct regen_opts {
    bool force, client;
};

static int one_regen(struct cli *c, const char *name, void *ud, berr_t *err)
{
    const struct regen_opts *o = ud;
    struct berth_host *h = NULL;
    if (!o->force) {
        fprintf(stderr,
                "Regenerate TLS machine certs for %s? Connected clients must reconnect. "
                "(y/n): ",
                name);
        char line[16];
        if (fgets(line, sizeof(line), stdin) == NULL || (line[0] != 'y' && line[0] != 'Y'))
            return berr_set(err, 0, "regenerate-certs %s: not confirmed (use -f)", name);
    }
    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    fprintf(stderr, "Regenerating TLS certificates for %s\n", name);
    int ret = machine_regenerate_certs(h, o->client, err);
    host_free(h);
    return ret;
}

static int run_regen(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                         {"client-certs", no_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    struct regen_opts o = {false, false};
    int ch;
    while ((ch = cli_getopt(&cmds_life[5], argc, argv, "f", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        if (ch == 'f')
            o.force = true;
        else
            o.client = true;
    }
    return cli_each(c, argc, argv, optind, one_regen, &o, err);
}

const struct cmd cmds_life[] = {
    {"start", "[NAME...]", "start machines", NULL, run_start},
    {"stop", "[NAME...]", "stop machines cleanly", NULL, run_stop},
    {"restart", "[NAME...]", "restart machines", NULL, run_restart},
    {"kill", "[NAME...]", "stop machines at once", NULL, run_kill},
    {"rm", "[OPTIONS] NAME...", "remove machines",
     "  -f, --force   remove local files even when the driver fails (implies -y)\n"
     "  -y            do not ask for confirmation\n"
     "      --purge   also remove what berth installed on the host over SSH: berthd, its\n"
     "                service, /etc/berth, its log and the machine key in authorized_keys\n"
     "                (/var/lib/berth, images and container data, stays). Without it\n"
     "                a generic machine's host is left alone.\n",
     run_rm},
    {"regenerate-certs", "[OPTIONS] [NAME...]", "issue new TLS certificates for machines",
     "  -f, --force          do not ask for confirmation\n"
     "      --client-certs   also issue a new client certificate\n"
     "A provisioned machine gets its new server certificate installed and berthd restarted\n"
     "(containers keep running).\n",
     run_regen},
    {NULL, NULL, NULL, NULL, NULL},
};
