/* hookctl_print.c -- hookctl's output: tables, the details page, JSON from protobuf descriptors */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookctl.h"

/* ---- text fit for a terminal ------------------------------------------------- */

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point, or 0
 * when it is not valid UTF-8 (overlong, surrogate, beyond U+10FFFF, cut). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2, c = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, c = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

/* s with C0/C1 controls and invalid bytes escaped, into a new string. */
static char *safe_dup(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = malloc(n * 6 + 1); /* "\u0085" is the longest escape of one byte */
    if (!out) return NULL;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (len == 0) {
            o += (size_t)sprintf(out + o, "\\x%02x", (unsigned char)s[i]);
            i++;
        } else if (cp == '\n') {
            o += (size_t)sprintf(out + o, "\\n");
            i++;
        } else if (cp == '\t') {
            o += (size_t)sprintf(out + o, "\\t");
            i++;
        } else if (cp < 0x20 || cp == 0x7f) {
            o += (size_t)sprintf(out + o, "\\x%02x", (unsigned)cp);
            i++;
        } else if (cp >= 0x80 && cp < 0xa0) {
            o += (size_t)sprintf(out + o, "\\u%04x", (unsigned)cp);
            i += len;
        } else {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        }
    }
    out[o] = '\0';
    return out;
}

void hk_print_safe(FILE *out, const char *s)
{
    char *safe = safe_dup(s ? s : "");
    fputs(safe ? safe : "?", out);
    free(safe);
}

/* Characters on screen: code points (the table's text is valid UTF-8). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) w++;
    return w;
}

/* ---- tables ------------------------------------------------------------------ */

struct hk_table {
    int ncols;
    size_t nrows, cap;
    char **cells; /* row-major; row 0 is the header */
};

