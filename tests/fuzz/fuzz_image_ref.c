/* libFuzzer target for runtime-agent/image/ref.c: any text either fails to parse or gives a
 * reference whose normalized and familiar forms parse back to the same reference. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/image/ref.h"

static void check(int cond, const char *what, const char *input)
{
    if (!cond) {
        fprintf(stderr, "fuzz_image_ref: %s for input \"%s\"\n", what, input);
        abort();
    }
}

static void round_trip(const char *text, const struct image_ref *ref, const char *full)
{
    struct image_ref again;
    berr_t err = NULL;

    check(image_ref_parse(text, &again, &err) == 0, "a normalized form does not parse", text);
    char *s = image_ref_string(&again);
    check(strcmp(s, full) == 0, "normalization is not stable", text);
    check(strcmp(again.domain, ref->domain) == 0 && strcmp(again.path, ref->path) == 0,
          "the name changed", text);
    free(s);
    image_ref_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct image_ref ref;
    berr_t err = NULL;
    char id[DIGEST_SIZE];
    const char *hex;

    memcpy(text, data, size);
    text[size] = '\0';
    if (image_id_full(text, id))
        check(strlen(id) == 71, "bad full id", text);
    if (image_id_prefix(text, &hex))
        check(strlen(hex) >= 1 && strlen(hex) <= 64, "bad id prefix", text);
    if (image_ref_parse(text, &ref, &err) == 0) {
        char *full = image_ref_string(&ref);
        char *familiar = image_ref_familiar(&ref);
        char *fname = image_ref_familiar_name(&ref);
        char *back = image_ref_familiarize(full);
        check(strcmp(back, familiar) == 0, "familiarize differs from familiar", text);
        round_trip(full, &ref, full);
        /* As in Docker, "docker.io/a.b/c" is shown as "a.b/c", which names registry a.b. */
        size_t first = strcspn(ref.path, "/");
        bool ambiguous =
            strcmp(ref.domain, "docker.io") == 0 && ref.path[first] == '/' &&
            (memchr(ref.path, '.', first) || (first == 9 && !strncmp(ref.path, "localhost", 9)));
        if (!ambiguous)
            round_trip(familiar, &ref, full);
        check(ref.tag != NULL || ref.digest != NULL, "neither tag nor digest", text);
        free(full);
        free(familiar);
        free(fname);
        free(back);
        image_ref_clear(&ref);
    } else {
        check(err != NULL && err->errnum != 0, "failure without an error", text);
        berr_free(&err);
    }
    free(text);
    return 0;
}
