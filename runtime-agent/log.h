/* berthd's log: one line per event on stderr, filtered by a global level. */
#ifndef BERTHD_LOG_H
#define BERTHD_LOG_H

enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_FATAL
};

/* Set the lowest level that is written (default info). */
void log_set_level(enum log_level level);

/* True when messages of LEVEL are written (lets callers skip costly formatting). */
int log_enabled(enum log_level level);

/* Parse a dockerd-style level name ("debug", "info", "warn", "error", "fatal"); -1 if unknown. */
int log_level_parse(const char *name);

/* Write one line "TIME LEVEL message" when LEVEL passes the filter. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
