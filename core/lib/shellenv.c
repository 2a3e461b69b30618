#include "core/lib/shellenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"

struct shell_syntax {
    const char *name;
    const char *prefix, *delim, *suffix;             /* set */
    const char *uprefix, *udelim, *usuffix;          /* unset */
    const char *comment, *hint_fmt;                  /* usage hint; %s is the command line */
};

/* docker-machine's table; "bash" is the fallback for any other shell (zsh, sh, ...). */
static const struct shell_syntax shells[] = {
    {"fish", "set -gx ", " \"", "\";\n", "set -e ", "", ";\n", "#", "eval (%s)"},
    {"powershell", "$Env:", " = \"", "\"\n", "Remove-Item Env:\\\\", "", "\n", "#",
     "& %s | Invoke-Expression"},
    {"cmd", "SET ", "=", "\n", "SET ", "=", "\n", "REM",
     "\t@FOR /f \"tokens=*\" %%i IN ('%s') DO @%%i"},
    {"tcsh", "setenv ", " \"", "\";\n", "unsetenv ", "", ";\n", ":", "eval `%s`"},
    {"emacs", "(setenv \"", "\" \"", "\")\n", "(setenv \"", "\" nil", ")\n", ";;",
     "(with-temp-buffer (shell-command \"%s\" (current-buffer)) (eval-buffer))"},
    {"bash", "export ", "=\"", "\"\n", "unset ", "", "\n", "#", "eval $(%s)"},
};

int shellenv_detect(char **shell, berr_t *err)
{
    const char *s = getenv("SHELL");
    const char *base;

    if (s == NULL || *s == '\0')
        return berr_set(err, 0, "unknown shell: $SHELL is not set; pass --shell "
                        "bash|fish|powershell|cmd|tcsh|emacs");
    base = strrchr(s, '/');
    *shell = xstrdup(base ? base + 1 : s);
    return 0;
}

static const struct shell_syntax *lookup(const char *shell)
{
    size_t n = sizeof(shells) / sizeof(shells[0]);
    for (size_t i = 0; i + 1 < n; i++) {
        if (strcmp(shells[i].name, shell) == 0)
            return &shells[i];
    }
    return &shells[n - 1];
}

static void put_var(FILE *f, const struct shell_syntax *sy, bool unset, const char *name,
                    const char *value)
{
    if (unset)
        fprintf(f, "%s%s%s%s", sy->uprefix, name, sy->udelim, sy->usuffix);
    else
        fprintf(f, "%s%s%s%s%s", sy->prefix, name, sy->delim, value ? value : "", sy->suffix);
}

int shellenv_render(const char *shell, bool unset, const struct shell_env *e, const char *cmdline,
                    char **out, berr_t *err)
{
    const struct shell_syntax *sy = lookup(shell);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)err;
    put_var(f, sy, unset, "DOCKER_TLS_VERIFY", "1");
    put_var(f, sy, unset, "DOCKER_HOST", e->host);
    put_var(f, sy, unset, "DOCKER_CERT_PATH", e->cert_path);
    put_var(f, sy, unset, "DOCKER_MACHINE_NAME", e->machine_name);
    if (e->no_proxy_var != NULL)
        put_var(f, sy, false, e->no_proxy_var, e->no_proxy_value);
    fprintf(f, "%s Run this command to configure your shell: \n%s ", sy->comment, sy->comment);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    fprintf(f, sy->hint_fmt, cmdline);
#pragma GCC diagnostic pop
    fputc('\n', f);
    fclose(f);
    *out = buf;
    return 0;
}

char *shellenv_no_proxy_add(const char *list, const char *ip)
{
    size_t n = strlen(ip);

    if (list == NULL || *list == '\0')
        return xstrdup(ip);
    /* Compare whole entries: 10.0.0.5 is not in "10.0.0.50". */
    for (const char *p = list; p != NULL; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        while (*p == ' ')
            p++;
        if (strncmp(p, ip, n) == 0 && (p[n] == ',' || p[n] == '\0' || p[n] == ' '))
            return xstrdup(list);
    }
    return xasprintf("%s,%s", list, ip);
}
