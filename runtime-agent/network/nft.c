/* berthd's nftables rules: the text of every script berthd applies, and finding its rules by
 * owner. Both backends (libnftables, nft(8)) only run what is built here.
 *
 * Layout (created by nft_reset, and re-declared by every change so a change never depends on
 * an earlier reset; `add` of an existing table or chain is a no-op):
 *   table ip berth     chain postrouting  nat, hook postrouting, srcnat: masquerade
 *                      chain forward      filter, hook forward: isolation, internal networks
 *                      chain isolate      regular: stage two of the isolation
 *   table bridge berth chain forward      filter, hook forward: icc=false and links
 * All policies are accept: berthd only drops traffic of its own bridges.
 *
 * Isolation is Docker's two-stage scheme, with each rule belonging to one network: a packet
 * forwarded from bridge A to any other interface jumps to `isolate`, where each network has
 * `oifname B drop`; leaving to the uplink matches none and goes on. An internal network has
 * two drops of its own instead (anything from or to its bridge and another interface) and no
 * masquerade.
 *
 * In the bridge table, link rules are inserted at the head and icc drops appended at the end,
 * so an allowed pair is accepted before its network's drop, however often the network's rules
 * are re-added. Only `ether type ip` is dropped: ARP always passes.
 *
 * Deleting by owner lists both tables as JSON with handles (jansson) and deletes those
 * handles in one transaction; a network's re-add does its deletes in the same transaction
 * as its adds. One mutex serialises every call, so handles cannot change between the list
 * and the delete (other programs never write berth's tables). */
#include "runtime-agent/network/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "berth/util.h"

static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

/* 1: the kernel matches `meta ibrname`; 0: it does not; -1: not probed yet. */
static int ibrname_ok = -1;

static const char *const families[] = {"ip", "bridge"};

static const char skeleton_ip[] =
    "add table ip berth\n"
    "add chain ip berth postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
    "add chain ip berth forward { type filter hook forward priority filter; policy accept; }\n"
    "add chain ip berth isolate\n";
static const char skeleton_bridge[] =
    "add table bridge berth\n"
    "add chain bridge berth forward { type filter hook forward priority filter; policy accept; }\n";
/* `add` then `delete`: deletes a table whether or not it exists (nft 1.0 has no `destroy`). */
static const char drop_tables[] = "add table ip berth\n"
                                  "delete table ip berth\n"
                                  "add table bridge berth\n"
                                  "delete table bridge berth\n";

char *nft_diagnostic(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        abort();
    const char *line = text ? text : "";
    bool any = false;
    while (*line) {
        const char *eol = strchrnul(line, '\n');
        const char *e = memmem(line, (size_t)(eol - line), "Error:", 6);
        if (e) {
            /* The line after an error is the command it is about (then a line of carets). */
            const char *cmd = *eol ? eol + 1 : eol;
            const char *cmd_end = strchrnul(cmd, '\n');
            fprintf(f, "%s%.*s", any ? "; " : "", (int)(eol - e), e);
            if (cmd_end > cmd && memmem(cmd, (size_t)(cmd_end - cmd), "Error:", 6) == NULL)
                fprintf(f, " (in \"%.*s\")", (int)(cmd_end - cmd), cmd);
            any = true;
        }
        line = *eol ? eol + 1 : eol;
    }
    if (!any) {
        const char *s = text ? text : "";
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
            n--;
        fprintf(f, "%.*s", (int)n, s);
    }
    fclose(f);
    return buf;
}

int nft_script_memfd(const char *script, berr_t *err)
{
    int fd = memfd_create("nft-script", MFD_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "nft script: memfd_create");
    const char *p = script;
    size_t len = strlen(script);
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return berr_set(err, e, "nft script: write");
        }
        p += n;
        len -= (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        close(fd);
        return berr_set(err, e, "nft script: seek");
    }
    return fd;
}

