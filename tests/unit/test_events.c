/* runtime-agent/events.c: the ring (replay by since/until, a subscriber that falls behind,
 * shutdown waking a waiting subscriber), the rendered line with the old fields, filters
 * (type, event with the exec prefix, container by id or name prefix, image, label) and
 * the time parser. */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"

#define SEC 1000000000LL

static void pub(struct event_bus *b, int64_t t, const char *type, const char *action,
                const char *id, const char *name)
{
    events_publish_at(b, t, type, action, id, json_pack("{s:s,s:s}", "name", name, "app", "x"));
}

static void test_replay_window(void **state)
{
    (void)state;
    struct event_bus *b = events_bus_new(8);
    for (int i = 1; i <= 5; i++) {
        char id[8];
        snprintf(id, sizeof(id), "c%d", i);
        pub(b, i * SEC, "container", "start", id, id);
    }
    struct event_sub *s = events_subscribe(b, 2 * SEC, 4 * SEC);
    struct event *e;
    berr_t err = NULL;
    const char *want[] = {"c2", "c3", "c4"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(events_next(s, 0, &e, &err), 1);
        assert_string_equal(event_actor(e), want[i]);
        event_put(e);
    }
    assert_int_equal(events_next(s, 0, &e, &err), 0); /* c5 is past until */
    events_unsubscribe(s);

    /* Without since/until: only what comes next. */
    s = events_subscribe(b, 0, 0);
    assert_int_equal(events_next(s, 0, &e, &err), 0);
    pub(b, 6 * SEC, "image", "tag", "sha256:ab", "busybox:1");
    assert_int_equal(events_next(s, 0, &e, &err), 1);
    assert_string_equal(event_type(e), "image");
    event_put(e);
    events_unsubscribe(s);
    events_bus_free(b);
}

static void test_fell_behind(void **state)
{
    (void)state;
    struct event_bus *b = events_bus_new(4);
    struct event_sub *s = events_subscribe(b, 0, 0);
    struct event *e;
    berr_t err = NULL;

    pub(b, 1 * SEC, "container", "create", "a", "a");
    assert_int_equal(events_next(s, 0, &e, &err), 1);
    /* Held by the subscriber while the ring overwrites it: still valid. */
    for (int i = 0; i < 6; i++)
        pub(b, (2 + i) * SEC, "container", "start", "b", "b");
    assert_string_equal(event_action(e), "create");
    event_put(e);
    assert_int_equal(events_next(s, 0, &e, &err), -1);
    assert_int_equal(err->errnum, ENOBUFS);
    berr_free(&err);
    events_unsubscribe(s);
    /* A replay from the start gets what the ring still holds: the last 4. */
    s = events_subscribe(b, 1, 0);
    int n = 0;
    while (events_next(s, 0, &e, &err) == 1) {
        n++;
        event_put(e);
    }
    assert_int_equal(n, 4);
    events_unsubscribe(s);
    events_bus_free(b);
}

static void *shut_later(void *arg)
{
    usleep(100 * 1000);
    events_shutdown(arg);
    return NULL;
}

static void test_shutdown_wakes(void **state)
{
    (void)state;
    struct event_bus *b = events_bus_new(4);
    struct event_sub *s = events_subscribe(b, 0, 0);
    struct event *e;
    berr_t err = NULL;
    pthread_t t;

    pthread_create(&t, NULL, shut_later, b);
    assert_int_equal(events_next(s, 10000, &e, &err), -1);
    assert_int_equal(err->errnum, ESHUTDOWN);
    berr_free(&err);
    pthread_join(t, NULL);
    events_unsubscribe(s);
    events_bus_free(b);
}

