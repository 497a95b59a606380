/* fuzz_url.c -- the Web Service URL check (hk_validate_url), checked against libcurl's URL parser
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/validate.h"
#include "core/error.h"
#include "fuzz.h"

/* Input: one byte of flags (bit 0: allow_http), then the URL. */

static void fail(const char *url, const char *why)
{
    fprintf(stderr, "fuzz_url: \"%s\": %s\n", url, why);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    hk_fuzz_init();
    return 0;
}

/* What hookd accepted must be what curl will connect to: curl parses it, and
 * an http:// URL accepted without allow_http names, to curl, a loopback host. */
static void check_with_curl(const char *url, int allow_http)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    if (!u) abort();
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) fail(url, "accepted, curl refuses it");
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        fail(url, "accepted, curl finds no scheme or host");
    if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
        fail(url, "accepted, curl sees another scheme");
    if (strcmp(scheme, "http") == 0 && !allow_http) {
        /* curl keeps IPv6 brackets in the host part. */
        size_t n = strlen(host);
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
            memmove(host, host + 1, n - 2);
            host[n - 2] = '\0';
        }
        if (!hk_validate_is_loopback(host))
            fail(url, "http:// accepted, curl's host is not loopback");
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    if (size == 0) return 0;
    int allow_http = data[0] & 1;
    char *url = hk_fuzz_text(data + 1, size - 1);

    int rc = hk_validate_url(url, allow_http, err, sizeof err);
    if (rc != 0 && rc != HK_EINVAL) fail(url, "neither 0 nor HK_EINVAL");
    if (rc != 0 && strncmp(err, "url: ", 5) != 0) fail(url, "the error does not name the field");
    if (rc == 0) {
        if (strlen(url) > HK_WEBHOOK_URL_MAX) fail(url, "accepted, too long");
        if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
            fail(url, "accepted, not http(s)");
        check_with_curl(url, allow_http);
    }
    free(url);
    return 0;
}
