/* GET /events?filters&since&until: the event bus (runtime-agent/events.h) as a chunked stream
 * of JSON lines. Replays the ring's events from `since` (and up to `until`), then follows new
 * ones; the stream ends when `until` passes, when the client hangs up (noticed within a
 * second while no events flow) and at the daemon's shutdown (events_shutdown wakes it). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/events.h"
#include "runtime-agent/log.h"
#include "runtime-agent/timefmt.h"

/* How often an idle stream looks whether its client is still there. */
#define EVENTS_IDLE_CHECK_MS 1000

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int parse_opts(struct http_request *req, json_t **filters, int64_t *since, int64_t *until,
                      berr_t *err)
{
    const char *s = http_req_query(req, "since");
    const char *u = http_req_query(req, "until");

    if (events_parse_time(s, since) < 0)
        return http_err(err, EINVAL, "invalid value for since: %s", s);
    if (events_parse_time(u, until) < 0)
        return http_err(err, EINVAL, "invalid value for until: %s", u);
    if (*since > 0 && *until > 0 && *since > *until)
        return http_err(err, EINVAL, "`since` time (%s) cannot be after `until` time (%s)", s, u);
    if (api_filters_parse(http_req_query(req, "filters"), filters, err) < 0)
        return -1;
    if (events_filters_check(*filters, err) < 0) {
        _cleanup_free_ char *msg = xstrdup(berr_msg(*err));
        berr_free(err);
        json_decref(*filters);
        *filters = NULL;
        return http_err(err, EINVAL, "%s", msg);
    }
    return 0;
}

/* Stream until `until`, the client's end or the daemon's. */
static int stream(struct http_request *req, struct http_response *resp, struct event_sub *sub,
                  const json_t *filters, int64_t until, berr_t *err)
{
    for (;;) {
        int timeout = EVENTS_IDLE_CHECK_MS;
        if (until > 0) {
            int64_t left_ms = (until - now_ns()) / 1000000;
            timeout = left_ms <= 0 ? 0 : left_ms < timeout ? (int)left_ms : timeout;
        }
        struct event *e;
        berr_t local = NULL;
        int r = events_next(sub, timeout, &e, &local);
        if (r < 0) {
            bool shutdown = local->errnum == ESHUTDOWN;
            if (!shutdown)
                log_warn("%s: ending the stream", berr_msg(local));
            berr_free(&local);
            return shutdown ? 0 : berr_set(err, ENOBUFS, "events: the client fell behind");
        }
        if (r == 0) {
            if (until > 0 && now_ns() >= until)
                return 0; /* everything up to `until` went out */
            if (http_req_client_gone(req))
                return 0;
            continue;
        }
        int rc = 0;
        if (events_filter_match(filters, e))
            rc = http_chunk_write(resp, event_line(e), strlen(event_line(e)), err);
        event_put(e);
        if (rc < 0)
            return -1;
    }
}

static int h_events(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *filters = NULL;
    int64_t since, until;

    if (parse_opts(req, &filters, &since, &until, err) < 0)
        return -1;
    /* Subscribed before the headers go out: a client that acts once it has them (as tests
     * and docker-compose do) sees every event that follows. */
    struct event_sub *sub = events_subscribe(events_bus(), since, until);
    int rc = http_chunk_begin(resp, 200, "application/json", err);
    if (rc == 0)
        rc = stream(req, resp, sub, filters, until, err);
    events_unsubscribe(sub);
    json_decref(filters);
    return rc;
}

const struct http_route api_events_routes[] = {
    {"GET", "/events", h_events, 0},
};
const size_t api_events_routes_len = sizeof(api_events_routes) / sizeof(api_events_routes[0]);
