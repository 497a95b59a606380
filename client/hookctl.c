/* hookctl.c -- the admin CLI of hookd: global options, the command table, errors */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hookctl.h"

static int run_help(hk_ctl_t *ctl, int argc, char **argv);

static const hk_ctl_command_t hk_cmd_help = {
    "help", run_help, "[COMMAND]", "this list, or a command's options", "",
};

/* In the order of the admin page: the list, a webhook's pages, then events. */
static const hk_ctl_command_t *const commands[] = {
    &hk_cmd_list,       &hk_cmd_show,      &hk_cmd_create,  &hk_cmd_edit,    &hk_cmd_activate,
    &hk_cmd_deactivate, &hk_cmd_delete,    &hk_cmd_actions, &hk_cmd_trigger, &hk_cmd_deliveries,
    &hk_cmd_delivery,   &hk_cmd_redeliver, &hk_cmd_ui,      &hk_cmd_help,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *out)
{
    fprintf(out, "usage: hookctl [--socket PATH] [--json] COMMAND [OPTIONS] [ARGS]\n"
                 "\n"
                 "hookctl manages the webhooks of hookd, as the APIs > Webhooks page does.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-12s%s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\n"
            "A webhook is named by its name or its id (a name first, then an id).\n"
            "\n"
            "Options of every command (anywhere on the line):\n"
            "  --socket PATH  hookd's socket, a path or unix:///path (default: $HOOKD_SOCKET,\n"
            "                 else " HK_CLIENT_ROOT_SOCKET " for root, ~/" HK_CLIENT_USER_SOCKET
            ")\n"
            "  --json         print the result as JSON, for scripts\n"
            "  --help         the command's help\n"
            "\n"
            "Exit status: 0 done; 1 hookd refused or failed (\"hookctl: STATUS: message\" on\n"
            "stderr); 2 bad usage; 3 `trigger` was answered but a synchronous receiver\n"
            "failed. Run `hookctl help COMMAND` for a command's options.\n");
}

static void print_command_help(const hk_ctl_command_t *cmd)
{
    printf("usage: hookctl %s %s\n\n%s.\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->help && *cmd->help) printf("\n%s", cmd->help);
    printf("\n  --socket PATH  hookd's socket, a path or unix:///path (default: $HOOKD_SOCKET,\n"
           "                 else hookd's default)\n"
           "  --json         print the result as JSON\n"
           "  --help         this text\n");
}

static const hk_ctl_command_t *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i]->name) == 0) return commands[i];
    return NULL;
}

static int run_help(hk_ctl_t *ctl, int argc, char **argv)
{
    int first, rc;
    static const struct option opts[] = {HK_CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    if (hk_ctl_parse(ctl, argc, argv, opts, NULL, NULL, &first, &rc) != 0) return rc;
    if (first >= argc) {
        print_usage(stdout);
        return 0;
    }
    if (first + 1 < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first + 1]);
    const hk_ctl_command_t *cmd = find_command(argv[first]);
    if (!cmd) return hk_ctl_usage(ctl, "unknown command '%s'", argv[first]);
    print_command_help(cmd);
    return 0;
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
        case HK_CTL_OPT_WIDE: ctl->wide = 1; break;
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
    const char *path = ctl->socket && *ctl->socket ? ctl->socket : getenv("HOOKD_SOCKET");
    /* The form hookd prints and gRPC clients take: unix:///path. */
    if (path && strncmp(path, "unix://", 7) == 0) path += 7;
    int rc = hk_client_open(path, &ctl->client);
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

const char *hk_ctl_action_name(hk_ctl_t *ctl, int application, const char *key)
{
    if (!ctl->catalog && !ctl->catalog_failed) {
        Hookd__V1__ListTriggerActionsRequest req = HOOKD__V1__LIST_TRIGGER_ACTIONS_REQUEST__INIT;
        if (!hk_ctl_client(ctl) || hk_client_list_trigger_actions(
                                       ctl->client, &req, HK_CTL_DEADLINE_MS, &ctl->catalog) != 0) {
            ctl->catalog = NULL;
            ctl->catalog_failed = 1;
        }
    }
    for (size_t i = 0; ctl->catalog && i < ctl->catalog->n_trigger_actions; i++) {
        const Hookd__V1__TriggerAction *a = ctl->catalog->trigger_actions[i];
        if ((int)a->application == application && strcmp(a->key, key) == 0 && *a->display_name)
            return a->display_name;
    }
    return key;
}

int hk_ctl_width(const hk_ctl_t *ctl)
{
    struct winsize ws;
    if (ctl->wide) return 0;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    int n = cols ? atoi(cols) : 0;
    return n > 0 ? n : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
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
        case 'j': ctl.json = 1; break;
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
    ctl.cmd = find_command(argv[optind]);
    if (!ctl.cmd) {
        fprintf(stderr, "hookctl: unknown command '%s'\n", argv[optind]);
        print_usage(stderr);
        return HK_CTL_EXIT_USAGE;
    }
    int rc = ctl.cmd->run(&ctl, argc - optind, argv + optind);
    if (ctl.catalog) protobuf_c_message_free_unpacked(&ctl.catalog->base, NULL);
    hk_client_close(ctl.client);
    if (fflush(stdout) != 0 && rc == 0) {
        perror("hookctl: stdout");
        rc = HK_CTL_EXIT_FAILED;
    }
    return rc;
}
