/*
 * sched/alloc.h: the one door to the allocator. Only sched/alloc.c calls
 * malloc or jemalloc; everything else in eddy allocates here. With jemalloc
 * (the default build) it calls mallocx/sdallocx by name, since linking
 * -ljemalloc into a shared library does not replace malloc (docs/design.md,
 * "Memory allocation").
 * Memory from here goes back through eddy__dealloc with the size it was
 * allocated with, never to free().
 */
#ifndef EDDY_SCHED_ALLOC_H
#define EDDY_SCHED_ALLOC_H

#include <stddef.h>

/** n bytes, NULL when out of memory (n 0 gives a valid unique pointer). */
void *eddy__alloc(size_t n);
/** n zeroed bytes, NULL when out of memory. */
void *eddy__calloc(size_t n);
/** Resizes p (allocated with old_n bytes) to n bytes; NULL on OOM (p intact). */
void *eddy__realloc(void *p, size_t old_n, size_t n);
/** Frees p, allocated with n bytes. NULL is a no-op. */
void eddy__dealloc(void *p, size_t n);
/** n zeroed bytes aligned to a cache line (64), for structs with
    _Alignas(64) members; free with eddy__dealloc_line. NULL on OOM. */
void *eddy__calloc_line(size_t n);
void eddy__dealloc_line(void *p, size_t n);
/** Copies the NUL-terminated s (NULL gives NULL); free with eddy__strfree. */
char *eddy__strdup(const char *s);
void eddy__strfree(char *s);

#endif
