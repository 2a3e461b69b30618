/* Unit tests for runtime-agent/image/store.c and its companions (tag,
 * delete, create, query, save, load): content addressing, resolution,
 * Docker's rmi rules, save/load round trips and digest checks, persistence
 * and concurrent use. Needs root (layers keep owners and device nodes). */
#include "tests/unit/tarbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/digest.h"
#include "runtime-agent/image/store.h"

struct fixture {
    char dir[64];
    char *root;
    struct image_store *s;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    berr_t err = NULL;

    strcpy(f->dir, "/tmp/berth-test-image-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->root = path_join(f->dir, "image");
    if (image_store_open(f->root, &f->s, &err) < 0) {
        fprintf(stderr, "%s\n", berr_msg(err));
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;

    image_store_close(f->s);
    int r = rm_rf(f->dir, &err);
    berr_free(&err);
    free(f->root);
    free(f);
    return r;
}

/* Fail unless ERR is set with errnum CODE and a message containing WANT; then free it. */
static void assert_err(berr_t *err, int code, const char *want)
{
    assert_non_null(*err);
    if (strstr(berr_msg(*err), want) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", berr_msg(*err), want);
    assert_int_equal((*err)->errnum, code);
    berr_free(err);
}

/* A rootfs tar in memory: a few files whose content depends on SEED. */
static struct io_buf rootfs_tar(const char *seed)
{
    struct tarb t;
    const char *files[][2] = {{"etc/hostname", seed}, {"bin/hello", "#!/bin/sh\necho hi\n"}};

    tb_begin(&t);
    for (size_t i = 0; i < 2; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, files[i][0]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0755);
        archive_entry_set_size(e, (la_int64_t)strlen(files[i][1]));
        archive_entry_set_mtime(e, 1700000000, 0);
        assert_int_equal(archive_write_header(t.a, e), ARCHIVE_OK);
        archive_write_data(t.a, files[i][1], strlen(files[i][1]));
        archive_entry_free(e);
    }
    tb_end(&t);
    return t.buf;
}

static char *import(struct image_store *s, const char *seed, const char *ref, json_t *changes)
{
    struct io_buf tar = rootfs_tar(seed);
    struct io_mem m = {.data = tar.data, .len = tar.len};
    struct io_reader r = io_mem_reader(&m);
    struct image_import_opts opts = {.ref = ref, .changes = changes};
    berr_t err = NULL;
    char *id = NULL;

    assert_ok(image_import(s, &r, &opts, &id, &err), err);
    free(tar.data);
    return id;
}

static char *slurp(const char *path, size_t *len)
{
    char *data = NULL;
    berr_t err = NULL;

    assert_ok(read_file(path, &data, len, &err), err);
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

static size_t count_layers(struct fixture *f)
{
    _cleanup_free_ char *layers = path_join(f->root, "layers");
    return count_entries(layers);
}

static void assert_resolves(struct image_store *s, const char *name, const char *id)
{
    berr_t err = NULL;
    char *got = NULL;

    if (image_resolve(s, name, &got, &err) < 0)
        fail_msg("resolve %s: %s", name, berr_msg(err));
    assert_string_equal(got, id);
    free(got);
}

static void assert_resolves_any(struct image_store *s, const char *name)
{
    berr_t err = NULL;
    char *got = NULL;

    assert_ok(image_resolve(s, name, &got, &err), err);
    free(got);
}

static void assert_missing(struct image_store *s, const char *name)
{
    berr_t err = NULL;
    char *got = NULL;

    assert_int_equal(image_resolve(s, name, &got, &err), -1);
    assert_err(&err, ENOENT, "No such image: ");
}

static void test_import(void **state)
{
    struct fixture *f = *state;
    struct io_buf tar = rootfs_tar("one");
    struct io_mem m = {.data = tar.data, .len = tar.len};
    struct io_reader r = io_mem_reader(&m);
    struct image_import_opts opts = {.ref = "myimg:1"};
    berr_t err = NULL;
    char *id = NULL, sum[DIGEST_SIZE], diff[DIGEST_SIZE];
    size_t len;

    assert_ok(image_import(f->s, &r, &opts, &id, &err), err);
    assert_true(digest_valid(id));
    /* The ID is the sha256 of the stored config bytes. */
    _cleanup_free_ char *cpath = xasprintf("%s/configs/%s.json", f->root, id + 7);
    _cleanup_free_ char *bytes = slurp(cpath, &len);
    sha256_digest(bytes, len, sum);
    assert_string_equal(sum, id);
    sha256_digest(tar.data, tar.len, diff);

    json_t *config = NULL;
    assert_ok(image_get_config(f->s, "myimg:1", &config, &err), err);
    assert_string_equal(json_string_value(json_object_get(config, "os")), "linux");
    assert_non_null(json_string_value(json_object_get(config, "architecture")));
    assert_string_equal(json_string_value(json_object_get(config, "comment")), "Imported from -");
    json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    assert_int_equal(json_array_size(ids), 1);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), diff);
    assert_true(json_is_null(json_object_get(json_object_get(config, "config"), "Cmd")));
    json_t *h0 = json_array_get(json_object_get(config, "history"), 0);
    assert_string_equal(json_string_value(json_object_get(h0, "comment")), "Imported from -");
    json_decref(config);

    /* The layer: its diff dir holds the files, layer.tar the exact bytes. */
    char **dirs;
    size_t n;
    assert_ok(image_layer_dirs(f->s, id, &dirs, &n, &err), err);
    assert_int_equal(n, 1);
    _cleanup_free_ char *want_dir = xasprintf("%s/layers/%s/diff", f->root, diff + 7);
    assert_string_equal(dirs[0], want_dir);
    _cleanup_free_ char *hostname = path_join(dirs[0], "etc/hostname");
    _cleanup_free_ char *text = slurp(hostname, NULL);
    assert_string_equal(text, "one");
    image_free_dirs(dirs, n);
    _cleanup_free_ char *ltar = xasprintf("%s/layers/%s/layer.tar", f->root, diff + 7);
    _cleanup_free_ char *lbytes = slurp(ltar, &len);
    assert_int_equal(len, tar.len);
    assert_memory_equal(lbytes, tar.data, len);
    assert_int_equal(image_count(f->s), 1);
    free(tar.data);
    free(id);

    /* Gzip input gives the same layer (DiffID of the uncompressed tar). */
    struct io_buf gz = {0};
    struct io_writer w = io_buf_writer(&gz);
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    struct io_buf again = rootfs_tar("one");
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    io_archive_write_open(a, &w);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_write_header(a, e);
    archive_write_data(a, again.data, again.len);
    archive_write_close(a);
    archive_write_free(a);
    archive_entry_free(e);
    struct io_mem gm = {.data = gz.data, .len = gz.len};
    struct io_reader gr = io_mem_reader(&gm);
    char *id2 = NULL;
    assert_ok(image_import(f->s, &gr, NULL, &id2, &err), err);
    assert_ok(image_get_config(f->s, id2, &config, &err), err);
    ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    assert_string_equal(json_string_value(json_array_get(ids, 0)), diff);
    json_decref(config);
    assert_int_equal(count_layers(f), 1);
    free(gz.data);
    free(again.data);
    free(id2);

    /* A bad reference is refused before the stream is read; a bad stream leaves nothing. */
    struct io_mem junk_m = {.data = "junk junk junk", .len = 14};
    struct io_reader junk = io_mem_reader(&junk_m);
    struct image_import_opts bad = {.ref = "Bad:Ref"};
    assert_int_equal(image_import(f->s, &junk, &bad, &id2, &err), -1);
    assert_err(&err, EINVAL, "invalid reference format");
    assert_int_equal(junk_m.off, 0);
    assert_int_equal(image_import(f->s, &junk, NULL, &id2, &err), -1);
    assert_non_null(err);
    berr_free(&err);
    assert_int_equal(image_count(f->s), 2);
    _cleanup_free_ char *tmp = path_join(f->root, "tmp");
    assert_int_equal(count_entries(tmp), 0);
}

static void test_resolve(void **state)
{
    struct fixture *f = *state;
    char *id = import(f->s, "r", "myimg:1", NULL);
    char *other = import(f->s, "s", NULL, NULL);
    char prefix[20];

    assert_resolves(f->s, "myimg:1", id);
    assert_resolves(f->s, "docker.io/library/myimg:1", id);
    assert_resolves(f->s, "library/myimg:1", id);
    assert_resolves(f->s, id, id);
    assert_resolves(f->s, id + 7, id);
    snprintf(prefix, sizeof(prefix), "%.12s", id + 7);
    assert_resolves(f->s, prefix, id);
    snprintf(prefix, sizeof(prefix), "sha256:%.5s", id + 7);
    assert_resolves(f->s, prefix, id);
    assert_resolves(f->s, other, other);
    /* A one-digit prefix works when unique, and is "not found" when shared. */
    snprintf(prefix, sizeof(prefix), "%.1s", id + 7);
    if (id[7] != other[7])
        assert_resolves(f->s, prefix, id);
    else
        assert_missing(f->s, prefix);

    assert_missing(f->s, "myimg");
    assert_missing(f->s, "myimg:2");
    assert_missing(f->s, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    berr_t err = NULL;
    char *got = NULL;
    assert_int_equal(image_resolve(f->s, "nothere", &got, &err), -1);
    assert_err(&err, ENOENT, "No such image: nothere:latest");
    assert_int_equal(image_resolve(f->s, "Bad/Name", &got, &err), -1);
    assert_err(&err, EINVAL, "invalid reference format");
    free(id);
    free(other);
}

static void test_tag_untag(void **state)
{
    struct fixture *f = *state;
    char *id = import(f->s, "t", "first:1", NULL);
    char *other = import(f->s, "u", NULL, NULL);
    berr_t err = NULL;

    assert_ok(image_tag(f->s, "first:1", "localhost:5000/x/y:v2", &err), err);
    assert_resolves(f->s, "localhost:5000/x/y:v2", id);
    assert_ok(image_tag(f->s, id, "plain", &err), err);
    assert_resolves(f->s, "plain:latest", id);
    /* A tag moves. */
    assert_ok(image_tag(f->s, other, "plain", &err), err);
    assert_resolves(f->s, "plain", other);
    /* A digest reference is kept as a repo digest. */
    _cleanup_free_ char *dref = xasprintf("first@%s", other);
    assert_ok(image_tag(f->s, other, dref, &err), err);
    assert_resolves(f->s, dref, other);

    assert_ok(image_untag(f->s, "localhost:5000/x/y:v2", &err), err);
    assert_missing(f->s, "localhost:5000/x/y:v2");
    assert_resolves(f->s, "first:1", id);
    assert_int_equal(image_untag(f->s, "localhost:5000/x/y:v2", &err), -1);
    assert_err(&err, ENOENT, "No such image: localhost:5000/x/y:v2");
    assert_int_equal(image_tag(f->s, "nothere", "x", &err), -1);
    assert_err(&err, ENOENT, "No such image");
    assert_int_equal(image_tag(f->s, id, "UPPER", &err), -1);
    assert_err(&err, EINVAL, "invalid reference format");
    assert_int_equal(image_count(f->s), 2);

    /* Tags survive a restart. */
    image_store_close(f->s);
    assert_ok(image_store_open(f->root, &f->s, &err), err);
    assert_resolves(f->s, "first:1", id);
    assert_resolves(f->s, "plain", other);
    assert_resolves(f->s, dref, other);
    free(id);
    free(other);
}

static json_t *find_listed(json_t *list, const char *id)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "Id")), id) == 0)
            return v;
    }
    return NULL;
}

