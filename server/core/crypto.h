/* crypto.h -- libsodium made hookd-shaped: secrets, MACs, hashes, base64, sealing */
#ifndef HK_CRYPTO_H
#define HK_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define HK_SECRET_PREFIX "whsec_"
#define HK_SECRET_MAX 320     /* longest secret key text, with its NUL */
#define HK_SECRET_KEY_MAX 256 /* longest HMAC key in bytes */
#define HK_SEAL_OVERHEAD 40   /* nonce + MAC added by hk_crypto_seal */
#define HK_SEAL_KEY_BYTES 32

/* Initializes libsodium; call once before anything else here. 0 or HK_EIO. */
int hk_crypto_init(void);

/* Writes a new secret key "whsec_" + base64(32 random bytes) into out
 * (HK_SECRET_MAX bytes). */
void hk_crypto_secret_generate(char *out);

/* Checks a caller-chosen secret key: 16-256 printable ASCII chars; a
 * "whsec_" value must be valid standard base64 decoding to 24-64 bytes.
 * Returns 0 or HK_EINVAL with the reason in *why (a static string). */
int hk_crypto_secret_check(const char *secret, const char **why);

/* The HMAC key of a secret: the base64-decoded part of a "whsec_" secret,
 * else the secret's bytes. key has HK_SECRET_KEY_MAX bytes; *keylen set.
 * Returns 0 or HK_EINVAL. */
int hk_crypto_secret_key(const char *secret, uint8_t *key, size_t *keylen);

/* HMAC-SHA256 of the concatenation of n parts. */
void hk_crypto_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *const *parts,
                           const size_t *lens, size_t n, uint8_t mac[32]);
void hk_crypto_sha256(const uint8_t *data, size_t len, uint8_t digest[32]);

/* Base64 (standard, padded) and base64url (no padding). out must hold
 * hk_crypto_b64_len(len) bytes; returns the string length written (NUL added). */
size_t hk_crypto_b64_len(size_t len);
size_t hk_crypto_b64(const uint8_t *in, size_t len, char *out);
size_t hk_crypto_b64url(const uint8_t *in, size_t len, char *out);
/* Decodes standard base64 into out (cap bytes). 0 or HK_EINVAL. */
int hk_crypto_unb64(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen);
/* Decodes base64 in any of its four forms, as proto3 JSON accepts bytes: a
 * '-' or '_' means the URL-safe alphabet, a trailing '=' the padded form.
 * Otherwise as strict as hk_crypto_unb64 (one alphabet, canonical trailing
 * bits, nothing ignored). out (cap bytes) needs at most inlen / 4 * 3 + 2.
 * 0 or HK_EINVAL. */
int hk_crypto_unb64_any(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen);

/* Constant-time comparison: 1 when equal. */
int hk_crypto_equal(const void *a, const void *b, size_t len);

/* Zeroes buf in a way the compiler may not optimize away (for keys and
 * secrets about to be freed). */
void hk_crypto_wipe(void *buf, size_t len);

/* secretbox: out gets len + HK_SEAL_OVERHEAD bytes (random nonce || box). */
void hk_crypto_seal(const uint8_t key[HK_SEAL_KEY_BYTES], const uint8_t *in, size_t len,
                    uint8_t *out);
/* Opens what hk_crypto_seal made; out gets len - HK_SEAL_OVERHEAD bytes.
 * Returns 0 or HK_ECORRUPT (forged, truncated or wrong key). */
int hk_crypto_open(const uint8_t key[HK_SEAL_KEY_BYTES], const uint8_t *in, size_t len,
                   uint8_t *out);

/* Fills buf with random bytes; a uniform random number below n. */
void hk_crypto_random(void *buf, size_t len);
uint32_t hk_crypto_uniform(uint32_t n);

#endif
