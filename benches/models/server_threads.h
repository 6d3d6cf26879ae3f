/*
 * benches/models/server_threads.h: the `threads` and `thread-pool` models
 * of the three-model suite: an HTTP/1.1 server with blocking calls and no
 * eddy runtime, a thread per connection (64 KiB stacks), or a fixed pool
 * of threads each taking a connection from the shared listener and
 * serving it to its end. It parses with the same code as eddy's server
 * (http/server_parse.c: llhttp and eddy's checks) and answers with the
 * same head, so the models differ only in how they wait.
 */
#ifndef EDDY_BENCH_SERVER_THREADS_H
#define EDDY_BENCH_SERVER_THREADS_H

#include <stddef.h>
#include <stdint.h>

/* The answer to a request: writes its body (at most cap bytes) and
   returns its length; *status (200 unless set). Blocking is allowed. */
typedef size_t (*st_answer_fn)(const char *method, const char *path, const char *query,
                               char *body, size_t cap, int *status, void *ud);

struct st_server;

/* Listens on 127.0.0.1:port (0: any) and serves: pool 0, a thread per
   connection; pool > 0, that many threads. 0 or -errno. */
int st_start(struct st_server **out, uint16_t port, unsigned pool, st_answer_fn fn, void *ud);
int st_port(const struct st_server *s);
/* Connections accepted, and threads running now (connection threads). */
uint64_t st_accepted(const struct st_server *s);
unsigned st_threads(const struct st_server *s);
/* Stops: no more accepts, open connections shut; returns when every
   thread has ended, and frees s. */
void st_stop(struct st_server *s);

#endif
