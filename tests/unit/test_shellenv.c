/* Unit tests for core/lib/shellenv.c: `berth env` output, byte for byte in
 * docker-machine's format, for every shell. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/lib/shellenv.h"

struct fixture {
    char dir[64];
    char *saved_shell;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    const char *shell = getenv("SHELL");

    strcpy(f->dir, "/tmp/berth-test-shellenv-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->saved_shell = shell ? xstrdup(shell) : NULL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->dir, &err);

    if (f->saved_shell) {
        setenv("SHELL", f->saved_shell, 1);
        free(f->saved_shell);
    } else {
        unsetenv("SHELL");
    }
    berr_free(&err);
    free(f);
    return r;
}

#define HOST "tcp://10.0.0.5:2376"
#define CERTS "/home/u/.berth/machines/m1"
#define NAME "m1"
#define NOPROXY "localhost,10.0.0.5"
#define CMD "berth env m1"
#define UCMD "berth env -u"

static const struct shell_env ENV = {HOST, CERTS, NAME, NULL, NULL};
static const struct shell_env ENV_NP = {HOST, CERTS, NAME, "NO_PROXY", NOPROXY};
static const struct shell_env ENV_NP_LOWER = {HOST, CERTS, NAME, "no_proxy", NOPROXY};
static const struct shell_env ENV_EMPTY = {NULL, NULL, NULL, NULL, NULL};

/* Render and compare with WANT, showing both on a mismatch. */
static void check(const char *shell, bool unset, const struct shell_env *e, const char *cmdline,
                  const char *want)
{
    berr_t err = NULL;
    char *out = NULL;

    if (shellenv_render(shell, unset, e, cmdline, &out, &err) < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", berr_msg(err));
        berr_free(&err);
        fail_msg("shell %s: unexpected error: %s", shell, msg);
    }
    assert_null(err);
    assert_non_null(out);
    if (strcmp(out, want) != 0) {
        char got[2048];
        snprintf(got, sizeof(got), "%s", out);
        free(out);
        fail_msg("shell %s%s:\n--- got ---\n%s--- want ---\n%s", shell, unset ? " (unset)" : "",
                 got, want);
    }
    free(out);
}

/* ---- bash (and every shell without its own syntax) ---- */

static const char BASH_SET[] = "export DOCKER_TLS_VERIFY=\"1\"\n"
                               "export DOCKER_HOST=\"" HOST "\"\n"
                               "export DOCKER_CERT_PATH=\"" CERTS "\"\n"
                               "export DOCKER_MACHINE_NAME=\"" NAME "\"\n"
                               "# Run this command to configure your shell: \n"
                               "# eval $(" CMD ")\n";

static const char BASH_SET_NP[] = "export DOCKER_TLS_VERIFY=\"1\"\n"
                                  "export DOCKER_HOST=\"" HOST "\"\n"
                                  "export DOCKER_CERT_PATH=\"" CERTS "\"\n"
                                  "export DOCKER_MACHINE_NAME=\"" NAME "\"\n"
                                  "export NO_PROXY=\"" NOPROXY "\"\n"
                                  "# Run this command to configure your shell: \n"
                                  "# eval $(" CMD ")\n";

static const char BASH_UNSET[] = "unset DOCKER_TLS_VERIFY\n"
                                 "unset DOCKER_HOST\n"
                                 "unset DOCKER_CERT_PATH\n"
                                 "unset DOCKER_MACHINE_NAME\n"
                                 "# Run this command to configure your shell: \n"
                                 "# eval $(" UCMD ")\n";

static void test_bash(void **state)
{
    (void)state;
    check("bash", false, &ENV, CMD, BASH_SET);
    check("bash", false, &ENV_NP, CMD, BASH_SET_NP);
    check("bash", true, &ENV_EMPTY, UCMD, BASH_UNSET);
}

static void test_bash_lowercase_no_proxy(void **state)
{
    (void)state;
    check("bash", false, &ENV_NP_LOWER, CMD,
          "export DOCKER_TLS_VERIFY=\"1\"\n"
          "export DOCKER_HOST=\"" HOST "\"\n"
          "export DOCKER_CERT_PATH=\"" CERTS "\"\n"
          "export DOCKER_MACHINE_NAME=\"" NAME "\"\n"
          "export no_proxy=\"" NOPROXY "\"\n"
          "# Run this command to configure your shell: \n"
          "# eval $(" CMD ")\n");
}

