/* policy.c -- the outbound address policy: which resolved addresses hookd may connect to */
#include "deliver/policy.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The nets refused unless an allow entry says otherwise (see policy.h). */
static const char *const default_refused[] = {
    "169.254.0.0/16",     /* IPv4 link-local, includes 169.254.169.254 (AWS, GCP, Azure) */
    "fe80::/10",          /* IPv6 link-local */
    "fd00:ec2::254/128",  /* AWS metadata over IPv6 */
    "100.100.100.200/32", /* Alibaba Cloud metadata */
    "0.0.0.0/8",          /* "this network": Linux connects 0.0.0.0 to the local host */
    "::/128",             /* the same for IPv6 */
    "224.0.0.0/4",        /* IPv4 multicast */
    "ff00::/8",           /* IPv6 multicast */
    "255.255.255.255/32", /* limited broadcast */
};
#define N_DEFAULTS (sizeof default_refused / sizeof default_refused[0])

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void clear_host_bits(hk_cidr_t *net)
{
    unsigned bytes = net->family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned first_bit = i * 8;
        if (first_bit >= net->prefix)
            net->addr[i] = 0;
        else if (net->prefix - first_bit < 8)
            net->addr[i] &= (uint8_t)(0xff << (8 - (net->prefix - first_bit)));
    }
}

int hk_cidr_parse(const char *text, hk_cidr_t *out)
{
    char addr[HK_POLICY_ADDR_MAX];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    if (alen == 0 || alen >= sizeof addr) return HK_EINVAL;
    memcpy(addr, text, alen);
    addr[alen] = '\0';

    hk_cidr_t net;
    memset(&net, 0, sizeof net);
    if (inet_pton(AF_INET, addr, net.addr) == 1) {
        net.family = AF_INET;
        net.prefix = 32;
    } else if (inet_pton(AF_INET6, addr, net.addr) == 1) {
        net.family = AF_INET6;
        net.prefix = 128;
    } else {
        return HK_EINVAL;
    }

    if (slash) {
        /* Digits only: strtoul would take signs, spaces and hex. */
        const char *p = slash + 1;
        unsigned prefix = 0;
        if (!*p) return HK_EINVAL;
        for (; *p; p++) {
            if (*p < '0' || *p > '9') return HK_EINVAL;
            prefix = prefix * 10 + (unsigned)(*p - '0');
            if (prefix > 128) return HK_EINVAL;
        }
        if (prefix > net.prefix) return HK_EINVAL;
        net.prefix = prefix;
    }

    /* An IPv4-mapped net names IPv4 addresses; hk_policy_check judges mapped
     * addresses as IPv4, so store it that way or it would never match. */
    if (net.family == AF_INET6 && net.prefix >= 96 &&
        memcmp(net.addr, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
        memmove(net.addr, net.addr + 12, 4);
        memset(net.addr + 4, 0, 12);
        net.family = AF_INET;
        net.prefix -= 96;
    }
    clear_host_bits(&net);
    *out = net;
    return 0;
}

int hk_cidr_contains(const hk_cidr_t *net, int family, const uint8_t *addr)
{
    if (net->family != family) return 0;
    unsigned full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, addr, full) != 0) return 0;
    if (rest == 0) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (addr[full] & mask) == net->addr[full];
}

void hk_policy_init(hk_policy_t *policy)
{
    memset(policy, 0, sizeof *policy);
}

static int add_net(hk_cidr_t *list, unsigned *n, const char *cidr)
{
    hk_cidr_t net;
    if (hk_cidr_parse(cidr, &net) != 0) return HK_EINVAL;
    if (*n == HK_POLICY_MAX_NETS) return HK_ETOOBIG;
    list[(*n)++] = net;
    return 0;
}

int hk_policy_allow(hk_policy_t *policy, const char *cidr)
{
    return add_net(policy->allow, &policy->n_allow, cidr);
}

int hk_policy_deny(hk_policy_t *policy, const char *cidr)
{
    return add_net(policy->deny, &policy->n_deny, cidr);
}

static int load_list(hk_policy_t *policy, int (*add)(hk_policy_t *, const char *), const char *what,
                     char *const *nets, unsigned n, char *err, size_t errlen)
{
    for (unsigned i = 0; i < n; i++) {
        int rc = add(policy, nets[i]);
        if (rc == HK_ETOOBIG) {
            snprintf(err, errlen, "%s: more than %d entries", what, HK_POLICY_MAX_NETS);
            return rc;
        }
        if (rc != 0) {
            snprintf(err, errlen, "%s: bad CIDR \"%.64s\"", what, nets[i]);
            return rc;
        }
    }
    return 0;
}

