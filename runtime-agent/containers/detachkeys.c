/* Docker's detach keys: parsing and the streaming scanner (detachkeys.h). */
#include "runtime-agent/containers/detachkeys.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

/* Names of the control codes 0..31, in code order. */
static const char CTRL_NAMES[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static struct detach_keys default_keys = {.seq = {16, 17}, .len = 2};

/* The byte KEY (LEN bytes, not terminated) stands for, or -1. */
static int key_code(const char *key, size_t len)
{
    if (len == 1)
        return (unsigned char)key[0];
    if (len == 3 && memcmp(key, "DEL", 3) == 0)
        return 127;
    if (len == 6 && memcmp(key, "ctrl-", 5) == 0 && key[5] != '\0') {
        const char *p = strchr(CTRL_NAMES, key[5]);
        if (p != NULL)
            return (int)(p - CTRL_NAMES);
    }
    return -1;
}

static void build_borders(struct detach_keys *k)
{
    size_t b = 0;

    k->border[0] = 0;
    for (size_t i = 1; i < k->len; i++) {
        while (b > 0 && k->seq[i] != k->seq[b])
            b = k->border[b - 1];
        if (k->seq[i] == k->seq[b])
            b++;
        k->border[i] = b;
    }
    k->matched = 0;
}

static int parse_spec(struct detach_keys *k, const char *spec, berr_t *err)
{
    const char *p = spec;

    memset(k, 0, sizeof(*k));
    for (;;) {
        size_t n = strcspn(p, ",");
        int code = key_code(p, n);
        if (code < 0)
            return berr_set(err, EINVAL, "detach keys \"%s\": unknown key \"%.*s\"", spec, (int)n,
                            p);
        if (k->len == DETACH_KEYS_MAX)
            return berr_set(err, EINVAL, "detach keys \"%s\": more than %d keys", spec,
                            DETACH_KEYS_MAX);
        k->seq[k->len++] = (unsigned char)code;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    build_borders(k);
    return 0;
}

int detach_keys_parse(struct detach_keys *k, const char *spec, berr_t *err)
{
    if (spec != NULL && *spec != '\0')
        return parse_spec(k, spec, err);
    pthread_mutex_lock(&default_lock);
    *k = default_keys;
    pthread_mutex_unlock(&default_lock);
    build_borders(k);
    return 0;
}

int detach_keys_set_default(const char *spec, berr_t *err)
{
    struct detach_keys k;

    if (parse_spec(&k, spec != NULL && *spec != '\0' ? spec : DETACH_KEYS_DEFAULT, err) < 0)
        return -1;
    pthread_mutex_lock(&default_lock);
    default_keys = k;
    pthread_mutex_unlock(&default_lock);
    return 0;
}

size_t detach_keys_feed(struct detach_keys *k, const void *in, size_t len, void *out,
                        size_t *consumed, bool *detached)
{
    const unsigned char *src = in;
    unsigned char *dst = out;
    size_t n = 0;

    *detached = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = src[i];
        size_t m = k->matched;
        while (m > 0 && k->seq[m] != c)
            m = k->border[m - 1];
        if (k->seq[m] == c)
            m++;
        /* The held bytes were seq[0..matched), now followed by C; the last M of them are
         * still a candidate, everything before goes out. */
        size_t release = k->matched + 1 - m;
        size_t from_seq = release < k->matched ? release : k->matched;
        memcpy(dst + n, k->seq, from_seq);
        n += from_seq;
        if (release > k->matched)
            dst[n++] = c;
        if (m == k->len) {
            k->matched = 0;
            *detached = true;
            if (consumed)
                *consumed = i + 1;
            return n;
        }
        k->matched = m; /* the held bytes are always seq[0..matched) */
    }
    if (consumed)
        *consumed = len;
    return n;
}

size_t detach_keys_flush(struct detach_keys *k, void *out)
{
    size_t n = k->matched;

    memcpy(out, k->seq, n);
    k->matched = 0;
    return n;
}
