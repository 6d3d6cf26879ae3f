/*
 * tests/sched/test_deque.c: the worker run queue (sched/deque.c): FIFO pop,
 * full vs empty, overflow, steal-half, a steal in progress, cursor wrap past
 * UINT32_MAX, and multi-thread stress runs that count every task taken.
 *
 * Tasks are fake non-NULL pointers (index + 1), never dereferenced. Tests
 * that need a steal "in progress" set head by hand: a thief that has
 * claimed [steal, real) and not yet moved steal looks exactly like that.
 * Must pass with EDDY_DEQUE_CAP 256 (default) and 4 (stress builds).
 */
/* ctest-labels: concurrency stress */
#include "sched/deque.h"
#include "tests/helpers.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAP ((unsigned)EDDY_DEQUE_CAP)
#define HALF (CAP / 2)

static struct eddy__task *task(uintptr_t i)
{
    return (struct eddy__task *)(i + 1);
}

static uintptr_t id_of(struct eddy__task *t)
{
    return (uintptr_t)t - 1;
}

static uint64_t pack(uint32_t steal, uint32_t real)
{
    return (uint64_t)steal << 32 | real;
}

static uint32_t steal_of(const struct eddy__deque *q)
{
    return (uint32_t)(atomic_load(&q->head) >> 32);
}

static uint32_t real_of(const struct eddy__deque *q)
{
    return (uint32_t)atomic_load(&q->head);
}

static uint32_t tail_of(const struct eddy__deque *q)
{
    return atomic_load(&q->tail);
}

/* Test-only: an empty queue whose cursors all sit at c. */
static void init_at(struct eddy__deque *q, uint32_t c)
{
    eddy__deque_init(q);
    atomic_store(&q->head, pack(c, c));
    atomic_store(&q->tail, c);
}

/* Test-only: pretend a thief has claimed the m oldest tasks and is still
   copying them (real moved, steal left behind). */
static void fake_steal_begin(struct eddy__deque *q, uint32_t m)
{
    uint32_t real = real_of(q);
    assert_int_equal(steal_of(q), real);
    atomic_store(&q->head, pack(real, real + m));
}

static void fake_steal_end(struct eddy__deque *q)
{
    uint32_t real = real_of(q);
    atomic_store_explicit(&q->head, pack(real, real), memory_order_release);
}

static void push_range(struct eddy__deque *q, uintptr_t from, uintptr_t to)
{
    for (uintptr_t i = from; i < to; i++)
        assert_true(eddy__deque_try_push(q, task(i)));
}

static void expect_pops(struct eddy__deque *q, uintptr_t from, uintptr_t to)
{
    for (uintptr_t i = from; i < to; i++)
        assert_ptr_equal(eddy__deque_pop(q), task(i));
}

/* ---- sequential ---------------------------------------------------------- */

static void pop_on_new_queue_returns_null(void **state)
{
    (void)state;
    struct eddy__deque q;
    eddy__deque_init(&q);
    assert_null(eddy__deque_pop(&q));
    assert_null(eddy__deque_pop(&q)); /* and did not underflow real */
    assert_int_equal(eddy__deque_len(&q), 0);
    assert_int_equal(eddy__deque_room(&q), CAP);
    assert_int_equal(real_of(&q), 0);
}

static void pop_returns_tasks_in_fifo_order(void **state)
{
    (void)state;
    struct eddy__deque q;
    eddy__deque_init(&q);
    push_range(&q, 0, CAP);
    expect_pops(&q, 0, CAP);
    assert_null(eddy__deque_pop(&q));
    /* interleaved: push 2, pop 1, many times around the ring */
    uintptr_t next_in = 100, next_out = 100;
    for (unsigned r = 0; r < 4 * CAP; r++) {
        assert_true(eddy__deque_try_push(&q, task(next_in++)));
        if (r % 2 == 1 || eddy__deque_room(&q) == 0)
            assert_ptr_equal(eddy__deque_pop(&q), task(next_out++));
        if (eddy__deque_room(&q) == 0)
            assert_ptr_equal(eddy__deque_pop(&q), task(next_out++));
    }
    while (next_out < next_in)
        assert_ptr_equal(eddy__deque_pop(&q), task(next_out++));
    assert_null(eddy__deque_pop(&q));
}

