/* Unit tests for the container runtime's pieces that need no container: spec parsing and
 * capability rules, the json-file log, and the state reporting of runtime.c.
 *
 * With arguments it is also the integration test's handle on the runtime API
 * (tests/integration/test_runtime.sh), which has no command line of its own:
 *   test_runtime_api start BUNDLE [attach]  runtime_start; with "attach" it then copies the
 *                                           attach stream (raw frames) to stdout until EOF
 *   test_runtime_api state BUNDLE           runtime_state as key=value lines
 *   test_runtime_api kill BUNDLE SIG        runtime_kill
 *   test_runtime_api pause|unpause BUNDLE   runtime_pause
 *   test_runtime_api stats BUNDLE           runtime_stats
 * BERTHD_SELF must name the berthd binary for start. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/jsonlog.h"
#include "runtime-agent/runtime/runtime.h"
#include "runtime-agent/runtime/spec.h"
#include "runtime-agent/runtime/state.h"

struct tmp {
    char dir[64];
};

static int setup_tmp(void **state)
{
    struct tmp *t = xcalloc(1, sizeof(*t));
    strcpy(t->dir, "/tmp/berth-rt-unit.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    *state = t;
    return 0;
}

static int teardown_tmp(void **state)
{
    struct tmp *t = *state;
    berr_t err = NULL;
    rm_rf(t->dir, &err);
    berr_free(&err);
    free(t);
    return 0;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = path_join(dir, name);
    berr_t err = NULL;
    assert_int_equal(write_file_atomic(path, text, strlen(text), 0644, &err), 0);
}

static char *read_text(const char *dir, const char *name)
{
    _cleanup_free_ char *path = path_join(dir, name);
    char *text = NULL;
    berr_t err = NULL;
    if (read_file(path, &text, NULL, &err) < 0) {
        berr_free(&err);
        return NULL;
    }
    return text;
}

#define SPEC_BASE                                                                                  \
    "{\"id\":\"abc\",\"layers\":[\"/l\"],\"upper\":\"/u\",\"work\":\"/w\",\"args\":[\"true\"],"    \
    "\"log_path\":\"/x.log\""

static int load_spec(struct tmp *t, const char *extra, struct rt_spec *s, berr_t *err)
{
    _cleanup_free_ char *text = xasprintf(SPEC_BASE "%s}", extra);
    _cleanup_free_ char *path = path_join(t->dir, "spec.json");
    write_text(t->dir, "spec.json", text);
    return spec_load(path, s, err);
}

static void test_spec_defaults(void **state)
{
    struct rt_spec s;
    berr_t err = NULL;

    assert_int_equal(load_spec(*state, "", &s, &err), 0);
    assert_int_equal(s.proc.caps, 0xa80425fbULL);
    assert_string_equal(s.proc.cwd, "/");
    assert_string_equal(s.cgroup_parent, "berth");
    assert_string_equal(s.ns[RT_NS_NET], "new");
    assert_true(s.proc.seccomp);
    assert_string_equal(s.log_driver, "json-file");
    spec_free(&s);
}

static void test_spec_caps(void **state)
{
    struct rt_spec s;
    berr_t err = NULL;

    assert_int_equal(load_spec(*state,
                               ",\"cap_drop\":[\"ALL\"],\"cap_add\":[\"NET_ADMIN\",\"cap_kill\"]",
                               &s, &err),
                     0);
    assert_int_equal(s.proc.caps, (1ULL << 12) | (1ULL << 5));
    spec_free(&s);
    assert_int_equal(load_spec(*state, ",\"cap_drop\":[\"chown\",\"MKNOD\"]", &s, &err), 0);
    assert_int_equal(s.proc.caps, 0xa80425fbULL & ~1ULL & ~(1ULL << 27));
    spec_free(&s);
    assert_int_equal(load_spec(*state, ",\"privileged\":true,\"cap_drop\":[\"ALL\"]", &s, &err), 0);
    assert_true((s.proc.caps & (1ULL << 21)) != 0);
    spec_free(&s);
    assert_int_equal(load_spec(*state, ",\"cap_add\":[\"BOGUS\"]", &s, &err), -1);
    assert_non_null(strstr(berr_msg(err), "unknown capability \"BOGUS\""));
    spec_free(&s);
    berr_free(&err);
}

static void test_spec_rejects(void **state)
{
    static const char *const bad[] = {
        ",\"args\":[]",
        ",\"id\":\"../x\"",
        ",\"namespaces\":{\"net\":\"bogus\"}",
        ",\"namespaces\":{\"mnt\":\"host\"}",
        ",\"mounts\":[{\"source\":\"rel\",\"destination\":\"/a\",\"type\":\"bind\"}]",
        ",\"mounts\":[{\"source\":\"/a\",\"destination\":\"rel\",\"type\":\"bind\"}]",
        ",\"cwd\":\"rel\"",
        ",\"log_driver\":\"syslog\"",
        ",\"resources\":{\"memory\":\"1g\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rt_spec s;
        berr_t err = NULL;
        assert_int_equal(load_spec(*state, bad[i], &s, &err), -1);
        assert_non_null(strstr(berr_msg(err), "spec "));
        berr_free(&err);
        spec_free(&s);
    }
}

static void test_jsonlog_lines(void **state)
{
    struct tmp *t = *state;
    _cleanup_free_ char *path = path_join(t->dir, "c-json.log");
    berr_t err = NULL;
    struct jsonlog *log = jsonlog_open(path, 0, 1, &err);

    assert_non_null(log);
    assert_int_equal(jsonlog_write(log, 1, "a\"<b>\nsecond", 12, &err), 0);
    assert_int_equal(jsonlog_write(log, 2, "e\x01\xff\n", 4, &err), 0);
    assert_int_equal(jsonlog_write(log, 1, " half\n", 6, &err), 0);
    assert_int_equal(jsonlog_close(log, &err), 0);
    _cleanup_free_ char *text = read_text(t->dir, "c-json.log");
    assert_non_null(text);
    assert_non_null(strstr(text, "{\"log\":\"a\\\"\\u003cb\\u003e\\n\",\"stream\":\"stdout\","));
    assert_non_null(strstr(text, "{\"log\":\"e\\u0001\\ufffd\\n\",\"stream\":\"stderr\","));
    assert_non_null(strstr(text, "{\"log\":\"second half\\n\",\"stream\":\"stdout\","));
    assert_non_null(strstr(text, "Z\"}\n"));
}

static void test_jsonlog_rotation(void **state)
{
    struct tmp *t = *state;
    _cleanup_free_ char *path = path_join(t->dir, "r-json.log");
    berr_t err = NULL;
    struct jsonlog *log = jsonlog_open(path, 200, 3, &err);

    assert_non_null(log);
    for (int i = 0; i < 20; i++)
        assert_int_equal(jsonlog_write(log, 1, "0123456789\n", 11, &err), 0);
    assert_int_equal(jsonlog_close(log, &err), 0);
    _cleanup_free_ char *p1 = path_join(t->dir, "r-json.log.1");
    _cleanup_free_ char *p2 = path_join(t->dir, "r-json.log.2");
    _cleanup_free_ char *p3 = path_join(t->dir, "r-json.log.3");
    assert_true(file_exists(path) && file_exists(p1) && file_exists(p2));
    assert_false(file_exists(p3));
    _cleanup_free_ char *text = read_text(t->dir, "r-json.log");
    assert_true(strlen(text) <= 200);
}

static void test_state_lost_shim(void **state)
{
    struct tmp *t = *state;
    struct runtime_state st;
    berr_t err = NULL;

    assert_int_equal(runtime_state(t->dir, &st, &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
    /* pid 2^22 - 1 is above the default pid_max: no such shim. */
    write_text(t->dir, "state.json",
               "{\"status\":\"running\",\"pid\":4194303,\"shim_pid\":4194302,\"exit_code\":0}");
    assert_int_equal(runtime_state(t->dir, &st, &err), 0);
    assert_false(st.running);
    assert_int_equal(st.exit_code, 255);
    assert_non_null(strstr(st.error, "is gone"));
    assert_int_equal(runtime_kill(t->dir, 9, &err), -1);
    assert_non_null(strstr(berr_msg(err), "is not running"));
    berr_free(&err);
    assert_int_equal(runtime_attach(t->dir, &err), -1);
    berr_free(&err);
}

