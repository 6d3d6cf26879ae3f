/*
 * http/curl_multi.c: one curl multi handle per worker, driven by that
 * worker's reactor and timer wheel through a worker hook (sched/sched.h).
 *
 * Everything that calls libcurl runs in the hook: adding and removing easy
 * handles, curl_multi_socket_action for sockets the reactor found ready and
 * for curl's timeout, and draining curl_multi_info_read after each action.
 * Tasks only queue work for it (submit, cancel) and wait. curl's callbacks
 * therefore run inside the hook's curl calls, never call libcurl back
 * (curl 7.88 refuses that: CURLM_RECURSIVE_API_CALL), and only record:
 * a socket's interest goes to the reactor as a level-triggered watch
 * (eddy__fd_watch: curl does not work with edges), a timeout arms this
 * multi's timer (0 means "now": a flag the hook's loop picks up, no
 * syscall). The wake-ups of finished transfers' tasks come after the curl
 * calls return. The hook runs on the multi's worker, or on a worker
 * standing in for it while it is stuck in one long task (then on that
 * worker's thread, never at the same time as the owner: libcurl allows a
 * handle to move between threads, not to be used by two at once).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <eddy/io.h>

#include "http/http_int.h"
#include "sched/alloc.h"

/* Rounds of one hook run before it yields the worker to its tasks (and
   asks to run again). */
#define HOOK_ROUNDS 16

/* A socket curl told us about. */
struct curl_sock {
    int fd;
    struct eddy__curlm *m;
    _Atomic int ready;           /* any thread (atomic): EDDY_READABLE|WRITABLE|
                                    EDDY__HANGUP seen, not yet given to curl */
    bool queued;                 /* guarded by: m->lock; in a ready list */
    bool dead;                   /* guarded by: m->lock; curl dropped it while
                                    queued: freed when taken off the list */
    struct curl_sock *next_ready; /* guarded by: m->lock */
    /* hook only: a socket whose close eddy sees (opened through
       eddy__curl_open_socket) keeps its watch across curl's REMOVE, so a
       kept-alive connection's next transfer costs no epoll_ctl */
    bool watched;                /* a watch with `events` is in place */
    bool removed;                /* curl said REMOVE; the watch was kept */
    int events;
};

struct map_slot {
    CURL *easy;
    struct eddy__xfer *x;
};

struct eddy__curlm {
    struct eddy__sched *s;        /* immutable */
    unsigned worker;              /* immutable */
    pthread_mutex_t lock;
    struct eddy__xfer *add_head, *add_tail; /* guarded by: lock */
    struct eddy__xfer *cancel_head;         /* guarded by: lock */
    struct curl_sock *ready_head;           /* guarded by: lock */
    _Atomic bool timer_fired;     /* any thread: set by the timer */
    /* owner: the hook's runs (exclusive by the hook lock) */
    pthread_t runner;             /* the thread in the hook (debug checks) */
    bool in_hook;
    CURLM *multi;
    struct eddy__timer timer;
    bool timer_armed, timeout_now, closing;
    long maxconnects;
    struct map_slot *map;         /* easy -> transfer, open addressing */
    size_t map_cap, map_len;
    struct curl_sock **by_fd;     /* fd -> the socket curl announced */
    size_t by_fd_len;
};

static void release_sock(struct eddy__curlm *m, struct curl_sock *sk);

/* The multi whose hook runs on this thread (curl's close-socket callback
   runs inside it). */
static _Thread_local struct eddy__curlm *tls_hook_multi;

/* ------------------------------------ sockets whose close eddy sees */

/* fds opened by eddy__curl_open_socket and not yet closed by
   eddy__curl_close_socket: for these curl's REMOVE keeps the watch (the
   close, which must drop it, comes to us). A byte each, grown under a
   lock; old arrays are kept (a reader may hold one). */
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint8_t *_Atomic known;
static _Atomic size_t known_len;

static bool close_known(int fd)
{
    size_t n = atomic_load_explicit(&known_len, memory_order_acquire);
    _Atomic uint8_t *k = atomic_load_explicit(&known, memory_order_acquire);
    return (size_t)fd < n && atomic_load_explicit(&k[fd], memory_order_relaxed) != 0;
}

