/* test_sign.c -- golden vectors: Standard Webhooks signature, bearer JWT, envelope, RFC 3339 */
#include "unit.h"

#include "core/crypto.h"
#include "core/error.h"
#include "deliver/sign.h"

#include <stdlib.h>

/* ../shared/reference/standard-webhooks-vector.txt */
#define VECTOR_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VECTOR_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VECTOR_TS 1614265330
#define VECTOR_BODY "{\"test\": 2432232314}"
#define VECTOR_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* The golden JWTs below were computed once, independently of hookd's code,
 * with /usr/bin/python3's standard library:
 *
 *   import hmac, hashlib, base64, json
 *   b64url = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
 *   key = base64.b64decode(VECTOR_SECRET[6:])
 *   claims = {"iss": "hookd", "sub": NAME, "aud": URL, "iat": 1614265330,
 *             "exp": 1614265330 + 300, "jti": "evt_2Xq9",
 *             "body_sha256": b64url(hashlib.sha256(VECTOR_BODY).digest())}
 *   header = json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":"))
 *   payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False)
 *   si = b64url(header.encode()) + "." + b64url(payload.encode())
 *   token = si + "." + b64url(hmac.new(key, si.encode(), hashlib.sha256).digest())
 *
 * NAME and URL hold a quote, a backslash, a tab, a newline, U+0001 and
 * non-ASCII UTF-8, so the token also pins hookd's JSON escaping to what a
 * stock JSON encoder writes. The second token: key = the raw secret
 * "a-plain-secret-of-24-chars" (no whsec_ prefix), sub "h", aud
 * "http://127.0.0.1/", iat 0, jti "e", empty body. */
#define NAME "Orders \"EU\" \\ Z\xc3\xbcrich\t\xe2\x98\x83\n\x01"
#define URL "https://example.com/hooks?a=1&b=\"x\""
#define GOLDEN_JWT                                                                                 \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                        \
    "eyJpc3MiOiJob29rZCIsInN1YiI6Ik9yZGVycyBcIkVVXCIgXFwgWsO8cmljaFx04piDXG5cdTAwMDEiLCJhdWQiOiJo" \
    "dHRwczovL2V4YW1wbGUuY29tL2hvb2tzP2E9MSZiPVwieFwiIiwiaWF0IjoxNjE0MjY1MzMwLCJleHAiOjE2MTQyNjU2" \
    "MzAsImp0aSI6ImV2dF8yWHE5IiwiYm9keV9zaGEyNTYiOiJyb1dKTWZaNGgtZ1ZEVy1XeWY0REJpd2Q4MnRFWk1UZHlP" \
    "QUN3SVRWMFpnIn0.NSnNnCDbIJDfpi4ELMPoM1GnORxT_94va6risci0gfA"
#define GOLDEN_JWT_RAW_KEY                                                                         \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                        \
    "eyJpc3MiOiJob29rZCIsInN1YiI6ImgiLCJhdWQiOiJodHRwOi8vMTI3LjAuMC4xLyIsImlhdCI6MCwiZXhwIjozMDAs" \
    "Imp0aSI6ImUiLCJib2R5X3NoYTI1NiI6IjQ3REVRcGo4SEJTYS1fVEltVy01SkNldVFlUmttNU5NcEpXWkczaFN1RlUi" \
    "fQ.2A7Nt_rbADFREcRn8bOJxmegjWj-Qtjaq008WUKKF-c"
/* HMAC-SHA256("a-plain-secret-of-24-chars", "e.0."), same python. */
#define GOLDEN_SIGNATURE_RAW_KEY "v1,5p7/eKvUQAlEzaz3L6VOgWKFY1xQIkfyffwXmsfFHi0="

TEST(standard_webhooks_vector)
{
    CHECK_INT(hk_crypto_init(), 0);
    hk_sign_key_t key;
    CHECK_INT(hk_sign_key(VECTOR_SECRET, &key), 0);
    CHECK_INT(key.len, 24);
    char sig[HK_SIGN_SIGNATURE_MAX];
    hk_sign_signature(&key, VECTOR_ID, VECTOR_TS, (const uint8_t *)VECTOR_BODY, strlen(VECTOR_BODY),
                      sig);
    CHECK_STR(sig, VECTOR_SIGNATURE);

    /* One changed byte anywhere changes the signature. */
    hk_sign_signature(&key, VECTOR_ID, VECTOR_TS + 1, (const uint8_t *)VECTOR_BODY,
                      strlen(VECTOR_BODY), sig);
    CHECK(strcmp(sig, VECTOR_SIGNATURE) != 0);
    hk_sign_key_wipe(&key);
    CHECK_INT(key.len, 0);
}

