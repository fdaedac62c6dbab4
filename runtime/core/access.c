/* access.c - who may call (see access.h): parsing a policy of uids, gids
 * and "any", deriving one from permission bits, deciding for one peer
 * (supplementary groups from SO_PEERGROUPS, else /proc/<pid>/status), and
 * the rate-limited warning for a refused peer, and the names log lines
 * give a peer (plumb__peer_name: address and port for tcp). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "common.h"
#include "log.h"
#include "transport.h"

#define ACCESS_MAX_GROUPS 1024 /* supplementary groups looked at */
#define ACCESS_LOG_EVERY_NS 1000000000LL

/* The next item of a list separated by commas and blanks, copied into
 * item; the rest of the list, or NULL at its end. */
static const char *
access_next(const char *s, char *item, size_t n, int *toolong)
{
  size_t k = 0;

  while (*s == ',' || isspace((unsigned char)*s))
    s++;
  if (*s == '\0')
    return NULL;
  *toolong = 0;
  while (*s && *s != ',' && !isspace((unsigned char)*s)) {
    if (k + 1 < n)
      item[k++] = *s;
    else
      *toolong = 1;
    s++;
  }
  item[k] = '\0';
  return s;
}

static int
access_number(const char *v, unsigned long *out)
{
  char *end;
  if (!isdigit((unsigned char)v[0]))
    return -1;
  errno = 0;
  unsigned long x = strtoul(v, &end, 10);
  if (errno || *end != '\0' || x >= (unsigned long)(uid_t)-1)
    return -1;
  *out = x;
  return 0;
}

/* Parses one list; is_gid picks the name database. */
static int
access_list(const char *list, int is_gid, unsigned *count, uint32_t *ids,
            char *why, size_t whylen)
{
  char item[128];
  int toolong;
  const char *what = is_gid ? "group" : "user";

  while (list && (list = access_next(list, item, sizeof item, &toolong))) {
    unsigned long id;
    if (toolong) {
      snprintf(why, whylen, "%s name '%.40s...' is too long", what, item);
      return PLUMB_EINVAL;
    }
    if (access_number(item, &id) == 0) {
      /* a number: taken as is (it need not have a name) */
    } else if (is_gid) {
      struct group *g = getgrnam(item);
      if (g == NULL) {
        snprintf(why, whylen, "no group named '%s' (expected group names "
                 "or numeric gids)", item);
        return PLUMB_EINVAL;
      }
      id = g->gr_gid;
    } else {
      struct passwd *pw = getpwnam(item);
      if (pw == NULL) {
        snprintf(why, whylen, "no user named '%s' (expected user names "
                 "or numeric uids)", item);
        return PLUMB_EINVAL;
      }
      id = pw->pw_uid;
    }
    if (*count >= PLUMB__ACCESS_MAX) {
      snprintf(why, whylen, "more than %d %ss listed", PLUMB__ACCESS_MAX,
               what);
      return PLUMB_EINVAL;
    }
    ids[(*count)++] = (uint32_t)id;
  }
  return PLUMB_OK;
}

int
plumb__access_parse(plumb__access *a, const char *allow, const char *uids,
                    const char *gids, char *why, size_t whylen)
{
  char e[1];
  uint32_t ids[PLUMB__ACCESS_MAX];
  int st;

  if (why == NULL || whylen == 0)
    why = e, whylen = sizeof e;
  why[0] = '\0';
  memset(a, 0, sizeof(*a));
  if (allow != NULL && allow[0] != '\0') {
    if (strcmp(allow, "any") == 0)
      a->any = 1;
    else if (strcmp(allow, "owner") != 0) {
      snprintf(why, whylen, "expected 'any' or 'owner' (list others in "
               "allow_uids / allow_gids)");
      return PLUMB_EINVAL;
    }
    a->set = 1;
  }
  if ((st = access_list(uids, 0, &a->n_uids, ids, why, whylen)) != PLUMB_OK)
    return st;
  for (unsigned i = 0; i < a->n_uids; i++)
    a->uids[i] = (uid_t)ids[i];
  if ((st = access_list(gids, 1, &a->n_gids, ids, why, whylen)) != PLUMB_OK)
    return st;
  for (unsigned i = 0; i < a->n_gids; i++)
    a->gids[i] = (gid_t)ids[i];
  if (a->n_uids || a->n_gids)
    a->set = 1;
  return PLUMB_OK;
}

void
plumb__access_from_mode(plumb__access *a, unsigned mode, int has_group,
                        gid_t group)
{
  memset(a, 0, sizeof(*a));
  if (mode == 0)
    mode = 0600;
  if (mode & 007)
    a->any = 1;
  else if (mode & 070) {
    a->n_gids = 1;
    a->gids[0] = has_group ? group : getegid();
  }
}

static int
access_gid_listed(const plumb__access *a, gid_t g)
{
  for (unsigned i = 0; i < a->n_gids; i++)
    if (a->gids[i] == g)
      return 1;
  return 0;
}

/* 1 if /proc/<pid>/status shows effective uid `uid` and one of a's gids
 * among its groups.  The pidfd, opened first, tells whether pid still
 * names the same process after the read (else 0: it exited meanwhile and
 * the pid may have been reused). */
