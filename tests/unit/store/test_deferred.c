/* test_deferred.c -- writes nobody waits for: kept when their batch fails, written when it goes
 * again, bounded, given up at close; the due entries they hold */
#include "core/error.h"
#include "store/store_impl.h" /* the environment's fd, the holds */
#include "storetest.h"
#include "unit.h"

#include <fcntl.h>
#include <unistd.h>

/* The disk refuses every write of the data file while on: its fd is
 * /dev/full's (ENOSPC) for a while. LMDB reads through its map, so reads
 * go on. */
static int saved_fd = -1;
static void disk_fails(hk_store_t *s, int on)
{
    mdb_filehandle_t fd;
    if (mdb_env_get_fd(s->env, &fd) != 0) return;
    if (on) {
        int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
        saved_fd = dup(fd);
        dup2(full, fd);
        close(full);
    } else {
        dup2(saved_fd, fd);
        close(saved_fd);
        saved_fd = -1;
    }
}

static uint64_t kept(hk_store_t *s)
{
    hk_store_write_stats_t st;
    hk_store_write_stats(s, &st);
    return st.kept;
}

/* A committed PENDING delivery and, from the loop, its attempt's result:
 * a write nobody waits for, which holds the delivery. */
static uint64_t attempted(hk_store_t *s, uint64_t wid)
{
    uint64_t id = put(s, wid, PENDING, 0, 1);
    hk_attempt_t a = attempt(HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED, 200);
    if (!id || hk_outbox_batch_commit(s) != 0 ||
        hk_outbox_attempt_record(s, id, &a, HK_DELIVERY_SUCCEEDED, 0, NULL) != 0)
        return 0;
    return id;
}

/* A fresh store with attempted()'s delivery in *id (0: something failed). */
static hk_store_t *store_with_attempt(uint64_t *id)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    *id = s ? attempted(s, webhook(s, "a", 1)) : 0;
    return s;
}

TEST(a_kept_write_goes_again_and_is_written)
{
    uint64_t id;
    hk_store_t *s = store_with_attempt(&id);
    CHECK(s && id);
    CHECK(hk_batch_held(s, id));

    disk_fails(s, 1);
    CHECK_INT(hk_outbox_batch_commit(s), HK_ENOSPC);
    CHECK_INT(kept(s), 1);
    CHECK(hk_batch_held(s, id));         /* not handed out again meanwhile */
    CHECK_INT(state_of(s, id), PENDING); /* nothing of it written */
    CHECK_INT(hk_store_retry(s, 0), 1);  /* again: still refused, still kept */
    CHECK_INT(hk_outbox_batch_commit(s), HK_ENOSPC);
    CHECK_INT(kept(s), 1);

    disk_fails(s, 0);
    CHECK_INT(hk_store_retry(s, 0), 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(state_of(s, id), HK_DELIVERY_SUCCEEDED);
    CHECK_INT(kept(s), 0);
    CHECK(!hk_batch_held(s, id));
    CHECK_INT(hk_store_retry(s, 0), 0);
    hk_store_close(s);
}

TEST(kept_writes_are_bounded)
{
    uint64_t id;
    hk_store_t *s = store_with_attempt(&id);
    CHECK(s && id);
    size_t saved = hk_store_kept_max;
    hk_store_kept_max = 1; /* less than any write holds */
    disk_fails(s, 1);
    CHECK_INT(hk_outbox_batch_commit(s), HK_ENOSPC);
    disk_fails(s, 0);
    hk_store_kept_max = saved;
    CHECK_INT(kept(s), 0); /* given up: logged, and the hold let go */
    CHECK(!hk_batch_held(s, id));
    CHECK_INT(hk_store_retry(s, 0), 0);
    CHECK_INT(state_of(s, id), PENDING); /* waits for the next start's resume */
    hk_store_close(s);
}

TEST(the_last_try_at_close_gives_up)
{
    uint64_t id;
    hk_store_t *s = store_with_attempt(&id);
    CHECK(s && id);
    disk_fails(s, 1);
    CHECK_INT(hk_outbox_batch_commit(s), HK_ENOSPC);
    CHECK_INT(kept(s), 1);
    CHECK_INT(hk_store_retry(s, 1), 1); /* final */
    CHECK_INT(hk_outbox_batch_commit(s), HK_ENOSPC);
    CHECK_INT(kept(s), 0);
    CHECK(!hk_batch_held(s, id));
    disk_fails(s, 0);
    hk_store_close(s);
}

TEST(a_write_failing_on_its_own_is_not_kept)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    hk_attempt_t a = attempt(HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED, 200);
    CHECK_INT(hk_outbox_attempt_record(s, 4242, &a, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0); /* the batch commits; the write found nothing */
    CHECK_INT(kept(s), 0);
    CHECK(!hk_batch_held(s, 4242));
    hk_store_close(s);
}
