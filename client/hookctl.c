/* hookctl.c -- the admin CLI of hookd: global options, the command table, errors */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hookctl.h"

/* In the order of the admin page: the list, a webhook's pages, then events. */
static const hk_ctl_command_t *const commands[] = {
    &hk_cmd_list,     &hk_cmd_show,       &hk_cmd_create,    &hk_cmd_edit,
    &hk_cmd_activate, &hk_cmd_deactivate, &hk_cmd_delete,    &hk_cmd_actions,
    &hk_cmd_trigger,  &hk_cmd_deliveries, &hk_cmd_redeliver, &hk_cmd_ui,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *out)
{
    fprintf(out, "usage: hookctl [--socket PATH] COMMAND [OPTIONS] [ARGS]\n"
                 "\n"
                 "hookctl manages the webhooks of hookd, as the APIs > Webhooks page does.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-12s%s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\n"
            "Options of every command:\n"
            "  --socket PATH  hookd's socket (default: $HOOKD_SOCKET, else hookd's default:\n"
            "                 " HK_CLIENT_ROOT_SOCKET " for root, ~/" HK_CLIENT_USER_SOCKET ")\n"
            "  --json         print the result as JSON, for scripts\n"
            "  --help         the command's help\n"
            "\n"
            "Exit status: 0 done; 1 hookd refused or failed (\"hookctl: STATUS: message\" on\n"
            "stderr); 2 bad usage. Run `hookctl COMMAND --help` for a command's options.\n");
}

static void print_command_help(const hk_ctl_command_t *cmd)
{
    printf("usage: hookctl %s %s\n\n%s.\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->help && *cmd->help) printf("\n%s", cmd->help);
    printf("\n  --socket PATH  hookd's socket (default: $HOOKD_SOCKET, else hookd's default)\n"
           "  --json         print the result as JSON\n"
           "  --help         this text\n");
}

int hk_ctl_usage(hk_ctl_t *ctl, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hookctl %s: ", ctl->cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: hookctl %s %s\nTry 'hookctl %s --help' for more.\n", ctl->cmd->name,
            ctl->cmd->usage, ctl->cmd->name);
    return HK_CTL_EXIT_USAGE;
}

int hk_ctl_parse(hk_ctl_t *ctl, int argc, char **argv, const struct option *opts,
                 int (*on_option)(hk_ctl_t *ctl, int opt, const char *arg, void *data), void *data,
                 int *first, int *exit_code)
{
    int c, index;
    optind = 0; /* glibc: start over, argv is a new vector */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, &index)) != -1) {
        switch (c) {
        case HK_CTL_OPT_SOCKET: ctl->socket = optarg; break;
        case HK_CTL_OPT_JSON: ctl->json = 1; break;
        case 'h':
        case HK_CTL_OPT_HELP:
            print_command_help(ctl->cmd);
            *exit_code = 0;
            return -1;
        case ':':
            *exit_code = hk_ctl_usage(ctl, "option '%s' needs a value", argv[optind - 1]);
            return -1;
        case '?':
            if (optopt)
                *exit_code = hk_ctl_usage(ctl, "unknown option '-%c'", optopt);
            else
                *exit_code = hk_ctl_usage(ctl, "unknown option '%s'", argv[optind - 1]);
            return -1;
        default:
            /* on_option printed why (hk_ctl_usage). */
            if (!on_option || on_option(ctl, c, optarg, data) != 0) {
                *exit_code = HK_CTL_EXIT_USAGE;
                return -1;
            }
        }
    }
    *first = optind;
    return 0;
}

hk_client_t *hk_ctl_client(hk_ctl_t *ctl)
{
    if (ctl->client) return ctl->client;
    int rc = hk_client_open(ctl->socket, &ctl->client);
    if (rc != 0) {
        fprintf(stderr,
                "hookctl: %s: cannot use the socket path (too long, or no home directory "
                "for the default); set --socket or HOOKD_SOCKET\n",
                hk_client_status_name(rc));
        return NULL;
    }
    return ctl->client;
}

int hk_ctl_fail(hk_ctl_t *ctl)
{
    const char *msg;
    int code = hk_client_last_status(ctl->client, &msg);
    fprintf(stderr, "hookctl: %s: ", hk_client_status_name(code));
    hk_print_safe(stderr, msg);
    fputc('\n', stderr);
    return HK_CTL_EXIT_FAILED;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    hk_ctl_t ctl = {0};
    int c;

    opterr = 0;
    /* '+': global options stop at the command; the command parses the rest. */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': ctl.socket = optarg; break;
        case 'h': print_usage(stdout); return 0;
        case 'V': printf("hookctl %s\n", HK_VERSION); return 0;
        case ':':
            fprintf(stderr, "hookctl: option '%s' needs a value\n", argv[optind - 1]);
            print_usage(stderr);
            return HK_CTL_EXIT_USAGE;
        default:
            fprintf(stderr, "hookctl: unknown option '%s'\n", argv[optind - 1]);
            print_usage(stderr);
            return HK_CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hookctl: no command given\n");
        print_usage(stderr);
        return HK_CTL_EXIT_USAGE;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[optind], commands[i]->name) != 0) continue;
        ctl.cmd = commands[i];
        int rc = ctl.cmd->run(&ctl, argc - optind, argv + optind);
        hk_client_close(ctl.client);
        if (fflush(stdout) != 0 && rc == 0) {
            perror("hookctl: stdout");
            rc = HK_CTL_EXIT_FAILED;
        }
        return rc;
    }
    fprintf(stderr, "hookctl: unknown command '%s'\n", argv[optind]);
    print_usage(stderr);
    return HK_CTL_EXIT_USAGE;
}