/* Names and ids are put into scripts inside double quotes: allow nothing that could end one. */
static int check_name(const char *what, const char *s, size_t max, berr_t *err)
{
    if (s == NULL || *s == '\0' || strlen(s) > max)
        return berr_set(err, EINVAL, "%s \"%s\": empty or longer than %zu", what, s ? s : "", max);
    for (const char *p = s; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return berr_set(err, EINVAL, "%s \"%s\": invalid character '%c'", what, s, *p);
    return 0;
}

/* An nft comment holds at most 128 bytes; "berth:" takes 6. */
#define OWNER_MAX 120
#define IFNAME_MAX 15

/* A stream for building a script; aborts on allocation failure like xasprintf. */
static FILE *script_open(char **buf, size_t *len)
{
    FILE *f = open_memstream(buf, len);
    if (f == NULL)
        abort();
    return f;
}

/* Lines deleting every rule tagged OWNER into F (when F), their number into *COUNT. A missing
 * table has no rules. */
static int owner_rules(const char *owner, FILE *f, int *count, berr_t *err)
{
    _cleanup_free_ char *tag = xasprintf("berth:%s", owner);
    *count = 0;
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        _cleanup_free_ char *cmd = xasprintf("list table %s berth\n", families[i]);
        _cleanup_free_ char *out = NULL;
        berr_t lerr = NULL;
        if (nft_backend_run(cmd, NFT_F_JSON | NFT_F_HANDLE, &out, &lerr) < 0) {
            if (strstr(berr_msg(lerr), "No such file or directory")) {
                berr_free(&lerr);
                continue;
            }
            *err = lerr;
            return berr_prefix(err, "list table %s berth", families[i]);
        }
        json_error_t jerr;
        json_t *root = json_loads(out, 0, &jerr);
        json_t *items = json_object_get(root, "nftables");
        if (!json_is_array(items)) {
            json_decref(root);
            return berr_set(err, 0, "list table %s berth: unexpected JSON from nft (%s)",
                            families[i], root ? "no nftables array" : jerr.text);
        }
        size_t k;
        json_t *item;
        json_array_foreach(items, k, item)
        {
            json_t *rule = json_object_get(item, "rule");
            const char *comment = json_string_value(json_object_get(rule, "comment"));
            const char *chain = json_string_value(json_object_get(rule, "chain"));
            json_t *handle = json_object_get(rule, "handle");
            if (comment == NULL || strcmp(comment, tag) != 0 || chain == NULL ||
                !json_is_integer(handle))
                continue;
            if (f)
                fprintf(f, "delete rule %s berth %s handle %lld\n", families[i], chain,
                        (long long)json_integer_value(handle));
            (*count)++;
        }
        json_decref(root);
    }
    return 0;
}

/* Can the kernel match the bridge of a bridged packet? A dry run answers without changing
 * anything (the kernel checks the transaction, then it is aborted). */
static bool have_ibrname(void)
{
    if (ibrname_ok < 0) {
        _cleanup_free_ char *probe = xasprintf(
            "%sadd rule bridge berth forward meta ibrname \"lo\" accept\n", skeleton_bridge);
        berr_t perr = NULL;
        ibrname_ok = nft_backend_run(probe, NFT_F_DRY_RUN, NULL, &perr) == 0;
        berr_free(&perr);
    }
    return ibrname_ok == 1;
}

static int run_locked(const char *script, berr_t *err)
{
    return nft_backend_run(script, 0, NULL, err);
}

static int run(const char *script, berr_t *err)
{
    pthread_mutex_lock(&nft_lock);
    int r = run_locked(script, err);
    pthread_mutex_unlock(&nft_lock);
    return r;
}

int nft_run(const char *script, berr_t *err)
{
    if (run(script, err) < 0)
        return berr_prefix(err, "nftables");
    return 0;
}

