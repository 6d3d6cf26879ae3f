/*
 * tests/sched/test_timer.c: the timing wheel (sched/timer.c) on its own:
 * exact firing at the deadline, cancel, past deadlines, every level and
 * beyond the wheel's range, big and irregular advance steps, next_expiry's
 * bound, and a fixed-seed random run with 100k timers.
 */
#include "tests/helpers.h"

#include "sched/timer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

#define MS_PER_DAY ((uint64_t)24 * 60 * 60 * 1000)

struct ttimer {
    struct eddy__timer t;
    unsigned fires;
    bool cancelled;  /* cancel returned true: must never fire */
    uint64_t fired_at; /* the now_ms of the advance that fired it */
};

/* What on_fire checks against; set by advance_to(). */
static struct {
    const struct eddy__wheel *w;
    uint64_t now;           /* now_ms of the advance in progress */
    uint64_t last_deadline; /* deadline of the last timer fired */
    bool any_order;         /* late timers (the expired list) fire in any order */
    size_t fired;
} g;

static void on_fire(struct eddy__timer *t)
{
    struct ttimer *x = container_of(t, struct ttimer, t);

    assert_null(t->armed_in);
    assert_null(t->next);
    assert_null(t->prev);
    assert_false(x->cancelled);
    if (t->deadline_ms > g.now)
        fail_msg("fired early: deadline %llu, now %llu", (unsigned long long)t->deadline_ms,
                 (unsigned long long)g.now);
    if (!g.any_order && t->deadline_ms < g.last_deadline)
        fail_msg("out of order: deadline %llu after %llu", (unsigned long long)t->deadline_ms,
                 (unsigned long long)g.last_deadline);
    g.last_deadline = t->deadline_ms;
    x->fires++;
    x->fired_at = g.now;
    g.fired++;
}

static void wheel_start(struct eddy__wheel *w, uint64_t now)
{
    eddy__wheel_init(w, now);
    memset(&g, 0, sizeof g);
    g.w = w;
    g.now = now;
}

static void ttimer_init(struct ttimer *x)
{
    memset(x, 0, sizeof *x);
    x->t.fire = on_fire;
}