static void test_zsh_and_others_use_bash_form(void **state)
{
    (void)state;
    check("zsh", false, &ENV, CMD, BASH_SET);
    check("zsh", false, &ENV_NP, CMD, BASH_SET_NP);
    check("zsh", true, &ENV_EMPTY, UCMD, BASH_UNSET);
    check("sh", false, &ENV, CMD, BASH_SET);
    check("ksh", true, &ENV_EMPTY, UCMD, BASH_UNSET);
}

/* ---- fish ---- */

static void test_fish(void **state)
{
    (void)state;
    check("fish", false, &ENV, CMD,
          "set -gx DOCKER_TLS_VERIFY \"1\";\n"
          "set -gx DOCKER_HOST \"" HOST "\";\n"
          "set -gx DOCKER_CERT_PATH \"" CERTS "\";\n"
          "set -gx DOCKER_MACHINE_NAME \"" NAME "\";\n"
          "# Run this command to configure your shell: \n"
          "# eval (" CMD ")\n");
    check("fish", false, &ENV_NP, CMD,
          "set -gx DOCKER_TLS_VERIFY \"1\";\n"
          "set -gx DOCKER_HOST \"" HOST "\";\n"
          "set -gx DOCKER_CERT_PATH \"" CERTS "\";\n"
          "set -gx DOCKER_MACHINE_NAME \"" NAME "\";\n"
          "set -gx NO_PROXY \"" NOPROXY "\";\n"
          "# Run this command to configure your shell: \n"
          "# eval (" CMD ")\n");
    check("fish", true, &ENV_EMPTY, UCMD,
          "set -e DOCKER_TLS_VERIFY;\n"
          "set -e DOCKER_HOST;\n"
          "set -e DOCKER_CERT_PATH;\n"
          "set -e DOCKER_MACHINE_NAME;\n"
          "# Run this command to configure your shell: \n"
          "# eval (" UCMD ")\n");
}

/* ---- powershell ---- */

static void test_powershell(void **state)
{
    (void)state;
    check("powershell", false, &ENV, CMD,
          "$Env:DOCKER_TLS_VERIFY = \"1\"\n"
          "$Env:DOCKER_HOST = \"" HOST "\"\n"
          "$Env:DOCKER_CERT_PATH = \"" CERTS "\"\n"
          "$Env:DOCKER_MACHINE_NAME = \"" NAME "\"\n"
          "# Run this command to configure your shell: \n"
          "# & " CMD " | Invoke-Expression\n");
    check("powershell", false, &ENV_NP, CMD,
          "$Env:DOCKER_TLS_VERIFY = \"1\"\n"
          "$Env:DOCKER_HOST = \"" HOST "\"\n"
          "$Env:DOCKER_CERT_PATH = \"" CERTS "\"\n"
          "$Env:DOCKER_MACHINE_NAME = \"" NAME "\"\n"
          "$Env:NO_PROXY = \"" NOPROXY "\"\n"
          "# Run this command to configure your shell: \n"
          "# & " CMD " | Invoke-Expression\n");
    /* docker-machine prints two literal backslashes here. */
    check("powershell", true, &ENV_EMPTY, UCMD,
          "Remove-Item Env:\\\\DOCKER_TLS_VERIFY\n"
          "Remove-Item Env:\\\\DOCKER_HOST\n"
          "Remove-Item Env:\\\\DOCKER_CERT_PATH\n"
          "Remove-Item Env:\\\\DOCKER_MACHINE_NAME\n"
          "# Run this command to configure your shell: \n"
          "# & " UCMD " | Invoke-Expression\n");
}

/* ---- cmd ---- */