static void set_known(int fd, uint8_t v)
{
    if ((size_t)fd >= atomic_load_explicit(&known_len, memory_order_acquire)) {
        if (v == 0)
            return;
        pthread_mutex_lock(&known_lock);
        size_t n = atomic_load_explicit(&known_len, memory_order_relaxed);
        if ((size_t)fd >= n) {
            size_t nn = n ? n : 1024;
            while (nn <= (size_t)fd)
                nn *= 2;
            _Atomic uint8_t *k = eddy__calloc(nn);
            if (k == NULL) {
                pthread_mutex_unlock(&known_lock);
                return; /* not known: the safe, eager way */
            }
            _Atomic uint8_t *old = atomic_load_explicit(&known, memory_order_relaxed);
            for (size_t i = 0; i < n; i++)
                atomic_init(&k[i], atomic_load_explicit(&old[i], memory_order_relaxed));
            atomic_store_explicit(&known, k, memory_order_release);
            atomic_store_explicit(&known_len, nn, memory_order_release);
        }
        pthread_mutex_unlock(&known_lock);
    }
    atomic_store_explicit(&atomic_load_explicit(&known, memory_order_acquire)[fd], v,
                          memory_order_relaxed);
}

curl_socket_t eddy__curl_open_socket(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *addr)
{
    (void)clientp;
    (void)purpose;
    int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd >= 0) {
        eddy__fd_fresh(fd);
        set_known(fd, 1);
    }
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

int eddy__curl_close_socket(void *clientp, curl_socket_t fd)
{
    (void)clientp;
    set_known(fd, 0);
    /* eddy_close drops the watch (after it on_ready is not running) and
       the registration, then closes */
    int rc = eddy_close(fd);
    struct eddy__curlm *m = tls_hook_multi;
    if (m != NULL && (size_t)fd < m->by_fd_len && m->by_fd[fd] != NULL) {
        struct curl_sock *sk = m->by_fd[fd];
        m->by_fd[fd] = NULL;
        release_sock(m, sk);
    }
    return rc < 0 ? 1 : 0;
}

/* Calls to libcurl that did not return CURLM_OK (tests assert none). */
static _Atomic unsigned long bad_mcodes;

unsigned long eddy__curlm_bad_codes(void)
{
    return atomic_load(&bad_mcodes);
}

/* Every libcurl call on a multi, and every callback it makes, happens in
   that multi's hook, on the one thread running it (debug builds check). */
#define ASSERT_IN_HOOK(m) assert((m)->in_hook && pthread_equal((m)->runner, pthread_self()))

static void check_mcode(CURLMcode mc)
{
    if (mc != CURLM_OK)
        atomic_fetch_add_explicit(&bad_mcodes, 1, memory_order_relaxed);
}

/* ------------------------------------------------------ easy -> transfer */