static void test_list_inspect_history(void **state)
{
    struct fixture *f = *state;
    json_t *changes = json_pack("{s:[s], s:{s:s}}", "Cmd", "/bin/hello", "Labels", "a", "b");
    char *id = import(f->s, "l", "listed:1", changes);
    char *bare = import(f->s, "m", NULL, NULL);
    berr_t err = NULL;
    json_t *list = NULL, *out = NULL;

    json_decref(changes);
    assert_ok(image_list(f->s, false, &list, &err), err);
    assert_int_equal(json_array_size(list), 2);
    json_t *e = find_listed(list, id);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "RepoTags"), 0)),
                        "listed:1");
    assert_int_equal(json_array_size(json_object_get(e, "RepoDigests")), 0);
    assert_string_equal(json_string_value(json_object_get(e, "ParentId")), "");
    json_int_t created = json_integer_value(json_object_get(e, "Created"));
    assert_true(llabs((long long)(created - time(NULL))) < 60);
    assert_int_equal(json_integer_value(json_object_get(e, "Size")), 1 + 18);
    assert_int_equal(json_integer_value(json_object_get(e, "VirtualSize")), 1 + 18);
    assert_int_equal(json_integer_value(json_object_get(e, "SharedSize")), -1);
    assert_int_equal(json_integer_value(json_object_get(e, "Containers")), -1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "Labels"), "a")), "b");
    e = find_listed(list, bare);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "RepoTags"), 0)),
                        "<none>:<none>");
    assert_true(json_is_object(json_object_get(e, "Labels")));
    json_decref(list);

    assert_ok(image_inspect(f->s, "listed:1", &out, &err), err);
    assert_string_equal(json_string_value(json_object_get(out, "Id")), id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(out, "RepoTags"), 0)),
                        "listed:1");
    assert_string_equal(json_string_value(json_object_get(out, "Os")), "linux");
    assert_string_equal(json_string_value(json_object_get(out, "Comment")), "Imported from -");
    assert_string_equal(json_string_value(json_object_get(out, "Parent")), "");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(out, "Config"), "Cmd"), 0)),
                        "/bin/hello");
    assert_true(json_is_object(json_object_get(out, "ContainerConfig")));
    json_t *gd = json_object_get(out, "GraphDriver");
    assert_string_equal(json_string_value(json_object_get(gd, "Name")), "overlay2");
    const char *upper = json_string_value(json_object_get(json_object_get(gd, "Data"), "UpperDir"));
    assert_non_null(upper);
    assert_true(file_exists(upper));
    json_t *rootfs = json_object_get(out, "RootFS");
    assert_string_equal(json_string_value(json_object_get(rootfs, "Type")), "layers");
    assert_int_equal(json_array_size(json_object_get(rootfs, "Layers")), 1);
    const char *ltt =
        json_string_value(json_object_get(json_object_get(out, "Metadata"), "LastTagTime"));
    assert_non_null(ltt);
    assert_string_not_equal(ltt, "0001-01-01T00:00:00Z");
    assert_non_null(strchr(json_string_value(json_object_get(out, "Created")), 'T'));
    assert_int_equal(json_integer_value(json_object_get(out, "Size")), 19);
    json_decref(out);

    assert_ok(image_inspect(f->s, bare, &out, &err), err);
    assert_int_equal(json_array_size(json_object_get(out, "RepoTags")), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "Metadata"), "LastTagTime")),
        "0001-01-01T00:00:00Z");
    json_decref(out);

    assert_ok(image_history(f->s, "listed:1", &out, &err), err);
    assert_int_equal(json_array_size(out), 1);
    json_t *h = json_array_get(out, 0);
    assert_string_equal(json_string_value(json_object_get(h, "Id")), id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(h, "Tags"), 0)),
                        "listed:1");
    assert_string_equal(json_string_value(json_object_get(h, "Comment")), "Imported from -");
    assert_string_equal(json_string_value(json_object_get(h, "CreatedBy")), "");
    assert_int_equal(json_integer_value(json_object_get(h, "Size")), 19);
    json_decref(out);
    assert_int_equal(image_history(f->s, "nothere", &out, &err), -1);
    assert_err(&err, ENOENT, "No such image");
    free(id);
    free(bare);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *p = path_join(dir, name);
    berr_t err = NULL;

    assert_ok(write_file_atomic(p, text, strlen(text), 0644, &err), err);
}