/* Advances w to now, checking the return value against the fires seen. */
static size_t advance_to(struct eddy__wheel *w, uint64_t now)
{
    size_t before = g.fired;
    if (now > g.now)
        g.now = now;
    size_t n = eddy__wheel_advance(w, now);
    assert_int_equal(n, g.fired - before);
    return n;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* A step of 1 ms up to 2^max_bits ms, spread over the powers of two. */
static uint64_t irregular_step(uint64_t *rng, unsigned max_bits)
{
    unsigned bits = (unsigned)(xorshift64(rng) % (max_bits + 1));
    return 1 + xorshift64(rng) % ((uint64_t)1 << bits);
}

static void timer_fires_at_its_deadline_not_before(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer a;
    const uint64_t start = 1000003;

    wheel_start(&w, start);
    ttimer_init(&a);
    eddy__wheel_insert(&w, &a.t, start + 200);
    assert_ptr_equal(a.t.armed_in, &w);
    assert_int_equal(w.count, 1);
    for (uint64_t now = start + 1; now < start + 200; now++) {
        assert_int_equal(advance_to(&w, now), 0);
        assert_int_equal(a.fires, 0);
    }
    assert_int_equal(advance_to(&w, start + 200), 1);
    assert_int_equal(a.fires, 1);
    assert_int_equal(a.fired_at, start + 200);
    assert_null(a.t.armed_in);
    assert_int_equal(w.count, 0);
    assert_int_equal(advance_to(&w, start + 10000), 0);
    assert_int_equal(a.fires, 1);
}

static void cancel_before_fire_prevents_it_and_returns_true(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer a;

    wheel_start(&w, 0);
    ttimer_init(&a);
    eddy__wheel_insert(&w, &a.t, 100);
    advance_to(&w, 50);
    assert_true(eddy__wheel_cancel(&w, &a.t));
    a.cancelled = true;
    assert_null(a.t.armed_in);
    assert_int_equal(w.count, 0);
    assert_true(eddy__wheel_next_expiry(&w) == UINT64_MAX);
    assert_false(eddy__wheel_cancel(&w, &a.t));
    assert_int_equal(advance_to(&w, 1000), 0);
    assert_int_equal(a.fires, 0);
}

static void cancel_after_fire_returns_false(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer a;

    wheel_start(&w, 0);
    ttimer_init(&a);
    eddy__wheel_insert(&w, &a.t, 100);
    assert_int_equal(advance_to(&w, 100), 1);
    assert_false(eddy__wheel_cancel(&w, &a.t));
    assert_int_equal(w.count, 0);
}

static void cancel_of_a_timer_not_armed_in_that_wheel_returns_false(void **state)
{
    (void)state;
    struct eddy__wheel w, other;
    struct ttimer a, never;

    wheel_start(&w, 0);
    eddy__wheel_init(&other, 0);
    ttimer_init(&a);
    ttimer_init(&never);
    assert_false(eddy__wheel_cancel(&w, &never.t));
    eddy__wheel_insert(&w, &a.t, 10);
    assert_false(eddy__wheel_cancel(&other, &a.t));
    assert_int_equal(other.count, 0);
    assert_ptr_equal(a.t.armed_in, &w);
    assert_int_equal(advance_to(&w, 10), 1);
}

static void cancel_keeps_the_other_timers_of_the_same_slot(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer x[5];

    wheel_start(&w, 0);
    /* Same deadline, same slot: the list is x4 x3 x2 x1 x0. */
    for (int i = 0; i < 5; i++) {
        ttimer_init(&x[i]);
        eddy__wheel_insert(&w, &x[i].t, 5000);
    }
    const int cut[] = {2, 4, 0}; /* middle, head, tail */
    for (size_t i = 0; i < 3; i++) {
        assert_true(eddy__wheel_cancel(&w, &x[cut[i]].t));
        x[cut[i]].cancelled = true;
    }
    assert_int_equal(w.count, 2);
    assert_int_equal(advance_to(&w, 4999), 0);
    assert_int_equal(advance_to(&w, 5000), 2);
    assert_int_equal(x[1].fires, 1);
    assert_int_equal(x[3].fires, 1);
    assert_true(eddy__wheel_next_expiry(&w) == UINT64_MAX);
}

static void deadline_in_the_past_fires_on_next_advance(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer past, now_due, later;

    wheel_start(&w, 5000);
    ttimer_init(&past);
    ttimer_init(&now_due);
    ttimer_init(&later);
    eddy__wheel_insert(&w, &later.t, 5001);
    eddy__wheel_insert(&w, &past.t, 10);
    eddy__wheel_insert(&w, &now_due.t, 5000);
    assert_int_equal(w.count, 3);
    assert_int_equal(eddy__wheel_next_expiry(&w), 5000); /* due now */
    g.any_order = true;
    assert_int_equal(advance_to(&w, 5000), 2);
    g.any_order = false;
    assert_int_equal(past.fires, 1);
    assert_int_equal(now_due.fires, 1);
    assert_int_equal(later.fires, 0);
    assert_int_equal(eddy__wheel_next_expiry(&w), 5001);
    assert_int_equal(advance_to(&w, 5001), 1);
    assert_int_equal(w.count, 0);
}

/* A timer whose callback only counts: the wheel's time, not now_ms, rules. */
static unsigned plain_fires;

static void count_fire(struct eddy__timer *t)
{
    assert_null(t->armed_in);
    plain_fires++;
}

static void advance_backwards_fires_only_the_expired_list(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct eddy__timer due = {.fire = count_fire}, soon = {.fire = count_fire};

    eddy__wheel_init(&w, 1000);
    plain_fires = 0;
    eddy__wheel_insert(&w, &due, 900);
    eddy__wheel_insert(&w, &soon, 1001);
    assert_int_equal(eddy__wheel_advance(&w, 10), 1);
    assert_int_equal(plain_fires, 1);
    assert_int_equal(w.elapsed_ms, 1000); /* never backwards */
    assert_int_equal(eddy__wheel_advance(&w, 999), 0);
    assert_int_equal(eddy__wheel_advance(&w, 1001), 1);
    assert_int_equal(plain_fires, 2);
}

/* One timer per level, and two past the wheel's 2^36 ms range. */
static const uint64_t level_offsets[] = {
    5, 70, 5000, 300000, 20000000, (uint64_t)1 << 35, ((uint64_t)1 << 36) + 12345,
    ((uint64_t)1 << 38) + 777,
};
#define N_LEVEL_TIMERS (sizeof level_offsets / sizeof level_offsets[0])
static const uint64_t starts[] = {0, 987654321, 0x7fffffffffULL};

/* Fails unless exactly the timers with deadline <= now have fired, once. */
static void assert_fired_exactly_up_to(const struct ttimer *x, size_t n, uint64_t now)
{
    for (size_t i = 0; i < n; i++) {
        unsigned want = x[i].t.deadline_ms <= now;
        if (x[i].fires != want)
            fail_msg("timer %zu (deadline %llu) fired %u times at now %llu", i,
                     (unsigned long long)x[i].t.deadline_ms, x[i].fires,
                     (unsigned long long)now);
    }
}

static void arm_level_timers(struct eddy__wheel *w, struct ttimer *x, uint64_t start)
{
    wheel_start(w, start);
    for (size_t i = 0; i < N_LEVEL_TIMERS; i++) {
        ttimer_init(&x[i]);
        eddy__wheel_insert(w, &x[i].t, start + level_offsets[i]);
    }
}

static void timers_in_every_level_fire_at_their_deadline_in_big_steps(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer x[N_LEVEL_TIMERS];

    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        /* Jump straight to a ms before each deadline, then onto it. */
        arm_level_timers(&w, x, starts[s]);
        for (size_t i = 0; i < N_LEVEL_TIMERS; i++) {
            uint64_t d = starts[s] + level_offsets[i];
            assert_int_equal(advance_to(&w, d - 1), 0);
            assert_fired_exactly_up_to(x, N_LEVEL_TIMERS, d - 1);
            assert_int_equal(advance_to(&w, d), 1);
            assert_int_equal(x[i].fired_at, d);
        }
        assert_int_equal(w.count, 0);

        /* All of them in one call, in deadline order (on_fire checks). */
        arm_level_timers(&w, x, starts[s]);
        uint64_t last = starts[s] + level_offsets[N_LEVEL_TIMERS - 1];
        assert_int_equal(advance_to(&w, last), N_LEVEL_TIMERS);
        assert_int_equal(w.count, 0);

        /* Fixed big steps (a prime number of ms) over the first six. */
        arm_level_timers(&w, x, starts[s]);
        const uint64_t step = 1000003;
        uint64_t end = starts[s] + level_offsets[5] + step;
        for (uint64_t now = starts[s] + step; now <= end; now += step) {
            advance_to(&w, now);
            assert_fired_exactly_up_to(x, N_LEVEL_TIMERS, now);
        }
    }
}

