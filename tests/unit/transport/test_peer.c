/* test_peer.c -- the caller's supplementary groups, read from a connected Unix socket */
#include <grp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/peer.h"
#include "unit.h"

static int has(const hk_peer_t *p, gid_t g)
{
    for (unsigned i = 0; i < p->n_groups; i++)
        if (p->groups[i] == g) return 1;
    return 0;
}

/* The peer of a socketpair is this process: its groups are ours. */
TEST(groups_of_connected_peer)
{
    int sv[2];
    gid_t mine[HK_PEER_MAX_GROUPS];
    hk_peer_t peer = {.pid = getpid(), .uid = getuid(), .gid = getgid(), .n_groups = 99};
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int n = getgroups(HK_PEER_MAX_GROUPS, mine);
    CHECK(n >= 0);
    hk_peer_read_groups(sv[0], &peer);
    CHECK_INT(peer.n_groups, n);
    for (int i = 0; i < n; i++)
        CHECK(has(&peer, mine[i]));
    close(sv[0]);
    close(sv[1]);
}

/* Groups as of connect(2): a change afterwards is not seen (SO_PEERGROUPS). As
 * root the test can change its own groups and see the difference. */
TEST(groups_fixed_at_connect)
{
    if (geteuid() != 0) return; /* setgroups needs root: nothing to compare */
    gid_t saved[HK_PEER_MAX_GROUPS], two[] = {4711, 4712};
    int n_saved = getgroups(HK_PEER_MAX_GROUPS, saved);
    CHECK(n_saved >= 0);
    CHECK_INT(setgroups(2, two), 0);
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_INT(setgroups((size_t)n_saved, saved), 0);
    hk_peer_t peer = {.pid = getpid()};
    hk_peer_read_groups(sv[0], &peer);
    CHECK_INT(peer.n_groups, 2);
    CHECK(has(&peer, 4711) && has(&peer, 4712));
    close(sv[0]);
    close(sv[1]);
}
