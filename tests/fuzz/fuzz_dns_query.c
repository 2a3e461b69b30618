/* libFuzzer target for runtime-agent/network/dns.c's dns_answer: any message either is
 * forwarded (no answer), answered, or refused; every answer parses back with ldns as a
 * response with the query's id, and a local answer fits the UDP size the query allows. */
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-agent/network/dns.h"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_dns_query: %s\n", what);
        abort();
    }
}

/* web (one address), db (two), many* (as many as asked for); nothing for other containers. */
static size_t lookup(void *opaque, const char *ctr_id, const char *name, struct in_addr *out,
                     size_t max)
{
    size_t len = strlen(name);

    (void)opaque;
    /* A dot inside a label comes escaped (a\.), the root's dot never. */
    check(len > 0 && (name[len - 1] != '.' || (len >= 2 && name[len - 2] == '\\')),
          "lookup got an empty name or one with its trailing dot");
    for (const char *p = name; *p; p++)
        check(*p < 'A' || *p > 'Z', "lookup got an uppercase name");
    if (strcmp(ctr_id, "c1") != 0)
        return 0;
    if (strcmp(name, "web") == 0) {
        out[0].s_addr = htonl(0x0a000002);
        return 1;
    }
    if (strcmp(name, "db") == 0 && max >= 2) {
        out[0].s_addr = htonl(0x0a000003);
        out[1].s_addr = htonl(0x0a000004);
        return 2;
    }
    if (strncmp(name, "many", 4) == 0) {
        for (size_t i = 0; i < max; i++)
            out[i].s_addr = htonl(0x0a010000 + (uint32_t)i);
        return max;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *out = NULL;
    size_t out_len = 0;
    ldns_pkt *q = NULL, *a = NULL;
    int r = dns_answer(data, size, lookup, NULL, "c1", &out, &out_len);

    check(r >= -1 && r <= 1, "return value out of range");
    if (r == 0)
        check(out == NULL && out_len == 0, "an answer for a forwarded query");
    if (r == 1)
        check(out != NULL, "answered locally without an answer");
    if (out == NULL) {
        check(out_len == 0, "a length without an answer");
        return 0;
    }
    check(out_len >= 12 && out_len <= 65535, "answer size");
    check(ldns_wire2pkt(&a, out, out_len) == LDNS_STATUS_OK, "the answer does not parse");
    check(ldns_pkt_qr(a), "the answer is no response");
    check(ldns_pkt_id(a) == ldns_read_uint16(data), "the answer has another id");
    if (r == -1)
        check(ldns_pkt_get_rcode(a) == LDNS_RCODE_FORMERR, "a refused query without FORMERR");
    if (r == 1 && ldns_wire2pkt(&q, data, size) == LDNS_STATUS_OK &&
        ldns_pkt_get_opcode(q) == LDNS_PACKET_QUERY) {
        size_t limit = 512;
        if (ldns_pkt_edns(q) && ldns_pkt_edns_udp_size(q) > limit)
            limit = ldns_pkt_edns_udp_size(q);
        check(out_len <= limit, "a local answer larger than the query allows");
        check(ldns_pkt_get_rcode(a) == LDNS_RCODE_NOERROR, "a local answer with an error");
        check(ldns_pkt_qdcount(a) == 1, "a local answer without its question");
    }
    ldns_pkt_free(q);
    ldns_pkt_free(a);
    free(out);
    return 0;
}
