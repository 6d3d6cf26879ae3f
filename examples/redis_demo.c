/*
 * examples/redis_demo.c: eddy tasks talking to Redis through hiredis
 * (tools/redis/redis_eddy.c).
 *
 *   redis_demo HOST PORT [TASKS=8]
 *
 * TASKS tasks, spread over the workers, share one connection: each does
 * SET, GET and INCR on it and prints what came back; then the counter
 * shows that every INCR arrived. Needs a running server, e.g.
 * `redis-server --port 6400 --save "" --appendonly no`.
 */
#include <eddy.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_eddy.h"

static redis_eddy *db;
static const char *host;
static int port, ntasks = 8;

/* One task: SET demo:key:<i>, GET it back, INCR the shared counter.
   Returns 0 or a negative errno. */
static void *client(void *arg)
{
    int i = (int)(intptr_t)arg;
    char key[32], val[32];
    snprintf(key, sizeof key, "demo:key:%d", i);
    snprintf(val, sizeof val, "value-%d", i);

    redisReply *set, *get, *incr;
    int rc = redis_eddy_command(db, &set, "SET %s %s", key, val);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    rc = redis_eddy_command(db, &get, "GET %s", key);
    if (rc < 0) {
        freeReplyObject(set);
        return (void *)(intptr_t)rc;
    }
    rc = redis_eddy_command(db, &incr, "INCR demo:counter");
    if (rc == 0) {
        printf("task %2d on worker %d: SET %s -> %s, GET -> %s, INCR -> %lld\n", i,
               eddy_worker_index(), key, set->str ? set->str : "?",
               get->type == REDIS_REPLY_STRING ? get->str : "(not a string)",
               incr->type == REDIS_REPLY_INTEGER ? incr->integer : -1LL);
        freeReplyObject(incr);
    }
    freeReplyObject(set);
    freeReplyObject(get);
    return (void *)(intptr_t)rc;
}

static void *root(void *arg)
{
    (void)arg;
    int rc = redis_eddy_connect(&db, host, port, 2000);
    if (rc < 0) {
        fprintf(stderr, "redis_demo: cannot connect to %s:%d: %s\n", host, port, eddy_strerror(rc));
        return (void *)1;
    }
    redisReply *r;
    long long before = 0;
    if (redis_eddy_command(db, &r, "GET demo:counter") == 0) {
        if (r->type == REDIS_REPLY_STRING)
            before = strtoll(r->str, NULL, 10);
        freeReplyObject(r);
    }

    eddy_task **tasks = calloc((size_t)ntasks, sizeof *tasks);
    int spawned = 0, failed = 0;
    for (; tasks != NULL && spawned < ntasks; spawned++)
        if (eddy_spawn(&tasks[spawned], client, (void *)(intptr_t)spawned) < 0)
            break;
    for (int i = 0; i < spawned; i++) {
        void *res = NULL;
        if (eddy_join(tasks[i], &res) < 0 || res != NULL) {
            fprintf(stderr, "task %d failed: %s\n", i, eddy_strerror((int)(intptr_t)res));
            failed++;
        }
    }
    free(tasks);
    if (spawned < ntasks)
        failed++;

    if ((rc = redis_eddy_command(db, &r, "GET demo:counter")) == 0) {
        long long after = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        printf("demo:counter went from %lld to %lld (%d INCRs)\n", before, after, ntasks);
        if (after - before != ntasks)
            failed++;
        freeReplyObject(r);
    } else {
        failed++;
    }
    redis_eddy_close(db);
    return failed ? (void *)1 : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [TASKS=8]\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    if (argc > 3)
        ntasks = atoi(argv[3]);
    if (port <= 0 || port > 65535 || ntasks <= 0) {
        fprintf(stderr, "%s: bad PORT or TASKS\n", argv[0]);
        return 2;
    }
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, NULL);
    if (rc < 0) {
        fprintf(stderr, "eddy_rt_new: %s\n", eddy_strerror(rc));
        return 1;
    }
    void *res = NULL;
    rc = eddy_rt_block_on(rt, root, NULL, &res);
    eddy_rt_free(rt);
    return rc < 0 || res != NULL ? 1 : 0;
}
