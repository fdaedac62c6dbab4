/* lasterr.c - the calling thread's last error message (plumb/error.h):
 * cleared when a public call starts, set once when it fails, from the
 * call's own words or the detail a transport gave (plumb__addr_why,
 * plumb__addr_why_path for what a path's errno means). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "plumb/error.h"
#include "plumb/status.h"
#include "lasterr.h"
#include "transport.h"

static _Thread_local char err_msg[640];
static _Thread_local char err_detail[320];

const char *
plumb_last_error(void)
{
  return err_msg;
}

void
plumb__err_begin(void)
{
  err_msg[0] = '\0';
  err_detail[0] = '\0';
}

void
plumb__err_set(const char *fmt, ...)
{
  va_list ap;

  if (err_msg[0] != '\0')
    return;
  va_start(ap, fmt);
  vsnprintf(err_msg, sizeof err_msg, fmt, ap);
  va_end(ap);
}

void
plumb__addr_why(const char *fmt, ...)
{
  va_list ap;

  if (err_detail[0] != '\0')
    return; /* the first, most specific reason wins */
  va_start(ap, fmt);
  vsnprintf(err_detail, sizeof err_detail, fmt, ap);
  va_end(ap);
}

int
plumb__err_end(int st, const char *what)
{
  if (st == PLUMB_OK) {
    err_msg[0] = '\0';
  } else if (err_msg[0] == '\0') {
    plumb__err_set("%s: %s", what ? what : "(null)",
                   err_detail[0] ? err_detail : plumb_strerror(st));
  }
  err_detail[0] = '\0';
  return st;
}

/* The longest leading directory of path ("." if none) into dir. */
static void
path_dir(const char *path, char *dir, size_t cap)
{
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(dir, cap, ".");
  else if (slash == path)
    snprintf(dir, cap, "/");
  else
    snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

static void
addr_why_path(const char *path, int err)
{
  char dir[PATH_MAX], cur[PATH_MAX];
  struct stat st;

  switch (err) {
  case ENOENT:
  case ENOTDIR:
    /* The parent directory, or the deepest ancestor that exists: named
     * as the shell would ("directory /no/such/dir does not exist", or
     * "/tmp/f is not a directory" when a file is in the way). */
    path_dir(path, dir, sizeof dir);
    snprintf(cur, sizeof cur, "%s", dir);
    while (stat(cur, &st) != 0) {
      char up[PATH_MAX];
      if (errno != ENOENT && errno != ENOTDIR)
        return; /* e.g. EACCES on the way: not ours to guess */
      path_dir(cur, up, sizeof up);
      if (strcmp(up, cur) == 0)
        return; /* not even "/" or ".": say no more */
      memcpy(cur, up, sizeof cur);
    }
    if (!S_ISDIR(st.st_mode))
      plumb__addr_why("%s is not a directory", cur);
    else if (strcmp(cur, dir) != 0)
      plumb__addr_why("directory %s does not exist", dir);
    return;
  case EISDIR:
    plumb__addr_why("%s is a directory", path);
    return;
  case EACCES:
  case EPERM:
    plumb__addr_why("permission denied on %s", path);
    return;
  case ENAMETOOLONG:
    plumb__addr_why("path name too long");
    return;
  case ELOOP:
    plumb__addr_why("too many symbolic links in %s", path);
    return;
  case EROFS:
    plumb__addr_why("%s is on a read-only file system", path);
    return;
  default:
    return;
  }
}

void
plumb__addr_why_path(const char *path, int err)
{
  int saved = errno; /* callers go on to map err (often errno) */

  if (path != NULL)
    addr_why_path(path, err);
  errno = saved;
}
