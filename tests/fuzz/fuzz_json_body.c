/* libFuzzer target for the code that interprets JSON from outside berthd: arbitrary bytes are
 * loaded as daemon.json (config_load_file, then config_finish), parsed as Docker's filters
 * argument (api_filters_parse) and, when they are JSON, every string in them (keys too) goes
 * through image_ref_parse and every array of strings through docker import's --change parser
 * (api_image_changes), as do the lines of the raw text. All in process. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/config.h"
#include "runtime-agent/image/ref.h"

#define MAX_LINES 64

static char path[64];
static int fd = -1;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_json_body: %s\n", what);
        abort();
    }
}

static void cleanup(void)
{
    if (fd >= 0)
        close(fd);
    unlink(path);
}

static void setup(void)
{
    strcpy(path, "/tmp/berth-fuzz-daemon-json-XXXXXX");
    fd = mkstemp(path);
    check(fd >= 0, "cannot create the config file");
    atexit(cleanup);
}

/* daemon.json: either an error with a message, or settings config_finish can complete. */
static void config_file(const uint8_t *data, size_t size)
{
    struct daemon_config c;
    berr_t err = NULL;

    check(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size,
          "cannot write the config file");
    memset(&c, 0, sizeof(c));
    c.config_file = xstrdup(path);
    c.set = CFG_CONFIG_FILE;
    if (config_load_file(&c, &err) == 0) {
        if (config_finish(&c, &err) == 0)
            check(c.n_hosts > 0 && c.data_root && c.exec_root && c.pidfile,
                  "config_finish left settings unset");
        else
            check(err != NULL, "config_finish failed without an error");
    } else {
        check(err != NULL && berr_msg(err)[0] != '\0', "config_load_file failed without an error");
    }
    berr_free(&err);
    config_free(&c);
}

static void ref(const char *s)
{
    struct image_ref r;
    berr_t err = NULL;

    if (image_ref_parse(s, &r, &err) == 0) {
        char *full = image_ref_string(&r);
        char *familiar = image_ref_familiarize(full);
        free(familiar);
        free(full);
        image_ref_clear(&r);
    } else {
        check(err != NULL, "image_ref_parse failed without an error");
        berr_free(&err);
    }
}

static void changes(const char *const *lines, size_t n)
{
    json_t *config = NULL;
    berr_t err = NULL;

    if (api_image_changes(lines, n, &config, &err) == 0) {
        check(json_is_object(config), "changes did not give an object");
        json_decref(config);
    } else {
        check(config == NULL && err != NULL, "api_image_changes failed without an error");
        berr_free(&err);
    }
}

/* An array's strings as --change lines (kept out of walk() so deep nesting stays cheap). */
static __attribute__((noinline)) void array_changes(json_t *a)
{
    const char *lines[MAX_LINES];
    json_t *item;
    size_t i, n = 0;

    json_array_foreach(a, i, item)
    {
        if (json_is_string(item) && n < MAX_LINES)
            lines[n++] = json_string_value(item);
    }
    changes(lines, n);
}

/* Every string of V to image_ref_parse, every array to the --change parser. */
static void walk(json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;

    if (json_is_string(v)) {
        ref(json_string_value(v));
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) walk(item);
        array_changes(v);
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, item)
        {
            ref(key);
            walk(item);
        }
    }
}

/* The filters argument must come out as {"key": ["value", ...]} or fail with an error. */
static void filters(const char *text)
{
    json_t *f = NULL, *vals, *v;
    berr_t err = NULL;
    const char *key;
    size_t i;

    if (api_filters_parse(text, &f, &err) < 0) {
        check(f == NULL && err != NULL, "api_filters_parse failed without an error");
        berr_free(&err);
        return;
    }
    check(json_is_object(f), "filters are not an object");
    json_object_foreach(f, key, vals)
    {
        check(json_is_array(vals), "filter values are not a list");
        json_array_foreach(vals, i, v)
        {
            check(json_is_string(v), "a filter value is not a string");
        }
    }
    json_decref(f);
}

/* The raw text's lines as --change values. */
static void change_lines(char *text)
{
    const char *lines[MAX_LINES];
    size_t n = 0;

    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < MAX_LINES;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    changes(lines, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    json_error_t jerr;

    if (!ready) {
        setup();
        ready = 1;
    }
    config_file(data, size);
    char *text = xcalloc(1, size + 1);
    memcpy(text, data, size);
    filters(text);
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (doc) {
        walk(doc);
        json_decref(doc);
    }
    change_lines(text);
    free(text);
    return 0;
}
