/* The daemon's pid file: refuses a second daemon, removed at shutdown. */
#ifndef BERTHD_PIDFILE_H
#define BERTHD_PIDFILE_H

#include "berth/error.h"

/* Write our pid to PATH; fails when it names a running process. */
int pidfile_write(const char *path, berr_t *err);

/* Remove PATH if it still holds our pid. */
void pidfile_remove(const char *path);

#endif