static void test_cmd(void **state)
{
    (void)state;
    check("cmd", false, &ENV, CMD,
          "SET DOCKER_TLS_VERIFY=1\n"
          "SET DOCKER_HOST=" HOST "\n"
          "SET DOCKER_CERT_PATH=" CERTS "\n"
          "SET DOCKER_MACHINE_NAME=" NAME "\n"
          "REM Run this command to configure your shell: \n"
          "REM \t@FOR /f \"tokens=*\" %i IN ('" CMD "') DO @%i\n");
    check("cmd", false, &ENV_NP, CMD,
          "SET DOCKER_TLS_VERIFY=1\n"
          "SET DOCKER_HOST=" HOST "\n"
          "SET DOCKER_CERT_PATH=" CERTS "\n"
          "SET DOCKER_MACHINE_NAME=" NAME "\n"
          "SET NO_PROXY=" NOPROXY "\n"
          "REM Run this command to configure your shell: \n"
          "REM \t@FOR /f \"tokens=*\" %i IN ('" CMD "') DO @%i\n");
    check("cmd", true, &ENV_EMPTY, UCMD,
          "SET DOCKER_TLS_VERIFY=\n"
          "SET DOCKER_HOST=\n"
          "SET DOCKER_CERT_PATH=\n"
          "SET DOCKER_MACHINE_NAME=\n"
          "REM Run this command to configure your shell: \n"
          "REM \t@FOR /f \"tokens=*\" %i IN ('" UCMD "') DO @%i\n");
}

/* ---- tcsh ---- */

static void test_tcsh(void **state)
{
    (void)state;
    check("tcsh", false, &ENV, CMD,
          "setenv DOCKER_TLS_VERIFY \"1\";\n"
          "setenv DOCKER_HOST \"" HOST "\";\n"
          "setenv DOCKER_CERT_PATH \"" CERTS "\";\n"
          "setenv DOCKER_MACHINE_NAME \"" NAME "\";\n"
          ": Run this command to configure your shell: \n"
          ": eval `" CMD "`\n");
    check("tcsh", false, &ENV_NP, CMD,
          "setenv DOCKER_TLS_VERIFY \"1\";\n"
          "setenv DOCKER_HOST \"" HOST "\";\n"
          "setenv DOCKER_CERT_PATH \"" CERTS "\";\n"
          "setenv DOCKER_MACHINE_NAME \"" NAME "\";\n"
          "setenv NO_PROXY \"" NOPROXY "\";\n"
          ": Run this command to configure your shell: \n"
          ": eval `" CMD "`\n");
    check("tcsh", true, &ENV_EMPTY, UCMD,
          "unsetenv DOCKER_TLS_VERIFY;\n"
          "unsetenv DOCKER_HOST;\n"
          "unsetenv DOCKER_CERT_PATH;\n"
          "unsetenv DOCKER_MACHINE_NAME;\n"
          ": Run this command to configure your shell: \n"
          ": eval `" UCMD "`\n");
}

/* ---- emacs ---- */

static void test_emacs(void **state)
{
    (void)state;
    check("emacs", false, &ENV, CMD,
          "(setenv \"DOCKER_TLS_VERIFY\" \"1\")\n"
          "(setenv \"DOCKER_HOST\" \"" HOST "\")\n"
          "(setenv \"DOCKER_CERT_PATH\" \"" CERTS "\")\n"
          "(setenv \"DOCKER_MACHINE_NAME\" \"" NAME "\")\n"
          ";; Run this command to configure your shell: \n"
          ";; (with-temp-buffer (shell-command \"" CMD "\" (current-buffer)) (eval-buffer))\n");
    check("emacs", false, &ENV_NP, CMD,
          "(setenv \"DOCKER_TLS_VERIFY\" \"1\")\n"
          "(setenv \"DOCKER_HOST\" \"" HOST "\")\n"
          "(setenv \"DOCKER_CERT_PATH\" \"" CERTS "\")\n"
          "(setenv \"DOCKER_MACHINE_NAME\" \"" NAME "\")\n"
          "(setenv \"NO_PROXY\" \"" NOPROXY "\")\n"
          ";; Run this command to configure your shell: \n"
          ";; (with-temp-buffer (shell-command \"" CMD "\" (current-buffer)) (eval-buffer))\n");
    check("emacs", true, &ENV_EMPTY, UCMD,
          "(setenv \"DOCKER_TLS_VERIFY\" nil)\n"
          "(setenv \"DOCKER_HOST\" nil)\n"
          "(setenv \"DOCKER_CERT_PATH\" nil)\n"
          "(setenv \"DOCKER_MACHINE_NAME\" nil)\n"
          ";; Run this command to configure your shell: \n"
          ";; (with-temp-buffer (shell-command \"" UCMD "\" (current-buffer)) (eval-buffer))\n");
}

