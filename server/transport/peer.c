/* peer.c -- the caller's supplementary groups (SO_PEERGROUPS, else /proc/<pid>/status) */
#include "transport/peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux >= 4.13; older headers lack the name */
#endif

static void keep(hk_peer_t *peer, const gid_t *groups, size_t n)
{
    if (n > HK_PEER_MAX_GROUPS) {
        hk_log(HK_LOG_WARN, "peer_groups_cut", "pid=%d groups=%zu kept=%d", (int)peer->pid, n,
               HK_PEER_MAX_GROUPS);
        n = HK_PEER_MAX_GROUPS;
    }
    memcpy(peer->groups, groups, n * sizeof groups[0]);
    peer->n_groups = (unsigned)n;
}

/* 0 when SO_PEERGROUPS answered (also with no groups), -1 when the kernel
 * does not know it. */
static int from_sockopt(int fd, hk_peer_t *peer)
{
    gid_t small[HK_PEER_MAX_GROUPS], *buf = small;
    socklen_t len = sizeof small;
    int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len);
    if (rc != 0 && errno == ERANGE && len > sizeof small && (buf = malloc(len)) != NULL)
        rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len);
    if (rc == 0) keep(peer, buf, len / sizeof buf[0]);
    if (buf != small) free(buf);
    return rc == 0 ? 0 : -1;
}

static int from_proc(hk_peer_t *peer)
{
    char path[64], *line = NULL;
    size_t cap = 0;
    gid_t groups[HK_PEER_MAX_GROUPS + 1];
    size_t n = 0, more = 0;
    int found = 0;

    snprintf(path, sizeof path, "/proc/%d/status", (int)peer->pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (!found && getline(&line, &cap, f) >= 0) {
        if (strncmp(line, "Groups:", 7) != 0) continue;
        found = 1;
        for (char *p = line + 7, *end;; p = end) {
            unsigned long v = strtoul(p, &end, 10);
            if (end == p) break;
            if (n < HK_PEER_MAX_GROUPS + 1)
                groups[n++] = (gid_t)v;
            else
                more++;
        }
    }
    free(line);
    fclose(f);
    if (!found) return -1;
    if (more) hk_log(HK_LOG_WARN, "peer_groups_cut", "pid=%d more=%zu", (int)peer->pid, more);
    keep(peer, groups, n);
    return 0;
}

void hk_peer_read_groups(int fd, hk_peer_t *peer)
{
    peer->n_groups = 0;
    if (from_sockopt(fd, peer) == 0 || from_proc(peer) == 0) return;
    hk_log(HK_LOG_WARN, "peer_groups_unknown", "pid=%d uid=%u", (int)peer->pid,
           (unsigned)peer->uid);
}