static size_t map_hash(const CURL *e, size_t cap)
{
    uint64_t k = (uint64_t)(uintptr_t)e;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdu;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static bool map_grow(struct eddy__curlm *m)
{
    size_t cap = m->map_cap ? m->map_cap * 2 : 64;
    struct map_slot *n = eddy__calloc(cap * sizeof *n);
    if (n == NULL)
        return false;
    for (size_t i = 0; i < m->map_cap; i++) {
        if (m->map[i].easy == NULL)
            continue;
        size_t j = map_hash(m->map[i].easy, cap);
        while (n[j].easy != NULL)
            j = (j + 1) & (cap - 1);
        n[j] = m->map[i];
    }
    eddy__dealloc(m->map, m->map_cap * sizeof *m->map);
    m->map = n;
    m->map_cap = cap;
    return true;
}

static bool map_put(struct eddy__curlm *m, CURL *e, struct eddy__xfer *x)
{
    if ((m->map_len + 1) * 2 > m->map_cap && !map_grow(m))
        return false;
    size_t i = map_hash(e, m->map_cap);
    while (m->map[i].easy != NULL)
        i = (i + 1) & (m->map_cap - 1);
    m->map[i] = (struct map_slot){ e, x };
    m->map_len++;
    return true;
}

/* Removes e's entry and returns its transfer (NULL if none). */
static struct eddy__xfer *map_take(struct eddy__curlm *m, CURL *e)
{
    if (m->map_cap == 0)
        return NULL;
    size_t i = map_hash(e, m->map_cap);
    while (m->map[i].easy != NULL && m->map[i].easy != e)
        i = (i + 1) & (m->map_cap - 1);
    if (m->map[i].easy == NULL)
        return NULL;
    struct eddy__xfer *x = m->map[i].x;
    m->map[i].easy = NULL;
    m->map_len--;
    /* backward shift: later entries of the run move up into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & (m->map_cap - 1); m->map[j].easy != NULL;
         j = (j + 1) & (m->map_cap - 1)) {
        size_t home = map_hash(m->map[j].easy, m->map_cap);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->map[hole] = m->map[j];
            m->map[j].easy = NULL;
            hole = j;
        }
    }
    return x;
}

/* ------------------------------------------------------------- finishing */

/* Gives x its final state and wakes its task. After the store the task
   may return and x is gone: the waiter is held by a reference meanwhile. */
static void finish(struct eddy__curlm *m, struct eddy__xfer *x, int state, CURLcode res)
{
    struct eddy__task *t = x->waiter;
    eddy__task_ref(t);
    x->result = res;
    pthread_mutex_lock(&m->lock);
    if (x->in_cancel) { /* a cancel came too late: out of the list first */
        struct eddy__xfer **pp = &m->cancel_head;
        while (*pp != x)
            pp = &(*pp)->next_cancel;
        *pp = x->next_cancel;
        x->in_cancel = false;
    }
    /* release: pairs with the waiter's acquire load; it then sees result */
    atomic_store_explicit(&x->state, state, memory_order_release);
    pthread_mutex_unlock(&m->lock);
    eddy__wake(t);
    eddy__task_unref(t);
}

/* -------------------------------------------------------------- sockets */

static void release_sock(struct eddy__curlm *m, struct curl_sock *sk)
{
    pthread_mutex_lock(&m->lock);
    bool queued = sk->queued;
    if (queued)
        sk->dead = true; /* the hook frees it when it takes it off the list */
    pthread_mutex_unlock(&m->lock);
    if (!queued)
        eddy__dealloc(sk, sizeof *sk);
}

/* The reactor saw sk's fd ready (any worker's thread, under the fd's
   lock): record it and ask for the hook. */
static void on_ready(void *arg, int fd, int events)
{
    struct curl_sock *sk = arg;
    struct eddy__curlm *m = sk->m;
    (void)fd;
    atomic_fetch_or_explicit(&sk->ready, events, memory_order_relaxed);
    pthread_mutex_lock(&m->lock);
    if (!sk->queued && !sk->dead) {
        sk->queued = true;
        sk->next_ready = m->ready_head;
        m->ready_head = sk;
    }
    pthread_mutex_unlock(&m->lock);
    eddy__hook_request(m->s, m->worker, EDDY__HOOK_CURL);
}

static bool by_fd_fit(struct eddy__curlm *m, int fd)
{
    if ((size_t)fd < m->by_fd_len)
        return true;
    size_t n = m->by_fd_len ? m->by_fd_len : 64;
    while (n <= (size_t)fd)
        n *= 2;
    struct curl_sock **b = eddy__realloc(m->by_fd, m->by_fd_len * sizeof *b, n * sizeof *b);
    if (b == NULL)
        return false;
    memset(b + m->by_fd_len, 0, (n - m->by_fd_len) * sizeof *b);
    m->by_fd = b;
    m->by_fd_len = n;
    return true;
}

/* CURLMOPT_SOCKETFUNCTION: curl's interest in a socket, as a level-
   triggered watch. REMOVE of an unknown fd is a no-op (curl #17949). */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct eddy__curlm *m = userp;
    struct curl_sock *sk = socketp;
    (void)easy;
    if (fd < 0)
        return 0;
    if (!m->closing)
        ASSERT_IN_HOOK(m);
    if (what == CURL_POLL_REMOVE) {
        if (sk == NULL && (size_t)fd < m->by_fd_len)
            sk = m->by_fd[fd];
        if (sk != NULL && sk->watched && close_known(fd) && !m->closing) {
            /* kept for the connection's next transfer; an event before
               then unwatches it (act_on_socket), the close drops it */
            sk->removed = true;
            return 0;
        }
        (void)eddy__fd_unwatch(fd); /* after it, on_ready is not running */
        if (sk != NULL) {
            if ((size_t)fd < m->by_fd_len && m->by_fd[fd] == sk)
                m->by_fd[fd] = NULL;
            release_sock(m, sk);
        }
        return 0;
    }
    if (sk == NULL) {
        if (!by_fd_fit(m, fd))
            return -1; /* out of memory: curl fails the transfers */
        /* an entry left for this number: curl closed that socket without
           a REMOVE (curl #16026) and the number came back; reuse it */
        sk = m->by_fd[fd];
        if (sk == NULL) {
            sk = eddy__calloc(sizeof *sk);
            if (sk == NULL)
                return -1;
            sk->m = m;
            m->by_fd[fd] = sk;
        }
        if (!close_known(fd))
            sk->watched = false; /* a number curl closed behind our back */
        sk->fd = fd;
        (void)curl_multi_assign(m->multi, fd, sk);
    }
    sk->removed = false;
    int ev = (what & CURL_POLL_IN ? EDDY_READABLE : 0) | (what & CURL_POLL_OUT ? EDDY_WRITABLE : 0);
    /* unchanged interest on a socket whose close we see: nothing to tell
       the reactor (any other may have been closed and reused unseen: MOD
       finds out) */
    if (sk->watched && sk->events == ev && close_known(fd))
        return 0;
    if (eddy__fd_watch(fd, ev, on_ready, sk) < 0) {
        sk->watched = false;
        /* not watched: let curl try the socket and find out itself */
        on_ready(sk, fd, EDDY_READABLE | EDDY_WRITABLE | EDDY__HANGUP);
        return 0;
    }
    sk->watched = true;
    sk->events = ev;
    return 0;
}

/* --------------------------------------------------------------- timer */

static void timer_fired(struct eddy__timer *tm)
{
    struct eddy__curlm *m = (struct eddy__curlm *)((char *)tm - offsetof(struct eddy__curlm, timer));
    atomic_store_explicit(&m->timer_fired, true, memory_order_relaxed);
    eddy__hook_request(m->s, m->worker, EDDY__HOOK_CURL);
}

/* CURLMOPT_TIMERFUNCTION: one timer per multi; a new value replaces it,
   -1 deletes it, 0 means now (the hook loop sees timeout_now). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct eddy__curlm *m = userp;
    (void)multi;
    if (m->closing)
        return 0;
    ASSERT_IN_HOOK(m);
    if (m->timer_armed) {
        (void)eddy__timer_disarm(&m->timer);
        m->timer_armed = false;
    }
    m->timeout_now = timeout_ms == 0;
    if (timeout_ms <= 0)
        return 0;
    m->timer.fire = timer_fired;
    if (eddy__timer_arm(&m->timer, eddy__now_ns() + (uint64_t)timeout_ms * 1000000u) == 0)
        m->timer_armed = true;
    else
        m->timeout_now = true; /* not on a worker (cannot happen in the hook) */
    return 0;
}

