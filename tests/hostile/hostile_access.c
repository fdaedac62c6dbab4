/* hostile_access.c - who may call, and an accept path that never spins,
 * tried from outside against real server processes (hostile_server.c):
 *
 *   fd      a server with RLIMIT_NOFILE 64 on unix and tcp is flooded with
 *           2,000 connections: its CPU time stays low, its log stays
 *           short, and once the flood ends a good client is served;
 *   users   a second, unprivileged user (created here with useradd, always
 *           removed: atexit, signal handlers, and the `hostile access
 *           cleanup` step) probes every IPC object of a default server
 *           and must be refused everywhere but tcp (documented open); then
 *           a 0660 + group server refuses it as a non-member and serves it
 *           as a (supplementary) member.  Skipped, visibly, unless root;
 *   plant   files and symlinks planted at a unix socket path are refused,
 *           never followed, removed or chmod-ed; a stale socket is
 *           reclaimed; the mode is right from the start.
 *
 * Every loop is bounded in count and time; every object made is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>

#include "access.h"
#include "plumb/config.h"
#include "proc.h"
#include "ptest.h"
#include "testif.h"

#ifndef ACCESS_SERVER_PATH
#error ACCESS_SERVER_PATH must name the hostile-server binary
#endif

#define MARK "plumb-hostile-access-test" /* GECOS of the users made here */
#define UPREFIX "plumbhx"               /* their names; groups: plumbhxg */

static char g_dir[64];     /* per-run scratch: /tmp/plumb-hacc-PID */
static pid_t g_servers[8]; /* started and not yet stopped */
static char g_user[32], g_group[32];
static uid_t g_uid;
static gid_t g_gid, g_ggid; /* the user's primary gid; the test group */
static int g_have_user;
static volatile pid_t g_prober; /* the child running as that user, or 0 */
static const char *g_flood_abstract; /* prober also floods this @name */

#define REFUSED_FLOOD 300 /* connections the prober makes to g_flood_abstract */

/* REFUSED_FLOOD connections to the abstract name (without '@'), each
 * closed at once; how many connected. */
static int
flood_abstract(const char *name)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  size_t n = strlen(name);
  int ok = 0;
  memcpy(sa.sun_path + 1, name, n);
  for (int i = 0; i < REFUSED_FLOOD; i++) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      break;
    ok += connect(fd, (struct sockaddr *)&sa,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                              n)) == 0;
    close(fd);
  }
  return ok;
}

/* Holds off the signals that clean up, around steps that must not be cut
 * in two (a process started but not recorded, a user half made). */
static void
hold_signals(int hold)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* In a forked child: the parent's cleanup handlers are not its own. */
static void
child_signals(void)
{
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  hold_signals(0);
}

/* ---- processes ------------------------------------------------------- */

static void
sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
  nanosleep(&ts, NULL);
}

