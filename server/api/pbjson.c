/* pbjson.c -- proto3 JSON <-> protobuf-c messages: the one module that uses jansson */
#include "api/pbjson.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/utf8.h"

/* Longest user-given text (an unknown key or enum name) quoted in an error. */
#define QUOTE_MAX 64

typedef struct {
    char path[256]; /* the field being decoded: "webhooks[1].trigger_action" */
    size_t pathlen;
    char *err;
    size_t errlen;
} ctx_t;

static size_t path_push(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends to the path; returns the length to go back to with path_pop. */
static size_t path_push(ctx_t *c, const char *fmt, ...)
{
    size_t saved = c->pathlen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->path + c->pathlen, sizeof c->path - c->pathlen, fmt, ap);
    va_end(ap);
    if (n > 0) c->pathlen += (size_t)n;
    if (c->pathlen >= sizeof c->path) c->pathlen = sizeof c->path - 1;
    return saved;
}

static void path_pop(ctx_t *c, size_t saved)
{
    c->pathlen = saved;
    c->path[saved] = '\0';
}

static int fail(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* HK_EINVAL with "<path>: <reason>" in the caller's err. */
static int fail(ctx_t *c, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return hk_error_invalid(c->err, c->errlen, "%s%s%s", c->path, c->pathlen ? ": " : "", reason);
}

static int utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    uint32_t cp;
    while (n > 0) {
        size_t k = hk_utf8_decode(p, n, &cp);
        if (k == 0) return 0;
        p += k;
        n -= k;
    }
    return 1;
}

/* How many bytes of s (valid UTF-8) fit in QUOTE_MAX without cutting a character. */
static int quote_len(const char *s)
{
    size_t n = strlen(s);
    if (n <= QUOTE_MAX) return (int)n;
    n = QUOTE_MAX;
    while (n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

/* 1 when key is the lowerCamelCase JSON name of the proto field name. */
static int json_name_equal(const char *name, const char *key)
{
    int upper = 0;
    for (; *name; name++) {
        if (*name == '_') {
            upper = 1;
            continue;
        }
        char ch = upper && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A') : *name;
        upper = 0;
        if (*key++ != ch) return 0;
    }
    return *key == '\0';
}

static char *json_name(const char *name)
{
    char *out = malloc(strlen(name) + 1), *o = out;
    if (!out) return NULL;
    int upper = 0;
    for (; *name; name++) {
        if (*name == '_') {
            upper = 1;
            continue;
        }
        *o++ = upper && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A') : *name;
        upper = 0;
    }
    *o = '\0';
    return out;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(desc, key);
    if (fd) return fd;
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (json_name_equal(desc->fields[i].name, key)) return &desc->fields[i];
    return NULL;
}

static int is_oneof(const ProtobufCFieldDescriptor *fd)
{
    return (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Why the codec cannot carry this field, or NULL when it can. */
static const char *unsupported(const ProtobufCFieldDescriptor *fd)
{
    if (fd->label == PROTOBUF_C_LABEL_REQUIRED ||
        (fd->label == PROTOBUF_C_LABEL_OPTIONAL && !is_oneof(fd)))
        return "proto2 field";
    if (fd->type == PROTOBUF_C_TYPE_FLOAT || fd->type == PROTOBUF_C_TYPE_DOUBLE)
        return "float or double field";
    if (fd->type != PROTOBUF_C_TYPE_MESSAGE) return NULL;
    const ProtobufCMessageDescriptor *sub = fd->descriptor;
    if (strncmp(sub->name, "google.protobuf.", 16) == 0) return "well-known type";
    /* protobuf-c keeps no map flag: a map is a repeated XEntry {key = 1; value = 2;}. */
    if (fd->label == PROTOBUF_C_LABEL_REPEATED && ends_with(sub->short_name, "Entry") &&
        sub->n_fields == 2 && strcmp(sub->fields[0].name, "key") == 0 && sub->fields[0].id == 1 &&
        strcmp(sub->fields[1].name, "value") == 0 && sub->fields[1].id == 2)
        return "map field";
    return NULL;
}

static size_t value_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 4;
    }
}

/* ---- decoding ---------------------------------------------------------- */

static int decode_message(ctx_t *c, const ProtobufCMessageDescriptor *desc, json_t *obj,
                          ProtobufCMessage *msg, int depth);

/* The proto type names used in range errors. */
static const char *int_type_name(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return "uint32";
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return "int64";
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return "uint64";
    case PROTOBUF_C_TYPE_ENUM: return "an enum";
    default: return "int32";
    }
}

/* An integer from a JSON number or a decimal string, within [-negmax, max]
 * (negmax is the magnitude of the least value), into *neg and *mag. */
static int decode_integer(ctx_t *c, json_t *v, const char *type, uint64_t negmax, uint64_t max,
                          int *neg, uint64_t *mag)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        *neg = x < 0;
        *mag = x < 0 ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
    } else if (json_is_real(v)) {
        /* Doubles hold every integer below 2^53 exactly; from there on a
         * number's text may not be the value it parsed to. */
        double d = json_real_value(v), lim = 9007199254740992.0;
        if (!(d > -lim && d < lim)) return fail(c, "not an exact integer (write it as a string)");
        if ((double)(int64_t)d != d) return fail(c, "expected an integer");
        *neg = d < 0;
        *mag = d < 0 ? (uint64_t)(-(int64_t)d) : (uint64_t)d;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), i = 0;
        *neg = n > 0 && s[0] == '-';
        i = (size_t)*neg;
        if (i == n) return fail(c, "expected a decimal integer");
        *mag = 0;
        for (; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') return fail(c, "expected a decimal integer");
            unsigned d = (unsigned)(s[i] - '0');
            if (*mag > (UINT64_MAX - d) / 10) return fail(c, "out of range for %s", type);
            *mag = *mag * 10 + d;
        }
    } else {
        return fail(c, "expected an integer (a number or a string)");
    }
    if (*neg ? *mag > negmax : *mag > max) return fail(c, "out of range for %s", type);
    return 0;
}

