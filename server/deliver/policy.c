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

int hk_policy_check(const hk_policy_t *policy, const struct sockaddr *sa, size_t len)
{
    uint8_t addr[16];
    int family;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        family = AF_INET;
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        family = AF_INET6;
        memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        if (memcmp(addr, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
            family = AF_INET;
            memmove(addr, addr + 12, 4);
        }
    } else {
        return HK_EINVAL;
    }

    int allow = best_match(policy->allow, policy->n_allow, family, addr);
    int deny = best_match(policy->deny, policy->n_deny, family, addr);
    if (allow >= 0 || deny >= 0) return allow > deny ? 0 : HK_EPERM;
    if (best_match(defaults(), N_DEFAULTS, family, addr) >= 0) return HK_EPERM;
    return 0;
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
