/* web.c -- hookd's HTTP pages: the admin page, its logins and /metrics, beside the RPCs */
#include "web/web.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "web/assets.h"
#include "web/session.h"

#define ORIGIN_MAX 300
#define ORIGINS 3

struct hk_web {
    uv_loop_t *loop;
    const hk_config_t *config;
    hk_sessions_t *sessions;
    hk_metrics_src_t metrics;
    int listening;
    char origin[ORIGIN_MAX];           /* what login links start with */
    char origins[ORIGINS][ORIGIN_MAX]; /* Origin values accepted, "" for none */
};

/* Every answer on the browser listener carries these: nothing from hookd
 * runs as inline script, is framed, sniffed, or leaks a URL (login links
 * carry a token) to another site. */
#define SECURITY_HEADERS                                                                           \
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "                     \
    "form-action 'self'; frame-ancestors 'none'\r\n"                                               \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Referrer-Policy: no-referrer\r\n"                                                             \
    "X-Frame-Options: DENY\r\n"

/* --- addresses and origins ------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

int hk_web_listen_addr(const char *text, int allow_remote, struct sockaddr_storage *out, char *err,
                       size_t errlen)
{
    char host[64];
    const char *port_text;
    size_t hn;

    memset(out, 0, sizeof *out);
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':') goto bad;
        hn = (size_t)(end - text - 1);
        if (hn >= sizeof host) goto bad;
        memcpy(host, text + 1, hn);
        port_text = end + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon) goto bad;
        hn = (size_t)(colon - text);
        if (hn >= sizeof host) goto bad;
        memcpy(host, text, hn);
        port_text = colon + 1;
    }
    host[hn] = '\0';
    char *end;
    unsigned long port = strtoul(port_text, &end, 10);
    if (!*port_text || *end || port > 65535 || strspn(port_text, "0123456789") != strlen(port_text))
        goto bad;
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    /* An IPv6 address only in brackets: "::1:80" says no port clearly. */
    if (text[0] == '[' ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) != 0
                       : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) != 0)
        goto bad;
    if (!allow_remote && !is_loopback((const struct sockaddr *)out))
        return hk_error_invalid(err, errlen,
                                "http_listen: %s is not a loopback address: the admin page is "
                                "plain HTTP; put a TLS reverse proxy in front and set "
                                "http_listen_allow_remote = true",
                                host);
    return 0;
bad:
    return hk_error_invalid(err, errlen,
                            "http_listen: '%s' is not <ip>:<port> (127.0.0.1:8480, [::1]:8480, "
                            "localhost:8480)",
                            text);
}

int hk_web_set_listener(hk_web_t *w, const struct sockaddr_storage *bound)
{
    char ip[INET6_ADDRSTRLEN];
    int port, loop = is_loopback((const struct sockaddr *)bound);

    if (bound->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)bound;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(w->origins[0], ORIGIN_MAX, "http://%s:%d", ip, port);
    } else if (bound->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)bound;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(w->origins[0], ORIGIN_MAX, "http://[%s]:%d", ip, port);
    } else {
        return HK_EINVAL;
    }
    /* localhost is loopback by definition (RFC 6761); browsers never ask
     * DNS for it, so it cannot be rebound to another host. */
    if (loop) snprintf(w->origins[1], ORIGIN_MAX, "http://localhost:%d", port);
    const char *o = w->config->http_origin;
    if (o) {
        size_t n = strlen(o);
        while (n && o[n - 1] == '/')
            n--;
        snprintf(w->origins[2], ORIGIN_MAX, "%.*s", (int)n, o);
    }
    snprintf(w->origin, sizeof w->origin, "%s", o ? w->origins[2] : w->origins[0]);
    w->listening = 1;
    return 0;
}

/* origin is one of ours (exactly: scheme, host, port). */
static int our_origin(const hk_web_t *w, const char *origin)
{
    for (int i = 0; i < ORIGINS; i++)
        if (w->origins[i][0] && strcmp(w->origins[i], origin) == 0) return 1;
    return 0;
}

/* host (a Host header) names one of our origins: a DNS-rebound name
 * pointing at 127.0.0.1 does not. */
static int our_host(const hk_web_t *w, const char *host)
{
    for (int i = 0; i < ORIGINS; i++) {
        const char *o = strstr(w->origins[i], "://");
        if (!w->origins[i][0] || !o) continue;
        o += 3;
        if (strcmp(o, host) == 0) return 1;
        /* An origin without a port (http_origin) may come with its
         * scheme's default port spelled out. */
        size_t n = strlen(o);
        const char *dflt = strncmp(w->origins[i], "https:", 6) == 0 ? ":443" : ":80";
        if (!strchr(o, ':') && strncmp(host, o, n) == 0 && strcmp(host + n, dflt) == 0) return 1;
    }
    return 0;
}

