/* `berth env` output for each shell, in docker-machine's exact format. */
#ifndef BERTH_SHELLENV_H
#define BERTH_SHELLENV_H

#include <stdbool.h>

#include "berth/error.h"

struct shell_env {
    const char *host;         /* DOCKER_HOST */
    const char *cert_path;    /* DOCKER_CERT_PATH */
    const char *machine_name; /* DOCKER_MACHINE_NAME */
    const char *no_proxy_var; /* NO_PROXY or no_proxy; NULL when --no-proxy is absent */
    const char *no_proxy_value;
};

/* The shell named by $SHELL (its base name), or an error when unset. */
int shellenv_detect(char **shell, berr_t *err);

/* Render the set (or, with UNSET, unset) commands for SHELL followed by the
 * usage hint built from CMDLINE (the command line that produced them). */
int shellenv_render(const char *shell, bool unset, const struct shell_env *e, const char *cmdline,
                    char **out, berr_t *err);

/* Add IP to a comma-separated NO_PROXY list unless it is there (malloc()ed). */
char *shellenv_no_proxy_add(const char *list, const char *ip);

#endif
