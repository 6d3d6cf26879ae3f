/*
 * tests/io/test_fd_arm_stress.c: the one-shot read-readiness arm
 * (io/fd_arm.c: eddy__fd_read_or_arm, the split eddy__fd_read_tick +
 * eddy__fd_arm_after, eddy__fd_disarm) under stress; the unit cases are in
 * test_fd_arm.c, the helpers both use in fd_arm_common.h. The HTTP
 * server's ownership rule: per arm, exactly one of {fn runs,
 * eddy__fd_disarm returns true} happens, and no edge is lost between a
 * read and the arming that follows it.
 *
 * Many arms raced by a writer and a disarmer (8a: each arm counted: never
 * both, never neither; then one fd at a time, the disarm walked across the
 * moment the reactor takes the arm), and a ping-pong and streams where
 * each callback spawns the task that reads and arms again (8b: nothing
 * lost). The arg each arm hands over carries plain (non-atomic) fields
 * that only its current owner touches, so ThreadSanitizer checks that the
 * hand-off orders them. Every loop is bounded by a deadline that fails the
 * test; counts shrink under the sanitizers.
 */
/* ctest-labels: concurrency stress */
#include <poll.h>

#include "fd_arm_common.h"

/* --------------------------------------- 8a. the race: write vs disarm */

struct race {
    int n;
    int (*sv)[2];
    struct arm_rec *rec; /* this round's [n] */
    int writer_kind, disarmer_kind;
    bool reverse; /* the disarmer walks the fds backwards, not following */
    bool split;   /* armed with eddy__fd_read_tick + eddy__fd_arm_after */
    atomic_int at_barrier;
    atomic_int written; /* the writer's progress: fds 0..written-1 written */
    atomic_int errors;
    uint64_t deadline_ns;
};

/* Both parties arrive before either starts: the write and the disarm of
   the same fd then come close together. */
static bool barrier(struct race *r, bool in_task)
{
    atomic_fetch_add(&r->at_barrier, 1);
    while (atomic_load(&r->at_barrier) < 2) {
        if (eddy_now_ns() > r->deadline_ns)
            return false;
        if (in_task)
            eddy_yield();
        else
            sched_yield();
    }
    return true;
}

static void do_writes(struct race *r, bool in_task)
{
    if (!barrier(r, in_task)) {
        atomic_fetch_add(&r->errors, 1);
        return;
    }
    for (int i = 0; i < r->n; i++) {
        if (write(r->sv[i][1], "x", 1) != 1)
            atomic_fetch_add(&r->errors, 1);
        atomic_store(&r->written, i + 1);
    }
}

static void do_disarms(struct race *r, bool in_task)
{
    if (!barrier(r, in_task)) {
        atomic_fetch_add(&r->errors, 1);
        return;
    }
    uint32_t seed = 0x2545f491u ^ (uint32_t)r->n;
    for (int k = 0; k < r->n; k++) {
        int i = r->reverse ? r->n - 1 - k : k;
        if (!r->reverse) {
            /* follow the writer: disarm fd i a random moment after its
               byte went out, while the reactor is taking the arm */
            while (atomic_load(&r->written) <= i) {
                if (eddy_now_ns() > r->deadline_ns) {
                    atomic_fetch_add(&r->errors, 1);
                    return;
                }
                if (in_task)
                    eddy_yield();
                else
                    sched_yield();
            }
            spin_ns(xorshift(&seed) % jitter_ns());
        }
        if (eddy__fd_disarm(r->sv[i][0])) {
            struct arm_rec *a = &r->rec[i];
            a->owner = a->armed_by == 1 ? 2 : -2;
            atomic_fetch_add(&a->disarmed, 1);
        }
        if (in_task && k % 16 == 15)
            eddy_yield(); /* let this worker's reactor run too */
    }
}

static void *writer_thread(void *arg)
{
    do_writes(arg, false);
    return NULL;
}
static void *writer_task(void *arg)
{
    do_writes(arg, true);
    return NULL;
}
static void *disarmer_thread(void *arg)
{
    do_disarms(arg, false);
    return NULL;
}
static void *disarmer_task(void *arg)
{
    do_disarms(arg, true);
    return NULL;
}