int nft_reset(berr_t *err)
{
    _cleanup_free_ char *script = xasprintf("%s%s%s", drop_tables, skeleton_ip, skeleton_bridge);
    if (run(script, err) < 0)
        return berr_prefix(err, "nftables: reset berth's tables");
    return 0;
}

int nft_teardown(berr_t *err)
{
    if (run(drop_tables, err) < 0)
        return berr_prefix(err, "nftables: delete berth's tables");
    return 0;
}

int nft_list(char **out, berr_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = script_open(&buf, &len);
    int r = 0;
    pthread_mutex_lock(&nft_lock);
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && r == 0; i++) {
        _cleanup_free_ char *cmd = xasprintf("list table %s berth\n", families[i]);
        _cleanup_free_ char *text = NULL;
        berr_t lerr = NULL;
        if (nft_backend_run(cmd, 0, &text, &lerr) == 0) {
            fputs(text, f);
        } else if (strstr(berr_msg(lerr), "No such file or directory")) {
            berr_free(&lerr);
        } else {
            *err = lerr;
            r = berr_prefix(err, "nftables: list table %s berth", families[i]);
        }
    }
    pthread_mutex_unlock(&nft_lock);
    fclose(f);
    if (r < 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* "A.B.C.D/P" of the network of ADDR/PREFIX (host bits cleared; nft refuses them). */
static void subnet_text(struct in_addr addr, int prefix, char buf[INET_ADDRSTRLEN + 4])
{
    uint32_t mask = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
    struct in_addr net = {.s_addr = addr.s_addr & mask};
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &net, a, sizeof(a));
    snprintf(buf, INET_ADDRSTRLEN + 4, "%s/%d", a, prefix);
}

/* The rules of network N into F. */
static void network_rules(FILE *f, const struct nft_network *n, bool ibrname)
{
    char sub[INET_ADDRSTRLEN + 4];
    subnet_text(n->subnet, n->prefix, sub);
    const char *br = n->bridge;
    const char *id = n->id;
    if (n->internal) {
        fprintf(f,
                "add rule ip berth forward iifname \"%s\" oifname != \"%s\" drop"
                " comment \"berth:%s\"\n",
                br, br, id);
        fprintf(f,
                "add rule ip berth forward oifname \"%s\" iifname != \"%s\" drop"
                " comment \"berth:%s\"\n",
                br, br, id);
    } else {
        if (!n->no_masq)
            fprintf(f,
                    "add rule ip berth postrouting ip saddr %s oifname != \"%s\" masquerade"
                    " comment \"berth:%s\"\n",
                    sub, br, id);
        fprintf(f,
                "add rule ip berth forward iifname \"%s\" oifname != \"%s\" jump isolate"
                " comment \"berth:%s\"\n",
                br, br, id);
        fprintf(f, "add rule ip berth isolate oifname \"%s\" drop comment \"berth:%s\"\n", br, id);
    }
    if (!n->icc) {
        if (ibrname)
            fprintf(f,
                    "add rule bridge berth forward meta ibrname \"%s\" ether type ip drop"
                    " comment \"berth:%s\"\n",
                    br, id);
        else
            fprintf(f,
                    "add rule bridge berth forward ip saddr %s ip daddr %s drop"
                    " comment \"berth:%s\"\n",
                    sub, sub, id);
    }
}

int nft_network_add(const struct nft_network *n, berr_t *err)
{
    if (check_name("network id", n->id, OWNER_MAX, err) < 0 ||
        check_name("bridge", n->bridge, IFNAME_MAX, err) < 0)
        return berr_prefix(err, "nftables: add rules of network %s", n->id ? n->id : "");
    if (n->prefix < 0 || n->prefix > 32)
        return berr_set(err, EINVAL, "nftables: add rules of network %s: invalid prefix length %d",
                        n->id, n->prefix);
    char *script = NULL;
    size_t len = 0;
    FILE *f = script_open(&script, &len);
    fputs(skeleton_ip, f);
    fputs(skeleton_bridge, f);
    pthread_mutex_lock(&nft_lock);
    int count;
    int r = owner_rules(n->id, f, &count, err);
    if (r == 0) {
        network_rules(f, n, have_ibrname());
        fflush(f);
        r = run_locked(script, err);
    }
    pthread_mutex_unlock(&nft_lock);
    fclose(f);
    free(script);
    if (r < 0)
        return berr_prefix(err, "nftables: add rules of network %s", n->id);
    return 0;
}

