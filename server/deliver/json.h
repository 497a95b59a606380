/* json.h -- the little JSON hookd writes and checks: quoted strings, validation */
#ifndef HK_JSON_H
#define HK_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Bytes hk_json_quote may write for len input bytes, NUL included: every
 * input byte becomes at most 6 ("\u001f"), plus the two quotes. */
#define HK_JSON_QUOTED_MAX(len) (6 * (size_t)(len) + 3)

/* Nesting deeper than this is refused by hk_json_check: a receiver's parser
 * may recurse. */
#define HK_JSON_MAX_DEPTH 128

/* Writes s (len bytes, NULs allowed) as a JSON string literal with its quotes
 * into out, which must hold HK_JSON_QUOTED_MAX(len) bytes; NUL-terminates and
 * returns the length written. Escapes '"', '\\', control characters (\b \f
 * \n \r \t, others \u00XX with lowercase hex), DEL, and U+2028/U+2029 (legal
 * in JSON, but they end a line in JavaScript). Other valid UTF-8 is copied as
 * it is; each byte of an invalid UTF-8 sequence (bad lead byte, truncated,
 * overlong, surrogate, above U+10FFFF) becomes \ufffd, so the output is
 * always valid JSON whatever the input. */
size_t hk_json_quote(const char *s, size_t len, char *out);

/* 0 when text is exactly one JSON value (RFC 8259: object, array, string,
 * number, true, false, null) with optional surrounding whitespace, in valid
 * UTF-8, nested at most HK_JSON_MAX_DEPTH deep; else HK_EINVAL (empty text
 * included), and why (if not NULL) says what is wrong and where, as
 * jansson, which parses it, put it. Duplicate object keys are not looked
 * for; a number too large for a double is refused. */
int hk_json_check(const uint8_t *text, size_t len, char *why, size_t why_len);

#endif