struct arm_half {
    struct race *r;
    int half;
};

/* Drains what the last round left and arms fds i with i % 2 == half. */
static void *arm_half(void *arg)
{
    struct arm_half *h = arg;
    struct race *r = h->r;
    char buf[16];
    for (int i = h->half; i < r->n; i += 2) {
        struct arm_rec *a = &r->rec[i];
        a->armed_by = 1;
        int guard = 0;
        if (r->split) {
            int rc = 1;
            while (rc == 1 && guard++ < 100) {
                uint64_t tick;
                ssize_t n = eddy__fd_read_tick(r->sv[i][0], buf, sizeof buf, &tick);
                CHECK(n > 0 || n == -EAGAIN);
                /* what the last round left is one byte: short, drained */
                rc = eddy__fd_arm_after(r->sv[i][0], tick, race_cb, a);
            }
            CHECK(rc == 0);
            continue;
        }
        ssize_t rc;
        while ((rc = eddy__fd_read_or_arm(r->sv[i][0], buf, sizeof buf, race_cb, a)) > 0 &&
               guard++ < 100)
            ;
        CHECK(rc == -EINPROGRESS);
    }
    return NULL;
}

static void *arm_all(void *arg)
{
    struct race *r = arg;
    struct arm_half h[2] = { { r, 0 }, { r, 1 } };
    eddy_task *t[2];
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    for (int k = 0; k < 2; k++) {
        o.worker = k;
        CHECK(eddy_spawn_ex(&t[k], arm_half, &h[k], &o) == 0);
    }
    void *line[2] = { NULL, NULL };
    for (int k = 0; k < 2; k++)
        CHECK(eddy_join(t[k], &line[k]) == 0);
    return line[0] != NULL ? line[0] : line[1];
}

/* Many fds armed (by tasks on both workers; with eddy__fd_read_or_arm, or
   in rounds 4-7 with the split calls), then a writer writes a byte to
   each while a disarmer takes the arms back: following the writer a
   random moment behind it, or walking the fds the other way. The parties
   are plain threads or tasks by round. Each round checks every arm went
   exactly one way before the next arms. */
