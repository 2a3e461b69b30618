/* SHA-256 digests in the "sha256:<64 hex>" form of image IDs, DiffIDs and
 * ChainIDs (OpenSSL EVP underneath). */
#ifndef BERTHD_IMAGE_DIGEST_H
#define BERTHD_IMAGE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

/* Room for "sha256:" + 64 hex digits + NUL. */
#define DIGEST_SIZE 72

/* An incremental SHA-256 computation. */
struct sha256 {
    void *md; /* EVP_MD_CTX */
};

/* Start a computation (aborts when OpenSSL cannot allocate, like xcalloc). */
void sha256_init(struct sha256 *h);

/* Add LEN bytes of DATA. */
void sha256_update(struct sha256 *h, const void *data, size_t len);

/* Finish, write "sha256:<hex>" to OUT and release the context. */
void sha256_final(struct sha256 *h, char out[DIGEST_SIZE]);

/* Release the context without a result (safe on a finished or zeroed one). */
void sha256_discard(struct sha256 *h);

/* "sha256:<hex>" of LEN bytes of DATA. */
void sha256_digest(const void *data, size_t len, char out[DIGEST_SIZE]);

/* True when S is exactly "sha256:" followed by 64 lowercase hex digits. */
bool digest_valid(const char *s);

/* The hex part of a valid digest (the text after "sha256:"). */
const char *digest_hex(const char *digest);

/* ChainID of DIFF_ID on top of PARENT (NULL or "" for the bottom layer). */
void chain_id(const char *parent, const char *diff_id, char out[DIGEST_SIZE]);

#endif