static void pop_after_emptying_returns_null_at_any_cursor(void **state)
{
    (void)state;
    static const uint32_t at[] = {0, 1, 0x7fffffffu, 0x80000000u, UINT32_MAX};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        struct eddy__deque q;
        init_at(&q, at[k]);
        assert_null(eddy__deque_pop(&q));
        assert_int_equal(eddy__deque_len(&q), 0);
        assert_int_equal(eddy__deque_room(&q), CAP);
        push_range(&q, 0, 1);
        expect_pops(&q, 0, 1);
        assert_null(eddy__deque_pop(&q));
        assert_int_equal(real_of(&q), at[k] + 1);
    }
}

static void len_and_room_track_pushes_and_pops(void **state)
{
    (void)state;
    struct eddy__deque q;
    eddy__deque_init(&q);
    for (unsigned i = 0; i < CAP; i++) {
        assert_int_equal(eddy__deque_len(&q), i);
        assert_int_equal(eddy__deque_room(&q), CAP - i);
        assert_true(eddy__deque_try_push(&q, task(i)));
    }
    for (unsigned i = 0; i < CAP; i++) {
        assert_int_equal(eddy__deque_len(&q), CAP - i);
        assert_int_equal(eddy__deque_room(&q), i);
        assert_non_null(eddy__deque_pop(&q));
    }
    assert_int_equal(eddy__deque_len(&q), 0);
}

static void full_ring_is_not_mistaken_for_empty(void **state)
{
    (void)state;
    struct eddy__deque q;
    eddy__deque_init(&q);
    push_range(&q, 0, CAP);
    /* same masked index for head and tail, as when empty */
    assert_int_equal(tail_of(&q) & (CAP - 1), real_of(&q) & (CAP - 1));
    assert_int_equal(eddy__deque_len(&q), CAP);
    assert_int_equal(eddy__deque_room(&q), 0);
    assert_false(eddy__deque_try_push(&q, task(999)));
    expect_pops(&q, 0, CAP);
    assert_null(eddy__deque_pop(&q));
}

static void try_push_on_full_ring_returns_false_and_keeps_contents(void **state)
{
    (void)state;
    struct eddy__deque q;
    eddy__deque_init(&q);
    push_range(&q, 0, CAP);
    for (int k = 0; k < 3; k++)
        assert_false(eddy__deque_try_push(&q, task(500 + k)));
    assert_int_equal(eddy__deque_len(&q), CAP);
    expect_pops(&q, 0, CAP);
}

static void push_or_overflow_below_capacity_returns_zero(void **state)
{
    (void)state;
    struct eddy__deque q;
    struct eddy__task *batch[HALF + 1];
    eddy__deque_init(&q);
    for (unsigned i = 0; i < CAP; i++)
        assert_int_equal(eddy__deque_push_or_overflow(&q, task(i), batch), 0);
    assert_int_equal(eddy__deque_len(&q), CAP);
    expect_pops(&q, 0, CAP);
}

static void overflow_moves_oldest_half_plus_new_task_and_leaves_half(void **state)
{
    (void)state;
    struct eddy__deque q;
    struct eddy__task *batch[HALF + 1];
    eddy__deque_init(&q);
    push_range(&q, 0, CAP);
    memset(batch, 0, sizeof batch);
    assert_int_equal(eddy__deque_push_or_overflow(&q, task(CAP), batch), HALF + 1);
    for (unsigned i = 0; i < HALF; i++)
        assert_ptr_equal(batch[i], task(i));
    assert_ptr_equal(batch[HALF], task(CAP));
    assert_int_equal(eddy__deque_len(&q), HALF);
    assert_int_equal(eddy__deque_room(&q), CAP - HALF);
    assert_int_equal(steal_of(&q), real_of(&q));

    /* refill and overflow again: the queue keeps its FIFO order */
    push_range(&q, CAP + 1, CAP + 1 + HALF);
    assert_int_equal(eddy__deque_push_or_overflow(&q, task(5000), batch), HALF + 1);
    for (unsigned i = 0; i < HALF; i++)
        assert_ptr_equal(batch[i], task(HALF + i));
    assert_ptr_equal(batch[HALF], task(5000));
    expect_pops(&q, CAP + 1, CAP + 1 + HALF);
    assert_null(eddy__deque_pop(&q));
}