hk_table_t *hk_table_new(int ncols, const char *const *headers)
{
    hk_table_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ncols = ncols;
    if (hk_table_add(t, headers) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

int hk_table_add(hk_table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, cap * (size_t)t->ncols * sizeof *p);
        if (!p) return -1;
        t->cells = p;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        row[i] = safe_dup(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i--)
                free(row[i]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

#define FIT_MIN 12 /* a cut column keeps at least this many characters */
#define CUT_MARK "..."

/* Writes at most max characters of cell; a longer one is cut to end in
 * CUT_MARK. Returns the characters written. */
static size_t put_cell(FILE *out, const char *cell, size_t max)
{
    size_t w = text_width(cell);
    if (w <= max) {
        fputs(cell, out);
        return w;
    }
    size_t keep = max > 3 ? max - 3 : 0, n = 0;
    const char *p = cell;
    for (; *p; p++) {
        if (((unsigned char)*p & 0xc0) != 0x80 && n++ == keep) break;
    }
    fwrite(cell, 1, (size_t)(p - cell), out);
    fputs(CUT_MARK, out);
    return keep + 3;
}

void hk_table_print_fit(const hk_table_t *t, FILE *out, int width, int col)
{
    size_t colw[32] = {0};
    int ncols = t->ncols < 32 ? t->ncols : 32;
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < ncols; c++) {
            size_t w = text_width(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (w > colw[c]) colw[c] = w;
        }
    if (width > 0 && col >= 0 && col < ncols) {
        size_t total = 0;
        for (int c = 0; c < ncols; c++)
            total += colw[c] + (c < ncols - 1 ? 3 : 0);
        if (total > (size_t)width) {
            size_t over = total - (size_t)width;
            size_t min = colw[col] < FIT_MIN ? colw[col] : FIT_MIN;
            size_t want = colw[col] > over ? colw[col] - over : 0;
            colw[col] = want > min ? want : min;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            const char *cell = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t w = put_cell(out, cell, colw[c]);
            if (c < ncols - 1) fprintf(out, "%*s", (int)(colw[c] - w + 3), "");
        }
        fputc('\n', out);
    }
}

void hk_table_print(const hk_table_t *t, FILE *out)
{
    hk_table_print_fit(t, out, 0, -1);
}

void hk_table_free(hk_table_t *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ---- words -------------------------------------------------------------------- */

const char *hk_print_enum(const ProtobufCEnumDescriptor *e, int value, char *buf, size_t len)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
    if (!v) {
        snprintf(buf, len, "%d", value);
        return buf;
    }
    /* Values are prefixed with the enum's name in UPPER_SNAKE: AuthMethod ->
     * AUTH_METHOD_OAUTH. The word is what follows, in lowercase. */
    char prefix[128];
    size_t n = 0;
    for (const char *p = e->short_name; *p && n + 3 < sizeof prefix; p++) {
        if (p != e->short_name && isupper((unsigned char)*p) && !isupper((unsigned char)p[-1]))
            prefix[n++] = '_';
        prefix[n++] = (char)toupper((unsigned char)*p);
    }
    prefix[n++] = '_';
    prefix[n] = '\0';
    const char *name = strncmp(v->name, prefix, n) == 0 ? v->name + n : v->name;
    size_t i = 0;
    for (; name[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
    return buf;
}

const char *hk_print_application(int application)
{
    switch (application) {
    case HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE: return "Enterprise";
    case HOOKD__V1__APPLICATION__APPLICATION_ELITE: return "Elite";
    default: return "-";
    }
}

const char *hk_print_time(long long ms, char *buf, size_t len)
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "-");
    return buf;
}

/* ---- the details page ----------------------------------------------------------- */

#define LABEL_WIDTH 23 /* "Authentication Method: " */

void hk_print_field(FILE *out, const char *label, const char *value)
{
    fprintf(out, "%s:%*s", label, (int)(LABEL_WIDTH - strlen(label) - 1), "");
    hk_print_safe(out, value && *value ? value : "-");
    fputc('\n', out);
}

void hk_print_webhook(FILE *out, const Hookd__V1__Webhook *w, const char *action_name)
{
    char buf[640], when[32];
    hk_print_field(out, "Name", w->name);
    snprintf(buf, sizeof buf, "%" PRIu64, w->id);
    hk_print_field(out, "ID", buf);
    hk_print_field(out, "Application", hk_print_application(w->application));
    if (action_name && strcmp(action_name, w->trigger_action) != 0) {
        snprintf(buf, sizeof buf, "%s (%s)", action_name, w->trigger_action);
        hk_print_field(out, "Trigger Action", buf);
    } else {
        hk_print_field(out, "Trigger Action", w->trigger_action);
    }
    hk_print_field(out, "Web Service URL", w->url);
    hk_print_field(out, "Authentication Method",
                   w->auth_method == HOOKD__V1__AUTH_METHOD__AUTH_METHOD_OAUTH ? "OAuth" : "-");
    snprintf(buf, sizeof buf, "%u seconds", w->timeout_seconds);
    hk_print_field(out, "Timeout", buf);
    hk_print_field(out, "Secret Key", w->secret_key);
    hk_print_field(out, "Asynchronous", w->asynchronous ? "Yes" : "No");
    hk_print_field(out, "Ignore for API", w->ignore_for_api ? "Yes" : "No");
    /* Inactive since when, and why when hookd made it so (410 Gone). */
    if (w->active || !w->deactivate_time)
        snprintf(buf, sizeof buf, "%s", w->active ? "Active" : "Inactive");
    else if (*w->deactivated_reason)
        snprintf(buf, sizeof buf, "Inactive since %s: %s",
                 hk_print_time(w->deactivate_time, when, sizeof when), w->deactivated_reason);
    else
        snprintf(buf, sizeof buf, "Inactive since %s",
                 hk_print_time(w->deactivate_time, when, sizeof when));
    hk_print_field(out, "Status", buf);
    hk_print_field(out, "Description", w->description);
    hk_print_field(out, "Created", hk_print_time(w->create_time, buf, sizeof buf));
    hk_print_field(out, "Updated", hk_print_time(w->update_time, buf, sizeof buf));
}

/* ---- JSON ---------------------------------------------------------------------- */

static void json_string(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        uint32_t cp;
        size_t len;
        if (b == '"' || b == '\\') {
            fputc('\\', out);
            fputc(b, out);
            i++;
        } else if (b == '\n') {
            fputs("\\n", out), i++;
        } else if (b == '\r') {
            fputs("\\r", out), i++;
        } else if (b == '\t') {
            fputs("\\t", out), i++;
        } else if (b < 0x20 || b == 0x7f) {
            fprintf(out, "\\u%04x", b), i++;
        } else if ((len = utf8_next((const unsigned char *)s + i, n - i, &cp)) == 0) {
            fputs("\\ufffd", out), i++; /* not UTF-8: JSON text must be */
        } else {
            fwrite(s + i, 1, len, out);
            i += len;
        }
    }
    fputc('"', out);
}

static void json_indent(FILE *out, int indent)
{
    fprintf(out, "\n%*s", indent * 2, "");
}

static size_t field_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 4; /* 32-bit numbers, enums, protobuf_c_boolean, float */
    }
}

