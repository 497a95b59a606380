/* replay.c -- builds the disk states a power cut could leave from a shim log, and checks each with
 * the store */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "oplog.h"
#include "store/deliveries.h"
#include "store/events.h"
#include "store/store.h"
#include "store/webhooks.h"

/* Usage: crash_replay --log FILE --acks FILE [--states N] [--seed S]
 *                     [--tmp DIR] [--expect-fail] [--keep DIR] [--cut K] [--base DIR]
 *                     [--start K]
 * (--cut: every state cut at record K, to look at one window closely;
 * --base: the files the data directory held, synced, before the log began,
 * e.g. a store an older release wrote, which hookd then migrates;
 * --start: the log's record count when hookd began to serve: the cuts
 * before it, its whole start with any migration, are all explored)
 *
 * The crash model (ALICE, OSDI'14, for one process and no directory
 * reordering):
 * - Writes reach the disk in 4 KiB blocks (by file offset), each block
 *   independently and in any order, until a barrier: a write logged before
 *   an fsync/fdatasync of the same file began is on disk once that sync
 *   returned; a write through an O_SYNC/O_DSYNC fd (or with RWF_DSYNC) is on
 *   disk once it returned. ftruncate (and O_TRUNC) is a write like any other.
 *   sync_file_range and msync are no barrier.
 * - Directory operations (creating opens, rename, link, unlink) are on disk
 *   at once and in order: the model explores file data, not the namespace.
 * - A crash state for a cut point k (a log seq): every write logged up to k
 *   that a barrier up to k covers, plus a selection of the others logged up
 *   to k (pending), applied in log order. Selections are (a) prefixes of the
 *   pending blocks: none, all (what the page cache held: a kill -9), and
 *   random lengths; (b) random subsets (each block kept with p = 1/2).
 * - lock.mdb is not data (LMDB rebuilds it): it is left out.
 *
 * Cut points are drawn (seeded) among the seqs where some block is
 * pending, half of them right before a sync returns (the widest windows).
 *
 * Each state is written to a fresh directory under --tmp and checked in
 * child processes, so that a state that makes LMDB fault (SIGBUS on a page
 * past the end of the file) is a failure, not the end of the run:
 *   open    hk_store_open fails (or the process dies in it);
 *   walk    the store's own walk (every webhook, every delivery with its
 *           attempts and body) fails, or `mdb_dump -a` does on what the
 *           store left after its open (the state hookd would go on from);
 *   missing an event answered OK when the log held at most k records is not
 *           found by hk_outbox_event_get.
 *
 * acks: one "event_id seq" line per TriggerEvent answered OK, seq being the
 * log's record count read when the answer arrived.
 *
 * The first start (cuts before data.mdb's first completed sync) is
 * explored whole, not sampled: LMDB writes a fresh environment's two meta
 * pages without a sync (mdb_env_init_meta), and a state there that does not
 * open keeps hookd from ever starting again, though it had answered nothing.
 *
 * Exit status: with --expect-fail, 0 when at least one state after the
 * first start fails (the design is known broken and the checker must see
 * it); without, 0 when no state fails. 1 also when a state that keeps every
 * write (what kill -9 leaves) fails. 2: usage, or the log is unreadable. */

#define BLOCK 4096
#define CHECK_SECONDS 10 /* a check (the store's, mdb_dump's) that takes longer hangs */

typedef struct {
    uint64_t seq, durable; /* durable: the seq from which it is on disk (UINT64_MAX: never) */
    uint32_t obj;
    int trunc;
    uint64_t off, len;
    const uint8_t *data;
} piece_t;

typedef struct {
    uint64_t seq;
    int bind; /* 1: path -> obj; 0: path unbound */
    uint32_t obj;
    char *path;
} ns_t;

typedef struct {
    int ignored; /* lock.mdb */
    int data;    /* data.mdb */
    uint8_t *base;
    uint64_t size, cap;
} obj_t;

typedef struct {
    char *id;
    uint64_t seq;
} ack_t;

