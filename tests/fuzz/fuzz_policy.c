/* fuzz_policy.c -- the outbound policy: CIDR parsing and the verdict on resolved addresses */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "deliver/policy.h"
#include "fuzz.h"

/* Input: lines of text up to the first NUL byte, each "+CIDR" (allow),
 * "-CIDR" (deny) or a CIDR parsed on its own; after the NUL, addresses to
 * judge: a byte whose bit 0 picks IPv4 (4 bytes follow) or IPv6 (16). */

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_policy: %s: \"%s\"\n", what, text);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    hk_fuzz_init();
    return 0;
}

/* What the contract promises of a parsed CIDR. */
static void check_cidr(const char *text)
{
    hk_cidr_t net;
    int rc = hk_cidr_parse(text, &net);
    if (rc != 0 && rc != HK_EINVAL) fail("neither 0 nor HK_EINVAL", text);
    if (rc != 0) return;
    unsigned bits = net.family == AF_INET ? 32 : 128;
    if (net.family != AF_INET && net.family != AF_INET6) fail("family", text);
    if (net.prefix > bits) fail("prefix out of range", text);
    for (unsigned b = net.prefix; b < bits; b++)
        if (net.addr[b / 8] & (0x80u >> (b % 8))) fail("host bits left set", text);
    if (hk_cidr_contains(&net, net.family, net.addr) != 1) fail("does not contain itself", text);
}

static int judge(const hk_policy_t *p, int v6, const uint8_t *addr)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    char text[HK_POLICY_ADDR_MAX];
    const struct sockaddr *sa;
    size_t len;
    if (v6) {
        memcpy(&sin6.sin6_addr, addr, 16);
        sa = (const struct sockaddr *)&sin6, len = sizeof sin6;
    } else {
        memcpy(&sin.sin_addr, addr, 4);
        sa = (const struct sockaddr *)&sin, len = sizeof sin;
    }
    hk_policy_addr_text(sa, text);
    int rc = hk_policy_check(p, sa, len);
    if (rc != 0 && rc != HK_EPERM) fail("verdict neither 0 nor HK_EPERM", text);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t text_len = nul ? (size_t)(nul - data) : size;
    char *text = hk_fuzz_text(data, text_len), *save = NULL;
    hk_policy_t policy;

    hk_policy_init(&policy);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int rc = 0;
        if (line[0] == '+')
            rc = hk_policy_allow(&policy, line + 1);
        else if (line[0] == '-')
            rc = hk_policy_deny(&policy, line + 1);
        else
            check_cidr(line);
        if (rc != 0 && rc != HK_EINVAL && rc != HK_ETOOBIG) fail("list add", line);
        if (line[0] == '+' || line[0] == '-') check_cidr(line + 1);
    }
    free(text);

    const uint8_t *p = nul ? nul + 1 : data + size, *end = data + size;
    while (p < end) {
        int v6 = p[0] & 1;
        size_t n = v6 ? 16 : 4;
        if ((size_t)(end - p) < 1 + n) break;
        int rc = judge(&policy, v6, p + 1);
        if (!v6) {
            /* An IPv4-mapped address is judged as the IPv4 address it reaches. */
            uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            memcpy(mapped + 12, p + 1, 4);
            if (judge(&policy, 1, mapped) != rc) fail("::ffff:a.b.c.d judged unlike a.b.c.d", "");
        }
        p += 1 + n;
    }
    return 0;
}