static void timers_in_every_level_fire_at_their_deadline_in_irregular_steps(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer x[N_LEVEL_TIMERS];
    uint64_t rng = 0x9e3779b97f4a7c15ULL;

    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        arm_level_timers(&w, x, starts[s]);
        uint64_t now = starts[s];
        size_t next = 0; /* next deadline not yet passed */
        while (w.count > 0) {
            /* Irregular steps, but land on d - 1 and d for each deadline d. */
            uint64_t target = now + irregular_step(&rng, 31);
            uint64_t d = starts[s] + level_offsets[next];
            if (now < d - 1 && target >= d - 1)
                target = d - 1;
            else if (now == d - 1)
                target = d;
            advance_to(&w, target);
            now = target;
            assert_fired_exactly_up_to(x, N_LEVEL_TIMERS, now);
            while (next < N_LEVEL_TIMERS && starts[s] + level_offsets[next] <= now)
                next++;
        }
        for (size_t i = 0; i < N_LEVEL_TIMERS; i++)
            assert_int_equal(x[i].fired_at, x[i].t.deadline_ms);
    }
}

static void next_expiry_is_uint64_max_when_empty(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer a;

    wheel_start(&w, 42);
    assert_true(eddy__wheel_next_expiry(&w) == UINT64_MAX);
    ttimer_init(&a);
    eddy__wheel_insert(&w, &a.t, 1000000);
    assert_true(eddy__wheel_next_expiry(&w) <= 1000000);
    assert_true(eddy__wheel_cancel(&w, &a.t));
    assert_true(eddy__wheel_next_expiry(&w) == UINT64_MAX);
    assert_int_equal(advance_to(&w, 1ULL << 40), 0);
    assert_true(eddy__wheel_next_expiry(&w) == UINT64_MAX);
}

