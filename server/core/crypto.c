/* crypto.c -- libsodium made hookd-shaped: secrets, MACs, hashes, base64, sealing */
#include "core/crypto.h"
#include "core/error.h"

#include <sodium.h>
#include <string.h>

/* crypto.h promises these sizes without including sodium.h. */
_Static_assert(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES == HK_SEAL_OVERHEAD,
               "HK_SEAL_OVERHEAD is nonce + MAC");
_Static_assert(crypto_secretbox_KEYBYTES == HK_SEAL_KEY_BYTES, "secretbox key size");
_Static_assert(crypto_auth_hmacsha256_BYTES == 32 && crypto_hash_sha256_BYTES == 32,
               "SHA-256 sizes");

#define SECRET_RANDOM_BYTES 32
#define SECRET_MIN_CHARS 16
#define SECRET_MAX_CHARS 256
#define WHSEC_MIN_BYTES 24
#define WHSEC_MAX_BYTES 64
#define PREFIX_LEN (sizeof HK_SECRET_PREFIX - 1)

_Static_assert(PREFIX_LEN + sodium_base64_ENCODED_LEN(SECRET_RANDOM_BYTES,
                                                      sodium_base64_VARIANT_ORIGINAL) <=
                   HK_SECRET_MAX,
               "a generated secret fits HK_SECRET_MAX");
_Static_assert(SECRET_MAX_CHARS <= HK_SECRET_KEY_MAX, "a raw secret fits the key buffer");

int hk_crypto_init(void)
{
    /* 1 means "already initialized", which is fine: init is idempotent. */
    return sodium_init() < 0 ? HK_EIO : 0;
}

void hk_crypto_secret_generate(char *out)
{
    uint8_t raw[SECRET_RANDOM_BYTES];
    randombytes_buf(raw, sizeof raw);
    memcpy(out, HK_SECRET_PREFIX, PREFIX_LEN);
    sodium_bin2base64(out + PREFIX_LEN, HK_SECRET_MAX - PREFIX_LEN, raw, sizeof raw,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof raw);
}

/* Strict standard base64 (padded, canonical trailing bits, nothing ignored,
 * the whole input consumed): one text has exactly one meaning, so the key a
 * receiver derives is the key hookd signs with. */
static int unb64_strict(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
    const char *end = NULL;
    size_t n = 0;
    if (sodium_base642bin(out, cap, in, inlen, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != in + inlen)
        return HK_EINVAL;
    *outlen = n;
    return 0;
}

int hk_crypto_secret_check(const char *secret, const char **why)
{
    const char *reason = NULL;
    size_t len = secret ? strlen(secret) : 0;

    if (len < SECRET_MIN_CHARS || len > SECRET_MAX_CHARS) {
        reason = "secret_key must be 16-256 characters";
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)secret[i];
        /* Printable ASCII (space included): anything else would not survive
         * a config file, a shell or a receiver's environment variable intact. */
        if (c < 0x20 || c > 0x7e) {
            reason = "secret_key must be printable ASCII";
            goto out;
        }
    }
    if (strncmp(secret, HK_SECRET_PREFIX, PREFIX_LEN) == 0) {
        uint8_t key[HK_SECRET_KEY_MAX];
        size_t n = 0;
        if (unb64_strict(secret + PREFIX_LEN, len - PREFIX_LEN, key, sizeof key, &n) != 0)
            reason = "a whsec_ secret_key must be standard base64 after the prefix";
        else if (n < WHSEC_MIN_BYTES || n > WHSEC_MAX_BYTES)
            reason = "a whsec_ secret_key must decode to 24-64 bytes";
        sodium_memzero(key, sizeof key);
    }

out:
    if (why) *why = reason;
    return reason ? HK_EINVAL : 0;
}

int hk_crypto_secret_key(const char *secret, uint8_t *key, size_t *keylen)
{
    size_t len = secret ? strlen(secret) : 0;
    if (len == 0) return HK_EINVAL;
    if (strncmp(secret, HK_SECRET_PREFIX, PREFIX_LEN) == 0)
        return unb64_strict(secret + PREFIX_LEN, len - PREFIX_LEN, key, HK_SECRET_KEY_MAX, keylen);
    if (len > HK_SECRET_KEY_MAX) return HK_EINVAL;
    memcpy(key, secret, len);
    *keylen = len;
    return 0;
}

void hk_crypto_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *const *parts,
                           const size_t *lens, size_t n, uint8_t mac[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    for (size_t i = 0; i < n; i++)
        crypto_auth_hmacsha256_update(&st, parts[i], lens[i]);
    crypto_auth_hmacsha256_final(&st, mac);
    /* The state holds the key's inner and outer pads. */
    sodium_memzero(&st, sizeof st);
}

void hk_crypto_sha256(const uint8_t *data, size_t len, uint8_t digest[32])
{
    crypto_hash_sha256(digest, data, len);
}

size_t hk_crypto_b64_len(size_t len)
{
    /* The padded form is the longer one, so it bounds both variants. */
    return sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
}

size_t hk_crypto_b64(const uint8_t *in, size_t len, char *out)
{
    sodium_bin2base64(out, hk_crypto_b64_len(len), in, len, sodium_base64_VARIANT_ORIGINAL);
    return strlen(out);
}

size_t hk_crypto_b64url(const uint8_t *in, size_t len, char *out)
{
    sodium_bin2base64(out, hk_crypto_b64_len(len), in, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

int hk_crypto_unb64(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
    return unb64_strict(in, inlen, out, cap, outlen);
}

int hk_crypto_unb64_any(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
    int url = memchr(in, '-', inlen) != NULL || memchr(in, '_', inlen) != NULL;
    int padded = inlen > 0 && in[inlen - 1] == '=';
    int variant =
        url ? (padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING)
            : (padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    const char *end = NULL;
    size_t n = 0;
    if (sodium_base642bin(out, cap, in, inlen, NULL, &n, &end, variant) != 0 || end != in + inlen)
        return HK_EINVAL;
    *outlen = n;
    return 0;
}

int hk_crypto_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void hk_crypto_wipe(void *buf, size_t len)
{
    sodium_memzero(buf, len);
}

void hk_crypto_seal(const uint8_t key[HK_SEAL_KEY_BYTES], const uint8_t *in, size_t len,
                    uint8_t *out)
{
    /* A random 192-bit nonce never repeats in practice, so one key can seal
     * every secret the store will ever hold without a nonce counter. */
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, in, len, out, key);
}

int hk_crypto_open(const uint8_t key[HK_SEAL_KEY_BYTES], const uint8_t *in, size_t len,
                   uint8_t *out)
{
    if (len < HK_SEAL_OVERHEAD) return HK_ECORRUPT;
    if (crypto_secretbox_open_easy(out, in + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, in, key) != 0)
        return HK_ECORRUPT;
    return 0;
}

void hk_crypto_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

uint32_t hk_crypto_uniform(uint32_t n)
{
    return n ? randombytes_uniform(n) : 0;
}