typedef struct {
    piece_t *pieces;
    size_t n_pieces, cap_pieces;
    ns_t *ns;
    size_t n_ns, cap_ns;
    obj_t *objs;
    size_t n_objs, cap_objs;
    uint64_t n_ops, n_syncs, n_dsync_writes;
    uint64_t *sync_ends; /* seqs of successful SYNC_ENDs */
    uint64_t first_sync; /* the first successful SYNC_END of data.mdb: the first start's end */
    size_t n_sync_ends, cap_sync_ends;
    ack_t *acks;
    size_t n_acks;
    size_t base_next; /* pieces[0, base_next) are in the objs' base images */
} model_t;

typedef struct {
    uint64_t built, ok, open, walk, missing;
    uint64_t full_failed;                 /* of the "all pending" states (a process crash) */
    uint64_t first_built, first_failed;   /* states cut before first_sync */
    uint64_t start_built, start_failed;   /* states cut before --start */
    uint64_t hung;                        /* checks that did not end in time */
    uint64_t prefix_built, prefix_failed; /* after the first start, in log order */
    int shown[5];                         /* FAIL lines printed, per reason (4: the first start) */
} tally_t;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 64;                                                          \
            void *p_ = realloc((arr), (cap) * sizeof *(arr));                                      \
            if (!p_) {                                                                             \
                perror("realloc");                                                                 \
                exit(2);                                                                           \
            }                                                                                      \
            (arr) = p_;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- reading the log ----------------------------------------------------------------- */

typedef struct {
    int used;
    uint32_t obj;
    int dsync;
} fdent_t;

#define MAX_FDS 65536

static int ns_lookup(const model_t *m, const char *path, uint32_t *obj)
{
    for (size_t i = m->n_ns; i-- > 0;)
        if (strcmp(m->ns[i].path, path) == 0) {
            if (!m->ns[i].bind) return 0;
            *obj = m->ns[i].obj;
            return 1;
        }
    return 0;
}

static void ns_add(model_t *m, uint64_t seq, int bind, uint32_t obj, const char *path)
{
    GROW(m->ns, m->n_ns, m->cap_ns);
    m->ns[m->n_ns++] = (ns_t){seq, bind, obj, strdup(path)};
}

static uint32_t obj_new(model_t *m, const char *path)
{
    GROW(m->objs, m->n_objs, m->cap_objs);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    m->objs[m->n_objs] =
        (obj_t){.ignored = strcmp(base, "lock.mdb") == 0, .data = strcmp(base, "data.mdb") == 0};
    return (uint32_t)m->n_objs++;
}

/* Pending pieces of each object, oldest first, as indexes into pieces. */
typedef struct {
    size_t *idx;
    size_t head, n, cap;
} queue_t;

static void add_piece(model_t *m, queue_t *q, piece_t p, int durable_now)
{
    p.durable = durable_now ? p.seq : UINT64_MAX;
    GROW(m->pieces, m->n_pieces, m->cap_pieces);
    m->pieces[m->n_pieces] = p;
    if (!durable_now) {
        GROW(q->idx, q->n, q->cap);
        q->idx[q->n++] = m->n_pieces;
    }
    m->n_pieces++;
}

