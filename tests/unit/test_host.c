/* Unit tests for core/lib/host.c: a machine's in-memory form and its
 * config.json in docker-machine's shape, with the real `none` driver. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/host.h"

#define URL "tcp://10.0.0.5:2376"

struct fixture {
    char dir[64];
    char *saved_path;
    struct berth_store store;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    const char *saved = getenv("BERTH_DRIVER_PATH");
    char exe[PATH_MAX], drivers[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    berr_t err = NULL;

    if (n < 0) {
        free(f);
        return -1;
    }
    exe[n] = '\0';
    /* build/tests/test_host -> build/lib/berth/drivers */
    _cleanup_free_ char *rel = xasprintf("%s/../lib/berth/drivers", dirname(exe));
    if (realpath(rel, drivers) == NULL) {
        fprintf(stderr, "no drivers at %s: build build/lib/berth/drivers/none.so\n", rel);
        free(f);
        return -1;
    }
    strcpy(f->dir, "/tmp/berth-test-host-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->saved_path = saved ? xstrdup(saved) : NULL;
    setenv("BERTH_DRIVER_PATH", drivers, 1);
    _cleanup_free_ char *root = path_join(f->dir, "store");
    if (store_open(&f->store, root, &err) < 0) {
        fprintf(stderr, "%s\n", berr_msg(err));
        berr_free(&err);
        store_close(&f->store);
        rm_rf(f->dir, NULL);
        free(f->saved_path);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->dir, &err);

    if (f->saved_path)
        setenv("BERTH_DRIVER_PATH", f->saved_path, 1);
    else
        unsetenv("BERTH_DRIVER_PATH");
    berr_free(&err);
    store_close(&f->store);
    free(f->saved_path);
    free(f);
    return r;
}

/* A host named NAME on the none driver, configured with URL. */
static struct berth_host *new_host(struct fixture *f, const char *name)
{
    struct berth_host *h = NULL;
    berr_t err = NULL;
    json_t *flags = json_pack("{s:s}", "url", URL);

    assert_ok(host_new(&f->store, name, "none", &h, &err), err);
    assert_non_null(h);
    assert_ok(h->dh->drv->config_from_flags(&h->m, flags, &err), err);
    json_decref(flags);
    return h;
}

/* host_save after creating the machine directory. */
static void save_host(struct berth_host *h)
{
    berr_t err = NULL;

    assert_ok(mkdir_p(h->m.machine_dir, 0700, &err), err);
    assert_ok(host_save(h, &err), err);
}

static const char *str_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        fail_msg("\"%s\" is missing or not a string", key);
    return json_string_value(v);
}

static json_int_t int_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v))
        fail_msg("\"%s\" is missing or not an integer", key);
    return json_integer_value(v);
}

static json_t *obj_at(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_object(v))
        fail_msg("\"%s\" is missing or not an object", key);
    return v;
}

static void assert_str_at(const json_t *obj, const char *key, const char *want)
{
    const char *got = str_at(obj, key);

    if (strcmp(got, want) != 0)
        fail_msg("\"%s\" is \"%s\", want \"%s\"", key, got, want);
}

static char *config_path(struct fixture *f, const char *name)
{
    _cleanup_free_ char *dir = store_machine_dir(&f->store, name);
    return path_join(dir, "config.json");
}

/* Write TEXT as machine NAME's config.json. */
static char *write_config(struct fixture *f, const char *name, const char *text)
{
    _cleanup_free_ char *dir = store_machine_dir(&f->store, name);
    char *path = path_join(dir, "config.json");
    berr_t err = NULL;

    assert_ok(mkdir_p(dir, 0700, &err), err);
    assert_ok(write_file_atomic(path, text, strlen(text), 0600, &err), err);
    return path;
}

/* A valid config.json for machine NAME with KEY replaced by VALUE (stolen). */
static char *write_config_with(struct fixture *f, const char *name, const char *key, json_t *value)
{
    struct berth_host *h = new_host(f, name);
    berr_t err = NULL;
    json_t *root = host_to_json(h, &err);

    assert_non_null(root);
    json_object_set_new(root, key, value);
    _cleanup_free_ char *text = json_dumps(root, JSON_INDENT(4));
    json_decref(root);
    host_free(h);
    return write_config(f, name, text);
}

