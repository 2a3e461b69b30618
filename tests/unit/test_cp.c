/* Unit tests for runtime-agent/containers/cp*.c: paths resolve inside a container root
 * whatever its symlinks say ("/", "../../..", host paths), hostile tars never write outside
 * it, a tree written by cp_extract comes back the same from cp_archive, and users resolve in
 * the container's own /etc files. Needs root (chown, mknod). */
#include "tests/unit/tarbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/cp.h"

/* BASE/canary/secret is a host file nothing may touch; BASE/root is the container's root. */
struct fixture {
    char base[64];
    char *root, *canary;
    int rootfd;
};

static void put_file(const char *path, const char *text)
{
    berr_t err = NULL;
    assert_ok(write_file_atomic(path, text, strlen(text), 0644, &err), err);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    berr_t err = NULL;

    strcpy(f->base, "/tmp/berth-test-cp-XXXXXX");
    if (mkdtemp(f->base) == NULL)
        return -1;
    f->root = path_join(f->base, "root");
    f->canary = path_join(f->base, "canary");
    _cleanup_free_ char *etc = path_join(f->root, "etc");
    _cleanup_free_ char *tmp = path_join(f->root, "tmp");
    if (mkdir_p(f->canary, 0755, &err) < 0 || mkdir_p(etc, 0755, &err) < 0 ||
        mkdir_p(tmp, 0755, &err) < 0)
        return -1;
    _cleanup_free_ char *secret = path_join(f->canary, "secret");
    put_file(secret, "host\n");
    _cleanup_free_ char *passwd = path_join(etc, "passwd");
    put_file(passwd, "root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n");
    _cleanup_free_ char *group = path_join(etc, "group");
    put_file(group, "root:x:0:\ngrp:x:3000:app\n");
    _cleanup_free_ char *l1 = path_join(f->root, "escape");
    _cleanup_free_ char *l2 = path_join(f->root, "up");
    _cleanup_free_ char *l3 = path_join(f->root, "hostlink");
    if (symlink("/", l1) < 0 || symlink("../../../..", l2) < 0 || symlink(f->canary, l3) < 0)
        return -1;
    f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    *state = f;
    return f->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->base, &err);

    berr_free(&err);
    close(f->rootfd);
    free(f->root);
    free(f->canary);
    free(f);
    return r;
}

/* The host's canary directory still holds only its untouched secret. */
static void assert_canary(struct fixture *f)
{
    _cleanup_free_ char *secret = path_join(f->canary, "secret");
    _cleanup_free_ char *text = NULL;
    berr_t err = NULL;
    struct stat st;

    assert_ok(read_file(secret, &text, NULL, &err), err);
    assert_string_equal(text, "host\n");
    _cleanup_free_ char *pwned = path_join(f->canary, "pwned");
    assert_int_equal(stat(pwned, &st), -1);
}

/* ---- tars in memory ------------------------------------------------------------------ */

static void tb_add(struct tarb *t, const char *name, mode_t type, mode_t perm, const char *data,
                   const char *link)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_uid(e, 1234);
    archive_entry_set_gid(e, 2345);
    archive_entry_set_mtime(e, 981173106, 0);
    archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
    if (link && type == AE_IFLNK)
        archive_entry_set_symlink(e, link);
    else if (link)
        archive_entry_set_hardlink(e, link);
    assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
    if (data)
        archive_write_data(t->a, data, strlen(data));
    archive_entry_free(e);
}

static int extract(struct fixture *f, const char *dir, struct tarb *t, struct cp_extract_opts *o,
                   berr_t *err)
{
    struct io_mem m = {t->buf.data, t->buf.len, 0};
    struct io_reader r = io_mem_reader(&m);
    struct cp_extract_opts none = {0};
    _cleanup_free_ char *resolved = cp_extract_dir(f->rootfd, dir, err);

    if (resolved == NULL)
        return -1;
    return cp_extract(f->rootfd, resolved, &r, o ? o : &none, err);
}

/* ---- resolution ---------------------------------------------------------------------- */

