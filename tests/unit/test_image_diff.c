/* Unit tests for runtime-agent/image/diff.c (docker diff's change list, berthd's mount-point
 * stubs) and the upper-dir layer writer (layer_pack_skip): an upper dir with added, modified
 * and deleted files, whiteout devices, an opaque directory, a symlink and a hard link gives
 * Docker's entries, and applying the tar with layer_apply gives the upper dir back. Needs root
 * (mknod, trusted.* xattrs). */
#include "tests/unit/testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/diff.h"
#include "runtime-agent/image/layer.h"
#include "runtime-agent/image/pack.h"

struct fixture {
    char base[64];
    char *lower, *upper, *applied;
};

static void put(const char *dir, const char *rel, const char *text)
{
    _cleanup_free_ char *p = path_join(dir, rel);
    berr_t err = NULL;

    assert_ok(write_file_atomic(p, text, strlen(text), 0644, &err), err);
}

static void dir(const char *root, const char *rel)
{
    _cleanup_free_ char *p = path_join(root, rel);
    berr_t err = NULL;

    assert_ok(mkdir_p(p, 0755, &err), err);
}

/* Give REL in UPPER the mode and times it has in LOWER (a copied-up, unchanged directory). */
static void same_as_lower(struct fixture *f, const char *rel)
{
    _cleanup_free_ char *lo = path_join(f->lower, rel), *up = path_join(f->upper, rel);
    struct stat st;

    assert_int_equal(stat(lo, &st), 0);
    assert_int_equal(chmod(up, st.st_mode & 07777), 0);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, up, ts, 0), 0);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    strcpy(f->base, "/tmp/berth-test-diff-XXXXXX");
    if (mkdtemp(f->base) == NULL)
        return -1;
    f->lower = path_join(f->base, "lower");
    f->upper = path_join(f->base, "upper");
    f->applied = path_join(f->base, "applied");
    *state = f;

    /* The image: /etc/{passwd,motd}, /srv/old/a, /usr/bin/tool, /var (untouched). */
    dir(f->lower, "etc");
    put(f->lower, "etc/passwd", "root:x:0:0\n");
    put(f->lower, "etc/motd", "hi\n");
    dir(f->lower, "srv/old");
    put(f->lower, "srv/old/a", "a\n");
    dir(f->lower, "usr/bin");
    put(f->lower, "usr/bin/tool", "v1\n");
    dir(f->lower, "var");

    /* The container: passwd modified, motd deleted, /srv/old removed and made again (opaque)
     * with b, a new /new dir with a file, a hard link and a symlink that points out of the
     * root, /usr/bin/tool deleted in an unchanged /usr; berthd's stubs /etc/hosts (empty) and
     * /proc (empty dir). */
    dir(f->upper, "etc");
    put(f->upper, "etc/passwd", "root:x:0:0\nme:x:1:1\n");
    _cleanup_free_ char *motd = path_join(f->upper, "etc/motd");
    assert_int_equal(mknod(motd, S_IFCHR, makedev(0, 0)), 0);
    put(f->upper, "etc/hosts", "");
    dir(f->upper, "proc");
    dir(f->upper, "srv/old");
    _cleanup_free_ char *old = path_join(f->upper, "srv/old");
    assert_int_equal(setxattr(old, "trusted.overlay.opaque", "y", 1, 0), 0);
    put(f->upper, "srv/old/b", "b\n");
    dir(f->upper, "new");
    put(f->upper, "new/file", "content\n");
    _cleanup_free_ char *file = path_join(f->upper, "new/file");
    _cleanup_free_ char *hard = path_join(f->upper, "new/hard");
    assert_int_equal(link(file, hard), 0);
    _cleanup_free_ char *sym = path_join(f->upper, "new/escape");
    assert_int_equal(symlink("../../../../etc", sym), 0);
    dir(f->upper, "usr/bin");
    _cleanup_free_ char *tool = path_join(f->upper, "usr/bin/tool");
    assert_int_equal(mknod(tool, S_IFCHR, makedev(0, 0)), 0);
    same_as_lower(f, "usr");
    dir(f->applied, "");
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->base, &err);

    berr_free(&err);
    free(f->lower);
    free(f->upper);
    free(f->applied);
    free(f);
    return r;
}

