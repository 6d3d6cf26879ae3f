/*
 * sched/alloc.c: eddy's allocator wrappers (see alloc.h). The bottom of the
 * layer stack, so every layer may use it. jemalloc is called by its
 * non-standard API so that it is used even from inside libeddy.so.
 */
#include "sched/alloc.h"

#include <string.h>

#ifdef EDDY_USE_JEMALLOC
#include <jemalloc/jemalloc.h>

void *eddy__alloc(size_t n)
{
    return mallocx(n ? n : 1, 0);
}

void *eddy__calloc(size_t n)
{
    return mallocx(n ? n : 1, MALLOCX_ZERO);
}

void *eddy__realloc(void *p, size_t old_n, size_t n)
{
    (void)old_n;
    if (p == NULL)
        return eddy__alloc(n);
    return rallocx(p, n ? n : 1, 0);
}

void eddy__dealloc(void *p, size_t n)
{
    if (p != NULL)
        sdallocx(p, n ? n : 1, 0);
}

void *eddy__calloc_line(size_t n)
{
    return mallocx(n ? n : 1, MALLOCX_ZERO | MALLOCX_ALIGN(64));
}

void eddy__dealloc_line(void *p, size_t n)
{
    if (p != NULL)
        sdallocx(p, n ? n : 1, MALLOCX_ALIGN(64));
}
#else
#include <stdlib.h>

void *eddy__alloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *eddy__calloc(size_t n)
{
    return calloc(1, n ? n : 1);
}

void *eddy__realloc(void *p, size_t old_n, size_t n)
{
    (void)old_n;
    return realloc(p, n ? n : 1);
}

void eddy__dealloc(void *p, size_t n)
{
    (void)n;
    free(p);
}

void *eddy__calloc_line(size_t n)
{
    size_t rounded = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p != NULL)
        memset(p, 0, rounded ? rounded : 64);
    return p;
}

void eddy__dealloc_line(void *p, size_t n)
{
    (void)n;
    free(p);
}
#endif

char *eddy__strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = eddy__alloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void eddy__strfree(char *s)
{
    if (s != NULL)
        eddy__dealloc(s, strlen(s) + 1);
}
