/* server.c - the chat service (chat::Lobby, chat::Room): a factory and
 * callbacks on plumb's object model (docs/RUNTIME.md, "Objects and
 * references").
 *
 * Lobby.create() adds an anonymous Room object at run time and returns its
 * reference; Room.join() takes a reference to the member's own Listener
 * object, opened type-checked with plumb_client_open_ref; Room.say() calls
 * every member back; Room.close() removes the room from inside its own
 * handler, and its destroy callback frees it once no call runs on it.
 *
 *   chat-server [ENDPOINT...]    (default: plumb.conf [chat], or
 *                                  $PLUMB_ENDPOINT)
 * prints the lobby's reference (a plumbref: string) on stdout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "chat.h"

static plumb_server *g_srv;

typedef struct member {
  struct member *next;
  char *nick;
  plumb_client *cb; /* the member's Listener */
} member;

typedef struct room {
  pthread_mutex_t mu;
  char *topic;
  member *members;
} room;

/* Destroy callback: the room was removed and its last call returned. */
static void
room_free(void *ctx)
{
  room *r = ctx;
  while (r->members != NULL) {
    member *m = r->members;
    r->members = m->next;
    plumb_client_close(m->cb);
    free(m->nick);
    free(m);
  }
  pthread_mutex_destroy(&r->mu);
  free(r->topic);
  free(r);
}

static int
room_topic(void *ctx, plumb_call *call, char **ret)
{
  room *r = ctx;
  *ret = plumb_call_strdup(call, r->topic);
  return *ret ? PLUMB_OK : PLUMB_ENOMEM;
}

static int
room_join(void *ctx, plumb_call *call, const char *nick,
          const plumb_objref *who)
{
  room *r = ctx;
  plumb_client_opts o = { .timeout_ms = 2000 };
  member *m = calloc(1, sizeof(*m));
  if (m == NULL || (m->nick = strdup(nick)) == NULL) {
    free(m);
    return PLUMB_ENOMEM;
  }
  /* A reference is checked where it is used: it must be a Listener. */
  int st = plumb_client_open_ref(&m->cb, who, &chat_Listener_interface, &o);
  if (st != PLUMB_OK) {
    free(m->nick);
    free(m);
    return plumb_call_fail(call, st == PLUMB_EINTERFACE ? PLUMB_EINVAL : st,
                           "who: cannot call back '%s' (%s): %s", nick,
                           who->type_id, plumb_strerror(st));
  }
  pthread_mutex_lock(&r->mu);
  m->next = r->members;
  r->members = m;
  pthread_mutex_unlock(&r->mu);
  return PLUMB_OK;
}

static int
room_say(void *ctx, plumb_call *call, const char *nick, const char *text,
         uint32_t *ret)
{
  room *r = ctx;
  int known = 0;
  *ret = 0;
  /* Calls back every member while holding the room: a Listener must not
   * call this room from its message() (it would wait for itself). */
  pthread_mutex_lock(&r->mu);
  for (member *m = r->members; m != NULL; m = m->next)
    known |= strcmp(m->nick, nick) == 0;
  if (known)
    for (member *m = r->members; m != NULL; m = m->next)
      if (chat_Listener_message(m->cb, r->topic, nick, text, NULL) ==
          PLUMB_OK)
        (*ret)++;
  pthread_mutex_unlock(&r->mu);
  if (!known) {
    chat_NotMember e = chat_NotMember_INIT;
    e.nick = (char *)nick;
    return plumb_call_raise(call, &chat_NotMember_type, &e);
  }
  return PLUMB_OK;
}

static int
room_close(void *ctx, plumb_call *call)
{
  (void)ctx;
  /* Removal from inside the room's own call: this call finishes, then the
   * destroy callback frees the room. */
  return plumb_server_remove_object(g_srv, plumb_call_object(call));
}

static const chat_Room_ops room_impl = { room_topic, room_join, room_say,
                                         room_close };

static int
lobby_create(void *ctx, plumb_call *call, const char *topic,
             plumb_objref *ret)
{
  (void)ctx;
  char id[PLUMB_OBJECT_ID_MAX];
  room *r = calloc(1, sizeof(*r));
  if (r == NULL || (r->topic = strdup(topic)) == NULL) {
    free(r);
    return PLUMB_ENOMEM;
  }
  pthread_mutex_init(&r->mu, NULL);
  plumb_object_opts o = { NULL, room_free }; /* anonymous */
  int st = plumb_server_add_object_opts(g_srv, &chat_Room_interface,
                                        &room_impl, r, &o, id);
  if (st != PLUMB_OK) {
    room_free(r);
    return st;
  }
  return plumb_server_ref(g_srv, id, ret, plumb_call_arena(call));
}

static const chat_Lobby_ops lobby_impl = { lobby_create };

int
main(int argc, char **argv)
{
  int rc;

  if (getenv("PLUMB_LOG") == NULL)
    plumb_log_set_level(PLUMB_LOG_WARN);
  if ((rc = plumb_server_new(&g_srv, NULL)) != PLUMB_OK) {
    fprintf(stderr, "chat-server: %s\n", plumb_strerror(rc));
    return 1;
  }
  rc = chat_Lobby__serve(g_srv, "lobby", &lobby_impl, NULL);
  for (int i = 1; rc == PLUMB_OK && i < argc; i++)
    rc = plumb_server_listen_service(g_srv, "chat", argv[i]);
  if (rc == PLUMB_OK && argc < 2)
    rc = plumb_server_listen_service(g_srv, "chat", NULL);
  if (rc == PLUMB_OK) {
    plumb_arena *a = plumb_arena_new();
    plumb_objref ref;
    char *s = NULL;
    if (a == NULL || (rc = plumb_server_ref(g_srv, "lobby", &ref, a)) !=
            PLUMB_OK ||
        (rc = plumb_objref_format(&ref, &s, a)) != PLUMB_OK) {
      fprintf(stderr, "chat-server: lobby reference: %s\n",
              plumb_strerror(rc));
    } else {
      printf("%s\n", s);
      fflush(stdout);
    }
    plumb_arena_free(a);
  }
  if (rc == PLUMB_OK)
    rc = plumb_server_run(g_srv, 1);
  if (rc != PLUMB_OK)
    fprintf(stderr, "chat-server: %s\n", plumb_strerror(rc));
  plumb_server_free(g_srv);
  return rc == PLUMB_OK ? 0 : 1;
}