static void steal_from_empty_returns_null(void **state)
{
    (void)state;
    struct eddy__deque src, dst;
    eddy__deque_init(&src);
    eddy__deque_init(&dst);
    unsigned n = 12345;
    assert_null(eddy__deque_steal_into(&src, &dst, &n));
    assert_int_equal(n, 12345); /* out-params are written only on success */
    assert_null(eddy__deque_steal_into(&src, &dst, NULL));
    /* emptied by pops, cursors no longer zero */
    push_range(&src, 0, CAP);
    expect_pops(&src, 0, CAP);
    assert_null(eddy__deque_steal_into(&src, &dst, &n));
    assert_int_equal(eddy__deque_len(&dst), 0);
    assert_int_equal(tail_of(&dst), 0);
    assert_int_equal(real_of(&src), CAP);
}

static void steal_takes_half_rounded_up_oldest_first(void **state)
{
    (void)state;
    for (unsigned len = 1; len <= CAP; len++) {
        struct eddy__deque src, dst;
        eddy__deque_init(&src);
        eddy__deque_init(&dst);
        push_range(&src, 0, len);
        unsigned n = 0, want = len - len / 2;
        struct eddy__task *t = eddy__deque_steal_into(&src, &dst, &n);
        assert_int_equal(n, want);
        /* the returned task is the newest of the batch; dst holds the rest */
        assert_ptr_equal(t, task(want - 1));
        assert_int_equal(eddy__deque_len(&dst), want - 1);
        assert_int_equal(eddy__deque_len(&src), len - want);
        assert_int_equal(steal_of(&src), real_of(&src)); /* steal finished */
        expect_pops(&dst, 0, want - 1);
        assert_null(eddy__deque_pop(&dst));
        expect_pops(&src, want, len);
        assert_null(eddy__deque_pop(&src));
    }
}

static void steal_refuses_when_dst_more_than_half_full(void **state)
{
    (void)state;
    struct eddy__deque src, dst;
    eddy__deque_init(&src);
    eddy__deque_init(&dst);
    push_range(&src, 0, CAP);
    push_range(&dst, 1000, 1000 + HALF + 1);
    unsigned n = 77;
    assert_null(eddy__deque_steal_into(&src, &dst, &n));
    assert_int_equal(n, 77);
    assert_int_equal(eddy__deque_len(&src), CAP);
    assert_int_equal(eddy__deque_len(&dst), HALF + 1);

    /* exactly half full is allowed, and a full src's half still fits */
    assert_non_null(eddy__deque_pop(&dst));
    assert_ptr_equal(eddy__deque_steal_into(&src, &dst, &n), task(HALF - 1));
    assert_int_equal(n, HALF);
    assert_int_equal(eddy__deque_len(&dst), HALF + HALF - 1);
    expect_pops(&dst, 1001, 1000 + HALF + 1);
    expect_pops(&dst, 0, HALF - 1);
    assert_null(eddy__deque_pop(&dst));
    expect_pops(&src, HALF, CAP);
}

