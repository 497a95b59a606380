/* sign.h -- what receivers verify: the notification body, its signature, the bearer JWT */
#ifndef HK_SIGN_H
#define HK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"

#define HK_SIGN_SIGNATURE_MAX 48 /* "v1," + 44 base64 chars + NUL */
#define HK_SIGN_RFC3339_MAX 25   /* "2026-11-26T22:34:28.123Z" + NUL */
#define HK_SIGN_TIMESTAMP_MAX 21 /* a decimal int64 + NUL */
#define HK_SIGN_JWT_TTL_S 300    /* exp = iat + this */

/* The HMAC key of a webhook's secret: the base64-decoded part of a "whsec_"
 * secret, else the secret's bytes. It signs both the webhook-signature and
 * the JWT. Wipe it (hk_sign_key_wipe) when done. */
typedef struct {
    uint8_t bytes[HK_SECRET_KEY_MAX];
    size_t len;
} hk_sign_key_t;

/* Derives the key of secret. Returns 0 or HK_EINVAL (empty, bad base64 after
 * "whsec_", too long). */
int hk_sign_key(const char *secret, hk_sign_key_t *out);
void hk_sign_key_wipe(hk_sign_key_t *key);

/* The Standard Webhooks signature header value of one attempt:
 * "v1," base64(HMAC-SHA256(key, event_id "." timestamp "." body)), where
 * timestamp is the decimal webhook-timestamp (Unix seconds of the attempt,
 * not of the event: receivers refuse timestamps more than 5 minutes off). */
void hk_sign_signature(const hk_sign_key_t *key, const char *event_id, int64_t timestamp,
                       const uint8_t *body, size_t body_len, char out[HK_SIGN_SIGNATURE_MAX]);

/* What the "OAuth" bearer token says. */
typedef struct {
    const char *webhook_name; /* sub */
    const char *url;          /* aud */
    const char *event_id;     /* jti */
    int64_t iat;              /* Unix seconds of the attempt; exp = iat + 300 */
} hk_sign_claims_t;

/* The JWT (HS256) for an attempt, signed with key:
 *   base64url({"alg":"HS256","typ":"JWT"}) "."
 *   base64url({"iss":"hookd","sub":..,"aud":..,"iat":..,"exp":..,"jti":..,
 *              "body_sha256":base64url(SHA-256(body))}) "." base64url(HMAC)
 * in that key order, base64url without padding, strings escaped with
 * hk_json_quote. *out is malloc'd, NUL-terminated; the caller frees it.
 * Returns 0 or HK_ENOMEM. */
int hk_sign_jwt(const hk_sign_key_t *key, const hk_sign_claims_t *claims, const uint8_t *body,
                size_t body_len, char **out);

/* Everything an attempt adds to the request, computed at once. */
typedef struct {
    char timestamp[HK_SIGN_TIMESTAMP_MAX]; /* webhook-timestamp */
    char signature[HK_SIGN_SIGNATURE_MAX]; /* webhook-signature */
    char *authorization;                   /* "Bearer <JWT>", malloc'd */
} hk_sign_attempt_t;

/* Fills out for an attempt at now_s (Unix seconds) of body to the webhook
 * named claims->webhook_name at claims->url (claims->iat is ignored: now_s is
 * used). Returns 0 or HK_ENOMEM; free with hk_sign_attempt_free either way. */
int hk_sign_attempt(const hk_sign_key_t *key, const hk_sign_claims_t *claims, int64_t now_s,
                    const uint8_t *body, size_t body_len, hk_sign_attempt_t *out);
void hk_sign_attempt_free(hk_sign_attempt_t *attempt);

/* The notification body of an event. */
typedef struct {
    const char *event_id;
    const char *trigger_action; /* "AccountUpdated" */
    const char *application;    /* "enterprise" (hk_application_name) */
    const char *origin;         /* "user" or "api" (hk_sign_origin_name) */
    int64_t time_ms;            /* when the event happened, Unix milliseconds */
    const uint8_t *payload;     /* JSON, as the caller gave it (hk_json_check it first) */
    size_t payload_len;
} hk_sign_envelope_t;

/* Writes the body every webhook of the event receives:
 *   {"id":..,"type":..,"application":..,"origin":..,"timestamp":"<RFC 3339>","data":<payload>}
 * payload goes in byte for byte, unchecked; an empty payload is written as
 * null so the body stays JSON. *out is malloc'd and NUL-terminated, *out_len
 * its length. Returns 0, HK_EINVAL (time outside years 0000-9999) or
 * HK_ENOMEM. */
int hk_sign_envelope(const hk_sign_envelope_t *ev, char **out, size_t *out_len);

/* Writes unix_ms as RFC 3339 UTC with milliseconds, "2026-11-26T22:34:28.123Z".
 * Returns 0 or HK_EINVAL (outside years 0000-9999). */
int hk_sign_rfc3339(int64_t unix_ms, char out[HK_SIGN_RFC3339_MAX]);

/* "user" (ORIGIN_USER, also ORIGIN_UNSPECIFIED as the proto says) or "api"
 * (ORIGIN_API); NULL for any other number. */
const char *hk_sign_origin_name(int origin);

#endif