TEST(raw_secret_key)
{
    CHECK_INT(hk_crypto_init(), 0);
    hk_sign_key_t key;
    CHECK_INT(hk_sign_key("a-plain-secret-of-24-chars", &key), 0);
    CHECK_INT(key.len, 26);
    char sig[HK_SIGN_SIGNATURE_MAX];
    hk_sign_signature(&key, "e", 0, NULL, 0, sig);
    CHECK_STR(sig, GOLDEN_SIGNATURE_RAW_KEY);

    CHECK_INT(hk_sign_key("", &key), HK_EINVAL);
    CHECK_INT(hk_sign_key("whsec_not base64!", &key), HK_EINVAL);
    CHECK_INT(hk_sign_key(NULL, &key), HK_EINVAL);
}

TEST(jwt_golden)
{
    CHECK_INT(hk_crypto_init(), 0);
    hk_sign_key_t key;
    CHECK_INT(hk_sign_key(VECTOR_SECRET, &key), 0);
    hk_sign_claims_t claims = {
        .webhook_name = NAME, .url = URL, .event_id = "evt_2Xq9", .iat = 1614265330};
    char *jwt = NULL;
    CHECK_INT(hk_sign_jwt(&key, &claims, (const uint8_t *)VECTOR_BODY, strlen(VECTOR_BODY), &jwt),
              0);
    int same = strcmp(jwt, GOLDEN_JWT) == 0;
    if (!same) fprintf(stderr, "  got %s\n", jwt);
    free(jwt);
    CHECK(same);

    CHECK_INT(hk_sign_key("a-plain-secret-of-24-chars", &key), 0);
    hk_sign_claims_t c2 = {.webhook_name = "h", .url = "http://127.0.0.1/", .event_id = "e"};
    CHECK_INT(hk_sign_jwt(&key, &c2, NULL, 0, &jwt), 0);
    same = strcmp(jwt, GOLDEN_JWT_RAW_KEY) == 0;
    if (!same) fprintf(stderr, "  got %s\n", jwt);
    free(jwt);
    CHECK(same);
}

