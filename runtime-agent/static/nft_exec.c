/* nft_backend_run for berthd-static, which cannot link libnftables (Debian ships no static
 * archive of it): the script is piped to nft(8) (`nft [-j] [-a] [-c] -f -`) found in the
 * usual system directories. stdin, stdout and stderr are memfds, so neither side can block
 * on a full pipe: the script is written before the spawn, the output read after the exit.
 * The child gets a fixed environment (LC_ALL=C keeps nft's messages in English, which nft.c
 * looks at). */
#include "runtime-agent/network/nft.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"

/* Where nft(8) is looked for, in order (not static const: the unit test points it elsewhere). */
static const char *nft_dirs = "/usr/sbin:/sbin:/usr/bin:/bin";

static char *find_nft(void)
{
    _cleanup_free_ char *dirs = xstrdup(nft_dirs);
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *p = path_join(d, "nft");
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

/* The whole content of memfd FD. */
static int read_memfd(int fd, char **out, berr_t *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return berr_set(err, errno, "nft(8): read its output");
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        abort();
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return berr_set(err, n < 0 ? errno : EIO, "nft(8): read its output");
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    return 0;
}

int nft_backend_run(const char *script, unsigned flags, char **out, berr_t *err)
{
    _cleanup_free_ char *nft = find_nft();
    if (nft == NULL)
        return berr_set(err, 0, "nft(8) not found in %s: install nftables", nft_dirs);

    _cleanup_close_ int in = nft_script_memfd(script, err);
    if (in < 0)
        return -1;
    _cleanup_close_ int o = memfd_create("nft-stdout", MFD_CLOEXEC);
    _cleanup_close_ int e = memfd_create("nft-stderr", MFD_CLOEXEC);
    if (o < 0 || e < 0)
        return berr_set(err, errno, "nft(8): memfd_create");

    char *argv[8];
    int argc = 0;
    argv[argc++] = "nft";
    if (flags & NFT_F_JSON)
        argv[argc++] = "-j";
    if (flags & NFT_F_HANDLE)
        argv[argc++] = "-a";
    if (flags & NFT_F_DRY_RUN)
        argv[argc++] = "-c";
    argv[argc++] = "-f";
    argv[argc++] = "-";
    argv[argc] = NULL;
    char *envp[] = {"LC_ALL=C", "PATH=/usr/sbin:/sbin:/usr/bin:/bin", NULL};

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, o, 1);
    posix_spawn_file_actions_adddup2(&fa, e, 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, nft, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return berr_set(err, rc, "run %s", nft);

    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return berr_set(err, errno, "wait for %s", nft);

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (out && read_memfd(o, out, err) < 0)
            return -1;
        return 0;
    }
    _cleanup_free_ char *text = NULL;
    if (read_memfd(e, &text, err) < 0)
        return -1;
    _cleanup_free_ char *msg = nft_diagnostic(text);
    if (*msg)
        return berr_set(err, 0, "%s", msg);
    if (WIFSIGNALED(status))
        return berr_set(err, 0, "%s killed by signal %d", nft, WTERMSIG(status));
    return berr_set(err, 0, "%s exited with status %d", nft, WEXITSTATUS(status));
}
