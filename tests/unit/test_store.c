/* Unit tests for core/lib/store.c and the file, lock and error helpers of
 * core/common (util.c, error.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/store.h"

struct fixture {
    char dir[64];
    char *saved_home;
    char *saved_storage;
};

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v ? xstrdup(v) : NULL;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    strcpy(f->dir, "/tmp/berth-test-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->saved_home = dup_env("HOME");
    f->saved_storage = dup_env("BERTH_STORAGE_PATH");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->dir, &err);

    restore_env("HOME", f->saved_home);
    restore_env("BERTH_STORAGE_PATH", f->saved_storage);
    berr_free(&err);
    free(f);
    return r;
}

static char *in(const struct fixture *f, const char *name)
{
    return path_join(f->dir, name);
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return st.st_mode;
}

static void assert_dir_0700(const char *path)
{
    mode_t m = mode_of(path);

    if (!S_ISDIR(m))
        fail_msg("%s is not a directory", path);
    if ((m & 07777) != 0700)
        fail_msg("%s has mode %04o, want 0700", path, (unsigned)(m & 07777));
}

static void put(const char *path, const char *text)
{
    berr_t err = NULL;
    int r = write_file_atomic(path, text, strlen(text), 0600, &err);

    assert_ok(r, err);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    berr_t err = NULL;
    int r = read_file(path, &data, NULL, &err);

    assert_ok(r, err);
    return data;
}

/* Number of entries in DIR other than "." and "..". */
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

static void check_store_layout(const struct berth_store *s, const char *root)
{
    _cleanup_free_ char *certs = path_join(root, "certs");
    _cleanup_free_ char *machines = path_join(root, "machines");
    _cleanup_free_ char *locks = path_join(root, "locks");
    _cleanup_free_ char *cache = path_join(root, "cache");

    assert_string_equal(s->root, root);
    assert_string_equal(s->certs_dir, certs);
    assert_string_equal(s->machines_dir, machines);
    assert_string_equal(s->locks_dir, locks);
    assert_string_equal(s->cache_dir, cache);
    assert_dir_0700(certs);
    assert_dir_0700(machines);
    assert_dir_0700(locks);
    assert_dir_0700(cache);
}

/* ---- store_open ---- */

static void test_store_open_explicit_root(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *root = in(f, "a/b/root");
    _cleanup_free_ char *other = in(f, "from-env");
    struct berth_store s;
    berr_t err = NULL;

    /* An explicit root wins over the environment. */
    setenv("BERTH_STORAGE_PATH", other, 1);
    assert_ok(store_open(&s, root, &err), err);
    check_store_layout(&s, root);
    assert_false(file_exists(other));
    store_close(&s);
    assert_null(s.root);

    /* Opening an existing store again works. */
    assert_ok(store_open(&s, root, &err), err);
    check_store_layout(&s, root);
    store_close(&s);
}

static void test_store_open_env(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *root = in(f, "env-root");
    _cleanup_free_ char *home = in(f, "home");
    struct berth_store s;
    berr_t err = NULL;

    setenv("HOME", home, 1);
    setenv("BERTH_STORAGE_PATH", root, 1);
    assert_ok(store_open(&s, NULL, &err), err);
    check_store_layout(&s, root);
    store_close(&s);

    /* An empty root counts as no root. */
    assert_ok(store_open(&s, "", &err), err);
    check_store_layout(&s, root);
    store_close(&s);
    assert_false(file_exists(home));
}

static void test_store_open_home(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *root = in(f, ".berth");
    struct berth_store s;
    berr_t err = NULL;

    setenv("HOME", f->dir, 1);
    unsetenv("BERTH_STORAGE_PATH");
    assert_ok(store_open(&s, NULL, &err), err);
    check_store_layout(&s, root);
    store_close(&s);

    /* An empty BERTH_STORAGE_PATH is ignored too. */
    setenv("BERTH_STORAGE_PATH", "", 1);
    assert_ok(store_open(&s, NULL, &err), err);
    check_store_layout(&s, root);
    store_close(&s);
}

static void test_store_open_fails(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *file = in(f, "plain-file");
    _cleanup_free_ char *root = in(f, "plain-file/root");
    struct berth_store s;
    berr_t err = NULL;

    put(file, "x");
    assert_true(store_open(&s, root, &err) < 0);
    assert_msg_has(err, root);
    berr_free(&err);
    store_close(&s);
}

/* ---- store_check_name ---- */

