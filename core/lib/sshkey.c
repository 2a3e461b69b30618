/* SSH keys: the machine key berth generates (OpenSSL EVP), its authorized_keys line in
 * SSH wire format, fingerprints, and the shell quoting used for remote commands. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "berth/util.h"
#include "core/lib/ssh.h"

#define ECDSA_TYPE "ecdsa-sha2-nistp256"
#define ECDSA_CURVE "nistp256"

char *ssh_base64(const unsigned char *data, size_t len)
{
    char *out = xcalloc(1, 4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

int ssh_unbase64(const char *text, unsigned char **out, size_t *len)
{
    size_t n = strlen(text);
    unsigned char *buf;
    int got;

    if (n == 0 || n % 4 != 0)
        return -1;
    buf = xcalloc(1, n / 4 * 3 + 1);
    got = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n);
    if (got < 0) {
        free(buf);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as data: take it off. */
    for (size_t i = n; i > 0 && text[i - 1] == '='; i--)
        got--;
    *out = buf;
    *len = (size_t)got;
    return 0;
}

char *ssh_fingerprint(const unsigned char *blob, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL);
    _cleanup_free_ char *b64 = ssh_base64(md, mdlen);
    size_t n = strlen(b64);
    while (n > 0 && b64[n - 1] == '=')
        b64[--n] = '\0';
    return xasprintf("SHA256:%s", b64);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

char *ssh_blob_type(const unsigned char *blob, size_t len)
{
    if (len < 4)
        return NULL;
    uint32_t n = get_u32(blob);
    if (n == 0 || n > len - 4 || n > 64)
        return NULL;
    return xasprintf("%.*s", (int)n, (const char *)blob + 4);
}

/* Append an SSH "string" (32-bit big-endian length, then the bytes) at *p. */
static void put_string(unsigned char **p, const void *data, size_t len)
{
    (*p)[0] = (unsigned char)(len >> 24);
    (*p)[1] = (unsigned char)(len >> 16);
    (*p)[2] = (unsigned char)(len >> 8);
    (*p)[3] = (unsigned char)len;
    memcpy(*p + 4, data, len);
    *p += 4 + len;
}

/* The authorized_keys line of an ECDSA P-256 key: type, base64 of the wire blob
 * (string type, string curve, string Q as an uncompressed point), comment. */
static int ecdsa_pub_line(EVP_PKEY *key, const char *comment, char **line, berr_t *err)
{
    unsigned char *point = NULL;
    size_t plen = EVP_PKEY_get1_encoded_public_key(key, &point);
    unsigned char blob[4 + sizeof(ECDSA_TYPE) + 4 + sizeof(ECDSA_CURVE) + 4 + 133];
    unsigned char *p = blob;

    if (plen != 65 || point[0] != 0x04) {
        OPENSSL_free(point);
        return berr_set(err, 0, "encode ECDSA public key: unexpected point of %zu bytes", plen);
    }
    put_string(&p, ECDSA_TYPE, strlen(ECDSA_TYPE));
    put_string(&p, ECDSA_CURVE, strlen(ECDSA_CURVE));
    put_string(&p, point, plen);
    OPENSSL_free(point);
    _cleanup_free_ char *b64 = ssh_base64(blob, (size_t)(p - blob));
    *line = xasprintf("%s %s %s", ECDSA_TYPE, b64, comment);
    return 0;
}

static int write_private_key(EVP_PKEY *key, const char *path, berr_t *err)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *data = NULL;
    int ret;

    /* Traditional "EC PRIVATE KEY" PEM: both libssh2 1.10 and OpenSSH read it. */
    if (mem == NULL || !PEM_write_bio_PrivateKey_traditional(mem, key, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(mem);
        return berr_set(err, 0, "write SSH key %s: cannot encode the key", path);
    }
    long len = BIO_get_mem_data(mem, &data);
    ret = write_file_atomic(path, data, (size_t)len, 0600, err);
    BIO_free(mem);
    return ret;
}

int ssh_key_ensure(const char *dir, const char *comment, char **path, berr_t *err)
{
    _cleanup_free_ char *key_path = path_join(dir, SSH_KEY_NAME);
    _cleanup_free_ char *pub_path = xasprintf("%s.pub", key_path);
    _cleanup_free_ char *line = NULL;
    _cleanup_free_ char *text = NULL;
    EVP_PKEY *key;
    int ret = -1;

    if (file_exists(key_path) && file_exists(pub_path)) {
        *path = steal_pointer(&key_path);
        return 0;
    }
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (key == NULL)
        return berr_set(err, 0, "generate SSH key %s: OpenSSL refused", key_path);
    if (ecdsa_pub_line(key, comment, &line, err) < 0 || write_private_key(key, key_path, err) < 0)
        goto out;
    text = xasprintf("%s\n", line);
    if (write_file_atomic(pub_path, text, strlen(text), 0644, err) < 0)
        goto out;
    *path = steal_pointer(&key_path);
    ret = 0;
out:
    EVP_PKEY_free(key);
    return ret;
}

int ssh_key_pub_line(const char *key_path, char **line, berr_t *err)
{
    _cleanup_free_ char *pub = xasprintf("%s.pub", key_path);
    char *text = NULL;

    if (read_file(pub, &text, NULL, err) < 0)
        return -1;
    text[strcspn(text, "\r\n")] = '\0';
    if (strchr(text, ' ') == NULL) {
        free(text);
        return berr_set(err, 0, "%s: not an authorized_keys line", pub);
    }
    *line = text;
    return 0;
}

char *ssh_quote(const char *s)
{
    size_t n = 3;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *out = xcalloc(1, n);
    char *o = out;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o = '\'';
    return out;
}

char *ssh_command_line(int argc, char *const *argv)
{
    if (argc == 1)
        return xstrdup(argv[0]);
    char *line = xstrdup("");
    for (int i = 0; i < argc; i++) {
        _cleanup_free_ char *q = ssh_quote(argv[i]);
        char *next = xasprintf("%s%s%s", line, i ? " " : "", q);
        free(line);
        line = next;
    }
    return line;
}
