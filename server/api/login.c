/* login.c -- CreateLoginLink: a one-time link into the admin page, for admins on the socket */
#include <stdint.h>

#include "api/api.h"
#include "api/methods.h"
#include "core/error.h"
#include "core/log.h"
#include "core/status.h"
#include "hookd/v1/webhooks.pb-c.h"

void hk_api_create_login_link(hk_call_t *call, const ProtobufCMessage *request)
{
    const hk_api_t *api = hk_api_of(call);
    const hk_peer_t *peer = hk_call_peer(call);
    char url[512];
    int64_t expire_ms = 0;

    (void)request;
    if (!api->login_link) {
        hk_rpc_fail(call, HK_STATUS_FAILED_PRECONDITION,
                    "the admin page is off: start hookd with http_listen (e.g. --set "
                    "http_listen=127.0.0.1:8480)");
        return;
    }
    int rc = api->login_link(api->login_link_arg, peer, url, sizeof url, &expire_ms);
    if (rc != 0) {
        hk_rpc_fail_err(call, rc, "login link");
        return;
    }
    /* The token never goes to the log: the uid that may use it does. */
    hk_log(HK_LOG_INFO, "login_link_created", "uid=%u pid=%d", (unsigned)peer->uid, (int)peer->pid);
    Hookd__V1__LoginLink resp = HOOKD__V1__LOGIN_LINK__INIT;
    resp.url = url;
    resp.expire_time = expire_ms;
    hk_rpc_reply(call, &resp.base);
}