static void test_check_name_accepts(void **state)
{
    static const char *const good[] = {"a", "m1", "my.host-2", "A", "0", "default", "x.y.z", "a-"};
    char long_ok[201];
    berr_t err = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (store_check_name(good[i], &err) < 0)
            fail_msg("\"%s\" refused: %s", good[i], berr_msg(err));
    }
    memset(long_ok, 'a', 200);
    long_ok[200] = '\0';
    assert_ok(store_check_name(long_ok, &err), err);
    assert_null(err);
}

static void test_check_name_rejects(void **state)
{
    static const char *const bad[] = {"-a", ".a", "a_b", "a/b", "a b", "../x", "a\nb", "ä"};
    char long_bad[301];
    berr_t err = NULL;

    (void)state;
    assert_true(store_check_name("", &err) < 0);
    assert_msg_has(err, "empty");
    berr_free(&err);
    assert_true(store_check_name(NULL, &err) < 0);
    berr_free(&err);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (store_check_name(bad[i], &err) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_msg_has(err, bad[i]);
        berr_free(&err);
    }

    /* Too long: the message quotes the beginning of the name. */
    memset(long_bad, 'a', 300);
    long_bad[300] = '\0';
    assert_true(store_check_name(long_bad, &err) < 0);
    assert_msg_has(err, "aaaaaaaaaaaaaaaaaaaa");
    assert_msg_has(err, "200");
    berr_free(&err);
    long_bad[201] = '\0';
    assert_true(store_check_name(long_bad, &err) < 0);
    berr_free(&err);

    /* A NULL err is allowed. */
    assert_true(store_check_name("a b", NULL) < 0);
}

/* ---- store_list, store_exists, store_machine_dir ---- */

static void add_machine(const struct berth_store *s, const char *name, bool with_config)
{
    _cleanup_free_ char *dir = path_join(s->machines_dir, name);
    _cleanup_free_ char *cfg = path_join(dir, "config.json");
    berr_t err = NULL;

    assert_ok(mkdir_p(dir, 0700, &err), err);
    if (with_config)
        put(cfg, "{}\n");
}

static void test_store_list(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *root = in(f, "store");
    struct berth_store s;
    berr_t err = NULL;
    char **names = NULL;
    size_t n = 99;

    assert_ok(store_open(&s, root, &err), err);
    assert_ok(store_list(&s, &names, &n, &err), err);
    assert_int_equal(n, 0);
    store_free_list(names, n);

    add_machine(&s, "c9", true);
    add_machine(&s, "b", true);
    add_machine(&s, "c10", true);
    add_machine(&s, "a", true);
    add_machine(&s, "no-config", false);
    add_machine(&s, ".hidden", true);
    add_machine(&s, "bad_name", true);
    _cleanup_free_ char *stray = path_join(s.machines_dir, "stray-file");
    put(stray, "x");

    assert_ok(store_list(&s, &names, &n, &err), err);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b");
    assert_string_equal(names[2], "c10");
    assert_string_equal(names[3], "c9");
    store_free_list(names, n);

    assert_true(store_exists(&s, "a"));
    assert_false(store_exists(&s, "no-config"));
    assert_false(store_exists(&s, "missing"));

    _cleanup_free_ char *want = path_join(s.machines_dir, "m1");
    _cleanup_free_ char *got = store_machine_dir(&s, "m1");
    assert_string_equal(got, want);
    store_close(&s);
}

static void test_store_list_missing_dir(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *root = in(f, "store");
    struct berth_store s;
    berr_t err = NULL;
    char **names = NULL;
    size_t n = 0;

    assert_ok(store_open(&s, root, &err), err);
    assert_ok(rm_rf(s.machines_dir, &err), err);
    assert_true(store_list(&s, &names, &n, &err) < 0);
    assert_msg_has(err, s.machines_dir);
    berr_free(&err);
    store_close(&s);
}

/* ---- write_file_atomic, read_file ---- */

