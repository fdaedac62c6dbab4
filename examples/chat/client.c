/* client.c - a chat member: serves its own chat::Listener object, asks the
 * lobby (a factory) for a room, joins it by passing a reference to that
 * Listener, says something, gets called back, and closes the room.
 *
 *   chat-client NICK LOBBY LISTEN_ENDPOINT
 * LOBBY is where the lobby is: a plumbref: string as chat-server prints it,
 * or an endpoint (default: plumb.conf [chat]); LISTEN_ENDPOINT is where
 * this client serves its Listener (any transport; tcp port 0 is fine: the
 * reference carries the real port).  Exit status 0 when every step worked. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plumb/plumb.h>

#include "chat.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int heard;

static int
on_message(void *ctx, plumb_call *call, const char *room, const char *nick,
           const char *text)
{
  (void)ctx;
  (void)call;
  printf("[%s] <%s> %s\n", room, nick, text);
  fflush(stdout);
  pthread_mutex_lock(&mu);
  heard++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  return PLUMB_OK;
}

static const chat_Listener_ops listener_impl = { on_message };

static void *
serve(void *p)
{
  plumb_server_run(p, 0);
  return NULL;
}

static int
fail(const char *what, int st, plumb_client *c)
{
  fprintf(stderr, "chat-client: %s: %s (%s)\n", what, plumb_strerror(st),
          c ? plumb_client_last_error(c) : "");
  return 1;
}

/* Waits up to 5 s for the callback. */
static int
wait_heard(int n)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 5;
  pthread_mutex_lock(&mu);
  while (heard < n)
    if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
      break;
  int ok = heard >= n;
  pthread_mutex_unlock(&mu);
  return ok;
}

static int
run(const char *nick, const char *lobby_at, plumb_server *me,
    const char *me_name)
{
  plumb_arena *a = plumb_arena_new();
  plumb_client *lobby = NULL, *room = NULL;
  plumb_objref my_ref, room_ref;
  char *s;
  uint32_t n = 0;
  int st, rc = 1;

  /* 1. a reference to my own Listener */
  if ((st = plumb_server_ref(me, me_name, &my_ref, a)) != PLUMB_OK)
    return fail("my reference", st, NULL);
  /* 2. the factory makes a room; its reference comes back */
  if ((st = plumb_client_open_service(&lobby, "chat", lobby_at, "lobby")) !=
      PLUMB_OK) {
    fail("open lobby", st, NULL);
    goto out;
  }
  if ((st = chat_Lobby_create(lobby, "plumbing", &room_ref, a)) != PLUMB_OK) {
    fail("create", st, lobby);
    goto out;
  }
  if (plumb_objref_format(&room_ref, &s, a) == PLUMB_OK)
    printf("room: %s\n", s);
  /* 3. a wrong type is refused at open, the right one opens */
  if ((st = plumb_client_open_ref(&room, &room_ref, &chat_Lobby_interface,
                                  NULL)) != PLUMB_EINTERFACE) {
    fail("a Room opened as a Lobby", st, NULL);
    goto out;
  }
  if ((st = plumb_client_open_ref(&room, &room_ref, &chat_Room_interface,
                                  NULL)) != PLUMB_OK) {
    fail("open room", st, NULL);
    goto out;
  }
  printf("room via %s\n", plumb_client_endpoint(room));
  /* 4. join with my Listener's reference; say; get called back */
  if ((st = chat_Room_join(room, nick, &my_ref, a)) != PLUMB_OK) {
    fail("join", st, room);
    goto out;
  }
  char text[128];
  snprintf(text, sizeof text, "hello from %s", nick);
  if ((st = chat_Room_say(room, nick, text, &n, a)) != PLUMB_OK || n != 1 ||
      !wait_heard(1)) {
    fail("say / callback", st, room);
    goto out;
  }
  if ((st = chat_Room_say(room, "stranger", "hi", &n, a)) !=
      PLUMB_EEXCEPTION) {
    fail("say as a stranger", st, room);
    goto out;
  }
  /* 5. close the room: later calls get OBJECT_NOT_EXIST */
  if ((st = chat_Room_close(room, a)) != PLUMB_OK) {
    fail("close", st, room);
    goto out;
  }
  plumb_sysexc se;
  st = chat_Room_say(room, nick, "still there?", &n, a);
  if (st != PLUMB_ENOOBJECT || !plumb_client_system_exception(room, &se) ||
      se.code != PLUMB_SYS_OBJECT_NOT_EXIST) {
    fail("say after close", st, room);
    goto out;
  }
  printf("after close: %s (%s, completed %s)\n", plumb_strerror(st),
         plumb_sysexc_name(se.code), plumb_completion_name(se.completed));
  rc = 0;
out:
  plumb_client_close(room);
  plumb_client_close(lobby);
  plumb_arena_free(a);
  return rc;
}

int
main(int argc, char **argv)
{
  plumb_server *me;
  pthread_t t;
  char id[PLUMB_OBJECT_ID_MAX];
  int st;

  if (argc != 4) {
    fprintf(stderr, "usage: %s NICK LOBBY LISTEN_ENDPOINT\n", argv[0]);
    return 2;
  }
  if (getenv("PLUMB_LOG") == NULL)
    plumb_log_set_level(PLUMB_LOG_WARN);
  plumb_server_opts so = { .workers = 2 };
  if ((st = plumb_server_new(&me, &so)) != PLUMB_OK ||
      (st = plumb_server_add_object_opts(me, &chat_Listener_interface,
                                         &listener_impl, NULL, NULL, id)) !=
          PLUMB_OK ||
      (st = plumb_server_listen(me, argv[3])) != PLUMB_OK) {
    fprintf(stderr, "chat-client: listener on %s: %s\n", argv[3],
            plumb_strerror(st));
    plumb_server_free(me);
    return 1;
  }
  if (pthread_create(&t, NULL, serve, me) != 0) {
    plumb_server_free(me);
    return 1;
  }
  int rc = run(argv[1], argv[2], me, id);
  plumb_server_stop(me);
  pthread_join(t, NULL);
  plumb_server_free(me);
  return rc;
}
