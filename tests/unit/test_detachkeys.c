/* Unit tests for runtime-agent/containers/detachkeys.c: Docker's key syntax, and the scanner
 * against a brute-force model over many sequences, inputs and ways of cutting the input. */
#include "testutil.h"

#include <errno.h>
#include <stdbool.h>

#include "runtime-agent/containers/detachkeys.h"

static void expect_keys(const char *spec, const char *want, size_t want_len)
{
    struct detach_keys k;
    berr_t err = NULL;

    assert_ok(detach_keys_parse(&k, spec, &err), err);
    assert_int_equal(k.len, want_len);
    assert_memory_equal(k.seq, want, want_len);
    assert_int_equal(k.matched, 0);
}

static void expect_invalid(const char *spec, const char *key)
{
    struct detach_keys k;
    berr_t err = NULL;

    assert_int_equal(detach_keys_parse(&k, spec, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    assert_msg_has(err, key);
    berr_free(&err);
}

static void test_parse(void **state)
{
    (void)state;
    expect_keys(NULL, "\x10\x11", 2);
    expect_keys("", "\x10\x11", 2);
    expect_keys("ctrl-p,ctrl-q", "\x10\x11", 2);
    expect_keys("ctrl-a,a",
                "\x01"
                "a",
                2);
    expect_keys("ctrl-@,ctrl-[,~,ctrl-o", "\x00\x1b~\x0f", 4);
    expect_keys("ctrl-\\,ctrl-],ctrl-^,ctrl-_,ctrl-z", "\x1c\x1d\x1e\x1f\x1a", 5);
    expect_keys("DEL,+", "\x7f+", 2);
    expect_keys("x", "x", 1);
    expect_keys(" ", " ", 1);

    expect_invalid("shift-z", "\"shift-z\"");
    expect_invalid("ctrl-A", "\"ctrl-A\"");
    expect_invalid("ctrl-", "\"ctrl-\"");
    expect_invalid("ctrl-ab", "\"ctrl-ab\"");
    expect_invalid("ctrl-p,", "unknown key \"\"");
    expect_invalid(",", "unknown key \"\"");
    expect_invalid("a,,b", "unknown key \"\"");
    expect_invalid("ctrl-p,ctrl-1", "\"ctrl-1\"");
    expect_invalid("ab", "\"ab\"");
    expect_invalid("del", "\"del\"");

    char many[4 * DETACH_KEYS_MAX + 8] = "";
    for (int i = 0; i < DETACH_KEYS_MAX; i++)
        strcat(many, i ? ",a" : "a");
    struct detach_keys k;
    berr_t err = NULL;
    assert_ok(detach_keys_parse(&k, many, &err), err);
    assert_int_equal(k.len, DETACH_KEYS_MAX);
    strcat(many, ",b");
    expect_invalid(many, "more than");
}

static void test_default(void **state)
{
    (void)state;
    berr_t err = NULL;

    assert_ok(detach_keys_set_default("ctrl-x,y", &err), err);
    expect_keys(NULL, "\x18y", 2);
    expect_keys("ctrl-p,ctrl-q", "\x10\x11", 2);
    assert_int_equal(detach_keys_set_default("bogus-key", &err), -1);
    assert_msg_has(err, "bogus-key");
    berr_free(&err);
    expect_keys("", "\x18y", 2); /* unchanged by the invalid one */
    assert_ok(detach_keys_set_default(NULL, &err), err);
    expect_keys("", "\x10\x11", 2);
}

/* Run the scanner over IN cut into pieces at the offsets in CUTS (ascending, < LEN).
 * *OUT gets everything delivered (feed, then flush when no detach); returns whether it
 * detached and sets *END to the input offset just past the sequence. */
static bool scan(const char *spec, const char *in, size_t len, const size_t *cuts, size_t ncuts,
                 char *out, size_t *out_len, size_t *end)
{
    struct detach_keys k;
    berr_t err = NULL;
    char buf[4096 + DETACH_KEYS_MAX];
    size_t pos = 0;

    assert_ok(detach_keys_parse(&k, spec, &err), err);
    *out_len = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t stop = c < ncuts ? cuts[c] : len;
        size_t consumed = 0;
        bool detached = false;
        assert_true(stop - pos <= 4096);
        size_t n = detach_keys_feed(&k, in + pos, stop - pos, buf, &consumed, &detached);
        assert_true(n <= stop - pos + DETACH_KEYS_MAX);
        memcpy(out + *out_len, buf, n);
        *out_len += n;
        /* What is held back is the partial match: never the whole sequence. */
        if (!detached) {
            assert_int_equal(stop - *out_len, k.matched);
            assert_true(k.matched < k.len);
        }
        if (detached) {
            *end = pos + consumed;
            return true;
        }
        assert_int_equal(consumed, stop - pos);
        pos = stop;
    }
    *out_len += detach_keys_flush(&k, out + *out_len);
    return false;
}

/* The model: the first occurrence of SEQ in IN. */
static bool model(const char *seq, size_t seq_len, const char *in, size_t len, size_t *start)
{
    for (size_t i = 0; i + seq_len <= len; i++)
        if (memcmp(in + i, seq, seq_len) == 0) {
            *start = i;
            return true;
        }
    return false;
}

static void check_case(const char *spec, const char *in, size_t len, const size_t *cuts,
                       size_t ncuts)
{
    struct detach_keys k;
    berr_t err = NULL;
    char out[8192];
    size_t out_len, end = 0, start = 0;

    assert_ok(detach_keys_parse(&k, spec, &err), err);
    bool hit = scan(spec, in, len, cuts, ncuts, out, &out_len, &end);
    bool want = model((const char *)k.seq, k.len, in, len, &start);
    if (hit != want)
        fail_msg("keys %s, input of %zu bytes: detached %d, expected %d", spec, len, hit, want);
    if (hit) {
        assert_int_equal(end, start + k.len);
        assert_int_equal(out_len, start);
    } else {
        assert_int_equal(out_len, len);
    }
    assert_memory_equal(out, in, out_len);
}

static void test_examples(void **state)
{
    (void)state;
    size_t one[] = {1}, two[] = {1, 2}, each[] = {1, 2, 3, 4, 5, 6, 7};

    /* Plain text passes untouched, in one piece or byte by byte. */
    check_case(NULL, "hello", 5, NULL, 0);
    check_case(NULL, "hello\n", 6, each, 5);
    /* ctrl-p ctrl-q in one read, across two reads, after text. */
    check_case(NULL, "\x10\x11", 2, NULL, 0);
    check_case(NULL, "\x10\x11", 2, one, 1);
    check_case(NULL, "ls\x10\x11rest", 8, two, 2);
    /* A lone ctrl-p is delivered once the next byte shows it is not the sequence... */
    check_case(NULL,
               "\x10"
               "a\x10\x11",
               4, each, 3);
    /* ... or when the input ends. */
    check_case(NULL, "ab\x10", 3, two, 2);
    /* ctrl-p ctrl-p ctrl-q: the first ctrl-p goes through, the other two detach. */
    check_case(NULL, "\x10\x10\x11", 3, each, 2);
    /* Overlapping prefixes. */
    check_case("a,a,b", "aaab", 4, each, 3);
    check_case("a,b,a,c", "ababac", 6, each, 5);
    check_case("a,b,a,c", "abababa", 7, NULL, 0);
    check_case("ctrl-a,a",
               "x\x01\x01"
               "a",
               4, one, 1);
    check_case("ctrl-@", "a\0b", 3, NULL, 0);
}

static void test_feed_details(void **state)
{
    (void)state;
    struct detach_keys k;
    berr_t err = NULL;
    char out[64];
    size_t consumed;
    bool detached;

    assert_ok(detach_keys_parse(&k, NULL, &err), err);
    /* Held back, then released in order ahead of the next byte. */
    assert_int_equal(detach_keys_feed(&k, "x\x10", 2, out, &consumed, &detached), 1);
    assert_false(detached);
    assert_int_equal(consumed, 2);
    assert_int_equal(detach_keys_feed(&k, "y", 1, out, &consumed, &detached), 2);
    assert_memory_equal(out, "\x10y", 2);
    /* After the sequence nothing is read: CONSUMED points past it. */
    assert_int_equal(detach_keys_feed(&k, "z\x10\x11tail", 7, out, &consumed, &detached), 1);
    assert_true(detached);
    assert_int_equal(consumed, 3);
    assert_int_equal(detach_keys_feed(&k, "", 0, out, NULL, &detached), 0);
    assert_false(detached);
    assert_int_equal(detach_keys_flush(&k, out), 0);
}

/* Every sequence over a small alphabet against random inputs cut at random places. */
static void test_random(void **state)
{
    (void)state;
    static const char *specs[] = {"a",       "a,b",       "a,a",     "a,a,b",   "a,b,a",
                                  "a,b,a,b", "a,a,b,a,a", "b,a,a,a", "a,b,c,a", "ctrl-p,ctrl-q"};
    unsigned seed = 12345;
    char in[300];
    size_t cuts[300];

    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        for (int round = 0; round < 3000; round++) {
            size_t len = (size_t)(rand_r(&seed) % 40);
            for (size_t i = 0; i < len; i++) {
                static const char alphabet[] = "aabc\x10\x11";
                in[i] = alphabet[rand_r(&seed) % 6];
            }
            size_t ncuts = 0;
            for (size_t i = 1; i < len; i++)
                if (rand_r(&seed) % 3 == 0)
                    cuts[ncuts++] = i;
            check_case(specs[s], in, len, cuts, ncuts);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),    cmocka_unit_test(test_default),
        cmocka_unit_test(test_examples), cmocka_unit_test(test_feed_details),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
