#include "runtime-agent/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static atomic_int min_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "fatal"};

void log_set_level(enum log_level level)
{
    atomic_store(&min_level, (int)level);
}

int log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    if (strcmp(name, "warning") == 0)
        return LOG_LEVEL_WARN;
    return -1;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (!log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %-5s ", (long)tv.tv_usec / 1000,
                  level_names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines from different threads whole. */
    strcpy(line + strnlen(line, sizeof(line) - 2), "\n");
    fputs(line, stderr);
}