static int decode_enum(ctx_t *c, const ProtobufCFieldDescriptor *fd, json_t *v, int *out)
{
    const ProtobufCEnumDescriptor *ed = fd->descriptor;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
        if (!ev || strlen(s) != json_string_length(v))
            return fail(c, "unknown value \"%.*s\" of %s", quote_len(s), s, ed->name);
        *out = ev->value;
        return 0;
    }
    if (!json_is_number(v)) return fail(c, "expected an enum value name or number");
    int neg;
    uint64_t mag;
    int rc = decode_integer(c, v, "an enum", UINT64_C(1) << 31, INT32_MAX, &neg, &mag);
    if (rc) return rc;
    *out = neg ? (int)(int64_t)(0 - mag) : (int)mag;
    return 0;
}

static int decode_string(ctx_t *c, json_t *v, char **out)
{
    if (!json_is_string(v)) return fail(c, "expected a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, '\0', n)) return fail(c, "contains a NUL byte");
    if (!utf8_valid(s, n)) return fail(c, "not valid UTF-8");
    char *copy = malloc(n + 1);
    if (!copy) return HK_ENOMEM;
    memcpy(copy, s, n + 1);
    *out = copy;
    return 0;
}

static int decode_bytes(ctx_t *c, json_t *v, ProtobufCBinaryData *out)
{
    if (!json_is_string(v)) return fail(c, "expected a base64 string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), len = 0;
    uint8_t *buf = malloc(n / 4 * 3 + 3);
    if (!buf) return HK_ENOMEM;
    if (hk_crypto_unb64_any(s, n, buf, n / 4 * 3 + 3, &len) != 0) {
        free(buf);
        return fail(c, "not valid base64");
    }
    if (len == 0) {
        free(buf);
        buf = NULL;
    }
    out->data = buf;
    out->len = len;
    return 0;
}

/* Decodes one value (not a repeated field as a whole) into slot, the
 * field's storage; slot holds the field's initial value. */
static int decode_value(ctx_t *c, const ProtobufCFieldDescriptor *fd, json_t *v, void *slot,
                        int depth)
{
    const char *type = int_type_name(fd->type);
    int neg = 0, rc;
    uint64_t mag = 0;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        rc = decode_integer(c, v, type, UINT64_C(1) << 31, INT32_MAX, &neg, &mag);
        if (rc == 0) *(int32_t *)slot = neg ? (int32_t)(int64_t)(0 - mag) : (int32_t)mag;
        return rc;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        rc = decode_integer(c, v, type, 0, UINT32_MAX, &neg, &mag);
        if (rc == 0) *(uint32_t *)slot = (uint32_t)mag;
        return rc;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = decode_integer(c, v, type, UINT64_C(1) << 63, INT64_MAX, &neg, &mag);
        if (rc == 0) *(int64_t *)slot = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        return rc;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        rc = decode_integer(c, v, type, 0, UINT64_MAX, &neg, &mag);
        if (rc == 0) *(uint64_t *)slot = mag;
        return rc;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) return fail(c, "expected true or false");
        *(protobuf_c_boolean *)slot = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: return decode_enum(c, fd, v, (int *)slot);
    case PROTOBUF_C_TYPE_STRING: return decode_string(c, v, (char **)slot);
    case PROTOBUF_C_TYPE_BYTES: return decode_bytes(c, v, (ProtobufCBinaryData *)slot);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *sub = fd->descriptor;
        if (!json_is_object(v)) return fail(c, "expected an object");
        ProtobufCMessage *m = malloc(sub->sizeof_message);
        if (!m) return HK_ENOMEM;
        sub->message_init(m);
        /* Owned by the parent from here on, so an error frees it with it. */
        *(ProtobufCMessage **)slot = m;
        return decode_message(c, sub, v, m, depth + 1);
    }
    default: return fail(c, "unsupported: field type %d", (int)fd->type);
    }
}

