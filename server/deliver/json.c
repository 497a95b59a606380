/* json.c -- the little JSON hookd writes and checks: quoted strings, validation */
#include "deliver/json.h"
#include "core/error.h"
#include "core/utf8.h"

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

/* --- validation: a recursive descent over RFC 8259's grammar ------------- */

typedef struct {
    const uint8_t *p, *end;
} cursor_t;

static void skip_ws(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int is_digit(const cursor_t *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static int is_hex(uint8_t x)
{
    return (x >= '0' && x <= '9') || (x >= 'a' && x <= 'f') || (x >= 'A' && x <= 'F');
}

static int check_string(cursor_t *c)
{
    c->p++; /* the opening quote */
    while (c->p < c->end) {
        uint8_t x = *c->p;
        if (x == '"') {
            c->p++;
            return 0;
        }
        if (x < 0x20) return HK_EINVAL;
        if (x == '\\') {
            if (c->end - c->p < 2) return HK_EINVAL;
            uint8_t e = c->p[1];
            if (e == 'u') {
                if (c->end - c->p < 6) return HK_EINVAL;
                for (int i = 2; i < 6; i++)
                    if (!is_hex(c->p[i])) return HK_EINVAL;
                c->p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                c->p += 2;
            } else {
                return HK_EINVAL;
            }
            continue;
        }
        uint32_t cp;
        size_t n = hk_utf8_decode(c->p, (size_t)(c->end - c->p), &cp);
        if (n == 0) return HK_EINVAL;
        c->p += n;
    }
    return HK_EINVAL; /* unterminated */
}

static int check_number(cursor_t *c)
{
    if (*c->p == '-') c->p++;
    if (!is_digit(c)) return HK_EINVAL;
    if (*c->p == '0')
        c->p++; /* no leading zeros */
    else
        while (is_digit(c))
            c->p++;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!is_digit(c)) return HK_EINVAL;
        while (is_digit(c))
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (!is_digit(c)) return HK_EINVAL;
        while (is_digit(c))
            c->p++;
    }
    return 0;
}

static int check_literal(cursor_t *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n) return HK_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (c->p[i] != (uint8_t)word[i]) return HK_EINVAL;
    c->p += n;
    return 0;
}

static int check_value(cursor_t *c, unsigned depth);

/* An object or array: the opening bracket is at c->p. */
static int check_container(cursor_t *c, unsigned depth)
{
    uint8_t close = *c->p == '{' ? '}' : ']';
    int object = close == '}';
    if (depth >= HK_JSON_MAX_DEPTH) return HK_EINVAL;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (object) {
            skip_ws(c);
            if (c->p >= c->end || *c->p != '"' || check_string(c) != 0) return HK_EINVAL;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') return HK_EINVAL;
            c->p++;
        }
        if (check_value(c, depth + 1) != 0) return HK_EINVAL;
        skip_ws(c);
        if (c->p >= c->end) return HK_EINVAL;
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p != ',') return HK_EINVAL;
        c->p++;
    }
}

static int check_value(cursor_t *c, unsigned depth)
{
    skip_ws(c);
    if (c->p >= c->end) return HK_EINVAL;
    switch (*c->p) {
    case '{':
    case '[': return check_container(c, depth);
    case '"': return check_string(c);
    case 't': return check_literal(c, "true", 4);
    case 'f': return check_literal(c, "false", 5);
    case 'n': return check_literal(c, "null", 4);
    default: return check_number(c);
    }
}

int hk_json_check(const uint8_t *text, size_t len)
{
    if (!text) return HK_EINVAL;
    cursor_t c = {text, text + len};
    if (check_value(&c, 0) != 0) return HK_EINVAL;
    skip_ws(&c);
    return c.p == c.end ? 0 : HK_EINVAL;
}