/*
 * Hopping from next_expiry to next_expiry reaches any deadline, never past
 * it, in a few hops (one per level it cascades through), and the last hop
 * is the deadline itself: the level-0 answer is exact.
 */
static void next_expiry_reaches_a_deadline_in_one_hop_per_level(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer a;
    uint64_t rng = 12345;

    for (int round = 0; round < 2000; round++) {
        uint64_t start = xorshift64(&rng) % (1ULL << 40);
        uint64_t d = start + irregular_step(&rng, 35);
        wheel_start(&w, start);
        ttimer_init(&a);
        eddy__wheel_insert(&w, &a.t, d);
        unsigned hops = 0;
        while (a.fires == 0) {
            uint64_t ne = eddy__wheel_next_expiry(&w);
            assert_true(ne <= d);
            assert_true(ne > w.elapsed_ms);
            if (a.t.level == 0) /* level 0 is exact */
                assert_int_equal(ne, d);
            advance_to(&w, ne);
            hops++;
        }
        assert_int_equal(a.fired_at, d);
        assert_true(hops <= EDDY__WHEEL_LEVELS);
    }
}

static void advancing_over_a_long_empty_span_is_cheap(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer month, years[1000];
    const uint64_t start = 1700000000000ULL; /* an epoch-like clock */

    wheel_start(&w, start);
    ttimer_init(&month);
    eddy__wheel_insert(&w, &month.t, start + 30 * MS_PER_DAY);
    assert_int_equal(advance_to(&w, start + 30 * MS_PER_DAY - 1), 0);
    assert_int_equal(advance_to(&w, start + 30 * MS_PER_DAY), 1);
    assert_int_equal(month.fired_at, start + 30 * MS_PER_DAY);

    /* 1000 timers a day apart, past the wheel's range, in one call. */
    uint64_t now = w.elapsed_ms;
    for (size_t i = 0; i < 1000; i++) {
        ttimer_init(&years[i]);
        eddy__wheel_insert(&w, &years[i].t, now + (i + 1) * MS_PER_DAY + i);
    }
    assert_int_equal(advance_to(&w, now + 1001 * MS_PER_DAY), 1000);
    assert_int_equal(w.count, 0);
}

static void deadline_of_uint64_max_never_fires_and_can_be_cancelled(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer forever;

    wheel_start(&w, 5);
    ttimer_init(&forever);
    eddy__wheel_insert(&w, &forever.t, UINT64_MAX);
    uint64_t ne = eddy__wheel_next_expiry(&w);
    assert_true(ne > 5 && ne < UINT64_MAX);
    /* Re-cascades once per 2^36 ms, and stays armed. */
    assert_int_equal(advance_to(&w, 1ULL << 42), 0);
    assert_int_equal(forever.fires, 0);
    assert_ptr_equal(forever.t.armed_in, &w);
    assert_true(eddy__wheel_next_expiry(&w) > (1ULL << 42));
    assert_true(eddy__wheel_cancel(&w, &forever.t));
    assert_true(eddy__wheel_next_expiry(&w) == UINT64_MAX);
}