static void steal_counts_dst_slots_still_being_stolen_as_used(void **state)
{
    (void)state;
    struct eddy__deque src, dst;
    eddy__deque_init(&src);
    eddy__deque_init(&dst);
    push_range(&src, 0, CAP);
    /* dst's tasks are all claimed by a (fake) thief of dst still copying:
       len is 0 but the slots are not free yet */
    push_range(&dst, 1000, 1000 + HALF + 1);
    fake_steal_begin(&dst, HALF + 1);
    assert_int_equal(eddy__deque_len(&dst), 0);
    assert_null(eddy__deque_steal_into(&src, &dst, NULL));
    assert_int_equal(eddy__deque_len(&src), CAP);
    fake_steal_end(&dst);
    assert_non_null(eddy__deque_steal_into(&src, &dst, NULL));
}

static void steal_refuses_while_another_steal_is_in_progress(void **state)
{
    (void)state;
    struct eddy__deque src, dst;
    eddy__deque_init(&src);
    eddy__deque_init(&dst);
    push_range(&src, 0, CAP);
    fake_steal_begin(&src, 1);
    uint64_t before = atomic_load(&src.head);
    assert_null(eddy__deque_steal_into(&src, &dst, NULL));
    assert_int_equal(atomic_load(&src.head), before);
    assert_int_equal(eddy__deque_len(&dst), 0);
    fake_steal_end(&src);
    assert_ptr_equal(eddy__deque_steal_into(&src, &dst, NULL), task(1 + HALF - 1));
}

static void owner_does_not_overwrite_slots_a_thief_is_copying(void **state)
{
    (void)state;
    struct eddy__deque q;
    eddy__deque_init(&q);
    push_range(&q, 0, CAP);
    fake_steal_begin(&q, HALF); /* a thief is copying tasks 0..HALF-1 */
    uint32_t steal = steal_of(&q);

    /* the owner pops past the batch: only real moves */
    assert_ptr_equal(eddy__deque_pop(&q), task(HALF));
    assert_int_equal(steal_of(&q), steal);
    assert_int_equal(real_of(&q), steal + HALF + 1);
    assert_int_equal(eddy__deque_len(&q), CAP - HALF - 1);

    /* tail - real < CAP, but tail - steal == CAP: no room */
    assert_int_equal(eddy__deque_room(&q), 0);
    assert_false(eddy__deque_try_push(&q, task(900)));
    for (unsigned i = 0; i < HALF; i++)
        assert_ptr_equal(atomic_load(&q.slots[(steal + i) & (CAP - 1)]), task(i));

    fake_steal_end(&q);
    assert_int_equal(eddy__deque_room(&q), HALF + 1);
    assert_true(eddy__deque_try_push(&q, task(900)));
    expect_pops(&q, HALF + 1, CAP);
    expect_pops(&q, 900, 901);
    assert_null(eddy__deque_pop(&q));
}

struct finisher {
    struct eddy__deque *q;
    _Atomic int done;
};

static void *finish_fake_steal_later(void *arg)
{
    struct finisher *f = arg;
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store_explicit(&f->done, 1, memory_order_relaxed);
    fake_steal_end(f->q); /* release: publishes done */
    return NULL;
}

static void overflow_waits_for_in_progress_steal_instead_of_overwriting(void **state)
{
    (void)state;
    struct eddy__deque q;
    struct eddy__task *batch[HALF + 1];
    eddy__deque_init(&q);
    push_range(&q, 0, CAP);
    fake_steal_begin(&q, HALF);
    struct finisher f = {.q = &q, .done = 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, finish_fake_steal_later, &f), 0);
    /* full while the thief copies: must neither overwrite its slots nor
       hand its tasks to the caller; after it finishes there is room */
    unsigned got = eddy__deque_push_or_overflow(&q, task(CAP), batch);
    int done = atomic_load_explicit(&f.done, memory_order_relaxed);
    assert_int_equal(pthread_join(th, NULL), 0); /* before any assert: f, q */
    assert_int_equal(got, 0);
    assert_int_equal(done, 1);
    assert_int_equal(eddy__deque_len(&q), CAP - HALF + 1);
    expect_pops(&q, HALF, CAP + 1);
    assert_null(eddy__deque_pop(&q));
}

