/* Unit tests for runtime-agent/image/layer.c (layer_apply) and pack.c
 * (layer_pack): hostile tars never write outside the target directory,
 * whiteouts become overlayfs whiteouts and back, the DiffID is the sha256 of
 * the uncompressed tar bytes. Needs root (mknod, chown, trusted.* xattrs). */
#include "tests/unit/tarbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/layer.h"
#include "runtime-agent/image/pack.h"

#define EMPTY_TAR_DIFF_ID "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

/* BASE/canary holds files no layer may touch; layers go to BASE/d1/d2/root. */
struct fixture {
    char base[64];
    char *canary, *root, *escape_dir;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    berr_t err = NULL;

    strcpy(f->base, "/tmp/berth-test-layer-XXXXXX");
    if (mkdtemp(f->base) == NULL)
        return -1;
    f->canary = path_join(f->base, "canary");
    f->root = path_join(f->base, "d1/d2/root");
    f->escape_dir = path_join(f->base, "d1");
    if (mkdir_p(f->canary, 0755, &err) < 0 || mkdir_p(f->root, 0755, &err) < 0)
        return -1;
    _cleanup_free_ char *passwd = path_join(f->canary, "passwd");
    if (write_file_atomic(passwd, "original\n", 9, 0644, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->base, &err);

    berr_free(&err);
    free(f->canary);
    free(f->root);
    free(f->escape_dir);
    free(f);
    return r;
}

static struct archive_entry *tb_entry(const char *path, mode_t type, mode_t perm)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_mtime(e, 1000000000, 0);
    return e;
}

