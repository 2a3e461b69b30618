/* Docker's json-file log driver: one JSON object per line of output,
 * {"log":"text\n","stream":"stdout","time":"RFC3339Nano"}, rotated by size into
 * PATH.1 ... PATH.(max_files-1). */
#ifndef BERTHD_RUNTIME_JSONLOG_H
#define BERTHD_RUNTIME_JSONLOG_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

struct jsonlog;

/* Open (append to) PATH; MAX_SIZE 0 means never rotate. */
struct jsonlog *jsonlog_open(const char *path, int64_t max_size, int64_t max_files, berr_t *err);

/* Add output of STREAM (1 stdout, 2 stderr): complete lines are written, a partial line waits
 * for its end (or is written alone once it reaches 16 KiB, as Docker does). */
int jsonlog_write(struct jsonlog *log, int stream, const char *data, size_t len, berr_t *err);

/* Write what is left of partial lines, then close. */
int jsonlog_close(struct jsonlog *log, berr_t *err);

#endif