static void cursors_wrap_past_uint32_max(void **state)
{
    (void)state;
    struct eddy__deque q, dst;
    struct eddy__task *batch[HALF + 1];
    uint32_t start = UINT32_MAX - HALF + 1; /* the full ring straddles 2^32 */
    init_at(&q, start);
    init_at(&dst, UINT32_MAX);
    push_range(&q, 0, CAP);
    assert_true(tail_of(&q) < start); /* tail wrapped */
    assert_int_equal(eddy__deque_len(&q), CAP);
    assert_int_equal(eddy__deque_room(&q), 0);
    assert_false(eddy__deque_try_push(&q, task(999)));
    assert_int_equal(eddy__deque_push_or_overflow(&q, task(CAP), batch), HALF + 1);
    for (unsigned i = 0; i < HALF; i++)
        assert_ptr_equal(batch[i], task(i));
    assert_int_equal(real_of(&q), start + HALF); /* head wrapped too */
    assert_int_equal(eddy__deque_len(&q), HALF);
    push_range(&q, CAP + 1, CAP + 1 + HALF);
    unsigned n = 0;
    assert_ptr_equal(eddy__deque_steal_into(&q, &dst, &n), task(HALF + HALF - 1));
    assert_int_equal(n, HALF);
    assert_int_equal(tail_of(&dst), (uint32_t)(UINT32_MAX + HALF - 1));
    expect_pops(&dst, HALF, HALF + HALF - 1);
    assert_null(eddy__deque_pop(&dst));
    expect_pops(&q, CAP + 1, CAP + 1 + HALF);
    assert_null(eddy__deque_pop(&q));
    assert_int_equal(eddy__deque_len(&q), 0);
}

/* A model of one deque: a plain FIFO of ids. */
struct model {
    uintptr_t v[EDDY_DEQUE_CAP];
    unsigned h, n;
};

static void model_push(struct model *m, uintptr_t id)
{
    assert_true(m->n < CAP);
    m->v[(m->h + m->n++) % CAP] = id;
}

