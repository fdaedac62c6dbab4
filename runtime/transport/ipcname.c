/* ipcname.c - the one rule for the names of POSIX IPC objects in
 * endpoints, shared by `mq:` and `shm:` (docs/TRANSPORTS.md, "Endpoint
 * grammar"): a leading '/', then 1 to max characters from [A-Za-z0-9._-],
 * not starting with '.'.  The reason a name breaks it goes to
 * plumb__addr_why in the same words for both transports. */
#include <string.h>

#include "transport.h"

size_t
plumb__ipc_name_check(const char *addr, size_t n, size_t max,
                      const char *scheme, const char *noun)
{
  if (addr == NULL || n == 0 || addr[0] != '/') {
    plumb__addr_why("POSIX %s names start with '/' (expected %s:/NAME)",
                    noun, scheme);
    return 0;
  }
  if (n < 2 || n - 1 > max) {
    plumb__addr_why("%s name must be 1 to %zu characters after the '/'",
                    noun, max);
    return 0;
  }
  if (addr[1] == '.') {
    plumb__addr_why("%s name must not start with '.'", noun);
    return 0;
  }
  for (size_t i = 1; i < n; i++) {
    char c = addr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      plumb__addr_why("character '%c' not allowed in a %s name (letters, "
                      "digits, '.', '_', '-')", c, noun);
      return 0;
    }
  }
  return n - 1;
}
