/* hookctl_args.c -- hookctl's words and values: application, status, origin, numbers, payloads */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookctl.h"

typedef struct {
    const char *word;
    int value;
} word_t;

static int lookup(const word_t *words, const char *word, int *out)
{
    for (; words->word; words++) {
        if (strcasecmp(words->word, word) == 0) {
            *out = words->value;
            return 0;
        }
    }
    return -1;
}

int hk_args_application(const char *word, int *out)
{
    static const word_t words[] = {
        {"enterprise", HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE},
        {"elite", HOOKD__V1__APPLICATION__APPLICATION_ELITE},
        {NULL, 0},
    };
    return lookup(words, word, out);
}

int hk_args_status(const char *word, int *out)
{
    static const word_t words[] = {{"active", 1}, {"inactive", 0}, {NULL, 0}};
    return lookup(words, word, out);
}

int hk_args_origin(const char *word, int *out)
{
    static const word_t words[] = {
        {"user", HOOKD__V1__ORIGIN__ORIGIN_USER},
        {"api", HOOKD__V1__ORIGIN__ORIGIN_API},
        {NULL, 0},
    };
    return lookup(words, word, out);
}

int hk_args_auth_method(const char *word, int *out)
{
    static const word_t words[] = {{"oauth", HOOKD__V1__AUTH_METHOD__AUTH_METHOD_OAUTH}, {NULL, 0}};
    return lookup(words, word, out);
}

int hk_args_delivery_state(const char *word, int *out)
{
    static const word_t words[] = {
        {"pending", HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_PENDING},
        {"succeeded", HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_SUCCEEDED},
        {"failed", HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_FAILED},
        {"cancelled", HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_CANCELLED},
        {NULL, 0},
    };
    return lookup(words, word, out);
}

int hk_args_uint(const char *s, unsigned long long min, unsigned long long max,
                 unsigned long long *out)
{
    char *end;
    if (!*s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int read_file(const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hookctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) break;
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int failed = !buf || ferror(f);
    if (f != stdin) fclose(f);
    if (failed) {
        fprintf(stderr, "hookctl: %s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

int hk_args_payload(const char *arg, char **data, size_t *len)
{
    if (arg[0] == '@') return read_file(arg + 1, data, len);
    *data = strdup(arg);
    if (!*data) return -1;
    *len = strlen(arg);
    return 0;
}