/* Runs argv (a system tool) quietly, bounded; its exit status or -1. */
static int
run_quiet(char *const argv[])
{
  pid_t pid = fork();
  if (pid == 0) {
    child_signals();
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  if (pid < 0)
    return -1;
  for (int i = 0; i < 1000; i++) { /* 10 s */
    int ws;
    if (waitpid(pid, &ws, WNOHANG) == pid)
      return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    sleep_ms(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

/* Starts hostile-server on eps with PLUMB_CONFIG=conf (NULL: an empty
 * file), stderr to log, RLIMIT_NOFILE nofile (0: unchanged), and waits
 * until probe_ep serves add(); -1 if it did not within 10 s. */
static int call_add(const char *ep, int timeout_ms);

static void
forget_server(pid_t pid)
{
  for (int i = 0; i < 8; i++)
    if (g_servers[i] == pid)
      g_servers[i] = 0;
}

static pid_t
spawn_server(const char *const *eps, int n, const char *conf,
             const char *log, int nofile)
{
  char empty[128];
  snprintf(empty, sizeof empty, "%s/empty.conf", g_dir);
  if (conf == NULL) {
    FILE *f = fopen(empty, "w");
    if (f) {
      fputs("[defaults]\n", f);
      fclose(f);
    }
    conf = empty;
  }
  hold_signals(1);
  pid_t pid = fork();
  if (pid == 0) {
    child_signals();
    const char *argv[15] = { ACCESS_SERVER_PATH, "hacc", "0", "0" };
    for (int i = 0; i < n && i < 10; i++)
      argv[i + 4] = eps[i];
    argv[(n < 10 ? n : 10) + 4] = NULL;
    setenv("PLUMB_CONFIG", conf, 1);
    setenv("PLUMB_LOG", "warn", 1);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0)
      dup2(fd, 2);
    if (nofile > 0) {
      struct rlimit rl = { (rlim_t)nofile, (rlim_t)nofile };
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; pid > 0 && i < 8; i++)
    if (g_servers[i] == 0) {
      g_servers[i] = pid;
      break;
    }
  hold_signals(0);
  return pid;
}

static pid_t
start_server(const char *const *eps, int n, const char *conf,
             const char *log, int nofile, const char *probe_ep)
{
  pid_t pid = spawn_server(eps, n, conf, log, nofile);
  if (pid < 0)
    return -1;
  for (long long end = ptest_now_ms() + 10000; ptest_now_ms() < end;
       sleep_ms(10)) {
    if (ptest_exited(pid)) {
      forget_server(pid);
      return -1;
    }
    if (call_add(probe_ep, 300) == PLUMB_OK)
      return pid;
  }
  return -1;
}

/* Waits at most ms for pid to exit by itself: its exit code, or -1
 * (then it was killed). */
static int
stop_after(pid_t pid, int ms)
{
  forget_server(pid);
  return pid > 0 ? ptest_stop(pid, 0, ms) : -1;
}

static int
stop_server(pid_t pid)
{
  forget_server(pid);
  return pid > 0 ? ptest_stop(pid, SIGTERM, 5000) : -1;
}

/* utime + stime of pid in ms. */
static long long
cpu_ms(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                          "%*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (long long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static int
count_lines(const char *path)
{
  FILE *f = fopen(path, "re");
  int n = 0, c;
  if (f == NULL)
    return -1;
  while ((c = fgetc(f)) != EOF && n < 1000000)
    n += c == '\n';
  fclose(f);
  return n;
}

/* ---- a client -------------------------------------------------------- */

/* Opens ep and calls add(40, 2): PLUMB_OK only if it answered 42. */
static int
call_add(const char *ep, int timeout_ms)
{
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = timeout_ms };
  int32_t r = 0;
  int st = plumb_client_open(&c, ep, NULL, &o);
  if (st != PLUMB_OK)
    return st;
  st = test_Echo_add(c, 40, 2, &r);
  plumb_client_close(c);
  return st == PLUMB_OK && r != 42 ? PLUMB_EPROTO : st;
}

/* Retries call_add until it succeeds or ms pass; the time it took, or -1. */
static long long
served_within(const char *ep, int ms)
{
  long long t0 = ptest_now_ms();
  for (int i = 0; i < 1000 && ptest_now_ms() - t0 < ms; i++) {
    if (call_add(ep, 500) == PLUMB_OK)
      return ptest_now_ms() - t0;
    sleep_ms(20);
  }
  return -1;
}

/* ---- (a) fd exhaustion ----------------------------------------------- */

/* A non-blocking connect to sa (queued in the backlog or in progress). */
static int
flood_connect(const struct sockaddr *sa, socklen_t len)
{
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
  if (fd < 0)
    return -1;
  if (connect(fd, sa, len) != 0 && errno != EINPROGRESS && errno != EAGAIN) {
    close(fd);
    return -1;
  }
  return fd;
}

static void
flood_case(int tcp)
{
  enum { ATTEMPTS = 2000 };
  char path[108], ep[160], log[128];
  struct sockaddr_storage ss;
  socklen_t len;
  static int fds[ATTEMPTS];

  memset(&ss, 0, sizeof ss);
  snprintf(log, sizeof log, "%s/fd-%s.log", g_dir, tcp ? "tcp" : "unix");
  if (tcp) {
    int port = ptest_free_port(AF_INET, 7);
    CU_ASSERT_FATAL(port > 0);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *in;
  } else {
    snprintf(path, sizeof path, "%s/fd.sock", g_dir);
    snprintf(ep, sizeof ep, "unix:%s", path);
    struct sockaddr_un *un = (struct sockaddr_un *)&ss;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "%s", path);
    len = sizeof *un;
  }
  const char *eps[] = { ep };
  pid_t pid = start_server(eps, 1, NULL, log, 64, ep);
  CU_ASSERT_FATAL(pid > 0);

  long long cpu0 = cpu_ms(pid), t0 = ptest_now_ms();
  int opened = 0;
  for (int i = 0; i < ATTEMPTS && ptest_now_ms() - t0 < 5000; i++)
    if ((fds[opened] = flood_connect((struct sockaddr *)&ss, len)) >= 0)
      opened++;
  sleep_ms(1500); /* the server sits at its fd limit, clients pending */
  long long cpu1 = cpu_ms(pid), t1 = ptest_now_ms();
  for (int i = 0; i < opened; i++)
    close(fds[i]);
  long long took = served_within(ep, 8000);
  int lines = count_lines(log);
  printf("\n    %s: %d connections held %lld ms: server cpu %lld ms, "
         "%d log lines; good client served after %lld ms\n",
         tcp ? "tcp" : "unix", opened, t1 - t0, cpu1 - cpu0, lines, took);
  if (took < 0) { /* show why */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s", log);
    if (system(cmd) != 0)
      printf("    (no log)\n");
  }
  CU_ASSERT(opened >= ATTEMPTS / 2);
  /* A spinning accept burns ~100% of a CPU per worker: allow 20%. */
  CU_ASSERT(cpu1 - cpu0 >= 0 && cpu1 - cpu0 < (t1 - t0) / 5);
  CU_ASSERT(lines >= 1 && lines < 60);
  CU_ASSERT(ptest_file_contains(log, "not accepting for"));
  CU_ASSERT(took >= 0 && took < 2000);
  CU_ASSERT_EQUAL(stop_server(pid), 0);
  if (!tcp)
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
}

static void
test_fd_unix(void)
{
  flood_case(0);
}

static void
test_fd_tcp(void)
{
  flood_case(1);
}

/* ---- (b) a second user ----------------------------------------------- */

static void
remove_test_users(int stale_only)
{
  FILE *f;
  char line[1024];

  if (!stale_only && g_have_user) {
    char *a[] = { "/usr/sbin/userdel", "-f", g_user, NULL };
    char *b[] = { "/usr/sbin/groupdel", g_group, NULL };
    run_quiet(a);
    run_quiet(b);
    g_have_user = 0;
    return;
  }
  /* Leftovers of a run that was killed: marked users, prefixed groups. */
  if ((f = fopen("/etc/passwd", "re")) != NULL) {
    while (fgets(line, sizeof line, f)) {
      char *c = strchr(line, ':');
      if (c && strstr(line, MARK) && strncmp(line, UPREFIX, 7) == 0) {
        *c = '\0';
        char *a[] = { "/usr/sbin/userdel", "-f", line, NULL };
        run_quiet(a);
      }
    }
    fclose(f);
  }
  if ((f = fopen("/etc/group", "re")) != NULL) {
    while (fgets(line, sizeof line, f)) {
      char *c = strchr(line, ':');
      if (c && strncmp(line, UPREFIX "g", 8) == 0) {
        *c = '\0';
        char *a[] = { "/usr/sbin/groupdel", line, NULL };
        run_quiet(a);
      }
    }
    fclose(f);
  }
}

/* Removes what the second user may have left: files it owns in /tmp,
 * /dev/shm, /dev/mqueue, and its SysV queues. */
static void
remove_user_objects(void)
{
  const char *dirs[] = { "/tmp", "/dev/shm", "/dev/mqueue" };
  char path[512];

  if (g_uid == 0)
    return;
  for (int d = 0; d < 3; d++) {
    DIR *dir = opendir(dirs[d]);
    struct dirent *e;
    if (dir == NULL)
      continue;
    for (int n = 0; n < 100000 && (e = readdir(dir)) != NULL; n++) {
      struct stat sb;
      snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
      if (lstat(path, &sb) == 0 && sb.st_uid == g_uid && !S_ISDIR(sb.st_mode))
        (void)unlink(path);
    }
    closedir(dir);
  }
  FILE *f = fopen("/proc/sysvipc/msg", "re");
  char line[512];
  if (f) {
    while (fgets(line, sizeof line, f)) {
      int key, id;
      unsigned perms, cuid;
      unsigned long cb, qn;
      int lspid, lrpid;
      unsigned uid;
      if (sscanf(line, "%d %d %o %lu %lu %d %d %u %*u %u", &key, &id, &perms,
                 &cb, &qn, &lspid, &lrpid, &uid, &cuid) == 9 &&
          (uid == g_uid || cuid == g_uid)) {
        char ids[16];
        snprintf(ids, sizeof ids, "%d", id);
        char *a[] = { "/usr/bin/ipcrm", "-q", ids, NULL };
        run_quiet(a);
      }
    }
    fclose(f);
  }
}

static void
cleanup_all(void)
{
  if (g_prober > 0) { /* the user's process: userdel refuses while it runs */
    kill(g_prober, SIGKILL);
    waitpid(g_prober, NULL, 0);
    g_prober = 0;
  }
  for (int i = 0; i < 8; i++)
    if (g_servers[i] > 0) {
      ptest_stop(g_servers[i], SIGTERM, 3000);
      g_servers[i] = 0;
    }
  remove_user_objects();
  remove_test_users(0);
  if (g_dir[0]) {
    char *a[] = { "/bin/rm", "-rf", g_dir, NULL };
    run_quiet(a);
  }
}

static void
on_signal(int sig)
{
  cleanup_all();
  signal(sig, SIG_DFL);
  raise(sig);
}

static int
make_user(void)
{
  struct passwd *pw;
  struct group *gr;

  snprintf(g_user, sizeof g_user, UPREFIX "%d", (int)getpid());
  snprintf(g_group, sizeof g_group, UPREFIX "g%d", (int)getpid());
  char *ga[] = { "/usr/sbin/groupadd", g_group, NULL };
  char *ua[] = { "/usr/sbin/useradd", "-M", "-N", "-s", "/usr/sbin/nologin",
                 "-c", MARK, g_user, NULL };
  hold_signals(1); /* a signal now would race userdel with useradd */
  g_have_user = 1; /* from now on cleanup tries to remove them */
  int rc = run_quiet(ga) != 0 || run_quiet(ua) != 0;
  hold_signals(0);
  if (rc)
    return -1;
  if ((pw = getpwnam(g_user)) == NULL || (gr = getgrnam(g_group)) == NULL)
    return -1;
  g_uid = pw->pw_uid;
  g_gid = pw->pw_gid;
  g_ggid = gr->gr_gid;
  return 0;
}

/* Results of one probe, as the second user, of one endpoint. */
typedef struct probe {
  const char *ep;
  int st; /* call_add's status */
} probe;

/* Connects to the shm server's rendezvous socket directly (its abstract
 * name is in /proc/net/unix for all to see): 1 if a channel came back. */
static int
shm_rendezvous_answers(const char *name)
{
  char line[512], want[128], sock[108] = "";
  FILE *f = fopen("/proc/net/unix", "re");
  snprintf(want, sizeof want, "@plumb-shm.%s.", name);
  if (f == NULL)
    return 0;
  while (fgets(line, sizeof line, f)) {
    char *p = strstr(line, want);
    if (p) {
      p[strcspn(p, " \n")] = '\0';
      snprintf(sock, sizeof sock, "%s", p + 1);
      break;
    }
  }
  fclose(f);
  if (sock[0] == '\0')
    return 0;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  size_t n = strlen(sock);
  memcpy(sa.sun_path + 1, sock, n);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  int got = 0;
  if (connect(fd, (struct sockaddr *)&sa,
              (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) ==
      0) {
    struct pollfd p = { fd, POLLIN, 0 };
    char buf[64];
    if (poll(&p, 1, 1000) == 1 && recv(fd, buf, sizeof buf, 0) > 0)
      got = 1;
  }
  close(fd);
  return got;
}

/* Forks a child that becomes the second user (with the test group as a
 * supplementary group if member) and probes each endpoint; shm_name, if
 * set, is also probed through its rendezvous socket (result in *shm_raw).
 * 0, or -1 if the child failed. */
static int
probe_as_user(probe *pr, int n, int member, const char *shm_name,
              int *shm_raw)
{
  int pfd[2];
  if (pipe(pfd) != 0)
    return -1;
  hold_signals(1);
  pid_t pid = fork();
  if (pid == 0) {
    child_signals();
    close(pfd[0]);
    gid_t groups[1] = { g_ggid };
    if (setgroups(member ? 1 : 0, groups) != 0 ||
        setresgid(g_gid, g_gid, g_gid) != 0 ||
        setresuid(g_uid, g_uid, g_uid) != 0 || geteuid() != g_uid)
      _exit(2);
    alarm(30); /* bounded, whatever happens */
    for (int i = 0; i < n; i++) {
      int st = call_add(pr[i].ep, 1000);
      if (write(pfd[1], &st, sizeof st) != (ssize_t)sizeof st)
        _exit(3);
    }
    if (g_flood_abstract)
      (void)flood_abstract(g_flood_abstract);
    int raw = shm_name ? shm_rendezvous_answers(shm_name) : 0;
    if (write(pfd[1], &raw, sizeof raw) != (ssize_t)sizeof raw)
      _exit(3);
    _exit(0);
  }
  g_prober = pid > 0 ? pid : 0;
  hold_signals(0);
  close(pfd[1]);
  int ok = pid > 0 ? 0 : -1;
  for (int i = 0; ok == 0 && i < n; i++) {
    struct pollfd p = { pfd[0], POLLIN, 0 };
    if (poll(&p, 1, 20000) != 1 ||
        read(pfd[0], &pr[i].st, sizeof pr[i].st) != (ssize_t)sizeof(int))
      ok = -1;
  }
  struct pollfd p = { pfd[0], POLLIN, 0 };
  if (ok == 0 && (poll(&p, 1, 20000) != 1 ||
                  read(pfd[0], shm_raw, sizeof *shm_raw) != sizeof(int)))
    ok = -1;
  close(pfd[0]);
  if (pid > 0 && ptest_stop(pid, 0, 20000) != 0)
    ok = -1;
  g_prober = 0;
  return ok;
}

static int
built(const char *ep)
{
  return plumb_endpoint_check(ep, NULL, 0) == PLUMB_OK;
}

/* The endpoints of one server under test, of the transports built in. */
static int
local_endpoints(char eps[][160], const char *dir, const char *tag,
                int with_tcp)
{
  int n = 0, pid = (int)getpid();
  snprintf(eps[n++], 160, "unix:%s/%s.sock", dir, tag);
  snprintf(eps[n++], 160, "unix:@plumb-hacc-%d-%s", pid, tag);
  if (with_tcp) {
    int port = ptest_free_port(AF_INET, tag[0]);
    snprintf(eps[n++], 160, "tcp://127.0.0.1:%d", port);
  }
  const char *more[] = { "shm:/plumb-hacc-%d-%s", "fifo:%s/%s.fifo",
                         "mq:/plumb-hacc-%d-%s", "sysvmq:%s/%s.key" };
  for (int i = 0; i < 4; i++) {
    if (i == 1 || i == 3)
      snprintf(eps[n], 160, more[i], dir, tag);
    else
      snprintf(eps[n], 160, more[i], pid, tag);
    if (built(eps[n]))
      n++;
  }
  return n;
}

static int
users_init(void)
{
  if (geteuid() != 0)
    return 0;
  remove_test_users(1);
  if (make_user() != 0) {
    fprintf(stderr, "hostile_access: could not create the test user\n");
    return 1;
  }
  /* The user must reach the scratch directory (not write it). */
  chmod(g_dir, 0755);
  return 0;
}

static int
users_cleanup(void)
{
  remove_user_objects();
  remove_test_users(0);
  return 0;
}

static int
skip_unless_root(void)
{
  if (geteuid() == 0)
    return 0;
  printf("\n    SKIPPED: needs root to create a second user (useradd); "
         "run the suite as root to probe as another user\n");
  return 1;
}

static void
test_default_server(void)
{
  char eps[8][160], log[128];
  const char *ep[8] = { NULL };
  probe pr[8];
  int raw = -1;

  if (skip_unless_root())
    return;
  int n = local_endpoints(eps, g_dir, "dflt", 1);
  for (int i = 0; i < n; i++) {
    ep[i] = eps[i];
    pr[i].ep = eps[i];
  }
  snprintf(log, sizeof log, "%s/dflt.log", g_dir);
  pid_t pid = start_server(ep, n, NULL, log, 0, ep[0]);
  CU_ASSERT_FATAL(pid > 0);
  char shm[64];
  snprintf(shm, sizeof shm, "plumb-hacc-%d-dflt", (int)getpid());
  int shm_built = built("shm:/x");
  g_flood_abstract = ep[1] + 6; /* "unix:@name" */
  int probed = probe_as_user(pr, n, 0, shm_built ? shm : NULL, &raw);
  g_flood_abstract = NULL;
  CU_ASSERT_EQUAL_FATAL(probed, 0);
  for (int i = 0; i < n; i++) {
    int is_tcp = strncmp(pr[i].ep, "tcp:", 4) == 0;
    printf("\n    as %s: %s -> %s", g_user, pr[i].ep, plumb_strerror(pr[i].st));
    if (is_tcp) { /* tcp has no credentials: documented open */
      CU_ASSERT_EQUAL(pr[i].st, PLUMB_OK);
    } else {
      CU_ASSERT_NOT_EQUAL(pr[i].st, PLUMB_OK);
    }
  }
  printf("\n    as %s: shm rendezvous socket direct -> %s\n", g_user,
         raw ? "answered" : "closed");
  CU_ASSERT_EQUAL(raw, 0);
  /* Refusals are logged (rate-limited) with uid and pid. */
  char want[64];
  snprintf(want, sizeof want, "uid %u pid", (unsigned)g_uid);
  CU_ASSERT(ptest_file_contains(log, want));
  /* ... at most one line a second, however many are refused. */
  sleep_ms(1100); /* one more line may report the rest */
  CU_ASSERT_EQUAL(call_add(ep[0], 2000), PLUMB_OK);
  int lines = count_lines(log);
  printf("    %d refused connections on the abstract endpoint: %d log "
         "lines in all\n", REFUSED_FLOOD + 1, lines);
  CU_ASSERT(lines >= 1 && lines <= 12);
  /* The owner is served, on every endpoint, all along. */
  for (int i = 0; i < n; i++)
    CU_ASSERT_EQUAL(call_add(ep[i], 2000), PLUMB_OK);
  CU_ASSERT_EQUAL(stop_server(pid), 0);
}

static void
test_group_server(void)
{
  char eps[8][160], log[128], conf[128];
  const char *ep[8] = { NULL };
  probe pr[8];
  int raw = -1;

  if (skip_unless_root())
    return;
  /* fifo clients make their pair next to the rendezvous: the group's
   * directory, as a deployment would have it. */
  char dir[96];
  snprintf(dir, sizeof dir, "%s/grp", g_dir);
  CU_ASSERT_FATAL(mkdir(dir, 0770) == 0 && chown(dir, 0, g_ggid) == 0 &&
                  chmod(dir, 02770) == 0);
  int n = local_endpoints(eps, dir, "grp", 0);
  for (int i = 0; i < n; i++)
    ep[i] = pr[i].ep = eps[i];
  snprintf(conf, sizeof conf, "%s/grp.conf", g_dir);
  FILE *f = fopen(conf, "w");
  CU_ASSERT_FATAL(f != NULL);
  fprintf(f, "[hacc]\nmode = 0660\ngroup = %s\n", g_group);
  fclose(f);
  chmod(conf, 0644);
  snprintf(log, sizeof log, "%s/grp.log", g_dir);
  pid_t pid = start_server(ep, n, conf, log, 0, ep[0]);
  CU_ASSERT_FATAL(pid > 0);
  char shm[64];
  snprintf(shm, sizeof shm, "plumb-hacc-%d-grp", (int)getpid());
  const char *shm_name = built("shm:/x") ? shm : NULL;

  /* Not a member: refused everywhere. */
  CU_ASSERT_EQUAL_FATAL(probe_as_user(pr, n, 0, shm_name, &raw), 0);
  for (int i = 0; i < n; i++) {
    printf("\n    %s, not in %s: %s -> %s", g_user, g_group, pr[i].ep,
           plumb_strerror(pr[i].st));
    CU_ASSERT_NOT_EQUAL(pr[i].st, PLUMB_OK);
  }
  CU_ASSERT_EQUAL(raw, 0);
  /* A member through a supplementary group: served everywhere. */
  CU_ASSERT_EQUAL_FATAL(probe_as_user(pr, n, 1, NULL, &raw), 0);
  for (int i = 0; i < n; i++) {
    printf("\n    %s, in %s: %s -> %s", g_user, g_group, pr[i].ep,
           plumb_strerror(pr[i].st));
    CU_ASSERT_EQUAL(pr[i].st, PLUMB_OK);
  }
  printf("\n");
  for (int i = 0; i < n; i++)
    CU_ASSERT_EQUAL(call_add(ep[i], 2000), PLUMB_OK);
  CU_ASSERT_EQUAL(stop_server(pid), 0);
}

/* ---- (c) planting at a unix socket path ------------------------------ */

static int
write_file(const char *path, const char *text, mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  fchmodat(AT_FDCWD, path, mode, 0);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Starts a server on ep that is expected to fail: its exit code (3 for
 * "in use"), -1 if it was still running after 5 s.  *why: its log says
 * something is in the way. */
static int
listen_code(const char *ep, int *why)
{
  char log[128];
  snprintf(log, sizeof log, "%s/plant.log", g_dir);
  const char *eps[] = { ep };
  pid_t pid = spawn_server(eps, 1, NULL, log, 0);
  int code = stop_after(pid, 5000);
  *why = ptest_file_contains(log, "is in the way");
  return code;
}

static void
test_plant(void)
{
  char path[108], ep[160], victim[128];
  struct stat sb;
  int why;

  snprintf(path, sizeof path, "%s/plant.sock", g_dir);
  snprintf(ep, sizeof ep, "unix:%s", path);
  snprintf(victim, sizeof victim, "%s/victim", g_dir);
  CU_ASSERT_FATAL(write_file(victim, "precious", 0644) == 0);

  /* A symlink to someone's file: refused, not followed, not removed. */
  CU_ASSERT_FATAL(symlink(victim, path) == 0);
  CU_ASSERT_EQUAL(listen_code(ep, &why), 3);
  CU_ASSERT(why);
  CU_ASSERT(lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode));
  CU_ASSERT(stat(victim, &sb) == 0 && (sb.st_mode & 0777) == 0644);
  CU_ASSERT(ptest_file_contains(victim, "precious"));
  unlink(path);
  /* A dangling symlink: refused, nothing created where it points. */
  char target[128];
  snprintf(target, sizeof target, "%s/target", g_dir);
  CU_ASSERT_FATAL(symlink(target, path) == 0);
  CU_ASSERT_EQUAL(listen_code(ep, &why), 3);
  CU_ASSERT(why);
  CU_ASSERT_NOT_EQUAL(lstat(target, &sb), 0);
  unlink(path);
  /* A regular file: refused and left as it is. */
  CU_ASSERT_FATAL(write_file(path, "not a socket", 0644) == 0);
  CU_ASSERT_EQUAL(listen_code(ep, &why), 3);
  CU_ASSERT(why);
  CU_ASSERT(ptest_file_contains(path, "not a socket"));
  unlink(path);
  /* A stale socket (its server died): reclaimed. */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  close(fd);
  char log[128];
  snprintf(log, sizeof log, "%s/plant-ok.log", g_dir);
  const char *eps[] = { ep };
  pid_t pid = start_server(eps, 1, NULL, log, 0, ep);
  CU_ASSERT_FATAL(pid > 0);
  /* Mode right, and no private bind directory left next to it. */
  CU_ASSERT(lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
            (sb.st_mode & 0777) == 0600);
  DIR *d = opendir(g_dir);
  struct dirent *e;
  int leftovers = 0;
  while (d && (e = readdir(d)) != NULL)
    leftovers += strncmp(e->d_name, ".plumb-", 7) == 0;
  if (d)
    closedir(d);
  CU_ASSERT_EQUAL(leftovers, 0);
  /* A second server on the same live path: refused, first one unharmed. */
  CU_ASSERT_EQUAL(listen_code(ep, &why), 3);
  CU_ASSERT(!why);
  long long took = served_within(ep, 3000);
  CU_ASSERT(took >= 0 && took < 3000);
  CU_ASSERT_EQUAL(stop_server(pid), 0);
  CU_ASSERT_NOT_EQUAL(lstat(path, &sb), 0);
}

/* ---- the policy itself (in-process) ------------------------------------ */

static void
test_policy(void)
{
  plumb__access a;
  char why[200];
  plumb_peer me = { .has_creds = 1, .pid = getpid(), .uid = geteuid(),
                    .gid = getegid() };
  plumb_peer root = { .has_creds = 1, .pid = 1, .uid = 0, .gid = 0 };
  plumb_peer other = { .has_creds = 1, .pid = 1, .uid = 4242,
                       .gid = 4242 };
  plumb_peer anon = { .has_creds = 0 }; /* tcp: no credentials */

  /* Derived from the mode: 0600 owner only, 0660 + group, 0606 anyone. */
  plumb__access_from_mode(&a, 0600, 0, 0);
  CU_ASSERT(plumb__access_admit(&a, &me, -1));
  CU_ASSERT(plumb__access_admit(&a, &root, -1));
  CU_ASSERT(!plumb__access_admit(&a, &other, -1));
  CU_ASSERT(plumb__access_admit(&a, &anon, -1));
  plumb__access_from_mode(&a, 0660, 1, 4242);
  CU_ASSERT(plumb__access_admit(&a, &other, -1)); /* primary gid */
  other.gid = 4243;
  CU_ASSERT(!plumb__access_admit(&a, &other, -1)); /* pid 1: not in it */
  plumb__access_from_mode(&a, 0606, 0, 0);
  CU_ASSERT(plumb__access_admit(&a, &other, -1));

  /* Configured: numbers and names, commas and blanks; errors name the
   * bad item. */
  CU_ASSERT_EQUAL(plumb__access_parse(&a, NULL, "4242, root 17", NULL, why,
                                      sizeof why), PLUMB_OK);
  CU_ASSERT(a.set && a.n_uids == 3 && a.uids[1] == 0 && a.uids[2] == 17);
  CU_ASSERT(plumb__access_admit(&a, &other, -1));
  CU_ASSERT_EQUAL(plumb__access_parse(&a, NULL, NULL, "root,4243", why,
                                      sizeof why), PLUMB_OK);
  CU_ASSERT(a.n_gids == 2 && plumb__access_admit(&a, &other, -1));
  CU_ASSERT_EQUAL(plumb__access_parse(&a, "any", NULL, NULL, why,
                                      sizeof why), PLUMB_OK);
  other.uid = 5000;
  CU_ASSERT(a.any && plumb__access_admit(&a, &other, -1));
  CU_ASSERT_EQUAL(plumb__access_parse(&a, "owner", NULL, NULL, why,
                                      sizeof why), PLUMB_OK);
  CU_ASSERT(a.set && !plumb__access_admit(&a, &other, -1));
  CU_ASSERT_EQUAL(plumb__access_parse(&a, NULL, NULL, NULL, why,
                                      sizeof why), PLUMB_OK);
  CU_ASSERT(!a.set);
  CU_ASSERT_EQUAL(plumb__access_parse(&a, "all", NULL, NULL, why,
                                      sizeof why), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb__access_parse(&a, NULL, "nobody-plumb-x", NULL, why,
                                      sizeof why), PLUMB_EINVAL);
  CU_ASSERT(strstr(why, "'nobody-plumb-x'") != NULL);
  CU_ASSERT_EQUAL(plumb__access_parse(&a, NULL, NULL, "1,2,3,4,5,6,7,8,9,10,"
                                      "11,12,13,14,15,16,17,18,19,20,21,22,"
                                      "23,24,25,26,27,28,29,30,31,32,33",
                                      why, sizeof why), PLUMB_EINVAL);
  CU_ASSERT(strstr(why, "more than 32") != NULL);

  /* Groups from /proc (no socket): only while the pid's effective uid is
   * the one the credentials claim, and only for a live pid.  (The members
   * served through /proc - fifo, mq, sysvmq - are in the users suite.) */
  gid_t gs[64];
  int ng = getgroups(64, gs);
  CU_ASSERT(ng >= 0);
  gid_t mine = ng > 0 ? gs[0] : getegid();
  plumb__access_from_mode(&a, 0660, 1, mine);
  plumb_peer liar = { .has_creds = 1, .pid = getpid(), .uid = 4242,
                      .gid = (gid_t)-2 }; /* /proc says 0 */
  CU_ASSERT(!plumb__access_admit(&a, &liar, -1));
  pid_t dead = fork();
  if (dead == 0)
    _exit(0);
  waitpid(dead, NULL, 0);
  plumb_peer gone = { .has_creds = 1, .pid = dead, .uid = 4242,
                      .gid = (gid_t)-2 };
  CU_ASSERT(!plumb__access_admit(&a, &gone, -1));

  /* plumb_server_opts: a bad list fails plumb_server_new, clearly. */
  plumb_server *s = NULL;
  plumb_server_opts o = { .allow_uids = "nobody-plumb-x" };
  CU_ASSERT_EQUAL(plumb_server_new(&s, &o), PLUMB_EINVAL);
  CU_ASSERT(s == NULL);
  plumb_server_opts ok = { .allow_gids = "root", .allow_any = 0 };
  CU_ASSERT_EQUAL(plumb_server_new(&s, &ok), PLUMB_OK);
  plumb_server_free(s);
}

/* A server with an explicit policy on its abstract and shm endpoints
 * (which have no file mode): the listed user is served, others not. */
static void
test_allow_lists(void)
{
  char eps[2][160], log[128], conf[128];
  const char *ep[2];
  probe pr[2];
  int raw = -1, n = 0;

  if (skip_unless_root())
    return;
  snprintf(eps[n++], 160, "unix:@plumb-hacc-%d-allow", (int)getpid());
  snprintf(eps[n], 160, "shm:/plumb-hacc-%d-allow", (int)getpid());
  if (built(eps[n]))
    n++;
  for (int i = 0; i < n; i++)
    ep[i] = pr[i].ep = eps[i];
  snprintf(conf, sizeof conf, "%s/allow.conf", g_dir);
  snprintf(log, sizeof log, "%s/allow.log", g_dir);
  const char *policies[] = { "allow_uids = 1, %s\n", "allow_gids = %s\n",
                             "allow = any\n%.0s", "allow = owner\n%.0s" };
  const char *names[] = { g_user, g_group, "", "" };
  const int served[] = { 1, 1, 1, 0 };
  const int member[] = { 0, 1, 0, 1 };
  for (int k = 0; k < 4; k++) {
    FILE *f = fopen(conf, "w");
    CU_ASSERT_FATAL(f != NULL);
    /* shm also needs its control segment readable (kernel bits and the
     * policy both apply): 0644 - the explicit policy then decides. */
    fprintf(f, "[hacc]\nmode = 0644\n");
    fprintf(f, policies[k], names[k]);
    fclose(f);
    pid_t pid = start_server(ep, n, conf, log, 0, ep[0]);
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL_FATAL(probe_as_user(pr, n, member[k], NULL, &raw), 0);
    for (int i = 0; i < n; i++) {
      printf("\n    policy %d, as %s%s: %s -> %s", k, g_user,
             member[k] ? " (in the group)" : "", pr[i].ep,
             plumb_strerror(pr[i].st));
      CU_ASSERT_EQUAL(pr[i].st == PLUMB_OK, served[k]);
    }
    CU_ASSERT_EQUAL(call_add(ep[0], 2000), PLUMB_OK);
    CU_ASSERT_EQUAL(stop_server(pid), 0);
  }
  printf("\n");
}

/* ---- setup ----------------------------------------------------------- */

static int
suite_init(void)
{
  return 0;
}

static const ptest_case fd_cases[] = {
  { "unix server at its fd limit: no spin, recovers", test_fd_unix },
  { "tcp server at its fd limit: no spin, recovers", test_fd_tcp },
  { NULL, NULL },
};
static const ptest_case user_cases[] = {
  { "second user vs a default server", test_default_server },
  { "second user vs a 0660+group server", test_group_server },
  { "second user vs allow_uids / allow_gids / allow", test_allow_lists },
  { NULL, NULL },
};
static const ptest_case policy_cases[] = {
  { "parse, derive and decide", test_policy },
  { NULL, NULL },
};
static const ptest_case plant_cases[] = {
  { "planted files and symlinks at a unix path", test_plant },
  { NULL, NULL },
};
static const ptest_suite suites[] = {
  { "policy", policy_cases, suite_init, NULL },
  { "fd", fd_cases, suite_init, NULL },
  { "users", user_cases, users_init, users_cleanup },
  { "plant", plant_cases, suite_init, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  struct rlimit rl;

  if (argc > 1 && strcmp(argv[1], "--cleanup") == 0) {
    if (geteuid() == 0)
      remove_test_users(1);
    return 0;
  }
  /* The flood needs 2,000 fds of its own. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  snprintf(g_dir, sizeof g_dir, "/tmp/plumb-hacc-%d", (int)getpid());
  if (mkdir(g_dir, 0700) != 0) {
    perror(g_dir);
    return 1;
  }
  atexit(cleanup_all);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);
  signal(SIGPIPE, SIG_IGN);
  return ptest_run(suites, argc, argv);
}
