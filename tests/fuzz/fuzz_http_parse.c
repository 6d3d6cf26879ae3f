/*
 * tests/fuzz/fuzz_http_parse.c: libFuzzer target for the HTTP server's
 * request parser (http/server_parse.c on llhttp). Built and run by
 * tools/fuzz.sh from server_parse.c and llhttp's three C sources alone
 * (llhttp in strict mode, as the library builds it): the two allocator
 * functions the parser calls are defined here.
 *
 * Input: byte 0 chooses how the rest is cut into pieces (its low 4 bits:
 * 0-14 cut points, 15 one byte at a time), byte 1 seeds the cut points;
 * the rest is what a client sends. The pieces arrive one at a
 * time the way http/server_conn.c reads them: appended after the unparsed
 * input, which is kept with LOOK_BACK bytes before it (compact()), and
 * floor at the buffer's start. Every step copies the buffer into a fresh
 * allocation of exactly its size, so ASan catches a read before floor or
 * past the end. The loop parses while there is unparsed input; after a
 * complete request it checks the invariants below and goes on with the
 * next request in the same input (as long as the server would: keep-alive);
 * an error status must be one the server answers, and ends the input.
 *
 * A violated invariant calls __builtin_trap(), after a line on stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server_int.h"
#include "sched/alloc.h"

/* The allocator the parser uses (sched/alloc.c in the library). */
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

#define LOOK_BACK 2 /* as in http/server_conn.c */

/* Small, so that inputs of at most 4096 bytes (-max_len) reach every
   limit: the body's too (a chunked body over it is refused as it comes). */
static const struct eddy__http_limits limits = {
    .max_target = 512,
    .max_head = 2048,
    .max_body = 1024,
    .max_headers = 20,
};

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_http_parse: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                           \
            __builtin_trap();                                                            \
        }                                                                                \
    } while (0)

/* s lies in the arena and its NUL comes before the arena's end. */
static int in_arena(const struct eddy__http_parse *p, const char *s)
{
    if (s < p->arena || s >= p->arena + p->alen)
        return 0;
    return memchr(s, '\0', (size_t)(p->arena + p->alen - s)) != NULL;
}

/* RFC 9110 5.6.2: 1*tchar */
static int is_token(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return 0;
    }
    return 1;
}

static void check_done(const struct eddy__http_parse *p)
{
    CHECK(!p->in_message);
    CHECK(p->head_done);
    CHECK(p->arena != NULL && p->alen > 0 && p->alen <= p->acap);
    CHECK(llhttp_method_name((llhttp_method_t)p->ll.method) != NULL);
    CHECK(p->ll.http_major == 1 && p->ll.http_minor <= 1);
    /* the path: in the arena, or the literal "/" of an absolute form with
       no path */
    CHECK(p->path != NULL);
    CHECK(in_arena(p, p->path) || strcmp(p->path, "/") == 0);
    CHECK(p->query == NULL || in_arena(p, p->query));
    CHECK(p->target_len <= limits.max_target);
    CHECK(p->head_bytes <= limits.max_head);
    CHECK(p->nfields <= limits.max_headers);
    CHECK(p->nfields == 0 || p->fields != NULL);
    for (unsigned i = 0; i < p->nfields; i++) {
        CHECK(p->fields[i].name < p->alen);
        CHECK(p->fields[i].value < p->alen);
        const char *name = eddy__http_field_name(p, i);
        const char *value = eddy__http_field_value(p, i);
        CHECK(in_arena(p, name));
        CHECK(in_arena(p, value));
        CHECK(eddy__http_parse_header(p, name) != NULL);
        /* a name is a token (RFC 9110 5.1); llhttp refuses CR and LF in
           a value */
        CHECK(name[0] != '\0' && is_token(name));
        CHECK(strpbrk(value, "\r\n") == NULL);
    }
    if (p->ll.http_minor == 1) /* RFC 9112 3.2 */
        CHECK(eddy__http_parse_header(p, "host") != NULL);
    CHECK(p->body != NULL);
    CHECK(p->blen <= limits.max_body);
    CHECK(p->bcap == 0 || p->blen < p->bcap);
    CHECK(p->body[p->blen] == '\0');
}