static void test_create_from_layer(void **state)
{
    struct fixture *f = *state;
    char *base = import(f->s, "base", "base:1", NULL);
    berr_t err = NULL;
    char *child = NULL, *meta = NULL, *noop = NULL;
    _cleanup_free_ char *upper = path_join(f->dir, "upper");
    _cleanup_free_ char *gone = path_join(upper, "gone");

    mkdir(upper, 0755);
    put_file(upper, "new-file", "added");
    assert_int_equal(mknod(gone, S_IFCHR, makedev(0, 0)), 0);
    json_t *config = json_pack("{s:{s:[s]}, s:s}", "config", "Cmd", "/bin/sh", "author", "me");
    json_t *hist = json_pack("{s:s}", "created_by", "/bin/sh -c touch new-file");
    assert_ok(image_create_from_layer(f->s, "base:1", upper, config, hist, &child, &err), err);
    json_decref(config);
    json_decref(hist);

    char **dirs;
    size_t n;
    assert_ok(image_layer_dirs(f->s, child, &dirs, &n, &err), err);
    assert_int_equal(n, 2);
    _cleanup_free_ char *added = path_join(dirs[0], "new-file");
    _cleanup_free_ char *wh = path_join(dirs[0], "gone");
    _cleanup_free_ char *from_base = path_join(dirs[1], "etc/hostname");
    struct stat st;
    assert_true(file_exists(added));
    assert_int_equal(lstat(wh, &st), 0);
    assert_true(S_ISCHR(st.st_mode) && st.st_rdev == 0);
    assert_true(file_exists(from_base));
    image_free_dirs(dirs, n);

    json_t *out = NULL;
    assert_ok(image_inspect(f->s, child, &out, &err), err);
    assert_string_equal(json_string_value(json_object_get(out, "Parent")), base);
    assert_string_equal(json_string_value(json_object_get(out, "Author")), "me");
    assert_int_equal(json_array_size(json_object_get(json_object_get(out, "RootFS"), "Layers")), 2);
    assert_non_null(json_string_value(
        json_object_get(json_object_get(json_object_get(out, "GraphDriver"), "Data"), "LowerDir")));
    json_decref(out);

    assert_ok(image_history(f->s, child, &out, &err), err);
    assert_int_equal(json_array_size(out), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "Id")), child);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "CreatedBy")),
                        "/bin/sh -c touch new-file");
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "Id")), base);
    json_decref(out);

    /* No changes: an empty_layer history entry, the same layers, the parent's config. */
    assert_ok(image_create_from_layer(f->s, child, NULL, NULL, NULL, &meta, &err), err);
    json_t *c = NULL;
    assert_ok(image_get_config(f->s, meta, &c, &err), err);
    assert_int_equal(json_array_size(json_object_get(json_object_get(c, "rootfs"), "diff_ids")), 2);
    json_t *last = json_array_get(json_object_get(c, "history"), 2);
    assert_true(json_is_true(json_object_get(last, "empty_layer")));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_object_get(c, "config"), "Cmd"), 0)),
        "/bin/sh");
    json_decref(c);
    /* An empty upper dir gives no layer either (Docker's empty tar). */
    _cleanup_free_ char *empty = path_join(f->dir, "empty");
    mkdir(empty, 0755);
    assert_ok(image_create_from_layer(f->s, meta, empty, NULL, NULL, &noop, &err), err);
    assert_ok(image_layer_dirs(f->s, noop, &dirs, &n, &err), err);
    assert_int_equal(n, 2);
    image_free_dirs(dirs, n);
    /* A layer tar file works too, and FROM scratch. */
    struct io_buf tar = rootfs_tar("scratch");
    _cleanup_free_ char *tar_path = path_join(f->dir, "layer.tar");
    assert_ok(write_file_atomic(tar_path, tar.data, tar.len, 0600, &err), err);
    free(tar.data);
    char *scratch = NULL;
    assert_ok(image_create_from_layer(f->s, NULL, tar_path, NULL, NULL, &scratch, &err), err);
    assert_ok(image_layer_dirs(f->s, scratch, &dirs, &n, &err), err);
    assert_int_equal(n, 1);
    image_free_dirs(dirs, n);
    assert_int_equal(image_create_from_layer(f->s, "nothere", NULL, NULL, NULL, &scratch, &err),
                     -1);
    assert_err(&err, ENOENT, "No such image");

    /* Untagged parents of other images are hidden from the default list. */
    json_t *list = NULL;
    assert_ok(image_list(f->s, false, &list, &err), err);
    assert_null(find_listed(list, child));
    assert_non_null(find_listed(list, noop));
    assert_non_null(find_listed(list, base));
    json_decref(list);
    assert_ok(image_list(f->s, true, &list, &err), err);
    assert_non_null(find_listed(list, child));
    json_decref(list);
    free(base);
    free(child);
    free(meta);
    free(noop);
    free(scratch);
}

