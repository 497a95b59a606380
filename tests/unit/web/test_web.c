/* test_web.c -- http_listen addresses (loopback rule) and the embedded asset table */
#include <arpa/inet.h>

#include "core/error.h"
#include "unit.h"
#include "web/assets.h"
#include "web/web.h"

static int parse(const char *text, int allow_remote, struct sockaddr_storage *ss)
{
    char err[256] = "";
    int rc = hk_web_listen_addr(text, allow_remote, ss, err, sizeof err);
    if (rc != 0 && !strstr(err, "http_listen")) return 99; /* every refusal says why */
    return rc;
}

TEST(listen_addresses)
{
    struct sockaddr_storage ss;
    CHECK_INT(parse("127.0.0.1:8480", 0, &ss), 0);
    CHECK_INT(ss.ss_family, AF_INET);
    CHECK_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8480);
    CHECK_INT(parse("127.8.9.10:0", 0, &ss), 0);
    CHECK_INT(parse("localhost:1", 0, &ss), 0);
    CHECK_INT(ss.ss_family, AF_INET);
    CHECK_INT(parse("[::1]:8480", 0, &ss), 0);
    CHECK_INT(ss.ss_family, AF_INET6);
    CHECK_INT(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8480);
}

TEST(non_loopback_needs_allow_remote)
{
    struct sockaddr_storage ss;
    static const char *const remote[] = {"0.0.0.0:8480", "10.0.0.1:80", "128.0.0.1:80", "[::]:80",
                                         "[2001:db8::1]:80"};
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
        CHECK_INT(parse(remote[i], 0, &ss), HK_EINVAL);
        CHECK_INT(parse(remote[i], 1, &ss), 0);
    }
}

TEST(bad_addresses)
{
    struct sockaddr_storage ss;
    static const char *const bad[] = {"",
                                      "8480",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:-1",
                                      "127.0.0.1:8x",
                                      "::1:80",
                                      "[::1]80",
                                      "example.com:80",
                                      "[::1]:",
                                      "1.2.3:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], 1, &ss) != HK_EINVAL) fprintf(stderr, "  accepted '%s'\n", bad[i]);
        CHECK_INT(parse(bad[i], 1, &ss), HK_EINVAL);
    }
}

TEST(assets_table)
{
    const hk_asset_t *index = hk_asset_find("/ui/index.html", 14);
    CHECK(index != NULL);
    CHECK(strcmp(index->content_type, "text/html; charset=utf-8") == 0);
    CHECK(index->len > 100);
    CHECK(memcmp(index->data, "<!doctype html>", 15) == 0);
    CHECK(hk_asset_find("/ui/", 4) == index);
    CHECK(hk_asset_find("/ui", 3) == index);
    CHECK(hk_asset_find("/ui/?application=elite", 22) == index);
    const hk_asset_t *js = hk_asset_find("/ui/app.js?v=1", 14);
    CHECK(js != NULL);
    CHECK(strcmp(js->content_type, "text/javascript; charset=utf-8") == 0);
    CHECK(strcmp(hk_asset_find("/ui/style.css", 13)->content_type, "text/css; charset=utf-8") == 0);
    CHECK(hk_asset_find("/ui/nope.js", 11) == NULL);
    CHECK(hk_asset_find("/ui/../CMakeLists.txt", 21) == NULL);
    CHECK(hk_asset_find("/app.js", 7) == NULL);
    size_t n = 0;
    for (const hk_asset_t *a = hk_assets; a->path; a++, n++)
        CHECK(a->data[a->len] == 0); /* the generator ends each with a NUL */
    CHECK(n >= 11);
}