static int load_log(model_t *m, const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "crash_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const uint8_t *map = NULL;
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            perror("mmap");
            return -1;
        }
    }
    close(fd);

    static fdent_t fds[MAX_FDS];
    queue_t *queues = NULL;
    size_t n_queues = 0;
    size_t at = 0, end = (size_t)st.st_size;
    uint64_t expect = 1;
    char p1[4096], p2[4096];
    while (at < end) {
        hk_oprec_t r;
        if (end - at < sizeof r) break; /* a record cut short by the kill */
        memcpy(&r, map + at, sizeof r);
        if (r.magic != HK_OPLOG_MAGIC || r.seq != expect) {
            fprintf(stderr, "crash_replay: bad record at byte %zu (seq %" PRIu64 ")\n", at, expect);
            return -1;
        }
        size_t need = sizeof r + r.path_len + r.path2_len + r.data_len;
        if (r.path_len >= sizeof p1 || r.path2_len >= sizeof p2 || end - at < need) break;
        const uint8_t *q = map + at + sizeof r;
        memcpy(p1, q, r.path_len);
        p1[r.path_len] = 0;
        memcpy(p2, q + r.path_len, r.path2_len);
        p2[r.path2_len] = 0;
        const uint8_t *data = q + r.path_len + r.path2_len;
        at += need;
        expect++;
        m->n_ops = r.seq;

        if (n_queues < m->n_objs + 2) { /* a record makes at most one object */
            size_t nn = m->n_objs + 16;
            queue_t *nq = realloc(queues, nn * sizeof *queues);
            if (!nq) exit(2);
            memset(nq + n_queues, 0, (nn - n_queues) * sizeof *nq);
            queues = nq;
            n_queues = nn;
        }
        fdent_t *f = r.fd >= 0 && r.fd < MAX_FDS ? &fds[r.fd] : NULL;
        uint32_t obj;
        switch (r.kind) {
        case HK_OP_OPEN:
            if (!f) break;
            if (!ns_lookup(m, p1, &obj)) {
                obj = obj_new(m, p1);
                ns_add(m, r.seq, 1, obj, p1);
            }
            *f = (fdent_t){1, obj, (r.flags & O_DSYNC) != 0};
            if ((r.flags & O_TRUNC) && !m->objs[obj].ignored)
                add_piece(m, &queues[obj], (piece_t){.seq = r.seq, .obj = obj, .trunc = 1}, 0);
            break;
        case HK_OP_WRITE: {
            if (!f || !f->used || m->objs[f->obj].ignored) break;
            int now = f->dsync || (r.flags & O_DSYNC);
            if (now) m->n_dsync_writes++;
            for (uint64_t o = r.off, e = r.off + r.data_len; o < e;) {
                uint64_t b_end = (o / BLOCK + 1) * BLOCK;
                if (b_end > e) b_end = e;
                piece_t p = {.seq = r.seq, .obj = f->obj, .off = o, .len = b_end - o};
                p.data = data + (o - r.off);
                add_piece(m, &queues[f->obj], p, now);
                o = b_end;
            }
            break;
        }
        case HK_OP_TRUNC:
            if (!f || !f->used || m->objs[f->obj].ignored) break;
            add_piece(m, &queues[f->obj],
                      (piece_t){.seq = r.seq, .obj = f->obj, .trunc = 1, .off = r.off}, 0);
            break;
        case HK_OP_SYNC_END: {
            if (!f || !f->used || r.res != 0) break;
            m->n_syncs++;
            if (!m->first_sync && m->objs[f->obj].data) m->first_sync = r.seq;
            queue_t *qq = &queues[f->obj];
            while (qq->head < qq->n && m->pieces[qq->idx[qq->head]].seq < r.aux)
                m->pieces[qq->idx[qq->head++]].durable = r.seq;
            GROW(m->sync_ends, m->n_sync_ends, m->cap_sync_ends);
            m->sync_ends[m->n_sync_ends++] = r.seq;
            break;
        }
        case HK_OP_RENAME:
            if (ns_lookup(m, p1, &obj)) {
                ns_add(m, r.seq, 0, 0, p1);
                ns_add(m, r.seq, 1, obj, p2);
            } else {
                ns_add(m, r.seq, 1, obj_new(m, p2), p2); /* came from outside: empty */
            }
            break;
        case HK_OP_LINK:
            if (ns_lookup(m, p1, &obj))
                ns_add(m, r.seq, 1, obj, p2);
            else
                ns_add(m, r.seq, 1, obj_new(m, p2), p2);
            break;
        case HK_OP_UNLINK: ns_add(m, r.seq, 0, 0, p1); break;
        case HK_OP_CLOSE:
            if (f) f->used = 0;
            break;
        default: break; /* SYNC_BEGIN, RANGE, MSYNC: no effect on what is on disk */
        }
    }
    for (size_t i = 0; i < n_queues; i++)
        free(queues[i].idx);
    free(queues);
    return 0;
}

/* Each regular file in dir becomes an object bound to its name before the
 * first record, its contents the object's base image: on disk in every
 * state. */
static int load_base(model_t *m, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    if (!d) {
        fprintf(stderr, "crash_replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (fd >= 0) close(fd);
            continue;
        }
        uint32_t obj = obj_new(m, e->d_name);
        obj_t *o = &m->objs[obj];
        o->size = o->cap = (uint64_t)st.st_size;
        if (!(o->base = malloc(o->cap ? o->cap : 1)) ||
            read(fd, o->base, o->size) != (ssize_t)o->size) {
            fprintf(stderr, "crash_replay: %s: cannot read\n", path);
            closedir(d);
            close(fd);
            return -1;
        }
        close(fd);
        ns_add(m, 0, 1, obj, e->d_name);
    }
    closedir(d);
    return 0;
}

