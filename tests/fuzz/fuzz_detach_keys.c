/* libFuzzer target for runtime-agent/containers/detachkeys.c. The input is a key spec (up to
 * the first newline, as a client sends it in `detachKeys`) and then a client's stdin. The
 * spec must parse or fail with EINVAL; the stdin, fed in pieces whose sizes come from the
 * stdin itself, must come out exactly as the model says: everything before the first
 * occurrence of the sequence, or everything when there is none. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-agent/containers/detachkeys.h"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_detach_keys: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t spec_len = nl ? (size_t)(nl - data) : size;
    char *spec = malloc(spec_len + 1);
    memcpy(spec, data, spec_len);
    spec[spec_len] = '\0';
    const uint8_t *in = nl ? nl + 1 : data + size;
    size_t len = nl ? size - spec_len - 1 : 0;
    struct detach_keys k;
    berr_t err = NULL;

    if (detach_keys_parse(&k, spec, &err) < 0) {
        check(err != NULL && err->errnum == EINVAL, "a failure that is not EINVAL");
        berr_free(&err);
        free(spec);
        return 0;
    }
    check(k.len >= 1 && k.len <= DETACH_KEYS_MAX, "a sequence of a bad length");

    uint8_t *out = malloc(len + DETACH_KEYS_MAX);
    uint8_t *piece = malloc(len + DETACH_KEYS_MAX);
    size_t out_len = 0, pos = 0;
    bool detached = false;
    while (pos < len && !detached) {
        size_t step = 1 + in[pos] % 7;
        if (step > len - pos)
            step = len - pos;
        size_t consumed = 0;
        size_t n = detach_keys_feed(&k, in + pos, step, piece, &consumed, &detached);
        check(n <= step + DETACH_KEYS_MAX, "more output than room");
        check(consumed <= step && (detached || consumed == step), "bad consumed count");
        memcpy(out + out_len, piece, n);
        out_len += n;
        pos += consumed;
        check(detached || pos - out_len == k.matched, "held bytes do not add up");
        check(k.matched < k.len, "the whole sequence held back");
    }
    if (!detached)
        out_len += detach_keys_flush(&k, out + out_len);

    const uint8_t *hit = k.len <= len ? memmem(in, len, k.seq, k.len) : NULL;
    check(detached == (hit != NULL), "detached differs from the model");
    size_t want = hit ? (size_t)(hit - in) : len;
    check(out_len == want, "output length differs from the model");
    check(memcmp(out, in, out_len) == 0, "output bytes differ from the input");
    check(!detached || pos == want + k.len, "the match does not end where it should");
    free(out);
    free(piece);
    free(spec);
    return 0;
}
