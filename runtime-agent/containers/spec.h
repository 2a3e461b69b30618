/* Turning a container record and its image into the runtime's spec.json
 * (runtime-agent/runtime/README.contract.md), with Docker's semantics for
 * Entrypoint/Cmd, Env, WorkingDir, User, Hostname, resources and security. */
#ifndef BERTHD_CONTAINERS_SPEC_H
#define BERTHD_CONTAINERS_SPEC_H

#include <jansson.h>

#include "berth/error.h"
#include "runtime-agent/containers/store.h"

struct ctr_store;
struct remap;

/* The command a container runs: Entrypoint + Cmd, container values over the image's
 * (an entrypoint given at create drops the image's Cmd). EINVAL when empty. */
int spec_command(const json_t *config, const json_t *image_config, json_t **args, berr_t *err);

/* Env: the image's, then the container's by key, plus HOSTNAME and a default PATH. */
json_t *spec_env(const json_t *config, const json_t *image_config, const char *hostname);

/* Parse a Docker size ("10m", "1g", "512k", "100") into bytes; -1 when invalid. */
long long spec_parse_size(const char *s);

/* Everything the runtime needs to start C: LAYERS top first, the image config, and the
 * namespace paths other containers lend (NET_PATH etc. may be NULL). */
struct spec_inputs {
    char **layers;
    size_t n_layers;
    const json_t *image_config; /* the image's "config" object */
    const char *net_ns;         /* "new", "host" or /proc/PID/ns/net */
    const char *ipc_ns;
    const char *pid_ns;
    const char *uts_ns;
    const char *cgroup_parent;
    json_t *mounts;            /* the container's volumes, binds and tmpfs mounts (mounts_spec) */
    const json_t *link_env;    /* --link variables, under the user's own (netattach_up) */
    const struct remap *remap; /* a user namespace with these ids (ctr_remap), or NULL */
};

/* Build spec.json's content. */
int spec_build(struct container *c, const struct spec_inputs *in, json_t **spec, berr_t *err);

/* Write /etc/hosts, /etc/hostname and /etc/resolv.conf for C into its directory. HOST_NET
 * copies the host's hosts file and hostname as Docker does for --network host. */
int spec_write_etc(struct container *c, const char *hostname, int host_net, berr_t *err);

/* Write /etc/hostname only (netattach_up writes hosts and resolv.conf). */
int spec_write_hostname(struct container *c, const char *hostname, berr_t *err);

#endif
