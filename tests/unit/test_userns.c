/* Unit tests for --userns-remap's parsing: the option value, /etc/subuid and /etc/subgid
 * lines, where a new range goes, the flag and daemon.json key, and spec.json's user namespace
 * fields (namespaces.user, uid_map, gid_map). */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/config.h"
#include "runtime-agent/remap.h"
#include "runtime-agent/runtime/spec.h"

static void test_value(void **state)
{
    char *u, *g;
    berr_t err = NULL;
    (void)state;

    assert_ok(remap_parse_value("default", &u, &g, &err), err);
    assert_string_equal(u, "dockremap");
    assert_string_equal(g, "dockremap");
    free(u), free(g);
    assert_ok(remap_parse_value("alice", &u, &g, &err), err);
    assert_string_equal(u, "alice");
    assert_null(g);
    free(u);
    assert_ok(remap_parse_value("alice:staff", &u, &g, &err), err);
    assert_string_equal(u, "alice");
    assert_string_equal(g, "staff");
    free(u), free(g);
    assert_ok(remap_parse_value("4242:4343", &u, &g, &err), err);
    assert_string_equal(u, "4242");
    assert_string_equal(g, "4343");
    free(u), free(g);
    static const char *const bad[] = {"", ":g", "u:", "a:b:c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(remap_parse_value(bad[i], &u, &g, &err), -1);
        assert_msg_has(err, "use default, USER, USER:GROUP, UID or UID:GID");
        berr_free(&err);
    }
}

static void test_find_range(void **state)
{
    const char *text = "# a comment\n"
                       "bob:100000:65536\n"
                       "broken line\n"
                       "  alice:200000:1000\n"
                       "alice:900000:5\n"
                       "4242:300000:65536\n"
                       "zero:400000:0\n"
                       "huge:4294967290:100\n";
    uint32_t s, c;
    (void)state;

    assert_int_equal(remap_find_range(text, "alice", -1, &s, &c), 0);
    assert_int_equal(s, 200000); /* the first line of the user */
    assert_int_equal(c, 1000);
    assert_int_equal(remap_find_range(text, "bob", -1, &s, &c), 0);
    assert_int_equal(s, 100000);
    assert_int_equal(remap_find_range(text, NULL, 4242, &s, &c), 0);
    assert_int_equal(s, 300000);
    assert_int_equal(remap_find_range(text, "nobody", 4242, &s, &c), 0); /* by id */
    assert_int_equal(remap_find_range(text, "carol", -1, &s, &c), -1);
    assert_int_equal(remap_find_range(text, "zero", -1, &s, &c), -1); /* empty range */
    assert_int_equal(remap_find_range(text, "huge", -1, &s, &c), -1); /* wraps */
    assert_int_equal(remap_find_range("", "bob", -1, &s, &c), -1);
    assert_int_equal(remap_find_range(NULL, "bob", -1, &s, &c), -1);
}

static void test_free_start(void **state)
{
    (void)state;
    assert_int_equal(remap_free_start("", "", 65536), 100000);
    assert_int_equal(remap_free_start("a:100000:65536\n", "b:10:5\n", 65536), 165536);
    assert_int_equal(remap_free_start("a:1000:10\n", "b:200000:100\n", 65536), 200100);
    assert_int_equal(remap_free_start("a:4294900000:60000\n", "", 65536), 0);
}

static void test_map_json(void **state)
{
    (void)state;
    json_t *m = remap_map_json(300000, 65536);
    char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "[{\"container_id\":0,\"host_id\":300000,\"size\":65536}]");
    free(text);
    json_decref(m);
}

static void test_flag(void **state)
{
    struct daemon_config c = {0};
    berr_t err = NULL;
    char *argv[] = {"daemon", "--userns-remap", "alice:staff", NULL};
    (void)state;

    assert_ok(config_parse_args(&c, 3, argv, &err), err);
    assert_string_equal(c.userns_remap, "alice:staff");
    assert_true(c.set & CFG_USERNS_REMAP);
    assert_ok(config_finish(&c, &err), err);
    config_free(&c);

    char *bad[] = {"daemon", "--userns-remap", "a:b:c", NULL};
    assert_ok(config_parse_args(&c, 3, bad, &err), err);
    assert_int_equal(config_finish(&c, &err), -1);
    assert_msg_has(err, "userns-remap \"a:b:c\"");
    berr_free(&err);
    config_free(&c);
}