static void test_write_file_atomic(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *dir = in(f, "w");
    _cleanup_free_ char *path = path_join(dir, "file.txt");
    _cleanup_free_ char *data = NULL;
    berr_t err = NULL;
    size_t len = 0;

    assert_ok(mkdir_p(dir, 0700, &err), err);
    assert_ok(write_file_atomic(path, "hello\n", 6, 0640, &err), err);
    assert_ok(read_file(path, &data, &len, &err), err);
    assert_int_equal(len, 6);
    assert_string_equal(data, "hello\n");
    assert_int_equal(mode_of(path) & 07777, 0640);
    assert_true(S_ISREG(mode_of(path)));
    assert_int_equal(count_entries(dir), 1);
    free(data);
    data = NULL;

    /* Replacing: new content and new mode, still no temporary file around. */
    assert_ok(write_file_atomic(path, "bye", 3, 0600, &err), err);
    assert_ok(read_file(path, &data, &len, &err), err);
    assert_int_equal(len, 3);
    assert_string_equal(data, "bye");
    assert_int_equal(mode_of(path) & 07777, 0600);
    assert_int_equal(count_entries(dir), 1);
    free(data);
    data = NULL;

    /* The mode is exact whatever the umask. */
    mode_t old = umask(077);
    assert_ok(write_file_atomic(path, "", 0, 0644, &err), err);
    umask(old);
    assert_int_equal(mode_of(path) & 07777, 0644);
    assert_ok(read_file(path, &data, &len, &err), err);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    assert_int_equal(count_entries(dir), 1);
    assert_null(err);
}

