/* test_policy.c -- CIDR parsing and the outbound address policy */
#include "unit.h"

#include "core/error.h"
#include "deliver/policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* A sockaddr for a literal address, as curl's open-socket callback sees it. */
typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} addr_t;

static size_t make_addr(const char *text, addr_t *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, text, &a->in.sin_addr) == 1) {
        a->in.sin_family = AF_INET;
        a->in.sin_port = htons(443);
        return sizeof a->in;
    }
    if (inet_pton(AF_INET6, text, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons(443);
        return sizeof a->in6;
    }
    return 0;
}

/* 0 allowed, HK_EPERM refused; -999 when the test address itself is bad. */
static int check(const hk_policy_t *p, const char *text)
{
    addr_t a;
    size_t len = make_addr(text, &a);
    if (!len) return -999;
    return hk_policy_check(p, &a.sa, len);
}

TEST(cidr_parse_ipv4)
{
    hk_cidr_t n;
    CHECK_INT(hk_cidr_parse("10.0.0.0/8", &n), 0);
    CHECK_INT(n.family, AF_INET);
    CHECK_INT(n.prefix, 8);
    CHECK_INT(n.addr[0], 10);

    /* Host bits are cleared. */
    CHECK_INT(hk_cidr_parse("192.168.77.200/20", &n), 0);
    CHECK_INT(n.prefix, 20);
    CHECK_INT(n.addr[0], 192);
    CHECK_INT(n.addr[1], 168);
    CHECK_INT(n.addr[2], 64);
    CHECK_INT(n.addr[3], 0);

    /* No prefix: one host. */
    CHECK_INT(hk_cidr_parse("169.254.169.254", &n), 0);
    CHECK_INT(n.prefix, 32);
    CHECK_INT(n.addr[3], 254);

    CHECK_INT(hk_cidr_parse("0.0.0.0/0", &n), 0);
    CHECK_INT(n.prefix, 0);
}

TEST(cidr_parse_ipv6)
{
    hk_cidr_t n;
    CHECK_INT(hk_cidr_parse("fe80::/10", &n), 0);
    CHECK_INT(n.family, AF_INET6);
    CHECK_INT(n.prefix, 10);
    CHECK_INT(n.addr[0], 0xfe);
    CHECK_INT(n.addr[1], 0x80);

    CHECK_INT(hk_cidr_parse("fdff:ffff::1/9", &n), 0);
    CHECK_INT(n.addr[0], 0xfd);
    CHECK_INT(n.addr[1], 0x80);
    CHECK_INT(n.addr[15], 0);

    CHECK_INT(hk_cidr_parse("::1", &n), 0);
    CHECK_INT(n.prefix, 128);
    CHECK_INT(n.addr[15], 1);

    /* IPv4-mapped nets become IPv4 nets. */
    CHECK_INT(hk_cidr_parse("::ffff:10.1.0.0/112", &n), 0);
    CHECK_INT(n.family, AF_INET);
    CHECK_INT(n.prefix, 16);
    CHECK_INT(n.addr[0], 10);
    CHECK_INT(n.addr[1], 1);
}