static void test_file_key(void **state)
{
    char dir[] = "/tmp/berth-userns-unit.XXXXXX";
    struct daemon_config c = {0};
    berr_t err = NULL;
    (void)state;

    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = path_join(dir, "daemon.json");
    const char *text = "{\"userns-remap\": \"default\"}";
    assert_ok(write_file_atomic(path, text, strlen(text), 0644, &err), err);
    char *argv[] = {"daemon", "--config-file", path, NULL};
    assert_ok(config_parse_args(&c, 3, argv, &err), err);
    assert_ok(config_load_file(&c, &err), err);
    assert_ok(config_finish(&c, &err), err);
    assert_string_equal(c.userns_remap, "default");
    config_free(&c);

    /* The flag wins over the file; "" in the file is off. */
    char *flag[] = {"daemon", "--config-file", path, "--userns-remap", "bob", NULL};
    assert_ok(config_parse_args(&c, 5, flag, &err), err);
    assert_ok(config_load_file(&c, &err), err);
    assert_string_equal(c.userns_remap, "bob");
    config_free(&c);
    text = "{\"userns-remap\": \"\"}";
    assert_ok(write_file_atomic(path, text, strlen(text), 0644, &err), err);
    assert_ok(config_parse_args(&c, 3, argv, &err), err);
    assert_ok(config_load_file(&c, &err), err);
    assert_ok(config_finish(&c, &err), err);
    assert_null(c.userns_remap);
    config_free(&c);
    rm_rf(dir, NULL);
}

#define SPEC_BASE                                                                                  \
    "{\"id\":\"abc\",\"layers\":[\"/l\"],\"upper\":\"/u\",\"work\":\"/w\",\"args\":[\"true\"],"    \
    "\"log_path\":\"/x.log\""

static int load(const char *extra, struct rt_spec *s, berr_t *err)
{
    char dir[] = "/tmp/berth-userns-unit.XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = path_join(dir, "spec.json");
    _cleanup_free_ char *text = xasprintf(SPEC_BASE "%s}", extra);
    assert_ok(write_file_atomic(path, text, strlen(text), 0644, err), *err);
    int rc = spec_load(path, s, err);
    rm_rf(dir, NULL);
    return rc;
}

static void test_spec(void **state)
{
    struct rt_spec s;
    berr_t err = NULL;
    (void)state;

    assert_ok(load("", &s, &err), err);
    assert_false(s.userns);
    spec_free(&s);
    assert_ok(load(",\"namespaces\":{\"user\":\"new\"},"
                   "\"uid_map\":[{\"container_id\":0,\"host_id\":300000,\"size\":65536}],"
                   "\"gid_map\":[{\"container_id\":0,\"host_id\":400000,\"size\":10},"
                   "{\"container_id\":10,\"host_id\":500000,\"size\":1}]",
                   &s, &err),
              err);
    assert_true(s.userns);
    assert_int_equal(s.n_uid_map, 1);
    assert_int_equal(s.uid_map[0].host_id, 300000);
    assert_int_equal(s.uid_map[0].size, 65536);
    assert_int_equal(s.n_gid_map, 2);
    assert_int_equal(s.gid_map[1].container_id, 10);
    assert_int_equal(s.gid_map[1].host_id, 500000);
    spec_free(&s);

    static const struct {
        const char *extra, *msg;
    } bad[] = {
        {",\"namespaces\":{\"user\":\"/proc/1/ns/user\"}", "is not new or host"},
        {",\"namespaces\":{\"user\":\"new\"}", "\"uid_map\" must be an array"},
        {",\"namespaces\":{\"user\":\"new\"},\"uid_map\":[],\"gid_map\":[]",
         "\"uid_map\" must be an array"},
        {",\"namespaces\":{\"user\":\"new\"},\"uid_map\":[{\"container_id\":0,\"host_id\":1,"
         "\"size\":0}]",
         "uid_map[0]: empty or wrapping range"},
        {",\"namespaces\":{\"user\":\"new\"},\"uid_map\":[{\"container_id\":0,\"host_id\":"
         "4294967295,\"size\":2}]",
         "uid_map[0]: empty or wrapping range"},
        {",\"namespaces\":{\"user\":\"new\"},\"uid_map\":[{\"container_id\":-1,\"host_id\":1,"
         "\"size\":1}]",
         "uid_map[0].container_id -1 is out of range"},
        {",\"namespaces\":{\"user\":\"new\"},\"uid_map\":[{\"container_id\":0,\"host_id\":1,"
         "\"size\":1}],\"gid_map\":[{\"size\":\"x\"}]",
         "\"size\" is not an integer"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(load(bad[i].extra, &s, &err), -1);
        assert_msg_has(err, bad[i].msg);
        berr_free(&err);
        spec_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value),      cmocka_unit_test(test_find_range),
        cmocka_unit_test(test_free_start), cmocka_unit_test(test_map_json),
        cmocka_unit_test(test_flag),       cmocka_unit_test(test_file_key),
        cmocka_unit_test(test_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
