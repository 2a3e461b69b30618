/* libFuzzer target for runtime-agent/image/layer.c and pack.c: arbitrary bytes are applied as a
 * layer (and as a plain archive) into a fresh directory, which is then packed back into a tar
 * and removed. A canary directory beside it must never change: anything written outside the
 * target aborts. Run as root (layers create device nodes and set owners). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/layer.h"
#include "runtime-agent/image/pack.h"

static char base[64];
static char *canary, *canary_file, *target;

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (d == NULL)
        abort();
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void cleanup(void)
{
    berr_t err = NULL;

    rm_rf(base, &err);
    berr_free(&err);
}

static void setup(void)
{
    berr_t err = NULL;

    strcpy(base, "/tmp/berth-fuzz-layer-XXXXXX");
    if (mkdtemp(base) == NULL)
        abort();
    canary = path_join(base, "canary");
    canary_file = path_join(canary, "passwd");
    target = path_join(base, "a/b/root");
    if (mkdir_p(canary, 0755, &err) < 0 ||
        write_file_atomic(canary_file, "original\n", 9, 0644, &err) < 0)
        abort();
    atexit(cleanup);
}

static void check_contained(void)
{
    char *text = NULL;
    berr_t err = NULL;
    struct stat st;

    if (read_file(canary_file, &text, NULL, &err) < 0 || strcmp(text, "original\n") != 0 ||
        lstat(canary_file, &st) < 0 || st.st_nlink != 1 || count_entries(canary) != 1 ||
        count_entries(base) != 2) {
        fprintf(stderr, "fuzz_layer_tar: something was written outside the layer directory\n");
        abort();
    }
    free(text);
}

static void apply(const uint8_t *data, size_t size, unsigned flags)
{
    struct io_mem m = {.data = data, .len = size};
    struct io_reader r = io_mem_reader(&m);
    struct layer_info info;
    berr_t err = NULL;

    if (mkdir_p(target, 0755, &err) < 0)
        abort();
    if (layer_apply(target, &r, NULL, flags, &info, &err) == 0) {
        struct io_buf out = {0};
        struct io_writer w = io_buf_writer(&out);
        if (layer_pack(target, &w, &err) < 0)
            berr_free(&err);
        free(out.data);
    }
    berr_free(&err);
    check_contained();
    _cleanup_free_ char *a = path_join(base, "a");
    if (rm_rf(a, &err) < 0) {
        fprintf(stderr, "fuzz_layer_tar: %s\n", berr_msg(err));
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (base[0] == '\0')
        setup();
    apply(data, size, 0);
    apply(data, size, LAYER_PLAIN);
    return 0;
}