TEST(cidr_parse_rejects)
{
    hk_cidr_t n;
    const char *bad[] = {"",
                         "/8",
                         "10.0.0.0/",
                         "10.0.0.0/33",
                         "10.0.0.0/-1",
                         "10.0.0.0/+8",
                         "10.0.0.0/ 8",
                         " 10.0.0.0/8",
                         "10.0.0.0/8 ",
                         "10.0.0/8",
                         "10.0.0.256",
                         "fe80::/129",
                         "fe80:::/10",
                         "example.com",
                         "10.0.0.0/8/8",
                         "10.0.0.0/0x8",
                         "::/1000",
                         "1.2.3.4/99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hk_cidr_parse(bad[i], &n) != HK_EINVAL) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
}

TEST(cidr_contains)
{
    hk_cidr_t n;
    uint8_t a[16];
    CHECK_INT(hk_cidr_parse("172.16.0.0/12", &n), 0);
    inet_pton(AF_INET, "172.31.255.255", a);
    CHECK_INT(hk_cidr_contains(&n, AF_INET, a), 1);
    inet_pton(AF_INET, "172.32.0.0", a);
    CHECK_INT(hk_cidr_contains(&n, AF_INET, a), 0);
    inet_pton(AF_INET, "172.15.255.255", a);
    CHECK_INT(hk_cidr_contains(&n, AF_INET, a), 0);

    CHECK_INT(hk_cidr_parse("0.0.0.0/0", &n), 0);
    CHECK_INT(hk_cidr_contains(&n, AF_INET, a), 1);
    inet_pton(AF_INET6, "::1", a);
    CHECK_INT(hk_cidr_contains(&n, AF_INET6, a), 0); /* families never mix */

    CHECK_INT(hk_cidr_parse("2001:db8::/32", &n), 0);
    inet_pton(AF_INET6, "2001:db8:ffff::1", a);
    CHECK_INT(hk_cidr_contains(&n, AF_INET6, a), 1);
    inet_pton(AF_INET6, "2001:db9::1", a);
    CHECK_INT(hk_cidr_contains(&n, AF_INET6, a), 0);
}

TEST(defaults)
{
    hk_policy_t p;
    hk_policy_init(&p);
    /* Refused by default. */
    CHECK_INT(check(&p, "169.254.169.254"), HK_EPERM);
    CHECK_INT(check(&p, "169.254.1.2"), HK_EPERM);
    CHECK_INT(check(&p, "fe80::1"), HK_EPERM);
    CHECK_INT(check(&p, "febf:ffff::1"), HK_EPERM);
    CHECK_INT(check(&p, "fd00:ec2::254"), HK_EPERM);
    CHECK_INT(check(&p, "100.100.100.200"), HK_EPERM);
    CHECK_INT(check(&p, "0.0.0.0"), HK_EPERM);
    CHECK_INT(check(&p, "0.1.2.3"), HK_EPERM);
    CHECK_INT(check(&p, "::"), HK_EPERM);
    CHECK_INT(check(&p, "224.0.0.1"), HK_EPERM);
    CHECK_INT(check(&p, "239.255.255.250"), HK_EPERM);
    CHECK_INT(check(&p, "ff02::1"), HK_EPERM);
    CHECK_INT(check(&p, "255.255.255.255"), HK_EPERM);
    /* IPv4-mapped: judged as the IPv4 address it reaches. */
    CHECK_INT(check(&p, "::ffff:169.254.169.254"), HK_EPERM);
    /* Other embedded-IPv4 forms reach it too: refused by what they carry. */
    CHECK_INT(check(&p, "::a9fe:a9fe"), HK_EPERM);              /* IPv4-compatible */
    CHECK_INT(check(&p, "::169.254.169.254"), HK_EPERM);        /* the same, dotted */
    CHECK_INT(check(&p, "64:ff9b::a9fe:a9fe"), HK_EPERM);       /* NAT64 well-known prefix */
    CHECK_INT(check(&p, "64:ff9b:1:a9fe:a9:fe00::"), HK_EPERM); /* NAT64 local /48 layout */
    CHECK_INT(check(&p, "2002:a9fe:a9fe::1"), HK_EPERM);        /* 6to4 */
    CHECK_INT(check(&p, "2001:0:4136:e378:8000:63bf:5601:5601"),
              HK_EPERM);                                  /* Teredo ~169.254.169.254 */
    CHECK_INT(check(&p, "::e000:1"), HK_EPERM);           /* compat form of 224.0.0.1 */
    CHECK_INT(check(&p, "64:ff9b::6464:64c8"), HK_EPERM); /* NAT64 of 100.100.100.200 */

    /* Allowed by default: loopback, private and public nets. */
    CHECK_INT(check(&p, "127.0.0.1"), 0);
    CHECK_INT(check(&p, "127.0.0.2"), 0);
    CHECK_INT(check(&p, "::1"), 0);
    CHECK_INT(check(&p, "::ffff:127.0.0.1"), 0);
    CHECK_INT(check(&p, "64:ff9b::5db8:d822"), 0); /* NAT64 of a public address */
    CHECK_INT(check(&p, "2002:5db8:d822::1"), 0);  /* 6to4 of a public address */
    CHECK_INT(check(&p, "::2"), 0);                /* not an embedding: IPv6's own */
    CHECK_INT(check(&p, "10.0.0.1"), 0);
    CHECK_INT(check(&p, "100.100.100.201"), 0);
    CHECK_INT(check(&p, "169.255.0.1"), 0);
    CHECK_INT(check(&p, "fec0::1"), 0);
    CHECK_INT(check(&p, "fd00:ec2::253"), 0);
    CHECK_INT(check(&p, "93.184.216.34"), 0);
    CHECK_INT(check(&p, "2606:2800:220:1::1"), 0);
    CHECK_INT(check(&p, "223.255.255.255"), 0);
}

TEST(allow_overrides_defaults)
{
    hk_policy_t p;
    hk_policy_init(&p);
    CHECK_INT(hk_policy_allow(&p, "169.254.0.0/16"), 0);
    /* Even the more specific built-in metadata /32 gives way to an allow. */
    CHECK_INT(check(&p, "169.254.169.254"), 0);
    CHECK_INT(check(&p, "169.254.3.4"), 0);
    CHECK_INT(check(&p, "fe80::1"), HK_EPERM);
}

TEST(deny_adds)
{
    hk_policy_t p;
    hk_policy_init(&p);
    CHECK_INT(hk_policy_deny(&p, "127.0.0.2/32"), 0);
    CHECK_INT(hk_policy_deny(&p, "10.0.0.0/8"), 0);
    CHECK_INT(hk_policy_deny(&p, "2001:db8::/32"), 0);
    CHECK_INT(check(&p, "127.0.0.2"), HK_EPERM);
    CHECK_INT(check(&p, "127.0.0.1"), 0);
    CHECK_INT(check(&p, "10.200.0.1"), HK_EPERM);
    CHECK_INT(check(&p, "::ffff:10.200.0.1"), HK_EPERM);
    CHECK_INT(check(&p, "2001:db8::5"), HK_EPERM);
    CHECK_INT(check(&p, "169.254.169.254"), HK_EPERM); /* defaults still apply */
}

TEST(most_specific_entry_decides)
{
    hk_policy_t p;
    hk_policy_init(&p);
    CHECK_INT(hk_policy_deny(&p, "10.0.0.0/8"), 0);
    CHECK_INT(hk_policy_allow(&p, "10.1.2.3"), 0);
    CHECK_INT(check(&p, "10.1.2.3"), 0);
    CHECK_INT(check(&p, "10.1.2.4"), HK_EPERM);

    CHECK_INT(hk_policy_allow(&p, "192.168.0.0/16"), 0);
    CHECK_INT(hk_policy_deny(&p, "192.168.5.0/24"), 0);
    CHECK_INT(check(&p, "192.168.5.9"), HK_EPERM);
    CHECK_INT(check(&p, "192.168.6.9"), 0);

    /* The same net in both lists: deny wins the tie. */
    CHECK_INT(hk_policy_allow(&p, "172.16.0.0/12"), 0);
    CHECK_INT(hk_policy_deny(&p, "172.16.0.0/12"), 0);
    CHECK_INT(check(&p, "172.16.0.1"), HK_EPERM);
}

TEST(list_limits_and_load)
{
    hk_policy_t p;
    hk_policy_init(&p);
    CHECK_INT(hk_policy_allow(&p, "not-a-net"), HK_EINVAL);
    CHECK_INT(p.n_allow, 0);
    for (int i = 0; i < HK_POLICY_MAX_NETS; i++)
        CHECK_INT(hk_policy_deny(&p, "10.0.0.0/8"), 0);
    CHECK_INT(hk_policy_deny(&p, "10.0.0.0/8"), HK_ETOOBIG);

    char *allow[] = {"169.254.169.254/32"};
    char *deny[] = {"127.0.0.2/32", "fe80::/1x"};
    char err[128] = "";
    CHECK_INT(hk_policy_load(&p, allow, 1, deny, 1, err, sizeof err), 0);
    CHECK_INT(p.n_allow, 1);
    CHECK_INT(p.n_deny, 1);
    CHECK_INT(check(&p, "169.254.169.254"), 0);
    CHECK_INT(check(&p, "127.0.0.2"), HK_EPERM);

    CHECK_INT(hk_policy_load(&p, allow, 1, deny, 2, err, sizeof err), HK_EINVAL);
    CHECK_STR(err, "deny_nets: bad CIDR \"fe80::/1x\"");
}

TEST(other_families_refused)
{
    hk_policy_t p;
    hk_policy_init(&p);
    struct sockaddr sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNIX;
    CHECK_INT(hk_policy_check(&p, &sa, sizeof sa), HK_EINVAL);
    /* A truncated sockaddr is not read past its length. */
    addr_t a;
    make_addr("::1", &a);
    CHECK_INT(hk_policy_check(&p, &a.sa, sizeof(struct sockaddr_in)), HK_EINVAL);
}

TEST(addr_text)
{
    addr_t a;
    char buf[HK_POLICY_ADDR_MAX];
    make_addr("169.254.169.254", &a);
    hk_policy_addr_text(&a.sa, buf);
    CHECK_STR(buf, "169.254.169.254");
    make_addr("fd00:ec2::254", &a);
    hk_policy_addr_text(&a.sa, buf);
    CHECK_STR(buf, "fd00:ec2::254");
}
