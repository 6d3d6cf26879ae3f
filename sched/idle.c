/*
 * sched/idle.c: which workers sleep and which search, so that a worker is
 * woken only when there is work it could take and nobody is already looking
 * (Tokio's idle.rs; docs/design.md, "Idle workers"). At most half the workers
 * search at once. The last searcher to park re-checks every queue, which is
 * what keeps a push racing the last park from being stranded (golang#43997).
 *
 * idle_state packs the number of searching workers (low 16 bits) and of
 * unparked workers (high 16 bits); the sleepers list is behind a mutex, taken
 * only on the slow path (a worker parks or is woken).
 */
#include "sched/sched_int.h"

#if defined(EDDY_TSAN) || defined(__SANITIZE_THREAD__)
_Atomic unsigned eddy__fence_word;
#endif

#define SEARCH_MASK 0xffffu
#define UNPARK_ONE (1u << 16)

static unsigned searching(uint32_t st) { return st & SEARCH_MASK; }
static unsigned unparked(uint32_t st) { return st >> 16; }

void eddy__idle_init(struct eddy__sched *s)
{
    atomic_init(&s->idle_state, (uint32_t)s->nworkers * UNPARK_ONE);
    pthread_mutex_init(&s->sleepers_lock, NULL);
    s->nsleepers = 0;
}

void eddy__idle_notify_one(struct eddy__sched *s)
{
    /* seq_cst: orders the caller's queue push before this load, against the
       parker's seq_cst update in eddy__idle_to_parked and its re-check */
    uint32_t st = atomic_load_explicit(&s->idle_state, memory_order_seq_cst);
    if (searching(st) != 0 || unparked(st) >= s->nworkers)
        return;
    pthread_mutex_lock(&s->sleepers_lock);
    st = atomic_load_explicit(&s->idle_state, memory_order_seq_cst);
    if (searching(st) != 0 || s->nsleepers == 0) {
        pthread_mutex_unlock(&s->sleepers_lock);
        return;
    }
    unsigned idx = s->sleepers[--s->nsleepers];
    /* the woken worker starts out searching */
    atomic_fetch_add_explicit(&s->idle_state, 1 + UNPARK_ONE, memory_order_seq_cst);
    pthread_mutex_unlock(&s->sleepers_lock);
    eddy__worker_unpark(&s->workers[idx]);
}

void eddy__idle_notify_remote(struct eddy__sched *s)
{
    /* seq_cst fence: orders the caller's queue push (a store) before the
       idle_state load (Dekker with the parker's fetch_sub and re-check of
       the queues in worker.c park()). Local pushes skip it: the parker's
       bounded watch timeout backs them up instead of a fence per spawn. */
    EDDY__FENCE_SEQ_CST();
    eddy__idle_notify_one(s);
}

bool eddy__idle_to_searching(struct eddy__sched *s)
{
    uint32_t st = atomic_load_explicit(&s->idle_state, memory_order_seq_cst);
    if (2 * searching(st) >= s->nworkers)
        return false;
    atomic_fetch_add_explicit(&s->idle_state, 1, memory_order_seq_cst);
    return true;
}

bool eddy__idle_from_searching(struct eddy__sched *s)
{
    uint32_t prev = atomic_fetch_sub_explicit(&s->idle_state, 1, memory_order_seq_cst);
    return searching(prev) == 1;
}

bool eddy__idle_to_parked(struct eddy__sched *s, unsigned index, bool is_searching)
{
    pthread_mutex_lock(&s->sleepers_lock);
    uint32_t dec = UNPARK_ONE + (is_searching ? 1u : 0u);
    uint32_t prev = atomic_fetch_sub_explicit(&s->idle_state, dec, memory_order_seq_cst);
    s->sleepers[s->nsleepers++] = index;
    pthread_mutex_unlock(&s->sleepers_lock);
    return is_searching && searching(prev) == 1;
}

bool eddy__idle_from_parked(struct eddy__sched *s, unsigned index)
{
    pthread_mutex_lock(&s->sleepers_lock);
    for (unsigned i = 0; i < s->nsleepers; i++) {
        if (s->sleepers[i] == index) {
            /* woken by its own driver (timer, I/O, direct unpark): still
               listed, so nobody counted it back in */
            s->sleepers[i] = s->sleepers[--s->nsleepers];
            atomic_fetch_add_explicit(&s->idle_state, UNPARK_ONE, memory_order_seq_cst);
            pthread_mutex_unlock(&s->sleepers_lock);
            return false;
        }
    }
    pthread_mutex_unlock(&s->sleepers_lock);
    return true; /* a notifier took it off the list and counted it searching */
}

bool eddy__idle_others_busy(struct eddy__sched *s)
{
    /* called by a worker about to park, already counted out */
    return unparked(atomic_load_explicit(&s->idle_state, memory_order_relaxed)) > 0;
}

void eddy__idle_nudge_watcher(struct eddy__sched *s)
{
    /* Wakes one parked worker when nobody keeps watch: it finds nothing to
       steal yet and parks again with the watch timeout, since this worker
       is busy. One wake per idle -> busy transition, not per push. */
    uint32_t st = atomic_load_explicit(&s->idle_state, memory_order_relaxed);
    if (unparked(st) >= s->nworkers)
        return; /* nobody parked: the others will park with the watch */
    eddy__idle_notify_one(s);
}
