/* The parts of a container's statistics that are not its cgroup's: the counters of the
 * network interfaces its processes see (/proc/PID/net/dev shows PID's network namespace)
 * and the host's CPU time (/proc/stat), against which `docker stats` scales CPU usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/cgroup_impl.h"
#include "runtime-agent/runtime/runtime.h"

void runtime_stats_free(struct runtime_stats *st)
{
    free(st->percpu_ns);
    free(st->memory_stat);
    free(st->blkio);
    memset(st, 0, sizeof(*st));
}

/* One "  eth0: rx_bytes rx_packets rx_errs rx_drop fifo frame compressed multicast
 * tx_bytes tx_packets tx_errs tx_drop ..." line; false for the header lines. */
static bool parse_netdev(const char *line, struct runtime_netdev *d)
{
    const char *colon = strchr(line, ':');
    unsigned long long v[12];

    if (colon == NULL)
        return false;
    while (*line == ' ')
        line++;
    snprintf(d->name, sizeof(d->name), "%.*s", (int)(colon - line), line);
    if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
               &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]) != 12)
        return false;
    d->rx_bytes = v[0], d->rx_packets = v[1], d->rx_errors = v[2], d->rx_dropped = v[3];
    d->tx_bytes = v[8], d->tx_packets = v[9], d->tx_errors = v[10], d->tx_dropped = v[11];
    return true;
}

int runtime_net_stats(pid_t pid, struct runtime_netdev **out, size_t *n, berr_t *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/net/dev", (int)pid);
    _cleanup_free_ char *text = NULL;
    char *save = NULL;

    *out = NULL;
    *n = 0;
    if (read_file(path, &text, NULL, err) < 0)
        return berr_prefix(err, "network statistics of process %d", (int)pid);
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        struct runtime_netdev d = {0};
        if (!parse_netdev(line, &d) || strcmp(d.name, "lo") == 0)
            continue;
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = d;
    }
    return 0;
}

int runtime_system_cpu_ns(uint64_t *ns, berr_t *err)
{
    _cleanup_free_ char *text = NULL;
    unsigned long long v[7] = {0};

    if (read_file("/proc/stat", &text, NULL, err) < 0)
        return -1;
    if (sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6]) < 4)
        return berr_set(err, EINVAL, "/proc/stat: no cpu line");
    uint64_t ticks = 0;
    for (int i = 0; i < 7; i++)
        ticks += v[i];
    *ns = cg_ticks_to_ns(ticks);
    return 0;
}
