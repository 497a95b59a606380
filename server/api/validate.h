/* validate.h -- the field rules of a webhook, as pure functions the handlers share */
#ifndef HK_VALIDATE_H
#define HK_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/catalog.h"

#define HK_WEBHOOK_NAME_MAX 100        /* characters (code points) */
#define HK_WEBHOOK_URL_MAX 2048        /* bytes */
#define HK_WEBHOOK_DESCRIPTION_MAX 500 /* characters (code points) */
#define HK_WEBHOOK_TIMEOUT_MIN 1       /* seconds */
#define HK_WEBHOOK_TIMEOUT_MAX 600
#define HK_WEBHOOK_TIMEOUT_DEFAULT 15

/* Each function checks one field and returns 0, or HK_EINVAL with
 * "<field>: <reason>" written into err (errlen bytes, truncated to fit), the
 * text an INVALID_ARGUMENT answer carries. None of them echoes a secret. */

/* A webhook name: 1-100 characters of well-formed UTF-8, no control
 * characters (C0, DEL, C1), not only whitespace. field is the request field
 * it came from ("name", "new_name"). */
int hk_validate_name(const char *field, const char *name, char *err, size_t errlen);

/* APPLICATION_ENTERPRISE or APPLICATION_ELITE. */
int hk_validate_application(int application, char *err, size_t errlen);

/* A key of catalog for that application (application already valid). */
int hk_validate_trigger_action(const hk_catalog_t *catalog, int application, const char *key,
                               char *err, size_t errlen);

/* The Web Service URL: absolute https:// URL of at most 2048 bytes, printable
 * ASCII, a host (name, IPv4, or [IPv6]), optional port 1-65535, a path and
 * query but no fragment and no userinfo. http:// only to a loopback host
 * (localhost, 127.0.0.0/8, [::1]) unless allow_http. */
int hk_validate_url(const char *url, int allow_http, char *err, size_t errlen);

/* 1-600 seconds. */
int hk_validate_timeout(uint32_t seconds, char *err, size_t errlen);

/* A caller-chosen secret key (hk_crypto_secret_check). An empty secret is the
 * caller's business (it means "generate one") and is refused here. */
int hk_validate_secret(const char *secret, char *err, size_t errlen);

/* At most 500 characters of well-formed UTF-8; tab and newlines allowed, other
 * control characters not. */
int hk_validate_description(const char *description, char *err, size_t errlen);

/* AUTH_METHOD_UNSPECIFIED (meaning OAuth) or AUTH_METHOD_OAUTH. */
int hk_validate_auth_method(int auth_method, char *err, size_t errlen);

/* 1 when host (a URL's host, IPv6 without brackets) is loopback:
 * "localhost", 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
int hk_validate_is_loopback(const char *host);

#endif
