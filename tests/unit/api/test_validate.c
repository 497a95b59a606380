/* test_validate.c -- every webhook field rule, accepted and refused */
#include <stdlib.h>

#include "api/validate.h"
#include "core/crypto.h"
#include "core/error.h"
#include "unit.h"

static char err[512];

/* Checks that rc refused with a message starting "<field>: ". */
#define REFUSED(call, field)                                                                       \
    do {                                                                                           \
        err[0] = '\0';                                                                             \
        CHECK_INT((call), HK_EINVAL);                                                              \
        if (strncmp(err, field ": ", strlen(field) + 2) != 0)                                      \
            fprintf(stderr, "  message: %s\n", err);                                               \
        CHECK(strncmp(err, field ": ", strlen(field) + 2) == 0);                                   \
    } while (0)

#define ACCEPTED(call)                                                                             \
    do {                                                                                           \
        err[0] = '\0';                                                                             \
        int rc_ = (call);                                                                          \
        if (rc_ != 0) fprintf(stderr, "  refused: %s\n", err);                                     \
        CHECK_INT(rc_, 0);                                                                         \
    } while (0)

static char *repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

TEST(name_accepts)
{
    ACCEPTED(hk_validate_name("name", "Account sync", err, sizeof err));
    ACCEPTED(hk_validate_name("name", "x", err, sizeof err));
    ACCEPTED(hk_validate_name("name", " padded ", err, sizeof err));
    ACCEPTED(hk_validate_name("name", "Café → Ωmega 🎉", err, sizeof err));
    /* 100 characters, 200 bytes: the limit counts characters. */
    char *s = repeat("é", 100);
    int rc = hk_validate_name("name", s, err, sizeof err);
    free(s);
    CHECK_INT(rc, 0);
}

TEST(name_refuses)
{
    REFUSED(hk_validate_name("name", "", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "   ", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "\xe3\x80\x80 \xc2\xa0", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "tab\there", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "line\nbreak", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "del\x7f", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "c1 \xc2\x9b", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "bad \xff", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "cut \xc3", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "overlong \xc0\xae", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "surrogate \xed\xa0\x80", err, sizeof err), "name");
    REFUSED(hk_validate_name("name", "too big \xf4\x90\x80\x80", err, sizeof err), "name");
    CHECK(strstr(err, "UTF-8") != NULL);
    char *s = repeat("é", 101);
    int rc = hk_validate_name("name", s, err, sizeof err);
    free(s);
    CHECK_INT(rc, HK_EINVAL);
    CHECK(strstr(err, "100") != NULL);
    /* The field in the message is the one given. */
    REFUSED(hk_validate_name("new_name", "", err, sizeof err), "new_name");
}

TEST(application)
{
    ACCEPTED(hk_validate_application(1, err, sizeof err));
    ACCEPTED(hk_validate_application(2, err, sizeof err));
    REFUSED(hk_validate_application(0, err, sizeof err), "application");
    REFUSED(hk_validate_application(3, err, sizeof err), "application");
    REFUSED(hk_validate_application(-1, err, sizeof err), "application");
}

TEST(auth_method)
{
    ACCEPTED(hk_validate_auth_method(0, err, sizeof err));
    ACCEPTED(hk_validate_auth_method(1, err, sizeof err));
    REFUSED(hk_validate_auth_method(2, err, sizeof err), "auth_method");
    REFUSED(hk_validate_auth_method(-3, err, sizeof err), "auth_method");
}

TEST(trigger_action)
{
    hk_catalog_t *c;
    CHECK_INT(hk_catalog_new(&c), 0);
    ACCEPTED(hk_validate_trigger_action(c, 1, "AccountUpdated", err, sizeof err));
    ACCEPTED(hk_validate_trigger_action(c, 2, "ContractSigned", err, sizeof err));
    REFUSED(hk_validate_trigger_action(c, 1, "", err, sizeof err), "trigger_action");
    REFUSED(hk_validate_trigger_action(c, 1, "accountupdated", err, sizeof err), "trigger_action");
    CHECK(strstr(err, "'accountupdated'") != NULL);
    CHECK(strstr(err, "enterprise") != NULL);
    /* Elite's own key is not Enterprise's. */
    REFUSED(hk_validate_trigger_action(c, 1, "ContractSigned", err, sizeof err), "trigger_action");
    /* Arbitrary bytes are not echoed. */
    REFUSED(hk_validate_trigger_action(c, 2, "x\ny <b>", err, sizeof err), "trigger_action");
    CHECK(strstr(err, "<b>") == NULL);
    CHECK_INT(hk_catalog_add(c, 2, "RoomBlocked", "Room Block"), 0);
    ACCEPTED(hk_validate_trigger_action(c, 2, "RoomBlocked", err, sizeof err));
    hk_catalog_free(c);
}

