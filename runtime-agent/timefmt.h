/* RFC 3339 timestamps as Docker writes them (Go's RFC3339Nano, UTC), shared by the image
 * store, container records, the runtime's state and the log reader. */
#ifndef BERTHD_TIMEFMT_H
#define BERTHD_TIMEFMT_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC 1000000000LL

/* TS as "2006-01-02T15:04:05.999999999Z" (fraction without trailing zeros). */
char *time_rfc3339(const struct timespec *ts);

/* The current time in the form of time_rfc3339. */
char *time_rfc3339_now(void);

/* Up to 9 digits of a fraction at *P as nanoseconds, advancing *P past every digit. */
int64_t time_parse_frac(const char **p);

/* Parse an RFC 3339 timestamp (fraction optional, "Z" or an offset required) into Unix
 * nanoseconds; -1 when malformed. */
int time_parse_rfc3339_ns(const char *s, int64_t *ns);

/* The same in Unix seconds (rounded down). */
int time_parse_rfc3339(const char *s, int64_t *secs);

/* Docker's units.HumanDuration: "Less than a second", "3 seconds", "About a minute", "5
 * minutes", "About an hour", "3 hours", "2 days", ... "2 years". */
char *time_human_duration(long long seconds);

#endif