static void test_write_file_atomic_binary_and_large(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = in(f, "big.bin");
    _cleanup_free_ char *data = NULL;
    _cleanup_free_ char *big = xcalloc(1, 100000);
    berr_t err = NULL;
    size_t len = 0;

    for (size_t i = 0; i < 100000; i++)
        big[i] = (char)(i * 7 % 256);
    assert_ok(write_file_atomic(path, big, 100000, 0600, &err), err);
    assert_ok(read_file(path, &data, &len, &err), err);
    assert_int_equal(len, 100000);
    assert_memory_equal(data, big, 100000);
    assert_int_equal(data[100000], '\0');
    assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_file_atomic_missing_dir(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = in(f, "no/such/dir/file");
    berr_t err = NULL;

    assert_true(write_file_atomic(path, "x", 1, 0600, &err) < 0);
    assert_msg_has(err, path);
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
}

static void test_read_file_missing(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = in(f, "missing.json");
    char *data = NULL;
    berr_t err = NULL;

    assert_true(read_file(path, &data, NULL, &err) < 0);
    assert_null(data);
    assert_msg_has(err, path);
    assert_msg_has(err, strerror(ENOENT));
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
}

/* Files that report size 0 (like /proc files) are still read whole. */
static void test_read_file_proc(void **state)
{
    char *data = NULL;
    berr_t err = NULL;
    size_t len = 0;

    (void)state;
    assert_ok(read_file("/proc/self/status", &data, &len, &err), err);
    assert_true(len > 0);
    assert_int_equal(strlen(data), len);
    assert_non_null(strstr(data, "Name:"));
    free(data);
}

static void test_copy_file_atomic(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *src = in(f, "src");
    _cleanup_free_ char *dst = in(f, "dst");
    _cleanup_free_ char *missing = in(f, "missing");
    _cleanup_free_ char *data = NULL;
    berr_t err = NULL;

    put(src, "payload");
    assert_ok(copy_file_atomic(src, dst, 0640, &err), err);
    data = slurp(dst);
    assert_string_equal(data, "payload");
    assert_int_equal(mode_of(dst) & 07777, 0640);
    assert_true(copy_file_atomic(missing, dst, 0600, &err) < 0);
    assert_msg_has(err, missing);
    berr_free(&err);
}

/* ---- mkdir_p, rm_rf, path_join ---- */

static void test_mkdir_p(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *deep = in(f, "a/b/c/d");
    _cleanup_free_ char *mid = in(f, "a/b");
    _cleanup_free_ char *slash = in(f, "x/y/");
    _cleanup_free_ char *file = in(f, "file");
    _cleanup_free_ char *through = in(f, "file/sub");
    berr_t err = NULL;

    assert_ok(mkdir_p(deep, 0700, &err), err);
    assert_dir_0700(deep);
    assert_dir_0700(mid);
    /* Existing directories are fine. */
    assert_ok(mkdir_p(deep, 0700, &err), err);
    assert_ok(mkdir_p(f->dir, 0700, &err), err);
    /* A trailing slash is fine. */
    assert_ok(mkdir_p(slash, 0700, &err), err);
    assert_true(S_ISDIR(mode_of(slash)));
    /* A file in the way is an error naming the path. */
    put(file, "x");
    assert_true(mkdir_p(through, 0700, &err) < 0);
    assert_msg_has(err, through);
    berr_free(&err);
}

/* Like mkdir -p, an existing non-directory at PATH itself is an error. */
static void test_mkdir_p_over_file(void **state)
{
    struct fixture *f = *state;
    char file[128];
    berr_t err = NULL;

    snprintf(file, sizeof(file), "%s/file", f->dir);
    put(file, "x");
    if (mkdir_p(file, 0700, &err) == 0)
        fail_msg("mkdir_p(%s) succeeded although it is a regular file", file);
    assert_msg_has(err, file);
    berr_free(&err);
}

static void test_rm_rf(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *tree = in(f, "tree");
    _cleanup_free_ char *deep = in(f, "tree/a/b/c");
    _cleanup_free_ char *f1 = in(f, "tree/top.txt");
    _cleanup_free_ char *f2 = in(f, "tree/a/b/c/deep.txt");
    _cleanup_free_ char *f3 = in(f, "tree/a/mid.txt");
    _cleanup_free_ char *outside = in(f, "outside.txt");
    _cleanup_free_ char *link = in(f, "tree/a/link");
    _cleanup_free_ char *dirlink = in(f, "tree/dirlink");
    _cleanup_free_ char *keep = in(f, "keep");
    _cleanup_free_ char *keep_file = in(f, "keep/k.txt");
    _cleanup_free_ char *data = NULL;
    berr_t err = NULL;

    assert_ok(mkdir_p(deep, 0700, &err), err);
    assert_ok(mkdir_p(keep, 0700, &err), err);
    put(f1, "1");
    put(f2, "2");
    put(f3, "3");
    put(outside, "outside");
    put(keep_file, "k");
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(symlink(keep, dirlink), 0);

    assert_ok(rm_rf(tree, &err), err);
    assert_false(file_exists(tree));
    /* Symbolic links are removed, not followed. */
    data = slurp(outside);
    assert_string_equal(data, "outside");
    assert_true(file_exists(keep_file));

    /* A missing path is not an error; nor is removing a single file. */
    assert_ok(rm_rf(tree, &err), err);
    _cleanup_free_ char *never = in(f, "never/existed");
    assert_ok(rm_rf(never, &err), err);
    assert_ok(rm_rf(outside, &err), err);
    assert_false(file_exists(outside));
    assert_null(err);
}

static void test_path_join(void **state)
{
    static const char *const cases[][3] = {
        {"a", "b", "a/b"},
        {"a/", "b", "a/b"},
        {"a//", "/b", "a/b"},
        {"/r", "x/y", "/r/x/y"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_free_ char *got = path_join(cases[i][0], cases[i][1]);
        if (strcmp(got, cases[i][2]) != 0)
            fail_msg("path_join(\"%s\", \"%s\") = \"%s\", want \"%s\"", cases[i][0], cases[i][1],
                     got, cases[i][2]);
    }
}

/* "exactly one '/'" (util.h) also when the first part is the root. */
static void test_path_join_root(void **state)
{
    char *got = path_join("/", "x");
    char *got2 = path_join("/", "/x");
    bool ok = strcmp(got, "/x") == 0 && strcmp(got2, "/x") == 0;
    char msg[128];

    (void)state;
    snprintf(msg, sizeof(msg),
             "path_join(\"/\", \"x\") = \"%s\", path_join(\"/\", \"/x\") = \"%s\"", got, got2);
    free(got);
    free(got2);
    if (!ok)
        fail_msg("%s, want \"/x\" for both", msg);
}

/* ---- lock_path, store_lock ---- */

static void write_byte(int fd, char c)
{
    while (write(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

static char read_byte(int fd)
{
    char c = '?';
    ssize_t r;

    while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return r == 1 ? c : '?';
}

/* The child: try the lock without waiting and report; wait for the parent's
 * go; try again and report; then take it through lock_path and report. */
static void __attribute__((noreturn))
lock_child(const char *path, int inherited, int go_fd, int report_fd)
{
    berr_t err = NULL;
    int fd;

    /* The inherited descriptor shares the parent's lock: drop it. */
    close(inherited);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        _exit(2);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        write_byte(report_fd, 'L');
    else if (errno == EWOULDBLOCK)
        write_byte(report_fd, 'B');
    else
        write_byte(report_fd, 'E');
    if (read_byte(go_fd) != 'g')
        _exit(3);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        write_byte(report_fd, 'L');
    else
        write_byte(report_fd, errno == EWOULDBLOCK ? 'B' : 'E');
    close(fd);
    fd = lock_path(path, &err);
    write_byte(report_fd, fd >= 0 ? 'L' : 'E');
    if (fd >= 0)
        close(fd);
    berr_free(&err);
    _exit(0);
}

static void test_lock_path(void **state)
{
    struct fixture *f = *state;
    char path[128];
    berr_t err = NULL;
    int go[2], report[2], status = 0;
    int fd;
    pid_t pid;

    /* On the stack: the child leaves with _exit() and frees nothing. */
    snprintf(path, sizeof(path), "%s/m1.lock", f->dir);
    fd = lock_path(path, &err);
    assert_ok(fd, err);
    assert_int_equal(mode_of(path) & 07777, 0600);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(report), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(report[0]);
        lock_child(path, fd, go[0], report[1]);
    }
    close(go[0]);
    close(report[1]);

    /* While the parent holds the lock the child cannot take it. */
    assert_int_equal(read_byte(report[0]), 'B');
    close(fd);
    write_byte(go[1], 'g');
    /* Once it is closed, the child gets it. */
    assert_int_equal(read_byte(report[0]), 'L');
    assert_int_equal(read_byte(report[0]), 'L');
    close(go[1]);
    close(report[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* And the parent can take it again. */
    fd = lock_path(path, &err);
    assert_ok(fd, err);
    close(fd);
}

static void test_lock_path_error(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *path = in(f, "no/such/dir/x.lock");
    berr_t err = NULL;

    assert_true(lock_path(path, &err) < 0);
    assert_msg_has(err, path);
    berr_free(&err);
}

static void test_store_lock(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *root = in(f, "store");
    struct berth_store s;
    berr_t err = NULL;
    int fd, other;

    assert_ok(store_open(&s, root, &err), err);
    fd = store_lock(&s, "m1", &err);
    assert_ok(fd, err);
    _cleanup_free_ char *lock = path_join(s.locks_dir, "m1.lock");
    assert_true(file_exists(lock));
    assert_int_equal(mode_of(lock) & 07777, 0600);
    /* A second descriptor of the same file cannot take it; another machine's lock is free. */
    other = open(lock, O_RDWR | O_CLOEXEC);
    assert_true(other >= 0);
    assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    close(other);
    int fd2 = store_lock(&s, "m2", &err);
    assert_ok(fd2, err);
    close(fd2);
    close(fd);
    store_close(&s);
}

/* ---- berr_set, berr_prefix ---- */

static void test_berr_set(void **state)
{
    berr_t err = NULL;
    _cleanup_free_ char *want = xasprintf("open /x/y: %s", strerror(ENOENT));

    (void)state;
    assert_int_equal(berr_set(&err, 0, "machine %s: %s", "m1", "boom"), -1);
    assert_non_null(err);
    assert_string_equal(berr_msg(err), "machine m1: boom");
    assert_int_equal(err->errnum, 0);

    /* Setting again replaces the message. */
    assert_int_equal(berr_set(&err, ENOENT, "open %s", "/x/y"), -1);
    assert_string_equal(berr_msg(err), want);
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
    assert_null(err);
    berr_free(&err);
    berr_free(NULL);

    /* No error object: only the return value. */
    assert_int_equal(berr_set(NULL, EIO, "ignored"), -1);
    assert_string_equal(berr_msg(NULL), "unknown error");
}

static void test_berr_prefix(void **state)
{
    berr_t err = NULL;
    _cleanup_free_ char *want1 = xasprintf("machine m1: write config.json: %s", strerror(ENOSPC));
    _cleanup_free_ char *want2 =
        xasprintf("create: machine m1: write config.json: %s", strerror(ENOSPC));

    (void)state;
    /* Without errnum. */
    berr_set(&err, 0, "bad %s", "thing");
    assert_int_equal(berr_prefix(&err, "ctx %d", 7), -1);
    assert_string_equal(berr_msg(err), "ctx 7: bad thing");
    assert_int_equal(err->errnum, 0);
    berr_free(&err);

    /* With errnum: the cause stays at the end and errnum is kept. */
    berr_set(&err, ENOSPC, "write %s", "config.json");
    berr_prefix(&err, "machine %s", "m1");
    assert_string_equal(berr_msg(err), want1);
    berr_prefix(&err, "create");
    assert_string_equal(berr_msg(err), want2);
    assert_int_equal(err->errnum, ENOSPC);
    berr_free(&err);

    /* Prefixing nothing does nothing. */
    assert_int_equal(berr_prefix(&err, "ctx"), -1);
    assert_null(err);
    assert_int_equal(berr_prefix(NULL, "ctx"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_open_explicit_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_open_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_open_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_open_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_name_accepts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_name_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_list_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_file_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_file_atomic_binary_and_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_file_atomic_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file_proc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_file_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p_over_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_rf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_join_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_path_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_berr_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_berr_prefix, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
