/* pbjson.c -- TEMPORARY stub until the real JSON mapping lands: JSON messages are refused,
 * error bodies are real */
#include "api/pbjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int hk_pbjson_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *json, size_t len,
                     ProtobufCMessage **out, char *err, size_t errlen)
{
    (void)desc, (void)json, (void)len;
    *out = NULL;
    snprintf(err, errlen, "json not built");
    return HK_EINVAL;
}

int hk_pbjson_encode(const ProtobufCMessage *msg, char **out, size_t *len)
{
    (void)msg;
    *out = NULL;
    *len = 0;
    return HK_EINVAL;
}

/* Appends s as a JSON string body (no quotes): '"', '\\' and control
 * characters escaped, other bytes (UTF-8) as they are. */
static char *put_escaped(char *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w += 4;
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        } else {
            *w++ = (char)c;
        }
    }
    return w;
}

int hk_pbjson_error(const char *code, const char *message, char **out, size_t *len)
{
    size_t cap = 32 + 6 * strlen(code) + 6 * (message ? strlen(message) : 0);
    char *buf = malloc(cap), *w = buf;
    if (!buf) return HK_ENOMEM;
    w += sprintf(w, "{\"code\":\"");
    w = put_escaped(w, code);
    *w++ = '"';
    if (message && *message) {
        w += sprintf(w, ",\"message\":\"");
        w = put_escaped(w, message);
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    *out = buf;
    *len = (size_t)(w - buf);
    return 0;
}