static void test_openat_in_root(void **state)
{
    struct fixture *f = *state;
    struct stat a, b;
    _cleanup_free_ char *tmp = path_join(f->root, "tmp");

    assert_int_equal(stat(tmp, &a), 0);
    int fd = cp_openat(f->rootfd, "/escape/tmp", O_PATH);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    close(fd);
    fd = cp_openat(f->rootfd, "up/up/../tmp", O_PATH);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    close(fd);
    /* The host path the link names does not exist in the container. */
    assert_int_equal(cp_openat(f->rootfd, "/hostlink/secret", O_RDONLY), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_follow(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    _cleanup_free_ char *a = cp_follow(f->rootfd, "/escape/tmp/x", &err);
    _cleanup_free_ char *b = cp_follow(f->rootfd, "/up/etc/../escape", &err);
    _cleanup_free_ char *c = cp_follow(f->rootfd, "/hostlink/secret", &err);
    _cleanup_free_ char *want = xasprintf("%s/secret", f->canary);

    assert_string_equal(a, "/tmp/x");
    assert_string_equal(b, "/");
    assert_string_equal(c, want); /* a path in the container, not the host's file */
    _cleanup_free_ char *loop = path_join(f->root, "loop");
    assert_int_equal(symlink("loop", loop), 0);
    assert_null(cp_follow(f->rootfd, "/loop", &err));
    berr_free(&err);
}

static void test_stat(void **state)
{
    struct fixture *f = *state;
    struct cp_stat st;
    berr_t err = NULL;

    assert_ok(cp_stat(f->rootfd, "/escape", &st, &err), err);
    assert_string_equal(st.name, "escape");
    assert_int_equal(st.mode, (1u << 27) | 0777);
    assert_string_equal(st.link_target, "/");
    cp_stat_free(&st);
    assert_ok(cp_stat(f->rootfd, "/escape/", &st, &err), err);
    assert_true(st.is_dir);
    assert_int_equal(st.mode & (1u << 31), 1u << 31);
    cp_stat_free(&st);
    assert_int_equal(cp_stat(f->rootfd, "/hostlink/secret", &st, &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
}

/* ---- extraction ---------------------------------------------------------------------- */

static void test_extract_refuses_climbing(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    berr_t err = NULL;

    tb_begin(&t);
    tb_add(&t, "../../canary/pwned", AE_IFREG, 0644, "x", NULL);
    tb_end(&t);
    assert_int_equal(extract(f, "/tmp", &t, NULL, &err), -1);
    assert_msg_has(err, "leaves");
    berr_free(&err);
    free(t.buf.data);
    tb_begin(&t);
    tb_add(&t, "hl", AE_IFREG, 0644, NULL, "../../canary/secret");
    tb_end(&t);
    assert_int_equal(extract(f, "/tmp", &t, NULL, &err), -1);
    assert_msg_has(err, "hard link");
    berr_free(&err);
    free(t.buf.data);
    assert_canary(f);
}

static void test_extract_through_links(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    berr_t err = NULL;
    _cleanup_free_ char *landed = xasprintf("%s/root%s/pwned", f->base, f->canary);
    struct stat st;

    _cleanup_free_ char *through = xasprintf("r2%s/pwned", f->canary);

    /* Through a link to "/" to where the host's directory is: made inside the container. */
    tb_begin(&t);
    tb_add(&t, "r2", AE_IFLNK, 0777, NULL, "/");
    tb_add(&t, through, AE_IFREG, 0644, "x", NULL);
    tb_end(&t);
    assert_ok(extract(f, "/tmp", &t, NULL, &err), err);
    free(t.buf.data);
    assert_int_equal(stat(landed, &st), 0);
    assert_canary(f);
    /* Extracting to a symlinked directory follows it inside the root. */
    tb_begin(&t);
    tb_add(&t, "via-escape", AE_IFREG, 0644, "x", NULL);
    tb_end(&t);
    assert_ok(extract(f, "/escape/tmp", &t, NULL, &err), err);
    free(t.buf.data);
    _cleanup_free_ char *via = path_join(f->root, "tmp/via-escape");
    assert_int_equal(stat(via, &st), 0);
}

static void test_extract_point(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;

    assert_null(cp_extract_dir(f->rootfd, "/etc/passwd", &err));
    assert_int_equal(err->errnum, EINVAL);
    assert_string_equal(berr_msg(err), "extraction point is not a directory");
    berr_free(&err);
    assert_null(cp_extract_dir(f->rootfd, "/hostlink", &err));
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
}

/* Read back a tar of PATH: "name type perm uid link|" for each entry. */
static char *archive_listing(struct fixture *f, const char *path)
{
    struct io_buf buf = {0};
    struct io_writer w = io_buf_writer(&buf);
    berr_t err = NULL;
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    struct archive_entry *e;

    assert_ok(cp_archive(f->rootfd, path, &w, &err), err);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, buf.data, buf.len), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *link =
            archive_entry_symlink(e) ? archive_entry_symlink(e) : archive_entry_hardlink(e);
        fprintf(fp, "%s %o %o %d %s|", archive_entry_pathname(e), archive_entry_filetype(e) >> 12,
                archive_entry_perm(e), (int)archive_entry_uid(e), link ? link : "");
    }
    archive_read_free(a);
    fclose(fp);
    free(buf.data);
    return out;
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    berr_t err = NULL;

    tb_begin(&t);
    tb_add(&t, "tree", AE_IFDIR, 0755, NULL, NULL);
    tb_add(&t, "tree/f", AE_IFREG, 04755, "data", NULL);
    tb_add(&t, "tree/hl", AE_IFREG, 0644, NULL, "tree/f");
    tb_add(&t, "tree/ln", AE_IFLNK, 0777, NULL, "../escape");
    tb_add(&t, "tree/fifo", AE_IFIFO, 0600, NULL, NULL);
    tb_add(&t, "tree/sub/deep", AE_IFREG, 0600, "deep", NULL);
    tb_end(&t);
    assert_ok(extract(f, "/tmp", &t, NULL, &err), err);
    free(t.buf.data);
    _cleanup_free_ char *list = archive_listing(f, "/tmp/tree");
    /* (Hard links read back without a type; directories end in '/'.) */
    assert_string_equal(list, "tree/ 4 755 1234 |tree/f 10 4755 1234 |tree/fifo 1 600 1234 |"
                              "tree/hl 0 4755 1234 tree/f|tree/ln 12 777 1234 ../escape|"
                              "tree/sub/ 4 755 0 |tree/sub/deep 10 600 1234 |");
    _cleanup_free_ char *dot = archive_listing(f, "/tmp/tree/sub/.");
    assert_string_equal(dot, "./ 4 755 0 |./deep 10 600 1234 |");
    /* A file over a directory is refused when asked to. */
    struct cp_extract_opts o = {.no_overwrite_dir_non_dir = true};
    tb_begin(&t);
    tb_add(&t, "tree/sub", AE_IFREG, 0644, "x", NULL);
    tb_end(&t);
    assert_int_equal(extract(f, "/tmp", &t, &o, &err), -1);
    assert_msg_has(err, "cannot overwrite directory");
    berr_free(&err);
    free(t.buf.data);
}

static void test_chown_and_users(void **state)
{
    struct fixture *f = *state;
    struct cp_extract_opts o = {.chown = true};
    struct tarb t;
    struct stat st;
    berr_t err = NULL;

    assert_ok(cp_lookup_user(f->rootfd, "app", &o.uid, &o.gid, &err), err);
    assert_int_equal(o.uid, 1001);
    assert_int_equal(o.gid, 1002);
    assert_ok(cp_lookup_user(f->rootfd, "app:grp", &o.uid, &o.gid, &err), err);
    assert_int_equal(o.gid, 3000);
    assert_ok(cp_lookup_user(f->rootfd, "77:88", &o.uid, &o.gid, &err), err);
    assert_int_equal(o.uid, 77);
    assert_int_equal(o.gid, 88);
    assert_int_equal(cp_lookup_user(f->rootfd, "ghost", &o.uid, &o.gid, &err), -1);
    assert_msg_has(err, "unable to find user ghost");
    berr_free(&err);
    tb_begin(&t);
    tb_add(&t, "owned", AE_IFREG, 0640, "x", NULL);
    tb_end(&t);
    assert_ok(extract(f, "/tmp", &t, &o, &err), err);
    free(t.buf.data);
    _cleanup_free_ char *owned = path_join(f->root, "tmp/owned");
    assert_int_equal(lstat(owned, &st), 0);
    assert_int_equal(st.st_uid, 77);
    assert_int_equal(st.st_gid, 88);
    assert_int_equal(st.st_mode & 07777, 0640);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_cp needs root (chown, mknod)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_openat_in_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_refuses_climbing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_through_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chown_and_users, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
