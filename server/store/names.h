/* names.h -- the case-insensitive key of a webhook name (store-internal; no LMDB) */
#ifndef HK_STORE_NAMES_H
#define HK_STORE_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Writes the folded name into out (max_key + 1 bytes at least) and its length
 * into *outlen. HK_EINVAL when the name is empty (or NULL) or longer than
 * max_key bytes. The folded name is never longer than the name.
 *
 * Simple case folding (Unicode CaseFolding.txt, status C and S) of the
 * blocks ASCII, Latin-1 Supplement, Latin Extended-A, Greek and Coptic,
 * Cyrillic, Cyrillic Supplement and Armenian. Other blocks, full foldings
 * (ß -> ss), invalid UTF-8 and normalization forms compare byte for byte.
 * The result is the key of the names index: changing the folding changes
 * which names collide and needs a new schema that rebuilds the index. */
int hk_name_key(const char *name, size_t max_key, uint8_t *out, size_t *outlen);

#endif
