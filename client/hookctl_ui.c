/* hookctl_ui.c -- `hookctl ui`: a one-time login link into hookd's admin page */
#include <stdio.h>

#include "hookctl.h"

static int run_ui(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {HK_CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    Hookd__V1__CreateLoginLinkRequest req = HOOKD__V1__CREATE_LOGIN_LINK_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int first, rc;

    if (hk_ctl_parse(ctl, argc, argv, opts, NULL, NULL, &first, &rc) != 0) return rc;
    if (first < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first]);
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    if (hk_client_unary(ctl->client, &hookd__v1__webhooks__descriptor, "CreateLoginLink", &req.base,
                        HK_CTL_DEADLINE_MS, &resp) != 0)
        return hk_ctl_fail(ctl);
    const Hookd__V1__LoginLink *link = (const void *)resp;
    if (ctl->json) {
        hk_json_message(stdout, resp, 0);
        putchar('\n');
    } else {
        /* One line, the URL: `xdg-open "$(hookctl ui)"` works. */
        hk_print_safe(stdout, link->url);
        putchar('\n');
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_ui = {
    "ui",
    run_ui,
    "[--json]",
    "print a one-time link that logs a browser into hookd's admin page",
    "hookd must run with its http_listen config key set (e.g. 127.0.0.1:8480); the link\n"
    "works once, within a few minutes, and only for admins.\n",
};