static void test_state_exited(void **state)
{
    struct tmp *t = *state;
    struct runtime_state st;
    berr_t err = NULL;

    write_text(t->dir, "state.json",
               "{\"status\":\"exited\",\"pid\":12,\"shim_pid\":11,\"exit_code\":127,"
               "\"oom_killed\":true,\"error\":\"exec: \\\"x\\\": executable file not found\","
               "\"started_at\":\"\",\"finished_at\":\"2026-01-01T00:00:00Z\",\"cgroup\":\"b/c\"}");
    assert_int_equal(runtime_state(t->dir, &st, &err), 0);
    assert_false(st.running);
    assert_int_equal(st.exit_code, 127);
    assert_true(st.oom_killed);
    assert_string_equal(st.cgroup, "b/c");
    assert_string_equal(st.finished_at, "2026-01-01T00:00:00Z");
    assert_int_equal(runtime_pause(t->dir, true, &err), -1);
    berr_free(&err);
}

static int run_unit_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spec_defaults, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_spec_caps, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_spec_rejects, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_jsonlog_lines, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_jsonlog_rotation, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_state_lost_shim, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_state_exited, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Copy the attach connection FD to stdout until the shim closes it. */
static int copy_out(int fd)
{
    char buf[65536];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (write(1, buf, (size_t)n) != n)
            return 1;
    return n < 0 ? 1 : 0;
}

