/* Unit tests for core/lib/driverload.c: finding, loading and refusing driver
 * shared objects. Uses the real `none` driver and the test-only drivers of
 * tests/drivers (badabi, nodesc, incomplete, misnamed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include "tests/unit/testutil.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/driverload.h"

struct fixture {
    char dir[64];
    char *saved_path;
    char *test_drivers; /* build/tests/drivers */
    char *drivers;      /* build/lib/berth/drivers */
    char *search;       /* test_drivers:drivers */
};

/* The directory of the test binary (build/tests), resolved. */
static char *exe_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n < 0)
        return NULL;
    exe[n] = '\0';
    return xstrdup(dirname(exe));
}

static char *resolved(const char *path)
{
    char buf[PATH_MAX];

    if (realpath(path, buf) == NULL)
        return xstrdup(path);
    return xstrdup(buf);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    const char *saved = getenv("BERTH_DRIVER_PATH");
    _cleanup_free_ char *dir = exe_dir();

    if (dir == NULL) {
        free(f);
        return -1;
    }
    strcpy(f->dir, "/tmp/berth-test-driverload-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    _cleanup_free_ char *td = path_join(dir, "drivers");
    _cleanup_free_ char *rd = path_join(dir, "../lib/berth/drivers");
    f->saved_path = saved ? xstrdup(saved) : NULL;
    f->test_drivers = resolved(td);
    f->drivers = resolved(rd);
    f->search = xasprintf("%s:%s", f->test_drivers, f->drivers);
    setenv("BERTH_DRIVER_PATH", f->search, 1);
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
    free(f->saved_path);
    free(f->test_drivers);
    free(f->drivers);
    free(f->search);
    free(f);
    return r;
}

/* driver_load(NAME) must fail; its message must contain every string of the
 * NULL-terminated list that follows. */
static void expect_refused(const char *name, ...)
{
    struct driver_handle *h = NULL;
    berr_t err = NULL;
    char msg[1024];
    const char *want;
    va_list ap;

    if (driver_load(name, &h, &err) == 0) {
        driver_unload(h);
        fail_msg("driver %s: loaded, expected a refusal", name);
    }
    assert_null(h);
    assert_non_null(err);
    snprintf(msg, sizeof(msg), "%s", berr_msg(err));
    berr_free(&err);
    va_start(ap, name);
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (strstr(msg, want) == NULL) {
            va_end(ap);
            fail_msg("driver %s: error \"%s\" does not mention \"%s\"", name, msg, want);
        }
    }
    va_end(ap);
}

static void test_load_none(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *want = path_join(f->drivers, "none.so");
    struct driver_handle *h = NULL;
    berr_t err = NULL;

    assert_ok(driver_load("none", &h, &err), err);
    assert_non_null(h);
    assert_non_null(h->dl);
    assert_non_null(h->drv);
    assert_int_equal(h->drv->abi_version, BERTH_DRIVER_ABI_VERSION);
    assert_string_equal(h->drv->name, "none");
    assert_string_equal(h->path, want);
    assert_non_null(h->drv->config_new);
    assert_non_null(h->drv->get_state);
    assert_non_null(h->drv->flags);
    assert_string_equal(h->drv->flags[0].name, "url");
    assert_int_equal(h->drv->provisions, 0);
    driver_unload(h);
    driver_unload(NULL);
    assert_null(err);
}

static void test_bad_abi(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = path_join(f->test_drivers, "badabi.so");
    char theirs[32], ours[32];

    snprintf(theirs, sizeof(theirs), "%u", (unsigned)BERTH_DRIVER_ABI_VERSION + 1);
    snprintf(ours, sizeof(ours), "%u", (unsigned)BERTH_DRIVER_ABI_VERSION);
    expect_refused("badabi", path, "ABI", theirs, ours, NULL);
    /* Each number next to its "ABI". */
    char abi_theirs[40], abi_ours[40];
    snprintf(abi_theirs, sizeof(abi_theirs), "ABI %s", theirs);
    snprintf(abi_ours, sizeof(abi_ours), "ABI %s", ours);
    expect_refused("badabi", abi_theirs, abi_ours, NULL);
}

static void test_no_descriptor(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = path_join(f->test_drivers, "nodesc.so");

    expect_refused("nodesc", path, "no 'berth_driver' symbol", NULL);
}

static void test_incomplete(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = path_join(f->test_drivers, "incomplete.so");

    expect_refused("incomplete", path, "lacks a required operation", NULL);
}