static void json_double(FILE *out, double d)
{
    if (isnan(d) || isinf(d))
        fprintf(out, "\"%s\"", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
    else
        fprintf(out, "%.17g", d);
}

static void json_value(FILE *out, const ProtobufCFieldDescriptor *f, const void *p, int indent)
{
    char word[64];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: fprintf(out, "%" PRId32, *(const int32_t *)p); break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: fprintf(out, "%" PRIu32, *(const uint32_t *)p); break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: fprintf(out, "%" PRId64, *(const int64_t *)p); break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: fprintf(out, "%" PRIu64, *(const uint64_t *)p); break;
    case PROTOBUF_C_TYPE_FLOAT: json_double(out, *(const float *)p); break;
    case PROTOBUF_C_TYPE_DOUBLE: json_double(out, *(const double *)p); break;
    case PROTOBUF_C_TYPE_BOOL: fputs(*(const protobuf_c_boolean *)p ? "true" : "false", out); break;
    case PROTOBUF_C_TYPE_ENUM:
        hk_print_enum(f->descriptor, *(const int *)p, word, sizeof word);
        json_string(out, word, strlen(word));
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        json_string(out, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        json_string(out, (const char *)b->data, b->data ? b->len : 0);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m)
            hk_json_message(out, m, indent);
        else
            fputs("null", out);
        break;
    }
    }
}

static int omitted(const char *const *omit, const char *name)
{
    for (; omit && *omit; omit++)
        if (strcmp(*omit, name) == 0) return 1;
    return 0;
}

void hk_json_message(FILE *out, const ProtobufCMessage *m, int indent)
{
    hk_json_message_omit(out, m, indent, NULL);
}

void hk_json_message_omit(FILE *out, const ProtobufCMessage *m, int indent, const char *const *omit)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    int first = 1;
    fputc('{', out);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = base + f->offset;
        if (omitted(omit, f->name)) continue;
        /* A oneof member (and a proto3 `optional`) only when it is the one set. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
            !*(ProtobufCMessage *const *)member)
            continue;
        fputs(first ? "" : ",", out);
        first = 0;
        json_indent(out, indent + 1);
        json_string(out, f->name, strlen(f->name));
        fputs(": ", out);
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            json_value(out, f, member, indent + 1);
            continue;
        }
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        const char *items = *(char *const *)member;
        fputc('[', out);
        for (size_t k = 0; k < n; k++) {
            fputs(k ? "," : "", out);
            json_indent(out, indent + 2);
            json_value(out, f, items + k * field_size(f), indent + 2);
        }
        if (n) json_indent(out, indent + 1);
        fputc(']', out);
    }
    if (!first) json_indent(out, indent);
    fputc('}', out);
}

void hk_json_list(FILE *out, const char *key, const ProtobufCMessage *const *items, size_t n,
                  const char *const *omit)
{
    fputs("{", out);
    json_indent(out, 1);
    json_string(out, key, strlen(key));
    fputs(": [", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "," : "", out);
        json_indent(out, 2);
        hk_json_message_omit(out, items[i], 2, omit);
    }
    if (n) json_indent(out, 1);
    fputs("]\n}\n", out);
}