/* ---------------------------------------------------------------- hook */

static void drain_done(struct eddy__curlm *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result; /* the message dies with the removal */
        struct eddy__xfer *x = map_take(m, e);
        check_mcode(curl_multi_remove_handle(m->multi, e));
        if (x != NULL)
            finish(m, x, EDDY__XFER_DONE, res);
    }
}

static void add_one(struct eddy__curlm *m, struct eddy__xfer *x)
{
    if (x->cancelled) {
        finish(m, x, EDDY__XFER_REMOVED, CURLE_ABORTED_BY_CALLBACK);
        return;
    }
    if (x->min_maxconnects > m->maxconnects) {
        m->maxconnects = x->min_maxconnects;
        check_mcode(curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, m->maxconnects));
    }
    if (!map_put(m, x->easy, x)) {
        finish(m, x, EDDY__XFER_DONE, CURLE_OUT_OF_MEMORY);
        return;
    }
    CURLMcode mc = curl_multi_add_handle(m->multi, x->easy);
    if (mc != CURLM_OK) {
        (void)map_take(m, x->easy);
        /* what curl_easy_perform says of a handle it cannot run (already in
           a multi: CURLE_FAILED_INIT) */
        finish(m, x, EDDY__XFER_DONE,
               mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT);
        return;
    }
    atomic_store_explicit(&x->state, EDDY__XFER_ADDED, memory_order_relaxed);
}