static void test_misnamed(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = path_join(f->test_drivers, "misnamed.so");

    expect_refused("misnamed", path, "names itself", "\"other\"", NULL);
}

static void test_not_found(void **state)
{
    struct fixture *f = *state;

    expect_refused("nosuch", "nosuch", "not found", f->search, NULL);
}

static void test_invalid_name(void **state)
{
    (void)state;
    expect_refused("../x", "invalid name", "../x", NULL);
    expect_refused("", "invalid name", NULL);
    expect_refused("a/b", "invalid name", NULL);
    expect_refused("None", "invalid name", NULL);
    expect_refused("none.so", "invalid name", NULL);
}

/* A file that is not a shared object is refused with dlopen's reason. */
static void test_not_a_shared_object(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = path_join(f->dir, "garbage.so");
    _cleanup_free_ char *search = xasprintf("%s:%s", f->dir, f->search);
    berr_t err = NULL;

    assert_ok(write_file_atomic(path, "not ELF\n", 8, 0755, &err), err);
    setenv("BERTH_DRIVER_PATH", search, 1);
    expect_refused("garbage", path, "cannot load", NULL);
}

/* The first directory of the search path that has NAME.so wins. */
static void test_search_order(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *src = path_join(f->drivers, "none.so");
    _cleanup_free_ char *copy = path_join(f->dir, "none.so");
    _cleanup_free_ char *search = xasprintf("%s:%s", f->dir, f->drivers);
    _cleanup_free_ char *later = xasprintf("::%s:%s", f->drivers, f->dir);
    struct driver_handle *h = NULL;
    berr_t err = NULL;

    assert_ok(copy_file_atomic(src, copy, 0755, &err), err);
    setenv("BERTH_DRIVER_PATH", search, 1);
    assert_ok(driver_load("none", &h, &err), err);
    assert_string_equal(h->path, copy);
    driver_unload(h);
    h = NULL;

    /* Empty entries are skipped. */
    setenv("BERTH_DRIVER_PATH", later, 1);
    assert_ok(driver_load("none", &h, &err), err);
    assert_string_equal(h->path, src);
    driver_unload(h);
}

static void test_search_path(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *dir = exe_dir();
    _cleanup_free_ char *want = xasprintf("%s/../lib/berth/drivers", dir);
    char *got = driver_search_path();
    struct driver_handle *h = NULL;
    berr_t err = NULL;

    assert_string_equal(got, f->search);
    free(got);

    /* Without BERTH_DRIVER_PATH (or with it empty): next to the binary. */
    unsetenv("BERTH_DRIVER_PATH");
    got = driver_search_path();
    assert_string_equal(got, want);
    free(got);
    setenv("BERTH_DRIVER_PATH", "", 1);
    got = driver_search_path();
    assert_string_equal(got, want);
    free(got);

    /* The default finds the none driver of this build. */
    assert_ok(driver_load("none", &h, &err), err);
    assert_string_equal(h->drv->name, "none");
    driver_unload(h);
}

static bool has_name(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void test_list(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *twice = xasprintf("%s:%s:%s", f->drivers, f->search, f->dir);
    _cleanup_free_ char *notso = path_join(f->dir, "readme.txt");
    _cleanup_free_ char *so = path_join(f->dir, ".so");
    char **names = NULL;
    size_t n = 0;
    berr_t err = NULL;

    assert_ok(driver_list(&names, &n, &err), err);
    assert_true(has_name(names, n, "none"));
    assert_true(has_name(names, n, "badabi"));
    assert_true(has_name(names, n, "misnamed"));
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(names[i - 1], names[i]) < 0);
    free_names(names, n);

    /* Sorted and unique across repeated directories; other files and missing dirs ignored. */
    assert_ok(write_file_atomic(notso, "x", 1, 0644, &err), err);
    assert_ok(write_file_atomic(so, "x", 1, 0644, &err), err);
    setenv("BERTH_DRIVER_PATH", twice, 1);
    assert_ok(driver_list(&names, &n, &err), err);
    assert_true(has_name(names, n, "none"));
    assert_false(has_name(names, n, "readme.txt"));
    assert_false(has_name(names, n, ""));
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(names[i - 1], names[i]) < 0);
    free_names(names, n);

    setenv("BERTH_DRIVER_PATH", "/nonexistent/berth/drivers", 1);
    assert_ok(driver_list(&names, &n, &err), err);
    assert_int_equal(n, 0);
    free_names(names, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_abi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incomplete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misnamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_shared_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
