/* test_session.c -- login tokens and sessions: single use, expiry, bounds, forgeries */
#include "core/crypto.h"
#include "core/error.h"
#include "unit.h"
#include "web/session.h"

static hk_sessions_t *sessions(void)
{
    hk_sessions_opts_t o = {.login_ttl_ms = 300000, .idle_ms = 1000, .max_age_ms = 5000};
    hk_sessions_t *s = NULL;
    hk_crypto_init();
    if (hk_sessions_new(&o, &s) != 0) return NULL;
    return s;
}

static const hk_peer_t admin = {.pid = 7, .uid = 1000, .gid = 1000};

TEST(login_once_then_session)
{
    hk_sessions_t *s = sessions();
    char token[HK_SESSION_TOKEN_TEXT], sid[HK_SESSION_TOKEN_TEXT], again[HK_SESSION_TOKEN_TEXT];
    hk_peer_t p = {0};
    CHECK(s != NULL);
    CHECK_INT(hk_sessions_login(s, &admin, 100, token), 0);
    CHECK_INT(strlen(token), 43);
    CHECK_INT(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              43);
    CHECK_INT(hk_sessions_exchange(s, token, 200, sid, &p), 0);
    CHECK_INT(p.uid, 1000);
    CHECK(strcmp(sid, token) != 0);
    /* Single use. */
    CHECK_INT(hk_sessions_exchange(s, token, 201, again, NULL), HK_ENOTFOUND);
    memset(&p, 0, sizeof p);
    CHECK_INT(hk_sessions_check(s, sid, 300, &p), 0);
    CHECK_INT(p.uid, 1000);
    CHECK_INT(p.gid, 1000);
    /* A token is not a session, nor a session a token. */
    CHECK_INT(hk_sessions_check(s, token, 300, &p), HK_ENOTFOUND);
    CHECK_INT(hk_sessions_exchange(s, sid, 300, again, NULL), HK_ENOTFOUND);
    hk_sessions_free(s);
}

TEST(login_token_expires_and_is_used_up)
{
    hk_sessions_t *s = sessions();
    char token[HK_SESSION_TOKEN_TEXT], sid[HK_SESSION_TOKEN_TEXT];
    CHECK(s != NULL);
    hk_sessions_login(s, &admin, 0, token);
    CHECK_INT(hk_sessions_exchange(s, token, 300000, sid, NULL), HK_ENOTFOUND);
    hk_sessions_login(s, &admin, 0, token);
    CHECK_INT(hk_sessions_exchange(s, token, 299999, sid, NULL), 0);
    hk_sessions_free(s);
}

TEST(session_idle_and_absolute_expiry)
{
    hk_sessions_t *s = sessions();
    char token[HK_SESSION_TOKEN_TEXT], sid[HK_SESSION_TOKEN_TEXT];
    hk_peer_t p;
    size_t nl, ns;
    CHECK(s != NULL);
    hk_sessions_login(s, &admin, 0, token);
    CHECK_INT(hk_sessions_exchange(s, token, 0, sid, NULL), 0);
    /* Used every 900 ms: idle never hits 1000, the 5000 ms age does. */
    for (uint64_t t = 900; t < 5000; t += 900)
        CHECK_INT(hk_sessions_check(s, sid, t, &p), 0);
    CHECK_INT(hk_sessions_check(s, sid, 5000, &p), HK_ENOTFOUND);
    hk_sessions_login(s, &admin, 10000, token);
    CHECK_INT(hk_sessions_exchange(s, token, 10000, sid, NULL), 0);
    CHECK_INT(hk_sessions_check(s, sid, 10999, &p), 0);
    hk_sessions_sweep(s, 11500, &nl, &ns);
    CHECK_INT(ns, 1);
    hk_sessions_sweep(s, 12000, &nl, &ns);
    CHECK_INT(ns, 0);
    CHECK_INT(hk_sessions_check(s, sid, 12000, &p), HK_ENOTFOUND);
    hk_sessions_free(s);
}

TEST(forged_and_malformed_refused)
{
    hk_sessions_t *s = sessions();
    char token[HK_SESSION_TOKEN_TEXT], sid[HK_SESSION_TOKEN_TEXT], forged[HK_SESSION_TOKEN_TEXT];
    hk_peer_t p;
    CHECK(s != NULL);
    hk_sessions_login(s, &admin, 0, token);
    CHECK_INT(hk_sessions_exchange(s, token, 0, sid, NULL), 0);
    memcpy(forged, sid, sizeof forged);
    forged[10] = forged[10] == 'A' ? 'B' : 'A';
    CHECK_INT(hk_sessions_check(s, forged, 1, &p), HK_ENOTFOUND);
    static const char *const bad[] = {"", "x", "AAAA",
                                      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(hk_sessions_check(s, bad[i], 1, &p), HK_ENOTFOUND);
    CHECK_INT(hk_sessions_check(s, NULL, 1, &p), HK_ENOTFOUND);
    CHECK_INT(hk_sessions_check(s, sid, 1, &p), 0);
    hk_sessions_free(s);
}

TEST(bounded_least_recently_used_goes)
{
    hk_sessions_t *s = sessions();
    char token[HK_SESSION_TOKEN_TEXT], first[HK_SESSION_TOKEN_TEXT], sid[HK_SESSION_TOKEN_TEXT];
    hk_peer_t p;
    size_t nl, ns;
    CHECK(s != NULL);
    hk_sessions_login(s, &admin, 0, token);
    CHECK_INT(hk_sessions_exchange(s, token, 0, first, NULL), 0);
    for (int i = 0; i < HK_SESSION_MAX_SESSIONS + 10; i++) {
        hk_sessions_login(s, &admin, 1, token);
        CHECK_INT(hk_sessions_exchange(s, token, 1, sid, NULL), 0);
    }
    hk_sessions_sweep(s, 2, &nl, &ns);
    CHECK_INT(ns, HK_SESSION_MAX_SESSIONS);
    CHECK_INT(nl, 0);
    CHECK_INT(hk_sessions_check(s, first, 2, &p), HK_ENOTFOUND); /* the oldest went */
    CHECK_INT(hk_sessions_check(s, sid, 2, &p), 0);
    for (int i = 0; i < HK_SESSION_MAX_LOGINS * 2; i++)
        hk_sessions_login(s, &admin, 3, token);
    hk_sessions_sweep(s, 3, &nl, &ns);
    CHECK_INT(nl, HK_SESSION_MAX_LOGINS);
    CHECK_INT(hk_sessions_exchange(s, token, 3, sid, NULL), 0); /* the newest stays */
    hk_sessions_free(s);
}
