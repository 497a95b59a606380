/* migrate.c -- crash_migrate DIR CHUNK TXNS: the first part of a schema-1 store's migration, as a
 * stop part way leaves it
 *
 * Opens the store in DIR the way hookd does (hk_store_open), migrating CHUNK records per
 * transaction for at most TXNS transactions, and closes it. workload.py --fixture runs it under
 * the crash shim before hookd, which carries the migration on at its start: the crash states
 * then cover a migration of many transactions and its resumption, where the fixture alone
 * needs one. Exit status: 0 when the migration paused part way (or was already done), 1 on
 * any other outcome of the open, 2 on usage. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "store/store.h"

extern size_t hk_store_migrate_chunk, hk_store_migrate_max_txns;

int main(int argc, char **argv)
{
    if (argc != 4 || atoi(argv[2]) < 1 || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: crash_migrate DIR CHUNK TXNS\n");
        return 2;
    }
    hk_store_migrate_chunk = (size_t)atoi(argv[2]);
    hk_store_migrate_max_txns = (size_t)atoi(argv[3]);
    hk_store_t *s = NULL;
    int err = hk_store_open(argv[1], 1u << 30, &s);
    if (err == 0) hk_store_close(s);
    if (err != HK_EBUSY && err != 0) {
        fprintf(stderr, "crash_migrate: %s\n", hk_strerror(err));
        return 1;
    }
    return 0;
}
