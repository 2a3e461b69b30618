/* The last steps before a container's command runs, shared by the container's init and by
 * nsexec: user, working directory, environment, no_new_privs, seccomp, capabilities, and the
 * PATH search of execve. Runs inside the container's namespaces and root. */
#ifndef BERTHD_RUNTIME_PROCESS_H
#define BERTHD_RUNTIME_PROCESS_H

#include "berth/error.h"
#include "runtime-agent/runtime/spec.h"

/* Exit code for a container that failed before its command could be looked up (Docker's). */
#define EXIT_SETUP_FAILED 128

/* Become the process P describes; *ENV receives its environment (HOME added when missing). */
int process_prepare(const struct rt_process *p, char ***env, berr_t *err);

/* execve P's command, searching the PATH of ENV. Returns only on failure: 127 when the
 * command is not found, 126 when it cannot be executed, with *ERR saying why. */
int process_exec(const struct rt_process *p, char **env, berr_t *err);

#endif