/* An in_use callback: images in USED_ID are used by container "c0ffee..." in state USE. */
struct usage {
    const char *id;
    enum image_use use;
    int calls;
};

static enum image_use in_use(void *ctx, const char *id, char **container)
{
    struct usage *u = ctx;

    u->calls++;
    if (u->id == NULL || strcmp(u->id, id) != 0)
        return IMAGE_UNUSED;
    *container = xstrdup("c0ffee0123456789abcdef");
    return u->use;
}

static json_t *rmi(struct fixture *f, const char *name, bool force, struct usage *u, berr_t *err)
{
    struct image_delete_opts opts = {.force = force, .in_use = in_use, .ctx = u};
    json_t *report = NULL;

    if (image_delete(f->s, name, &opts, &report, err) < 0)
        return NULL;
    return report;
}

/* The report as "Untagged=a:1,Deleted=sha256:..." for compact comparisons. */
static char *report_str(json_t *report)
{
    char *s = xstrdup("");
    size_t i;
    json_t *v;

    json_array_foreach(report, i, v)
    {
        const char *key = json_object_iter_key(json_object_iter(v));
        char *next = xasprintf("%s%s%s=%s", s, i ? "," : "", key,
                               json_string_value(json_object_iter_value(json_object_iter(v))));
        free(s);
        s = next;
    }
    json_decref(report);
    return s;
}

