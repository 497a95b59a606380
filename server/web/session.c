/* session.c -- the admin page's logins: one-time link tokens and browser sessions, in memory */
#include "web/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/error.h"

#define TOKEN_BYTES 32

typedef struct {
    int used;
    uint8_t digest[32]; /* SHA-256 of the token's bytes */
    hk_peer_t peer;
    uint64_t born_ms, last_ms;
} entry_t;

struct hk_sessions {
    hk_sessions_opts_t opts;
    entry_t logins[HK_SESSION_MAX_LOGINS];
    entry_t sessions[HK_SESSION_MAX_SESSIONS];
};

int hk_sessions_new(const hk_sessions_opts_t *opts, hk_sessions_t **out)
{
    hk_sessions_t *s = calloc(1, sizeof *s);
    if (!s) return HK_ENOMEM;
    s->opts = *opts;
    *out = s;
    return 0;
}

void hk_sessions_free(hk_sessions_t *s)
{
    if (!s) return;
    hk_crypto_wipe(s, sizeof *s);
    free(s);
}

static int login_expired(const hk_sessions_t *s, const entry_t *e, uint64_t now_ms)
{
    return now_ms - e->born_ms >= s->opts.login_ttl_ms;
}

static int session_expired(const hk_sessions_t *s, const entry_t *e, uint64_t now_ms)
{
    return now_ms - e->last_ms >= s->opts.idle_ms || now_ms - e->born_ms >= s->opts.max_age_ms;
}

void hk_sessions_sweep(hk_sessions_t *s, uint64_t now_ms, size_t *logins, size_t *sessions)
{
    size_t nl = 0, ns = 0;
    for (size_t i = 0; i < HK_SESSION_MAX_LOGINS; i++) {
        entry_t *e = &s->logins[i];
        if (e->used && login_expired(s, e, now_ms)) memset(e, 0, sizeof *e);
        nl += e->used;
    }
    for (size_t i = 0; i < HK_SESSION_MAX_SESSIONS; i++) {
        entry_t *e = &s->sessions[i];
        if (e->used && session_expired(s, e, now_ms)) memset(e, 0, sizeof *e);
        ns += e->used;
    }
    if (logins) *logins = nl;
    if (sessions) *sessions = ns;
}

/* A free slot, else the least recently used one. */
static entry_t *slot(entry_t *table, size_t n)
{
    entry_t *lru = &table[0];
    for (size_t i = 0; i < n; i++) {
        if (!table[i].used) return &table[i];
        if (table[i].last_ms < lru->last_ms) lru = &table[i];
    }
    return lru;
}

/* A new token: its text into text, the entry its digest goes in filled. */
static void mint(entry_t *e, const hk_peer_t *peer, uint64_t now_ms,
                 char text[HK_SESSION_TOKEN_TEXT])
{
    uint8_t raw[TOKEN_BYTES];
    char b64[64];

    hk_crypto_random(raw, sizeof raw);
    hk_crypto_b64url(raw, sizeof raw, b64);
    memcpy(text, b64, HK_SESSION_TOKEN_TEXT - 1);
    text[HK_SESSION_TOKEN_TEXT - 1] = '\0';
    memset(e, 0, sizeof *e);
    e->used = 1;
    hk_crypto_sha256(raw, sizeof raw, e->digest);
    e->peer = *peer;
    e->born_ms = e->last_ms = now_ms;
    hk_crypto_wipe(raw, sizeof raw);
}

/* The entry whose digest is the token's, or NULL (a malformed token too).
 * Every live entry is compared, in constant time each. */
static entry_t *find(entry_t *table, size_t n, const char *text)
{
    uint8_t raw[TOKEN_BYTES + 2], digest[32];
    size_t len = text ? strlen(text) : 0, got = 0;
    entry_t *hit = NULL;

    if (len != HK_SESSION_TOKEN_TEXT - 1 ||
        hk_crypto_unb64_any(text, len, raw, sizeof raw, &got) != 0 || got != TOKEN_BYTES)
        return NULL;
    hk_crypto_sha256(raw, TOKEN_BYTES, digest);
    hk_crypto_wipe(raw, sizeof raw);
    for (size_t i = 0; i < n; i++)
        if (table[i].used && hk_crypto_equal(table[i].digest, digest, sizeof digest))
            hit = &table[i];
    return hit;
}

int hk_sessions_login(hk_sessions_t *s, const hk_peer_t *peer, uint64_t now_ms,
                      char token[HK_SESSION_TOKEN_TEXT])
{
    hk_sessions_sweep(s, now_ms, NULL, NULL);
    mint(slot(s->logins, HK_SESSION_MAX_LOGINS), peer, now_ms, token);
    return 0;
}

int hk_sessions_exchange(hk_sessions_t *s, const char *token, uint64_t now_ms,
                         char session[HK_SESSION_TOKEN_TEXT], hk_peer_t *peer)
{
    entry_t *e = find(s->logins, HK_SESSION_MAX_LOGINS, token);
    if (!e) return HK_ENOTFOUND;
    hk_peer_t who = e->peer;
    int expired = login_expired(s, e, now_ms);
    memset(e, 0, sizeof *e); /* single use, even when too late */
    if (expired) return HK_ENOTFOUND;
    hk_sessions_sweep(s, now_ms, NULL, NULL);
    mint(slot(s->sessions, HK_SESSION_MAX_SESSIONS), &who, now_ms, session);
    if (peer) *peer = who;
    return 0;
}

int hk_sessions_check(hk_sessions_t *s, const char *session, uint64_t now_ms, hk_peer_t *peer)
{
    entry_t *e = find(s->sessions, HK_SESSION_MAX_SESSIONS, session);
    if (!e) return HK_ENOTFOUND;
    if (session_expired(s, e, now_ms)) {
        memset(e, 0, sizeof *e);
        return HK_ENOTFOUND;
    }
    e->last_ms = now_ms;
    *peer = e->peer;
    return 0;
}
