/* Docker's detach keys: the key sequence that, typed into an attached TTY session
 * (`docker attach`, `docker run -it`, `docker exec -it`), leaves the session while the
 * container or the exec'd command keeps running. ctrl-p ctrl-q unless the client names
 * another sequence (the attach's `detachKeys` query parameter, the exec's `DetachKeys`) or
 * daemon.json sets `detach-keys`.
 *
 * Format (Docker's): keys separated by commas, each a single character, `ctrl-X` with X one
 * of a-z @ [ \ ] ^ _ (the control codes 0..31), or `DEL` (127). Case matters; an empty key
 * or any other name is invalid.
 *
 * The scanner looks for the sequence in the client's input as it streams by, across read
 * boundaries. Bytes that might start the sequence are held back; once they turn out not to,
 * they are released, in order, ahead of what follows (a KMP automaton, so a sequence like
 * "a,a,b" is also found in "aaab"). On a full match the sequence itself is never delivered.
 * The scanner allocates nothing: it is a plain value. */
#ifndef BERTHD_CONTAINERS_DETACHKEYS_H
#define BERTHD_CONTAINERS_DETACHKEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"

/* Longest sequence accepted (Docker sets none; a longer one is refused as invalid). */
#define DETACH_KEYS_MAX 64
#define DETACH_KEYS_DEFAULT "ctrl-p,ctrl-q"

struct detach_keys {
    unsigned char seq[DETACH_KEYS_MAX];
    size_t len;
    size_t border[DETACH_KEYS_MAX]; /* border[i]: longest proper border of seq[0..i] */
    size_t matched;                 /* bytes of seq matched (and held back) so far */
};

/* Parse SPEC into K, ready to scan. NULL or "" means the process default (see
 * detach_keys_set_default; ctrl-p,ctrl-q unless set). EINVAL naming the offending key when
 * SPEC is not valid. */
int detach_keys_parse(struct detach_keys *k, const char *spec, berr_t *err);

/* Set the process-wide default sequence (daemon.json's `detach-keys`; NULL or "" goes back to
 * ctrl-p,ctrl-q). EINVAL when SPEC is not valid; the default is then unchanged. */
int detach_keys_set_default(const char *spec, berr_t *err);

/* Feed LEN bytes of client input. The bytes to deliver go to OUT, which must have room for
 * LEN + DETACH_KEYS_MAX bytes; returns how many. When the sequence completed, *DETACHED is
 * set and *CONSUMED tells how many input bytes were read up to its end (the rest is not the
 * session's any more); otherwise *CONSUMED is LEN. CONSUMED may be NULL. */
size_t detach_keys_feed(struct detach_keys *k, const void *in, size_t len, void *out,
                        size_t *consumed, bool *detached);

/* The input ended: release the bytes held back for a partial match (up to DETACH_KEYS_MAX -
 * 1 of them) to OUT and return how many. */
size_t detach_keys_flush(struct detach_keys *k, void *out);

#endif
