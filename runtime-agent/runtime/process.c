#include "runtime-agent/runtime/process.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/caps.h"
#include "runtime-agent/runtime/seccomp.h"
#include "runtime-agent/runtime/user.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Undo what the shim or berthd set for themselves: blocked and ignored signals survive exec. */
static void reset_signals(void)
{
    sigset_t none;

    for (int sig = 1; sig < SIGRTMIN; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static char **env_with_home(char **env, const char *home)
{
    size_t n = 0;

    while (env && env[n])
        n++;
    char **out = xcalloc(n + 2, sizeof(char *));
    memcpy(out, env, n * sizeof(char *));
    if (spec_getenv(env, "HOME") == NULL)
        out[n] = xasprintf("HOME=%s", home);
    return out;
}

/* Switch to U keeping exactly CAPS (only root keeps them across execve, as in Docker). */
static int become(const struct rt_user *u, uint64_t caps, berr_t *err)
{
    if (caps_drop_bounding(caps, err) < 0)
        return -1;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return berr_set(err, errno, "capabilities: keep across setuid");
    if (setgroups(u->n_groups, u->groups) < 0)
        return berr_set(err, errno, "user: setgroups");
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return berr_set(err, errno, "user: setgid %u", (unsigned)u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return berr_set(err, errno, "user: setuid %u", (unsigned)u->uid);
    return caps_set(caps, err);
}

static int enter_cwd(const char *cwd, berr_t *err)
{
    if (chdir(cwd) == 0)
        return 0;
    if (errno != ENOENT)
        return berr_set(err, errno, "working directory %s", cwd);
    if (mkdir_p(cwd, 0755, err) < 0)
        return berr_prefix(err, "working directory");
    if (chdir(cwd) < 0)
        return berr_set(err, errno, "working directory %s", cwd);
    return 0;
}

static int secure(const struct rt_process *p, berr_t *err)
{
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return berr_set(err, errno, "set no_new_privs");
    if (p->seccomp && !p->privileged)
        return seccomp_apply_default(p->caps, err);
    return 0;
}

int process_prepare(const struct rt_process *p, char ***env, berr_t *err)
{
    struct rt_user u;

    reset_signals();
    if (user_resolve(p->user, &u, err) < 0)
        return -1;
    int rc = enter_cwd(p->cwd, err);
    if (rc == 0)
        rc = secure(p, err);
    if (rc == 0)
        rc = become(&u, p->caps, err);
    if (rc == 0)
        *env = env_with_home(p->env, u.home);
    user_free(&u);
    umask(022);
    return rc;
}

/* Docker's wording and exit codes for a command that cannot run. */
static int exec_error(const char *cmd, int e, berr_t *err)
{
    if (e == ENOENT) {
        berr_set(err, 0, "exec: \"%s\": stat %s: no such file or directory", cmd, cmd);
        return 127;
    }
    berr_set(err, 0, "exec: \"%s\": %s", cmd, e == EACCES ? "permission denied" : strerror(e));
    return 126;
}

int process_exec(const struct rt_process *p, char **env, berr_t *err)
{
    const char *cmd = p->args[0];
    const char *path = spec_getenv(env, "PATH");
    bool denied = false;

    if (strchr(cmd, '/') != NULL) {
        execve(cmd, p->args, env);
        return exec_error(cmd, errno, err);
    }
    for (const char *d = path ? path : DEFAULT_PATH; d != NULL;) {
        const char *colon = strchr(d, ':');
        int len = colon ? (int)(colon - d) : (int)strlen(d);
        _cleanup_free_ char *full = xasprintf("%.*s/%s", len ? len : 1, len ? d : ".", cmd);
        execve(full, p->args, env);
        if (errno == EACCES)
            denied = true;
        else if (errno != ENOENT && errno != ENOTDIR)
            return exec_error(cmd, errno, err);
        d = colon ? colon + 1 : NULL;
    }
    if (denied)
        return exec_error(cmd, EACCES, err);
    berr_set(err, 0, "exec: \"%s\": executable file not found in $PATH", cmd);
    return 127;
}
