/* runtime-agent/containers/logs.c: reading json-file logs as GET /containers/{id}/logs
 * serves them, over synthetic log files: framing, stream selection, timestamps, details,
 * tail across rotated files, since/until, damaged and partial lines, and following through
 * appends, rotations and truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/logs.h"
#include "runtime-agent/timefmt.h"

#define T0 "2026-11-27T21:40:00"
/* 2026-11-27T21:40:00Z in unix seconds */
#define T0_UNIX 1795815600LL

struct fx {
    char dir[64];
    char *path;
    /* What the sink received. */
    char *out;
    size_t len, cap;
    int writes;
    /* Following: the script the idle callback plays, one step per call. */
    int step;
    int alive_steps; /* alive() is true while step < alive_steps */
    void (*script)(struct fx *f, int step);
    int fail_write_after; /* >0: the N-th write fails (a client that left) */
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));

    strcpy(f->dir, "/tmp/berth-test-logs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->path = xasprintf("%s/c-json.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    berr_t err = NULL;

    rm_rf(f->dir, &err);
    berr_free(&err);
    free(f->path);
    free(f->out);
    free(f);
    return 0;
}

static int sink_write(void *ctx, const void *buf, size_t len, berr_t *err)
{
    struct fx *f = ctx;

    f->writes++;
    if (f->fail_write_after > 0 && f->writes >= f->fail_write_after)
        return berr_set(err, EPIPE, "client went away");
    if (f->len + len + 1 > f->cap) {
        f->cap = (f->len + len + 1) * 2;
        f->out = realloc(f->out, f->cap);
        assert_non_null(f->out);
    }
    memcpy(f->out + f->len, buf, len);
    f->len += len;
    f->out[f->len] = '\0';
    return 0;
}

static bool sink_alive(void *ctx)
{
    struct fx *f = ctx;
    return f->step < f->alive_steps;
}

static int sink_idle(void *ctx, int ms, berr_t *err)
{
    struct fx *f = ctx;

    (void)ms;
    (void)err;
    if (f->script)
        f->script(f, f->step);
    f->step++;
    return 0;
}

static void reset_out(struct fx *f)
{
    f->len = 0;
    f->writes = 0;
    if (f->out)
        f->out[0] = '\0';
}

