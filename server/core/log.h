/* log.h -- structured log lines: one event a line, key=value */
#ifndef HK_LOG_H
#define HK_LOG_H

typedef enum { HK_LOG_DEBUG, HK_LOG_INFO, HK_LOG_WARN, HK_LOG_ERROR } hk_log_level_t;

/* Lines below level are dropped. Default HK_LOG_INFO. */
void hk_log_set_level(hk_log_level_t level);

/* 1 when lines of level are written: lets a caller skip building them. */
int hk_log_enabled(hk_log_level_t level);

/* Parses "debug", "info", "warn", "error"; returns 0 or HK_EINVAL. */
int hk_log_parse_level(const char *s, hk_log_level_t *out);

/* Writes one line to stderr:
 *   ts=2026-11-26T22:34:28.123Z level=info event=<event> <fmt...>
 * fmt adds further key=value pairs ("id=%llu name=%s"); quote values that may
 * hold spaces with hk_log_quote. Never pass a secret. */
void hk_log(hk_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s into buf (size n) as a double-quoted, escaped log value and
 * returns buf; truncates to fit. */
const char *hk_log_quote(const char *s, char *buf, unsigned n);

#endif
