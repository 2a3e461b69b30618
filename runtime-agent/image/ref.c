#include "runtime-agent/image/ref.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/image/internal.h"

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX "library/"
#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return isascii((unsigned char)c) && isalnum((unsigned char)c);
}

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+ */
static bool valid_component(const char *p, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_lower_alnum(p[0]) || !is_lower_alnum(p[n - 1]))
        return false;
    while (i < n) {
        if (is_lower_alnum(p[i])) {
            i++;
            continue;
        }
        size_t start = i;
        if (p[i] == '-') {
            while (i < n && p[i] == '-')
                i++;
        } else if (p[i] == '_' && i + 1 < n && p[i + 1] == '_') {
            i += 2;
        } else if (p[i] == '_' || p[i] == '.') {
            i++;
        } else {
            return false;
        }
        if (i == start || i >= n || !is_lower_alnum(p[i]))
            return false;
    }
    return true;
}

static bool valid_path(const char *p, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        if (!valid_component(p + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool valid_host(const char *p, size_t n)
{
    size_t start = 0;

    if (n >= 2 && p[0] == '[') {
        if (p[n - 1] != ']' || n == 2)
            return false;
        for (size_t i = 1; i < n - 1; i++)
            if (!isxdigit((unsigned char)p[i]) && p[i] != ':')
                return false;
        return true;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '.')
            continue;
        size_t len = i - start;
        if (len == 0 || !is_alnum(p[start]) || !is_alnum(p[i - 1]))
            return false;
        for (size_t j = start; j < i; j++)
            if (!is_alnum(p[j]) && p[j] != '-')
                return false;
        start = i + 1;
    }
    return true;
}

static bool valid_domain(const char *p, size_t n)
{
    const char *colon = NULL;

    /* The port follows the last ':' that is not inside an IPv6 bracket. */
    for (size_t i = n; i > 0; i--) {
        if (p[i - 1] == ']')
            break;
        if (p[i - 1] == ':') {
            colon = p + i - 1;
            break;
        }
    }
    if (colon == NULL)
        return valid_host(p, n);
    size_t hl = (size_t)(colon - p), pl = n - hl - 1;
    if (pl == 0)
        return false;
    for (size_t i = 0; i < pl; i++)
        if (!isdigit((unsigned char)colon[1 + i]))
            return false;
    return valid_host(p, hl);
}

static bool valid_tag(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > TAG_MAX_LEN || !(is_alnum(t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(is_alnum(t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return false;
    return true;
}

/* Grammar: algorithm ":" hex{32,}; only sha256/384/512 with lowercase hex of the right length
 * are usable. Returns 0, or -1 with *why set for an unusable digest. */
static bool valid_digest(const char *d, const char **why)
{
    const char *colon = strchr(d, ':');
    static const struct {
        const char *name;
        size_t len;
    } algs[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};

    *why = NULL;
    if (colon == NULL || colon == d)
        return false;
    for (const char *p = d; p < colon; p++) {
        bool start = p == d || strchr("+._-", p[-1]) != NULL;
        if (start ? !isalpha((unsigned char)*p) : !(is_alnum(*p) || strchr("+._-", *p)))
            return false;
    }
    if (strchr("+._-", colon[-1]))
        return false;
    size_t hl = strlen(colon + 1);
    if (hl < 32)
        return false;
    for (size_t i = 0; i < hl; i++)
        if (!isxdigit((unsigned char)colon[1 + i]))
            return false;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if ((size_t)(colon - d) != strlen(algs[i].name) || strncmp(d, algs[i].name, colon - d))
            continue;
        if (hl != algs[i].len) {
            *why = "invalid checksum digest length";
            return false;
        }
        for (size_t j = 0; j < hl; j++)
            if (!is_hex_lower(colon[1 + j])) {
                *why = "invalid checksum digest format";
                return false;
            }
        return true;
    }
    *why = "unsupported digest algorithm";
    return false;
}

static bool is_64_hex(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_hex_lower(*p))
            return false;
    return true;
}

static bool has_upper(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char)p[i]))
            return true;
    return false;
}

static int invalid(berr_t *err, const char *s, const char *why)
{
    if (why)
        return berr_status(err, EINVAL, "invalid reference format: %s: %s", why, s);
    return berr_status(err, EINVAL, "invalid reference format: %s", s);
}

/* Split NAME as Docker does: the first component is a registry when it has '.' or ':', is
 * "localhost", or has an uppercase letter; otherwise the registry is Docker Hub. */
static void split_domain(const char *name, struct image_ref *ref)
{
    const char *slash = strchr(name, '/');
    size_t fl = slash ? (size_t)(slash - name) : 0;

    if (slash == NULL ||
        (memchr(name, '.', fl) == NULL && memchr(name, ':', fl) == NULL &&
         !(fl == 9 && strncmp(name, "localhost", 9) == 0) && !has_upper(name, fl))) {
        ref->domain = xstrdup(DEFAULT_DOMAIN);
        ref->path = xstrdup(name);
    } else {
        ref->domain = xasprintf("%.*s", (int)fl, name);
        ref->path = xstrdup(slash + 1);
    }
    if (strcmp(ref->domain, LEGACY_DOMAIN) == 0) {
        free(ref->domain);
        ref->domain = xstrdup(DEFAULT_DOMAIN);
    }
    if (strcmp(ref->domain, DEFAULT_DOMAIN) == 0 && strchr(ref->path, '/') == NULL) {
        char *p = xasprintf(OFFICIAL_PREFIX "%s", ref->path);
        free(ref->path);
        ref->path = p;
    }
}

int image_ref_parse(const char *s, struct image_ref *ref, berr_t *err)
{
    _cleanup_free_ char *copy = NULL;
    const char *why = NULL;
    char *digest = NULL, *tag = NULL;

    memset(ref, 0, sizeof(*ref));
    if (s == NULL || *s == '\0')
        return invalid(err, "", NULL);
    if (is_64_hex(s))
        return berr_status(err, EINVAL,
                           "invalid repository name (%s), cannot specify 64-byte hexadecimal "
                           "strings",
                           s);
    copy = xstrdup(s);
    char *at = strchr(copy, '@');
    if (at) {
        *at = '\0';
        digest = at + 1;
        if (!valid_digest(digest, &why))
            return invalid(err, s, why);
    }
    char *colon = strrchr(copy, ':');
    char *slash = strrchr(copy, '/');
    if (colon && (slash == NULL || colon > slash)) {
        *colon = '\0';
        tag = colon + 1;
        if (!valid_tag(tag))
            return invalid(err, s, NULL);
    }
    size_t nl = strlen(copy);
    if (nl == 0)
        return invalid(err, s, NULL);
    if (nl > NAME_MAX_LEN)
        return invalid(err, s, "repository name must not be more than 255 characters");
    split_domain(copy, ref);
    if (has_upper(ref->path, strlen(ref->path))) {
        image_ref_clear(ref);
        return invalid(err, s, "repository name must be lowercase");
    }
    if (!valid_domain(ref->domain, strlen(ref->domain)) ||
        !valid_path(ref->path, strlen(ref->path))) {
        image_ref_clear(ref);
        return invalid(err, s, NULL);
    }
    if (strlen(ref->domain) + 1 + strlen(ref->path) > NAME_MAX_LEN) {
        image_ref_clear(ref);
        return invalid(err, s, "repository name must not be more than 255 characters");
    }
    ref->name_only = tag == NULL && digest == NULL;
    ref->tag = ref->name_only ? xstrdup("latest") : tag ? xstrdup(tag) : NULL;
    ref->digest = digest ? xstrdup(digest) : NULL;
    return 0;
}

void image_ref_clear(struct image_ref *ref)
{
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof(*ref));
}

