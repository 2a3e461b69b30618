/* Unit tests for core/lib/sshkey.c: the machine key and its authorized_keys line in SSH
 * wire format, checked against OpenSSH's own ssh-keygen; fingerprints, base64, quoting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/ssh.h"

struct fixture {
    char dir[64];
    char *key;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    berr_t err = NULL;

    strcpy(f->dir, "/tmp/berth-test-sshkey-XXXXXX");
    if (mkdtemp(f->dir) == NULL || ssh_key_ensure(f->dir, "berth-machine-m1", &f->key, &err) < 0) {
        fprintf(stderr, "%s\n", berr_msg(err));
        berr_free(&err);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_rf(f->dir, NULL);
    free(f->key);
    free(f);
    return 0;
}

/* The first line COMMAND prints, without the newline (malloc()ed), or NULL. */
static char *run(const char *command)
{
    char buf[4096] = "";
    FILE *p = popen(command, "r");
    if (p == NULL)
        return NULL;
    char *got = fgets(buf, sizeof(buf), p);
    int rc = pclose(p);
    if (got == NULL || rc != 0)
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return xstrdup(buf);
}

static char *field(const char *line, int n)
{
    const char *p = line;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? xasprintf("%.*s", (int)strcspn(p, " "), p) : NULL;
}

static void test_files_and_modes(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *pub = xasprintf("%s.pub", f->key);
    struct stat st;

    assert_string_equal(strrchr(f->key, '/') + 1, SSH_KEY_NAME);
    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
}

/* ssh-keygen reads the .pub line, and its fingerprint is ours. */
static void test_pub_line_parses_with_ssh_keygen(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *line = NULL;
    _cleanup_free_ char *cmd = xasprintf("ssh-keygen -l -f %s.pub", f->key);
    _cleanup_free_ char *out = run(cmd);
    unsigned char *blob = NULL;
    size_t len = 0;
    berr_t err = NULL;

    assert_non_null(out);
    assert_int_equal(ssh_key_pub_line(f->key, &line, &err), 0);
    assert_true(strncmp(line, "ecdsa-sha2-nistp256 AAAA", 24) == 0);
    assert_non_null(strstr(line, " berth-machine-m1"));
    _cleanup_free_ char *b64 = field(line, 1);
    assert_int_equal(ssh_unbase64(b64, &blob, &len), 0);
    _cleanup_free_ char *fp = ssh_fingerprint(blob, len);
    _cleanup_free_ char *theirs = field(out, 1);
    assert_string_equal(fp, theirs);
    assert_non_null(strstr(out, "(ECDSA)"));
    _cleanup_free_ char *type = ssh_blob_type(blob, len);
    assert_string_equal(type, "ecdsa-sha2-nistp256");
    free(blob);
}

/* OpenSSH reads the private key too: the public key it derives is the .pub one. */
static void test_private_key_reads_with_ssh_keygen(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *line = NULL;
    _cleanup_free_ char *cmd = xasprintf("ssh-keygen -y -f %s", f->key);
    _cleanup_free_ char *out = run(cmd);

    assert_non_null(out);
    assert_int_equal(ssh_key_pub_line(f->key, &line, NULL), 0);
    _cleanup_free_ char *ours = field(line, 1);
    _cleanup_free_ char *theirs = field(out, 1);
    assert_string_equal(ours, theirs);
}

static void test_ensure_keeps_an_existing_key(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *before = NULL;
    _cleanup_free_ char *after = NULL;
    _cleanup_free_ char *again = NULL;

    assert_int_equal(read_file(f->key, &before, NULL, NULL), 0);
    assert_int_equal(ssh_key_ensure(f->dir, "other", &again, NULL), 0);
    assert_string_equal(again, f->key);
    assert_int_equal(read_file(f->key, &after, NULL, NULL), 0);
    assert_string_equal(before, after);
}

static void test_base64_and_blob_type(void **state)
{
    static const unsigned char blob[] = {0,   0,   0,   11,  's', 's', 'h', '-', 'e', 'd',
                                         '2', '5', '5', '1', '9', 0,   0,   0,   1,   7};
    unsigned char *back = NULL;
    size_t len = 0;
    (void)state;

    _cleanup_free_ char *b64 = ssh_base64(blob, sizeof(blob));
    assert_int_equal(ssh_unbase64(b64, &back, &len), 0);
    assert_int_equal(len, sizeof(blob));
    assert_memory_equal(back, blob, len);
    free(back);
    _cleanup_free_ char *type = ssh_blob_type(blob, sizeof(blob));
    assert_string_equal(type, "ssh-ed25519");
    assert_null(ssh_blob_type(blob, 3));
    assert_null(ssh_blob_type((const unsigned char *)"\0\0\1\0abc", 7));
    assert_int_equal(ssh_unbase64("abc", &back, &len), -1);
    assert_int_equal(ssh_unbase64("", &back, &len), -1);
    /* OpenSSH prints the SHA-256 fingerprint unpadded. */
    _cleanup_free_ char *fp = ssh_fingerprint(blob, sizeof(blob));
    assert_true(strncmp(fp, "SHA256:", 7) == 0);
    assert_null(strchr(fp, '='));
    assert_int_equal(strlen(fp), 7 + 43);
}

/* What /bin/sh makes of LINE: its words, one per line, joined by '|'. */
static char *sh_words(const char *line)
{
    _cleanup_free_ char *cmd =
        xasprintf("sh -c 'for w in \"$@\"; do printf \"%%s|\" \"$w\"; done; echo' sh %s", line);
    return run(cmd);
}

static void test_quote_and_command_line(void **state)
{
    char *argv[] = {"sh", "-c", "echo 'it''s' \"$HOME\"; exit 7", "", "a b"};
    (void)state;

    _cleanup_free_ char *q = ssh_quote("it's $x");
    assert_string_equal(q, "'it'\\''s $x'");
    _cleanup_free_ char *one = ssh_command_line(1, argv + 2);
    assert_string_equal(one, argv[2]);
    _cleanup_free_ char *all = ssh_command_line(5, argv);
    _cleanup_free_ char *words = sh_words(all);
    assert_string_equal(words, "sh|-c|echo 'it''s' \"$HOME\"; exit 7||a b|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_files_and_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pub_line_parses_with_ssh_keygen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_key_reads_with_ssh_keygen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ensure_keeps_an_existing_key, setup, teardown),
        cmocka_unit_test(test_base64_and_blob_type),
        cmocka_unit_test(test_quote_and_command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