TEST(url_accepts)
{
    static const char *const good[] = {
        "https://example.com",
        "https://example.com/",
        "https://hooks.example.com/webhooks/momentus?tenant=42&x=%20y",
        "HTTPS://Example.COM:8443/path",
        "https://example.com./x",
        "https://203.0.113.7/hook",
        "https://[2001:db8::1]:443/hook",
        "https://my_host.internal/hook",
        "https://a?b=c",
        "http://localhost:8080/hook",
        "http://LOCALHOST/hook",
        "http://127.0.0.1/hook",
        "http://127.10.20.30:9/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        err[0] = '\0';
        int rc = hk_validate_url(good[i], 0, err, sizeof err);
        if (rc != 0) fprintf(stderr, "  refused %s: %s\n", good[i], err);
        CHECK_INT(rc, 0);
    }
    char *path = repeat("a", 2048 - strlen("https://e.co/"));
    char url[2100];
    snprintf(url, sizeof url, "https://e.co/%s", path);
    free(path);
    CHECK_INT(strlen(url), 2048);
    ACCEPTED(hk_validate_url(url, 0, err, sizeof err));
}

TEST(url_refuses)
{
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"", "required"},
        {"example.com/hook", "absolute https://"},
        {"/hook", "absolute https://"},
        {"ftp://example.com/", "absolute https://"},
        {"https:/example.com", "absolute https://"},
        {"https//example.com", "absolute https://"},
        {"https://", "host"},
        {"https:///path", "host"},
        {"https://:443/", "host"},
        {"https://?q", "host"},
        {"https://user:pw@example.com/", "user info"},
        {"https://user@example.com/", "user info"},
        {"https://example.com/#frag", "fragment"},
        {"https://exa mple.com/", "ASCII"},
        {"https://example.com/\x01", "ASCII"},
        {"https://bücher.example/", "ASCII"},
        {"https://exa!mple.com/", "host"},
        {"https://example..com/", "host"},
        {"https://.example.com/", "host"},
        {"https://[::1/", "host"},
        {"https://[not-v6]/", "host"},
        {"https://[]/", "host"},
        {"https://example.com:/", "port"},
        {"https://example.com:0/", "port"},
        {"https://example.com:65536/", "port"},
        {"https://example.com:123456/", "port"},
        {"https://example.com:8o/", "port"},
        {"https://[::1]x/", "port"},
        {"http://example.com/hook", "loopback"},
        {"http://10.0.0.1/hook", "loopback"},
        {"http://128.0.0.1/hook", "loopback"},
        {"http://localhost.example.com/hook", "loopback"},
        {"http://[::2]/hook", "loopback"},
        {"http://127.1/hook", "loopback"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = hk_validate_url(bad[i].url, 0, err, sizeof err);
        if (rc != HK_EINVAL || strncmp(err, "url: ", 5) != 0 || !strstr(err, bad[i].why))
            fprintf(stderr, "  %s: rc %d, '%s' (want '%s')\n", bad[i].url, rc, err, bad[i].why);
        CHECK_INT(rc, HK_EINVAL);
        CHECK(strncmp(err, "url: ", 5) == 0);
        CHECK(strstr(err, bad[i].why) != NULL);
    }
    char *path = repeat("a", 2049 - strlen("https://e.co/"));
    char url[2100];
    snprintf(url, sizeof url, "https://e.co/%s", path);
    free(path);
    REFUSED(hk_validate_url(url, 0, err, sizeof err), "url");
    CHECK(strstr(err, "2048") != NULL);
}