static void test_host_new(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = new_host(f, "m1");
    _cleanup_free_ char *dir = path_join(f->store.machines_dir, "m1");
    _cleanup_free_ char *file = path_join(dir, "server.pem");
    _cleanup_free_ char *got = host_path(h, "server.pem");

    assert_string_equal(h->name, "m1");
    assert_string_equal(h->driver_name, "none");
    assert_string_equal(h->m.name, "m1");
    assert_string_equal(h->m.machine_dir, dir);
    assert_int_equal(h->m.engine_port, BERTH_ENGINE_PORT);
    assert_non_null(h->m.priv);
    assert_string_equal(h->dh->drv->name, "none");
    assert_true(json_is_object(h->engine));
    assert_true(json_is_array(h->sans));
    assert_int_equal(json_array_size(h->sans), 0);
    assert_non_null(h->created);
    assert_ptr_equal(h->store, &f->store);
    assert_string_equal(got, file);
    /* Nothing is written. */
    assert_false(file_exists(dir));
    host_free(h);
    host_free(NULL);
}

static void test_host_new_errors(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = NULL;
    berr_t err = NULL;

    assert_true(host_new(&f->store, "bad name", "none", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, "bad name");
    berr_free(&err);

    assert_true(host_new(&f->store, "m1", "nosuchdrv", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, "nosuchdrv");
    assert_msg_has(err, "not found");
    assert_msg_has(err, "m1");
    berr_free(&err);
}

static void test_host_to_json_shape(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = new_host(f, "m1");
    _cleanup_free_ char *mdir = path_join(f->store.machines_dir, "m1");
    _cleanup_free_ char *ca = path_join(f->store.certs_dir, "ca.pem");
    _cleanup_free_ char *ca_key = path_join(f->store.certs_dir, "ca-key.pem");
    _cleanup_free_ char *cert = path_join(f->store.certs_dir, "cert.pem");
    _cleanup_free_ char *key = path_join(f->store.certs_dir, "key.pem");
    _cleanup_free_ char *server = path_join(mdir, "server.pem");
    _cleanup_free_ char *server_key = path_join(mdir, "server-key.pem");
    berr_t err = NULL;
    json_t *root = host_to_json(h, &err);

    if (root == NULL)
        fail_msg("host_to_json: %s", berr_msg(err));
    assert_int_equal(int_at(root, "ConfigVersion"), BERTH_CONFIG_VERSION);
    assert_str_at(root, "DriverName", "none");
    assert_str_at(root, "Name", "m1");
    const char *created = str_at(root, "Created");
    assert_int_equal(strlen(created), strlen("2006-01-02T15:04:05Z"));
    assert_int_equal(created[10], 'T');
    assert_int_equal(created[19], 'Z');

    json_t *drv = obj_at(root, "Driver");
    str_at(drv, "IPAddress");
    assert_str_at(drv, "MachineName", "m1");
    int_at(drv, "SSHPort");
    str_at(drv, "SSHUser");
    str_at(drv, "SSHKeyPath");
    assert_str_at(drv, "StorePath", f->store.root);
    assert_str_at(drv, "URL", URL);

    json_t *opts = obj_at(root, "HostOptions");
    assert_str_at(opts, "Driver", "none");
    json_t *engine = obj_at(opts, "EngineOptions");
    static const char *const lists[] = {"ArbitraryFlags", "Env", "InsecureRegistry", "Labels",
                                        "RegistryMirror"};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (!json_is_array(json_object_get(engine, lists[i])))
            fail_msg("EngineOptions.%s is not an array", lists[i]);
    }
    str_at(engine, "StorageDriver");
    str_at(engine, "InstallURL");
    assert_true(json_is_true(json_object_get(engine, "TlsVerify")));

    json_t *auth = obj_at(opts, "AuthOptions");
    assert_str_at(auth, "CertDir", f->store.certs_dir);
    assert_str_at(auth, "CaCertPath", ca);
    assert_str_at(auth, "CaPrivateKeyPath", ca_key);
    assert_str_at(auth, "ClientCertPath", cert);
    assert_str_at(auth, "ClientKeyPath", key);
    assert_str_at(auth, "ServerCertPath", server);
    assert_str_at(auth, "ServerKeyPath", server_key);
    assert_str_at(auth, "StorePath", mdir);
    assert_true(json_is_array(json_object_get(auth, "ServerCertSANs")));

    json_decref(root);
    host_free(h);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_host_save(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = new_host(f, "m1");
    _cleanup_free_ char *path = config_path(f, "m1");
    _cleanup_free_ char *text = NULL;
    berr_t err = NULL;
    struct stat st;
    size_t len = 0;
    json_error_t jerr;

    save_host(h);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_entries(h->m.machine_dir), 1);

    assert_ok(read_file(path, &text, &len, &err), err);
    assert_true(len > 2);
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(text[len - 2], '}');
    json_t *on_disk = json_loads(text, 0, &jerr);
    if (on_disk == NULL)
        fail_msg("config.json: line %d: %s", jerr.line, jerr.text);
    json_t *want = host_to_json(h, &err);
    assert_non_null(want);
    assert_true(json_equal(on_disk, want));
    json_decref(on_disk);
    json_decref(want);

    /* Saving again replaces the file and leaves no temporary file. */
    save_host(h);
    assert_int_equal(count_entries(h->m.machine_dir), 1);
    assert_true(store_exists(&f->store, "m1"));
    host_free(h);
}

static void test_host_save_without_dir(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = new_host(f, "m1");
    berr_t err = NULL;

    assert_true(host_save(h, &err) < 0);
    assert_msg_has(err, "m1");
    assert_msg_has(err, "config.json");
    berr_free(&err);
    host_free(h);
}

static void test_host_load_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = new_host(f, "m1");
    struct berth_host *l = NULL;
    berr_t err = NULL;

    h->m.ip_address = xstrdup("10.0.0.5");
    h->m.ssh_user = xstrdup("docker");
    h->m.ssh_port = 2222;
    h->m.ssh_key_path = xstrdup("/keys/id_rsa");
    h->m.engine_port = 2377;
    json_array_append_new(h->sans, json_string("m1.example.com"));
    json_array_append_new(json_object_get(h->engine, "Labels"), json_string("env=test"));
    free(h->created);
    h->created = xstrdup("2020-01-02T03:04:05Z");
    save_host(h);

    assert_ok(host_load(&f->store, "m1", &l, &err), err);
    assert_non_null(l);
    assert_string_equal(l->name, "m1");
    assert_string_equal(l->driver_name, "none");
    assert_string_equal(l->dh->drv->name, "none");
    assert_string_equal(l->m.machine_dir, h->m.machine_dir);
    assert_string_equal(l->m.ip_address, "10.0.0.5");
    assert_string_equal(l->m.ssh_user, "docker");
    assert_int_equal(l->m.ssh_port, 2222);
    assert_string_equal(l->m.ssh_key_path, "/keys/id_rsa");
    assert_int_equal(l->m.engine_port, 2377);
    assert_string_equal(l->created, "2020-01-02T03:04:05Z");
    assert_true(json_equal(l->sans, h->sans));
    assert_true(json_equal(l->engine, h->engine));

    json_t *a = host_to_json(h, &err);
    json_t *b = host_to_json(l, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);

    /* The driver got its URL back. */
    char *url = NULL;
    assert_ok(l->dh->drv->get_url(&l->m, &url, &err), err);
    assert_string_equal(url, URL);
    free(url);
    host_free(l);
    host_free(h);
}

