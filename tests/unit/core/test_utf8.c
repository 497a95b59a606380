/* test_utf8.c -- the strict UTF-8 decoder: accepted sequences and every kind of refusal */
#include "core/utf8.h"
#include "unit.h"

static size_t dec(const char *s, size_t n, uint32_t *cp)
{
    return hk_utf8_decode((const uint8_t *)s, n, cp);
}

TEST(accepts_each_length)
{
    uint32_t cp = 0;
    CHECK_INT(dec("A", 1, &cp), 1);
    CHECK_INT(cp, 'A');
    CHECK_INT(dec("\xc3\xa9", 2, &cp), 2); /* é */
    CHECK_INT(cp, 0xe9);
    CHECK_INT(dec("\xe2\x82\xac", 3, &cp), 3); /* € */
    CHECK_INT(cp, 0x20ac);
    CHECK_INT(dec("\xf0\x9f\x98\x80", 4, &cp), 4); /* U+1F600 */
    CHECK_INT(cp, 0x1f600);
    CHECK_INT(dec("\xf4\x8f\xbf\xbf", 4, &cp), 4); /* U+10FFFF, the last */
    CHECK_INT(cp, 0x10ffff);
}

TEST(refuses_malformed)
{
    uint32_t cp;
    CHECK_INT(dec("\x80", 1, &cp), 0);             /* a lone continuation byte */
    CHECK_INT(dec("\xc0\xaf", 2, &cp), 0);         /* overlong '/' */
    CHECK_INT(dec("\xe0\x80\xaf", 3, &cp), 0);     /* overlong, three bytes */
    CHECK_INT(dec("\xed\xa0\x80", 3, &cp), 0);     /* surrogate U+D800 */
    CHECK_INT(dec("\xf4\x90\x80\x80", 4, &cp), 0); /* above U+10FFFF */
    CHECK_INT(dec("\xc3"
                  "A",
                  2, &cp),
              0);                            /* bad continuation */
    CHECK_INT(dec("\xe2\x82", 2, &cp), 0);   /* cut short by n */
    CHECK_INT(dec("\xe2\x82\0", 3, &cp), 0); /* cut short by a NUL */
}