static void test_delete(void **state)
{
    struct fixture *f = *state;
    struct usage u = {0};
    berr_t err = NULL;
    char *id = import(f->s, "d", "a:1", NULL);
    char diff[DIGEST_SIZE];
    json_t *c = NULL;

    assert_ok(image_get_config(f->s, id, &c, &err), err);
    snprintf(diff, sizeof(diff), "%s",
             json_string_value(
                 json_array_get(json_object_get(json_object_get(c, "rootfs"), "diff_ids"), 0)));
    json_decref(c);
    assert_ok(image_tag(f->s, id, "b:1", &err), err);
    assert_ok(image_tag(f->s, id, "a:2", &err), err);

    /* By tag with other tags left: only untagged. */
    json_t *rep = rmi(f, "a:2", false, &u, &err);
    assert_ok(rep ? 0 : -1, err);
    _cleanup_free_ char *s1 = report_str(rep);
    assert_string_equal(s1, "Untagged=a:2");
    assert_resolves(f->s, id, id);

    /* By ID with tags in two repositories: a 409 unless forced. */
    assert_null(rmi(f, id, false, &u, &err));
    assert_err(&err, EBUSY, "image is referenced in multiple repositories");
    _cleanup_free_ char *short_id = xasprintf("%.12s", id + 7);
    assert_null(rmi(f, short_id, false, &u, &err));
    assert_err(&err, EBUSY, "(must be forced)");

    /* Used by a stopped container: removing its last tag needs force. */
    assert_ok(image_untag(f->s, "b:1", &err), err);
    u.id = id;
    u.use = IMAGE_USED_STOPPED;
    assert_null(rmi(f, "a:1", false, &u, &err));
    assert_err(&err, EBUSY, "container c0ffee012345 is using its referenced image");
    assert_null(rmi(f, id, false, &u, &err));
    assert_err(&err, EBUSY, "image is being used by stopped container c0ffee012345");
    /* Running: cannot be forced by ID; by tag, force only untags. */
    u.use = IMAGE_USED_RUNNING;
    assert_null(rmi(f, id, true, &u, &err));
    assert_err(&err, EBUSY, "(cannot be forced) - image is being used by running container");
    rep = rmi(f, "a:1", true, &u, &err);
    assert_ok(rep ? 0 : -1, err);
    _cleanup_free_ char *s2 = report_str(rep);
    assert_string_equal(s2, "Untagged=a:1");
    assert_resolves(f->s, id, id);
    assert_true(u.calls > 0);

    /* Unused and untagged: deleted with its layer. */
    u.id = NULL;
    rep = rmi(f, id, false, &u, &err);
    assert_ok(rep ? 0 : -1, err);
    _cleanup_free_ char *s3 = report_str(rep);
    _cleanup_free_ char *want3 = xasprintf("Deleted=%s,Deleted=%s", id, diff);
    assert_string_equal(s3, want3);
    assert_missing(f->s, id);
    assert_int_equal(count_layers(f), 0);
    assert_null(rmi(f, id, false, &u, &err));
    assert_err(&err, ENOENT, "No such image");
    free(id);

    /* By ID: two tags, even of one repository, are "multiple repositories" to Docker; one tag
     * and a digest of its repository are one reference, both untagged. */
    id = import(f->s, "e", "one:1", NULL);
    assert_ok(image_tag(f->s, id, "one:2", &err), err);
    assert_null(rmi(f, id, false, &u, &err));
    assert_err(&err, EBUSY, "image is referenced in multiple repositories");
    assert_ok(image_untag(f->s, "one:2", &err), err);
    _cleanup_free_ char *dref = xasprintf("one@%s", id);
    assert_ok(image_tag(f->s, id, dref, &err), err);
    rep = rmi(f, id, false, &u, &err);
    assert_ok(rep ? 0 : -1, err);
    _cleanup_free_ char *s4 = report_str(rep);
    _cleanup_free_ char *want4 = xasprintf("Untagged=one:1,Untagged=one@%s,Deleted=%s", id, id);
    assert_non_null(strstr(s4, want4));
    free(id);

    /* Forced by ID with tags in two repositories. */
    id = import(f->s, "g", "x:1", NULL);
    assert_ok(image_tag(f->s, id, "y:1", &err), err);
    rep = rmi(f, id, true, &u, &err);
    assert_ok(rep ? 0 : -1, err);
    _cleanup_free_ char *s5 = report_str(rep);
    assert_non_null(strstr(s5, "Untagged=x:1,Untagged=y:1,Deleted="));
    free(id);
    assert_int_equal(image_count(f->s), 0);
}

static void test_delete_shared_and_children(void **state)
{
    struct fixture *f = *state;
    struct usage u = {0};
    berr_t err = NULL;
    /* Same rootfs twice: two images (different created times), one layer. */
    char *a = import(f->s, "same", "a:1", NULL);
    struct timespec ms = {0, 2000000};
    nanosleep(&ms, NULL);
    char *b = import(f->s, "same", "b:1", NULL);

    assert_string_not_equal(a, b);
    assert_int_equal(count_layers(f), 1);
    json_t *rep = rmi(f, "a:1", false, &u, &err);
    assert_ok(rep ? 0 : -1, err);
    json_decref(rep);
    assert_int_equal(count_layers(f), 1);
    assert_resolves(f->s, "b:1", b);
    char **dirs;
    size_t n;
    assert_ok(image_layer_dirs(f->s, "b:1", &dirs, &n, &err), err);
    assert_true(file_exists(dirs[0]));
    image_free_dirs(dirs, n);

    /* A parent with a child cannot go; deleting the child prunes the untagged parent. */
    _cleanup_free_ char *upper = path_join(f->dir, "upper");
    mkdir(upper, 0755);
    put_file(upper, "x", "x");
    char *mid = NULL, *top = NULL;
    assert_ok(image_create_from_layer(f->s, b, upper, NULL, NULL, &mid, &err), err);
    put_file(upper, "y", "y");
    assert_ok(image_create_from_layer(f->s, mid, upper, NULL, NULL, &top, &err), err);
    assert_ok(image_tag(f->s, top, "top:1", &err), err);
    assert_int_equal(count_layers(f), 3);
    assert_null(rmi(f, mid, false, &u, &err));
    assert_err(&err, EBUSY, "image has dependent child images");
    assert_null(rmi(f, mid, true, &u, &err));
    assert_err(&err, EBUSY, "(cannot be forced) - image has dependent child images");

    rep = rmi(f, "top:1", false, &u, &err);
    assert_ok(rep ? 0 : -1, err);
    _cleanup_free_ char *s = report_str(rep);
    /* top and mid go (mid is untagged), b stays (tagged). */
    _cleanup_free_ char *want = xasprintf("Untagged=top:1,Deleted=%s,", top);
    assert_non_null(strstr(s, want));
    _cleanup_free_ char *want_mid = xasprintf("Deleted=%s", mid);
    assert_non_null(strstr(s, want_mid));
    assert_missing(f->s, mid);
    assert_resolves(f->s, "b:1", b);
    assert_int_equal(count_layers(f), 1);

    /* noprune keeps the untagged parent. */
    free(mid);
    free(top);
    assert_ok(image_create_from_layer(f->s, b, upper, NULL, NULL, &mid, &err), err);
    assert_ok(image_create_from_layer(f->s, mid, NULL, NULL, NULL, &top, &err), err);
    struct image_delete_opts keep = {.noprune = true};
    assert_ok(image_delete(f->s, top, &keep, &rep, &err), err);
    _cleanup_free_ char *s2 = report_str(rep);
    _cleanup_free_ char *want2 = xasprintf("Deleted=%s", top);
    assert_string_equal(s2, want2);
    assert_resolves(f->s, mid, mid);
    free(a);
    free(b);
    free(mid);
    free(top);
}

