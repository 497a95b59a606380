/* assets.h -- the admin page's files (client/web/), embedded in hookd at build time */
#ifndef HK_ASSETS_H
#define HK_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path;         /* "/ui/app.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
} hk_asset_t;

/* The generated table (assets_data.c), ended by an entry with path NULL. */
extern const hk_asset_t hk_assets[];

/* The asset served at path ("/ui/" is "/ui/index.html"; a query string is
 * ignored), or NULL. */
const hk_asset_t *hk_asset_find(const char *path, size_t len);

#endif