static void write_and_disarm_race_for_each_arm_exactly_one_owner(void **state)
{
    (void)state;
    const int n = scaled(200, 200);
    const int rounds = scaled(12, 8);
    int fds0 = eddy_test_count_fds();
    eddy_rt *rt = eddy_test_new_rt(2);
    int (*sv)[2] = calloc((size_t)n, sizeof *sv);
    struct arm_rec *recs = calloc((size_t)n * (size_t)rounds, sizeof *recs);
    assert_non_null(sv);
    assert_non_null(recs);
    for (int i = 0; i < n; i++)
        assert_int_equal(pair(sv[i]), 0);
    long cb_won = 0, disarm_won = 0;
    for (int round = 0; round < rounds; round++) {
        struct race r = {
            .n = n,
            .sv = sv,
            .rec = recs + (size_t)round * (size_t)n,
            .deadline_ns = eddy_now_ns() + (uint64_t)bound_ms(10000) * 1000000u,
        };
        static const struct {
            int writer, disarmer;
            bool reverse;
        } modes[] = {
            { PARTY_THREAD, PARTY_THREAD, false },
            { PARTY_THREAD, PARTY_TASK, false },
            { PARTY_TASK, PARTY_THREAD, false },
            { PARTY_THREAD, PARTY_THREAD, true },
        };
        int m = round % 4;
        r.writer_kind = modes[m].writer;
        r.disarmer_kind = modes[m].disarmer;
        r.reverse = modes[m].reverse;
        r.split = round / 4 % 2 == 1;
        atomic_init(&r.at_barrier, 0);
        atomic_init(&r.errors, 0);
        atomic_init(&r.written, 0);
        run_task(rt, arm_all, &r);

        struct party w, d;
        party_start(rt, &d, r.disarmer_kind, disarmer_thread, disarmer_task, &r);
        party_start(rt, &w, r.writer_kind, writer_thread, writer_task, &r);
        party_join(&w, (int)bound_ms(10000));
        party_join(&d, (int)bound_ms(10000));
        assert_int_equal(atomic_load(&r.errors), 0);

        /* every arm the disarm did not take must be called, soon */
        int64_t end = eddy_test_now_ms() + bound_ms(5000);
        int pending;
        do {
            pending = 0;
            for (int i = 0; i < n; i++)
                if (atomic_load(&r.rec[i].disarmed) == 0 && atomic_load(&r.rec[i].cb) == 0)
                    pending++;
            if (pending > 0)
                sleep_ms_plain(1);
        } while (pending > 0 && eddy_test_now_ms() < end);
        if (pending > 0)
            fail_msg("round %d: %d of %d arms neither called back nor disarmed "
                     "(a lost wake-up)", round, pending, n);
        for (int i = 0; i < n; i++) {
            struct arm_rec *a = &r.rec[i];
            int cb = atomic_load(&a->cb), dis = atomic_load(&a->disarmed);
            if (cb + dis != 1)
                fail_msg("round %d, fd %d: callback ran %d times, disarm took it %d times",
                         round, i, cb, dis);
        }
    }
    /* late callbacks would show now */
    sleep_ms_plain(50);
    for (int k = 0; k < n * rounds; k++) {
        struct arm_rec *a = &recs[k];
        int cb = atomic_load(&a->cb), dis = atomic_load(&a->disarmed);
        if (cb + dis != 1)
            fail_msg("arm %d (round %d): callback ran %d times, disarm took it %d times", k,
                     k / n, cb, dis);
        /* the owner's plain write is seen here through the atomics */
        if (a->owner != (cb ? 1 : 2))
            fail_msg("arm %d: owner mark %d (a hand-off out of order)", k, a->owner);
        cb_won += cb;
        disarm_won += dis;
    }
    print_message("write/disarm race: %ld arms, %ld called back, %ld taken back by disarm\n",
                  (long)n * rounds, cb_won, disarm_won);
    for (int i = 0; i < n; i++) {
        assert_ok(eddy_close(sv[i][0]));
        assert_int_equal(close(sv[i][1]), 0);
    }
    eddy_rt_free(rt);
    free(sv);
    free(recs);
    assert_int_equal(eddy_test_count_fds(), fds0);
}

/* The tightest form of the race, one fd at a time. The fd is registered
   with worker 0's reactor, which then has nothing to do but wait in it
   (work stealing off: nothing else runs there), so the callback is taken
   by that thread as soon as the byte lands. A task on worker 1 arms, lets
   a plain thread write, and disarms a random moment after the writer
   starts its write (the spread of the delays adapts so that each side
   wins about half the rounds), so that over the rounds the disarm falls
   before, across and after the reactor's taking of the arm. Every other
   round arms with the split calls. */
struct tight {
    int sv[2];
    atomic_int round;   /* the round the writer may write in */
    atomic_int writing; /* the round whose byte the writer is writing */
    atomic_int done_w;  /* rounds the writer finished */
    atomic_int stop;
    struct arm_rec *rec;
    int rounds;
    atomic_int done;    /* rounds the runner finished (it may stop early) */
    uint64_t budget_ns; /* the runner starts no round after this */
    atomic_int errors;
    int failed_round; /* set by the runner before it gives up */
};

static void *tight_writer(void *arg)
{
    struct tight *t = arg;
    uint32_t seed = 0x9e3779b9u;
    int64_t end = eddy_test_now_ms() + bound_ms(20000);
    for (int k = 1; k <= t->rounds; k++) {
        while (atomic_load(&t->round) < k) {
            if (atomic_load(&t->stop))
                return NULL;
            if (eddy_test_now_ms() > end) {
                atomic_fetch_add(&t->errors, 1);
                return NULL;
            }
            sched_yield();
        }
        spin_ns(xorshift(&seed) % 4000); /* a little jitter on this side too */
        atomic_store(&t->writing, k);
        if (write(t->sv[1], "x", 1) != 1)
            atomic_fetch_add(&t->errors, 1);
        atomic_store(&t->done_w, k);
    }
    return NULL;
}