static int decode_repeated(ctx_t *c, const ProtobufCFieldDescriptor *fd, json_t *v,
                           ProtobufCMessage *msg, int depth)
{
    if (!json_is_array(v)) return fail(c, "expected an array");
    size_t n = json_array_size(v), size = value_size(fd->type);
    if (n == 0) return 0;
    uint8_t *arr = calloc(n, size);
    if (!arr) return HK_ENOMEM;
    /* Zeroed elements are what free_unpacked expects of ones never filled. */
    *(size_t *)((char *)msg + fd->quantifier_offset) = n;
    *(void **)((char *)msg + fd->offset) = arr;
    for (size_t i = 0; i < n; i++) {
        size_t saved = path_push(c, "[%zu]", i);
        int rc = decode_value(c, fd, json_array_get(v, i), arr + i * size, depth);
        path_pop(c, saved);
        if (rc) return rc;
    }
    return 0;
}

static int decode_field(ctx_t *c, const ProtobufCMessageDescriptor *desc,
                        const ProtobufCFieldDescriptor *fd, json_t *v, ProtobufCMessage *msg,
                        int depth)
{
    const char *why = unsupported(fd);
    if (why) return fail(c, "unsupported: %s", why);
    if (json_is_null(v)) return 0;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) return decode_repeated(c, fd, v, msg, depth);
    if (is_oneof(fd)) {
        uint32_t *which = (uint32_t *)((char *)msg + fd->quantifier_offset);
        if (*which != 0 && *which != fd->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(desc, *which);
            return fail(c, "only one of %s and %s may be set", other ? other->name : "?", fd->name);
        }
        /* The case first: the member's storage is then freed on any error. */
        *which = fd->id;
    }
    return decode_value(c, fd, v, (char *)msg + fd->offset, depth);
}