static int load_acks(model_t *m, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "crash_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char id[256];
    uint64_t seq;
    size_t cap = 0;
    while (fscanf(f, "%255s %" SCNu64, id, &seq) == 2) {
        GROW(m->acks, m->n_acks, cap);
        m->acks[m->n_acks].id = strdup(id);
        m->acks[m->n_acks++].seq = seq;
    }
    fclose(f);
    return 0;
}

/* ---- building a state ------------------------------------------------------------------ */

static void obj_apply(obj_t *o, const piece_t *p)
{
    if (p->trunc) {
        if (p->off < o->size && o->base) memset(o->base + p->off, 0, o->size - p->off);
        o->size = p->off;
        return;
    }
    uint64_t e = p->off + p->len;
    if (e > o->cap) {
        uint64_t cap = o->cap ? o->cap : 1 << 20;
        while (cap < e)
            cap *= 2;
        uint8_t *b = realloc(o->base, cap);
        if (!b) {
            perror("realloc");
            exit(2);
        }
        memset(b + o->cap, 0, cap - o->cap);
        o->base = b;
        o->cap = cap;
    }
    memcpy(o->base + p->off, p->data, p->len);
    if (e > o->size) o->size = e;
}

/* Moves the base images on to the first piece pending at cut; returns the
 * index one past the last piece logged up to cut. */
static size_t advance(model_t *m, uint64_t cut)
{
    size_t i = m->base_next;
    for (; i < m->n_pieces && m->pieces[i].seq <= cut && m->pieces[i].durable <= cut; i++)
        obj_apply(&m->objs[m->pieces[i].obj], &m->pieces[i]);
    m->base_next = i;
    while (i < m->n_pieces && m->pieces[i].seq <= cut)
        i++;
    return i;
}

static int write_all(int fd, const uint8_t *p, uint64_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (uint64_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Writes the state into dir: the base images of the objects bound at cut,
 * then the window's pieces that keep[] (indexed from base_next) selects. */
static int materialize(model_t *m, uint64_t cut, size_t win_end, const unsigned char *keep,
                       const char *dir)
{
    int *fds = calloc(m->n_objs, sizeof *fds);
    char path[8192];
    int err = -1;
    for (size_t i = 0; i < m->n_objs; i++)
        fds[i] = -1;
    /* The namespace at cut: the last entry per path wins. */
    for (size_t i = m->n_ns; i-- > 0;) {
        ns_t *e = &m->ns[i];
        if (e->seq > cut || e->path[0] == '/' || strchr(e->path, '/')) continue;
        int later = 0;
        for (size_t j = i + 1; j < m->n_ns && !later; j++)
            later = m->ns[j].seq <= cut && strcmp(m->ns[j].path, e->path) == 0;
        if (later || !e->bind || m->objs[e->obj].ignored) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->path) >= (int)sizeof path) goto out;
        int fd = fds[e->obj] >= 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fds[e->obj] >= 0) {
            /* a second name of the same file: a hard link */
            char first[8192];
            snprintf(first, sizeof first, "/proc/self/fd/%d", fds[e->obj]);
            if (linkat(AT_FDCWD, first, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0) goto out;
            continue;
        }
        if (fd < 0) goto out;
        fds[e->obj] = fd;
        obj_t *o = &m->objs[e->obj];
        if (o->size && write_all(fd, o->base, o->size, 0)) goto out;
    }
    for (size_t i = m->base_next; i < win_end; i++) {
        const piece_t *p = &m->pieces[i];
        if (!keep[i - m->base_next] || fds[p->obj] < 0) continue;
        if (p->trunc ? ftruncate(fds[p->obj], (off_t)p->off) != 0
                     : write_all(fds[p->obj], p->data, p->len, p->off) != 0)
            goto out;
    }
    err = 0;
out:
    for (size_t i = 0; i < m->n_objs; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(fds);
    return err;
}

static void rm_tree(const char *dir)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "crash_replay: could not remove %s\n", dir);
}

/* ---- checking a state ------------------------------------------------------------------ */

enum { ST_OK, ST_OPEN, ST_WALK, ST_MISSING };
static const char *const reason_name[] = {"ok", "open failed", "walk failed",
                                          "acknowledged event missing"};

