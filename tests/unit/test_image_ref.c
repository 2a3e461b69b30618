/* Unit tests for runtime-agent/image/ref.c: Docker reference parsing, Docker
 * Hub normalization, familiar forms and image ID forms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/image/ref.h"

struct good {
    const char *in;
    const char *full;     /* image_ref_string */
    const char *familiar; /* image_ref_familiar */
    const char *domain, *path, *tag, *digest;
    bool name_only;
};

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct good goods[] = {
    {"alpine", "docker.io/library/alpine:latest", "alpine:latest", "docker.io", "library/alpine",
     "latest", NULL, true},
    {"alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19", "docker.io", "library/alpine",
     "3.19", NULL, false},
    {"library/alpine", "docker.io/library/alpine:latest", "alpine:latest", "docker.io",
     "library/alpine", "latest", NULL, true},
    {"docker.io/alpine", "docker.io/library/alpine:latest", "alpine:latest", "docker.io",
     "library/alpine", "latest", NULL, true},
    {"docker.io/library/alpine:edge", "docker.io/library/alpine:edge", "alpine:edge", "docker.io",
     "library/alpine", "edge", NULL, false},
    {"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io", "library/busybox", "latest", NULL, true},
    {"user/app:v1", "docker.io/user/app:v1", "user/app:v1", "docker.io", "user/app", "v1", NULL,
     false},
    {"docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", "docker.io",
     "library/a/b", "latest", NULL, true},
    {"localhost:5000/x/y:tag", "localhost:5000/x/y:tag", "localhost:5000/x/y:tag", "localhost:5000",
     "x/y", "tag", NULL, false},
    {"localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000", "x", "1",
     NULL, false},
    {"localhost/x", "localhost/x:latest", "localhost/x:latest", "localhost", "x", "latest", NULL,
     true},
    /* "localhost:5000" alone is the image "localhost" with tag 5000. */
    {"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000", "docker.io",
     "library/localhost", "5000", NULL, false},
    {"quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0",
     "quay.io", "coreos/etcd", "v3.5.0", NULL, false},
    {"Example.com/foo", "Example.com/foo:latest", "Example.com/foo:latest", "Example.com", "foo",
     "latest", NULL, true},
    {"[::1]:5000/foo:bar", "[::1]:5000/foo:bar", "[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar",
     NULL, false},
    {"alpine@" D64, "docker.io/library/alpine@" D64, "alpine@" D64, "docker.io", "library/alpine",
     NULL, D64, false},
    {"alpine:3@" D64, "docker.io/library/alpine:3@" D64, "alpine:3@" D64, "docker.io",
     "library/alpine", "3", D64, false},
    {"a.b-c/e--f.g_h:Tag_1.-x", "a.b-c/e--f.g_h:Tag_1.-x", "a.b-c/e--f.g_h:Tag_1.-x", "a.b-c",
     "e--f.g_h", "Tag_1.-x", NULL, false},
    {"a__b/c", "docker.io/a__b/c:latest", "a__b/c:latest", "docker.io", "a__b/c", "latest", NULL,
     true},
};

static const char *const bads[] = {
    "",
    ":",
    "Alpine",
    "docker.io/Library/alpine",
    "user/App",
    "alpine:",
    "alpine:tag:more",
    "alpine:-tag",
    "alpine:.tag",
    "/alpine",
    "alpine/",
    "a//b",
    "a..b",
    "a___b",
    "a-",
    "-a",
    "a_",
    "a b",
    "alpine@sha256:abc",
    "alpine@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    "alpine@md5:0123456789abcdef0123456789abcdef",
    "alpine@" D64 "0",
    ("alpine@@" D64),
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "localhost:/x",
    "localhost:5x/y",
    "-host.com/x",
    "host-.com/x",
    "[zz]:5000/x",
    "_x/y",
    "x@",
    "x\n",
};

static void check_good(const struct good *g)
{
    struct image_ref ref;
    berr_t err = NULL;

    if (image_ref_parse(g->in, &ref, &err) < 0)
        fail_msg("%s: unexpected error: %s", g->in, berr_msg(err));
    char *full = image_ref_string(&ref);
    char *fam = image_ref_familiar(&ref);
    assert_string_equal(full, g->full);
    assert_string_equal(fam, g->familiar);
    assert_string_equal(ref.domain, g->domain);
    assert_string_equal(ref.path, g->path);
    if (g->tag)
        assert_string_equal(ref.tag, g->tag);
    else
        assert_null(ref.tag);
    if (g->digest)
        assert_string_equal(ref.digest, g->digest);
    else
        assert_null(ref.digest);
    assert_int_equal(ref.name_only, g->name_only);
    /* The normalized form parses to itself. */
    char *again = image_ref_familiarize(full);
    assert_string_equal(again, g->familiar);
    free(again);
    free(full);
    free(fam);
    image_ref_clear(&ref);
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
        check_good(&goods[i]);
}