static const char *const stubs[] = {"etc/hosts", "etc/hostname", "proc", "sys", "dev"};

static void find_stubs(struct fixture *f, struct diff_skip *skip)
{
    berr_t err = NULL;

    assert_ok(diff_find_stubs(f->upper, stubs, sizeof(stubs) / sizeof(stubs[0]), skip, &err), err);
}

static void test_stubs(void **state)
{
    struct fixture *f = *state;
    struct diff_skip skip = {0};

    find_stubs(f, &skip);
    assert_true(diff_skipped(&skip, "etc/hosts"));
    assert_true(diff_skipped(&skip, "proc"));
    assert_false(diff_skipped(&skip, "etc")); /* it has other changes */
    assert_false(diff_skipped(&skip, "sys")); /* not there */
    diff_skip_clear(&skip);

    /* A stub with content is the container's own file; a directory holding only stubs goes. */
    put(f->upper, "etc/hosts", "1.2.3.4 x\n");
    dir(f->upper, "only");
    put(f->upper, "only/hosts", "");
    const char *const more[] = {"etc/hosts", "only/hosts"};
    berr_t err = NULL;
    assert_ok(diff_find_stubs(f->upper, more, 2, &skip, &err), err);
    assert_false(diff_skipped(&skip, "etc/hosts"));
    assert_true(diff_skipped(&skip, "only/hosts"));
    assert_true(diff_skipped(&skip, "only"));
    diff_skip_clear(&skip);
}

static void test_changes(void **state)
{
    struct fixture *f = *state;
    struct diff_skip skip = {0};
    json_t *changes = NULL;
    berr_t err = NULL;
    char *lowers[] = {f->lower};

    find_stubs(f, &skip);
    assert_ok(diff_changes(f->upper, lowers, 1, &skip, &changes, &err), err);
    diff_skip_clear(&skip);
    char *text = json_dumps(changes, JSON_COMPACT);
    assert_string_equal(text, "[{\"Path\":\"/etc\",\"Kind\":0},"
                              "{\"Path\":\"/etc/motd\",\"Kind\":2},"
                              "{\"Path\":\"/etc/passwd\",\"Kind\":0},"
                              "{\"Path\":\"/new\",\"Kind\":1},"
                              "{\"Path\":\"/new/escape\",\"Kind\":1},"
                              "{\"Path\":\"/new/file\",\"Kind\":1},"
                              "{\"Path\":\"/new/hard\",\"Kind\":1},"
                              "{\"Path\":\"/srv\",\"Kind\":0},"
                              "{\"Path\":\"/srv/old\",\"Kind\":2},"
                              "{\"Path\":\"/srv/old/b\",\"Kind\":1},"
                              "{\"Path\":\"/usr/bin\",\"Kind\":0},"
                              "{\"Path\":\"/usr/bin/tool\",\"Kind\":2}]");
    free(text);
    json_decref(changes);
}

/* "path type" lines of the tar in B: f file, d dir, l symlink, h hard link, c char device. */
static char *list_tar(const struct io_buf *b)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    struct io_buf out = {0};
    struct io_writer w = io_buf_writer(&out);

    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, b->data, b->len), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char type = archive_entry_hardlink(e)               ? 'h'
                    : archive_entry_filetype(e) == AE_IFDIR ? 'd'
                    : archive_entry_filetype(e) == AE_IFLNK ? 'l'
                    : archive_entry_filetype(e) == AE_IFCHR ? 'c'
                                                            : 'f';
        _cleanup_free_ char *line =
            xasprintf("%s %c %o\n", archive_entry_pathname(e), type, archive_entry_perm(e));
        w.write(w.ctx, line, strlen(line));
    }
    archive_read_free(a);
    return out.data ? out.data : xstrdup("");
}