/* A '%' in the command line must come out as it is (it is not a format). */
static void test_cmdline_with_percent(void **state)
{
    (void)state;
    check("bash", true, &ENV_EMPTY, "berth env -u %s%n",
          "unset DOCKER_TLS_VERIFY\n"
          "unset DOCKER_HOST\n"
          "unset DOCKER_CERT_PATH\n"
          "unset DOCKER_MACHINE_NAME\n"
          "# Run this command to configure your shell: \n"
          "# eval $(berth env -u %s%n)\n");
}

/* ---- shellenv_detect ---- */

static void test_detect(void **state)
{
    berr_t err = NULL;
    char *shell = NULL;

    (void)state;
    setenv("SHELL", "/usr/bin/fish", 1);
    assert_int_equal(shellenv_detect(&shell, &err), 0);
    assert_string_equal(shell, "fish");
    free(shell);
    shell = NULL;

    setenv("SHELL", "/bin/zsh", 1);
    assert_int_equal(shellenv_detect(&shell, &err), 0);
    assert_string_equal(shell, "zsh");
    free(shell);
    shell = NULL;

    setenv("SHELL", "tcsh", 1);
    assert_int_equal(shellenv_detect(&shell, &err), 0);
    assert_string_equal(shell, "tcsh");
    free(shell);
    assert_null(err);
}

static void test_detect_unset(void **state)
{
    berr_t err = NULL;
    char *shell = NULL;

    (void)state;
    unsetenv("SHELL");
    assert_true(shellenv_detect(&shell, &err) < 0);
    assert_null(shell);
    assert_non_null(err);
    assert_non_null(strstr(berr_msg(err), "SHELL"));
    berr_free(&err);

    setenv("SHELL", "", 1);
    assert_true(shellenv_detect(&shell, &err) < 0);
    assert_null(shell);
    assert_non_null(strstr(berr_msg(err), "SHELL"));
    berr_free(&err);
}

/* ---- shellenv_no_proxy_add ---- */

static void check_np(const char *list, const char *ip, const char *want)
{
    char *got = shellenv_no_proxy_add(list, ip);

    assert_non_null(got);
    if (strcmp(got, want) != 0) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", got);
        free(got);
        fail_msg("no_proxy_add(\"%s\", \"%s\"): got \"%s\", want \"%s\"", list ? list : "NULL", ip,
                 buf, want);
    }
    free(got);
}

static void test_no_proxy_add(void **state)
{
    (void)state;
    check_np(NULL, "10.0.0.5", "10.0.0.5");
    check_np("", "10.0.0.5", "10.0.0.5");
    check_np("localhost", "10.0.0.5", "localhost,10.0.0.5");
    check_np("localhost,127.0.0.1", "10.0.0.5", "localhost,127.0.0.1,10.0.0.5");
    check_np("10.0.0.5", "10.0.0.5", "10.0.0.5");
    check_np("localhost,10.0.0.5", "10.0.0.5", "localhost,10.0.0.5");
    check_np("10.0.0.5,localhost", "10.0.0.5", "10.0.0.5,localhost");
    check_np("a,10.0.0.5,b", "10.0.0.5", "a,10.0.0.5,b");
}

/* An address that is only a substring of another entry is not in the list. */
static void test_no_proxy_add_substring(void **state)
{
    (void)state;
    check_np("10.0.0.50", "10.0.0.5", "10.0.0.50,10.0.0.5");
    check_np("localhost,110.0.0.5", "10.0.0.5", "localhost,110.0.0.5,10.0.0.5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bash_lowercase_no_proxy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zsh_and_others_use_bash_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_powershell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcsh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emacs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmdline_with_percent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detect_unset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_proxy_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_proxy_add_substring, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
