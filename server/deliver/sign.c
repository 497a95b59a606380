/* sign.c -- what receivers verify: the notification body, its signature, the bearer JWT */
#include "deliver/sign.h"
#include "core/error.h"
#include "deliver/json.h"
#include "hookd/v1/webhooks.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The signature's base64 of a 32-byte MAC is 44 chars: "v1," + 44 + NUL. */
_Static_assert(HK_SIGN_SIGNATURE_MAX >= 3 + 44 + 1, "signature buffer");

/* base64url of {"alg":"HS256","typ":"JWT"}: the header never changes. */
static const char jwt_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

int hk_sign_key(const char *secret, hk_sign_key_t *out)
{
    out->len = 0;
    if (!secret) return HK_EINVAL;
    return hk_crypto_secret_key(secret, out->bytes, &out->len) == 0 ? 0 : HK_EINVAL;
}

void hk_sign_key_wipe(hk_sign_key_t *key)
{
    hk_crypto_wipe(key->bytes, sizeof key->bytes);
    key->len = 0;
}

/* base64 of public bytes (the claims, a digest, a MAC) with a plain table
 * lookup: libsodium's encoder is constant-time, which only secrets need,
 * and costs several times as much -- it was a fifth of signing an attempt.
 * url: the URL-safe alphabet without padding, else the standard one with.
 * Writes at most hk_crypto_b64_len(len) bytes including the NUL; returns
 * the length. */
static size_t b64_public(const uint8_t *in, size_t len, char *out, int url)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *t = url ? safe : std;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3, o += 4) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = t[v >> 18];
        o[1] = t[(v >> 12) & 63];
        o[2] = t[(v >> 6) & 63];
        o[3] = t[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = t[v >> 18];
        *o++ = t[(v >> 12) & 63];
        if (i + 1 < len)
            *o++ = t[(v >> 6) & 63];
        else if (!url)
            *o++ = '=';
        if (!url) *o++ = '=';
    }
    *o = '\0';
    return (size_t)(o - out);
}

void hk_sign_signature(const hk_sign_key_t *key, const char *event_id, int64_t timestamp,
                       const uint8_t *body, size_t body_len, char out[HK_SIGN_SIGNATURE_MAX])
{
    char ts[HK_SIGN_TIMESTAMP_MAX];
    int ts_len = snprintf(ts, sizeof ts, "%" PRId64, timestamp);
    static const uint8_t dot = '.';
    static const uint8_t empty = 0;
    const uint8_t *parts[] = {(const uint8_t *)event_id, &dot, (const uint8_t *)ts, &dot,
                              body ? body : &empty};
    size_t lens[] = {strlen(event_id), 1, (size_t)ts_len, 1, body_len};
    uint8_t mac[32];
    hk_crypto_hmac_sha256(key->bytes, key->len, parts, lens, 5, mac);
    memcpy(out, "v1,", 3);
    b64_public(mac, sizeof mac, out + 3, 0);
}

/* A growing string; on allocation failure it stays failed and says so once. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} buf_t;

static char *buf_room(buf_t *b, size_t n)
{
    if (b->failed) return NULL;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return NULL;
        }
        b->s = s;
        b->cap = cap;
    }
    return b->s + b->len;
}

static void buf_add(buf_t *b, const void *data, size_t n)
{
    char *p = buf_room(b, n);
    if (!p) return;
    memcpy(p, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_quoted(buf_t *b, const char *s)
{
    size_t n = strlen(s);
    char *p = buf_room(b, HK_JSON_QUOTED_MAX(n));
    if (p) b->len += hk_json_quote(s, n, p);
}

static void buf_b64url(buf_t *b, const uint8_t *data, size_t n)
{
    char *p = buf_room(b, hk_crypto_b64_len(n));
    if (p) b->len += b64_public(data, n, p, 1);
}

/* The JWT of hk_sign_jwt, written after prefix ("Bearer " for the header
 * value, so that it needs no second copy). */
