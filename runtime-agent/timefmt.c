#include "runtime-agent/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "berth/util.h"

char *time_rfc3339(const struct timespec *ts)
{
    struct tm tm;
    char frac[24] = "";
    time_t t = ts->tv_sec;

    gmtime_r(&t, &tm);
    if (ts->tv_nsec > 0 && ts->tv_nsec < 1000000000) {
        snprintf(frac, sizeof(frac), ".%09ld", ts->tv_nsec);
        size_t n = strlen(frac);
        while (frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    return xasprintf("%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

char *time_rfc3339_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return time_rfc3339(&ts);
}

/* Up to 9 digits of a fraction at *P as nanoseconds; further digits are skipped. */
int64_t time_parse_frac(const char **p)
{
    int64_t ns = 0;
    int digits = 0;

    for (; **p >= '0' && **p <= '9'; (*p)++) {
        if (digits < 9) {
            ns = ns * 10 + (**p - '0');
            digits++;
        }
    }
    for (; digits < 9; digits++)
        ns *= 10;
    return ns;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

int time_parse_rfc3339_ns(const char *s, int64_t *ns)
{
    struct tm tm = {0};
    int year, mon, day, hour, min, sec, oh = 0, om = 0;
    const char *p = s;
    int64_t frac = 0;

    if (s == NULL || parse_digits(&p, 4, &year) < 0 || *p++ != '-' ||
        parse_digits(&p, 2, &mon) < 0 || *p++ != '-' || parse_digits(&p, 2, &day) < 0 ||
        (*p != 'T' && *p != 't' && *p != ' ') || (p++, parse_digits(&p, 2, &hour) < 0) ||
        *p++ != ':' || parse_digits(&p, 2, &min) < 0 || *p++ != ':' ||
        parse_digits(&p, 2, &sec) < 0)
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        frac = time_parse_frac(&p);
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (parse_digits(&p, 2, &oh) < 0 || *p++ != ':' || parse_digits(&p, 2, &om) < 0)
            return -1;
    } else {
        return -1;
    }
    if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
        sec > 60)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    t -= (time_t)sign * (oh * 3600 + om * 60);
    *ns = (int64_t)t * NS_PER_SEC + frac;
    return 0;
}

int time_parse_rfc3339(const char *s, int64_t *secs)
{
    int64_t ns;

    if (time_parse_rfc3339_ns(s, &ns) < 0)
        return -1;
    *secs = ns >= 0 ? ns / NS_PER_SEC : -((-ns + NS_PER_SEC - 1) / NS_PER_SEC);
    return 0;
}

/* Docker's units.HumanDuration (hours rounded). */
char *time_human_duration(long long s)
{
    if (s < 1)
        return xstrdup("Less than a second");
    if (s == 1)
        return xstrdup("1 second");
    if (s < 60)
        return xasprintf("%lld seconds", s);
    long long minutes = s / 60;
    if (minutes == 1)
        return xstrdup("About a minute");
    if (minutes < 60)
        return xasprintf("%lld minutes", minutes);
    long long hours = (s + 1800) / 3600; /* rounded, as docker rounds hours */
    if (hours == 1)
        return xstrdup("About an hour");
    if (hours < 48)
        return xasprintf("%lld hours", hours);
    if (hours < 24 * 7 * 2)
        return xasprintf("%lld days", hours / 24);
    if (hours < 24 * 30 * 2)
        return xasprintf("%lld weeks", hours / 24 / 7);
    if (hours < 24 * 365 * 2)
        return xasprintf("%lld months", hours / 24 / 30);
    return xasprintf("%lld years", s / 3600 / 24 / 365);
}
