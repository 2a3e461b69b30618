/* berth provision and upgrade: (re)install berthd on machines over SSH. */
#include <stdio.h>

#include "berth/util.h"
#include "core/cli/cli.h"
#include "core/lib/machine.h"

struct prov_args {
    enum provision_what what;
    bool accept_host_key;
};

static int one_provision(struct cli *c, const char *name, void *ud, berr_t *err)
{
    const struct prov_args *a = ud;
    struct berth_host *h = NULL;

    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    fprintf(stderr, "%s %s...\n", a->what == PROVISION_UPGRADE ? "Upgrading" : "Provisioning",
            name);
    int ret = machine_provision(h, a->what, a->accept_host_key, err);
    host_free(h);
    return ret;
}

static int run_prov(struct cli *c, const struct cmd *cmd, enum provision_what what, int argc,
                    char **argv, berr_t *err)
{
    static const struct option opts[] = {{"accept-host-key", no_argument, NULL, 'A'},
                                         {NULL, 0, NULL, 0}};
    struct prov_args a = {what, false};
    int ch;

    while ((ch = cli_getopt(cmd, argc, argv, "", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        a.accept_host_key = true;
    }
    return cli_each(c, argc, argv, optind, one_provision, &a, err);
}

static int run_provision(struct cli *c, int argc, char **argv, berr_t *err)
{
    return run_prov(c, &cmds_provision[0], PROVISION_ALL, argc, argv, err);
}

static int run_upgrade(struct cli *c, int argc, char **argv, berr_t *err)
{
    return run_prov(c, &cmds_provision[1], PROVISION_UPGRADE, argc, argv, err);
}

const struct cmd cmds_provision[] = {
    {"provision", "[OPTIONS] [NAME...]",
     "install berthd, its certificates and configuration on machines again",
     "      --accept-host-key   record the host key the machine presents now (after the\n"
     "                          host was reinstalled), instead of refusing a changed one\n",
     run_provision},
    {"upgrade", "[OPTIONS] [NAME...]",
     "replace berthd on machines and restart it; containers keep running",
     "      --accept-host-key   as for provision\n", run_upgrade},
    {NULL, NULL, NULL, NULL, NULL},
};
