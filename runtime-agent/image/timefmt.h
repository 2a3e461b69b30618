/* RFC 3339 timestamps as Docker writes them (Go's RFC3339Nano, UTC). */
#ifndef BERTHD_IMAGE_TIMEFMT_H
#define BERTHD_IMAGE_TIMEFMT_H

#include <stdint.h>
#include <time.h>

/* TS as "2006-01-02T15:04:05.999999999Z" (fraction without trailing zeros). */
char *time_rfc3339(const struct timespec *ts);

/* The current time in the form of time_rfc3339. */
char *time_rfc3339_now(void);

/* Parse an RFC 3339 timestamp (fraction and offset optional) into Unix seconds. */
int time_parse_rfc3339(const char *s, int64_t *secs);

#endif