static void remove_one(struct eddy__curlm *m, struct eddy__xfer *x)
{
    if (atomic_load_explicit(&x->state, memory_order_relaxed) != EDDY__XFER_ADDED)
        return; /* finished already (in this run's adds, or done) */
    (void)map_take(m, x->easy);
    check_mcode(curl_multi_remove_handle(m->multi, x->easy));
    finish(m, x, EDDY__XFER_REMOVED, CURLE_ABORTED_BY_CALLBACK);
}

static void act_on_socket(struct eddy__curlm *m, struct curl_sock *sk)
{
    pthread_mutex_lock(&m->lock);
    sk->queued = false;
    bool dead = sk->dead;
    pthread_mutex_unlock(&m->lock);
    if (dead) {
        eddy__dealloc(sk, sizeof *sk);
        return;
    }
    int ev = atomic_exchange_explicit(&sk->ready, 0, memory_order_relaxed);
    if (ev == 0)
        return;
    if (sk->removed) {
        /* an idle kept-alive connection stirred (the server closed it):
           curl has no interest now, and a level-triggered watch would
           report it again and again; curl finds out on reuse */
        (void)eddy__fd_unwatch(sk->fd);
        sk->watched = false;
        return;
    }
    int flags = (ev & EDDY_READABLE ? CURL_CSELECT_IN : 0) |
                (ev & EDDY_WRITABLE ? CURL_CSELECT_OUT : 0) | (ev & EDDY__HANGUP ? CURL_CSELECT_ERR : 0);
    int running;
    /* sk may be freed inside this call (curl removes its socket): not
       touched after it */
    check_mcode(curl_multi_socket_action(m->multi, sk->fd, flags, &running));
    drain_done(m);
}

static void run_rounds(struct eddy__curlm *m);

static void curlm_hook(void *arg)
{
    struct eddy__curlm *m = arg;
    m->runner = pthread_self();
    m->in_hook = true;
    tls_hook_multi = m;
    run_rounds(m);
    tls_hook_multi = NULL;
    m->in_hook = false;
}

static void run_rounds(struct eddy__curlm *m)
{
    for (int round = 0; round < HOOK_ROUNDS; round++) {
        pthread_mutex_lock(&m->lock);
        struct eddy__xfer *adds = m->add_head, *cancels = m->cancel_head;
        struct curl_sock *ready = m->ready_head;
        m->add_head = m->add_tail = NULL;
        m->cancel_head = NULL;
        m->ready_head = NULL;
        for (struct eddy__xfer *x = cancels; x != NULL; x = x->next_cancel)
            x->in_cancel = false;
        pthread_mutex_unlock(&m->lock);
        bool fired = atomic_exchange_explicit(&m->timer_fired, false, memory_order_relaxed);
        if (adds == NULL && cancels == NULL && ready == NULL && !fired && !m->timeout_now)
            return;
        for (struct eddy__xfer *x = cancels; x != NULL; x = x->next_cancel)
            x->cancelled = true;
        for (struct eddy__xfer *x = adds, *nx; x != NULL; x = nx) {
            nx = x->next_add; /* x may be gone once finished */
            add_one(m, x);
        }
        for (struct eddy__xfer *x = cancels, *nx; x != NULL; x = nx) {
            nx = x->next_cancel;
            remove_one(m, x);
        }
        for (struct curl_sock *sk = ready, *nx; sk != NULL; sk = nx) {
            pthread_mutex_lock(&m->lock);
            nx = sk->next_ready;
            pthread_mutex_unlock(&m->lock);
            act_on_socket(m, sk);
        }
        if (fired || m->timeout_now) {
            m->timeout_now = false;
            int running;
            check_mcode(curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running));
        }
        drain_done(m);
    }
    /* more to do: let the worker's tasks run, then come back */
    eddy__hook_request(m->s, m->worker, EDDY__HOOK_CURL);
}

