/* Unit tests for runtime-agent/volumes/: the store sweeps what a killed create or remove left
 * and keeps whole volumes only, names and options are checked with dockerd's texts, a volume
 * in use (by a container record or a create under way) is not removed, and copy-up copies a
 * tree with its owners and modes. Needs root (chown). */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/volumes/copy.h"
#include "runtime-agent/volumes/store.h"

struct fixture {
    char base[64];
    char *vols;
    struct vol_store *vs;
    const char *used; /* the volume the fake container store says is in use */
};

static json_t *users(void *ctx, const char *name)
{
    struct fixture *f = ctx;
    json_t *ids = json_array();
    if (f->used && strcmp(f->used, name) == 0)
        json_array_append_new(ids, json_string("c0ffee"));
    return ids;
}

static void mkdirs(const char *base, const char *rel)
{
    _cleanup_free_ char *p = path_join(base, rel);
    berr_t err = NULL;
    assert_ok(mkdir_p(p, 0755, &err), err);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    berr_t err = NULL;

    strcpy(f->base, "/tmp/berth-test-vol-XXXXXX");
    if (mkdtemp(f->base) == NULL)
        return -1;
    f->vols = path_join(f->base, "volumes");
    /* What killed operations leave, a whole volume and something that is not a volume. */
    mkdirs(f->vols, ".new-0123/_data");
    mkdirs(f->vols, ".trash-4567/_data/some/file");
    mkdirs(f->vols, "kept/_data/content");
    mkdirs(f->vols, "junk");
    _cleanup_free_ char *meta = path_join(f->vols, "kept/volume.json");
    const char *text =
        "{\"Name\":\"kept\",\"CreatedAt\":\"2020-01-02T03:04:05Z\",\"Labels\":{\"a\":\"b\"}}";
    if (write_file_atomic(meta, text, strlen(text), 0600, &err) < 0)
        return -1;
    if (vol_store_open(f->base, users, f, &f->vs, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;

    vol_store_close(f->vs);
    int r = rm_rf(f->base, &err);
    berr_free(&err);
    free(f->vols);
    free(f);
    return r;
}

static char *names(struct fixture *f)
{
    json_t *list = vol_list(f->vs), *v;
    char *out = NULL;
    size_t len = 0, i;
    FILE *fp = open_memstream(&out, &len);

    json_array_foreach(list, i, v)
    {
        fprintf(fp, "%s ", json_string_value(json_object_get(v, "Name")));
    }
    fclose(fp);
    json_decref(list);
    return out;
}

static bool exists(struct fixture *f, const char *rel)
{
    _cleanup_free_ char *p = path_join(f->vols, rel);
    return file_exists(p);
}

static void test_open_sweeps(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *list = names(f);
    json_t *info = NULL;
    berr_t err = NULL;

    assert_string_equal(list, "kept ");
    assert_false(exists(f, ".new-0123"));
    assert_false(exists(f, ".trash-4567"));
    assert_true(exists(f, "junk"));
    assert_true(exists(f, "kept/_data/content"));
    assert_ok(vol_inspect(f->vs, "kept", &info, &err), err);
    assert_string_equal(json_string_value(json_object_get(info, "CreatedAt")),
                        "2020-01-02T03:04:05Z");
    assert_string_equal(json_string_value(json_object_get(json_object_get(info, "Labels"), "a")),
                        "b");
    json_decref(info);
}

static void test_create_and_remove(void **state)
{
    struct fixture *f = *state;
    json_t *labels = json_pack("{s:s}", "tier", "db");
    struct vol_spec spec = {.name = "v1", .labels = labels};
    json_t *info = NULL;
    berr_t err = NULL;
    int64_t freed = -1;

    assert_ok(vol_create(f->vs, &spec, &info, &err), err);
    _cleanup_free_ char *mp = path_join(f->vols, "v1/_data");
    assert_string_equal(json_string_value(json_object_get(info, "Mountpoint")), mp);
    assert_string_equal(json_string_value(json_object_get(info, "Scope")), "local");
    json_decref(info);
    assert_true(exists(f, "v1/volume.json"));
    assert_ok(vol_create(f->vs, &spec, NULL, &err), err); /* again: the same volume */
    _cleanup_free_ char *data = path_join(mp, "f");
    assert_ok(write_file_atomic(data, "12345", 5, 0644, &err), err);
    assert_ok(vol_remove(f->vs, "v1", false, &freed, &err), err);
    assert_int_equal(freed, 5);
    assert_false(exists(f, "v1"));
    assert_int_equal(vol_remove(f->vs, "v1", false, NULL, &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    assert_string_equal(berr_msg(err), "get v1: no such volume");
    berr_free(&err);
    assert_ok(vol_remove(f->vs, "v1", true, NULL, &err), err);
    json_decref(labels);
    /* Nothing temporary is left behind. */
    _cleanup_free_ char *list = names(f);
    assert_string_equal(list, "kept ");
}

static void test_checks(void **state)
{
    struct fixture *f = *state;
    json_t *bad = json_pack("{s:s}", "colour", "red");
    json_t *half = json_pack("{s:s}", "type", "tmpfs");
    struct vol_spec spec = {.name = "bad/name"};
    berr_t err = NULL;

    assert_int_equal(vol_create(f->vs, &spec, NULL, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    assert_msg_has(err, "includes invalid characters for a local volume name");
    berr_free(&err);
    spec = (struct vol_spec){.name = "x", .options = bad};
    assert_int_equal(vol_create(f->vs, &spec, NULL, &err), -1);
    assert_msg_has(err, "includes invalid characters"); /* one character is too short */
    berr_free(&err);
    spec.name = "ok1";
    assert_int_equal(vol_create(f->vs, &spec, NULL, &err), -1);
    assert_string_equal(berr_msg(err), "invalid option: \"colour\"");
    berr_free(&err);
    spec.options = half;
    assert_int_equal(vol_create(f->vs, &spec, NULL, &err), -1);
    assert_string_equal(berr_msg(err), "missing required option: \"device\"");
    berr_free(&err);
    spec = (struct vol_spec){.name = "ok1", .driver = "nfs-plugin"};
    assert_int_equal(vol_create(f->vs, &spec, NULL, &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
    json_decref(bad);
    json_decref(half);
}

static void test_in_use(void **state)
{
    struct fixture *f = *state;
    struct vol_spec anon = {0};
    char *name = NULL;
    bool created = false;
    berr_t err = NULL;

    assert_ok(vol_acquire(f->vs, &anon, &name, &created, &err), err);
    assert_true(created);
    assert_int_equal(strlen(name), 64);
    json_t *info = NULL;
    assert_ok(vol_inspect(f->vs, name, &info, &err), err);
    assert_non_null(json_object_get(json_object_get(info, "Labels"), VOL_ANON_LABEL));
    json_decref(info);
    /* Held by a create under way. */
    assert_int_equal(vol_remove(f->vs, name, true, NULL, &err), -1);
    assert_int_equal(err->errnum, EBUSY);
    berr_free(&err);
    vol_release(f->vs, name);
    /* Named by a container record. */
    f->used = "kept";
    assert_int_equal(vol_remove(f->vs, "kept", true, NULL, &err), -1);
    assert_string_equal(berr_msg(err), "remove kept: volume is in use - [c0ffee]");
    berr_free(&err);
    f->used = NULL;
    assert_ok(vol_remove(f->vs, name, false, NULL, &err), err);
    assert_ok(vol_remove(f->vs, "kept", false, NULL, &err), err);
    free(name);
}

static void test_copy_up(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    struct stat st;

    mkdirs(f->base, "src/sub");
    mkdirs(f->base, "dst");
    _cleanup_free_ char *src = path_join(f->base, "src");
    _cleanup_free_ char *dst = path_join(f->base, "dst");
    _cleanup_free_ char *file = path_join(src, "sub/file");
    _cleanup_free_ char *lnk = path_join(src, "link");
    _cleanup_free_ char *hard = path_join(src, "hard");
    assert_ok(write_file_atomic(file, "x", 1, 0640, &err), err);
    assert_int_equal(chown(file, 1234, 2345), 0);
    assert_int_equal(symlink("sub/file", lnk), 0);
    assert_int_equal(link(file, hard), 0);
    assert_int_equal(chown(src, 1000, 1001), 0);
    assert_int_equal(chmod(src, 0750), 0);
    assert_true(vol_dir_empty(dst));
    int s = open(src, O_RDONLY | O_DIRECTORY), d = open(dst, O_RDONLY | O_DIRECTORY);
    assert_ok(vol_copy_up(s, d, &err), err);
    close(s);
    close(d);
    assert_false(vol_dir_empty(dst));
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_mode & 07777, 0750);
    _cleanup_free_ char *copy = path_join(dst, "sub/file");
    assert_int_equal(stat(copy, &st), 0);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 2345);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_nlink, 2);
    char target[64] = {0};
    _cleanup_free_ char *lcopy = path_join(dst, "link");
    assert_int_equal(readlink(lcopy, target, sizeof(target) - 1), 8);
    assert_string_equal(target, "sub/file");
    d = open(dst, O_RDONLY | O_DIRECTORY);
    vol_empty(d);
    close(d);
    assert_true(vol_dir_empty(dst));
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_volumes needs root (chown)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_sweeps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
