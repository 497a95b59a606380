/* assets.c -- the admin page's files (client/web/), embedded in hookd at build time */
#include "web/assets.h"

#include <string.h>

const hk_asset_t *hk_asset_find(const char *path, size_t len)
{
    const char *q = memchr(path, '?', len);
    if (q) len = (size_t)(q - path);
    static const char dir[] = "/ui/", index[] = "/ui/index.html";
    if ((len == sizeof dir - 1 && memcmp(path, dir, len) == 0) ||
        (len == 3 && !memcmp(path, "/ui", 3))) {
        path = index;
        len = sizeof index - 1;
    }
    for (const hk_asset_t *a = hk_assets; a->path; a++)
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0) return a;
    return NULL;
}