TEST(url_allow_http)
{
    ACCEPTED(hk_validate_url("http://example.com/hook", 1, err, sizeof err));
    ACCEPTED(hk_validate_url("http://10.0.0.1:8080/hook", 1, err, sizeof err));
    /* allow_http lifts the loopback rule, nothing else. */
    REFUSED(hk_validate_url("http://u@example.com/hook", 1, err, sizeof err), "url");
    REFUSED(hk_validate_url("ftp://example.com/", 1, err, sizeof err), "url");
}

TEST(loopback)
{
    CHECK(hk_validate_is_loopback("localhost"));
    CHECK(hk_validate_is_loopback("127.0.0.1"));
    CHECK(hk_validate_is_loopback("127.255.255.254"));
    CHECK(hk_validate_is_loopback("::1"));
    CHECK(!hk_validate_is_loopback("0.0.0.0"));
    CHECK(!hk_validate_is_loopback("::"));
    CHECK(!hk_validate_is_loopback("126.0.0.1"));
    CHECK(!hk_validate_is_loopback("localhost2"));
}

TEST(timeout)
{
    ACCEPTED(hk_validate_timeout(1, err, sizeof err));
    ACCEPTED(hk_validate_timeout(15, err, sizeof err));
    ACCEPTED(hk_validate_timeout(600, err, sizeof err));
    REFUSED(hk_validate_timeout(0, err, sizeof err), "timeout_seconds");
    REFUSED(hk_validate_timeout(601, err, sizeof err), "timeout_seconds");
    REFUSED(hk_validate_timeout(UINT32_MAX, err, sizeof err), "timeout_seconds");
}

TEST(secret)
{
    char generated[HK_SECRET_MAX];
    CHECK_INT(hk_crypto_init(), 0);
    hk_crypto_secret_generate(generated);
    ACCEPTED(hk_validate_secret(generated, err, sizeof err));
    ACCEPTED(hk_validate_secret("my own secret key 123", err, sizeof err));
    /* whsec_ + base64 of 24 bytes */
    ACCEPTED(hk_validate_secret("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", err, sizeof err));
    REFUSED(hk_validate_secret("", err, sizeof err), "secret_key");
    REFUSED(hk_validate_secret("short", err, sizeof err), "secret_key");
    CHECK(strstr(err, "16") != NULL);
    CHECK(strstr(err, "short") == NULL); /* a secret is never echoed */
    REFUSED(hk_validate_secret("sixteen chars \x01 no", err, sizeof err), "secret_key");
    REFUSED(hk_validate_secret("whsec_not*base64*at*all*here", err, sizeof err), "secret_key");
    REFUSED(hk_validate_secret("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAA", err, sizeof err),
            "secret_key");
    char *s = repeat("k", 257);
    int rc = hk_validate_secret(s, err, sizeof err);
    free(s);
    CHECK_INT(rc, HK_EINVAL);
}

TEST(description)
{
    ACCEPTED(hk_validate_description("", err, sizeof err));
    ACCEPTED(hk_validate_description(NULL, err, sizeof err));
    ACCEPTED(
        hk_validate_description("Sends new accounts to the CRM.\nOwner:\tops", err, sizeof err));
    char *s = repeat("ü", 500);
    int rc = hk_validate_description(s, err, sizeof err);
    free(s);
    CHECK_INT(rc, 0);
    s = repeat("ü", 501);
    rc = hk_validate_description(s, err, sizeof err);
    free(s);
    CHECK_INT(rc, HK_EINVAL);
    CHECK(strncmp(err, "description: ", 13) == 0);
    REFUSED(hk_validate_description("bell \x07", err, sizeof err), "description");
    REFUSED(hk_validate_description("bad \xfe", err, sizeof err), "description");
}

TEST(message_truncates_to_buffer)
{
    char small[8];
    CHECK_INT(hk_validate_url("ftp://x", 0, small, sizeof small), HK_EINVAL);
    CHECK_STR(small, "url: mu");
    CHECK_INT(hk_validate_url("ftp://x", 0, NULL, 0), HK_EINVAL);
}
