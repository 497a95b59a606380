/* test_json.c -- JSON string quoting (golden strings) and validation */
#include "unit.h"

#include "core/error.h"
#include "deliver/json.h"

#include <stdlib.h>

/* Quotes in (len bytes) and compares with want; prints both when different. */
static int quoted_is(const char *in, size_t len, const char *want)
{
    char *out = malloc(HK_JSON_QUOTED_MAX(len));
    size_t n = hk_json_quote(in, len, out);
    int ok = n == strlen(want) && strcmp(out, want) == 0;
    if (!ok) fprintf(stderr, "  quoted %s, want %s\n", out, want);
    free(out);
    return ok;
}
#define QUOTED_IS(lit, want) quoted_is(lit, sizeof(lit) - 1, want)

TEST(quote_plain_and_escapes)
{
    CHECK(QUOTED_IS("", "\"\""));
    CHECK(QUOTED_IS("hookd", "\"hookd\""));
    CHECK(QUOTED_IS("a\"b\\c/d", "\"a\\\"b\\\\c/d\""));
    CHECK(QUOTED_IS("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""));
    CHECK(QUOTED_IS("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""));
    CHECK(QUOTED_IS("nul\0here", "\"nul\\u0000here\""));
    CHECK(QUOTED_IS("https://example.com/a?b=\"c\"&d=e",
                    "\"https://example.com/a?b=\\\"c\\\"&d=e\""));
}

TEST(quote_utf8)
{
    /* Valid UTF-8 goes through as it is: 2, 3 and 4-byte sequences. */
    CHECK(QUOTED_IS("Z\xc3\xbcrich \xe2\x98\x83 \xf0\x9f\x98\x80",
                    "\"Z\xc3\xbcrich \xe2\x98\x83 \xf0\x9f\x98\x80\""));
    /* U+2028 and U+2029 are escaped (JavaScript line terminators). */
    CHECK(QUOTED_IS("a\xe2\x80\xa8"
                    "b\xe2\x80\xa9",
                    "\"a\\u2028b\\u2029\""));
    /* Invalid sequences: each bad byte becomes U+FFFD, escaped. */
    CHECK(QUOTED_IS("\xff", "\"\\ufffd\""));
    CHECK(QUOTED_IS("\x80x", "\"\\ufffdx\""));                     /* lone continuation */
    CHECK(QUOTED_IS("\xc3", "\"\\ufffd\""));                       /* truncated at the end */
    CHECK(QUOTED_IS("\xc3(", "\"\\ufffd(\""));                     /* truncated mid-string */
    CHECK(QUOTED_IS("\xc0\xaf", "\"\\ufffd\\ufffd\""));            /* overlong '/' */
    CHECK(QUOTED_IS("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"")); /* overlong, 3 bytes */
    CHECK(QUOTED_IS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"")); /* surrogate D800 */
    CHECK(QUOTED_IS("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"")); /* > U+10FFFF */
}

TEST(quote_worst_case_fits)
{
    char in[64];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)(i % 2 ? 0x01 : 0xff);
    char out[HK_JSON_QUOTED_MAX(sizeof in)];
    size_t n = hk_json_quote(in, sizeof in, out);
    CHECK_INT(n, 6 * sizeof in + 2);
    CHECK_INT(out[n], '\0');
    CHECK_INT(hk_json_check((const uint8_t *)out, n, NULL, 0), 0);
}

static int check_text(const char *s)
{
    return hk_json_check((const uint8_t *)s, strlen(s), NULL, 0);
}

TEST(check_accepts)
{
    const char *good[] = {"{}",
                          "[]",
                          " {\"a\" : [1, -2.5e+3, 0, 0.0, 1E9, true, false, null, \"x\"]} ",
                          "\"just a string\"",
                          "42",
                          "-0",
                          "null",
                          "{\"\\u00e9\\n\\\"\\/\":\"Z\xc3\xbcrich\"}",
                          "[[[[[]]]]]",
                          "{\"a\":{\"b\":{\"c\":[{}]}}}",
                          "\t\r\n[1]\n"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (check_text(good[i]) != 0) {
            fprintf(stderr, "  refused %s\n", good[i]);
            CHECK(0);
        }
    }
}

TEST(check_refuses)
{
    const char *bad[] = {"",           " ",        "{",           "}",
                         "[1,]",       "{\"a\":}", "{\"a\" 1}",   "{a:1}",
                         "{\"a\":1,}", "[1 2]",    "01",          "1.",
                         ".5",         "+1",       "1e",          "--1",
                         "tru",        "nulll",    "True",        "\"abc",
                         "\"a\tb\"",   "\"\\x\"",  "\"\\u12g4\"", "\"\\u12\"",
                         "[1] [2]",    "{} x",     "NaN",         "Infinity",
                         "'a'",        "\"\xff\"", "\"\xc3\"",    "[\"\xed\xa0\x80\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check_text(bad[i]) != HK_EINVAL) {
            fprintf(stderr, "  accepted [%s]\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_INT(hk_json_check(NULL, 0, NULL, 0), HK_EINVAL);
    /* A NUL inside is not the end of the text. */
    CHECK_INT(hk_json_check((const uint8_t *)"[1]\0", 4, NULL, 0), HK_EINVAL);
}

TEST(check_depth_limit)
{
    char deep[2 * HK_JSON_MAX_DEPTH + 3];
    size_t n = 0;
    for (int i = 0; i < HK_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < HK_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    CHECK_INT(hk_json_check((const uint8_t *)deep, n, NULL, 0), 0);

    n = 0;
    for (int i = 0; i <= HK_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i <= HK_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    CHECK_INT(hk_json_check((const uint8_t *)deep, n, NULL, 0), HK_EINVAL);

    /* A megabyte of '[' must not exhaust the stack. */
    size_t big = 1 << 20;
    char *p = malloc(big);
    memset(p, '[', big);
    int rc = hk_json_check((const uint8_t *)p, big, NULL, 0);
    free(p);
    CHECK_INT(rc, HK_EINVAL);
}

TEST(check_says_why)
{
    char why[192];
    CHECK_INT(hk_json_check((const uint8_t *)"{\"a\":1,\n \"b\":}", 15, why, sizeof why),
              HK_EINVAL);
    CHECK(strstr(why, "line 2") != NULL);
    CHECK_INT(hk_json_check((const uint8_t *)"", 0, why, sizeof why), HK_EINVAL);
    CHECK_STR(why, "empty text");
    char deep[2 * HK_JSON_MAX_DEPTH + 5];
    size_t n = 0;
    for (int i = 0; i <= HK_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i <= HK_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    CHECK_INT(hk_json_check((const uint8_t *)deep, n, why, sizeof why), HK_EINVAL);
    CHECK(strstr(why, "nested deeper than 128") != NULL);
    /* JSON puts no limit on integers, and \u0000 is a character like any. */
    CHECK_INT(
        hk_json_check((const uint8_t *)"[123456789012345678901234567890]", 32, why, sizeof why), 0);
    CHECK_INT(hk_json_check((const uint8_t *)"\"a\\u0000b\"", 10, why, sizeof why), 0);
    CHECK_STR(why, "");
}