TEST(jwt_encoding_every_length)
{
    /* sign.c encodes with its own base64url; libsodium's (hk_crypto_b64url)
     * is the reference here. Names of 1..9 bytes put the claims' length on
     * every remainder of 3, and the token is rebuilt from its parts. */
    CHECK_INT(hk_crypto_init(), 0);
    hk_sign_key_t key;
    CHECK_INT(hk_sign_key(VECTOR_SECRET, &key), 0);
    char name[16] = "";
    for (int n = 1; n <= 9; n++) {
        name[n - 1] = (char)('a' + n);
        name[n] = '\0';
        hk_sign_claims_t c = {.webhook_name = name, .url = "u", .event_id = "e", .iat = 7};
        char *jwt = NULL;
        CHECK_INT(hk_sign_jwt(&key, &c, (const uint8_t *)"x", 1, &jwt), 0);
        uint8_t digest[32], mac[32];
        char d64[64], claims[512], want[1024], c64[700], m64[64];
        hk_crypto_sha256((const uint8_t *)"x", 1, digest);
        hk_crypto_b64url(digest, sizeof digest, d64);
        snprintf(claims, sizeof claims,
                 "{\"iss\":\"hookd\",\"sub\":\"%s\",\"aud\":\"u\",\"iat\":7,\"exp\":307,"
                 "\"jti\":\"e\",\"body_sha256\":\"%s\"}",
                 name, d64);
        hk_crypto_b64url((const uint8_t *)claims, strlen(claims), c64);
        snprintf(want, sizeof want, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.%s", c64);
        const uint8_t *parts[] = {(const uint8_t *)want};
        size_t lens[] = {strlen(want)};
        hk_crypto_hmac_sha256(key.bytes, key.len, parts, lens, 1, mac);
        hk_crypto_b64url(mac, sizeof mac, m64);
        strcat(want, ".");
        strcat(want, m64);
        int same = strcmp(jwt, want) == 0;
        if (!same) fprintf(stderr, "  n=%d got %s\n  want %s\n", n, jwt, want);
        free(jwt);
        CHECK(same);
    }
    /* The signature's standard alphabet with padding, against libsodium's. */
    for (int n = 0; n < 40; n++) {
        char body[64], sig[HK_SIGN_SIGNATURE_MAX], want[64];
        memset(body, 0xff - n, sizeof body);
        hk_sign_signature(&key, "id", n, (const uint8_t *)body, (size_t)n, sig);
        char ts[16];
        snprintf(ts, sizeof ts, "%d", n);
        const uint8_t *parts[] = {(const uint8_t *)"id.", (const uint8_t *)ts, (const uint8_t *)".",
                                  (const uint8_t *)body};
        size_t lens[] = {3, strlen(ts), 1, (size_t)n};
        uint8_t mac[32];
        hk_crypto_hmac_sha256(key.bytes, key.len, parts, lens, 4, mac);
        memcpy(want, "v1,", 3);
        hk_crypto_b64(mac, sizeof mac, want + 3);
        CHECK_STR(sig, want);
    }
    hk_sign_key_wipe(&key);
}

TEST(attempt_headers)
{
    CHECK_INT(hk_crypto_init(), 0);
    hk_sign_key_t key;
    CHECK_INT(hk_sign_key(VECTOR_SECRET, &key), 0);
    /* iat in the claims is ignored: the attempt's own time is used for both
     * the signature timestamp and the token. */
    hk_sign_claims_t claims = {.webhook_name = NAME, .url = URL, .event_id = "evt_2Xq9", .iat = 42};
    hk_sign_attempt_t a;
    CHECK_INT(hk_sign_attempt(&key, &claims, 1614265330, (const uint8_t *)VECTOR_BODY,
                              strlen(VECTOR_BODY), &a),
              0);
    CHECK_STR(a.timestamp, "1614265330");
    char sig[HK_SIGN_SIGNATURE_MAX];
    hk_sign_signature(&key, "evt_2Xq9", 1614265330, (const uint8_t *)VECTOR_BODY,
                      strlen(VECTOR_BODY), sig);
    CHECK_STR(a.signature, sig);
    int same = strcmp(a.authorization, "Bearer " GOLDEN_JWT) == 0;
    hk_sign_attempt_free(&a);
    CHECK(same);
    CHECK(a.authorization == NULL);
    hk_sign_key_wipe(&key);
}

TEST(rfc3339)
{
    /* Expected values from python's datetime (UTC), milliseconds kept. */
    char out[HK_SIGN_RFC3339_MAX];
    CHECK_INT(hk_sign_rfc3339(1614265330123LL, out), 0);
    CHECK_STR(out, "2021-02-25T15:02:10.123Z");
    CHECK_INT(hk_sign_rfc3339(0, out), 0);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    CHECK_INT(hk_sign_rfc3339(-1, out), 0);
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
    CHECK_INT(hk_sign_rfc3339(951782400000LL, out), 0);
    CHECK_STR(out, "2000-02-29T00:00:00.000Z");
    CHECK_INT(hk_sign_rfc3339(253402300799999LL, out), 0);
    CHECK_STR(out, "9999-12-31T23:59:59.999Z");
    CHECK_INT(hk_sign_rfc3339(-62167219200000LL, out), 0); /* year 0 is a leap year */
    CHECK_STR(out, "0000-01-01T00:00:00.000Z");
    CHECK_INT(hk_sign_rfc3339(253402300800000LL, out), HK_EINVAL);
    CHECK_INT(hk_sign_rfc3339(-62167219200001LL, out), HK_EINVAL);
}

TEST(envelope_golden)
{
    const char *payload = "{\"account\":{\"id\":7,\"name\":\"Acme\"},\"tags\":[\"a\",\"b\"]}";
    hk_sign_envelope_t ev = {.event_id = "evt_01",
                             .trigger_action = "AccountUpdated",
                             .application = "enterprise",
                             .origin = hk_sign_origin_name(1),
                             .time_ms = 1614265330123LL,
                             .payload = (const uint8_t *)payload,
                             .payload_len = strlen(payload)};
    char *out = NULL;
    size_t len = 0;
    CHECK_INT(hk_sign_envelope(&ev, &out, &len), 0);
    const char *want = "{\"id\":\"evt_01\",\"type\":\"AccountUpdated\","
                       "\"application\":\"enterprise\",\"origin\":\"user\","
                       "\"timestamp\":\"2021-02-25T15:02:10.123Z\","
                       "\"data\":{\"account\":{\"id\":7,\"name\":\"Acme\"},"
                       "\"tags\":[\"a\",\"b\"]}}";
    int same = strcmp(out, want) == 0 && len == strlen(want);
    if (!same) fprintf(stderr, "  got %s\n", out);
    free(out);
    CHECK(same);

    /* Strings are escaped; the payload goes in byte for byte; empty is null. */
    ev.event_id = "a\"b";
    ev.origin = hk_sign_origin_name(2);
    ev.payload = (const uint8_t *)" [1, 2] ";
    ev.payload_len = 8;
    ev.time_ms = 0;
    CHECK_INT(hk_sign_envelope(&ev, &out, &len), 0);
    want = "{\"id\":\"a\\\"b\",\"type\":\"AccountUpdated\",\"application\":\"enterprise\","
           "\"origin\":\"api\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"data\": [1, 2] }";
    same = strcmp(out, want) == 0;
    if (!same) fprintf(stderr, "  got %s\n", out);
    free(out);
    CHECK(same);

    ev.payload_len = 0;
    CHECK_INT(hk_sign_envelope(&ev, &out, &len), 0);
    same = len > 12 && strcmp(out + len - 12, "\"data\":null}") == 0;
    free(out);
    CHECK(same);

    ev.time_ms = 253402300800000LL;
    CHECK_INT(hk_sign_envelope(&ev, &out, &len), HK_EINVAL);
}

TEST(origin_names)
{
    CHECK_STR(hk_sign_origin_name(0), "user");
    CHECK_STR(hk_sign_origin_name(1), "user");
    CHECK_STR(hk_sign_origin_name(2), "api");
    CHECK(hk_sign_origin_name(3) == NULL);
}