static int print_state(const char *bundle, berr_t *err)
{
    struct runtime_state st;

    if (runtime_state(bundle, &st, err) < 0)
        return -1;
    printf("running=%d\npaused=%d\npid=%d\nshim_pid=%d\nexit_code=%d\noom_killed=%d\n"
           "error=%s\n",
           st.running, st.paused, (int)st.pid, (int)st.shim_pid, st.exit_code, st.oom_killed,
           st.error);
    return 0;
}

static int print_stats(const char *bundle, berr_t *err)
{
    struct runtime_stats s;

    if (runtime_stats(bundle, &s, err) < 0)
        return -1;
    printf("memory_usage=%llu\nmemory_limit=%llu\npids_current=%llu\npids_limit=%llu\n",
           (unsigned long long)s.memory_usage, (unsigned long long)s.memory_limit,
           (unsigned long long)s.pids_current, (unsigned long long)s.pids_limit);
    runtime_stats_free(&s);
    return 0;
}

static int run_command(int argc, char **argv)
{
    const char *cmd = argv[1], *bundle = argc > 2 ? argv[2] : "";
    berr_t err = NULL;
    int rc = -1, fd = -1;

    if (strcmp(cmd, "start") == 0) {
        bool attach = argc > 3 && strcmp(argv[3], "attach") == 0;
        rc = runtime_start(bundle, attach ? &fd : NULL, &err);
        if (rc == 0 && attach)
            rc = copy_out(fd) == 0 ? 0 : -1;
    } else if (strcmp(cmd, "state") == 0) {
        rc = print_state(bundle, &err);
    } else if (strcmp(cmd, "kill") == 0 && argc > 3) {
        rc = runtime_kill(bundle, atoi(argv[3]), &err);
    } else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "unpause") == 0) {
        rc = runtime_pause(bundle, strcmp(cmd, "pause") == 0, &err);
    } else if (strcmp(cmd, "stats") == 0) {
        rc = print_stats(bundle, &err);
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        return 2;
    }
    if (rc < 0)
        fprintf(stderr, "%s\n", berr_msg(err));
    berr_free(&err);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    return argc > 1 ? run_command(argc, argv) : run_unit_tests();
}
