/* web.h -- hookd's HTTP pages: the admin page, its logins and /metrics, beside the RPCs */
#ifndef HK_WEB_H
#define HK_WEB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "transport/server.h"
#include "web/metrics.h"

typedef struct hk_web hk_web_t;

/* The cookie that carries a session. */
#define HK_WEB_COOKIE "hookd_session"

/* Parses an http_listen value: "127.0.0.1:8480", "[::1]:8480" or
 * "localhost:8480" (port 0: any free port). An address that is not
 * loopback is refused unless allow_remote. Returns 0 with *out, or HK_EINVAL
 * with the reason in err. */
int hk_web_listen_addr(const char *text, int allow_remote, struct sockaddr_storage *out, char *err,
                       size_t errlen);

/* The pages' state on loop for config (both must outlive it): sessions and
 * the metrics sources (fill *hk_web_metrics before requests come). Returns
 * 0 or HK_ENOMEM. */
int hk_web_new(uv_loop_t *loop, const hk_config_t *config, hk_web_t **out);
void hk_web_free(hk_web_t *w);

/* Where /metrics reads from: the caller fills it (NULL fields: left out). */
hk_metrics_src_t *hk_web_metrics(hk_web_t *w);

/* The browser listener is up at bound: its origin (or config http_origin)
 * is what login links name and what Origin and Host headers must be.
 * Returns 0 or HK_EINVAL. */
int hk_web_set_listener(hk_web_t *w, const struct sockaddr_storage *bound);

/* The origin login links start with ("http://127.0.0.1:8480"), "" before
 * hk_web_set_listener. */
const char *hk_web_origin(const hk_web_t *w);

/* hk_server_opts_t.on_request for both servers (request_ctx: the hk_web_t).
 * On the socket: GET /metrics; everything else goes on to the RPCs (the
 * socket's peer credentials decide). On the browser listener: every request
 * needs the listener's own Host, and no foreign Origin (403); a POST needs
 * an Origin (403 without): browsers send one on every POST, and it is what
 * stops other pages on the same host (same site for SameSite, another port)
 * from posting with the cookie. GET / is 302 /ui/; GET /login?token= trades
 * a login token for a session cookie and 303 /ui/; /login and /ui/style.css
 * are open to all; everything else needs a session (401: the login page,
 * or a Connect "unauthenticated" error for a POST), and a POST then goes on
 * to the RPCs acting as the admin who asked for the link. */
int hk_web_on_request(hk_server_request_t *req, void *ctx);

/* hk_api_t.login_link (arg: the hk_web_t); HK_EINVAL before
 * hk_web_set_listener. */
int hk_web_login_link(void *arg, const hk_peer_t *peer, char *url, size_t n, int64_t *expire_ms);

#endif