static uintptr_t model_pop(struct model *m)
{
    assert_true(m->n > 0);
    uintptr_t id = m->v[m->h];
    m->h = (m->h + 1) % CAP;
    m->n--;
    return id;
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Random single-thread ops on two deques against the model. */
static void run_model(uint32_t start, unsigned steps, uint32_t seed)
{
    static struct eddy__deque q[2];
    struct model m[2] = {0};
    struct eddy__task *batch[HALF + 1];
    uintptr_t next = 0;
    init_at(&q[0], start);
    init_at(&q[1], start + 7);
    for (unsigned s = 0; s < steps; s++) {
        unsigned r = xorshift(&seed), k = r & 1, op = (r >> 1) % 8;
        struct eddy__deque *a = &q[k], *b = &q[!k];
        struct model *ma = &m[k], *mb = &m[!k];
        if (op <= 2) { /* push_or_overflow */
            unsigned got = eddy__deque_push_or_overflow(a, task(next), batch);
            if (ma->n < CAP) {
                assert_int_equal(got, 0);
                model_push(ma, next);
            } else {
                assert_int_equal(got, HALF + 1);
                for (unsigned i = 0; i < HALF; i++)
                    assert_ptr_equal(batch[i], task(model_pop(ma)));
                assert_ptr_equal(batch[HALF], task(next));
            }
            next++;
        } else if (op == 3) { /* try_push */
            bool ok = eddy__deque_try_push(a, task(next));
            assert_int_equal(ok, ma->n < CAP);
            if (ok)
                model_push(ma, next);
            next++;
        } else if (op <= 5) { /* pop */
            struct eddy__task *t = eddy__deque_pop(a);
            if (ma->n == 0)
                assert_null(t);
            else
                assert_ptr_equal(t, task(model_pop(ma)));
        } else { /* steal a -> b */
            unsigned n = 0;
            struct eddy__task *t = eddy__deque_steal_into(a, b, &n);
            if (ma->n == 0 || mb->n > HALF) {
                assert_null(t);
            } else {
                unsigned want = ma->n - ma->n / 2;
                assert_int_equal(n, want);
                for (unsigned i = 0; i + 1 < want; i++)
                    model_push(mb, model_pop(ma));
                assert_ptr_equal(t, task(model_pop(ma)));
            }
        }
        assert_int_equal(eddy__deque_len(a), ma->n);
        assert_int_equal(eddy__deque_room(a), CAP - ma->n);
        assert_int_equal(eddy__deque_len(b), mb->n);
    }
    for (int k = 0; k < 2; k++) {
        while (m[k].n > 0)
            assert_ptr_equal(eddy__deque_pop(&q[k]), task(model_pop(&m[k])));
        assert_null(eddy__deque_pop(&q[k]));
    }
}

static void random_ops_match_a_fifo_model_across_many_wraps(void **state)
{
    (void)state;
    run_model(0, 200000, 0x9e3779b9u);
    run_model(UINT32_MAX - 3 * CAP, 200000, 12345u); /* crosses 2^32 */
}

/* ---- concurrent stress --------------------------------------------------- */

#define THIEVES 3
#define STAMP(i) ((uint32_t)(i) * 2654435761u ^ 0x5bd1e995u)

struct stress {
    size_t n;                        /* immutable after start */
    bool owner_pops;                 /* immutable after start */
    int64_t deadline_ms;             /* immutable after start */
    uint32_t *stamp;                 /* [i]: written by the owner before push */
    _Atomic unsigned char *taken;    /* any thread (atomic) */
    _Atomic size_t consumed;         /* any thread (atomic) */
    _Atomic int stop;                /* any thread (atomic): gave up */
    _Atomic size_t bad_id, bad_stamp, dup;
    _Atomic size_t overflows, steals, stolen, from_side;
    pthread_mutex_t side_lock;
    struct eddy__task **side;        /* guarded by: side_lock (FIFO) */
    size_t side_head, side_tail;     /* guarded by: side_lock */
};

static struct eddy__deque owner_q, thief_q[THIEVES];

struct thief_arg {
    struct stress *s;
    int idx;
};

/* Records that t was taken; no cmocka asserts off the main thread. */
static void consume(struct stress *s, struct eddy__task *t)
{
    uintptr_t i = id_of(t);
    if (t == NULL || i >= s->n) {
        atomic_fetch_add(&s->bad_id, 1);
        return;
    }
    /* plain read of the owner's plain write: TSan checks the queue
       carried the happens-before edge */
    if (s->stamp[i] != STAMP(i))
        atomic_fetch_add(&s->bad_stamp, 1);
    if (atomic_fetch_add_explicit(&s->taken[i], 1, memory_order_relaxed) != 0)
        atomic_fetch_add(&s->dup, 1);
    atomic_fetch_add_explicit(&s->consumed, 1, memory_order_relaxed);
}

/* Per-thread loop state for keep_going(). */
struct pace {
    unsigned tick;
    size_t seen;      /* consumed, when last looked at */
    int64_t seen_ms;  /* when it last moved */
};

/* False once every task is taken, or when the run must give up: past the
   deadline, or nothing taken for STALL_MS (a lost task stalls the count
   short of n; fail in seconds, not at the deadline). */
#define STALL_MS 5000
static bool keep_going(struct stress *s, struct pace *p)
{
    size_t c = atomic_load_explicit(&s->consumed, memory_order_relaxed);
    if (c >= s->n || atomic_load_explicit(&s->stop, memory_order_relaxed))
        return false;
    if ((++p->tick & 255) != 0)
        return true;
    int64_t now = eddy_test_now_ms();
    if (c != p->seen || p->seen_ms == 0) {
        p->seen = c;
        p->seen_ms = now;
    }
    if (now > s->deadline_ms || now - p->seen_ms > STALL_MS) {
        atomic_store(&s->stop, 1);
        return false;
    }
    return true;
}

static void side_put(struct stress *s, struct eddy__task **batch, unsigned k)
{
    pthread_mutex_lock(&s->side_lock);
    for (unsigned i = 0; i < k; i++)
        s->side[s->side_tail++] = batch[i];
    pthread_mutex_unlock(&s->side_lock);
}

static struct eddy__task *side_take(struct stress *s)
{
    struct eddy__task *t = NULL;
    pthread_mutex_lock(&s->side_lock);
    if (s->side_head < s->side_tail)
        t = s->side[s->side_head++];
    pthread_mutex_unlock(&s->side_lock);
    if (t != NULL)
        atomic_fetch_add_explicit(&s->from_side, 1, memory_order_relaxed);
    return t;
}

static void *owner_main(void *arg)
{
    struct stress *s = arg;
    struct eddy__task *batch[HALF + 1];
    uint32_t rng = 0x12345678u;
    struct pace pace = {0};
    size_t i = 0;
    while (i < s->n && keep_going(s, &pace)) {
        unsigned burst = 1 + xorshift(&rng) % (2 * CAP);
        for (unsigned b = 0; b < burst && i < s->n; b++, i++) {
            s->stamp[i] = STAMP(i);
            unsigned k = eddy__deque_push_or_overflow(&owner_q, task(i), batch);
            if (k > 0) {
                side_put(s, batch, k);
                atomic_fetch_add_explicit(&s->overflows, 1, memory_order_relaxed);
            }
        }
        if (s->owner_pops) {
            unsigned pops = xorshift(&rng) % (burst + 1);
            for (unsigned p = 0; p < pops; p++) {
                struct eddy__task *t = eddy__deque_pop(&owner_q);
                if (t == NULL)
                    break;
                consume(s, t);
            }
        }
    }
    while (keep_going(s, &pace)) { /* help drain */
        struct eddy__task *t = eddy__deque_pop(&owner_q);
        if (t == NULL)
            t = side_take(s);
        if (t != NULL)
            consume(s, t);
        else
            sched_yield();
    }
    return NULL;
}

static void *thief_main(void *arg)
{
    struct thief_arg *ta = arg;
    struct stress *s = ta->s;
    struct eddy__deque *mine = &thief_q[ta->idx];
    struct eddy__deque *peer = &thief_q[(ta->idx + 1) % THIEVES];
    struct pace pace = {0};
    unsigned n;
    while (keep_going(s, &pace)) {
        struct eddy__task *t = eddy__deque_pop(mine);
        if (t == NULL) {
            t = eddy__deque_steal_into(&owner_q, mine, &n);
            if (t == NULL && (pace.tick & 3) == 0)
                t = eddy__deque_steal_into(peer, mine, &n);
            if (t != NULL) {
                atomic_fetch_add_explicit(&s->steals, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&s->stolen, n, memory_order_relaxed);
            }
        }
        if (t == NULL)
            t = side_take(s);
        if (t != NULL)
            consume(s, t);
        else
            sched_yield();
    }
    return NULL;
}

static void run_stress(size_t n, bool owner_pops)
{
    struct stress *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->n = n;
    s->owner_pops = owner_pops;
    s->deadline_ms = eddy_test_now_ms() + 60 * 1000;
    s->stamp = calloc(n, sizeof *s->stamp);
    s->taken = calloc(n, sizeof *s->taken);
    s->side = calloc(n, sizeof *s->side);
    assert_true(s->stamp && s->taken && s->side);
    assert_int_equal(pthread_mutex_init(&s->side_lock, NULL), 0);
    eddy__deque_init(&owner_q);
    for (int k = 0; k < THIEVES; k++)
        eddy__deque_init(&thief_q[k]);

    pthread_t owner, thieves[THIEVES];
    struct thief_arg ta[THIEVES];
    int64_t t0 = eddy_test_now_ms();
    for (int k = 0; k < THIEVES; k++) {
        ta[k] = (struct thief_arg){s, k};
        assert_int_equal(pthread_create(&thieves[k], NULL, thief_main, &ta[k]), 0);
    }
    assert_int_equal(pthread_create(&owner, NULL, owner_main, s), 0);
    assert_int_equal(pthread_join(owner, NULL), 0);
    for (int k = 0; k < THIEVES; k++)
        assert_int_equal(pthread_join(thieves[k], NULL), 0);

    size_t lost = 0, twice = 0, first_bad = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned c = atomic_load(&s->taken[i]);
        if (c != 1 && first_bad == SIZE_MAX)
            first_bad = i;
        lost += c == 0;
        twice += c > 1;
    }
    print_message("stress n=%zu cap=%u pops=%d: %lld ms, %zu overflows, %zu steals "
                  "(%zu tasks), %zu via side list\n",
                  n, CAP, owner_pops, (long long)(eddy_test_now_ms() - t0),
                  atomic_load(&s->overflows), atomic_load(&s->steals),
                  atomic_load(&s->stolen), atomic_load(&s->from_side));
    if (lost || twice || atomic_load(&s->bad_id) || atomic_load(&s->bad_stamp))
        fail_msg("%zu lost, %zu taken twice (first bad: %zu), %zu bad ids, %zu bad stamps%s",
                 lost, twice, first_bad, atomic_load(&s->bad_id),
                 atomic_load(&s->bad_stamp),
                 atomic_load(&s->stop) ? " (gave up: deadline or stall)" : "");
    assert_false(atomic_load(&s->stop));
    assert_int_equal(atomic_load(&s->consumed), n);
    assert_int_equal(atomic_load(&s->dup), 0);
    assert_null(eddy__deque_pop(&owner_q));
    for (int k = 0; k < THIEVES; k++)
        assert_null(eddy__deque_pop(&thief_q[k]));
    assert_int_equal(s->side_head, s->side_tail);

    pthread_mutex_destroy(&s->side_lock);
    free(s->side);
    free(s->taken);
    free(s->stamp);
    free(s);
}