static void test_line(void **state)
{
    (void)state;
    struct event_bus *b = events_bus_new(4);
    struct event_sub *s = events_subscribe(b, 1, 0);
    struct event *e;
    berr_t err = NULL;

    events_publish_at(b, 5 * SEC + 7, "container", "die", "abc",
                      json_pack("{s:s,s:s,s:s}", "name", "n", "image", "busybox", "exitCode", "3"));
    events_publish_at(b, 6 * SEC, "network", "create", "net1", json_pack("{s:s}", "name", "x"));
    assert_int_equal(events_next(s, 0, &e, &err), 1);
    json_t *doc = json_loads(event_line(e), 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "die");
    assert_string_equal(json_string_value(json_object_get(doc, "id")), "abc");
    assert_string_equal(json_string_value(json_object_get(doc, "from")), "busybox");
    assert_string_equal(json_string_value(json_object_get(doc, "Type")), "container");
    assert_int_equal(json_integer_value(json_object_get(doc, "time")), 5);
    assert_int_equal(json_integer_value(json_object_get(doc, "timeNano")), 5 * SEC + 7);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "Actor"), "Attributes"), "exitCode")),
        "3");
    assert_true(event_line(e)[strlen(event_line(e)) - 1] == '\n');
    json_decref(doc);
    event_put(e);
    assert_int_equal(events_next(s, 0, &e, &err), 1);
    doc = json_loads(event_line(e), 0, NULL);
    assert_null(json_object_get(doc, "status")); /* old fields: containers and images only */
    json_decref(doc);
    event_put(e);
    events_unsubscribe(s);
    events_bus_free(b);
}

/* Whether the single event published with these fields passes FILTERS (JSON text). */
static bool passes(const char *filters, const char *type, const char *action, const char *id,
                   json_t *attrs)
{
    struct event_bus *b = events_bus_new(2);
    struct event_sub *s = events_subscribe(b, 1, 0);
    struct event *e;
    berr_t err = NULL;
    json_t *f = json_loads(filters, 0, NULL);

    events_publish_at(b, SEC, type, action, id, attrs);
    assert_int_equal(events_next(s, 0, &e, &err), 1);
    bool ok = events_filter_match(f, e);
    event_put(e);
    json_decref(f);
    events_unsubscribe(s);
    events_bus_free(b);
    return ok;
}

static json_t *ctr_attrs(void)
{
    return json_pack("{s:s,s:s,s:s}", "name", "web_1", "image", "busybox:latest", "tier", "one");
}

static void test_filters(void **state)
{
    (void)state;
    assert_true(passes("{}", "container", "start", "abcdef", ctr_attrs()));
    assert_true(passes("{\"type\":[\"container\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_false(passes("{\"type\":[\"image\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_true(
        passes("{\"event\":[\"die\",\"start\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_true(passes("{\"event\":[\"exec_start\"]}", "container", "exec_start: sh -c x", "abc",
                       ctr_attrs()));
    assert_false(
        passes("{\"event\":[\"exec\"]}", "container", "exec_start: sh", "abc", ctr_attrs()));
    assert_true(passes("{\"container\":[\"abc\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_true(passes("{\"container\":[\"web_1\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_false(passes("{\"container\":[\"db\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_true(passes("{\"image\":[\"busybox\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_false(passes("{\"image\":[\"alpine\"]}", "container", "start", "abcdef", ctr_attrs()));
    assert_true(passes("{\"image\":[\"busybox:1\"]}", "image", "tag", "sha256:aa",
                       json_pack("{s:s}", "name", "busybox:1")));
    assert_true(
        passes("{\"label\":[\"tier=one\",\"tier\"]}", "container", "start", "a", ctr_attrs()));
    assert_false(
        passes("{\"label\":[\"tier=one\",\"x\"]}", "container", "start", "a", ctr_attrs()));
    assert_true(passes("{\"network\":[\"evnet\"]}", "network", "create", "n1",
                       json_pack("{s:s}", "name", "evnet")));

    berr_t err = NULL;
    json_t *bad = json_pack("{s:[s]}", "bogus", "x");
    assert_int_equal(events_filters_check(bad, &err), -1);
    assert_msg_has(err, "invalid filter 'bogus'");
    berr_free(&err);
    json_decref(bad);
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t ns;
    assert_int_equal(events_parse_time("", &ns), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(events_parse_time("1700000000", &ns), 0);
    assert_int_equal(ns, 1700000000LL * SEC);
    assert_int_equal(events_parse_time("1700000000.5", &ns), 0);
    assert_int_equal(ns, 1700000000LL * SEC + 500000000);
    assert_int_equal(events_parse_time("2023-11-14T22:13:20Z", &ns), 0);
    assert_int_equal(ns, 1700000000LL * SEC);
    assert_int_equal(events_parse_time("10m", &ns), -1);
    assert_int_equal(events_parse_time("-1", &ns), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_window),  cmocka_unit_test(test_fell_behind),
        cmocka_unit_test(test_shutdown_wakes), cmocka_unit_test(test_line),
        cmocka_unit_test(test_filters),        cmocka_unit_test(test_parse_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
