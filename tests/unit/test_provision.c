/* Unit tests for core/lib/provision_files.c: host detection, daemon.json from the engine
 * options, and the service definitions (checked with sh -n where they are shell). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/provision.h"

static void test_probe_debian_systemd_root(void **state)
{
    struct host_info hi;
    (void)state;
    assert_int_equal(provision_parse_probe("uid=0\narch=x86_64\ninit=systemd\nsudo=no\n"
                                           "---os-release---\nPRETTY_NAME=\"Debian GNU/Linux 12 "
                                           "(bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
                                           &hi, NULL),
                     0);
    assert_string_equal(hi.id, "debian");
    assert_string_equal(hi.version, "12");
    assert_string_equal(hi.pretty, "Debian GNU/Linux 12 (bookworm)");
    assert_string_equal(hi.arch, "x86_64");
    assert_int_equal(hi.init, INIT_SYSTEMD);
    assert_true(hi.root);
    assert_false(hi.sudo);
}

static void test_probe_alpine_openrc_sudo(void **state)
{
    struct host_info hi;
    (void)state;
    assert_int_equal(provision_parse_probe("uid=1000\r\narch=aarch64\ninit=openrc\nsudo=yes\n"
                                           "---os-release---\nID=alpine\nVERSION_ID=3.19.1\n",
                                           &hi, NULL),
                     0);
    assert_string_equal(hi.id, "alpine");
    assert_string_equal(hi.pretty, "alpine 3.19.1");
    assert_int_equal(hi.init, INIT_OPENRC);
    assert_false(hi.root);
    assert_true(hi.sudo);
}

static void test_probe_busybox_and_garbage(void **state)
{
    struct host_info hi;
    berr_t err = NULL;
    (void)state;
    assert_int_equal(provision_parse_probe("uid=0\narch=x86_64\ninit=sysv\nsudo=no\n"
                                           "---os-release---\n",
                                           &hi, NULL),
                     0);
    assert_string_equal(hi.id, "unknown");
    assert_int_equal(hi.init, INIT_SYSV);
    assert_int_equal(provision_parse_probe("sh: id: not found\n", &hi, &err), -1);
    assert_non_null(strstr(berr_msg(err), "unexpected answer"));
    berr_free(&err);
}

static json_t *engine(void)
{
    return json_pack("{s:[s,s,s,s,s,s,s],s:[s],s:[s],s:[s],s:[s],s:s}", "ArbitraryFlags",
                     "log-level=debug", "debug", "max-concurrent-downloads=3", "label=a=b",
                     "insecure-registry=r1:5000", "log-opt=max-size=10m", "--dns=1.1.1.1", "Env",
                     "HTTP_PROXY=http://p:3128", "Labels", "team=core", "InsecureRegistry",
                     "r2:5000", "RegistryMirror", "https://mirror", "StorageDriver", "overlay2");
}

static void test_daemon_json(void **state)
{
    json_t *e = engine();
    char *text = NULL;
    (void)state;

    assert_int_equal(provision_daemon_json(e, &text, NULL), 0);
    json_t *d = json_loads(text, 0, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "log-level")), "debug");
    assert_true(json_is_true(json_object_get(d, "debug")));
    assert_int_equal(json_integer_value(json_object_get(d, "max-concurrent-downloads")), 3);
    assert_int_equal(json_array_size(json_object_get(d, "labels")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "labels"), 1)),
                        "team=core");
    assert_int_equal(json_array_size(json_object_get(d, "insecure-registries")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "dns"), 0)), "1.1.1.1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(d, "log-opts"), "max-size")), "10m");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(d, "registry-mirrors"), 0)),
        "https://mirror");
    assert_null(json_object_get(d, "storage-driver")); /* the default is not written */
    json_decref(d);
    free(text);
    json_decref(e);
}

static void test_daemon_json_refuses_bad_names(void **state)
{
    json_t *e = json_pack("{s:[s]}", "ArbitraryFlags", "Log Level=x");
    char *text = NULL;
    berr_t err = NULL;
    (void)state;

    assert_int_equal(provision_daemon_json(e, &text, &err), -1);
    assert_non_null(strstr(berr_msg(err), "--engine-opt \"Log Level=x\""));
    berr_free(&err);
    json_decref(e);
}

static void test_systemd_unit(void **state)
{
    json_t *e = json_pack("{s:[s,s]}", "Env", "A=b c", "Q=say \"hi\" 100%");
    char *unit = NULL;
    (void)state;

    assert_int_equal(provision_service(INIT_SYSTEMD, e, 2377, &unit, NULL), 0);
    assert_non_null(strstr(unit,
                           "ExecStart=/usr/local/bin/berthd daemon -H "
                           "unix:///run/berth/berthd.sock -H tcp://0.0.0.0:2377 --tlsverify"));
    assert_non_null(strstr(unit, "--tlscert /etc/berth/server.pem"));
    assert_non_null(strstr(unit, "KillMode=process\n"));
    assert_non_null(strstr(unit, "Environment=\"A=b c\"\n"));
    assert_non_null(strstr(unit, "Environment=\"Q=say \\\"hi\\\" 100%%\"\n"));
    assert_string_equal(provision_service_path(INIT_SYSTEMD), "/etc/systemd/system/berthd.service");
    free(unit);
    json_decref(e);
}

/* The shell service definitions parse, and carry the environment and the listen flags. */
static void check_shell(enum init_system init)
{
    json_t *e = json_pack("{s:[s]}", "Env", "NO_PROXY=it's,here");
    char *text = NULL;
    char path[] = "/tmp/berth-test-service-XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(provision_service(init, e, 2376, &text, NULL), 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    _cleanup_free_ char *cmd = xasprintf("sh -n %s", path);
    assert_int_equal(system(cmd), 0);
    assert_non_null(strstr(text, "export 'NO_PROXY=it'\\''s,here'\n"));
    assert_non_null(strstr(text, "-H tcp://0.0.0.0:2376 --tlsverify"));
    assert_string_equal(provision_service_path(init), "/etc/init.d/berthd");
    unlink(path);
    free(text);
    json_decref(e);
}

static void test_openrc_and_sysv_scripts(void **state)
{
    (void)state;
    check_shell(INIT_OPENRC);
    check_shell(INIT_SYSV);
}

static void test_bad_env(void **state)
{
    json_t *e = json_pack("{s:[s]}", "Env", "1BAD=x");
    char *text = NULL;
    berr_t err = NULL;
    (void)state;

    assert_int_equal(provision_service(INIT_SYSV, e, 2376, &text, &err), -1);
    assert_non_null(strstr(berr_msg(err), "--engine-env \"1BAD=x\""));
    berr_free(&err);
    json_decref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_debian_systemd_root),
        cmocka_unit_test(test_probe_alpine_openrc_sudo),
        cmocka_unit_test(test_probe_busybox_and_garbage),
        cmocka_unit_test(test_daemon_json),
        cmocka_unit_test(test_daemon_json_refuses_bad_names),
        cmocka_unit_test(test_systemd_unit),
        cmocka_unit_test(test_openrc_and_sysv_scripts),
        cmocka_unit_test(test_bad_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