/* --- state -------------------------------------------------------------- */

int hk_web_new(uv_loop_t *loop, const hk_config_t *config, hk_web_t **out)
{
    hk_web_t *w = calloc(1, sizeof *w);
    if (!w) return HK_ENOMEM;
    hk_sessions_opts_t so = {
        .login_ttl_ms = (uint64_t)config->http_login_ttl_s * 1000,
        .idle_ms = (uint64_t)config->http_session_idle_s * 1000,
        .max_age_ms = (uint64_t)config->http_session_ttl_s * 1000,
    };
    if (hk_sessions_new(&so, &w->sessions) != 0) {
        free(w);
        return HK_ENOMEM;
    }
    w->loop = loop;
    w->config = config;
    *out = w;
    return 0;
}

void hk_web_free(hk_web_t *w)
{
    if (!w) return;
    hk_sessions_free(w->sessions);
    free(w);
}

const char *hk_web_origin(const hk_web_t *w)
{
    return w->origin;
}

hk_metrics_src_t *hk_web_metrics(hk_web_t *w)
{
    return &w->metrics;
}

int hk_web_login_link(void *arg, const hk_peer_t *peer, char *url, size_t n, int64_t *expire_ms)
{
    hk_web_t *w = arg;
    char token[HK_SESSION_TOKEN_TEXT];
    struct timespec ts;

    if (!w->listening) return HK_EINVAL;
    hk_sessions_login(w->sessions, peer, uv_now(w->loop), token);
    int k = snprintf(url, n, "%s/login?token=%s", w->origin, token);
    hk_crypto_wipe(token, sizeof token);
    if (k < 0 || (size_t)k >= n) return HK_EINVAL;
    clock_gettime(CLOCK_REALTIME, &ts);
    *expire_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
                 (int64_t)w->config->http_login_ttl_s * 1000;
    return 0;
}

/* --- answers ------------------------------------------------------------- */

/* path (query and all) is exactly want, with or without a query. */
static int path_is(const char *path, const char *want)
{
    size_t n = strcspn(path, "?");
    return strlen(want) == n && strncmp(path, want, n) == 0;
}

/* The value of name=... in path's query, into out (n bytes); 0 or -1. */
static int query_param(const char *path, const char *name, char *out, size_t n)
{
    const char *q = strchr(path, '?');
    size_t nl = strlen(name);
    while (q) {
        q++;
        if (strncmp(q, name, nl) == 0 && q[nl] == '=') {
            const char *v = q + nl + 1;
            size_t vn = strcspn(v, "&#");
            if (vn >= n) return -1;
            memcpy(out, v, vn);
            out[vn] = '\0';
            return 0;
        }
        q = strchr(q, '&');
    }
    return -1;
}

/* The session cookie's value, into out (n bytes); 0 or -1. */
static int session_cookie(const hk_server_request_t *req, char *out, size_t n)
{
    static const char name[] = HK_WEB_COOKIE "=";
    for (size_t i = 0; i < req->n_fields; i++) {
        if (strcmp(req->fields[i].name, "cookie") != 0) continue;
        for (const char *p = req->fields[i].value; *p;) {
            p += strspn(p, " \t;");
            size_t len = strcspn(p, ";");
            if (strncmp(p, name, sizeof name - 1) == 0) {
                size_t vn = len - (sizeof name - 1);
                if (vn >= n) return -1;
                memcpy(out, p + sizeof name - 1, vn);
                out[vn] = '\0';
                while (vn && (out[vn - 1] == ' ' || out[vn - 1] == '\t'))
                    out[--vn] = '\0';
                return 0;
            }
            p += len;
        }
    }
    return -1;
}

static void answer(hk_server_request_t *req, int status, const char *type, const char *extra,
                   const void *body, size_t len)
{
    char headers[1024];
    snprintf(headers, sizeof headers, "%s%s", req->tcp ? SECURITY_HEADERS : "", extra ? extra : "");
    hk_server_answer(req, status, type, headers, body, len);
}

static int answer_text(hk_server_request_t *req, int status, const char *text)
{
    answer(req, status, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n", text,
           strlen(text));
    return 1;
}

/* A Connect error for an API call the listener refuses (the codes and
 * messages need no JSON escaping). */
static int answer_connect(hk_server_request_t *req, int status, const char *code,
                          const char *message)
{
    char body[512];
    int n = snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"%s\"}", code, message);
    answer(req, status, "application/json", "Cache-Control: no-store\r\n", body, (size_t)n);
    return 1;
}

static int answer_asset(hk_server_request_t *req, int status, const hk_asset_t *a)
{
    answer(req, status, a->content_type, "Cache-Control: no-cache\r\n", a->data, a->len);
    return 1;
}