static void *tight_runner(void *arg)
{
    struct tight *t = arg;
    char buf[16];
    uint32_t seed = 12345;
    uint32_t spread = jitter_ns(); /* of the disarm's delay, ns */
    CHECK(eddy_worker_index() == 1);
    for (int k = 1; k <= t->rounds; k++) {
        struct arm_rec *a = &t->rec[k - 1];
        uint64_t end = eddy_now_ns() + (uint64_t)bound_ms(2000) * 1000000u;
        if (eddy_now_ns() > t->budget_ns)
            break; /* a busy machine: fewer rounds, not a slower test */
        t->failed_round = k;
        a->armed_by = 1;
        ssize_t rc;
        int guard = 0;
        if (k % 2 == 0) { /* the split calls every other round */
            int armed = 1;
            while (armed == 1 && guard++ < 100) {
                uint64_t tick;
                rc = eddy__fd_read_tick(t->sv[0], buf, sizeof buf, &tick);
                armed = rc > 0 || rc == -EAGAIN ? eddy__fd_arm_after(t->sv[0], tick, race_cb, a)
                                                : (int)rc;
            }
            rc = armed == 0 ? -EINPROGRESS : armed;
        } else {
            while ((rc = eddy__fd_read_or_arm(t->sv[0], buf, sizeof buf, race_cb, a)) > 0 &&
                   guard++ < 100)
                ;
        }
        if (rc != -EINPROGRESS) {
            atomic_store(&t->stop, 1);
            return (void *)(intptr_t)__LINE__;
        }
        atomic_store(&t->round, k);
        /* the delay counts from the write, however late the writer's
           thread is scheduled */
        while (atomic_load(&t->writing) < k) {
            if (eddy_now_ns() > end || atomic_load(&t->errors) != 0) {
                atomic_store(&t->stop, 1);
                return (void *)(intptr_t)__LINE__;
            }
            sched_yield(); /* the writer may wait for this CPU */
        }
        spin_ns(xorshift(&seed) % spread);
        bool took = eddy__fd_disarm(t->sv[0]);
        if (took) {
            a->owner = a->armed_by == 1 ? 2 : -2;
            atomic_fetch_add(&a->disarmed, 1);
        }
        /* steer the spread to where each side wins about half the time:
           the moment the reactor takes the arm */
        spread = took ? spread + spread / 32 + 1 : spread - spread / 32;
        if (spread > 2000000u)
            spread = 2000000u;
        if (spread < 1000u)
            spread = 1000u;
        /* the byte was written, and the arm went one way or the other */
        while (atomic_load(&t->done_w) < k ||
               (atomic_load(&a->disarmed) == 0 && atomic_load(&a->cb) == 0)) {
            if (eddy_now_ns() > end || atomic_load(&t->errors) != 0) {
                atomic_store(&t->stop, 1);
                return (void *)(intptr_t)__LINE__;
            }
            eddy_yield();
        }
        atomic_store(&t->done, k);
    }
    t->failed_round = 0;
    atomic_store(&t->stop, 1); /* the writer stops too */
    return NULL;
}

static void *tight_start(void *arg)
{
    struct tight *t = arg;
    void *line = run_on(0, register_on_0, t->sv);
    return line != NULL ? line : run_on(1, tight_runner, t);
}

