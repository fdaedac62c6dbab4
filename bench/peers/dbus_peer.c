/* dbus_peer.c - D-Bus (libdbus) peer to peer, no bus daemon: the bench's
 * add(int32, int32) -> int32 as method org.plumb.Bench.Add on object
 * /org/plumb/Bench, over a unix socket, for the peers stage of
 * scripts/bench.sh (command line: peer_util.h; unix only).
 *
 * The server is a DBusServer listening on unix:path=PATH (EXTERNAL auth:
 * the kernel's peer credentials, same uid).  libdbus has no main loop of its
 * own, so the server polls its listening watches itself (at most 8) until a
 * client connects, then serves that one connection with
 * dbus_connection_read_write_dispatch() until it goes away; one client at a
 * time is what the latency bench needs.  Arguments are read with
 * dbus_message_get_args(), which checks their types; a wrong call gets a
 * D-Bus error reply.  Every wait has a 200 ms tick so SIGTERM stops it.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <dbus/dbus.h>

#include "peer_util.h"

#define BENCH_PATH "/org/plumb/Bench"
#define BENCH_IFACE "org.plumb.Bench"
#define MAX_WATCHES 8

static DBusWatch *watches[MAX_WATCHES];
static DBusConnection *conn;

static dbus_bool_t
add_watch(DBusWatch *w, void *data)
{
  (void)data;
  for (int i = 0; i < MAX_WATCHES; i++)
    if (watches[i] == NULL) {
      watches[i] = w;
      return TRUE;
    }
  return FALSE;
}

static void
remove_watch(DBusWatch *w, void *data)
{
  (void)data;
  for (int i = 0; i < MAX_WATCHES; i++)
    if (watches[i] == w)
      watches[i] = NULL;
}

static DBusHandlerResult
on_message(DBusConnection *c, DBusMessage *m, void *data)
{
  DBusError err;
  DBusMessage *reply;
  dbus_int32_t a, b, r;
  (void)data;
  if (!dbus_message_is_method_call(m, BENCH_IFACE, "Add"))
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
  dbus_error_init(&err);
  if (dbus_message_get_args(m, &err, DBUS_TYPE_INT32, &a, DBUS_TYPE_INT32,
                            &b, DBUS_TYPE_INVALID)) {
    r = (dbus_int32_t)((uint32_t)a + (uint32_t)b);
    reply = dbus_message_new_method_return(m);
    if (reply != NULL)
      dbus_message_append_args(reply, DBUS_TYPE_INT32, &r, DBUS_TYPE_INVALID);
  } else {
    reply = dbus_message_new_error(m, err.name, err.message);
    dbus_error_free(&err);
  }
  if (reply != NULL) {
    dbus_connection_send(c, reply, NULL);
    dbus_message_unref(reply);
  }
  return DBUS_HANDLER_RESULT_HANDLED;
}

static void
on_connection(DBusServer *srv, DBusConnection *c, void *data)
{
  static const DBusObjectPathVTable vt = { .message_function = on_message };
  (void)srv;
  (void)data;
  if (conn != NULL) /* one client at a time: not referenced = dropped */
    return;
  if (!dbus_connection_register_object_path(c, BENCH_PATH, &vt, NULL))
    return;
  conn = dbus_connection_ref(c);
}

