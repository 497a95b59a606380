/* validate.c -- the field rules of a webhook: names, URLs, timeouts, secrets, descriptions */
#include "api/validate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/utf8.h"

#include "hookd/v1/webhooks.pb-c.h"

/* --- UTF-8 text ------------------------------------------------------------ */

static int is_control(long cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* Unicode White_Space. */
static int is_space(long cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

typedef struct {
    size_t chars;
    int malformed, control, visible;
} text_info_t;

/* Walks s once; allowed lists control characters that do not count as
 * "control" (e.g. "\t\n\r" in a description). Stops counting past limit. */
static text_info_t scan_text(const char *s, const char *allowed, size_t limit)
{
    text_info_t t = {0};
    const uint8_t *p = (const uint8_t *)s, *end = p + strlen(s);
    while (p < end && t.chars <= limit) {
        uint32_t cp;
        size_t len = hk_utf8_decode(p, (size_t)(end - p), &cp);
        if (len == 0) {
            t.malformed = 1;
            break;
        }
        p += len;
        if (is_control(cp) && !(cp < 0x80 && allowed && strchr(allowed, (int)cp))) t.control = 1;
        if (!is_space(cp)) t.visible = 1;
        t.chars++;
    }
    return t;
}

int hk_validate_name(const char *field, const char *name, char *err, size_t errlen)
{
    if (!name || !*name) return hk_error_invalid(err, errlen, "%s: is required", field);
    text_info_t t = scan_text(name, NULL, HK_WEBHOOK_NAME_MAX);
    if (t.malformed) return hk_error_invalid(err, errlen, "%s: must be valid UTF-8", field);
    if (t.chars > HK_WEBHOOK_NAME_MAX)
        return hk_error_invalid(err, errlen, "%s: must be at most %d characters", field,
                                HK_WEBHOOK_NAME_MAX);
    if (t.control)
        return hk_error_invalid(err, errlen, "%s: must not contain control characters", field);
    if (!t.visible) return hk_error_invalid(err, errlen, "%s: must not be only whitespace", field);
    return 0;
}

int hk_validate_description(const char *description, char *err, size_t errlen)
{
    if (!description) return 0;
    text_info_t t = scan_text(description, "\t\n\r", HK_WEBHOOK_DESCRIPTION_MAX);
    if (t.malformed) return hk_error_invalid(err, errlen, "description: must be valid UTF-8");
    if (t.chars > HK_WEBHOOK_DESCRIPTION_MAX)
        return hk_error_invalid(err, errlen, "description: must be at most %d characters",
                                HK_WEBHOOK_DESCRIPTION_MAX);
    if (t.control)
        return hk_error_invalid(err, errlen,
                                "description: must not contain control characters other "
                                "than tab and newline");
    return 0;
}

/* --- enums and numbers ------------------------------------------------------ */

int hk_validate_application(int application, char *err, size_t errlen)
{
    if (application == HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE ||
        application == HOOKD__V1__APPLICATION__APPLICATION_ELITE)
        return 0;
    return hk_error_invalid(err, errlen,
                            "application: must be APPLICATION_ENTERPRISE or APPLICATION_ELITE");
}

int hk_validate_auth_method(int auth_method, char *err, size_t errlen)
{
    if (auth_method == HOOKD__V1__AUTH_METHOD__AUTH_METHOD_UNSPECIFIED ||
        auth_method == HOOKD__V1__AUTH_METHOD__AUTH_METHOD_OAUTH)
        return 0;
    return hk_error_invalid(err, errlen,
                            "auth_method: must be AUTH_METHOD_OAUTH (the only method)");
}

int hk_validate_timeout(uint32_t seconds, char *err, size_t errlen)
{
    if (seconds >= HK_WEBHOOK_TIMEOUT_MIN && seconds <= HK_WEBHOOK_TIMEOUT_MAX) return 0;
    return hk_error_invalid(err, errlen, "timeout_seconds: must be from %d to %d",
                            HK_WEBHOOK_TIMEOUT_MIN, HK_WEBHOOK_TIMEOUT_MAX);
}

/* Echoes a refused key back only when it looks like a key: a caller's
 * arbitrary bytes stay out of the status message. */
static int printable_key(const char *key)
{
    size_t n = strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
    return n == strlen(key) && n <= 100;
}

int hk_validate_trigger_action(const hk_catalog_t *catalog, int application, const char *key,
                               char *err, size_t errlen)
{
    if (!key || !*key) return hk_error_invalid(err, errlen, "trigger_action: is required");
    if (hk_catalog_find(catalog, application, key)) return 0;
    const char *app = hk_application_name(application);
    if (!app) app = "this application";
    if (printable_key(key))
        return hk_error_invalid(
            err, errlen,
            "trigger_action: '%s' is not a trigger action of %s (see ListTriggerActions)", key,
            app);
    return hk_error_invalid(
        err, errlen, "trigger_action: not a trigger action of %s (see ListTriggerActions)", app);
}

int hk_validate_secret(const char *secret, char *err, size_t errlen)
{
    const char *why = NULL;
    if (hk_crypto_secret_check(secret, &why) == 0) return 0;
    if (!why) why = "is not a valid secret key";
    /* The reasons already name the field ("secret_key must be ..."). */
    if (strncmp(why, "secret_key ", 11) == 0) why += 11;
    return hk_error_invalid(err, errlen, "secret_key: %s", why);
}

/* --- URLs ------------------------------------------------------------------- */

int hk_validate_is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0) return 1;
    if (inet_pton(AF_INET, host, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    return 0;
}

/* A DNS name (or dotted IPv4): labels of 1-63 letters, digits, '-' or '_',
 * at most 253 bytes, an optional final dot. */
static int valid_hostname(const char *host, size_t n)
{
    if (n > 0 && host[n - 1] == '.') n--;
    if (n == 0 || n > 253) return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (c == '.') {
            if (label == 0) return 0;
            label = 0;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        if (!ok || ++label > 63) return 0;
    }
    return label > 0;
}

int hk_validate_url(const char *url, int allow_http, char *err, size_t errlen)
{
    static const char must_https[] = "url: must be an absolute https:// URL";
    if (!url || !*url) return hk_error_invalid(err, errlen, "url: is required");
    size_t len = strlen(url);
    if (len > HK_WEBHOOK_URL_MAX)
        return hk_error_invalid(err, errlen, "url: must be at most %d bytes", HK_WEBHOOK_URL_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return hk_error_invalid(err, errlen,
                                    "url: must be printable ASCII without spaces "
                                    "(percent-encode other characters)");
    }

    int https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0)
        return hk_error_invalid(err, errlen, "%s", must_https);
    const char *auth = url + (https ? 8 : 7);
    if (strchr(url, '#'))
        return hk_error_invalid(err, errlen, "url: must not have a fragment (#...)");
    size_t auth_len = strcspn(auth, "/?");
    if (memchr(auth, '@', auth_len))
        return hk_error_invalid(err, errlen, "url: must not contain user info (user:password@)");
    if (auth_len == 0) return hk_error_invalid(err, errlen, "url: must name a host");

    char host[256];
    const char *after; /* what follows the host inside the authority */
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        size_t n = close ? (size_t)(close - auth - 1) : 0;
        struct in6_addr v6;
        if (!close || n == 0 || n >= sizeof host) goto bad_host;
        memcpy(host, auth + 1, n);
        host[n] = '\0';
        if (inet_pton(AF_INET6, host, &v6) != 1) goto bad_host;
        after = close + 1;
    } else {
        const char *colon = memchr(auth, ':', auth_len);
        size_t n = colon ? (size_t)(colon - auth) : auth_len;
        if (n == 0) return hk_error_invalid(err, errlen, "url: must name a host");
        if (n >= sizeof host || !valid_hostname(auth, n)) goto bad_host;
        memcpy(host, auth, n);
        host[n] = '\0';
        after = auth + n;
    }
    if (after < auth + auth_len) {
        /* Only ":port" may follow the host. */
        size_t digits = (size_t)(auth + auth_len - after) - 1;
        unsigned port = 0;
        if (*after != ':' || digits == 0 || digits > 5) goto bad_port;
        for (size_t i = 1; i <= digits; i++) {
            if (after[i] < '0' || after[i] > '9') goto bad_port;
            port = port * 10 + (unsigned)(after[i] - '0');
        }
        if (port == 0 || port > 65535) goto bad_port;
    }

    if (!https && !allow_http && !hk_validate_is_loopback(host))
        return hk_error_invalid(err, errlen,
                                "url: http:// is allowed only to loopback hosts (localhost, "
                                "127.0.0.0/8, [::1]); use https://");
    return 0;

bad_host:
    return hk_error_invalid(err, errlen, "url: the host is not a valid name or address");
bad_port:
    return hk_error_invalid(err, errlen, "url: the port must be a number from 1 to 65535");
}
