/*
 * sched/hooks.c: worker hooks (sched/sched.h): work a layer above needs
 * done on one worker's thread outside any task, such as driving that
 * worker's curl multi handle. A request sets the slot's bit in the
 * worker's hooks_pending and wakes the worker if it is parked; the worker
 * loop (worker.c) runs the pending hooks between task runs, and a worker
 * standing in for a stuck one runs that one's (poll_for_stuck). The hook
 * lock makes the runs of one worker's hooks exclusive, whoever runs them.
 */
#include <errno.h>

#include "sched/sched_int.h"

int eddy__hook_install(struct eddy__sched *s, unsigned worker, unsigned slot, eddy__hook_fn fn,
                       eddy__hook_fn fini, void *arg)
{
    if (s == NULL || worker >= s->nworkers || slot >= EDDY__HOOK_SLOTS || fn == NULL ||
        arg == NULL)
        return -EINVAL;
    struct eddy__worker *w = &s->workers[worker];
    int rc = 0;
    pthread_mutex_lock(&w->hook_lock);
    if (atomic_load_explicit(&w->hooks[slot].arg, memory_order_relaxed) != NULL) {
        rc = -EBUSY;
    } else {
        w->hooks[slot].fn = fn;
        w->hooks[slot].fini = fini;
        /* release: pairs with the acquire loads of eddy__hook_arg and of a
           run, which then see fn and fini */
        atomic_store_explicit(&w->hooks[slot].arg, arg, memory_order_release);
    }
    pthread_mutex_unlock(&w->hook_lock);
    return rc;
}

void *eddy__hook_arg(struct eddy__sched *s, unsigned worker, unsigned slot)
{
    if (s == NULL || worker >= s->nworkers || slot >= EDDY__HOOK_SLOTS)
        return NULL;
    return atomic_load_explicit(&s->workers[worker].hooks[slot].arg, memory_order_acquire);
}

void eddy__hook_request(struct eddy__sched *s, unsigned worker, unsigned slot)
{
    if (s == NULL || worker >= s->nworkers || slot >= EDDY__HOOK_SLOTS)
        return;
    struct eddy__worker *w = &s->workers[worker];
    /* seq_cst: a parker checks hooks_pending after its fence and then
       CASes to PARKED, this exchanges park_state after the bit is set:
       whichever comes second sees the other (worker.c's park). release
       for the run's acquire: it sees what the requester wrote before. */
    uint32_t prev = atomic_fetch_or_explicit(&w->hooks_pending, 1u << slot, memory_order_seq_cst);
    if (prev & (1u << slot))
        return; /* a run is due already: it takes this request too */
    if (eddy__tls_worker == w)
        return; /* the loop looks at the bits before its next task or park */
    eddy__worker_unpark(w);
}

bool eddy__hooks_run(struct eddy__worker *v, bool wait_lock)
{
    if (wait_lock)
        pthread_mutex_lock(&v->hook_lock);
    else if (pthread_mutex_trylock(&v->hook_lock) != 0)
        return false;
    /* acquire: pairs with the requests' fetch_or */
    uint32_t p = atomic_exchange_explicit(&v->hooks_pending, 0, memory_order_acquire);
    for (unsigned i = 0; p != 0 && i < EDDY__HOOK_SLOTS; i++) {
        if (!(p & (1u << i)))
            continue;
        p &= ~(1u << i);
        void *arg = atomic_load_explicit(&v->hooks[i].arg, memory_order_acquire);
        if (arg != NULL)
            v->hooks[i].fn(arg);
    }
    pthread_mutex_unlock(&v->hook_lock);
    return true;
}

void eddy__hooks_fini(struct eddy__sched *s)
{
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *w = &s->workers[i];
        for (unsigned k = 0; k < EDDY__HOOK_SLOTS; k++) {
            void *arg = atomic_exchange_explicit(&w->hooks[k].arg, NULL, memory_order_acquire);
            if (arg != NULL && w->hooks[k].fini != NULL)
                w->hooks[k].fini(arg);
        }
    }
}