static void one_fd_write_and_disarm_race_tightly(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_stealing(2, false); /* worker 0 only waits in its reactor */
    struct tight t;
    memset(&t, 0, sizeof t);
    t.rounds = scaled(20000, 5000);
    t.rec = calloc((size_t)t.rounds, sizeof *t.rec);
    assert_non_null(t.rec);
    atomic_init(&t.round, 0);
    atomic_init(&t.writing, 0);
    atomic_init(&t.done_w, 0);
    atomic_init(&t.stop, 0);
    atomic_init(&t.errors, 0);
    atomic_init(&t.done, 0);
    t.budget_ns = eddy_now_ns() + (uint64_t)bound_ms(3000) * 1000000u;
    assert_int_equal(pair(t.sv), 0);
    pthread_t w;
    assert_int_equal(pthread_create(&w, NULL, tight_writer, &t), 0);
    void *line = NULL;
    int64_t t0 = eddy_test_now_ms();
    int rc = eddy_rt_block_on(rt, tight_start, &t, &line);
    int64_t ms = eddy_test_now_ms() - t0;
    atomic_store(&t.stop, 1);
    if (!eddy_test_join_within(w, (int)bound_ms(5000)))
        fail_msg("the writer did not finish");
    assert_ok(rc);
    if (line != NULL) {
        int k = t.failed_round;
        struct arm_rec *a = k > 0 ? &t.rec[k - 1] : NULL;
        fail_msg("check failed in the task at line %d: round %d, writer at %d, errors %d, "
                 "callback %d, disarmed %d", (int)(intptr_t)line, k, atomic_load(&t.done_w),
                 atomic_load(&t.errors), a ? atomic_load(&a->cb) : -1,
                 a ? atomic_load(&a->disarmed) : -1);
    }
    assert_int_equal(atomic_load(&t.errors), 0);
    sleep_ms_plain(20);
    long cbs = 0, dis = 0;
    int done = atomic_load(&t.done);
    assert_true(done >= 1);
    for (int k = 0; k < done; k++) {
        struct arm_rec *a = &t.rec[k];
        int c = atomic_load(&a->cb), d = atomic_load(&a->disarmed);
        if (c + d != 1)
            fail_msg("arm %d: callback ran %d times, disarm took it %d times", k, c, d);
        if (a->owner != (c ? 1 : 2))
            fail_msg("arm %d: owner mark %d", k, a->owner);
        cbs += c;
        dis += d;
    }
    print_message("tight race: %d arms in %lld ms, %ld called back, %ld taken back by disarm\n",
                  done, (long long)ms, cbs, dis);
    assert_ok(eddy_close(t.sv[0]));
    assert_int_equal(close(t.sv[1]), 0);
    free(t.rec);
    eddy_rt_free(rt);
}

/* ------------------------- 8b. ping-pong and stream: callback -> task -> arm */

/* One connection of the chain: the callback spawns the task that reads
   and arms again. The plain fields belong to whoever holds the arm's
   ownership (the task, then the callback, then the next task). */
struct chain {
    int fd, peer;
    bool echo;          /* ping-pong: answer each byte */
    bool split;         /* eddy__fd_read_tick + eddy__fd_arm_after, arming
                           after a short read, not eddy__fd_read_or_arm */
    size_t chunk;       /* bytes per read */
    long got;           /* owned */
    unsigned char next; /* owned: the byte expected next (stream) */
    long reads;         /* owned: reads that returned bytes */
    long rearms;        /* owned: arm_after said bytes came since (split) */
    int err;            /* owned */
    int reader;         /* the worker the callback's tasks run on (-1 any) */
    atomic_long acked;  /* got, published after each read */
    atomic_int eof;     /* published when the chain ends (1 EOF, -1 error) */
    atomic_int bad_ctx;
    atomic_long cb_on[2]; /* callbacks run by worker 0, 1 */
    long final_got, final_reads, final_rearms;
};

static void *chain_task(void *arg);

static void chain_cb(void *arg)
{
    struct chain *c = arg;
    if (!eddy__on_worker_outside_task())
        atomic_fetch_add(&c->bad_ctx, 1);
    int w = eddy_worker_index();
    if (w >= 0 && w < 2)
        atomic_fetch_add(&c->cb_on[w], 1);
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.worker = c->reader;
    int rc = eddy_spawn_ex(NULL, chain_task, c, &o);
    if (rc < 0) {
        c->err = rc;
        c->final_got = c->got;
        atomic_store(&c->eof, -1);
    }
}