char *image_ref_name(const struct image_ref *ref)
{
    return xasprintf("%s/%s", ref->domain, ref->path);
}

static char *with_suffixes(char *name, const struct image_ref *ref)
{
    char *s = xasprintf("%s%s%s%s%s", name, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
                        ref->digest ? "@" : "", ref->digest ? ref->digest : "");
    free(name);
    return s;
}

char *image_ref_string(const struct image_ref *ref)
{
    return with_suffixes(image_ref_name(ref), ref);
}

char *image_ref_familiar_name(const struct image_ref *ref)
{
    if (strcmp(ref->domain, DEFAULT_DOMAIN) != 0)
        return image_ref_name(ref);
    const char *p = ref->path;
    size_t pl = strlen(OFFICIAL_PREFIX);
    if (strncmp(p, OFFICIAL_PREFIX, pl) == 0 && strchr(p + pl, '/') == NULL)
        p += pl;
    return xstrdup(p);
}

char *image_ref_familiar(const struct image_ref *ref)
{
    return with_suffixes(image_ref_familiar_name(ref), ref);
}

char *image_ref_familiarize(const char *full)
{
    struct image_ref ref;
    berr_t err = NULL;

    if (image_ref_parse(full, &ref, &err) < 0) {
        berr_free(&err);
        return xstrdup(full);
    }
    char *s = image_ref_familiar(&ref);
    image_ref_clear(&ref);
    return s;
}

bool image_id_full(const char *s, char id[DIGEST_SIZE])
{
    if (s == NULL)
        return false;
    if (strncmp(s, "sha256:", 7) == 0)
        s += 7;
    if (!is_64_hex(s))
        return false;
    memcpy(id, "sha256:", 7);
    memcpy(id + 7, s, 65);
    return true;
}

bool image_id_prefix(const char *s, const char **hex)
{
    if (s == NULL)
        return false;
    if (strncmp(s, "sha256:", 7) == 0)
        s += 7;
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_hex_lower(s[i]))
            return false;
    *hex = s;
    return true;
}