static void timer_can_be_inserted_again_after_it_fired_or_was_cancelled(void **state)
{
    (void)state;
    struct eddy__wheel w;
    struct ttimer a;

    wheel_start(&w, 0);
    ttimer_init(&a);
    eddy__wheel_insert(&w, &a.t, 10);
    assert_int_equal(advance_to(&w, 10), 1);
    eddy__wheel_insert(&w, &a.t, 5000);
    assert_int_equal(w.count, 1);
    assert_int_equal(advance_to(&w, 4999), 0);
    assert_int_equal(advance_to(&w, 5000), 1);
    assert_int_equal(a.fires, 2);
    eddy__wheel_insert(&w, &a.t, 9000);
    assert_true(eddy__wheel_cancel(&w, &a.t));
    eddy__wheel_insert(&w, &a.t, 6000);
    assert_int_equal(advance_to(&w, 10000), 1);
    assert_int_equal(a.fires, 3);
    assert_int_equal(a.fired_at, 10000);
    assert_int_equal(w.count, 0);
}

/* --- the random run --- */

#define N_RANDOM 100000

static struct ttimer *rnd;
static uint32_t *by_deadline; /* indexes into rnd, sorted by deadline */

struct planned_cancel {
    uint64_t at; /* cancel once the wheel's time reaches this */
    uint32_t i;
};

static int cmp_deadline(const void *a, const void *b)
{
    uint64_t da = rnd[*(const uint32_t *)a].t.deadline_ms;
    uint64_t db = rnd[*(const uint32_t *)b].t.deadline_ms;
    return (da > db) - (da < db);
}

static int cmp_cancel_at(const void *a, const void *b)
{
    uint64_t da = ((const struct planned_cancel *)a)->at;
    uint64_t db = ((const struct planned_cancel *)b)->at;
    return (da > db) - (da < db);
}

static bool armed(const struct ttimer *x)
{
    return x->fires == 0 && !x->cancelled;
}