/* Ends the chain (the caller owns c): res 1 at EOF, -1 on error. */
static void *chain_end(struct chain *c, int res, int err)
{
    c->err = err;
    c->final_got = c->got;
    c->final_reads = c->reads;
    c->final_rearms = c->rearms;
    atomic_store(&c->eof, res);
    return NULL;
}

/* Checks, counts and (ping-pong) answers r bytes. 0 or -errno. */
static int chain_consume(struct chain *c, const unsigned char *buf, ssize_t r)
{
    for (ssize_t i = 0; i < r; i++) {
        if (!c->echo && buf[i] != c->next)
            return -EILSEQ;
        c->next = (unsigned char)(c->next + 1);
    }
    c->got += r;
    c->reads++;
    /* the writer may send more now: it lands while this task is between
       its next read and its arm */
    atomic_store(&c->acked, c->got);
    if (c->echo && write(c->fd, buf, (size_t)r) != r)
        return -EIO;
    return 0;
}

static void *chain_task(void *arg)
{
    struct chain *c = arg;
    unsigned char buf[256];
    for (int guard = 0; guard < 1000000; guard++) {
        if (c->split) {
            /* the HTTP server's way: one read; a short one (or EAGAIN)
               proves the socket drained, so arm with that read's tick */
            uint64_t tick;
            ssize_t r = eddy__fd_read_tick(c->fd, buf, c->chunk, &tick);
            if (r == 0)
                return chain_end(c, 1, 0);
            if (r < 0 && r != -EAGAIN)
                return chain_end(c, -1, (int)r);
            if (r > 0) {
                int rc = chain_consume(c, buf, r);
                if (rc < 0)
                    return chain_end(c, -1, rc);
                if ((size_t)r == c->chunk)
                    continue; /* maybe more */
            }
            int a = eddy__fd_arm_after(c->fd, tick, chain_cb, c);
            if (a == 0)
                return NULL; /* no longer ours: c may already be another task's */
            if (a < 0)
                return chain_end(c, -1, a);
            c->rearms++; /* 1: bytes came since the read */
            continue;
        }
        ssize_t r = eddy__fd_read_or_arm(c->fd, buf, c->chunk, chain_cb, c);
        if (r == -EINPROGRESS)
            return NULL; /* no longer ours: c may already be another task's */
        if (r <= 0)
            return chain_end(c, r == 0 ? 1 : -1, (int)r);
        int rc = chain_consume(c, buf, r);
        if (rc < 0)
            return chain_end(c, -1, rc);
    }
    return chain_end(c, -1, -ELOOP);
}

static void chain_init(struct chain *c, bool echo, bool split, size_t chunk)
{
    memset(c, 0, sizeof *c);
    int sv[2];
    assert_int_equal(pair(sv), 0);
    c->fd = sv[0];
    c->peer = sv[1];
    c->echo = echo;
    c->split = split;
    c->chunk = chunk;
    c->reader = -1;
    atomic_init(&c->acked, 0);
    atomic_init(&c->eof, 0);
    atomic_init(&c->bad_ctx, 0);
    atomic_init(&c->cb_on[0], 0);
    atomic_init(&c->cb_on[1], 0);
}

/* Starts the chains: chain k's first task (the one that registers its
   fd) on worker home[k] (-1: any). */
struct chain_start {
    struct chain *c;
    const int *home;
    int n;
};

static void *start_chains(void *arg)
{
    struct chain_start *st = arg;
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    for (int k = 0; k < st->n; k++) {
        o.worker = st->home[k];
        CHECK(eddy_spawn_ex(NULL, chain_task, &st->c[k], &o) == 0);
    }
    return NULL;
}

/* Waits (from the test thread) for the chain's end. */
static void chain_wait_end(struct chain *c, long want, const char *what)
{
    int64_t end = eddy_test_now_ms() + bound_ms(10000);
    while (atomic_load(&c->eof) == 0 && eddy_test_now_ms() < end)
        sleep_ms_plain(1);
    int e = atomic_load(&c->eof);
    if (e == 0)
        fail_msg("%s: the reader never saw EOF (a lost wake-up)", what);
    if (e < 0)
        fail_msg("%s: the reader failed: %d (%s) after %ld bytes", what, c->err,
                 eddy_strerror(c->err), c->final_got);
    assert_int_equal(c->final_got, want);
    assert_int_equal(atomic_load(&c->bad_ctx), 0);
}

