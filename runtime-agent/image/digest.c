#include "runtime-agent/image/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sha256_init(struct sha256 *h)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        fputs("berthd: cannot start a SHA-256 computation\n", stderr);
        abort();
    }
    h->md = md;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
    if (len > 0)
        EVP_DigestUpdate(h->md, data, len);
}

void sha256_final(struct sha256 *h, char out[DIGEST_SIZE])
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_DigestFinal_ex(h->md, raw, &n);
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", raw[i]);
    out[7 + 64] = '\0';
    sha256_discard(h);
}

void sha256_discard(struct sha256 *h)
{
    EVP_MD_CTX_free(h->md);
    h->md = NULL;
}

void sha256_digest(const void *data, size_t len, char out[DIGEST_SIZE])
{
    struct sha256 h;

    sha256_init(&h);
    sha256_update(&h, data, len);
    sha256_final(&h, out);
}

bool digest_valid(const char *s)
{
    if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

const char *digest_hex(const char *digest)
{
    return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}

void chain_id(const char *parent, const char *diff_id, char out[DIGEST_SIZE])
{
    struct sha256 h;

    if (parent == NULL || *parent == '\0') {
        snprintf(out, DIGEST_SIZE, "%s", diff_id);
        return;
    }
    sha256_init(&h);
    sha256_update(&h, parent, strlen(parent));
    sha256_update(&h, " ", 1);
    sha256_update(&h, diff_id, strlen(diff_id));
    sha256_final(&h, out);
}
