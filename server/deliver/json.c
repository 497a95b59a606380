/* json.c -- the little JSON hookd writes and checks: quoted strings, validation */
#include "deliver/json.h"
#include "core/error.h"
#include "core/utf8.h"

#include <jansson.h>
#include <stdio.h>

size_t hk_json_quote(const char *s, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    size_t j = 0;
    out[j++] = '"';
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = hk_utf8_decode(p + i, len - i, &cp);
        const char *esc = NULL;
        if (n == 0) {
            esc = "\\ufffd";
            n = 1;
        } else if (cp == '"') {
            esc = "\\\"";
        } else if (cp == '\\') {
            esc = "\\\\";
        } else if (cp == '\b') {
            esc = "\\b";
        } else if (cp == '\f') {
            esc = "\\f";
        } else if (cp == '\n') {
            esc = "\\n";
        } else if (cp == '\r') {
            esc = "\\r";
        } else if (cp == '\t') {
            esc = "\\t";
        } else if (cp < 0x20 || cp == 0x7f || cp == 0x2028 || cp == 0x2029) {
            out[j++] = '\\';
            out[j++] = 'u';
            out[j++] = hex[(cp >> 12) & 0xf];
            out[j++] = hex[(cp >> 8) & 0xf];
            out[j++] = hex[(cp >> 4) & 0xf];
            out[j++] = hex[cp & 0xf];
            i += n;
            continue;
        }
        if (esc) {
            while (*esc)
                out[j++] = *esc++;
        } else {
            for (size_t k = 0; k < n; k++)
                out[j++] = (char)p[i + k];
        }
        i += n;
    }
    out[j++] = '"';
    out[j] = '\0';
    return j;
}

/* --- validation: jansson parses, hookd bounds the depth -------------------- */

/* How deep v nests (a scalar is 0). jansson refuses text nested deeper
 * than its own limit (JSON_PARSER_MAX_DEPTH, 2048), so this recursion is
 * bounded, and it stops as soon as the limit is passed. */
static unsigned depth_of(const json_t *v, unsigned limit)
{
    unsigned deepest = 0;
    size_t i, n;
    if (limit == 0) return 1; /* over: no need to look further */
    if (json_is_array(v)) {
        n = json_array_size(v);
        for (i = 0; i < n && deepest < limit; i++) {
            unsigned d = depth_of(json_array_get(v, i), limit - 1);
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_object(v)) {
        for (void *it = json_object_iter((json_t *)v); it && deepest < limit;
             it = json_object_iter_next((json_t *)v, it)) {
            unsigned d = depth_of(json_object_iter_value(it), limit - 1);
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

int hk_json_check(const uint8_t *text, size_t len, char *why, size_t why_len)
{
    json_error_t e;
    if (why && why_len) *why = '\0';
    if (!text || !len) {
        if (why && why_len) snprintf(why, why_len, "empty text");
        return HK_EINVAL;
    }
    /* Any value, not only objects and arrays; \u0000 is valid JSON; an
     * integer too big for 64 bits is still a number (JSON has no limit). */
    json_t *v = json_loadb((const char *)text, len,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
    if (!v) {
        if (why && why_len)
            snprintf(why, why_len, "%s at line %d column %d", e.text, e.line, e.column);
        return HK_EINVAL;
    }
    unsigned depth = depth_of(v, HK_JSON_MAX_DEPTH);
    json_decref(v);
    if (depth > HK_JSON_MAX_DEPTH) {
        if (why && why_len) snprintf(why, why_len, "nested deeper than %d", HK_JSON_MAX_DEPTH);
        return HK_EINVAL;
    }
    return 0;
}
