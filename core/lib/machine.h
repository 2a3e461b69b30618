/* Machine operations that the commands are built from: create, lifecycle,
 * address and certificate upkeep. Each takes the machine's lock for the
 * time it changes state, so concurrent berth processes serialise. */
#ifndef BERTH_MACHINE_H
#define BERTH_MACHINE_H

#include <stdbool.h>

#include "core/lib/host.h"
#include "core/lib/provision.h"
#include "core/lib/ssh.h"

struct create_opts {
    const char *driver;
    json_t *driver_flags; /* name -> value for every flag of the driver */
    json_t *engine;       /* EngineOptions overrides (arrays of strings) */
    json_t *sans;         /* --tls-san values */
};

/* Create machine NAME and leave it running (and provisioned when the driver asks for it). */
int machine_create(const struct berth_store *s, const char *name, const struct create_opts *o,
                   berr_t *err);

/* Make sure the CA, the client certificate, the machine's copies of them and a server
 * certificate covering the machine's current address exist; FORCE re-issues the server
 * certificate. Saves the config when the address changed. Caller holds the lock. */
int machine_ensure_certs(struct berth_host *h, bool force, berr_t *err);

/* Ask the driver for the address; when it moved, re-issue the server certificate.
 * Takes the machine's lock. */
int machine_refresh_address(struct berth_host *h, berr_t *err);

/* The driver's state. */
int machine_state(struct berth_host *h, enum berth_state *st, berr_t *err);

/* The engine URL; fails unless the machine is running. */
int machine_url(struct berth_host *h, char **url, berr_t *err);

enum machine_action { ACT_START, ACT_STOP, ACT_RESTART, ACT_KILL };

/* Run a lifecycle action through the driver, under the machine's lock. */
int machine_action(struct berth_host *h, enum machine_action a, berr_t *err);

/* Remove the machine through its driver, then its directory. PURGE first removes what
 * provisioning installed on the host; FORCE goes on with the local files even when the
 * driver or the purge fails. */
int machine_remove(const struct berth_store *s, const char *name, bool force, bool purge,
                   berr_t *err);

/* Re-issue the server certificate (and with CLIENT also the CA-signed client one); a
 * provisioned machine gets it installed and berthd restarted. */
int machine_regenerate_certs(struct berth_host *h, bool client, berr_t *err);

/* Provision H again (WHAT: everything, a new berthd, or the certificates), under its lock. */
int machine_provision(struct berth_host *h, enum provision_what what, bool accept_host_key,
                      berr_t *err);

/* How a command reaches a machine over SSH. */
struct machine_ssh_opts {
    bool wait;            /* retry until the SSH timeout passes (after create or boot) */
    bool accept_host_key; /* record whatever host key the machine presents now */
    const char *user;     /* instead of the machine's SSH user, or NULL */
    const char *step;     /* appended to errors as "(step: STEP)", or NULL */
};

/* Connect to H over SSH: its current address, its SSH user and port, the machine key
 * (machine dir id_ecdsa) and then the driver's SSHKeyPath, the recorded host key. The
 * bound is $BERTH_SSH_TIMEOUT seconds, else 120 s when waiting and 20 s otherwise. */
int machine_ssh_connect(struct berth_host *h, const struct machine_ssh_opts *o, struct ssh_conn **c,
                        berr_t *err);

/* The SSH bound in milliseconds: $BERTH_SSH_TIMEOUT seconds, else DEFAULT_S. */
long machine_ssh_timeout(long default_s);

#endif