int hk_policy_load(hk_policy_t *policy, char *const *allow, unsigned n_allow, char *const *deny,
                   unsigned n_deny, char *err, size_t errlen)
{
    hk_policy_init(policy);
    int rc = load_list(policy, hk_policy_allow, "allow_nets", allow, n_allow, err, errlen);
    if (rc == 0) rc = load_list(policy, hk_policy_deny, "deny_nets", deny, n_deny, err, errlen);
    return rc;
}

/* The built-in nets, parsed once: they are constants, so a parse failure is a
 * bug caught by the unit tests, never by a user. */
static const hk_cidr_t *defaults(void)
{
    static hk_cidr_t nets[N_DEFAULTS];
    static int parsed;
    if (!parsed) {
        for (size_t i = 0; i < N_DEFAULTS; i++)
            if (hk_cidr_parse(default_refused[i], &nets[i]) != 0) nets[i].family = -1;
        parsed = 1;
    }
    return nets;
}

/* The longest prefix among list entries containing addr, or -1. */
static int best_match(const hk_cidr_t *list, unsigned n, int family, const uint8_t *addr)
{
    int best = -1;
    for (unsigned i = 0; i < n; i++)
        if ((int)list[i].prefix > best && hk_cidr_contains(&list[i], family, addr))
            best = (int)list[i].prefix;
    return best;
}

/* The IPv4 address an IPv6 address carries and reaches, by the standard
 * embeddings: IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96 (deprecated, but a
 * kernel with a sit tunnel routes it), NAT64 64:ff9b::/96 (RFC 6052) and
 * 64:ff9b:1::/48 (RFC 8215, the /48 layout skipping octet 8), 6to4 2002::/16 and
 * the Teredo client 2001::/32 (last 32 bits inverted). 1 and v4 filled, or 0. */
static int embedded_v4(const uint8_t a[16], uint8_t v4[4])
{
    static const uint8_t zero[12];
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const uint8_t nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1};
    if (memcmp(a, v4_mapped_prefix, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
        /* ::a.b.c.d, but not :: and ::1 (and ::0.0.0.x), which are IPv6's own */
        (memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14]) != 0)) {
        memcpy(v4, a + 12, 4);
        return 1;
    }
    if (memcmp(a, nat64_local, 6) == 0) {
        v4[0] = a[6], v4[1] = a[7], v4[2] = a[9], v4[3] = a[10];
        return 1;
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        return 1;
    }
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
        for (int i = 0; i < 4; i++)
            v4[i] = (uint8_t)~a[12 + i];
        return 1;
    }
    return 0;
}

static int verdict(const hk_policy_t *policy, int family, const uint8_t *addr)
{
    int allow = best_match(policy->allow, policy->n_allow, family, addr);
    int deny = best_match(policy->deny, policy->n_deny, family, addr);
    if (allow >= 0 || deny >= 0) return allow > deny ? 0 : HK_EPERM;
    if (best_match(defaults(), N_DEFAULTS, family, addr) >= 0) return HK_EPERM;
    return 0;
}

int hk_policy_check(const hk_policy_t *policy, const struct sockaddr *sa, size_t len)
{
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        return verdict(policy, AF_INET,
                       (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family != AF_INET6 || len < sizeof(struct sockaddr_in6)) return HK_EINVAL;

    const uint8_t *addr = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    uint8_t v4[4];
    if (!embedded_v4(addr, v4)) return verdict(policy, AF_INET6, addr);
    /* A mapped address is the IPv4 host itself: its IPv4 verdict alone decides (so
     * "allow 10.0.0.0/8" covers ::ffff:10.1.2.3). The other forms reach the IPv4
     * host through a translator: refused when either form is. */
    if (memcmp(addr, v4_mapped_prefix, 12) == 0) return verdict(policy, AF_INET, v4);
    int rc = verdict(policy, AF_INET, v4);
    return rc ? rc : verdict(policy, AF_INET6, addr);
}

void hk_policy_addr_text(const struct sockaddr *sa, char out[HK_POLICY_ADDR_MAX])
{
    const void *src = NULL;
    if (sa->sa_family == AF_INET)
        src = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!src || !inet_ntop(sa->sa_family, src, out, HK_POLICY_ADDR_MAX)) strcpy(out, "?");
}
