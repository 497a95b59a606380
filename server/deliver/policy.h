/* policy.h -- the outbound address policy: which resolved addresses hookd may connect to */
#ifndef HK_POLICY_H
#define HK_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HK_POLICY_MAX_NETS 32 /* per list; matches HK_CONFIG_MAX_NETS */
#define HK_POLICY_ADDR_MAX 46 /* INET6_ADDRSTRLEN: longest printed address, with its NUL */

/* An IPv4 or IPv6 network. IPv4 is held as such (family AF_INET, 4 bytes);
 * host bits beyond prefix are zero. */
typedef struct {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order; only the first 4 used for AF_INET */
    unsigned prefix;  /* 0-32 or 0-128 */
} hk_cidr_t;

/* The policy checked on every address curl is about to connect to, after DNS
 * resolution, so a hostname pointing at a forbidden address is caught.
 *
 * Verdict for an address:
 *   1. if it matches any allow or deny entry, the most specific matching
 *      entry decides (longest prefix; deny wins a tie), so "deny 10.0.0.0/8"
 *      with "allow 10.1.2.3" lets only that host through;
 *   2. else if it matches a built-in default, it is refused;
 *   3. else it is allowed.
 * So an allow entry always overrides the defaults, and deny entries add to
 * them. The built-in refused nets: link-local 169.254.0.0/16 and fe80::/10,
 * cloud metadata 169.254.169.254, fd00:ec2::254 and 100.100.100.200, "this
 * network" 0.0.0.0/8 and ::/128 (Linux connects those to the local host),
 * multicast 224.0.0.0/4 and ff00::/8, broadcast 255.255.255.255.
 * Loopback is allowed: receivers on the same host are the common case.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address
 * they reach; the other embedded-IPv4 forms (IPv4-compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) are refused
 * when either the IPv4 address they carry or the IPv6 address is refused, so
 * ::a9fe:a9fe and 64:ff9b::a9fe:a9fe do not reach 169.254.169.254.
 *
 * A plain value: no allocation, copy freely, free nothing. */
typedef struct {
    hk_cidr_t allow[HK_POLICY_MAX_NETS];
    unsigned n_allow;
    hk_cidr_t deny[HK_POLICY_MAX_NETS];
    unsigned n_deny;
} hk_policy_t;

/* Parses "a.b.c.d/n", "a.b.c.d" (= /32), "x::y/n" or "x::y" (= /128) into
 * out, with host bits cleared ("10.1.2.3/8" means 10.0.0.0/8). Surrounding
 * spaces are not accepted. Returns 0 or HK_EINVAL (bad address, prefix out of
 * range, trailing text). */
int hk_cidr_parse(const char *text, hk_cidr_t *out);

/* 1 when the address (family AF_INET or AF_INET6, addr in network byte order:
 * 4 or 16 bytes) lies in net, else 0. Families must match; callers unwrap
 * IPv4-mapped addresses first (hk_policy_check does). */
int hk_cidr_contains(const hk_cidr_t *net, int family, const uint8_t *addr);

/* An empty policy: only the built-in defaults apply. */
void hk_policy_init(hk_policy_t *policy);

/* Adds one CIDR (hk_cidr_parse syntax) to the allow or deny list.
 * Returns 0, HK_EINVAL (unparsable) or HK_ETOOBIG (list full). */
int hk_policy_allow(hk_policy_t *policy, const char *cidr);
int hk_policy_deny(hk_policy_t *policy, const char *cidr);

/* Fills policy from the config's lists (hk_config_t allow_nets/deny_nets).
 * On failure writes "allow_nets: bad CIDR \"x\"" (or deny_nets) into err
 * (size errlen) and returns HK_EINVAL or HK_ETOOBIG; policy is then partly
 * filled and must not be used. */
int hk_policy_load(hk_policy_t *policy, char *const *allow, unsigned n_allow, char *const *deny,
                   unsigned n_deny, char *err, size_t errlen);

/* Judges a resolved address (struct sockaddr_in or sockaddr_in6; len its
 * size). Returns 0 when hookd may connect, HK_EPERM when the policy refuses
 * it, HK_EINVAL for another address family (also refused). */
int hk_policy_check(const hk_policy_t *policy, const struct sockaddr *sa, size_t len);

/* Writes the address of sa without port ("169.254.169.254", "fe80::1") into
 * out; "?" for an unknown family. For error messages. */
void hk_policy_addr_text(const struct sockaddr *sa, char out[HK_POLICY_ADDR_MAX]);

#endif