static int decode_message(ctx_t *c, const ProtobufCMessageDescriptor *desc, json_t *obj,
                          ProtobufCMessage *msg, int depth)
{
    if (depth > HK_PBJSON_MAX_DEPTH)
        return fail(c, "nested deeper than %d messages", HK_PBJSON_MAX_DEPTH);
    uint8_t *seen = calloc(desc->n_fields + 1, 1);
    if (!seen) return HK_ENOMEM;
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        const ProtobufCFieldDescriptor *fd = find_field(desc, key);
        size_t saved = fd ? path_push(c, "%s%s", c->pathlen ? "." : "", fd->name)
                          : path_push(c, "%s%.*s", c->pathlen ? "." : "", quote_len(key), key);
        if (!fd)
            rc = fail(c, "unknown field of %s", desc->name);
        else if (seen[fd - desc->fields]++)
            rc = fail(c, "given twice (as lowerCamelCase and as proto name)");
        else
            rc = decode_field(c, desc, fd, v, msg, depth);
        path_pop(c, saved);
        if (rc) break;
    }
    free(seen);
    return rc;
}

int hk_pbjson_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *json, size_t len,
                     ProtobufCMessage **out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root =
        json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory) return HK_ENOMEM;
        return hk_error_invalid(err, errlen, "invalid JSON: %s (line %d, column %d)", je.text,
                                je.line, je.column);
    }
    ProtobufCMessage *msg = NULL;
    int rc;
    if (!json_is_object(root)) {
        rc = hk_error_invalid(err, errlen, "expected a JSON object");
        goto out;
    }
    msg = malloc(desc->sizeof_message);
    if (!msg) {
        rc = HK_ENOMEM;
        goto out;
    }
    desc->message_init(msg);
    ctx_t c = {.err = err, .errlen = errlen};
    rc = decode_message(&c, desc, root, msg, 1);
out:
    json_decref(root);
    if (rc) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return rc;
    }
    *out = msg;
    return 0;
}

/* ---- encoding ---------------------------------------------------------- */

static int encode_message(const ProtobufCMessage *msg, int depth, json_t **out);

static int encode_value(const ProtobufCFieldDescriptor *fd, const void *slot, int depth,
                        json_t **out)
{
    char num[24];
    json_t *v = NULL;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: v = json_integer(*(const int32_t *)slot); break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: v = json_integer(*(const uint32_t *)slot); break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)slot);
        v = json_string_nocheck(num);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(num, sizeof num, "%" PRIu64, *(const uint64_t *)slot);
        v = json_string_nocheck(num);
        break;
    case PROTOBUF_C_TYPE_BOOL: v = json_boolean(*(const protobuf_c_boolean *)slot); break;
    case PROTOBUF_C_TYPE_ENUM: {
        int e = *(const int *)slot;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, e);
        v = ev ? json_string_nocheck(ev->name) : json_integer(e);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)slot;
        if (!s) s = "";
        if (!utf8_valid(s, strlen(s))) return HK_EINVAL;
        v = json_string_nocheck(s);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = slot;
        char *text = malloc(hk_crypto_b64_len(b->len));
        if (!text) return HK_ENOMEM;
        size_t n = hk_crypto_b64(b->data ? b->data : (const uint8_t *)"", b->len, text);
        v = json_stringn_nocheck(text, n);
        free(text);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)slot;
        if (m) return encode_message(m, depth + 1, out);
        v = json_object(); /* a NULL element of a repeated field: the empty message */
        break;
    }
    default: return HK_EINVAL;
    }
    if (!v) return HK_ENOMEM;
    *out = v;
    return 0;
}