static int dump_state(const char *dir, char *detail, size_t n)
{
    pid_t pid = fork();
    if (pid < 0) exit(2);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        alarm(CHECK_SECONDS); /* kept across exec: a walk that loops is a failure */
        execlp("mdb_dump", "mdb_dump", "-a", dir, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        fprintf(stderr, "crash_replay: cannot run mdb_dump (lmdb-utils)\n");
        exit(2);
    }
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        snprintf(detail, n, "mdb_dump -a did not end within %d s", CHECK_SECONDS);
    else if (WIFSIGNALED(st))
        snprintf(detail, n, "mdb_dump -a died of signal %d", WTERMSIG(st));
    else
        snprintf(detail, n, "mdb_dump -a exited %d", WEXITSTATUS(st));
    return -1;
}

typedef struct {
    hk_store_t *s;
    uint64_t *ids;
    size_t n, cap;
    uint64_t webhooks;
} walk_t;

static int visit_webhook(hk_webhook_t *wh, void *arg)
{
    ((walk_t *)arg)->webhooks++;
    hk_webhook_free(wh);
    return 0;
}

static int visit_delivery(hk_delivery_t *d, void *arg)
{
    walk_t *w = arg;
    GROW(w->ids, w->n, w->cap);
    w->ids[w->n++] = d->id;
    hk_delivery_free(d);
    return 0;
}

/* In a child: opens the state with the store, walks it, looks up the
 * events. Writes "S<stage>" as it goes and "F<reason> <detail>" on a
 * failure to fd out. */
static void say(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int out, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    if (write(out, buf, (size_t)n) < 0) _exit(9);
}

static int check_child(const model_t *m, uint64_t cut, const char *dir, int out)
{
    hk_store_t *s = NULL;
    say(out, "S%d", ST_OPEN);
    int err = hk_store_open(dir, 0, &s);
    if (err) {
        say(out, "F%d hk_store_open: %s", ST_OPEN, hk_strerror(err));
        return 1;
    }
    say(out, "S%d", ST_WALK);
    walk_t w = {.s = s};
    uint64_t resume = 0;
    hk_outbox_stats_t stats;
    if ((err = hk_store_webhook_list(s, 0, 0, NULL, visit_webhook, &w)) ||
        (err = hk_outbox_delivery_list(s, 0, 0, 0, SIZE_MAX, visit_delivery, &w, &resume)) ||
        (err = hk_outbox_stats(s, &stats))) {
        say(out, "F%d list: %s", ST_WALK, hk_strerror(err));
        return 1;
    }
    for (size_t i = 0; i < w.n; i++) {
        hk_delivery_t *d = NULL;
        uint8_t *body = NULL;
        size_t len, data_len;
        if ((err = hk_outbox_delivery_get(s, w.ids[i], 1, &d)) ||
            (err = hk_outbox_body_get(s, w.ids[i], &body, &len, &data_len))) {
            say(out, "F%d delivery %" PRIu64 ": %s", ST_WALK, w.ids[i], hk_strerror(err));
            return 1;
        }
        hk_delivery_free(d);
        free(body);
    }
    say(out, "S%d", ST_MISSING);
    size_t missing = 0;
    const char *first = NULL;
    for (size_t i = 0; i < m->n_acks; i++) {
        if (m->acks[i].seq > cut) continue;
        int64_t t;
        uint8_t *data = NULL;
        size_t len;
        err = hk_outbox_event_get(s, m->acks[i].id, &t, &data, &len);
        free(data);
        if (err == HK_ENOTFOUND) {
            if (!missing++) first = m->acks[i].id;
        } else if (err) {
            say(out, "F%d event %s: %s", ST_WALK, m->acks[i].id, hk_strerror(err));
            return 1;
        }
    }
    if (missing) {
        say(out, "F%d %zu events, first %s", ST_MISSING, missing, first);
        return 1;
    }
    hk_store_close(s);
    return 0;
}

/* Runs the checks on the state in dir; returns ST_* and fills detail. The
 * store opens it first (in a child: a bad page may fault), then mdb_dump
 * walks what the store left: the state hookd would go on from. */
