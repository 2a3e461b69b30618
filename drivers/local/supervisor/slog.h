/* The supervisor's log: one timestamped line per event on stderr (local/supervisor.log). */
#ifndef BERTH_LOCAL_SLOG_H
#define BERTH_LOCAL_SLOG_H

void slog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