/* Empty strings on disk come back as "unset" (NULL), and save again as "". */
static void test_host_load_defaults(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = new_host(f, "m1");
    struct berth_host *l = NULL;
    berr_t err = NULL;

    save_host(h);
    assert_ok(host_load(&f->store, "m1", &l, &err), err);
    assert_null(l->m.ip_address);
    assert_null(l->m.ssh_user);
    assert_null(l->m.ssh_key_path);
    assert_int_equal(l->m.ssh_port, 0);
    assert_int_equal(l->m.engine_port, BERTH_ENGINE_PORT);
    host_free(l);
    host_free(h);
}

static void test_host_load_missing(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = config_path(f, "ghost");
    struct berth_host *h = NULL;
    berr_t err = NULL;

    assert_true(host_load(&f->store, "ghost", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, "ghost");
    assert_msg_has(err, "does not exist");
    assert_msg_has(err, path);
    berr_free(&err);

    assert_true(host_load(&f->store, "../etc", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, "../etc");
    berr_free(&err);
}

static void test_host_load_invalid_json(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = write_config(f, "m1", "{\n    \"Name\": \"m1\",\n    oops\n}\n");
    struct berth_host *h = NULL;
    berr_t err = NULL;

    assert_true(host_load(&f->store, "m1", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, path);
    assert_msg_has(err, "line 3");
    berr_free(&err);
}

static void test_host_load_newer_version(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = write_config_with(f, "m1", "ConfigVersion", json_integer(99));
    struct berth_host *h = NULL;
    berr_t err = NULL;

    assert_true(host_load(&f->store, "m1", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, path);
    assert_msg_has(err, "99");
    assert_msg_has(err, "version");
    berr_free(&err);
}

static void test_host_load_unknown_driver(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = write_config_with(f, "m1", "DriverName", json_string("nosuchdrv"));
    (void)path; /* only held to be freed */
    struct berth_host *h = NULL;
    berr_t err = NULL;

    assert_true(host_load(&f->store, "m1", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, "nosuchdrv");
    assert_msg_has(err, "not found");
    assert_msg_has(err, "m1");
    berr_free(&err);
}

/* error.h: context is added once per level; "machine m1: " must not repeat. */
static void test_host_load_error_prefix_once(void **state)
{
    struct fixture *f = *state;
    struct berth_host *h = NULL;
    berr_t err = NULL;

    free(write_config_with(f, "m1", "DriverName", json_string("nosuchdrv")));
    assert_true(host_load(&f->store, "m1", &h, &err) < 0);
    if (strstr(berr_msg(err), "machine m1: machine m1") != NULL) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", berr_msg(err));
        berr_free(&err);
        fail_msg("context repeated: \"%s\"", msg);
    }
    berr_free(&err);
}

static void test_host_load_missing_driver_object(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = write_config_with(f, "m1", "Driver", json_string("none"));
    struct berth_host *h = NULL;
    berr_t err = NULL;

    assert_true(host_load(&f->store, "m1", &h, &err) < 0);
    assert_null(h);
    assert_msg_has(err, path);
    assert_msg_has(err, "Driver");
    berr_free(&err);
}

static void test_host_state_name(void **state)
{
    (void)state;
    assert_string_equal(host_state_name(BERTH_STATE_NONE), "");
    assert_string_equal(host_state_name(BERTH_STATE_RUNNING), "Running");
    assert_string_equal(host_state_name(BERTH_STATE_PAUSED), "Paused");
    assert_string_equal(host_state_name(BERTH_STATE_SAVED), "Saved");
    assert_string_equal(host_state_name(BERTH_STATE_STOPPED), "Stopped");
    assert_string_equal(host_state_name(BERTH_STATE_STOPPING), "Stopping");
    assert_string_equal(host_state_name(BERTH_STATE_STARTING), "Starting");
    assert_string_equal(host_state_name(BERTH_STATE_ERROR), "Error");
    assert_string_equal(host_state_name(BERTH_STATE_TIMEOUT), "Timeout");
    assert_string_equal(host_state_name((enum berth_state)42), "Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_new_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_to_json_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_save_without_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_invalid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_newer_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_unknown_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_error_prefix_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_load_missing_driver_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_state_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