static int allowed_error(int st)
{
    switch (st) {
    case 400: case 413: case 414: case 417: case 431: case 501: case 503: case 505:
        return 1;
    default:
        return 0;
    }
}

/* xorshift32: the cut points from byte 1 */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

#define MAX_PIECES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const uint8_t mode = data[0];
    uint32_t seed = 0x9e3779b9u ^ ((uint32_t)data[1] * 0x01000193u);
    const char *in = (const char *)data + 2;
    size_t n = size - 2;

    /* Cut points: mode's low 4 bits give 1..15 pieces at places from the
       seed; 15 feeds one byte at a time. */
    size_t cuts[MAX_PIECES + 1];
    size_t ncuts = 0; /* pieces end at cuts[0..ncuts-1]; the last at n */
    unsigned want = mode & 0x0f;
    int bytewise = want == 0x0f;
    if (!bytewise && n > 0) {
        for (unsigned i = 0; i < want; i++)
            cuts[ncuts++] = next_rand(&seed) % n;
        qsort(cuts, ncuts, sizeof cuts[0], cmp_size);
    }
    cuts[ncuts++] = n;

    struct eddy__http_parse p;
    eddy__http_parse_init(&p, &limits);

    /* buf: [0, off) already parsed (at most LOOK_BACK kept), [off, len)
       not yet; the server starts with LOOK_BACK NULs before its input */
    char *buf = calloc(1, LOOK_BACK);
    size_t off = LOOK_BACK, len = LOOK_BACK;
    size_t fed = 0, ci = 0;
    unsigned requests = 0, stuck = 0;
    int stop = 0;

    while (!stop && fed < n) {
        size_t end = bytewise ? fed + 1 : cuts[ci++];
        if (end <= fed)
            continue; /* an empty piece: a repeated cut point */
        size_t piece = end - fed;

        /* compact() and the read that follows, into a fresh exact-size
           buffer */
        size_t keep_from = off > LOOK_BACK ? off - LOOK_BACK : 0;
        size_t kept = len - keep_from;
        char *nb = malloc(kept + piece);
        if (nb == NULL)
            abort();
        memcpy(nb, buf + keep_from, kept);
        memcpy(nb + kept, in + fed, piece);
        free(buf);
        buf = nb;
        off -= keep_from;
        len = kept + piece;
        fed = end;

        while (off < len) {
            size_t used = (size_t)-1;
            size_t avail = len - off;
            p.floor = buf;
            int st = eddy__http_parse(&p, buf + off, avail, &used);
            CHECK(used <= avail);
            off += used;
            if (st >= 400) {
                CHECK(allowed_error(st));
                size_t again;
                /* it keeps answering the same status */
                CHECK(eddy__http_parse(&p, buf + off, len - off, &again) == st);
                CHECK(again == 0);
                stop = 1;
                break;
            }
            if (st == EDDY__PARSE_MORE) {
                CHECK(used == avail);
                continue;
            }
            /* HEAD or DONE: a return that consumed nothing, again and
               again, would spin the server's loop */
            stuck = used == 0 ? stuck + 1 : 0;
            CHECK(stuck < 4);
            if (st == EDDY__PARSE_HEAD) {
                CHECK(p.in_message && p.head_done && p.expect_continue);
                continue;
            }
            CHECK(st == EDDY__PARSE_DONE);
            check_done(&p);
            requests++;
            if (!p.keep_alive) { /* the server answers and closes */
                stop = 1;
                break;
            }
        }
    }

    (void)requests;
    free(buf);
    eddy__http_parse_free(&p);
    return 0;
}