/* Every member of the tar in BUF, name -> contents (symlinks as "-> target"). */
static json_t *tar_members(const struct io_buf *b)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    json_t *out = json_object();
    char chunk[65536];

    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, b->data, b->len), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        struct io_buf data = {0};
        struct io_writer w = io_buf_writer(&data);
        la_ssize_t n;
        if (archive_entry_filetype(e) == AE_IFLNK) {
            _cleanup_free_ char *t = xasprintf("-> %s", archive_entry_symlink(e));
            w.write(w.ctx, t, strlen(t));
        }
        while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
            w.write(w.ctx, chunk, (size_t)n);
        json_object_set_new(out, archive_entry_pathname(e),
                            json_stringn_nocheck(data.data ? data.data : "", data.len));
        free(data.data);
    }
    archive_read_free(a);
    return out;
}

/* Rewrite the tar IN: members named DROP are left out, REPLACE gets DATA instead. */
static struct io_buf rewrite_tar(const struct io_buf *in, const char *drop, const char *replace,
                                 const void *data, size_t len)
{
    struct archive *r = archive_read_new(), *w = archive_write_new();
    struct archive_entry *e;
    struct io_buf out = {0};
    struct io_writer ow = io_buf_writer(&out);
    char chunk[65536];

    archive_read_support_format_tar(r);
    assert_int_equal(archive_read_open_memory(r, in->data, in->len), ARCHIVE_OK);
    archive_write_set_format_pax_restricted(w);
    io_archive_write_open(w, &ow);
    while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (drop && strcmp(name, drop) == 0)
            continue;
        bool swap = replace && strcmp(name, replace) == 0;
        if (swap)
            archive_entry_set_size(e, (la_int64_t)len);
        archive_write_header(w, e);
        if (swap) {
            archive_write_data(w, data, len);
            continue;
        }
        la_ssize_t n;
        while ((n = archive_read_data(r, chunk, sizeof(chunk))) > 0)
            archive_write_data(w, chunk, (size_t)n);
    }
    archive_write_close(w);
    archive_write_free(w);
    archive_read_free(r);
    return out;
}

static void progress(void *ctx, const char *line)
{
    json_array_append_new(ctx, json_string(line));
}

static int load_buf(struct image_store *s, const struct io_buf *b, json_t *lines, berr_t *err)
{
    struct io_mem m = {.data = b->data, .len = b->len};
    struct io_reader r = io_mem_reader(&m);

    return image_load(s, &r, progress, lines, err);
}

static struct image_store *second_store(struct fixture *f, const char *name)
{
    _cleanup_free_ char *root = path_join(f->dir, name);
    struct image_store *s = NULL;
    berr_t err = NULL;

    assert_ok(image_store_open(root, &s, &err), err);
    return s;
}

