/* berth env and berth config: how a docker client reaches a machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/cli/cli.h"
#include "core/lib/machine.h"
#include "core/lib/shellenv.h"

/* The whole command line as typed, for the usage hint (docker-machine's way). */
static char *command_line(const struct cli *c)
{
    size_t len = 1;
    for (int i = 0; i < c->argc; i++)
        len += strlen(c->argv[i]) + 3;
    char *s = xcalloc(1, len);
    for (int i = 0; i < c->argc; i++) {
        const char *a = c->argv[i];
        if (i > 0)
            strcat(s, " ");
        if (i == 0 && strchr(a, ' ')) {
            strcat(s, "\"");
            strcat(s, a);
            strcat(s, "\"");
        } else {
            strcat(s, a);
        }
    }
    return s;
}

/* Load NAME, make sure it runs, refresh its address and certificate, and get its URL. */
static int connection(struct cli *c, const char *name, struct berth_host **h, char **url,
                      berr_t *err)
{
    if (host_load(&c->store, name, h, err) < 0)
        return -1;
    if (machine_url(*h, url, err) < 0 || machine_refresh_address(*h, err) < 0)
        return -1;
    return 0;
}

static int run_env(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"shell", required_argument, NULL, 's'},
                                         {"unset", no_argument, NULL, 'u'},
                                         {"no-proxy", no_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    _cleanup_free_ char *shell = NULL;
    _cleanup_free_ char *url = NULL;
    _cleanup_free_ char *cmdline = NULL;
    _cleanup_free_ char *out = NULL;
    _cleanup_free_ char *no_proxy = NULL;
    struct berth_host *h = NULL;
    struct shell_env e = {0};
    bool unset = false, want_no_proxy = false;
    int ch, ret = -1;

    while ((ch = cli_getopt(&cmds_env[0], argc, argv, "u", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        if (ch == 's')
            shell = xstrdup(optarg);
        else if (ch == 'u')
            unset = true;
        else
            want_no_proxy = true;
    }
    if (unset && optind < argc)
        return berr_set(err, 0, "env: expected no machine name with -u/--unset");
    if (!unset && argc - optind > 1)
        return berr_set(err, 0, "env: expected one machine name");
    if (shell == NULL && shellenv_detect(&shell, err) < 0)
        return berr_prefix(err, "env");
    if (!unset) {
        const char *name = optind < argc ? argv[optind] : "default";
        if (connection(c, name, &h, &url, err) < 0)
            goto out;
        e.host = url;
        e.cert_path = h->m.machine_dir;
        e.machine_name = h->name;
        if (want_no_proxy && h->m.ip_address != NULL) {
            const char *lower = getenv("no_proxy");
            e.no_proxy_var = lower && *lower ? "no_proxy" : "NO_PROXY";
            no_proxy = shellenv_no_proxy_add(getenv(e.no_proxy_var), h->m.ip_address);
            e.no_proxy_value = no_proxy;
        }
    }
    cmdline = command_line(c);
    if (shellenv_render(shell, unset, &e, cmdline, &out, err) == 0) {
        fputs(out, stdout);
        ret = 0;
    }
out:
    host_free(h);
    return ret;
}

static int run_config(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    _cleanup_free_ char *url = NULL;
    struct berth_host *h = NULL;
    int ch;

    while ((ch = cli_getopt(&cmds_env[1], argc, argv, "", none, err)) != -1) {
        if (ch == '?')
            return -1;
    }
    if (argc - optind > 1)
        return berr_set(err, 0, "config: expected one machine name");
    if (connection(c, optind < argc ? argv[optind] : "default", &h, &url, err) < 0) {
        host_free(h);
        return -1;
    }
    const char *certs = c->store.certs_dir;
    printf("--tlsverify --tlscacert=\"%s/ca.pem\" --tlscert=\"%s/cert.pem\" "
           "--tlskey=\"%s/key.pem\" -H=%s\n",
           certs, certs, certs, url);
    host_free(h);
    return 0;
}

const struct cmd cmds_env[] = {
    {"env", "[OPTIONS] [NAME]", "print the commands that point a docker client at a machine",
     "      --shell SHELL   bash, zsh, sh, fish, powershell, cmd, tcsh or emacs "
     "(default: from $SHELL)\n"
     "  -u, --unset         print the commands that unset the variables instead\n"
     "      --no-proxy      add the machine's IP to NO_PROXY\n",
     run_env},
    {"config", "[NAME]", "print the docker client flags that reach a machine", NULL, run_config},
    {NULL, NULL, NULL, NULL, NULL},
};