/* Append log lines to FILE: each (stream, text, seconds after T0) or raw text. */
static void append_raw(const char *file, const char *text)
{
    FILE *fp = fopen(file, "a");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void append(const char *file, const char *stream, const char *text, int sec)
{
    char line[512];

    snprintf(line, sizeof(line),
             "{\"log\":\"%s\\n\",\"stream\":\"%s\",\"time\":\"" T0 ".%09dZ\"}\n", text, stream,
             sec * 1000 + 1);
    /* sec*1000+1 ns keeps times ordered; for whole seconds use append_at. */
    append_raw(file, line);
}

static void append_at(const char *file, const char *stream, const char *text, const char *time)
{
    char line[512];

    snprintf(line, sizeof(line), "{\"log\":\"%s\\n\",\"stream\":\"%s\",\"time\":\"%s\"}\n", text,
             stream, time);
    append_raw(file, line);
}

static char *rotated(struct fx *f, int n)
{
    return xasprintf("%s.%d", f->path, n);
}

/* The multiplexed output as "S:payload" per frame (payload keeps its newline). */
static char *demux(const char *buf, size_t len)
{
    size_t cap = len * 2 + 16, o = 0;
    char *s = xcalloc(1, cap);

    for (size_t i = 0; i < len;) {
        assert_true(len - i >= STDCOPY_HEADER);
        const unsigned char *h = (const unsigned char *)buf + i;
        assert_int_equal(h[1] | h[2] | h[3], 0);
        size_t n = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        i += STDCOPY_HEADER;
        assert_true(i + n <= len);
        o += (size_t)snprintf(s + o, cap - o, "%d:", h[0]);
        memcpy(s + o, buf + i, n);
        o += n;
        s[o] = '\0';
        i += n;
    }
    return s;
}

static struct log_opts opts_all(void)
{
    struct log_opts o = {.show_stdout = true, .show_stderr = true, .tail = -1};
    return o;
}

static void run(struct fx *f, const struct log_opts *o)
{
    struct log_sink s = {sink_write, sink_alive, sink_idle, f};
    berr_t err = NULL;

    reset_out(f);
    int rc = logs_stream(f->path, o, &s, &err);
    if (rc < 0)
        fail_msg("logs_stream: %s", berr_msg(err));
}

static void assert_demuxed(struct fx *f, const char *want)
{
    char *got = demux(f->out ? f->out : "", f->len);
    assert_string_equal(got, want);
    free(got);
}

/* ---- parsing ---- */

static void test_parse(void **state)
{
    int64_t ns;

    (void)state;
    assert_int_equal(logs_parse_tail(NULL), -1);
    assert_int_equal(logs_parse_tail("all"), -1);
    assert_int_equal(logs_parse_tail(""), -1);
    assert_int_equal(logs_parse_tail("x"), -1);
    assert_int_equal(logs_parse_tail("-3"), -1);
    assert_int_equal(logs_parse_tail("0"), 0);
    assert_int_equal(logs_parse_tail("25"), 25);

    assert_int_equal(logs_parse_unix(NULL, &ns), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(logs_parse_unix("1700000000", &ns), 0);
    assert_int_equal(ns, 1700000000LL * 1000000000LL);
    assert_int_equal(logs_parse_unix("1700000000.123", &ns), 0);
    assert_int_equal(ns, 1700000000123000000LL);
    assert_int_equal(logs_parse_unix("1700000000.000000001", &ns), 0);
    assert_int_equal(ns, 1700000000000000001LL);
    assert_int_equal(logs_parse_unix("17x", &ns), -1);
    assert_int_equal(logs_parse_unix("-5", &ns), -1);
    assert_int_equal(logs_parse_unix("99999999999999999999", &ns), -1);

    assert_int_equal(time_parse_rfc3339_ns(T0 "Z", &ns), 0);
    assert_int_equal(ns, T0_UNIX * 1000000000LL);
    assert_int_equal(time_parse_rfc3339_ns(T0 ".5Z", &ns), 0);
    assert_int_equal(ns, T0_UNIX * 1000000000LL + 500000000);
    assert_int_equal(time_parse_rfc3339_ns(T0 ".123456789123Z", &ns), 0);
    assert_int_equal(ns, T0_UNIX * 1000000000LL + 123456789);
    assert_int_equal(time_parse_rfc3339_ns("2026-11-27T22:40:00+01:00", &ns), 0);
    assert_int_equal(ns, T0_UNIX * 1000000000LL);
    assert_int_equal(time_parse_rfc3339_ns("2026-11-27T21:40:00", &ns), -1);
    assert_int_equal(time_parse_rfc3339_ns("2026-13-27T21:40:00Z", &ns), -1);
    assert_int_equal(time_parse_rfc3339_ns("garbage", &ns), -1);
    assert_int_equal(time_parse_rfc3339_ns(NULL, &ns), -1);

    char buf[48];
    logs_format_time(T0_UNIX * 1000000000LL + 5, buf, sizeof(buf));
    assert_string_equal(buf, T0 ".000000005Z");
    logs_format_time(T0_UNIX * 1000000000LL, buf, sizeof(buf));
    assert_string_equal(buf, T0 ".000000000Z");

    unsigned char h[8];
    stdcopy_header(h, 2, 0x01020304);
    assert_memory_equal(h, "\x02\x00\x00\x00\x01\x02\x03\x04", 8);
}

/* ---- reading ---- */

static void test_missing_log_is_empty(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    run(f, &o);
    assert_int_equal(f->len, 0);
    o.tail = 5;
    run(f, &o);
    assert_int_equal(f->len, 0);
}

static void test_streams_and_framing(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    append(f->path, "stdout", "out", 0);
    append(f->path, "stderr", "err", 1);
    append(f->path, "stdout", "tick 0", 2);
    run(f, &o);
    assert_demuxed(f, "1:out\n2:err\n1:tick 0\n");

    o.show_stderr = false;
    run(f, &o);
    assert_demuxed(f, "1:out\n1:tick 0\n");

    o.show_stderr = true;
    o.show_stdout = false;
    run(f, &o);
    assert_demuxed(f, "2:err\n");

    /* TTY: raw bytes, no frames. */
    o = opts_all();
    o.tty = true;
    run(f, &o);
    assert_string_equal(f->out, "out\nerr\ntick 0\n");
}

static void test_timestamps_and_details(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    append_at(f->path, "stdout", "a", T0 ".5Z");
    append_raw(f->path, "{\"log\":\"b\\n\",\"stream\":\"stdout\",\"attrs\":{\"z\":\"1\",\"a "
                        "b\":\"x/y\"},\"time\":\"" T0 "Z\"}\n");
    o.tty = true;
    o.timestamps = true;
    run(f, &o);
    assert_string_equal(f->out, T0 ".500000000Z a\n" T0 ".000000000Z b\n");

    o.timestamps = false;
    o.details = true;
    run(f, &o);
    assert_string_equal(f->out, " a\na+b=x%2Fy,z=1 b\n");

    o.timestamps = true;
    o.tty = false;
    run(f, &o);
    assert_demuxed(f, "1:" T0 ".500000000Z  a\n1:" T0 ".000000000Z a+b=x%2Fy,z=1 b\n");
}

static void test_escapes_damage_and_partial(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    append_raw(f->path, "{\"log\":\"a\\u0000b\\t\\\"q\\\" \\u00e9\\n\",\"stream\":\"stdout\","
                        "\"time\":\"" T0 "Z\"}\n");
    append_raw(f->path, "{\"log\":\"trunc\n"); /* damaged: skipped */
    append_raw(f->path, "\n");                 /* empty line */
    append_raw(f->path, "{\"log\":\"no newline\",\"stream\":\"stderr\",\"time\":\"" T0 "Z\"}\n");
    append_raw(f->path, "{\"log\":\"partial, being written"); /* not yet a line */
    o.tty = true;
    run(f, &o);
    assert_int_equal(f->len, 21);
    assert_memory_equal(f->out, "a\0b\t\"q\" \xc3\xa9\nno newline", 21);
}

static void write_rotated_set(struct fx *f)
{
    char *r1 = rotated(f, 1), *r2 = rotated(f, 2);

    append(r2, "stdout", "l1", 1);
    append(r2, "stderr", "l2", 2);
    append(r2, "stdout", "l3", 3);
    append(r1, "stdout", "l4", 4);
    append(r1, "stdout", "l5", 5);
    append(f->path, "stderr", "l6", 6);
    append(f->path, "stdout", "l7", 7);
    free(r1);
    free(r2);
}

static void test_rotated_files_in_order(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    write_rotated_set(f);
    o.tty = true;
    run(f, &o);
    assert_string_equal(f->out, "l1\nl2\nl3\nl4\nl5\nl6\nl7\n");
}

static void test_tail(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    write_rotated_set(f);
    o.tty = true;
    o.tail = 2;
    run(f, &o);
    assert_string_equal(f->out, "l6\nl7\n");
    o.tail = 1;
    run(f, &o);
    assert_string_equal(f->out, "l7\n");
    o.tail = 3; /* reaches into PATH.1 */
    run(f, &o);
    assert_string_equal(f->out, "l5\nl6\nl7\n");
    o.tail = 4; /* exactly PATH.1 and PATH */
    run(f, &o);
    assert_string_equal(f->out, "l4\nl5\nl6\nl7\n");
    o.tail = 6;
    run(f, &o);
    assert_string_equal(f->out, "l2\nl3\nl4\nl5\nl6\nl7\n");
    o.tail = 100;
    run(f, &o);
    assert_string_equal(f->out, "l1\nl2\nl3\nl4\nl5\nl6\nl7\n");
    o.tail = 0;
    run(f, &o);
    assert_int_equal(f->len, 0);

    /* Docker counts both streams, then filters: the last 2 lines are l6 (stderr) and l7. */
    o.tail = 2;
    o.show_stderr = false;
    run(f, &o);
    assert_string_equal(f->out, "l7\n");
    o.show_stderr = true;

    /* A partial last line does not count as one. */
    append_raw(f->path, "{\"log\":\"l8 part");
    o.tail = 1;
    run(f, &o);
    assert_string_equal(f->out, "l7\n");
}

static void test_tail_big_file(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();
    char text[32];

    /* Lines spanning several read blocks of the backward scan. */
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 20000; i++)
        fprintf(fp, "{\"log\":\"line %05d\\n\",\"stream\":\"stdout\",\"time\":\"" T0 ".%09dZ\"}\n",
                i, i);
    fclose(fp);
    o.tty = true;
    o.tail = 3;
    run(f, &o);
    assert_string_equal(f->out, "line 19997\nline 19998\nline 19999\n");
    o.tail = 15000;
    run(f, &o);
    assert_int_equal(f->len, 15000 * 11);
    assert_memory_equal(f->out, "line 05000\n", 11);
    o.tail = -1;
    run(f, &o);
    assert_int_equal(f->len, 20000 * 11);
    snprintf(text, sizeof(text), "line %05d\n", 12345);
    assert_memory_equal(f->out + 12345 * 11, text, 11);
    assert_true(f->writes > 1); /* sent in batches, not as one piece */
}

static void test_since_until(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    append_at(f->path, "stdout", "t0", T0 "Z");
    append_at(f->path, "stdout", "t1", "2026-11-27T21:40:01Z");
    append_at(f->path, "stdout", "t1.5", "2026-11-27T21:40:01.5Z");
    append_at(f->path, "stdout", "t2", "2026-11-27T21:40:02Z");
    append_at(f->path, "stdout", "t3", "2026-11-27T21:40:03Z");
    o.tty = true;
    o.since_ns = (T0_UNIX + 1) * 1000000000LL; /* inclusive */
    run(f, &o);
    assert_string_equal(f->out, "t1\nt1.5\nt2\nt3\n");
    o.until_ns = (T0_UNIX + 2) * 1000000000LL; /* inclusive, then stop */
    run(f, &o);
    assert_string_equal(f->out, "t1\nt1.5\nt2\n");
    o.since_ns = (T0_UNIX + 1) * 1000000000LL + 200000000;
    run(f, &o);
    assert_string_equal(f->out, "t1.5\nt2\n");
    /* Tail first, then the time window (as Docker). */
    o.since_ns = 0;
    o.until_ns = 0;
    o.tail = 2;
    o.since_ns = (T0_UNIX + 3) * 1000000000LL;
    run(f, &o);
    assert_string_equal(f->out, "t3\n");
}

/* ---- following ---- */

static void script_rotate(struct fx *f, int step)
{
    char *r1 = rotated(f, 1), *r2 = rotated(f, 2);

    switch (step) {
    case 0:
        append(f->path, "stdout", "new1", 10);
        break;
    case 1: /* a rotation: PATH -> PATH.1, a new PATH */
        append(f->path, "stdout", "new2", 11);
        assert_int_equal(rename(f->path, r1), 0);
        append(f->path, "stderr", "new3", 12);
        break;
    case 2: /* two rotations between two polls: PATH.1 -> PATH.2 each time */
        append(f->path, "stdout", "new4", 13);
        assert_int_equal(rename(r1, r2), 0);
        assert_int_equal(rename(f->path, r1), 0);
        append(f->path, "stdout", "new5", 14);
        assert_int_equal(rename(r1, r2), 0);
        assert_int_equal(rename(f->path, r1), 0);
        append(f->path, "stderr", "new5b", 15);
        break;
    case 3: /* a line written in two pieces */
        append_raw(f->path, "{\"log\":\"new6\\n\",\"stre");
        break;
    case 4:
        append_raw(f->path, "am\":\"stdout\",\"time\":\"" T0 "Z\"}\n");
        break;
    case 5: /* mid-rotation: PATH is missing for a moment */
        append(f->path, "stdout", "new7", 16);
        assert_int_equal(rename(f->path, r1), 0);
        break;
    case 6:
        append(f->path, "stdout", "new8", 17);
        break;
    default:
        break;
    }
    free(r1);
    free(r2);
}

static void test_follow_rotation(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    append(f->path, "stdout", "old", 0);
    f->script = script_rotate;
    f->alive_steps = 8;
    o.follow = true;
    run(f, &o);
    /* After step 2 the file being read (new4) is PATH.2 and PATH.1 (new5) was never seen:
     * both are read before the new PATH. */
    assert_demuxed(f, "1:old\n1:new1\n1:new2\n2:new3\n1:new4\n1:new5\n2:new5b\n1:new6\n"
                      "1:new7\n1:new8\n");
    assert_int_equal(f->step, 8);
}

static void script_truncate(struct fx *f, int step)
{
    if (step == 0) {
        append(f->path, "stdout", "before", 1);
    } else if (step == 1) { /* max-file 1: truncated in place */
        assert_int_equal(truncate(f->path, 0), 0);
        append(f->path, "stdout", "x", 2);
    } else if (step == 2) {
        append(f->path, "stdout", "after", 3);
    }
}

static void test_follow_truncate_and_tail0(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    append(f->path, "stdout", "a long line written before the follower started", 0);
    f->script = script_truncate;
    f->alive_steps = 3;
    o.follow = true;
    o.tail = 0;
    o.tty = true;
    run(f, &o);
    assert_string_equal(f->out, "before\nx\nafter\n");
}

static void script_late_file(struct fx *f, int step)
{
    if (step == 1)
        append(f->path, "stdout", "first", 1);
}

static void test_follow_until_stop(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();

    /* No log yet: the follower waits for it; output written before the container stopped
     * is all there. */
    f->script = script_late_file;
    f->alive_steps = 2;
    o.follow = true;
    o.tty = true;
    run(f, &o);
    assert_string_equal(f->out, "first\n");
    assert_int_equal(f->step, 2);

    /* A stopped container: no following at all. */
    f->step = 0;
    f->alive_steps = 0;
    f->script = NULL;
    run(f, &o);
    assert_string_equal(f->out, "first\n");
    assert_int_equal(f->step, 0);

    /* until in the past ends following at once. */
    f->alive_steps = 100;
    o.until_ns = 1;
    run(f, &o);
    assert_int_equal(f->len, 0);
    assert_int_equal(f->step, 0);
}

static void test_client_gone(void **state)
{
    struct fx *f = *state;
    struct log_opts o = opts_all();
    struct log_sink s = {sink_write, sink_alive, sink_idle, f};
    berr_t err = NULL;

    append(f->path, "stdout", "x", 0);
    f->alive_steps = 1000000;
    f->fail_write_after = 1;
    o.follow = true;
    reset_out(f);
    assert_int_equal(logs_stream(f->path, &o, &s, &err), -1);
    assert_string_equal(berr_msg(err), "client went away: Broken pipe");
    berr_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_missing_log_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_and_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps_and_details, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes_damage_and_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotated_files_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_big_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_since_until, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_truncate_and_tail0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_until_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
