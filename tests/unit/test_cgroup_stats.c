/* The statistics readers behind GET /containers/{id}/stats: memory.stat and per-CPU files as
 * the cgroup backends read them (fake files in a temp dir), the host's CPU time and the
 * network counters of this process's namespace. */
#include "testutil.h"

#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/cgroup_impl.h"

static char *make_dir(void)
{
    char tmpl[] = "/tmp/test_cgroup_stats.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void put(const char *path, const char *text)
{
    berr_t err = NULL;
    assert_ok(write_file_atomic(path, text, strlen(text), 0644, &err), err);
}

static void test_memory_stat_and_percpu(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_dir();
    _cleanup_free_ char *f1 = path_join(dir, "memory.stat");
    _cleanup_free_ char *f2 = path_join(dir, "cpuacct.usage_percpu");
    struct runtime_stats st = {0};
    berr_t err = NULL;

    put(f1, "cache 4096\nrss 8192\ntotal_inactive_file 12\n");
    put(f2, "100 200 0 300 \n");
    cg_read_memory_stat(dir, "memory.stat", &st);
    cg_read_percpu(dir, "cpuacct.usage_percpu", &st);
    assert_int_equal(st.n_memory_stat, 3);
    assert_string_equal(st.memory_stat[1].key, "rss");
    assert_int_equal(st.memory_stat[1].value, 8192);
    assert_string_equal(st.memory_stat[2].key, "total_inactive_file");
    assert_int_equal(st.n_percpu, 4);
    assert_int_equal(st.percpu_ns[3], 300);
    cg_add_blkio(&st, 8, 0, "read", 42);
    assert_int_equal(st.n_blkio, 1);
    assert_string_equal(st.blkio[0].op, "read");
    runtime_stats_free(&st);
    assert_null(st.memory_stat);
    /* Missing files leave the arrays empty. */
    cg_read_memory_stat(dir, "nope", &st);
    assert_int_equal(st.n_memory_stat, 0);
    assert_ok(rm_rf(dir, &err), err);
}

static void test_flat_keys(void **state)
{
    (void)state;
    const char *text = "usage_usec 7\nnr_periods 3\nnr_throttled 2\nthrottled_usec 9\n";

    assert_int_equal(cg_key(text, "usage_usec"), 7);
    assert_int_equal(cg_key(text, "nr_throttled"), 2);
    assert_int_equal(cg_key(text, "throttled_usec"), 9);
    /* A key is a whole word: "nr" is not "nr_periods". */
    assert_int_equal(cg_key(text, "nr"), 0);
    assert_int_equal(cg_key(text, "user_usec"), 0);
    assert_int_equal(cg_key(NULL, "usage_usec"), 0);
}

static void test_host_counters(void **state)
{
    (void)state;
    struct runtime_netdev *devs = NULL;
    size_t n = 99;
    uint64_t ns = 0;
    berr_t err = NULL;

    assert_ok(runtime_system_cpu_ns(&ns, &err), err);
    assert_true(ns > 0);
    assert_ok(runtime_net_stats(getpid(), &devs, &n, &err), err);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(devs[i].name, "lo");
    free(devs);
    assert_int_equal(runtime_net_stats(0, &devs, &n, &err), -1);
    assert_msg_has(err, "network statistics of process 0");
    berr_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_stat_and_percpu),
        cmocka_unit_test(test_flat_keys),
        cmocka_unit_test(test_host_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
