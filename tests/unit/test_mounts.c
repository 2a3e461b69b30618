/* Unit tests for runtime-agent/containers/mounts.c (mounts_plan): -v, --mount, -v /path and
 * image VOLUME entries become Docker's mount points, in mount order, and bad requests get
 * dockerd's texts. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/mounts.h"

struct fixture {
    char base[64];
    struct containers cs;
    struct container *c;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    berr_t err = NULL;

    strcpy(f->base, "/tmp/berth-test-mounts-XXXXXX");
    if (mkdtemp(f->base) == NULL || ctr_store_open(&f->cs.store, f->base, f->base, &err) < 0)
        return -1;
    f->c = ctr_alloc();
    f->c->config = json_object();
    f->c->host = json_object();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;

    f->c->refs = 1;
    ctr_put(&f->cs.store, f->c);
    ctr_store_release(&f->cs.store);
    int r = rm_rf(f->base, &err);
    berr_free(&err);
    free(f);
    return r;
}

/* Plan with HostConfig HOST and Config CONFIG (JSON texts); the result as "Type Name Source
 * Destination Mode RW Propagation Anonymous|" rows, or the error message. */
static char *plan(struct fixture *f, const char *host, const char *config, const char *image)
{
    json_t *img = image ? json_loads(image, 0, NULL) : NULL;
    berr_t err = NULL;
    char *out = NULL;
    size_t len = 0, i;
    json_t *p;

    json_decref(f->c->host);
    json_decref(f->c->config);
    f->c->host = json_loads(host, 0, NULL);
    f->c->config = json_loads(config ? config : "{}", 0, NULL);
    assert_non_null(f->c->host);
    int r = mounts_plan(&f->cs, f->c, img, &err);
    json_decref(img);
    if (r < 0) {
        out = xstrdup(berr_msg(err));
        assert_int_equal(err->errnum, EINVAL);
        berr_free(&err);
        return out;
    }
    FILE *fp = open_memstream(&out, &len);
    json_array_foreach(f->c->mounts, i, p)
    {
        fprintf(fp, "%s %s %s %s %s %d %s %d|", json_string_value(json_object_get(p, "Type")),
                json_string_value(json_object_get(p, "Name")),
                json_string_value(json_object_get(p, "Source")),
                json_string_value(json_object_get(p, "Destination")),
                json_string_value(json_object_get(p, "Mode")),
                json_is_true(json_object_get(p, "RW")),
                json_string_value(json_object_get(p, "Propagation")),
                json_is_true(json_object_get(p, "Anonymous")));
    }
    fclose(fp);
    return out;
}

static void expect(struct fixture *f, const char *host, const char *config, const char *image,
                   const char *want)
{
    _cleanup_free_ char *got = plan(f, host, config, image);
    assert_string_equal(got, want);
}

static void test_binds(void **state)
{
    struct fixture *f = *state;

    expect(f, "{\"Binds\":[\"/h/x/:/c/sub:ro\",\"vol:/c\",\"/anon\",\"/h2:/d:shared,Z\"]}", NULL,
           NULL,
           "volume   /anon z 1  1|volume vol  /c z 1  0|bind  /h2 /d shared,Z 1 shared 0|"
           "bind  /h/x /c/sub ro 0 rprivate 0|");
    expect(f, "{\"Binds\":[\"v:/c:nocopy,ro\"]}", NULL, NULL, "volume v  /c nocopy,ro 0  0|");
}

static void test_bind_errors(void **state)
{
    struct fixture *f = *state;

    expect(f, "{\"Binds\":[\"/h:/c:bogus\"]}", NULL, NULL, "invalid mode: bogus");
    expect(f, "{\"Binds\":[\"/h:/c:ro,rw\"]}", NULL, NULL, "invalid mode: ro,rw");
    expect(f, "{\"Binds\":[\"/c:ro\"]}", NULL, NULL, "invalid volume specification: '/c:ro'");
    expect(f, "{\"Binds\":[\"/h:rel\"]}", NULL, NULL,
           "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": "
           "invalid mount path: 'rel' mount path must be absolute");
    expect(f, "{\"Binds\":[\"/h:/\"]}", NULL, NULL,
           "invalid volume specification: '/h:/': invalid mount config for type \"bind\": "
           "invalid specification: destination can't be '/'");
    expect(f, "{\"Binds\":[\"v:/c:shared\"]}", NULL, NULL,
           "invalid volume specification: 'v:/c:shared': invalid mount config for type "
           "\"volume\": field BindOptions must not be specified");
    expect(f, "{\"Binds\":[\"/a:/c\",\"/b:/c/\"]}", NULL, NULL, "Duplicate mount point: /c");
    expect(f, "{\"Binds\":[\"/a:/t\"],\"Tmpfs\":{\"/t\":\"\"}}", NULL, NULL,
           "Duplicate mount point: /t");
}

static void test_mounts(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *bind = xasprintf(
        "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"%s\",\"Target\":\"/b\",\"ReadOnly\":true},"
        "{\"Type\":\"volume\",\"Target\":\"/v\"},"
        "{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"TmpfsOptions\":{\"SizeBytes\":1048576,"
        "\"Mode\":448}}]}",
        f->base);
    _cleanup_free_ char *want =
        xasprintf("bind  %s /b  0 rprivate 0|tmpfs   /t  1  0|volume   /v z 1  1|", f->base);

    expect(f, bind, NULL, NULL, want);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(f->c->mounts, 1), "TmpfsOptions")),
        "mode=700,size=1m");
    expect(f, "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/no/such/dir\",\"Target\":\"/b\"}]}",
           NULL, NULL,
           "invalid mount config for type \"bind\": bind source path does not exist: "
           "/no/such/dir");
    expect(f, "{\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/v\",\"ReadOnly\":true}]}", NULL,
           NULL,
           "invalid mount config for type \"volume\": must not set ReadOnly mode when using "
           "anonymous volumes");
    expect(f, "{\"Mounts\":[{\"Type\":\"tmpfs\",\"Source\":\"x\",\"Target\":\"/t\"}]}", NULL, NULL,
           "invalid mount config for type \"tmpfs\": field Source must not be specified");
    expect(f, "{\"Mounts\":[{\"Type\":\"npipe\",\"Target\":\"/t\"}]}", NULL, NULL,
           "invalid mount config for type \"npipe\": mount type unknown");
    expect(f, "{\"Mounts\":[{\"Type\":\"volume\"}]}", NULL, NULL,
           "invalid mount config for type \"volume\": field Target must not be empty");
}

static void test_anonymous_and_image(void **state)
{
    struct fixture *f = *state;

    /* -v /data, the image's VOLUME entries, and neither where something else mounts. */
    expect(f, "{\"Binds\":[\"named:/img2\"]}", "{\"Volumes\":{\"/data/\":{}}}",
           "{\"Volumes\":{\"/img\":{},\"/img2\":{},\"/data\":{}}}",
           "volume   /data  1  1|volume   /img  1  1|volume named  /img2 z 1  0|");
    expect(f, "{}", "{\"Volumes\":{\"rel\":{}}}", NULL,
           "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must "
           "be absolute");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_binds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anonymous_and_image, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