static int
access_proc_groups(const plumb__access *a, pid_t pid, uid_t uid)
{
  char path[40], line[8192];
  int found = 0, uid_ok = 0;
  FILE *f;

  if (pid <= 0)
    return 0;
  int pfd = plumb__pidfd_open(pid);
  if (pfd < 0)
    return 0;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if ((f = fopen(path, "re")) != NULL) {
    while (fgets(line, sizeof line, f) != NULL) {
      unsigned long ruid, euid;
      if (sscanf(line, "Uid: %lu %lu", &ruid, &euid) == 2)
        uid_ok = (uid_t)euid == uid;
      else if (strncmp(line, "Groups:", 7) == 0) {
        char *p = line + 7, *end;
        for (;;) {
          unsigned long g = strtoul(p, &end, 10);
          if (end == p)
            break;
          if (access_gid_listed(a, (gid_t)g))
            found = 1;
          p = end;
        }
      }
    }
    fclose(f);
  }
  struct pollfd pp = { .fd = pfd, .events = POLLIN };
  int gone = poll(&pp, 1, 0) != 0; /* readable: exited */
  close(pfd);
  return found && uid_ok && !gone;
}

/* 1 if p is a member of one of a's gids. */
static int
access_member(const plumb__access *a, const plumb_peer *p, int sockfd)
{
  if (access_gid_listed(a, p->gid))
    return 1;
  if (sockfd >= 0) {
    gid_t *gs = malloc(ACCESS_MAX_GROUPS * sizeof(gid_t));
    socklen_t len = ACCESS_MAX_GROUPS * sizeof(gid_t);
    if (gs != NULL &&
        getsockopt(sockfd, SOL_SOCKET, SO_PEERGROUPS, gs, &len) == 0) {
      int found = 0;
      for (size_t i = 0; i < len / sizeof(gid_t); i++)
        if (access_gid_listed(a, gs[i]))
          found = 1;
      free(gs);
      return found; /* the kernel's word: no /proc fallback */
    }
    free(gs);
    /* ENOTSOCK / ENOPROTOOPT (not a unix socket) or ERANGE: /proc */
  }
  return access_proc_groups(a, p->pid, p->uid);
}

int
plumb__access_admit(const plumb__access *a, const plumb_peer *p, int sockfd)
{
  if (a->any || !p->has_creds)
    return 1;
  if (p->uid == 0 || p->uid == geteuid())
    return 1;
  for (unsigned i = 0; i < a->n_uids; i++)
    if (a->uids[i] == p->uid)
      return 1;
  return a->n_gids > 0 && access_member(a, p, sockfd);
}

/* ---- naming a peer ------------------------------------------------- */

/* fd's peer as "host:port" / "[v6]:port" into buf; 0 if not inet. */
static int
peer_inet_addr(int fd, char *buf, size_t n)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[INET6_ADDRSTRLEN];

  if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof host) == NULL)
      return 0;
    snprintf(buf, n, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    return 1;
  }
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host) == NULL)
      return 0;
    snprintf(buf, n, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    return 1;
  }
  return 0;
}

void
plumb__peer_set_addr(plumb_peer *p, int fd)
{
  if (!peer_inet_addr(fd, p->addr, sizeof p->addr))
    p->addr[0] = '\0';
}

const char *
plumb__peer_name(const plumb_peer *p, char buf[PLUMB__PEER_NAME_MAX])
{
  if (p->has_creds)
    snprintf(buf, PLUMB__PEER_NAME_MAX, "%s%s(pid %d, uid %u)", p->addr,
             p->addr[0] ? " " : "", (int)p->pid, (unsigned)p->uid);
  else
    snprintf(buf, PLUMB__PEER_NAME_MAX, "%s%s(pid -)", p->addr,
             p->addr[0] ? " " : "");
  return buf;
}

void
plumb__access_describe(const plumb_peer *p, int fd, char *buf, size_t n)
{
  if (p->has_creds) {
    snprintf(buf, n, "uid %u pid %d", (unsigned)p->uid, (int)p->pid);
    return;
  }
  if (p->addr[0] != '\0') {
    snprintf(buf, n, "%s", p->addr);
    return;
  }
  if (peer_inet_addr(fd, buf, n))
    return;
  snprintf(buf, n, "pid %d (no credentials)", (int)p->pid);
}

void
plumb__access_log_refused(plumb__ratelog *rl, const char *endpoint,
                          const plumb_peer *p, int fd)
{
  int64_t now = plumb__now_ns();
  char who[80];

  if (now < rl->next_ns) {
    rl->quiet++;
    return;
  }
  plumb__access_describe(p, fd, who, sizeof who);
  if (rl->quiet)
    plumb__log(PLUMB__LOG_WARN, "refused a client on %s: %s is not allowed "
               "to connect (%u more refused since the last report)",
               endpoint, who, rl->quiet);
  else
    plumb__log(PLUMB__LOG_WARN, "refused a client on %s: %s is not allowed "
               "to connect", endpoint, who);
  rl->quiet = 0;
  rl->next_ns = now + ACCESS_LOG_EVERY_NS;
}
