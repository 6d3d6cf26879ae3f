/*
 * http/server_int.h: what the HTTP server's files share.
 *
 * server_parse.c  request parsing: llhttp (built from Debian's node-llhttp
 *                 sources) plus eddy's own RFC 9112 checks; no I/O, so a
 *                 fuzzer drives it alone (tests/fuzz/fuzz_http_parse.c)
 * server_resp.c   the request accessors and the response API: headers,
 *                 bodies, chunked streaming, sendfile; the Date cache
 * server_conn.c   a connection's task: read, parse, run the handler for
 *                 each request in order, write the answers coalesced, and
 *                 go idle (no task) between requests
 * server.c        serve and stop: listeners, acceptors, the connection
 *                 lists, idle timeouts
 */
#ifndef EDDY_HTTP_SERVER_INT_H
#define EDDY_HTTP_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <llhttp.h>

#include <eddy/http.h>
#include <eddy/rt.h>

#include "sched/timer.h"

/* ------------------------------------------------------------ parsing */

struct eddy__http_limits {
    size_t max_target, max_head, max_body;
    unsigned max_headers;
};

/* A header field: offsets of its NUL-terminated name and value in the
   parse arena (offsets, not pointers: the arena grows). */
struct eddy__http_field {
    uint32_t name, value;
};

/* What eddy__http_parse returns besides an error status (>= 400). */
enum {
    EDDY__PARSE_MORE = 0,   /* all input consumed; the request is not complete */
    EDDY__PARSE_HEAD = 1,   /* headers complete and the body follows, with
                               Expect: 100-continue (answer it, then go on) */
    EDDY__PARSE_DONE = 2,   /* one request complete (the rest is the next's) */
};

struct eddy__http_parse {
    llhttp_t ll;
    const struct eddy__http_limits *lim;
    char *arena;            /* target, then names and values, NUL-terminated */
    size_t alen, acap;
    struct eddy__http_field *fields;
    unsigned nfields, fcap;
    char *body;             /* the decoded body, NUL-terminated */
    size_t blen, bcap;
    size_t target_len, head_bytes;
    const char *floor;      /* the first byte the obs-fold check may look
                               back at (set by the caller: its buffer) */
    const char *path, *query; /* set at headers complete (into the arena) */
    int err;                /* the status to answer (>= 400), 0 */
    uint8_t last;           /* the last data callback: 0, 1 target, 2 field, 3 value */
    uint8_t hosts, te_fields;
    bool in_message, head_done, expect_continue, keep_alive, upgrade;
    bool bad_te;            /* a transfer coding other than chunked */
    bool no_version;        /* the request line ended after the target */
    const char *exec_end;   /* the end of the current input */
    /* the head's line endings, checked before llhttp sees them (its 8.1
       build takes a bare LF after the request line and as the blank line) */
    size_t scan_bytes;      /* bytes of the head so far (all of them) */
    size_t wire_bytes;      /* bytes of the request so far, framing included */
    size_t ext_bytes;       /* chunk extension bytes of the current chunk */
    uint8_t scan_prev, scan_crlfs;
    bool scan_text, scan_done;
};

void eddy__http_parse_init(struct eddy__http_parse *p, const struct eddy__http_limits *lim);
void eddy__http_parse_free(struct eddy__http_parse *p);
/* Parses data (len bytes; the bytes from p->floor up to data, the input
   before it, must be readable: the obs-fold check looks back); sets
   *used to the bytes consumed. Returns EDDY__PARSE_* or the error status
   to answer (>= 400). After DONE the request stays readable until the
   next call. */
int eddy__http_parse(struct eddy__http_parse *p, const char *data, size_t len, size_t *used);
/* The value of the first field named name (case-insensitive), or NULL. */
const char *eddy__http_parse_header(const struct eddy__http_parse *p, const char *name);
/* The bytes of empty lines read before the next request line (0 once the
   request line has begun or none came) and the last of them in *prev;
   and the same given back to a fresh parser for the same connection. */
size_t eddy__http_parse_lead(const struct eddy__http_parse *p, uint8_t *prev);
void eddy__http_parse_set_lead(struct eddy__http_parse *p, size_t bytes, uint8_t prev);
/* The name and value of field i (< p->nfields). */
static inline const char *eddy__http_field_name(const struct eddy__http_parse *p, unsigned i)
{
    return p->arena + p->fields[i].name;
}
static inline const char *eddy__http_field_value(const struct eddy__http_parse *p, unsigned i)
{
    return p->arena + p->fields[i].value;
}

/* --------------------------------------------------------------- server */

struct eddy__http_conn;