static void owner_and_three_thieves_take_every_task_exactly_once(void **state)
{
    (void)state;
    run_stress(eddy_test_sanitized() ? 300000 : 4000000, true);
}

static void overflow_racing_steals_takes_every_task_exactly_once(void **state)
{
    (void)state;
    run_stress(eddy_test_sanitized() ? 200000 : 2000000, false);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pop_on_new_queue_returns_null),
    cmocka_unit_test(pop_returns_tasks_in_fifo_order),
    cmocka_unit_test(pop_after_emptying_returns_null_at_any_cursor),
    cmocka_unit_test(len_and_room_track_pushes_and_pops),
    cmocka_unit_test(full_ring_is_not_mistaken_for_empty),
    cmocka_unit_test(try_push_on_full_ring_returns_false_and_keeps_contents),
    cmocka_unit_test(push_or_overflow_below_capacity_returns_zero),
    cmocka_unit_test(overflow_moves_oldest_half_plus_new_task_and_leaves_half),
    cmocka_unit_test(steal_from_empty_returns_null),
    cmocka_unit_test(steal_takes_half_rounded_up_oldest_first),
    cmocka_unit_test(steal_refuses_when_dst_more_than_half_full),
    cmocka_unit_test(steal_counts_dst_slots_still_being_stolen_as_used),
    cmocka_unit_test(steal_refuses_while_another_steal_is_in_progress),
    cmocka_unit_test(owner_does_not_overwrite_slots_a_thief_is_copying),
    cmocka_unit_test(overflow_waits_for_in_progress_steal_instead_of_overwriting),
    cmocka_unit_test(cursors_wrap_past_uint32_max),
    cmocka_unit_test(random_ops_match_a_fifo_model_across_many_wraps),
    cmocka_unit_test(owner_and_three_thieves_take_every_task_exactly_once),
    cmocka_unit_test(overflow_racing_steals_takes_every_task_exactly_once),
};

EDDY_TEST_MAIN(tests, 240)