static int check_state(const model_t *m, uint64_t cut, const char *dir, char *detail, size_t n)
{
    int pfd[2];
    if (pipe(pfd) != 0) exit(2);
    pid_t pid = fork();
    if (pid < 0) exit(2);
    if (pid == 0) {
        close(pfd[0]);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2); /* the store's log lines */
        alarm(CHECK_SECONDS);
        _exit(check_child(m, cut, dir, pfd[1]));
    }
    close(pfd[1]);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 &&
           ((r = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0) got += (size_t)r;
    buf[got] = 0;
    close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    int stage = ST_OPEN, reason = ST_OK;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == 'S') stage = atoi(line + 1);
        if (line[0] == 'F') {
            reason = line[1] - '0';
            snprintf(detail, n, "%s", line + 3);
        }
    }
    if (reason == ST_OK && WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
        reason = stage;
        snprintf(detail, n, "did not end within %d s", CHECK_SECONDS);
    } else if (reason == ST_OK && WIFSIGNALED(st)) {
        reason = stage;
        snprintf(detail, n, "died of signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    } else if (reason == ST_OK && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        reason = stage;
        snprintf(detail, n, "checker exited %d", WEXITSTATUS(st));
    }
    if (reason == ST_OPEN || reason == ST_WALK) return reason;
    char dump_detail[256];
    if (dump_state(dir, dump_detail, sizeof dump_detail) != 0) {
        if (reason == ST_OK)
            snprintf(detail, n, "%s", dump_detail);
        else
            snprintf(detail + strlen(detail), n - strlen(detail), "; %s", dump_detail);
        reason = ST_WALK;
    }
    return reason;
}

/* ---- choosing states ------------------------------------------------------------------- */

typedef struct {
    uint64_t cut;
    uint64_t pending;
} cut_t;

static int cut_cmp(const void *a, const void *b)
{
    uint64_t x = ((const cut_t *)a)->cut, y = ((const cut_t *)b)->cut;
    return x < y ? -1 : x > y;
}

/* pending[k] for every seq k: blocks logged up to k and not durable at k. */
static uint64_t *pending_counts(const model_t *m)
{
    uint64_t *logged = calloc(m->n_ops + 2, sizeof *logged);
    uint64_t *durable = calloc(m->n_ops + 2, sizeof *durable);
    for (size_t i = 0; i < m->n_pieces; i++) {
        logged[m->pieces[i].seq]++;
        if (m->pieces[i].durable <= m->n_ops) durable[m->pieces[i].durable]++;
    }
    uint64_t a = 0, b = 0;
    for (uint64_t k = 0; k <= m->n_ops; k++) {
        a += logged[k];
        b += durable[k];
        logged[k] = a - b;
    }
    free(durable);
    return logged;
}

static size_t states_for(uint64_t pending)
{
    if (pending >= 3) return 8;
    return pending == 0 ? 1 : (size_t)1 << pending;
}

