/* session.h -- the admin page's logins: one-time link tokens and browser sessions, in memory */
#ifndef HK_SESSION_H
#define HK_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "transport/call.h"

/* A token as text: base64url of 32 random bytes (43 chars) and the NUL. */
#define HK_SESSION_TOKEN_TEXT 44
/* Login tokens and sessions held at once; beyond, the least recently used
 * of the same kind goes. */
#define HK_SESSION_MAX_LOGINS 32
#define HK_SESSION_MAX_SESSIONS 256

typedef struct hk_sessions hk_sessions_t;

typedef struct {
    uint64_t login_ttl_ms; /* a login token works once within this */
    uint64_t idle_ms;      /* a session unused this long ends */
    uint64_t max_age_ms;   /* and every session this long after its login */
} hk_sessions_opts_t;

/* Times are the caller's monotonic milliseconds (uv_now). Only SHA-256
 * digests of the tokens are kept, compared in constant time. */
int hk_sessions_new(const hk_sessions_opts_t *opts, hk_sessions_t **out);
void hk_sessions_free(hk_sessions_t *s);

/* Mints a login token that acts as peer: its text into token. Returns 0. */
int hk_sessions_login(hk_sessions_t *s, const hk_peer_t *peer, uint64_t now_ms,
                      char token[HK_SESSION_TOKEN_TEXT]);

/* Exchanges a login token (used up either way) for a new session: its
 * text into session, the peer it acts as into *peer (may be NULL).
 * Returns 0, or HK_ENOTFOUND for a token unknown, used or expired. */
int hk_sessions_exchange(hk_sessions_t *s, const char *token, uint64_t now_ms,
                         char session[HK_SESSION_TOKEN_TEXT], hk_peer_t *peer);

/* Looks a session up and counts now as its last use: the peer into *peer.
 * Returns 0, or HK_ENOTFOUND for a session unknown or expired (idle or
 * too old). */
int hk_sessions_check(hk_sessions_t *s, const char *session, uint64_t now_ms, hk_peer_t *peer);

/* Forgets every expired token and session; how many of each live. */
void hk_sessions_sweep(hk_sessions_t *s, uint64_t now_ms, size_t *logins, size_t *sessions);

#endif
