/* plumb/export.h - symbol visibility for libplumb's public API.
 * libplumb is built with -fvisibility=hidden; only PLUMB_API names are exported. */
#ifndef PLUMB_EXPORT_H
#define PLUMB_EXPORT_H
#if defined(PLUMB_BUILDING) && defined(__GNUC__)
#define PLUMB_API __attribute__((visibility("default")))
#else
#define PLUMB_API
#endif
#endif