/* ------------------------------------------------------------ lifecycle */

static void curlm_destroy(struct eddy__curlm *m)
{
    m->closing = true;
    m->timer.armed_in = NULL; /* the wheels are gone or reset by now */
    if (m->multi != NULL) {
        tls_hook_multi = m; /* its closes find their sockets */
        (void)curl_multi_cleanup(m->multi); /* its REMOVEs unwatch the fds */
        tls_hook_multi = NULL;
    }
    /* sockets curl dropped while they waited in the ready list are only
       there; the others are also in by_fd, freed below */
    for (struct curl_sock *sk = m->ready_head, *nx; sk != NULL; sk = nx) {
        nx = sk->next_ready;
        if (sk->dead)
            eddy__dealloc(sk, sizeof *sk);
    }
    m->ready_head = NULL;
    for (size_t i = 0; i < m->by_fd_len; i++) {
        if (m->by_fd[i] != NULL) {
            (void)eddy__fd_unwatch((int)i);
            eddy__dealloc(m->by_fd[i], sizeof *m->by_fd[i]);
        }
    }
    /* transfers still in the map belonged to tasks dropped unfinished:
       their memory is gone with their stacks, not touched here */
    eddy__dealloc(m->by_fd, m->by_fd_len * sizeof *m->by_fd);
    eddy__dealloc(m->map, m->map_cap * sizeof *m->map);
    pthread_mutex_destroy(&m->lock);
    eddy__dealloc(m, sizeof *m);
}

static void curlm_fini(void *arg)
{
    curlm_destroy(arg);
}

struct eddy__curlm *eddy__curlm_get(struct eddy__sched *s, unsigned worker, int *err)
{
    struct eddy__curlm *m = eddy__hook_arg(s, worker, EDDY__HOOK_CURL);
    if (m != NULL)
        return m;
    int rc = eddy__http_global_init();
    if (rc < 0) {
        *err = rc;
        return NULL;
    }
    m = eddy__calloc(sizeof *m);
    if (m == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    m->s = s;
    m->worker = worker;
    pthread_mutex_init(&m->lock, NULL);
    m->multi = curl_multi_init();
    if (m->multi == NULL) {
        curlm_destroy(m);
        *err = -ENOMEM;
        return NULL;
    }
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    rc = eddy__hook_install(s, worker, EDDY__HOOK_CURL, curlm_hook, curlm_fini, m);
    if (rc < 0) {
        curlm_destroy(m); /* another thread installed one first */
        m = eddy__hook_arg(s, worker, EDDY__HOOK_CURL);
        if (m == NULL)
            *err = rc;
    }
    return m;
}

void eddy__curlm_submit(struct eddy__curlm *m, struct eddy__xfer *x)
{
    x->next_add = NULL;
    x->in_cancel = false;
    x->cancelled = false;
    pthread_mutex_lock(&m->lock);
    if (m->add_tail != NULL)
        m->add_tail->next_add = x;
    else
        m->add_head = x;
    m->add_tail = x;
    pthread_mutex_unlock(&m->lock);
    eddy__hook_request(m->s, m->worker, EDDY__HOOK_CURL);
}

void eddy__curlm_cancel(struct eddy__curlm *m, struct eddy__xfer *x)
{
    pthread_mutex_lock(&m->lock);
    int st = atomic_load_explicit(&x->state, memory_order_relaxed);
    bool queue = st != EDDY__XFER_DONE && st != EDDY__XFER_REMOVED && !x->in_cancel;
    if (queue) {
        x->in_cancel = true;
        x->next_cancel = m->cancel_head;
        m->cancel_head = x;
    }
    pthread_mutex_unlock(&m->lock);
    if (queue)
        eddy__hook_request(m->s, m->worker, EDDY__HOOK_CURL);
}

/* ------------------------------------------------------------- globals */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        global_rc = -ENOMEM;
        return;
    }
    /* with CURLOPT_NOSIGNAL (required with threads) libcurl does not
       guard its writes: a TLS write to a peer that is gone raises SIGPIPE,
       whose default kills the process */
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        (void)sigaction(SIGPIPE, &ign, NULL);
    }
}

int eddy__http_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_rc;
}