/* 1 when a singular proto3 field (not in a oneof) holds its default value. */
static int is_default(const ProtobufCFieldDescriptor *fd, const void *slot)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return *(const uint64_t *)slot == 0;
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)slot == 0;
    case PROTOBUF_C_TYPE_ENUM: return *(const int *)slot == 0;
    case PROTOBUF_C_TYPE_STRING: return !*(char *const *)slot || !**(char *const *)slot;
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)slot)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)slot == NULL;
    default: return *(const uint32_t *)slot == 0;
    }
}

static int encode_field(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd, int depth,
                        json_t **out)
{
    const char *base = (const char *)msg;
    const void *slot = base + fd->offset;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + fd->quantifier_offset);
        const uint8_t *arr = *(const uint8_t *const *)slot;
        json_t *a = json_array();
        if (!a) return HK_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            json_t *v;
            int rc = encode_value(fd, arr + i * value_size(fd->type), depth, &v);
            if (rc == 0 && json_array_append_new(a, v) != 0) rc = HK_ENOMEM;
            if (rc) {
                json_decref(a);
                return rc;
            }
        }
        *out = a;
        return 0;
    }
    return encode_value(fd, slot, depth, out);
}

static int encode_message(const ProtobufCMessage *msg, int depth, json_t **out)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    if (depth > HK_PBJSON_MAX_DEPTH) return HK_EINVAL;
    json_t *obj = json_object();
    if (!obj) return HK_ENOMEM;
    int rc = 0;
    for (unsigned i = 0; i < desc->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        const char *base = (const char *)msg;
        int present;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED)
            present = *(const size_t *)(base + fd->quantifier_offset) > 0;
        else if (is_oneof(fd))
            present = *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
        else if (fd->label == PROTOBUF_C_LABEL_NONE)
            present = !is_default(fd, base + fd->offset);
        else if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
            present = 1; /* proto2, refused below when set */
        else if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_MESSAGE)
            present = *(void *const *)(base + fd->offset) != NULL &&
                      *(void *const *)(base + fd->offset) != fd->default_value;
        else
            present = *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
        if (!present) continue;
        if (unsupported(fd)) {
            rc = HK_EINVAL;
            break;
        }
        json_t *v;
        rc = encode_field(msg, fd, depth, &v);
        if (rc) break;
        char *name = json_name(fd->name);
        if (!name || json_object_set_new_nocheck(obj, name, v) != 0) {
            if (!name) json_decref(v);
            rc = HK_ENOMEM;
        }
        free(name);
    }
    if (rc) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

static int dump(json_t *root, char **out, size_t *len)
{
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s) return HK_ENOMEM;
    *out = s;
    *len = strlen(s);
    return 0;
}

int hk_pbjson_encode(const ProtobufCMessage *msg, char **out, size_t *len)
{
    json_t *root;
    int rc = encode_message(msg, 1, &root);
    if (rc) return rc;
    return dump(root, out, len);
}

int hk_pbjson_error(const char *code, const char *message, char **out, size_t *len)
{
    json_t *root = json_object();
    if (!root) return HK_ENOMEM;
    if (json_object_set_new_nocheck(root, "code", json_string(code)) != 0) goto nomem;
    if (message) {
        /* Each byte of an invalid sequence becomes U+FFFD (3 bytes). */
        size_t n = strlen(message), o = 0;
        char *clean = malloc(3 * n + 1);
        if (!clean) goto nomem;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t k = hk_utf8_decode((const uint8_t *)message + i, n - i, &cp);
            if (k == 0) {
                memcpy(clean + o, "\xef\xbf\xbd", 3);
                o += 3;
                i++;
            } else {
                memcpy(clean + o, message + i, k);
                o += k;
                i += k;
            }
        }
        json_t *v = json_stringn_nocheck(clean, o);
        free(clean);
        if (json_object_set_new_nocheck(root, "message", v) != 0) goto nomem;
    }
    return dump(root, out, len);
nomem:
    json_decref(root);
    return HK_ENOMEM;
}