static void pack(struct fixture *f, struct io_buf *tar)
{
    struct diff_skip skip = {0};
    struct io_writer w = io_buf_writer(tar);
    berr_t err = NULL;

    find_stubs(f, &skip);
    assert_ok(layer_pack_skip(f->upper, &skip, &w, &err), err);
    diff_skip_clear(&skip);
}

static bool is_whiteout(const char *root, const char *rel)
{
    _cleanup_free_ char *p = path_join(root, rel);
    struct stat st;

    return lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

static void test_pack_and_apply(void **state)
{
    struct fixture *f = *state;
    struct io_buf tar = {0}, again = {0};
    struct layer_info info;
    berr_t err = NULL;

    pack(f, &tar);
    _cleanup_free_ char *listing = list_tar(&tar);
    assert_string_equal(listing, "etc/ d 755\n"
                                 "etc/.wh.motd f 600\n"
                                 "etc/passwd f 644\n"
                                 "new/ d 755\n"
                                 "new/escape l 777\n"
                                 "new/file f 644\n"
                                 "new/hard h 644\n"
                                 "srv/ d 755\n"
                                 "srv/old/ d 755\n"
                                 "srv/old/.wh..wh..opq f 755\n"
                                 "srv/old/b f 644\n"
                                 "usr/ d 755\n"
                                 "usr/bin/ d 755\n"
                                 "usr/bin/.wh.tool f 600\n");
    /* The same tree gives the same bytes. */
    pack(f, &again);
    assert_int_equal(again.len, tar.len);
    assert_memory_equal(again.data, tar.data, tar.len);
    free(again.data);

    /* Applied with the layer applier, the tar gives the upper dir back (stubs aside). */
    struct io_mem m = {tar.data, tar.len, 0};
    struct io_reader r = io_mem_reader(&m);
    assert_ok(layer_apply(f->applied, &r, NULL, 0, &info, &err), err);
    assert_true(is_whiteout(f->applied, "etc/motd"));
    assert_true(is_whiteout(f->applied, "usr/bin/tool"));
    _cleanup_free_ char *old = path_join(f->applied, "srv/old");
    char v[2];
    assert_int_equal(getxattr(old, "trusted.overlay.opaque", v, sizeof(v)), 1);
    assert_int_equal(v[0], 'y');
    _cleanup_free_ char *hard = path_join(f->applied, "new/hard");
    struct stat st;
    assert_int_equal(lstat(hard, &st), 0);
    assert_int_equal(st.st_nlink, 2);
    _cleanup_free_ char *sym = path_join(f->applied, "new/escape");
    char target[64] = "";
    assert_true(readlink(sym, target, sizeof(target) - 1) > 0);
    assert_string_equal(target, "../../../../etc");
    _cleanup_free_ char *passwd = path_join(f->applied, "etc/passwd");
    _cleanup_free_ char *content = NULL;
    size_t len;
    assert_ok(read_file(passwd, &content, &len, &err), err);
    assert_string_equal(content, "root:x:0:0\nme:x:1:1\n");
    _cleanup_free_ char *hosts = path_join(f->applied, "etc/hosts");
    _cleanup_free_ char *proc = path_join(f->applied, "proc");
    assert_int_equal(lstat(hosts, &st), -1);
    assert_int_equal(lstat(proc, &st), -1);

    /* And the change list of what was applied, over the same lower, is the same. */
    json_t *a = NULL, *b = NULL;
    char *lowers[] = {f->lower};
    struct diff_skip skip = {0};
    find_stubs(f, &skip);
    assert_ok(diff_changes(f->upper, lowers, 1, &skip, &a, &err), err);
    assert_ok(diff_changes(f->applied, lowers, 1, NULL, &b, &err), err);
    diff_skip_clear(&skip);
    /* (/usr: its whole-second time in the tar still matches the lower's, as in Docker.) */
    char *ta = json_dumps(a, JSON_COMPACT), *tb = json_dumps(b, JSON_COMPACT);
    assert_string_equal(tb, ta);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    free(tar.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stubs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_and_apply, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
