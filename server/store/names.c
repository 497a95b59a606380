/* names.c -- webhook names folded to one case: the key of the names index */
#include "store/names.h"
#include "core/error.h"

#include <string.h>

/* Each fold is a two-byte UTF-8 sequence folding to a two-byte one (or to
 * ASCII), so a folded name is never longer than the name. */
static const struct {
    uint16_t lo, hi;
    int16_t delta;
    uint8_t step; /* 1: every code point in lo..hi; 2: every other one */
} folds[] = {
    {0x00b5, 0x00b5, 775, 1}, /* micro sign -> Greek mu */
    {0x00c0, 0x00d6, 32, 1},   {0x00d8, 0x00de, 32, 1},  {0x0100, 0x012e, 1, 2},
    {0x0132, 0x0136, 1, 2},    {0x0139, 0x0147, 1, 2},   {0x014a, 0x0176, 1, 2},
    {0x0178, 0x0178, -121, 1}, {0x0179, 0x017d, 1, 2},   {0x017f, 0x017f, -268, 1},
    {0x0370, 0x0372, 1, 2},    {0x0376, 0x0376, 1, 1},   {0x037f, 0x037f, 116, 1},
    {0x0386, 0x0386, 38, 1},   {0x0388, 0x038a, 37, 1},  {0x038c, 0x038c, 64, 1},
    {0x038e, 0x038f, 63, 1},   {0x0391, 0x03a1, 32, 1},  {0x03a3, 0x03ab, 32, 1},
    {0x03c2, 0x03c2, 1, 1},    {0x03cf, 0x03cf, 8, 1},   {0x03d0, 0x03d0, -30, 1},
    {0x03d1, 0x03d1, -25, 1},  {0x03d5, 0x03d5, -15, 1}, {0x03d6, 0x03d6, -22, 1},
    {0x03d8, 0x03ee, 1, 2},    {0x03f0, 0x03f0, -54, 1}, {0x03f1, 0x03f1, -48, 1},
    {0x03f4, 0x03f4, -60, 1},  {0x03f5, 0x03f5, -64, 1}, {0x03f7, 0x03f7, 1, 1},
    {0x03f9, 0x03f9, -7, 1},   {0x03fa, 0x03fa, 1, 1},   {0x03fd, 0x03ff, -130, 1},
    {0x0400, 0x040f, 80, 1},   {0x0410, 0x042f, 32, 1},  {0x0460, 0x0480, 1, 2},
    {0x048a, 0x04be, 1, 2},    {0x04c0, 0x04c0, 15, 1},  {0x04c1, 0x04cd, 1, 2},
    {0x04d0, 0x052e, 1, 2},    {0x0531, 0x0556, 48, 1},
};

static unsigned fold_cp(unsigned cp)
{
    for (size_t i = 0; i < sizeof folds / sizeof folds[0]; i++) {
        if (cp < folds[i].lo || cp > folds[i].hi) continue;
        if (folds[i].step == 2 && (cp - folds[i].lo) % 2) return cp;
        return (unsigned)((int)cp + folds[i].delta);
    }
    return cp;
}

int hk_name_key(const char *name, size_t max_key, uint8_t *out, size_t *outlen)
{
    size_t len = name ? strlen(name) : 0, n = 0;
    if (len == 0 || len > max_key) return HK_EINVAL;
    const uint8_t *p = (const uint8_t *)name;
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i];
        if (c >= 'A' && c <= 'Z') {
            out[n++] = (uint8_t)(c + 32);
        } else if (c >= 0xc2 && c <= 0xd5 && i + 1 < len && (p[i + 1] & 0xc0) == 0x80) {
            unsigned cp = fold_cp((c & 0x1f) << 6 | (p[i + 1] & 0x3f));
            if (cp < 0x80) {
                out[n++] = (uint8_t)cp;
            } else {
                out[n++] = (uint8_t)(0xc0 | cp >> 6);
                out[n++] = (uint8_t)(0x80 | (cp & 0x3f));
            }
            i++;
        } else {
            out[n++] = (uint8_t)c;
        }
    }
    *outlen = n;
    return 0;
}
