/* berth's SSH client, on libssh2: per-machine keys, the host key recorded at
 * the first connection and verified on every later one, bounded connects and
 * commands, exec with stdout and stderr kept apart, an interactive shell with
 * a PTY, and SFTP (see xfer.h for copying files and trees).
 *
 * Messages name the peer ("ssh 10.0.0.5:22: ..."); callers add the machine in
 * front and the step behind ("(step: waiting for SSH)"). */
#ifndef BERTH_SSH_H
#define BERTH_SSH_H

#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"

/* The machine key's file name in the machine directory; the public key is KEY.pub. */
#define SSH_KEY_NAME "id_ecdsa"
/* The recorded host key's file name in the machine directory ("TYPE BASE64"). */
#define SSH_KNOWN_HOST_NAME "known_host"
/* ssh_connect's return value for failures that retrying cannot fix (host key, auth). */
#define SSH_EFATAL (-2)

/* ---- keys (sshkey.c) ---------------------------------------------------------------- */

/* Create DIR/id_ecdsa (ECDSA P-256, PEM, 0600) and DIR/id_ecdsa.pub (an authorized_keys
 * line ending in COMMENT) unless the private key exists; *path gets the key's path. */
int ssh_key_ensure(const char *dir, const char *comment, char **path, berr_t *err);

/* The authorized_keys line of the public key next to KEY_PATH (KEY_PATH.pub), no newline. */
int ssh_key_pub_line(const char *key_path, char **line, berr_t *err);

/* OpenSSH's fingerprint of a public key blob: "SHA256:" and unpadded base64. */
char *ssh_fingerprint(const unsigned char *blob, size_t len);

/* The key type named inside a public key blob ("ssh-ed25519"), or NULL when malformed. */
char *ssh_blob_type(const unsigned char *blob, size_t len);

/* Base64 (EVP_EncodeBlock) of LEN bytes; decoding returns -1 on malformed input. */
char *ssh_base64(const unsigned char *data, size_t len);
int ssh_unbase64(const char *text, unsigned char **out, size_t *len);

/* ---- command lines -------------------------------------------------------------------- */

/* S single-quoted for a POSIX shell. */
char *ssh_quote(const char *s);

/* The remote command for ARGV: one argument is a command line run by the remote shell as
 * it is; several are quoted one by one, so the remote program gets exactly those arguments. */
char *ssh_command_line(int argc, char *const *argv);

/* ---- connections (ssh.c) -------------------------------------------------------------- */

enum ssh_hostkey_policy {
    SSH_HOSTKEY_VERIFY, /* record the key when none is recorded; refuse a different one */
    SSH_HOSTKEY_ACCEPT, /* record whatever key the host presents (after a deliberate change) */
};

struct ssh_target {
    const char *machine;    /* machine name, for the accept hint in messages */
    const char *host;       /* address or name */
    int port;               /* 22 when 0 */
    const char *user;       /* "root" when NULL */
    const char *keys[4];    /* private keys tried in order, NULL-terminated; missing ones skipped */
    const char *known_host; /* the recorded host key's file */
    enum ssh_hostkey_policy policy;
};

struct ssh_conn;

/* One attempt: TCP connect, handshake, host key check, public-key auth, all within
 * TIMEOUT_MS. Returns -1 on failures worth retrying and SSH_EFATAL on the others. */
int ssh_connect(const struct ssh_target *t, long timeout_ms, struct ssh_conn **out, berr_t *err);

/* Retry ssh_connect until it succeeds or TIMEOUT_MS passes, telling stderr what it waits
 * for (step "waiting for SSH"). */
int ssh_wait(const struct ssh_target *t, long timeout_ms, struct ssh_conn **out, berr_t *err);

/* "ssh HOST:PORT", the prefix of this connection's messages. */
const char *ssh_label(const struct ssh_conn *c);

/* The private key that authenticated this connection. */
const char *ssh_used_key(const struct ssh_conn *c);

void ssh_close(struct ssh_conn *c);

/* ---- commands (sshexec.c) ------------------------------------------------------------- */

struct ssh_cmd {
    const char *command; /* NULL: the user's login shell */
    int in_fd;           /* forwarded to the remote stdin; -1: none (EOF at once) */
    int out_fd, err_fd;  /* remote stdout/stderr go there; -1: captured in out/err */
    bool pty;            /* PTY sized like in_fd's terminal, in_fd in raw mode, SIGWINCH */
    long timeout_ms;     /* 0: unbounded */
    /* results */
    int status;      /* exit status, 255 when killed by a signal */
    char signal[32]; /* the signal's name when killed by one, else "" */
    char *out, *err; /* captured output (malloc()ed, NUL-terminated), or NULL */
    size_t out_len, err_len;
};

/* Run X on C and wait for it; X's results are filled in. Fails only when the command
 * could not be run or followed to its end (timeout, connection lost). */
int ssh_exec(struct ssh_conn *c, struct ssh_cmd *x, berr_t *err);

/* Release the captured output of X. */
void ssh_cmd_free(struct ssh_cmd *x);

/* Run COMMAND with no stdin, capturing its output; fails unless it exits 0, with the last
 * lines of its stderr in the message. *out (may be NULL) gets stdout. */
int ssh_run(struct ssh_conn *c, const char *command, long timeout_ms, char **out, berr_t *err);

/* ---- SFTP (sftp.c) -------------------------------------------------------------------- */

/* The connection's SFTP session (opened on first use, closed with the connection).
 * The result is a LIBSSH2_SFTP *, typed void * so this header stays free of libssh2. */
int ssh_sftp(struct ssh_conn *c, void **sftp, berr_t *err);

#endif
