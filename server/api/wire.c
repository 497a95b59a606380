/* wire.c -- checks on a request's wire bytes that protobuf-c's unpack cannot make */
#include "api/wire.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"

/* A varint at *p (below end); 0 when cut short or longer than 10 bytes. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static const char *bad_text(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (s[i] == 0) return "contains a NUL byte";
        uint32_t cp;
        size_t k = hk_utf8_decode(s + i, n - i, &cp);
        if (k == 0) return "is not valid UTF-8";
        i += k;
    }
    return NULL;
}

/* 1 when a string breaks the rule (err written), 0 otherwise (malformed input too). */
static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
                const char *prefix, int depth, char *err, size_t errlen)
{
    while (p < end) {
        uint64_t key, n;
        if (!read_varint(&p, end, &key)) return 0;
        unsigned wire = (unsigned)(key & 7);
        uint64_t number = key >> 3;
        switch (wire) {
        case 0:
            if (!read_varint(&p, end, &n)) return 0;
            continue;
        case 1:
            if (end - p < 8) return 0;
            p += 8;
            continue;
        case 5:
            if (end - p < 4) return 0;
            p += 4;
            continue;
        case 2: break;
        default: /* groups and garbage: unpack's to refuse */ return 0;
        }
        if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p)) return 0;
        const uint8_t *v = p;
        p += n;
        const ProtobufCFieldDescriptor *f =
            number <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number)
                                 : NULL;
        if (!f) continue;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *why = bad_text(v, (size_t)n);
            if (why) {
                snprintf(err, errlen, "%s%s: %s", prefix, f->name, why);
                return 1;
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth < HK_WIRE_DEPTH_MAX) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s%s.", prefix, f->name);
            if (walk(f->descriptor, v, v + n, sub, depth + 1, err, errlen)) return 1;
        }
    }
    return 0;
}

int hk_wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                          char *err, size_t errlen)
{
    char scratch[1];
    if (!data || len == 0) return 0;
    if (!err || errlen == 0) err = scratch, errlen = sizeof scratch;
    if (walk(desc, data, data + len, "", 0, err, errlen)) return HK_EINVAL;
    return 0;
}