/* A shard of the server's connections: those its listener accepted. */
struct eddy__http_shard {
    struct eddy_http_server *srv;
    pthread_mutex_t lock;
    struct eddy__http_conn *conns; /* guarded by: lock; doubly linked */
    int lfd;                       /* the listener */
    eddy_task *acceptor;
    _Atomic uint64_t accepted;
};

struct eddy_http_server {
    eddy_rt *rt;
    eddy_http_server_opts o;
    char *host;
    struct eddy__http_limits lim;
    eddy_http_handler h;
    void *ud;
    int port;
    unsigned nshards;
    struct eddy__http_shard *shards;
    _Atomic int stopping;          /* 0 serving, 1 draining, 2 forcing */
    _Atomic uint64_t nconns, requests;
    struct eddy__task *stopper;    /* guarded by: drain_lock; the task in
                                      eddy_http_server_stop (woken when the
                                      last connection goes), NULL */
    pthread_mutex_t drain_lock;    /* held around each decrement of nconns */
};

/* Connection states, for eddy_http_server_stop. */
enum { EDDY__CONN_IDLE = 0, EDDY__CONN_ACTIVE = 1 };

/* One connection. While idle this is all it holds (with its fd entry):
   the handler task, its stack and its buffers exist only while a request
   is being read or answered. */
struct eddy__http_conn {
    struct eddy_http_server *srv;
    struct eddy__http_shard *shard;
    struct eddy__http_conn *prev, *next; /* guarded by: shard->lock */
    eddy_task *task;               /* guarded by: shard->lock; the active task */
    struct eddy__timer idle;       /* armed while idle */
    int fd;
    uint32_t served;               /* requests answered */
    /* empty lines read before the next request line, carried across idle
       periods so that a flood of them sent in pieces is still cut (431)
       and a trickle of them still meets the header timeout */
    size_t lead_bytes;
    uint8_t lead_prev;             /* the last of them: a CR awaits its LF */
    uint64_t lead_since_ns;        /* when the first of them came */
    bool expired;                  /* its idle timer ran out: the task closes it */
};

/* The response under construction (server_resp.c). */
struct eddy_http_resp {
    struct eddy__http_active *a;
    int status;
    bool head_only, sent_head, streaming, done, failed, has_date, has_server;
    char *hdrs;                    /* extra header lines, "Name: value\r\n"... */
    size_t hlen, hcap;
    char *body;
    size_t blen, bcap;
};

struct eddy_http_req {
    struct eddy__http_parse *p;
    const char *method;
};

/* What a connection holds while its task runs. */
struct eddy__http_active {
    struct eddy__http_conn *c;
    struct eddy__http_parse p;
    char *in;                      /* read buffer: [off, len) not yet parsed */
    size_t off, len, cap;
    char *out;                     /* answers not yet written (coalesced) */
    size_t olen, ocap;
    uint64_t tick;                 /* the fd's read tick before the last read */
    bool drained;                  /* the last read took all there was */
    bool close_after;              /* answer with Connection: close, then close */
    bool broken;                   /* a write failed: close without more */
    struct eddy_http_req req;
    struct eddy_http_resp resp;
};

/* server_resp.c */
/* The reason phrase eddy's server sends with status ("Status" for one
   it does not know). */
const char *eddy__http_reason(int status);
int eddy__http_out_append(struct eddy__http_active *a, const void *data, size_t n);
/* Writes out everything buffered. 0 or -errno (then a->broken). */
int eddy__http_out_flush(struct eddy__http_active *a);
/* Starts the response to the request just parsed. */
void eddy__http_resp_begin(struct eddy__http_active *a);
/* Ends it after the handler returned rc: the head and body go to the out
   buffer (or the stream is ended). */
void eddy__http_resp_end(struct eddy__http_active *a, int rc);
/* Appends an error answer with Connection: close. */
void eddy__http_error_append(struct eddy__http_active *a, int status);
/* Appends "Date: ...\r\n" for now (cached per second and thread). */
void eddy__http_date_append(struct eddy__http_active *a);
void eddy__http_resp_free(struct eddy_http_resp *r);

/* server_conn.c: a connection's task; arg is the conn. */
void *eddy__http_conn_task(void *arg);

/* server.c */
/* Called by c's task with nothing buffered, after a read that found the
   socket drained (tick: the fd's read tick before it): makes c idle, its
   keep-alive timer and its read readiness armed, its task's handle given
   up (a task is spawned again when bytes come). Returns 0 when c went
   idle (the task must not touch c again), 1 when bytes came meanwhile
   (read them), < 0 when c is done (the server stopping, an error). */
int eddy__http_conn_idle(struct eddy__http_conn *c, uint64_t tick);
/* Ends c's task and closes c (called by the task as it ends). */
void eddy__http_conn_end(struct eddy__http_conn *c);

#endif