/* Delete OWNER's rules: -1 with *err unprefixed by the operation. */
static int delete_owner(const char *owner, berr_t *err)
{
    if (check_name("owner", owner, OWNER_MAX, err) < 0)
        return -1;
    char *script = NULL;
    size_t len = 0;
    FILE *f = script_open(&script, &len);
    pthread_mutex_lock(&nft_lock);
    int count;
    int r = owner_rules(owner, f, &count, err);
    fflush(f);
    if (r == 0 && count > 0)
        r = run_locked(script, err);
    pthread_mutex_unlock(&nft_lock);
    fclose(f);
    free(script);
    return r;
}

int nft_network_delete(const char *id, berr_t *err)
{
    if (delete_owner(id, err) < 0)
        return berr_prefix(err, "nftables: delete rules of network %s", id ? id : "");
    return 0;
}

int nft_owner_delete(const char *owner, berr_t *err)
{
    if (delete_owner(owner, err) < 0)
        return berr_prefix(err, "nftables: delete rules of %s", owner ? owner : "");
    return 0;
}

int nft_count_owner(const char *owner, berr_t *err)
{
    if (check_name("owner", owner, OWNER_MAX, err) < 0)
        return berr_prefix(err, "nftables: count rules of %s", owner ? owner : "");
    pthread_mutex_lock(&nft_lock);
    int count;
    int r = owner_rules(owner, NULL, &count, err);
    pthread_mutex_unlock(&nft_lock);
    if (r < 0)
        return berr_prefix(err, "nftables: count rules of %s", owner);
    return count;
}

int nft_link_allow(const char *owner, const char *bridge, struct in_addr from, struct in_addr to,
                   int port, const char *proto, berr_t *err)
{
    if (check_name("owner", owner, OWNER_MAX, err) < 0 ||
        check_name("bridge", bridge, IFNAME_MAX, err) < 0)
        return berr_prefix(err, "nftables: link of %s", owner ? owner : "");
    if (proto == NULL || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0))
        return berr_set(err, EINVAL, "nftables: link of %s: protocol \"%s\" is not tcp or udp",
                        owner, proto ? proto : "");
    if (port < 1 || port > 65535)
        return berr_set(err, EINVAL, "nftables: link of %s: invalid port %d", owner, port);
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from, a, sizeof(a));
    inet_ntop(AF_INET, &to, b, sizeof(b));
    pthread_mutex_lock(&nft_lock);
    _cleanup_free_ char *match =
        have_ibrname() ? xasprintf("meta ibrname \"%s\" ", bridge) : xstrdup("");
    /* Stateless (the bridge family has no conntrack here): the request one way, the replies
     * from the port the other way. Inserted at the head, before any icc drop. */
    _cleanup_free_ char *script = xasprintf(
        "%s"
        "insert rule bridge berth forward %sip saddr %s ip daddr %s %s dport %d accept"
        " comment \"berth:%s\"\n"
        "insert rule bridge berth forward %sip saddr %s ip daddr %s %s sport %d accept"
        " comment \"berth:%s\"\n",
        skeleton_bridge, match, a, b, proto, port, owner, match, b, a, proto, port, owner);
    int r = run_locked(script, err);
    pthread_mutex_unlock(&nft_lock);
    if (r < 0)
        return berr_prefix(err, "nftables: allow %s %s -> %s:%d/%s", owner, a, b, port, proto);
    return 0;
}