static void tb_put(struct tarb *t, struct archive_entry *e, const char *data)
{
    size_t len = data ? strlen(data) : 0;

    if (archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == NULL)
        archive_entry_set_size(e, (la_int64_t)len);
    assert_true(archive_write_header(t->a, e) >= ARCHIVE_WARN);
    if (len)
        assert_int_equal(archive_write_data(t->a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
}

static void tb_file(struct tarb *t, const char *path, const char *data)
{
    tb_put(t, tb_entry(path, AE_IFREG, 0644), data);
}

static void tb_dir(struct tarb *t, const char *path)
{
    tb_put(t, tb_entry(path, AE_IFDIR, 0755), NULL);
}

static void tb_symlink(struct tarb *t, const char *path, const char *target)
{
    struct archive_entry *e = tb_entry(path, AE_IFLNK, 0777);

    archive_entry_set_symlink(e, target);
    tb_put(t, e, NULL);
}

static void tb_hardlink(struct tarb *t, const char *path, const char *target)
{
    struct archive_entry *e = tb_entry(path, AE_IFREG, 0644);

    archive_entry_set_hardlink(e, target);
    tb_put(t, e, NULL);
}

static int apply_buf(const char *dir, const struct io_buf *b, unsigned flags,
                     struct layer_info *info, berr_t *err)
{
    struct io_mem m = {.data = b->data, .len = b->len};
    struct io_reader r = io_mem_reader(&m);

    return layer_apply(dir, &r, NULL, flags, info, err);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    berr_t err = NULL;
    int r = read_file(path, &data, NULL, &err);

    assert_ok(r, err);
    return data;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Nothing outside the root changed: the canary file, its link count, its directory, and the
 * directories above the root. */
static void assert_contained(struct fixture *f)
{
    _cleanup_free_ char *passwd = path_join(f->canary, "passwd");
    _cleanup_free_ char *text = slurp(passwd);
    struct stat st;

    assert_string_equal(text, "original\n");
    assert_int_equal(lstat(passwd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(count_entries(f->canary), 1);
    assert_int_equal(count_entries(f->base), 2);       /* canary, d1 */
    assert_int_equal(count_entries(f->escape_dir), 1); /* d2 */
    _cleanup_free_ char *d2 = path_join(f->base, "d1/d2");
    assert_int_equal(count_entries(d2), 1); /* root */
}

/* Apply the tar T (ended here) to a fresh root; returns layer_apply's result. */
static int apply_hostile(struct fixture *f, struct tarb *t, berr_t *err)
{
    struct layer_info info;
    berr_t ignored = NULL;

    tb_end(t);
    rm_rf(f->root, &ignored);
    mkdir_p(f->root, 0755, &ignored);
    berr_free(&ignored);
    int r = apply_buf(f->root, &t->buf, 0, &info, err);
    free(t->buf.data);
    assert_contained(f);
    return r;
}

static void expect_refused(struct fixture *f, struct tarb *t, const char *why)
{
    berr_t err = NULL;

    if (apply_hostile(f, t, &err) == 0)
        fail_msg("a hostile layer (%s) was applied", why);
    assert_non_null(err);
    berr_free(&err);
}

static void test_dotdot(void **state)
{
    struct fixture *f = *state;
    struct tarb t;

    tb_begin(&t);
    tb_file(&t, "../../etc/x", "evil");
    expect_refused(f, &t, "../../etc/x");
    _cleanup_free_ char *x = path_join(f->escape_dir, "etc");
    assert_false(file_exists(x));

    tb_begin(&t);
    tb_file(&t, "ok/../../../../canary/passwd", "evil");
    expect_refused(f, &t, "ok/../../../../canary/passwd");

    /* ".." inside the tree is only a spelling. */
    berr_t err = NULL;
    tb_begin(&t);
    tb_file(&t, "a/b/../c", "fine");
    assert_ok(apply_hostile(f, &t, &err), err);
    _cleanup_free_ char *c = path_join(f->root, "a/c");
    _cleanup_free_ char *text = slurp(c);
    assert_string_equal(text, "fine");
}

static void test_absolute_path(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    berr_t err = NULL;
    _cleanup_free_ char *abs = path_join(f->canary, "new");

    /* An absolute name lands below the root, as Docker does. */
    tb_begin(&t);
    tb_file(&t, abs, "inside");
    assert_ok(apply_hostile(f, &t, &err), err);
    _cleanup_free_ char *inside = path_join(f->root, abs);
    _cleanup_free_ char *text = slurp(inside);
    assert_string_equal(text, "inside");
    assert_false(file_exists(abs));
}

static void test_symlink_to_root(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    _cleanup_free_ char *via = xasprintf("a%s/passwd", f->canary);

    tb_begin(&t);
    tb_symlink(&t, "a", "/");
    tb_file(&t, via, "evil");
    expect_refused(f, &t, "a -> / then a/.../passwd");

    /* The same through a symlink straight to the canary directory. */
    tb_begin(&t);
    tb_symlink(&t, "c", f->canary);
    tb_file(&t, "c/passwd", "evil");
    expect_refused(f, &t, "c -> canary then c/passwd");

    /* A directory entry through the symlink must not chmod/chown the target either. */
    tb_begin(&t);
    tb_symlink(&t, "c", f->canary);
    tb_dir(&t, "c/");
    berr_t err = NULL;
    apply_hostile(f, &t, &err);
    berr_free(&err);
    struct stat st;
    assert_int_equal(stat(f->canary, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_symlink_relative_escape(void **state)
{
    struct fixture *f = *state;
    struct tarb t;

    tb_begin(&t);
    tb_symlink(&t, "b", "../../..");
    tb_file(&t, "b/x", "evil");
    expect_refused(f, &t, "b -> ../../.. then b/x");
    _cleanup_free_ char *x = path_join(f->base, "x");
    assert_false(file_exists(x));

    tb_begin(&t);
    tb_symlink(&t, "b", "../../..");
    tb_file(&t, "b/canary/passwd", "evil");
    expect_refused(f, &t, "b -> ../../.. then b/canary/passwd");
}

static void test_hardlink_outside(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    _cleanup_free_ char *abs = path_join(f->canary, "passwd");

    tb_begin(&t);
    tb_hardlink(&t, "h", "../../../canary/passwd");
    expect_refused(f, &t, "hard link to ../../../canary/passwd");

    tb_begin(&t);
    tb_hardlink(&t, "h", abs);
    expect_refused(f, &t, "hard link to an absolute path");

    /* Through a symlink the archive made. */
    tb_begin(&t);
    tb_symlink(&t, "s", f->canary);
    tb_hardlink(&t, "h", "s/passwd");
    expect_refused(f, &t, "hard link through a symlink");
}

static void test_file_replaced_by_symlink(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    berr_t err = NULL;
    _cleanup_free_ char *abs = path_join(f->canary, "passwd");

    tb_begin(&t);
    tb_file(&t, "f", "first");
    tb_symlink(&t, "f", abs);
    tb_file(&t, "f", "evil");
    assert_ok(apply_hostile(f, &t, &err), err);
    _cleanup_free_ char *path = path_join(f->root, "f");
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    _cleanup_free_ char *text = slurp(path);
    assert_string_equal(text, "evil");

    /* A directory replaced by a symlink, then written through. */
    tb_begin(&t);
    tb_dir(&t, "d");
    tb_file(&t, "d/keep", "k");
    tb_symlink(&t, "d", f->canary);
    tb_file(&t, "d/passwd", "evil");
    expect_refused(f, &t, "directory replaced by a symlink");

    /* A hard link to a symlink links the symlink itself. */
    tb_begin(&t);
    tb_symlink(&t, "s", abs);
    tb_hardlink(&t, "h", "s");
    assert_ok(apply_hostile(f, &t, &err), err);
    _cleanup_free_ char *h = path_join(f->root, "h");
    assert_int_equal(lstat(h, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void assert_whiteout(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        fail_msg("%s: %s", path, strerror(errno));
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 0);
    assert_int_equal(minor(st.st_rdev), 0);
}

static bool has_opaque(const char *path)
{
    char v[4];
    ssize_t n = lgetxattr(path, "trusted.overlay.opaque", v, sizeof(v));

    return n == 1 && v[0] == 'y';
}

static void test_whiteouts(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    struct layer_info info;
    berr_t err = NULL;

    tb_begin(&t);
    tb_dir(&t, "dir");
    tb_file(&t, "dir/.wh..wh..opq", NULL);
    tb_file(&t, "dir/.wh.gone", NULL);
    tb_file(&t, "dir/keep", "kept");
    tb_file(&t, ".wh.top", NULL);
    tb_file(&t, "deep/er/.wh.x", NULL);
    tb_dir(&t, ".wh..wh.plnk");
    tb_file(&t, ".wh..wh.plnk/123.456", "aufs");
    tb_file(&t, "dir/.wh..wh.other", NULL);
    /* An archive may not fake overlay metadata through xattrs. */
    struct archive_entry *e = tb_entry("fake", AE_IFDIR, 0755);
    archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
    archive_entry_xattr_add_entry(e, "user.keep", "v", 1);
    tb_put(&t, e, NULL);
    tb_end(&t);
    assert_ok(apply_buf(f->root, &t.buf, 0, &info, &err), err);
    free(t.buf.data);

    _cleanup_free_ char *dir = path_join(f->root, "dir");
    _cleanup_free_ char *gone = path_join(f->root, "dir/gone");
    _cleanup_free_ char *top = path_join(f->root, "top");
    _cleanup_free_ char *x = path_join(f->root, "deep/er/x");
    _cleanup_free_ char *fake = path_join(f->root, "fake");
    assert_true(has_opaque(dir));
    assert_whiteout(gone);
    assert_whiteout(top);
    assert_whiteout(x);
    assert_false(has_opaque(fake));
    char v[4];
    assert_int_equal(lgetxattr(fake, "user.keep", v, sizeof(v)), 1);
    /* dir: gone, keep; root: dir, top, deep, fake (no .wh. names, no AUFS metadata). */
    assert_int_equal(count_entries(dir), 2);
    assert_int_equal(count_entries(f->root), 4);

    /* LAYER_PLAIN keeps .wh. names as they are. */
    _cleanup_free_ char *plain = path_join(f->base, "plain");
    mkdir(plain, 0755);
    tb_begin(&t);
    tb_file(&t, ".wh.top", "x");
    tb_put(&t, tb_entry("dev", AE_IFCHR, 0600), NULL);
    tb_end(&t);
    assert_ok(apply_buf(plain, &t.buf, LAYER_PLAIN, &info, &err), err);
    free(t.buf.data);
    _cleanup_free_ char *wh = path_join(plain, ".wh.top");
    _cleanup_free_ char *dev = path_join(plain, "dev");
    assert_true(file_exists(wh));
    assert_false(file_exists(dev));
    rm_rf(plain, &err);
}

static void sha256_hex(const void *data, size_t len, char out[DIGEST_SIZE])
{
    unsigned char md[32];
    unsigned int n;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (unsigned int i = 0; i < n; i++)
        sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

/* OUT = IN compressed with gzip (libarchive's raw format carries the bytes unchanged). */
static void gzip_buf(const struct io_buf *in, struct io_buf *out)
{
    struct io_writer w;
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    memset(out, 0, sizeof(*out));
    w = io_buf_writer(out);
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    assert_int_equal(io_archive_write_open(a, &w), ARCHIVE_OK);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)in->len);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, in->data, in->len), (la_ssize_t)in->len);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    archive_entry_free(e);
    assert_true(out->len > 2 && (unsigned char)out->data[0] == 0x1f);
}

static void test_diff_id(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    struct io_buf gz;
    struct layer_info info, info_gz;
    struct io_buf copy = {0};
    struct io_writer cw = io_buf_writer(&copy);
    char want[DIGEST_SIZE];
    berr_t err = NULL;

    tb_begin(&t);
    tb_dir(&t, "etc");
    tb_file(&t, "etc/hostname", "berth\n");
    tb_file(&t, "bin/sh", "#!/bin/true\n");
    tb_end(&t);
    gzip_buf(&t.buf, &gz);
    /* Default libarchive blocking pads the tar to 10240 bytes: all of it counts. */
    assert_int_equal(t.buf.len, 10240);
    sha256_hex(t.buf.data, t.buf.len, want);

    struct io_mem m = {.data = t.buf.data, .len = t.buf.len};
    struct io_reader r = io_mem_reader(&m);
    assert_ok(layer_apply(f->root, &r, &cw, 0, &info, &err), err);
    assert_string_equal(info.diff_id, want);
    assert_int_equal(info.tar_size, t.buf.len);
    assert_int_equal(info.size, 6 + 12);
    assert_int_equal(copy.len, t.buf.len);
    assert_memory_equal(copy.data, t.buf.data, t.buf.len);

    /* Compressed input: the DiffID is that of the uncompressed bytes. */
    _cleanup_free_ char *other = path_join(f->base, "other");
    mkdir(other, 0755);
    assert_ok(apply_buf(other, &gz, 0, &info_gz, &err), err);
    assert_string_equal(info_gz.diff_id, want);
    _cleanup_free_ char *hn = path_join(other, "etc/hostname");
    _cleanup_free_ char *text = slurp(hn);
    assert_string_equal(text, "berth\n");

    /* An empty stream is an empty layer; garbage is refused. */
    struct io_buf empty = {0};
    assert_ok(apply_buf(other, &empty, 0, &info, &err), err);
    assert_string_equal(info.diff_id,
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    struct io_buf junk = {.data = "this is not a tar archive at all", .len = 32};
    assert_int_equal(apply_buf(other, &junk, 0, &info, &err), -1);
    assert_non_null(err);
    berr_free(&err);

    /* A truncated tar is refused. */
    struct io_buf cut = {.data = t.buf.data, .len = 700};
    assert_int_equal(apply_buf(other, &cut, 0, &info, &err), -1);
    berr_free(&err);
    free(t.buf.data);
    free(gz.data);
    free(copy.data);
}

static void test_metadata(void **state)
{
    struct fixture *f = *state;
    struct tarb t;
    struct layer_info info;
    berr_t err = NULL;
    struct stat st;

    tb_begin(&t);
    struct archive_entry *e = tb_entry("bin/su", AE_IFREG, 04755);
    archive_entry_set_uid(e, 1234);
    archive_entry_set_gid(e, 5678);
    archive_entry_set_mtime(e, 1234567890, 500);
    archive_entry_xattr_add_entry(e, "user.note", "hello", 5);
    tb_put(&t, e, "binary");
    e = tb_entry("home/u", AE_IFDIR, 0700);
    archive_entry_set_uid(e, 1000);
    archive_entry_set_gid(e, 1000);
    archive_entry_set_mtime(e, 1111111111, 0);
    tb_put(&t, e, NULL);
    tb_file(&t, "home/u/.profile", "x");
    e = tb_entry("home/u/link", AE_IFLNK, 0777);
    archive_entry_set_symlink(e, "/nonexistent");
    archive_entry_set_uid(e, 1000);
    archive_entry_set_gid(e, 1001);
    tb_put(&t, e, NULL);
    tb_hardlink(&t, "bin/su2", "bin/su");
    e = tb_entry("dev/null", AE_IFCHR, 0666);
    archive_entry_set_rdev(e, makedev(1, 3));
    tb_put(&t, e, NULL);
    tb_put(&t, tb_entry("run/fifo", AE_IFIFO, 0600), NULL);
    tb_end(&t);
    assert_ok(apply_buf(f->root, &t.buf, 0, &info, &err), err);
    free(t.buf.data);

    _cleanup_free_ char *su = path_join(f->root, "bin/su");
    assert_int_equal(lstat(su, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(st.st_mtim.tv_sec, 1234567890);
    assert_int_equal(st.st_nlink, 2);
    char v[8];
    assert_int_equal(lgetxattr(su, "user.note", v, sizeof(v)), 5);
    _cleanup_free_ char *u = path_join(f->root, "home/u");
    assert_int_equal(lstat(u, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_mtim.tv_sec, 1111111111); /* after its child was written */
    _cleanup_free_ char *link = path_join(f->root, "home/u/link");
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_gid, 1001);
    _cleanup_free_ char *null = path_join(f->root, "dev/null");
    assert_int_equal(lstat(null, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(1, 3));
    _cleanup_free_ char *fifo = path_join(f->root, "run/fifo");
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
}

/* The entries of tar BUF as "name type" lines, type being f, d, l, h (hard link), c. */
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
        _cleanup_free_ char *line = xasprintf("%s %c\n", archive_entry_pathname(e), type);
        w.write(w.ctx, line, strlen(line));
    }
    archive_read_free(a);
    return out.data ? out.data : xstrdup("");
}

static void test_pack(void **state)
{
    struct fixture *f = *state;
    struct io_buf tar = {0};
    struct io_writer w = io_buf_writer(&tar);
    struct layer_info info;
    berr_t err = NULL;
    _cleanup_free_ char *upper = path_join(f->base, "upper");
    _cleanup_free_ char *p = NULL;

    mkdir(upper, 0755);
    p = path_join(upper, "etc");
    mkdir(p, 0755);
    free(p);
    p = path_join(upper, "etc/passwd");
    write_file_atomic(p, "root:x:0:0\n", 11, 0644, &err);
    free(p);
    p = path_join(upper, "etc/passwd-link");
    _cleanup_free_ char *target = path_join(upper, "etc/passwd");
    assert_int_equal(link(target, p), 0);
    free(p);
    p = path_join(upper, "gone");
    assert_int_equal(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0);
    free(p);
    p = path_join(upper, "opaque");
    mkdir(p, 0755);
    assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
    free(p);
    p = path_join(upper, "opaque/new");
    write_file_atomic(p, "n", 1, 0644, &err);
    free(p);
    p = path_join(upper, "sh");
    assert_int_equal(symlink("/bin/busybox", p), 0);

    assert_ok(layer_pack(upper, &w, &err), err);
    _cleanup_free_ char *listing = list_tar(&tar);
    assert_string_equal(listing, "etc/ d\n"
                                 "etc/passwd f\n"
                                 "etc/passwd-link h\n"
                                 ".wh.gone f\n"
                                 "opaque/ d\n"
                                 "opaque/.wh..wh..opq f\n"
                                 "opaque/new f\n"
                                 "sh l\n");
    /* Packing is deterministic. */
    struct io_buf again = {0};
    struct io_writer w2 = io_buf_writer(&again);
    assert_ok(layer_pack(upper, &w2, &err), err);
    assert_int_equal(again.len, tar.len);
    assert_memory_equal(again.data, tar.data, tar.len);
    free(again.data);

    /* And applying the tar gives back the overlay form. */
    assert_ok(apply_buf(f->root, &tar, 0, &info, &err), err);
    char want[DIGEST_SIZE];
    sha256_hex(tar.data, tar.len, want);
    assert_string_equal(info.diff_id, want);
    _cleanup_free_ char *gone = path_join(f->root, "gone");
    _cleanup_free_ char *opaque = path_join(f->root, "opaque");
    _cleanup_free_ char *pl = path_join(f->root, "etc/passwd-link");
    assert_whiteout(gone);
    assert_true(has_opaque(opaque));
    struct stat st;
    assert_int_equal(lstat(pl, &st), 0);
    assert_int_equal(st.st_nlink, 2);
    free(tar.data);

    /* An empty directory packs to the two end-of-archive blocks Docker's empty layer has. */
    _cleanup_free_ char *empty = path_join(f->base, "empty");
    mkdir(empty, 0755);
    struct io_buf et = {0};
    struct io_writer ew = io_buf_writer(&et);
    assert_ok(layer_pack(empty, &ew, &err), err);
    assert_int_equal(et.len, 1024);
    sha256_hex(et.data, et.len, want);
    assert_string_equal(want, EMPTY_TAR_DIFF_ID);
    free(et.data);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_image_layer needs root (mknod, chown, trusted.* xattrs)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dotdot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_to_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_relative_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_replaced_by_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
