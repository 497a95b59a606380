/* hookctl.h -- hookctl inside: the command context, option parsing, output helpers */
#ifndef HK_HOOKCTL_H
#define HK_HOOKCTL_H

#include <getopt.h>
#include <stdio.h>

#include "hookd/client.h"

/* Exit codes: 0 done, 1 hookd refused or failed (status on stderr), 2 bad
 * usage, 3 `trigger` was answered but a synchronous receiver failed. */
#define HK_CTL_EXIT_FAILED 1
#define HK_CTL_EXIT_USAGE 2
#define HK_CTL_EXIT_RECEIVER 3

/* Deadlines: admin calls are quick; a trigger waits for synchronous receivers
 * (up to 600 s each, in parallel). */
#define HK_CTL_DEADLINE_MS 30000
#define HK_CTL_TRIGGER_DEADLINE_MS 660000

/* Long options every command has; command options use values from 'a'. */
enum { HK_CTL_OPT_SOCKET = 1000, HK_CTL_OPT_JSON, HK_CTL_OPT_HELP, HK_CTL_OPT_WIDE };
/* --wide, for the commands whose tables may be cut to the terminal's width. */
#define HK_CTL_WIDE_OPTION                                                                         \
    {                                                                                              \
        "wide", no_argument, NULL, HK_CTL_OPT_WIDE                                                 \
    }
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
    int json;           /* --json, anywhere on the line */
    int wide;           /* --wide: no cell is cut to the terminal's width */
    const hk_ctl_command_t *cmd;
    hk_client_t *client;
    Hookd__V1__ListTriggerActionsResponse *catalog; /* hk_ctl_action_name's, on first use */
    int catalog_failed;
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

/* The display name of trigger action key of application ("Account Update"),
 * from hookd's catalog (ListTriggerActions, read once); key itself when the
 * catalog has no such entry or cannot be read. */
const char *hk_ctl_action_name(hk_ctl_t *ctl, int application, const char *key);

/* The terminal's width in columns when stdout is one, else $COLUMNS, else 0
 * (no limit). 0 too with --wide. */
int hk_ctl_width(const hk_ctl_t *ctl);

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
/* As hk_table_print, but when a row would be wider than width (> 0), column
 * col is narrowed to fit (to 12 characters at the least) and its longer
 * cells are cut, ending in "...". */
void hk_table_print_fit(const hk_table_t *t, FILE *out, int width, int col);
void hk_table_free(hk_table_t *t);

/* "Label:" value lines, labels padded to one width. */
void hk_print_field(FILE *out, const char *label, const char *value);

/* A message as JSON: proto field names, enums as lowercase words without
 * their prefix ("enterprise", "http_error"), 64-bit numbers as numbers, bytes
 * as UTF-8 text, two-space indentation. */
void hk_json_message(FILE *out, const ProtobufCMessage *m, int indent);
/* As hk_json_message, without the fields named in omit (NULL-terminated). */
void hk_json_message_omit(FILE *out, const ProtobufCMessage *m, int indent,
                          const char *const *omit);
/* {"key": [ items ]}, each item without the fields in omit (may be NULL). */
void hk_json_list(FILE *out, const char *key, const ProtobufCMessage *const *items, size_t n,
                  const char *const *omit);

/* The lowercase word for an enum value ("enterprise"), as hk_json_message
 * writes it, into buf. */
const char *hk_print_enum(const ProtobufCEnumDescriptor *e, int value, char *buf, size_t len);
/* "Enterprise" / "Elite". */
const char *hk_print_application(int application);
/* Unix epoch milliseconds as "2024-05-01T12:00:00Z"; "-" for 0. */
const char *hk_print_time(long long ms, char *buf, size_t len);
/* Writes s fit for a terminal: control characters escaped (\n, \x1b). */
void hk_print_safe(FILE *out, const char *s);

/* The webhook as the details page shows it; action_name is its trigger
 * action's display name (NULL: the key alone). */
void hk_print_webhook(FILE *out, const Hookd__V1__Webhook *w, const char *action_name);

/* ---- the commands ---------------------------------------------------------- */

extern const hk_ctl_command_t hk_cmd_list, hk_cmd_show, hk_cmd_create, hk_cmd_edit, hk_cmd_activate,
    hk_cmd_deactivate, hk_cmd_delete, hk_cmd_actions, hk_cmd_trigger, hk_cmd_deliveries,
    hk_cmd_delivery, hk_cmd_redeliver;
extern const hk_ctl_command_t hk_cmd_ui; /* hookctl_ui.c */

#endif