static void test_save_load(void **state)
{
    struct fixture *f = *state;
    char *id = import(f->s, "saved", "saved:1", NULL);
    berr_t err = NULL;
    struct io_buf out = {0};
    struct io_writer w = io_buf_writer(&out);
    const char *refs[] = {"saved:1"};
    json_t *c = NULL;

    assert_ok(image_tag(f->s, id, "localhost:5000/saved:2", &err), err);
    assert_ok(image_get_config(f->s, id, &c, &err), err);
    const char *diff = json_string_value(
        json_array_get(json_object_get(json_object_get(c, "rootfs"), "diff_ids"), 0));
    assert_ok(image_save(f->s, refs, 1, &w, &err), err);

    /* A docker-archive: manifest.json, the config under its ID, each layer under its DiffID. */
    json_t *members = tar_members(&out);
    json_error_t je;
    const char *mtext = json_string_value(json_object_get(members, "manifest.json"));
    assert_non_null(mtext);
    json_t *manifest = json_loads(mtext, 0, &je);
    assert_int_equal(json_array_size(manifest), 1);
    json_t *m0 = json_array_get(manifest, 0);
    _cleanup_free_ char *cfg_name = xasprintf("%s.json", id + 7);
    _cleanup_free_ char *layer_name = xasprintf("%s/layer.tar", diff + 7);
    assert_string_equal(json_string_value(json_object_get(m0, "Config")), cfg_name);
    assert_int_equal(json_array_size(json_object_get(m0, "RepoTags")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m0, "RepoTags"), 0)),
                        "saved:1");
    assert_int_equal(json_array_size(json_object_get(m0, "Layers")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m0, "Layers"), 0)),
                        layer_name);
    json_t *cfg_member = json_object_get(members, cfg_name);
    char sum[DIGEST_SIZE];
    sha256_digest(json_string_value(cfg_member), json_string_length(cfg_member), sum);
    assert_string_equal(sum, id);
    json_t *layer_member = json_object_get(members, layer_name);
    sha256_digest(json_string_value(layer_member), json_string_length(layer_member), sum);
    assert_string_equal(sum, diff);
    _cleanup_free_ char *version = xasprintf("%s/VERSION", diff + 7);
    assert_string_equal(json_string_value(json_object_get(members, version)), "1.0");
    assert_non_null(json_object_get(members, "repositories"));
    /* And an OCI layout pointing at the same bytes. */
    assert_non_null(json_object_get(members, "oci-layout"));
    assert_non_null(json_object_get(members, "index.json"));
    _cleanup_free_ char *blob = xasprintf("blobs/sha256/%s", diff + 7);
    _cleanup_free_ char *blob_link = xasprintf("-> ../../%s", layer_name);
    assert_string_equal(json_string_value(json_object_get(members, blob)), blob_link);
    json_decref(manifest);
    json_decref(members);

    /* Load into a new store: same ID, same tag. */
    struct image_store *s2 = second_store(f, "second");
    json_t *lines = json_array();
    assert_ok(load_buf(s2, &out, lines, &err), err);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(json_string_value(json_array_get(lines, 0)), "Loaded image: saved:1");
    assert_resolves(s2, "saved:1", id);
    assert_missing(s2, "localhost:5000/saved:2");
    char **dirs;
    size_t n;
    assert_ok(image_layer_dirs(s2, id, &dirs, &n, &err), err);
    _cleanup_free_ char *hn = path_join(dirs[0], "etc/hostname");
    assert_true(file_exists(hn));
    image_free_dirs(dirs, n);
    /* Loading again changes nothing. */
    assert_ok(load_buf(s2, &out, lines, &err), err);
    assert_int_equal(image_count(s2), 1);
    json_decref(lines);

    /* Saved by ID: no tags, "Loaded image ID". */
    struct io_buf by_id = {0};
    struct io_writer wi = io_buf_writer(&by_id);
    const char *ids[] = {id};
    assert_ok(image_save(f->s, ids, 1, &wi, &err), err);
    struct image_store *s3 = second_store(f, "third");
    lines = json_array();
    assert_ok(load_buf(s3, &by_id, lines, &err), err);
    _cleanup_free_ char *want = xasprintf("Loaded image ID: %s", id);
    assert_string_equal(json_string_value(json_array_get(lines, 0)), want);
    json_decref(lines);
    free(by_id.data);

    /* Only the OCI layout (no manifest.json): index.json's containerd names give the tags. */
    struct io_buf oci = rewrite_tar(&out, "manifest.json", NULL, NULL, 0);
    struct image_store *s4 = second_store(f, "fourth");
    lines = json_array();
    assert_ok(load_buf(s4, &oci, lines, &err), err);
    assert_resolves(s4, "saved:1", id);
    json_decref(lines);
    free(oci.data);

    /* A name without a tag saves every tag of that repository. */
    assert_ok(image_tag(f->s, id, "saved:2", &err), err);
    struct io_buf repo = {0};
    struct io_writer wr = io_buf_writer(&repo);
    const char *names[] = {"saved", "nothere"};
    assert_int_equal(image_save(f->s, names, 2, &wr, &err), -1);
    assert_err(&err, ENOENT, "No such image: nothere");
    free(repo.data);
    memset(&repo, 0, sizeof(repo));
    assert_ok(image_save(f->s, names, 1, &wr, &err), err);
    members = tar_members(&repo);
    manifest = json_loads(json_string_value(json_object_get(members, "manifest.json")), 0, &je);
    assert_int_equal(json_array_size(json_object_get(json_array_get(manifest, 0), "RepoTags")), 2);
    json_decref(manifest);
    json_decref(members);
    free(repo.data);

    image_store_close(s2);
    image_store_close(s3);
    image_store_close(s4);
    json_decref(c);
    free(out.data);
    free(id);
}

static void test_load_refuses_bad_digests(void **state)
{
    struct fixture *f = *state;
    char *id = import(f->s, "good", "good:1", NULL);
    berr_t err = NULL;
    struct io_buf out = {0};
    struct io_writer w = io_buf_writer(&out);
    const char *refs[] = {"good:1"};
    json_t *c = NULL, *lines = json_array();

    assert_ok(image_get_config(f->s, id, &c, &err), err);
    const char *diff = json_string_value(
        json_array_get(json_object_get(json_object_get(c, "rootfs"), "diff_ids"), 0));
    assert_ok(image_save(f->s, refs, 1, &w, &err), err);
    struct image_store *s2 = second_store(f, "second");
    _cleanup_free_ char *root2 = path_join(f->dir, "second");
    _cleanup_free_ char *layers2 = path_join(root2, "layers");
    _cleanup_free_ char *tmp2 = path_join(root2, "tmp");

    /* A layer whose bytes differ from the DiffID in the config. */
    struct io_buf evil_tar = rootfs_tar("evil");
    _cleanup_free_ char *layer_name = xasprintf("%s/layer.tar", diff + 7);
    struct io_buf bad = rewrite_tar(&out, NULL, layer_name, evil_tar.data, evil_tar.len);
    assert_int_equal(load_buf(s2, &bad, lines, &err), -1);
    assert_err(&err, EINVAL, "DiffID is");
    free(bad.data);
    assert_int_equal(image_count(s2), 0);
    assert_int_equal(count_entries(layers2), 0);
    assert_int_equal(count_entries(tmp2), 0);

    /* A config that is not what its name says. */
    _cleanup_free_ char *cfg_name = xasprintf("%s.json", id + 7);
    const char *fake = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
    bad = rewrite_tar(&out, NULL, cfg_name, fake, strlen(fake));
    assert_int_equal(load_buf(s2, &bad, lines, &err), -1);
    assert_err(&err, EINVAL, "content digest");
    free(bad.data);

    /* An OCI blob that does not match its digest. */
    struct io_buf oci = rewrite_tar(&out, "manifest.json", NULL, NULL, 0);
    bad = rewrite_tar(&oci, NULL, layer_name, evil_tar.data, evil_tar.len);
    assert_int_equal(load_buf(s2, &bad, lines, &err), -1);
    assert_err(&err, EINVAL, "digest");
    free(bad.data);
    free(oci.data);

    /* Not an image archive at all. */
    bad = rootfs_tar("x");
    assert_int_equal(load_buf(s2, &bad, lines, &err), -1);
    assert_err(&err, EINVAL, "neither manifest.json nor index.json");
    free(bad.data);
    assert_int_equal(image_count(s2), 0);
    assert_int_equal(count_entries(layers2), 0);
    assert_int_equal(json_array_size(lines), 0);

    image_store_close(s2);
    free(evil_tar.data);
    json_decref(lines);
    json_decref(c);
    free(out.data);
    free(id);
}