static int jwt_build(const hk_sign_key_t *key, const hk_sign_claims_t *claims, const uint8_t *body,
                     size_t body_len, const char *prefix, char **out)
{
    static const uint8_t empty = 0;
    uint8_t digest[32], mac[32];
    char num[48];
    buf_t claims_json = {0}, token = {0};
    size_t name_len = strlen(claims->webhook_name), url_len = strlen(claims->url),
           id_len = strlen(claims->event_id);

    hk_crypto_sha256(body ? body : &empty, body_len, digest);
    /* Sized once: the fixed text, the quoted strings, the numbers, the digest. */
    buf_room(&claims_json, 160 + HK_JSON_QUOTED_MAX(name_len) + HK_JSON_QUOTED_MAX(url_len) +
                               HK_JSON_QUOTED_MAX(id_len));
    buf_str(&claims_json, "{\"iss\":\"hookd\",\"sub\":");
    buf_quoted(&claims_json, claims->webhook_name);
    buf_str(&claims_json, ",\"aud\":");
    buf_quoted(&claims_json, claims->url);
    snprintf(num, sizeof num, ",\"iat\":%" PRId64 ",\"exp\":%" PRId64, claims->iat,
             claims->iat + HK_SIGN_JWT_TTL_S);
    buf_str(&claims_json, num);
    buf_str(&claims_json, ",\"jti\":");
    buf_quoted(&claims_json, claims->event_id);
    buf_str(&claims_json, ",\"body_sha256\":\"");
    buf_b64url(&claims_json, digest, sizeof digest);
    buf_str(&claims_json, "\"}");
    if (claims_json.failed) goto out;

    size_t plen = strlen(prefix);
    buf_room(&token, plen + sizeof jwt_header_b64 + hk_crypto_b64_len(claims_json.len) +
                         hk_crypto_b64_len(sizeof mac) + 2);
    buf_str(&token, prefix);
    buf_str(&token, jwt_header_b64);
    buf_str(&token, ".");
    buf_b64url(&token, (const uint8_t *)claims_json.s, claims_json.len);
    if (token.failed) goto out;
    /* The MAC covers the signing input "header.claims" exactly as sent. */
    const uint8_t *parts[] = {(const uint8_t *)token.s + plen};
    size_t lens[] = {token.len - plen};
    hk_crypto_hmac_sha256(key->bytes, key->len, parts, lens, 1, mac);
    buf_str(&token, ".");
    buf_b64url(&token, mac, sizeof mac);

out:
    free(claims_json.s);
    if (claims_json.failed || token.failed) {
        free(token.s);
        return HK_ENOMEM;
    }
    *out = token.s;
    return 0;
}

int hk_sign_jwt(const hk_sign_key_t *key, const hk_sign_claims_t *claims, const uint8_t *body,
                size_t body_len, char **out)
{
    return jwt_build(key, claims, body, body_len, "", out);
}

int hk_sign_attempt(const hk_sign_key_t *key, const hk_sign_claims_t *claims, int64_t now_s,
                    const uint8_t *body, size_t body_len, hk_sign_attempt_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->timestamp, sizeof out->timestamp, "%" PRId64, now_s);
    hk_sign_signature(key, claims->event_id, now_s, body, body_len, out->signature);

    hk_sign_claims_t c = *claims;
    c.iat = now_s;
    return jwt_build(key, &c, body, body_len, "Bearer ", &out->authorization);
}

void hk_sign_attempt_free(hk_sign_attempt_t *attempt)
{
    free(attempt->authorization);
    attempt->authorization = NULL;
}

int hk_sign_rfc3339(int64_t unix_ms, char out[HK_SIGN_RFC3339_MAX])
{
    /* Years 0000-9999: what RFC 3339's four-digit year can say. */
    const int64_t min_ms = -62167219200000LL; /* 0000-01-01T00:00:00Z */
    const int64_t max_ms = 253402300799999LL; /* 9999-12-31T23:59:59.999Z */
    if (unix_ms < min_ms || unix_ms > max_ms) return HK_EINVAL;
    /* Floor division, so times before 1970 still get a positive millisecond part. */
    int64_t s = unix_ms / 1000, ms = unix_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) return HK_EINVAL;
    /* gcc cannot see that the fields are in range; the year check above bounds them. */
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
    if (n != HK_SIGN_RFC3339_MAX - 1) return HK_EINVAL;
    memcpy(out, tmp, HK_SIGN_RFC3339_MAX);
    return 0;
}

int hk_sign_envelope(const hk_sign_envelope_t *ev, char **out, size_t *out_len)
{
    char when[HK_SIGN_RFC3339_MAX];
    if (hk_sign_rfc3339(ev->time_ms, when) != 0) return HK_EINVAL;

    buf_t b = {0};
    buf_room(&b, ev->payload_len + 256); /* one allocation in the common case */
    buf_str(&b, "{\"id\":");
    buf_quoted(&b, ev->event_id);
    buf_str(&b, ",\"type\":");
    buf_quoted(&b, ev->trigger_action);
    buf_str(&b, ",\"application\":");
    buf_quoted(&b, ev->application);
    buf_str(&b, ",\"origin\":");
    buf_quoted(&b, ev->origin);
    buf_str(&b, ",\"timestamp\":\"");
    buf_str(&b, when);
    buf_str(&b, "\",\"data\":");
    if (ev->payload_len)
        buf_add(&b, ev->payload, ev->payload_len);
    else
        buf_str(&b, "null");
    buf_str(&b, "}");
    if (b.failed) {
        free(b.s);
        return HK_ENOMEM;
    }
    *out = b.s;
    *out_len = b.len;
    return 0;
}

const char *hk_sign_origin_name(int origin)
{
    switch (origin) {
    case HOOKD__V1__ORIGIN__ORIGIN_UNSPECIFIED:
    case HOOKD__V1__ORIGIN__ORIGIN_USER: return "user";
    case HOOKD__V1__ORIGIN__ORIGIN_API: return "api";
    }
    return NULL;
}
