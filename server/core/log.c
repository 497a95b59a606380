/* log.c -- structured log lines: one event a line, key=value */
#include "core/log.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static hk_log_level_t min_level = HK_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hk_log_set_level(hk_log_level_t level)
{
    min_level = level;
}

int hk_log_enabled(hk_log_level_t level)
{
    return level >= min_level;
}

int hk_log_parse_level(const char *s, hk_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (hk_log_level_t)i;
            return 0;
        }
    }
    return HK_EINVAL;
}

void hk_log(hk_log_level_t level, const char *event, const char *fmt, ...)
{
    if (level < min_level) return;

    struct timeval tv;
    struct tm tm;
    char line[2048];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), level_names[level], event);
    if (fmt && *fmt && n < (int)sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        n = m < 0 ? n : n + m;
    }
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole when several processes share stderr. */
    fwrite(line, 1, (size_t)n, stderr);
}

const char *hk_log_quote(const char *s, char *buf, unsigned n)
{
    unsigned j = 0;
    if (n < 3) {
        if (n) buf[0] = '\0';
        return buf;
    }
    buf[j++] = '"';
    for (; s && *s && j + 3 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[j++] = '\\';
            buf[j++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            buf[j++] = '?';
        } else {
            buf[j++] = (char)c;
        }
    }
    buf[j++] = '"';
    buf[j] = '\0';
    return buf;
}