static void test_reject_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct image_ref ref;
        berr_t err = NULL;
        if (image_ref_parse(bads[i], &ref, &err) == 0)
            fail_msg("\"%s\" was accepted as %s/%s", bads[i], ref.domain, ref.path);
        assert_non_null(err);
        assert_int_equal(err->errnum, EINVAL);
        assert_null(ref.domain);
        berr_free(&err);
    }
}

static void test_error_messages(void **state)
{
    struct image_ref ref;
    berr_t err = NULL;

    (void)state;
    assert_int_equal(image_ref_parse("Alpine", &ref, &err), -1);
    assert_non_null(strstr(berr_msg(err), "repository name must be lowercase"));
    berr_free(&err);
    assert_int_equal(
        image_ref_parse("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &ref,
                        &err),
        -1);
    assert_non_null(strstr(berr_msg(err), "cannot specify 64-byte hexadecimal strings"));
    berr_free(&err);
    assert_int_equal(image_ref_parse("a@md5:0123456789abcdef0123456789abcdef", &ref, &err), -1);
    assert_non_null(strstr(berr_msg(err), "unsupported digest algorithm"));
    berr_free(&err);
    assert_int_equal(image_ref_parse("a b", &ref, &err), -1);
    assert_non_null(strstr(berr_msg(err), "invalid reference format"));
    berr_free(&err);
}

static void test_length_limits(void **state)
{
    struct image_ref ref;
    berr_t err = NULL;
    char name[300], tag[200];

    (void)state;
    memset(name, 'a', sizeof(name));
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(image_ref_parse(name, &ref, &err), -1);
    assert_non_null(strstr(berr_msg(err), "255"));
    berr_free(&err);

    memset(tag, 't', sizeof(tag));
    memcpy(tag, "x:", 2);
    tag[2 + 128] = '\0';
    assert_int_equal(image_ref_parse(tag, &ref, &err), 0);
    image_ref_clear(&ref);
    tag[2 + 128] = 't';
    tag[2 + 129] = '\0';
    assert_int_equal(image_ref_parse(tag, &ref, &err), -1);
    berr_free(&err);
}

static void test_familiar_name(void **state)
{
    struct image_ref ref;
    berr_t err = NULL;

    (void)state;
    assert_int_equal(image_ref_parse("docker.io/library/alpine:3", &ref, &err), 0);
    char *n = image_ref_familiar_name(&ref);
    char *full = image_ref_name(&ref);
    assert_string_equal(n, "alpine");
    assert_string_equal(full, "docker.io/library/alpine");
    free(n);
    free(full);
    image_ref_clear(&ref);
    assert_int_equal(image_ref_parse("localhost:5000/x", &ref, &err), 0);
    n = image_ref_familiar_name(&ref);
    assert_string_equal(n, "localhost:5000/x");
    free(n);
    image_ref_clear(&ref);
    /* Not a reference: returned as it is. */
    n = image_ref_familiarize("Not A Ref");
    assert_string_equal(n, "Not A Ref");
    free(n);
}

static void test_image_ids(void **state)
{
    char id[DIGEST_SIZE];
    const char *hex;
    const char *full = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    (void)state;
    assert_true(image_id_full(full, id));
    assert_string_equal(id,
                        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_true(image_id_full(id, id));
    assert_string_equal(id,
                        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_false(image_id_full("0123", id));
    assert_false(image_id_full("sha256:0123", id));
    assert_false(image_id_full(
        "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", id));
    assert_false(image_id_full(NULL, id));

    assert_true(image_id_prefix("0", &hex));
    assert_string_equal(hex, "0");
    assert_true(image_id_prefix("sha256:01ab", &hex));
    assert_string_equal(hex, "01ab");
    assert_true(image_id_prefix(full, &hex));
    assert_false(image_id_prefix("", &hex));
    assert_false(image_id_prefix("sha256:", &hex));
    assert_false(image_id_prefix("xyz", &hex));
    assert_false(image_id_prefix("ABC", &hex));
    assert_false(
        image_id_prefix("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", &hex));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),    cmocka_unit_test(test_reject_table),
        cmocka_unit_test(test_error_messages), cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_familiar_name),  cmocka_unit_test(test_image_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
