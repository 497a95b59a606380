/* peer.h -- the caller's supplementary groups, read at accept */
#ifndef HK_PEER_H
#define HK_PEER_H

#include "transport/call.h"

/* Fills peer->groups and n_groups for the connected socket fd: the groups
 * the peer had at connect(2) (SO_PEERGROUPS), or, where the kernel lacks it
 * (before 4.13), the "Groups:" line of /proc/<peer->pid>/status. Groups past
 * HK_PEER_MAX_GROUPS are left out (logged). When neither source answers,
 * n_groups is 0 (logged): roles then come from the uid and primary gid. */
void hk_peer_read_groups(int fd, hk_peer_t *peer);

#endif