static int
serve(const peer_opts *o)
{
  char addr[160];
  DBusError err;
  dbus_error_init(&err);
  snprintf(addr, sizeof addr, "unix:path=%s", o->path);
  DBusServer *srv = dbus_server_listen(addr, &err);
  if (srv == NULL) {
    fprintf(stderr, "peer-dbus: %s: %s\n", addr, err.message);
    return 1;
  }
  dbus_server_set_new_connection_function(srv, on_connection, NULL, NULL);
  if (!dbus_server_set_watch_functions(srv, add_watch, remove_watch, NULL,
                                       NULL, NULL)) {
    fprintf(stderr, "peer-dbus: too many watches\n");
    return 1;
  }
  peer_server_ready("dbus");
  while (!peer_stopping()) {
    if (conn != NULL) {
      if (!dbus_connection_read_write_dispatch(conn, 200)) {
        dbus_connection_close(conn); /* the client went away */
        dbus_connection_unref(conn);
        conn = NULL;
      }
      continue;
    }
    struct pollfd pfd[MAX_WATCHES];
    DBusWatch *w[MAX_WATCHES];
    int n = 0;
    for (int i = 0; i < MAX_WATCHES; i++) {
      if (watches[i] == NULL || !dbus_watch_get_enabled(watches[i]))
        continue;
      unsigned fl = dbus_watch_get_flags(watches[i]);
      pfd[n].fd = dbus_watch_get_unix_fd(watches[i]);
      pfd[n].events = (short)(((fl & DBUS_WATCH_READABLE) ? POLLIN : 0) |
                              ((fl & DBUS_WATCH_WRITABLE) ? POLLOUT : 0));
      pfd[n].revents = 0;
      w[n++] = watches[i];
    }
    if (poll(pfd, (nfds_t)n, 200) <= 0)
      continue;
    for (int i = 0; i < n; i++) {
      unsigned fl = 0;
      if (pfd[i].revents & POLLIN)
        fl |= DBUS_WATCH_READABLE;
      if (pfd[i].revents & POLLOUT)
        fl |= DBUS_WATCH_WRITABLE;
      if (pfd[i].revents & POLLERR)
        fl |= DBUS_WATCH_ERROR;
      if (pfd[i].revents & POLLHUP)
        fl |= DBUS_WATCH_HANGUP;
      if (fl != 0)
        dbus_watch_handle(w[i], fl);
    }
  }
  if (conn != NULL) {
    dbus_connection_close(conn);
    dbus_connection_unref(conn);
  }
  dbus_server_disconnect(srv);
  dbus_server_unref(srv);
  unlink(o->path);
  return 0;
}

static int
call_add(void *ctx, int32_t a, int32_t b, int32_t *r)
{
  DBusConnection *c = ctx;
  DBusError err;
  dbus_int32_t da = a, db = b, dr = 0;
  int rc = -1;
  dbus_error_init(&err);
  DBusMessage *m = dbus_message_new_method_call(NULL, BENCH_PATH, BENCH_IFACE,
                                                "Add");
  if (m == NULL || !dbus_message_append_args(m, DBUS_TYPE_INT32, &da,
                                             DBUS_TYPE_INT32, &db,
                                             DBUS_TYPE_INVALID))
    return -1;
  DBusMessage *reply = dbus_connection_send_with_reply_and_block(c, m, 5000,
                                                                 &err);
  dbus_message_unref(m);
  if (reply != NULL &&
      dbus_message_get_args(reply, &err, DBUS_TYPE_INT32, &dr,
                            DBUS_TYPE_INVALID)) {
    *r = dr;
    rc = 0;
  } else {
    fprintf(stderr, "peer-dbus: Add: %s\n",
            dbus_error_is_set(&err) ? err.message : "no reply");
  }
  dbus_error_free(&err);
  if (reply != NULL)
    dbus_message_unref(reply);
  return rc;
}

int
main(int argc, char **argv)
{
  peer_opts o;
  char addr[160];
  DBusError err;
  if (peer_parse(argc, argv, "dbus", &o) != 0)
    return 2;
  if (o.tcp) {
    fprintf(stderr, "peer-dbus: unix sockets only\n");
    return 2;
  }
  if (strcmp(o.role, "server") == 0) {
    peer_server_signals(&o);
    return serve(&o);
  }
  dbus_error_init(&err);
  snprintf(addr, sizeof addr, "unix:path=%s", o.path);
  DBusConnection *c = dbus_connection_open_private(addr, &err);
  if (c == NULL) {
    fprintf(stderr, "peer-dbus: %s: %s\n", addr, err.message);
    return 1;
  }
  dbus_connection_set_exit_on_disconnect(c, FALSE);
  int rc = peer_measure("dbus", &o, call_add, c);
  dbus_connection_close(c);
  dbus_connection_unref(c);
  return rc;
}