static void random_timers_fire_once_in_order_and_cancelled_ones_never(void **state)
{
    (void)state;
    struct eddy__wheel w;
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    const uint64_t start = 0x123456789ULL;
    struct planned_cancel *plan = calloc(N_RANDOM, sizeof *plan);
    size_t n_plan = 0, cancelled = 0, late_cancels = 0;

    rnd = calloc(N_RANDOM, sizeof *rnd);
    by_deadline = calloc(N_RANDOM, sizeof *by_deadline);
    assert_non_null(rnd);
    assert_non_null(by_deadline);
    assert_non_null(plan);
    wheel_start(&w, start);

    /* Deadlines spread over the levels; one in 64 past the wheel's range. */
    for (uint32_t i = 0; i < N_RANDOM; i++) {
        unsigned max_bits = xorshift64(&rng) % 64 == 0 ? 38 : 35;
        ttimer_init(&rnd[i]);
        eddy__wheel_insert(&w, &rnd[i].t, start + irregular_step(&rng, max_bits));
        by_deadline[i] = i;
    }
    assert_int_equal(w.count, N_RANDOM);
    qsort(by_deadline, N_RANDOM, sizeof *by_deadline, cmp_deadline);

    /*
     * A third is cancelled: a quarter of those at once, the rest at a random
     * time up to 5/4 of the way to their deadline (so some cancels come too
     * late and must return false).
     */
    for (uint32_t i = 0; i < N_RANDOM; i++) {
        if (xorshift64(&rng) % 3 != 0)
            continue;
        if (xorshift64(&rng) % 4 == 0) {
            assert_true(eddy__wheel_cancel(&w, &rnd[i].t));
            rnd[i].cancelled = true;
            cancelled++;
            continue;
        }
        uint64_t span = rnd[i].t.deadline_ms - start;
        plan[n_plan].at = start + xorshift64(&rng) % (span + span / 4 + 1);
        plan[n_plan].i = i;
        n_plan++;
    }
    qsort(plan, n_plan, sizeof *plan, cmp_cancel_at);
    assert_int_equal(w.count, N_RANDOM - cancelled);

    size_t first = 0;     /* in by_deadline: the earliest timer still armed */
    size_t next_plan = 0; /* in plan: the next cancel to do */
    uint64_t now = start;
    while (w.count > 0) {
        while (next_plan < n_plan && plan[next_plan].at <= now) {
            struct ttimer *x = &rnd[plan[next_plan++].i];
            bool was_armed = x->fires == 0;
            assert_int_equal(eddy__wheel_cancel(&w, &x->t), was_armed);
            x->cancelled = was_armed;
            cancelled += was_armed;
            late_cancels += !was_armed;
        }
        if (w.count == 0)
            break;

        while (first < N_RANDOM && !armed(&rnd[by_deadline[first]]))
            first++;
        assert_true(first < N_RANDOM);
        uint64_t earliest = rnd[by_deadline[first]].t.deadline_ms;
        uint64_t ne = eddy__wheel_next_expiry(&w);
        if (ne > earliest)
            fail_msg("next_expiry %llu after the earliest deadline %llu",
                     (unsigned long long)ne, (unsigned long long)earliest);
        assert_true(ne > w.elapsed_ms);

        uint64_t target;
        switch (xorshift64(&rng) % 8) {
        case 0:
        case 1:
        case 2: /* what a worker would do: sleep until next_expiry */
            target = ne;
            break;
        case 3:
        case 4:
            target = now + irregular_step(&rng, 6);
            break;
        case 5: /* a big jump, over many deadlines */
            target = now + irregular_step(&rng, 30);
            break;
        default: /* a ms before the next deadline, or onto it */
            target = earliest - 1 > now ? earliest - 1 : earliest;
            break;
        }
        if (next_plan < n_plan && plan[next_plan].at > now && plan[next_plan].at < target)
            target = plan[next_plan].at; /* stop there to cancel on time */
        advance_to(&w, target);
        now = target;

        /* Nothing due is left armed. */
        while (first < N_RANDOM && !armed(&rnd[by_deadline[first]]))
            first++;
        if (first < N_RANDOM)
            assert_true(rnd[by_deadline[first]].t.deadline_ms > now);
    }

    assert_int_equal(w.count, 0);
    assert_true(eddy__wheel_next_expiry(&w) == UINT64_MAX);
    size_t fired = 0;
    for (uint32_t i = 0; i < N_RANDOM; i++) {
        assert_int_equal(rnd[i].fires, rnd[i].cancelled ? 0 : 1);
        assert_null(rnd[i].t.armed_in);
        fired += rnd[i].fires;
    }
    assert_int_equal(fired, g.fired);
    assert_int_equal(fired + cancelled, N_RANDOM);
    /* The seed gives both kinds of cancel, and about a third of the timers. */
    assert_true(late_cancels > 0);
    assert_true(cancelled > N_RANDOM / 4);
    free(plan);
    free(by_deadline);
    free(rnd);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(timer_fires_at_its_deadline_not_before),
    cmocka_unit_test(cancel_before_fire_prevents_it_and_returns_true),
    cmocka_unit_test(cancel_after_fire_returns_false),
    cmocka_unit_test(cancel_of_a_timer_not_armed_in_that_wheel_returns_false),
    cmocka_unit_test(cancel_keeps_the_other_timers_of_the_same_slot),
    cmocka_unit_test(deadline_in_the_past_fires_on_next_advance),
    cmocka_unit_test(advance_backwards_fires_only_the_expired_list),
    cmocka_unit_test(timers_in_every_level_fire_at_their_deadline_in_big_steps),
    cmocka_unit_test(timers_in_every_level_fire_at_their_deadline_in_irregular_steps),
    cmocka_unit_test(next_expiry_is_uint64_max_when_empty),
    cmocka_unit_test(next_expiry_reaches_a_deadline_in_one_hop_per_level),
    cmocka_unit_test(advancing_over_a_long_empty_span_is_cheap),
    cmocka_unit_test(deadline_of_uint64_max_never_fires_and_can_be_cancelled),
    cmocka_unit_test(timer_can_be_inserted_again_after_it_fired_or_was_cancelled),
    cmocka_unit_test(random_timers_fire_once_in_order_and_cancelled_ones_never),
};

EDDY_TEST_MAIN(tests, 120)
