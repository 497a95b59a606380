/* utf8.h -- one strict UTF-8 decoder for every check of text hookd is given */
#ifndef HK_UTF8_H
#define HK_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes available), with
 * its code point in *cp; 0 when the bytes there are not valid UTF-8 (bad lead
 * or continuation byte, overlong form, surrogate, above U+10FFFF, cut short).
 * On a NUL-terminated string n may be the string's remaining length. */
size_t hk_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

#endif