/* The page that says how to log in, with status. */
static int answer_login_page(hk_server_request_t *req, int status)
{
    static const char path[] = "/ui/login.html";
    const hk_asset_t *a = hk_asset_find(path, sizeof path - 1);
    if (!a) return answer_text(req, status, "no session: run `hookctl ui` for a login link\n");
    answer(req, status, a->content_type, "Cache-Control: no-store\r\n", a->data, a->len);
    return 1;
}

static int answer_metrics(hk_web_t *w, hk_server_request_t *req)
{
    char *body = NULL;
    size_t len = 0;
    hk_sessions_sweep(w->sessions, uv_now(w->loop), NULL, &w->metrics.sessions);
    int rc = hk_metrics_render(&w->metrics, &body, &len);
    if (rc != 0) return answer_text(req, 500, "metrics unavailable\n");
    answer(req, 200, HK_METRICS_CONTENT_TYPE, "Cache-Control: no-store\r\n", body, len);
    free(body);
    return 1;
}

/* GET /login?token=...: a login token for a session cookie. */
static int login(hk_web_t *w, hk_server_request_t *req)
{
    char token[128], session[HK_SESSION_TOKEN_TEXT], extra[256];
    hk_peer_t peer;

    if (query_param(req->path, "token", token, sizeof token) != 0)
        return answer_login_page(req, 200);
    if (hk_sessions_exchange(w->sessions, token, uv_now(w->loop), session, &peer) != 0) {
        hk_log(HK_LOG_INFO, "login_refused", "reason=\"token unknown, used or expired\"");
        return answer_login_page(req, 401);
    }
    hk_log(HK_LOG_INFO, "login", "uid=%u", (unsigned)peer.uid);
    snprintf(extra, sizeof extra,
             "Location: /ui/\r\nCache-Control: no-store\r\n"
             "Set-Cookie: " HK_WEB_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n",
             session, strncmp(w->origin, "https://", 8) == 0 ? "; Secure" : "");
    hk_crypto_wipe(session, sizeof session);
    answer(req, 303, NULL, extra, NULL, 0);
    hk_crypto_wipe(extra, sizeof extra);
    return 1;
}

static int tcp_request(hk_web_t *w, hk_server_request_t *req)
{
    const char *host = hk_server_field(req, "host");
    const char *origin = hk_server_field(req, "origin");
    int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    char cookie[128];
    hk_peer_t peer;

    if (!host || !our_host(w, host)) {
        hk_log(HK_LOG_INFO, "http_refused", "reason=\"foreign Host\"");
        return post ? answer_connect(req, 403, "permission_denied", "unknown Host")
                    : answer_text(req, 403, "unknown Host\n");
    }
    if ((origin && !our_origin(w, origin)) || (post && !origin)) {
        hk_log(HK_LOG_INFO, "http_refused", "reason=\"%s\"",
               origin ? "cross-origin request" : "POST without Origin");
        return post ? answer_connect(req, 403, "permission_denied",
                                     origin ? "cross-origin request refused"
                                            : "a POST needs the page's own Origin header")
                    : answer_text(req, 403, "cross-origin request refused\n");
    }
    if (!get && !post) return answer_text(req, 405, "GET or POST only\n");
    if (get && path_is(req->path, "/")) {
        answer(req, 302, NULL, "Location: /ui/\r\nCache-Control: no-store\r\n", NULL, 0);
        return 1;
    }
    if (get && path_is(req->path, "/login")) return login(w, req);
    if (get && path_is(req->path, "/ui/style.css")) {
        const hk_asset_t *a = hk_asset_find(req->path, strlen(req->path));
        if (a) return answer_asset(req, 200, a);
    }
    if (session_cookie(req, cookie, sizeof cookie) != 0 ||
        hk_sessions_check(w->sessions, cookie, uv_now(w->loop), &peer) != 0) {
        if (post)
            return answer_connect(req, 401, "unauthenticated",
                                  "no session: run `hookctl ui` for a login link");
        return answer_login_page(req, 401);
    }
    if (post) {
        req->peer = peer; /* the RPC acts as the admin who asked for the link */
        return 0;
    }
    if (path_is(req->path, "/metrics")) return answer_metrics(w, req);
    const hk_asset_t *a = hk_asset_find(req->path, strlen(req->path));
    if (a) return answer_asset(req, 200, a);
    return answer_text(req, 404, "not found\n");
}

int hk_web_on_request(hk_server_request_t *req, void *ctx)
{
    hk_web_t *w = ctx;
    if (req->tcp) return tcp_request(w, req);
    if (strcmp(req->method, "GET") == 0 && path_is(req->path, "/metrics"))
        return answer_metrics(w, req);
    return 0;
}