static void test_reopen(void **state)
{
    struct fixture *f = *state;
    char *a = import(f->s, "p", "persist:1", NULL);
    berr_t err = NULL;
    char *child = NULL;
    _cleanup_free_ char *upper = path_join(f->dir, "upper");

    mkdir(upper, 0755);
    put_file(upper, "f", "f");
    assert_ok(image_create_from_layer(f->s, a, upper, NULL, NULL, &child, &err), err);
    image_store_close(f->s);
    f->s = NULL;

    /* Leftovers of an interrupted operation are cleaned up on open. */
    _cleanup_free_ char *junk = xasprintf("%s/tmp/layer-junk", f->root);
    mkdir(junk, 0700);
    _cleanup_free_ char *orphan =
        xasprintf("%s/layers/%064d", f->root, 0); /* a layer dir without meta.json */
    mkdir(orphan, 0700);
    /* A config whose bytes are not its name's digest is skipped, not trusted. */
    _cleanup_free_ char *forged = xasprintf("%s/configs/%064d.json", f->root, 0);
    const char *text = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
    assert_ok(write_file_atomic(forged, text, strlen(text), 0600, &err), err);

    assert_ok(image_store_open(f->root, &f->s, &err), err);
    assert_resolves(f->s, "persist:1", a);
    /* One process (one open store) at a time. */
    struct image_store *again = NULL;
    assert_int_equal(image_store_open(f->root, &again, &err), -1);
    assert_non_null(strstr(berr_msg(err), "in use"));
    berr_free(&err);
    assert_resolves(f->s, child, child);
    json_t *out = NULL;
    assert_ok(image_inspect(f->s, child, &out, &err), err);
    assert_string_equal(json_string_value(json_object_get(out, "Parent")), a);
    json_decref(out);
    assert_false(file_exists(junk));
    assert_false(file_exists(orphan));
    assert_int_equal(count_layers(f), 2);
    assert_int_equal(image_count(f->s), 2);
    free(a);
    free(child);
}

struct worker {
    struct image_store *s;
    int n;
    int failures;
};

/* Delete REF; counts a failure in W. */
static void delete_ref(struct worker *w, const char *ref)
{
    struct image_delete_opts del = {0};
    json_t *report = NULL;
    berr_t err = NULL;

    if (image_delete(w->s, ref, &del, &report, &err) < 0) {
        fprintf(stderr, "worker %d: delete %s: %s\n", w->n, ref, berr_msg(err));
        berr_free(&err);
        w->failures++;
    }
    json_decref(report);
}

/* Imports images t<n>:0..5: odd ones share one rootfs (and one layer) across all workers and
 * are also tagged shared:latest; even ones are deleted right away, and so is t<n>:1 at the end,
 * while other workers may be importing that same layer. */
static void *work(void *arg)
{
    struct worker *w = arg;
    berr_t err = NULL;
    char ref[32];

    for (int i = 0; i < 6; i++) {
        char seed[32];
        snprintf(seed, sizeof(seed), "w%d-%d", w->n, i);
        snprintf(ref, sizeof(ref), "t%d:%d", w->n, i);
        struct io_buf tar = rootfs_tar(i % 2 ? "shared" : seed);
        struct io_mem m = {.data = tar.data, .len = tar.len};
        struct io_reader r = io_mem_reader(&m);
        struct image_import_opts opts = {.ref = ref};
        char *id = NULL;
        json_t *list = NULL, *inspect = NULL;
        if (image_import(w->s, &r, &opts, &id, &err) < 0 ||
            (i % 2 && image_tag(w->s, id, "shared:latest", &err) < 0) ||
            image_list(w->s, false, &list, &err) < 0 ||
            image_inspect(w->s, "shared", &inspect, &err) < 0) {
            /* "shared" may not exist yet for the first images. */
            if (err == NULL || err->errnum != ENOENT) {
                fprintf(stderr, "worker %d: %s\n", w->n, berr_msg(err));
                w->failures++;
            }
            berr_free(&err);
        }
        json_decref(list);
        json_decref(inspect);
        if (id && i % 2 == 0)
            delete_ref(w, ref);
        free(tar.data);
        free(id);
    }
    snprintf(ref, sizeof(ref), "t%d:1", w->n);
    delete_ref(w, ref);
    return NULL;
}

static void test_threads(void **state)
{
    struct fixture *f = *state;
    enum { N = 6 };
    pthread_t th[N];
    struct worker w[N];

    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.s = f->s, .n = i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 6; j++) {
            char ref[32];
            char *id = NULL;
            berr_t err = NULL;
            snprintf(ref, sizeof(ref), "t%d:%d", i, j);
            int r = image_resolve(f->s, ref, &id, &err);
            if (j == 3 || j == 5) {
                assert_ok(r, err);
            } else {
                assert_int_equal(r, -1);
                assert_err(&err, ENOENT, "No such image");
            }
            free(id);
        }
    }
    /* Only the shared layer is left, and it is complete. */
    assert_int_equal(count_layers(f), 1);
    char **dirs;
    size_t n;
    berr_t err = NULL;
    assert_ok(image_layer_dirs(f->s, "t0:3", &dirs, &n, &err), err);
    _cleanup_free_ char *hn = path_join(dirs[0], "etc/hostname");
    _cleanup_free_ char *text = slurp(hn, NULL);
    assert_string_equal(text, "shared");
    image_free_dirs(dirs, n);
    _cleanup_free_ char *tmp = path_join(f->root, "tmp");
    assert_int_equal(count_entries(tmp), 0);
    assert_resolves_any(f->s, "shared");
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_image_store needs root (layers keep owners and device nodes)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_untag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_inspect_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_from_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_shared_and_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_refuses_bad_digests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