/* Ping-pong through the arm: the reader answers each byte, then arms;
   the writer sends the next byte once the answer came: every other trip
   once the reader has armed (each such trip a callback and a task), the
   others a random moment later, landing anywhere in the reader's re-arm.
   Topologies: any worker (2), one worker, and across: the fd registered
   with worker 0's reactor, which only waits in it, while the reading
   tasks run on worker 1 (stealing off), so the reactor takes the edge
   concurrently with the read and the arm. Each with eddy__fd_read_or_arm
   (1-byte reads) and with the split calls (16-byte reads: every read is
   short, and the arm follows it with its tick, as the HTTP server does). */
static void ping_pong_through_the_arm_loses_nothing(void **state)
{
    (void)state;
    const int trips = scaled(10000, 5000);
    int fds0 = eddy_test_count_fds();
    static const struct {
        const char *name;
        unsigned workers;
        bool stealing;
        int home, reader;
    } topo[] = {
        { "2 workers", 2, true, -1, -1 },
        { "1 worker", 1, true, -1, -1 },
        { "across workers", 2, false, 0, 1 },
    };
    for (size_t run = 0; run < 2 * sizeof topo / sizeof topo[0]; run++) {
        size_t tp = run / 2;
        bool split = run % 2 == 1;
        const char *how = split ? "read_tick + arm_after" : "read_or_arm";
        eddy_rt *rt = new_rt_stealing(topo[tp].workers, topo[tp].stealing);
        struct chain c;
        chain_init(&c, true, split, split ? 16 : 1);
        c.reader = topo[tp].reader;
        struct chain_start st = { &c, &topo[tp].home, 1 };
        run_task(rt, start_chains, &st);
        int64_t t0 = eddy_test_now_ms();
        uint32_t seed = 777 + (uint32_t)run;
        for (int i = 0; i < trips; i++) {
            unsigned char ping = (unsigned char)i, pong = 0;
            if (i % 2 == 0 && !wait_armed(c.fd, bound_ms(2000)))
                fail_msg("ping-pong (%s, %s): the reader did not arm after trip %d (eof %d)",
                         topo[tp].name, how, i, atomic_load(&c.eof));
            spin_ns(xorshift(&seed) % (jitter_ns() / 2)); /* anywhere in the re-arm */
            assert_int_equal(write(c.peer, &ping, 1), 1);
            struct pollfd p = { .fd = c.peer, .events = POLLIN };
            if (poll(&p, 1, (int)bound_ms(2000)) != 1) {
                if (atomic_load(&c.eof) != 0)
                    fail_msg("ping-pong (%s, %s): the reader ended at trip %d: %d (%s)",
                             topo[tp].name, how, i, c.err, eddy_strerror(c.err));
                fail_msg("ping-pong (%s, %s): no answer to trip %d of %d within %lld ms "
                         "(a lost wake-up)", topo[tp].name, how, i, trips,
                         (long long)bound_ms(2000));
            }
            assert_int_equal(read(c.peer, &pong, 1), 1);
            assert_int_equal(pong, ping);
        }
        int64_t ms = eddy_test_now_ms() - t0;
        assert_int_equal(shutdown(c.peer, SHUT_WR), 0);
        chain_wait_end(&c, trips, "ping-pong");
        print_message("ping-pong (%s, %s): %d round trips in %lld ms, callbacks on workers "
                      "0/1: %ld/%ld, arm_after said read again: %ld\n", topo[tp].name, how,
                      trips, (long long)ms, (long)atomic_load(&c.cb_on[0]),
                      (long)atomic_load(&c.cb_on[1]), c.final_rearms);
        assert_ok(eddy_close(c.fd));
        assert_int_equal(close(c.peer), 0);
        eddy_rt_free(rt);
    }
    assert_int_equal(eddy_test_count_fds(), fds0);
}

