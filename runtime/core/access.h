/* access.h - who may call: a listener's admission policy, the decision for
 * one peer, and the rate-limited warning for a refused one (core-internal;
 * docs/CONFIG.md "Access", docs/TRANSPORTS.md "Who may connect").
 *
 * The server's own effective uid and root are always admitted.  Beyond
 * them a policy admits either everyone (`any`), or the listed uids and the
 * members (primary or supplementary) of the listed gids.  With no explicit
 * policy a listener derives one from the permission bits it creates its
 * IPC objects with: group bits admit the members of the object's group,
 * other bits admit everyone - so a mechanism without file modes (abstract
 * unix sockets, the shm rendezvous socket) answers exactly whom a socket
 * file of that mode would.  A peer whose transport reports no credentials
 * (tcp, or has_creds == 0) is admitted: the kernel's permission bits on the
 * mechanism's objects are then the only check (documented per transport).
 */
#ifndef PLUMB_ACCESS_H
#define PLUMB_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plumb/server.h" /* plumb_peer */

#define PLUMB__ACCESS_MAX 32 /* uids, and gids, one policy may list */

typedef struct plumb__access {
  int set;  /* 1: explicit (configured); 0: not configured */
  int any;  /* 1: every peer */
  unsigned n_uids, n_gids;
  uid_t uids[PLUMB__ACCESS_MAX];
  gid_t gids[PLUMB__ACCESS_MAX];
} plumb__access;

/* Parses a configured policy: allow is NULL/"" (lists only), "any" or
 * "owner" (nobody beyond the owner and root unless listed); uids and gids
 * are lists of names or numbers separated by commas or blanks (NULL or ""
 * for none).  Sets a->set when anything was given.  PLUMB_OK, or
 * PLUMB_EINVAL with the reason (naming the bad item) in why. */
int plumb__access_parse(plumb__access *a, const char *allow, const char *uids,
                        const char *gids, char *why, size_t whylen);

/* The policy a listener without an explicit one gets from the mode and
 * group of the objects it creates (see above). */
void plumb__access_from_mode(plumb__access *a, unsigned mode, int has_group,
                             gid_t group);

/* 1 if peer p may call, 0 if not.  sockfd (or -1) is the connection's unix
 * socket, if it has one: its SO_PEERGROUPS gives the supplementary groups;
 * otherwise they come from /proc/<pid>/status (guarded against pid reuse
 * with a pidfd and the uid seen there). */
int plumb__access_admit(const plumb__access *a, const plumb_peer *p,
                        int sockfd);

/* Fills p->addr with the peer's "host:port" ("127.0.0.1:50312",
 * "[::1]:50312") if fd (or -1) is an inet socket, else "". */
void plumb__peer_set_addr(plumb_peer *p, int fd);

/* How log lines name a client: "127.0.0.1:50312 (pid -)" for a network
 * peer, "(pid 4242, uid 1000)" for one with credentials, "(pid -)" for
 * neither.  Returns buf. */
#define PLUMB__PEER_NAME_MAX (PLUMB_PEER_ADDR_MAX + 48)
const char *plumb__peer_name(const plumb_peer *p,
                             char buf[PLUMB__PEER_NAME_MAX]);
/* plumb__peer_name in a buffer of the enclosing block, for log calls:
 * plumb__log(..., "dropping client %s: ...", PLUMB__PEER(&sc->peer)). */
#define PLUMB__PEER(p) plumb__peer_name((p), (char[PLUMB__PEER_NAME_MAX]){ 0 })

/* "uid 1000 pid 4242", or "127.0.0.1:50312" for a peer without
 * credentials on an inet socket fd, or "pid 0 (no credentials)". */
void plumb__access_describe(const plumb_peer *p, int fd, char *buf,
                            size_t n);

/* Warnings about refused peers, at most one line a second per limiter,
 * with the count of those not reported.  Not thread-safe: the caller
 * serialises (the listener's accept lock). */
typedef struct plumb__ratelog {
  int64_t next_ns;
  unsigned quiet; /* refusals since the last line */
} plumb__ratelog;

void plumb__access_log_refused(plumb__ratelog *rl, const char *endpoint,
                               const plumb_peer *p, int fd);

#endif
