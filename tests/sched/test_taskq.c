/*
 * tests/sched/test_taskq.c: the inject/inbox queue: lock-free pushes of
 * single tasks and of arrays (a run node) from many threads, pops into an
 * array under a lock that may cut a run; FIFO per producer, each task
 * popped exactly once.
 */
/* ctest-labels: concurrency stress */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "sched/sched_int.h"

/* The queue only uses task->next: a bare header stands in for a task. */
struct item {
    struct eddy__task t;
    unsigned producer, seq;
};

static void pops_in_push_order_singles_and_batches(void **state)
{
    (void)state;
    struct eddy__taskq q;
    eddy__taskq_init(&q);
    struct item it[10];
    memset(it, 0, sizeof it);
    assert_null(eddy__taskq_pop(&q));
    struct eddy__task *out[5];
    assert_int_equal(eddy__taskq_pop_into(&q, out, 5), 0);
    eddy__taskq_push(&q, &it[0].t);
    eddy__taskq_push(&q, &it[1].t);
    /* an array keeps its order: 2, 3, 4 */
    struct eddy__task *arr[3] = { &it[2].t, &it[3].t, &it[4].t };
    eddy__taskq_push_array(&q, arr, 3);
    eddy__taskq_push(&q, &it[5].t);
    assert_int_equal(eddy__taskq_len(&q), 6);
    /* cuts the array: 4 is left in it */
    assert_int_equal(eddy__taskq_pop_into(&q, out, 4), 4);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(out[i], &it[i].t);
    eddy__taskq_push(&q, &it[6].t); /* arrives behind what is left */
    assert_ptr_equal(eddy__taskq_pop(&q), &it[4].t);
    assert_ptr_equal(eddy__taskq_pop(&q), &it[5].t);
    assert_ptr_equal(eddy__taskq_pop(&q), &it[6].t);
    assert_null(eddy__taskq_pop(&q));
    assert_int_equal(eddy__taskq_len(&q), 0);
    eddy__taskq_destroy(&q);
}

enum { PRODUCERS = 4, CONSUMERS = 2 };

struct stress {
    struct eddy__taskq q;
    struct item *items;
    unsigned per_producer;
    atomic_uint taken;
    atomic_uint *seen;          /* per item: times popped */
    atomic_int order_errors;
    unsigned last_seq[CONSUMERS][PRODUCERS];
};

struct producer_arg {
    struct stress *s;
    unsigned id;
};

static void *producer(void *arg)
{
    struct producer_arg *a = arg;
    struct stress *s = a->s;
    struct item *mine = s->items + (size_t)a->id * s->per_producer;
    unsigned i = 0;
    while (i < s->per_producer) {
        unsigned k = 1 + (i % 7); /* singles and batches of up to 7 */
        if (k > s->per_producer - i)
            k = s->per_producer - i;
        if (k == 1) {
            eddy__taskq_push(&s->q, &mine[i].t);
        } else {
            struct eddy__task *arr[7];
            for (unsigned j = 0; j < k; j++)
                arr[j] = &mine[i + j].t;
            eddy__taskq_push_array(&s->q, arr, k);
        }
        i += k;
    }
    return NULL;
}

struct consumer_arg {
    struct stress *s;
    unsigned id;
};

static void *consumer(void *arg)
{
    struct consumer_arg *a = arg;
    struct stress *s = a->s;
    unsigned total = PRODUCERS * s->per_producer;
    int64_t until = eddy_test_now_ms() + 60000;
    while (atomic_load(&s->taken) < total && eddy_test_now_ms() < until) {
        struct eddy__task *got[16];
        size_t n = eddy__taskq_pop_into(&s->q, got, 1 + (a->id * 5) % 16);
        for (size_t g = 0; g < n; g++) {
            struct item *it = (struct item *)got[g];
            atomic_fetch_add(&s->seen[it - s->items], 1);
            /* each consumer sees each producer's items in push order */
            if (it->seq + 1 <= s->last_seq[a->id][it->producer])
                atomic_fetch_add(&s->order_errors, 1);
            s->last_seq[a->id][it->producer] = it->seq + 1;
            atomic_fetch_add(&s->taken, 1);
        }
    }
    return NULL;
}

static void many_producers_and_consumers_move_every_task_once_in_order(void **state)
{
    (void)state;
    struct stress s;
    memset(&s, 0, sizeof s);
    s.per_producer = eddy_test_sanitized() ? 50000 : 500000;
    size_t total = (size_t)PRODUCERS * s.per_producer;
    s.items = calloc(total, sizeof *s.items);
    s.seen = calloc(total, sizeof *s.seen);
    assert_non_null(s.items);
    assert_non_null(s.seen);
    for (unsigned p = 0; p < PRODUCERS; p++)
        for (unsigned i = 0; i < s.per_producer; i++) {
            s.items[(size_t)p * s.per_producer + i].producer = p;
            s.items[(size_t)p * s.per_producer + i].seq = i;
        }
    eddy__taskq_init(&s.q);
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    struct producer_arg pa[PRODUCERS];
    struct consumer_arg ca[CONSUMERS];
    for (unsigned i = 0; i < CONSUMERS; i++) {
        ca[i] = (struct consumer_arg){ &s, i };
        assert_int_equal(pthread_create(&ct[i], NULL, consumer, &ca[i]), 0);
    }
    for (unsigned i = 0; i < PRODUCERS; i++) {
        pa[i] = (struct producer_arg){ &s, i };
        assert_int_equal(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
    }
    for (unsigned i = 0; i < PRODUCERS; i++)
        pthread_join(pt[i], NULL);
    for (unsigned i = 0; i < CONSUMERS; i++)
        pthread_join(ct[i], NULL);
    assert_int_equal(atomic_load(&s.taken), total);
    size_t bad = 0;
    for (size_t i = 0; i < total; i++)
        if (atomic_load(&s.seen[i]) != 1)
            bad++;
    assert_int_equal(bad, 0);
    assert_int_equal(atomic_load(&s.order_errors), 0);
    assert_int_equal(eddy__taskq_len(&s.q), 0);
    eddy__taskq_destroy(&s.q);
    free(s.items);
    free(s.seen);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pops_in_push_order_singles_and_batches),
    cmocka_unit_test(many_producers_and_consumers_move_every_task_once_in_order),
};

EDDY_TEST_MAIN(tests, 120)