#define STREAMS 8

/* One thread writes bursts of 1 to 8 bytes to STREAMS sockets and waits
   until each reader has read them all before the next burst, which then
   lands while the reader is between its next read and its arm (the window
   the tick rule covers), a random moment later each time. A wake-up lost
   there leaves bytes unread: the wait for them fails the test. Stealing
   is off; stream k's fd is registered with worker k % 2 and read on
   worker k / 2 % 2 (two streams of each four read where their reactor is,
   two across); streams 0-3 read with eddy__fd_read_or_arm (1 or 64 bytes
   a read), 4-7 with the split calls (4 or 64: short reads arm at once). */
static void stream_through_the_arm_loses_nothing(void **state)
{
    (void)state;
    const long bytes = scaled(20000, 10000);
    int fds0 = eddy_test_count_fds();
    eddy_rt *rt = new_rt_stealing(2, false);
    struct chain c[STREAMS];
    int home[STREAMS];
    for (int k = 0; k < STREAMS; k++) {
        bool split = k / 4 % 2 == 1;
        chain_init(&c[k], false, split, k % 2 ? (split ? 4 : 1) : 64);
        home[k] = k % 2;
        c[k].reader = k / 2 % 2;
    }
    struct chain_start st = { c, home, STREAMS };
    run_task(rt, start_chains, &st);
    long sent[STREAMS] = { 0 };
    uint32_t seed = 12345;
    int64_t t0 = eddy_test_now_ms();
    for (;;) {
        bool all = true;
        for (int k = 0; k < STREAMS; k++) {
            if (sent[k] == bytes)
                continue;
            all = false;
            unsigned char buf[8];
            long m = 1 + (long)(xorshift(&seed) % 8);
            if (m > bytes - sent[k])
                m = bytes - sent[k];
            for (long j = 0; j < m; j++)
                buf[j] = (unsigned char)(sent[k] + j);
            if (write(c[k].peer, buf, (size_t)m) != m)
                fail_msg("stream %d: write: %s", k, strerror(errno));
            sent[k] += m;
        }
        if (all)
            break;
        for (int k = 0; k < STREAMS; k++) {
            int64_t end = eddy_test_now_ms() + bound_ms(2000);
            while (atomic_load(&c[k].acked) < sent[k] && atomic_load(&c[k].eof) == 0) {
                if (eddy_test_now_ms() > end)
                    fail_msg("stream %d: %ld of %ld bytes read after %lld ms (a lost wake-up)",
                             k, (long)atomic_load(&c[k].acked), sent[k],
                             (long long)bound_ms(2000));
                sched_yield();
            }
            if (atomic_load(&c[k].eof) != 0)
                fail_msg("stream %d: the reader ended early: %d (%s)", k, c[k].err,
                         eddy_strerror(c[k].err));
        }
        spin_ns(xorshift(&seed) % (jitter_ns() / 2));
    }
    int64_t ms = eddy_test_now_ms() - t0;
    long reads = 0, rearms = 0;
    for (int k = 0; k < STREAMS; k++) {
        assert_int_equal(shutdown(c[k].peer, SHUT_WR), 0);
        chain_wait_end(&c[k], bytes, "stream");
        reads += c[k].final_reads;
        rearms += c[k].final_rearms;
        assert_ok(eddy_close(c[k].fd));
        assert_int_equal(close(c[k].peer), 0);
    }
    print_message("stream: %d x %ld bytes in %lld ms, %ld reads, arm_after said read "
                  "again %ld times\n", STREAMS, bytes, (long long)ms, reads, rearms);
    eddy_rt_free(rt);
    assert_int_equal(eddy_test_count_fds(), fds0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(write_and_disarm_race_for_each_arm_exactly_one_owner),
    cmocka_unit_test(one_fd_write_and_disarm_race_tightly),
    cmocka_unit_test(ping_pong_through_the_arm_loses_nothing),
    cmocka_unit_test(stream_through_the_arm_loses_nothing),
};

EDDY_TEST_MAIN(tests, 120)
