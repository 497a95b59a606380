/* test_crypto.c -- golden vectors and refusals for core/crypto */
#define _GNU_SOURCE /* memmem */
#include "core/crypto.h"
#include "core/error.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>

static void hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static void hmac_one(const uint8_t *key, size_t keylen, const char *msg, char out[65])
{
    const uint8_t *parts[] = {(const uint8_t *)msg};
    size_t lens[] = {strlen(msg)};
    uint8_t mac[32];
    hk_crypto_hmac_sha256(key, keylen, parts, lens, 1, mac);
    hex(mac, 32, out);
}

TEST(init)
{
    CHECK_INT(hk_crypto_init(), 0);
    CHECK_INT(hk_crypto_init(), 0); /* idempotent */
}

/* RFC 4231 test cases 1, 2 and 6 (key longer than the block size). */
TEST(hmac_rfc4231)
{
    char got[65];
    CHECK_INT(hk_crypto_init(), 0);

    uint8_t k1[20];
    memset(k1, 0x0b, sizeof k1);
    hmac_one(k1, sizeof k1, "Hi There", got);
    CHECK_STR(got, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    hmac_one((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", got);
    CHECK_STR(got, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    uint8_t k6[131];
    memset(k6, 0xaa, sizeof k6);
    hmac_one(k6, sizeof k6, "Test Using Larger Than Block-Size Key - Hash Key First", got);
    CHECK_STR(got, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The MAC of parts is the MAC of their concatenation, however they are cut. */
TEST(hmac_parts)
{
    CHECK_INT(hk_crypto_init(), 0);
    const uint8_t *parts[] = {(const uint8_t *)"what do", (const uint8_t *)"",
                              (const uint8_t *)" ya want", (const uint8_t *)" for nothing?"};
    size_t lens[] = {7, 0, 8, 13};
    uint8_t mac[32];
    char got[65];
    hk_crypto_hmac_sha256((const uint8_t *)"Jefe", 4, parts, lens, 4, mac);
    hex(mac, 32, got);
    CHECK_STR(got, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(sha256)
{
    uint8_t d[32];
    char got[65];
    CHECK_INT(hk_crypto_init(), 0);
    hk_crypto_sha256((const uint8_t *)"abc", 3, d);
    hex(d, 32, got);
    CHECK_STR(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hk_crypto_sha256((const uint8_t *)"", 0, d);
    hex(d, 32, got);
    CHECK_STR(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* RFC 4648 section 10, plus bytes whose encodings differ between the variants. */
TEST(base64)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[64];
    CHECK_INT(hk_crypto_init(), 0);
    for (int i = 0; i < 7; i++) {
        size_t len = strlen(plain[i]);
        CHECK(hk_crypto_b64_len(len) > strlen(std[i]));
        CHECK_INT(hk_crypto_b64((const uint8_t *)plain[i], len, out), strlen(std[i]));
        CHECK_STR(out, std[i]);
        CHECK_INT(hk_crypto_b64url((const uint8_t *)plain[i], len, out), strlen(url[i]));
        CHECK_STR(out, url[i]);
    }
    static const uint8_t odd[] = {0xfb, 0xef, 0xbe, 0xff, 0xff};
    hk_crypto_b64(odd, sizeof odd, out);
    CHECK_STR(out, "++++//8=");
    hk_crypto_b64url(odd, sizeof odd, out);
    CHECK_STR(out, "----__8");
}

TEST(unbase64)
{
    uint8_t buf[16];
    size_t n = 99;
    CHECK_INT(hk_crypto_init(), 0);
    CHECK_INT(hk_crypto_unb64("Zm9vYmE=", 8, buf, sizeof buf, &n), 0);
    CHECK_INT(n, 5);
    CHECK(memcmp(buf, "fooba", 5) == 0);
    CHECK_INT(hk_crypto_unb64("++++//8=", 8, buf, sizeof buf, &n), 0);
    CHECK_INT(n, 5);
    CHECK(buf[0] == 0xfb && buf[4] == 0xff);
    CHECK_INT(hk_crypto_unb64("", 0, buf, sizeof buf, &n), 0);
    CHECK_INT(n, 0);
    /* Only the length given counts: trailing text past inlen is not read. */
    CHECK_INT(hk_crypto_unb64("Zm9vXXX", 4, buf, sizeof buf, &n), 0);
    CHECK_INT(n, 3);

    CHECK_INT(hk_crypto_unb64("Zm9vYmE", 7, buf, sizeof buf, &n), HK_EINVAL);   /* no padding */
    CHECK_INT(hk_crypto_unb64("----__8=", 8, buf, sizeof buf, &n), HK_EINVAL);  /* url alphabet */
    CHECK_INT(hk_crypto_unb64("Zm9v YmE=", 9, buf, sizeof buf, &n), HK_EINVAL); /* space */
    CHECK_INT(hk_crypto_unb64("Zh==", 4, buf, sizeof buf, &n), HK_EINVAL);      /* stray bits */
    CHECK_INT(hk_crypto_unb64("Zm9vYmFy", 8, buf, 5, &n), HK_EINVAL);           /* over cap */
}

/* reference/standard-webhooks-vector.txt, computed the way the signer does. */
TEST(standard_webhooks_vector)
{
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *id = "msg_p5jXN8AQM9LWM0D4loKWxJek", *ts = "1614265330";
    const char *body = "{\"test\": 2432232314}";
    uint8_t key[HK_SECRET_KEY_MAX], mac[32];
    size_t keylen = 0;
    char sig[64];

    CHECK_INT(hk_crypto_init(), 0);
    CHECK_INT(hk_crypto_secret_check(secret, NULL), 0);
    CHECK_INT(hk_crypto_secret_key(secret, key, &keylen), 0);
    CHECK_INT(keylen, 24);
    const uint8_t *parts[] = {(const uint8_t *)id, (const uint8_t *)".", (const uint8_t *)ts,
                              (const uint8_t *)".", (const uint8_t *)body};
    size_t lens[] = {strlen(id), 1, strlen(ts), 1, strlen(body)};
    hk_crypto_hmac_sha256(key, keylen, parts, lens, 5, mac);
    CHECK_INT(hk_crypto_b64(mac, sizeof mac, sig), 44);
    CHECK_STR(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(secret_key_raw)
{
    uint8_t key[HK_SECRET_KEY_MAX];
    size_t keylen = 0;
    CHECK_INT(hk_crypto_init(), 0);
    /* Without the prefix the secret's own bytes are the key. */
    CHECK_INT(hk_crypto_secret_key("my-own-secret-0123456789", key, &keylen), 0);
    CHECK_INT(keylen, 24);
    CHECK(memcmp(key, "my-own-secret-0123456789", 24) == 0);
    CHECK_INT(hk_crypto_secret_key("", key, &keylen), HK_EINVAL);
    CHECK_INT(hk_crypto_secret_key("whsec_!!!!", key, &keylen), HK_EINVAL);
}

TEST(secret_generate)
{
    char a[HK_SECRET_MAX], b[HK_SECRET_MAX];
    uint8_t key[HK_SECRET_KEY_MAX];
    size_t keylen = 0;
    CHECK_INT(hk_crypto_init(), 0);
    hk_crypto_secret_generate(a);
    hk_crypto_secret_generate(b);
    CHECK_INT(strlen(a), 6 + 44);
    CHECK(strncmp(a, "whsec_", 6) == 0);
    CHECK(strcmp(a, b) != 0);
    CHECK_INT(hk_crypto_secret_check(a, NULL), 0);
    CHECK_INT(hk_crypto_secret_key(a, key, &keylen), 0);
    CHECK_INT(keylen, 32);
}

TEST(secret_check)
{
    const char *why = NULL;
    char s[300];
    CHECK_INT(hk_crypto_init(), 0);

    /* accepted */
    CHECK_INT(hk_crypto_secret_check("0123456789abcdef", &why), 0); /* 16: the least */
    CHECK(why == NULL);
    CHECK_INT(hk_crypto_secret_check("with spaces and ~!@#$%^&*() too", &why), 0);
    memset(s, 'x', 256);
    s[256] = '\0';
    CHECK_INT(hk_crypto_secret_check(s, &why), 0); /* 256: the most */
    /* whsec_ + 24 and + 64 bytes */
    CHECK_INT(hk_crypto_secret_check("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &why), 0);
    uint8_t raw[64];
    memset(raw, 0x5a, sizeof raw);
    strcpy(s, "whsec_");
    hk_crypto_b64(raw, 64, s + 6);
    CHECK_INT(hk_crypto_secret_check(s, &why), 0);

    /* refused, each with a reason */
    CHECK_INT(hk_crypto_secret_check(NULL, &why), HK_EINVAL);
    CHECK(why != NULL);
    CHECK_INT(hk_crypto_secret_check("", &why), HK_EINVAL);
    CHECK_INT(hk_crypto_secret_check("0123456789abcde", &why), HK_EINVAL); /* 15 */
    CHECK(strstr(why, "16-256") != NULL);
    memset(s, 'x', 257);
    s[257] = '\0';
    CHECK_INT(hk_crypto_secret_check(s, &why), HK_EINVAL);
    CHECK_INT(hk_crypto_secret_check("0123456789abcdef\n", &why), HK_EINVAL);
    CHECK(strstr(why, "printable") != NULL);
    CHECK_INT(hk_crypto_secret_check("0123456789abcdef\x7f", &why), HK_EINVAL);
    CHECK_INT(hk_crypto_secret_check("0123456789abcd\xc3\xa9", &why), HK_EINVAL); /* UTF-8 */
    /* whsec_ that is not base64, or decodes to too few / too many bytes */
    CHECK_INT(hk_crypto_secret_check("whsec_not base64 at all!!", &why), HK_EINVAL);
    CHECK(strstr(why, "base64") != NULL);
    CHECK_INT(hk_crypto_secret_check("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", &why), HK_EINVAL);
    strcpy(s, "whsec_");
    hk_crypto_b64(raw, 23, s + 6);
    CHECK_INT(hk_crypto_secret_check(s, &why), HK_EINVAL);
    CHECK(strstr(why, "24-64") != NULL);
    hk_crypto_b64(raw, 65, s + 6);
    CHECK_INT(hk_crypto_secret_check(s, &why), HK_EINVAL);
    CHECK(strstr(why, "24-64") != NULL);
}

TEST(equal)
{
    CHECK(hk_crypto_equal("abcdef", "abcdef", 6));
    CHECK(!hk_crypto_equal("abcdef", "abcdeg", 6));
    CHECK(!hk_crypto_equal("xbcdef", "abcdef", 6));
    CHECK(hk_crypto_equal("a", "b", 0));
}

TEST(seal_open)
{
    uint8_t key[HK_SEAL_KEY_BYTES], other[HK_SEAL_KEY_BYTES];
    const char *msg = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    size_t len = strlen(msg);
    uint8_t box[128], box2[128], plain[128];

    CHECK_INT(hk_crypto_init(), 0);
    hk_crypto_random(key, sizeof key);
    hk_crypto_random(other, sizeof other);
    hk_crypto_seal(key, (const uint8_t *)msg, len, box);
    CHECK(memmem(box, len + HK_SEAL_OVERHEAD, msg, len) == NULL);
    CHECK_INT(hk_crypto_open(key, box, len + HK_SEAL_OVERHEAD, plain), 0);
    CHECK(memcmp(plain, msg, len) == 0);

    /* A fresh nonce each time: sealing twice gives different boxes. */
    hk_crypto_seal(key, (const uint8_t *)msg, len, box2);
    CHECK(memcmp(box, box2, len + HK_SEAL_OVERHEAD) != 0);

    /* Empty plaintext still authenticates. */
    hk_crypto_seal(key, NULL, 0, box2);
    CHECK_INT(hk_crypto_open(key, box2, HK_SEAL_OVERHEAD, plain), 0);

    CHECK_INT(hk_crypto_open(other, box, len + HK_SEAL_OVERHEAD, plain), HK_ECORRUPT);
    CHECK_INT(hk_crypto_open(key, box, len + HK_SEAL_OVERHEAD - 1, plain), HK_ECORRUPT);
    CHECK_INT(hk_crypto_open(key, box, HK_SEAL_OVERHEAD - 1, plain), HK_ECORRUPT);
    for (size_t i = 0; i < len + HK_SEAL_OVERHEAD; i += 7) { /* nonce, MAC and body */
        box[i] ^= 0x01;
        CHECK_INT(hk_crypto_open(key, box, len + HK_SEAL_OVERHEAD, plain), HK_ECORRUPT);
        box[i] ^= 0x01;
    }
    CHECK_INT(hk_crypto_open(key, box, len + HK_SEAL_OVERHEAD, plain), 0);
}

TEST(random)
{
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    CHECK_INT(hk_crypto_init(), 0);
    hk_crypto_random(a, sizeof a);
    hk_crypto_random(b, sizeof b);
    CHECK(memcmp(a, zero, 32) != 0);
    CHECK(memcmp(a, b, 32) != 0);
    int seen[5] = {0};
    for (int i = 0; i < 1000; i++) {
        uint32_t r = hk_crypto_uniform(5);
        CHECK(r < 5);
        seen[r]++;
    }
    for (int i = 0; i < 5; i++)
        CHECK(seen[i] > 100);
    CHECK_INT(hk_crypto_uniform(1), 0);
    CHECK_INT(hk_crypto_uniform(0), 0);
}

TEST(wipe)
{
    uint8_t buf[16];
    memset(buf, 0xee, sizeof buf);
    hk_crypto_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        CHECK_INT(buf[i], 0);
}
