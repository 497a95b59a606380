/* hookctl.h -- hookctl inside: the command context, option parsing, output helpers */
#ifndef HK_HOOKCTL_H
#define HK_HOOKCTL_H

#include <getopt.h>
#include <stdio.h>

#include "hookd/client.h"

/* Exit codes: 0 done, 1 hookd refused or failed (status on stderr), 2 bad usage. */
#define HK_CTL_EXIT_FAILED 1
#define HK_CTL_EXIT_USAGE 2

/* Deadlines: admin calls are quick; a trigger waits for synchronous receivers
 * (up to 600 s each, in parallel). */
#define HK_CTL_DEADLINE_MS 30000
#define HK_CTL_TRIGGER_DEADLINE_MS 660000

/* Long options every command has; command options use values from 'a'. */
enum { HK_CTL_OPT_SOCKET = 1000, HK_CTL_OPT_JSON, HK_CTL_OPT_HELP };
#define HK_CTL_COMMON_OPTIONS                                                                      \
    {"socket", required_argument, NULL, HK_CTL_OPT_SOCKET},                                        \
        {"help", no_argument, NULL, HK_CTL_OPT_HELP},                                              \
    {                                                                                              \
        "json", no_argument, NULL, HK_CTL_OPT_JSON                                                 \
    }

typedef struct hk_ctl hk_ctl_t;

typedef struct hk_ctl_command {
    const char *name;
    int (*run)(hk_ctl_t *ctl, int argc, char **argv); /* returns the exit code */
    const char *usage;                                /* the arguments after "hookctl NAME" */
    const char *summary;                              /* one line for `hookctl --help` */
    const char *help;                                 /* the options, for `hookctl NAME --help` */
} hk_ctl_command_t;

struct hk_ctl {
    const char *socket; /* --socket; NULL: HOOKD_SOCKET, else hookd's default */
    int json;
    const hk_ctl_command_t *cmd;
    hk_client_t *client;
};

/* ---- hookctl.c ------------------------------------------------------------ */

/* Prints "hookctl CMD: <why>", the command's usage line and a hint to stderr;
 * returns HK_CTL_EXIT_USAGE. */
int hk_ctl_usage(hk_ctl_t *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses the command's options (opts ends with HK_CTL_COMMON_OPTIONS and a
 * zero entry); options and positional arguments may come in any order.
 * on_option handles the command's own and returns 0, or -1 after printing why
 * a value is bad (with hk_ctl_usage). Returns 0 with argv[*first..argc) the
 * positional arguments, or -1 with the exit code in *exit_code (help shown: 0,
 * bad usage: 2). */
int hk_ctl_parse(hk_ctl_t *ctl, int argc, char **argv, const struct option *opts,
                 int (*on_option)(hk_ctl_t *ctl, int opt, const char *arg, void *data), void *data,
                 int *first, int *exit_code);

/* The client for ctl->socket, opened on first use; NULL after printing why. */
hk_client_t *hk_ctl_client(hk_ctl_t *ctl);

/* Prints "hookctl: STATUS: message" for the client's last failed call;
 * returns HK_CTL_EXIT_FAILED. */
int hk_ctl_fail(hk_ctl_t *ctl);

/* ---- hookctl_args.c: words and values on the command line ------------------ */

/* "enterprise" / "elite" -> the enum value; returns 0 or -1. */
int hk_args_application(const char *word, int *out);
/* "active" / "inactive" -> 1 / 0. */
int hk_args_status(const char *word, int *out);
int hk_args_origin(const char *word, int *out);
int hk_args_auth_method(const char *word, int *out);
int hk_args_delivery_state(const char *word, int *out);
/* A decimal number in [min, max]. */
int hk_args_uint(const char *s, unsigned long long min, unsigned long long max,
                 unsigned long long *out);
/* A --payload value: the text itself, or "@file" read whole ("@-": stdin).
 * On success *data is malloc'ed (free it). Prints why on failure. */
int hk_args_payload(const char *arg, char **data, size_t *len);

/* ---- hookctl_print.c: tables, detail blocks, JSON, words for enums --------- */

/* A table whose columns are as wide as their widest cell (in characters),
 * separated by three spaces, the last one unpadded. */
typedef struct hk_table hk_table_t;
hk_table_t *hk_table_new(int ncols, const char *const *headers);
/* Adds a row of ncols cells (copied; control characters are shown escaped). */
int hk_table_add(hk_table_t *t, const char *const *cells);
void hk_table_print(const hk_table_t *t, FILE *out);
void hk_table_free(hk_table_t *t);

/* "Label:" value lines, labels padded to one width. */
void hk_print_field(FILE *out, const char *label, const char *value);

/* A message as JSON: proto field names, enums as lowercase words without
 * their prefix ("enterprise", "http_error"), 64-bit numbers as numbers, bytes
 * as UTF-8 text, two-space indentation. */
void hk_json_message(FILE *out, const ProtobufCMessage *m, int indent);
/* {"key": [ items ]} */
void hk_json_list(FILE *out, const char *key, const ProtobufCMessage *const *items, size_t n);

/* The lowercase word for an enum value ("enterprise"), as hk_json_message
 * writes it, into buf. */
const char *hk_print_enum(const ProtobufCEnumDescriptor *e, int value, char *buf, size_t len);
/* "Enterprise" / "Elite". */
const char *hk_print_application(int application);
/* Unix epoch milliseconds as "2024-05-01T12:00:00Z"; "-" for 0. */
const char *hk_print_time(long long ms, char *buf, size_t len);
/* Writes s fit for a terminal: control characters escaped (\n, \x1b). */
void hk_print_safe(FILE *out, const char *s);

/* The webhook as the details page shows it. */
void hk_print_webhook(FILE *out, const Hookd__V1__Webhook *w);

/* ---- the commands ---------------------------------------------------------- */

extern const hk_ctl_command_t hk_cmd_list, hk_cmd_show, hk_cmd_create, hk_cmd_edit, hk_cmd_activate,
    hk_cmd_deactivate, hk_cmd_delete, hk_cmd_actions, hk_cmd_trigger, hk_cmd_deliveries,
    hk_cmd_redeliver;
extern const hk_ctl_command_t hk_cmd_ui; /* hookctl_ui.c */

#endif