int main(int argc, char **argv)
{
    const char *log_path = NULL, *acks_path = NULL, *tmp = NULL, *keep_dir = NULL, *base_dir = NULL;
    uint64_t want = 400, seed = 1, only_cut = 0, start = 0;
    int expect_fail = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--expect-fail")) {
            expect_fail = 1;
            continue;
        }
        if (!v) goto usage;
        if (!strcmp(a, "--log"))
            log_path = v;
        else if (!strcmp(a, "--acks"))
            acks_path = v;
        else if (!strcmp(a, "--tmp"))
            tmp = v;
        else if (!strcmp(a, "--keep"))
            keep_dir = v;
        else if (!strcmp(a, "--states"))
            want = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--cut"))
            only_cut = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--base"))
            base_dir = v;
        else if (!strcmp(a, "--start"))
            start = strtoull(v, NULL, 10);
        else
            goto usage;
        i++;
    }
    if (!log_path || !acks_path) goto usage;
    if (!tmp) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    rng_state = seed;
    hk_log_set_level(HK_LOG_ERROR);
    setvbuf(stdout, NULL, _IOLBF, 0);

    static model_t m;
    if ((base_dir && load_base(&m, base_dir)) || load_log(&m, log_path) || load_acks(&m, acks_path))
        return 2;
    size_t unsynced_at_end = 0;
    for (size_t i = 0; i < m.n_pieces; i++)
        unsynced_at_end += m.pieces[i].durable == UINT64_MAX;
    printf("log: %" PRIu64 " records, %zu blocks written, %" PRIu64 " syncs, %" PRIu64
           " O_DSYNC writes, %zu blocks never synced; %zu acknowledged events\n",
           m.n_ops, m.n_pieces, m.n_syncs, m.n_dsync_writes, unsynced_at_end, m.n_acks);
    if (m.n_acks == 0 || m.n_pieces == 0) {
        fprintf(stderr, "crash_replay: nothing to check (no acknowledged event or no write)\n");
        return 1;
    }

    /* Cut points: where something is pending, half of them right before a
     * sync returns. */
    uint64_t *pend = pending_counts(&m);
    uint64_t *cands = malloc((m.n_ops + 1) * sizeof *cands), n_cands = 0;
    uint64_t *pre = malloc((m.n_sync_ends + 1) * sizeof *pre), n_pre = 0;
    for (uint64_t k = 1; k <= m.n_ops; k++)
        if (pend[k]) cands[n_cands++] = k;
    for (size_t i = 0; i < m.n_sync_ends; i++)
        if (m.sync_ends[i] > 1 && pend[m.sync_ends[i] - 1]) pre[n_pre++] = m.sync_ends[i] - 1;
    if (n_cands == 0) {
        fprintf(stderr, "crash_replay: no write is ever pending: nothing to explore\n");
        return 1;
    }
    cut_t *cuts = NULL;
    size_t n_cuts = 0, cap_cuts = 0, planned = 0;
    /* The first start's window, whole: few cuts, and a state there that
     * does not open keeps hookd from starting again. So is the start up to
     * --start (a migration's writes are a few records among thousands). */
    uint64_t whole = m.first_sync > start ? m.first_sync : start;
    for (uint64_t k = 1; k < whole && k <= m.n_ops && !only_cut; k++) {
        if (!pend[k]) continue;
        GROW(cuts, n_cuts, cap_cuts);
        cuts[n_cuts++] = (cut_t){k, pend[k]};
        planned += states_for(pend[k]);
    }
    while (planned < want) {
        uint64_t k = (n_cuts % 2 == 0 && n_pre) ? pre[rnd() % n_pre] : cands[rnd() % n_cands];
        if (only_cut) k = only_cut > m.n_ops ? m.n_ops : only_cut;
        GROW(cuts, n_cuts, cap_cuts);
        cuts[n_cuts++] = (cut_t){k, pend[k]};
        planned += states_for(pend[k]);
    }
    qsort(cuts, n_cuts, sizeof *cuts, cut_cmp);

    char root[4096];
    snprintf(root, sizeof root, "%s/hk-crash-XXXXXX", tmp);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 2;
    }
    tally_t t = {0};
    unsigned char *keep = NULL;
    size_t keep_cap = 0;
    uint64_t acked_checked = 0;
    for (size_t c = 0; c < n_cuts; c++) {
        uint64_t cut = cuts[c].cut;
        size_t win_end = advance(&m, cut);
        size_t win = win_end - m.base_next;
        if (win > keep_cap) {
            keep_cap = win;
            keep = realloc(keep, keep_cap);
        }
        /* The pending pieces of the window, in log order. */
        size_t *pidx = malloc((win + 1) * sizeof *pidx), np = 0;
        for (size_t i = 0; i < win; i++)
            if (m.pieces[m.base_next + i].durable > cut) pidx[np++] = i;
        size_t n_states = states_for(np);
        for (size_t s = 0; s < n_states; s++) {
            const char *mode;
            size_t prefix = 0;
            for (size_t i = 0; i < win; i++)
                keep[i] = 1;
            if (s == 0) {
                mode = "prefix", prefix = 0;
            } else if (s == 1) {
                mode = "prefix", prefix = np; /* all: the page cache as it was */
            } else if (s < 4) {
                mode = "prefix", prefix = np > 1 ? 1 + rnd() % (np - 1) : 0;
            } else {
                mode = "subset";
            }
            if (!strcmp(mode, "prefix"))
                for (size_t i = prefix; i < np; i++)
                    keep[pidx[i]] = 0;
            else
                for (size_t i = 0; i < np; i++)
                    keep[pidx[i]] = rnd() & 1;

            char dir[8192];
            snprintf(dir, sizeof dir, "%s/s%" PRIu64, root, t.built);
            if (mkdir(dir, 0700) != 0 || materialize(&m, cut, win_end, keep, dir) != 0) {
                fprintf(stderr, "crash_replay: cannot write state %s: %s\n", dir, strerror(errno));
                return 2;
            }
            char detail[512] = "";
            int reason = check_state(&m, cut, dir, detail, sizeof detail);
            t.built++;
            for (size_t i = 0; i < m.n_acks; i++)
                acked_checked += m.acks[i].seq <= cut;
            switch (reason) {
            case ST_OK: t.ok++; break;
            case ST_OPEN: t.open++; break;
            case ST_WALK: t.walk++; break;
            default: t.missing++; break;
            }
            if (reason != ST_OK && s == 1) t.full_failed++;
            t.first_built += cut < m.first_sync;
            t.hung += strstr(detail, "did not end") != NULL;
            if (cut >= m.first_sync && mode[0] == 'p') {
                t.prefix_built++;
                t.prefix_failed += reason != ST_OK;
            }
            t.first_failed += cut < m.first_sync && reason != ST_OK;
            t.start_built += cut < start;
            t.start_failed += cut < start && reason != ST_OK;
            int *shown = &t.shown[cut < m.first_sync ? 4 : reason];
            if (reason != ST_OK && *shown < 3) {
                ++*shown;
                size_t kept = 0;
                for (size_t i = 0; i < np; i++)
                    kept += keep[pidx[i]];
                printf("FAIL state %" PRIu64 ": cut %" PRIu64 "/%" PRIu64
                       "%s, %s %zu of %zu pending blocks: %s: %s\n",
                       t.built - 1, cut, m.n_ops, cut < m.first_sync ? " (first start)" : "", mode,
                       kept, np, reason_name[reason], detail);
                if (keep_dir) {
                    char cmd[16384];
                    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp -r '%s' '%s/'", keep_dir, dir,
                             keep_dir);
                    if (system(cmd) != 0) fprintf(stderr, "crash_replay: could not keep %s\n", dir);
                }
            }
            rm_tree(dir);
        }
        free(pidx);
    }
    rm_tree(root);
    free(keep);
    free(cuts);
    free(pre);
    free(cands);
    free(pend);

    uint64_t failed = t.open + t.walk + t.missing;
    printf("crash states: %" PRIu64 " built over %zu cut points (seed %" PRIu64 "), %" PRIu64
           " ok, %" PRIu64 " failing: %" PRIu64 " open failed, %" PRIu64 " walk failed, %" PRIu64
           " acknowledged event missing; %" PRIu64 " of the failing are a process crash (all "
           "pending blocks kept); %" PRIu64 " of %" PRIu64
           " states cut in the first start (before data.mdb was first synced) fail; %" PRIu64
           " event lookups; %" PRIu64 " checks hung; after the first start, %" PRIu64 " of %" PRIu64
           " prefix states (writes in log order) fail\n",
           t.built, n_cuts, seed, t.ok, failed, t.open, t.walk, t.missing, t.full_failed,
           t.first_failed, t.first_built, acked_checked, t.hung, t.prefix_failed, t.prefix_built);
    if (start)
        printf("start: %" PRIu64 " of %" PRIu64 " states cut before hookd served (record %" PRIu64
               ": its open, with any migration) fail\n",
               t.start_failed, t.start_built, start);
    if (t.full_failed) {
        printf("FAIL: a state with every write kept (what kill -9 leaves) fails: not a power-cut "
               "question, a plain bug\n");
        return 1;
    }
    if (expect_fail) {
        /* The first start's failures stay after the MDB_NOSYNC fix: they
         * do not show that the checker sees that bug. */
        uint64_t later = failed - t.first_failed;
        printf("%s: HK_CRASH_EXPECT_FAIL: %s\n", later ? "ok" : "FAIL",
               later ? "the checker sees the known power-cut bug of MDB_NOSYNC"
                     : "no crash state after the first start fails, but the design is expected "
                       "to be broken: turn HK_CRASH_EXPECT_FAIL off if it was fixed");
        return later ? 0 : 1;
    }
    return failed ? 1 : 0;
usage:
    fprintf(stderr,
            "usage: crash_replay --log FILE --acks FILE [--states N] [--seed S] "
            "[--tmp DIR] [--keep DIR] [--expect-fail] [--cut K] [--base DIR] [--start K]\n");
    return 2;
}
