/*
 * tools/crawl/frontier.c: the in-process frontier (frontier.h): Mercator's
 * back queues, one FIFO per host (scheme, host and port), and a heap of
 * hosts keyed by when each may next start a fetch; retries wait in a heap
 * of their own until due. One fetcher at a time picks (the picker mutex,
 * which it holds while it waits for the next host to come due), so a
 * single timer wait serves them all and no slot is taken before a fetcher
 * is free to use it; the state itself is under a plain mutex held only
 * for short, non-suspending stretches.
 */
#include "frontier.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#include "links.h"
#include "robots.h"

enum { ROBOTS_NONE, ROBOTS_PENDING, ROBOTS_FETCHING, ROBOTS_READY };

struct host {
    char *key;               /* "scheme://host[:port]" */
    uint64_t hash;
    struct host *next_in_map;
    struct entry *head, *tail;
    int active;              /* fetches under way */
    uint64_t next_start;     /* earliest start of the next fetch */
    int robots_state;
    struct robots *rules;    /* ROBOTS_READY: what it allows */
    int64_t crawl_delay_ms;
    long heap_at;            /* index in the ready heap, -1 when out */
};

struct mem {
    struct frontier base;
    struct frontier_opts o;
    pthread_mutex_t lock;
    eddy_mutex *picker;
    eddy_notify *changed;
    /* guarded by: lock */
    char **seen;             /* open addressing, owned strings */
    size_t seen_cap, seen_len;
    struct host **hosts;     /* chained buckets */
    size_t hosts_cap, hosts_len;
    struct host **ready;     /* min-heap on next_start */
    size_t ready_len, ready_cap;
    struct entry **delayed;  /* min-heap on not_before */
    size_t delayed_len, delayed_cap;
    long queued, queued_cont, in_flight, hosts_active, pages_started;
    bool draining;
    uint64_t rng;
};

/* ------------------------------------------------------------ strings */

struct rcstr *rcstr_new(const char *s)
{
    size_t n = strlen(s);
    struct rcstr *r = malloc(sizeof *r + n + 1);
    if (r != NULL) {
        atomic_init(&r->refs, 1);
        memcpy(r->s, s, n + 1);
    }
    return r;
}

void rcstr_unref(struct rcstr *r)
{
    if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1)
        free(r);
}

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

/* The stored copy of url, interning it when new (*added set). NULL on OOM. */
static const char *seen_intern(struct mem *m, const char *url, bool *added)
{
    *added = false;
    if ((m->seen_len + 1) * 2 > m->seen_cap) {
        size_t cap = m->seen_cap ? m->seen_cap * 2 : 1024;
        char **n = calloc(cap, sizeof *n);
        if (n == NULL)
            return NULL;
        for (size_t i = 0; i < m->seen_cap; i++) {
            if (m->seen[i] == NULL)
                continue;
            size_t j = hash_str(m->seen[i], strlen(m->seen[i])) & (cap - 1);
            while (n[j] != NULL)
                j = (j + 1) & (cap - 1);
            n[j] = m->seen[i];
        }
        free(m->seen);
        m->seen = n;
        m->seen_cap = cap;
    }
    size_t i = hash_str(url, strlen(url)) & (m->seen_cap - 1);
    while (m->seen[i] != NULL) {
        if (strcmp(m->seen[i], url) == 0)
            return m->seen[i];
        i = (i + 1) & (m->seen_cap - 1);
    }
    m->seen[i] = strdup(url);
    if (m->seen[i] == NULL)
        return NULL;
    m->seen_len++;
    *added = true;
    return m->seen[i];
}

static bool seen_has(struct mem *m, const char *url)
{
    if (m->seen_cap == 0)
        return false;
    size_t i = hash_str(url, strlen(url)) & (m->seen_cap - 1);
    for (; m->seen[i] != NULL; i = (i + 1) & (m->seen_cap - 1))
        if (strcmp(m->seen[i], url) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- heaps */

static bool host_less(const struct host *a, const struct host *b)
{
    return a->next_start < b->next_start;
}

static void ready_swap(struct mem *m, size_t i, size_t j)
{
    struct host *t = m->ready[i];
    m->ready[i] = m->ready[j];
    m->ready[j] = t;
    m->ready[i]->heap_at = (long)i;
    m->ready[j]->heap_at = (long)j;
}

static void ready_fix(struct mem *m, size_t i)
{
    while (i > 0 && host_less(m->ready[i], m->ready[(i - 1) / 2])) {
        ready_swap(m, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->ready_len && host_less(m->ready[l], m->ready[s]))
            s = l;
        if (r < m->ready_len && host_less(m->ready[r], m->ready[s]))
            s = r;
        if (s == i)
            return;
        ready_swap(m, i, s);
        i = s;
    }
}

static bool ready_insert(struct mem *m, struct host *h)
{
    if (m->ready_len == m->ready_cap) {
        size_t cap = m->ready_cap ? m->ready_cap * 2 : 64;
        struct host **n = realloc(m->ready, cap * sizeof *n);
        if (n == NULL)
            return false;
        m->ready = n;
        m->ready_cap = cap;
    }
    h->heap_at = (long)m->ready_len;
    m->ready[m->ready_len++] = h;
    ready_fix(m, m->ready_len - 1);
    return true;
}

static void ready_remove(struct mem *m, struct host *h)
{
    size_t i = (size_t)h->heap_at;
    h->heap_at = -1;
    if (i == --m->ready_len)
        return;
    m->ready[i] = m->ready[m->ready_len];
    m->ready[i]->heap_at = (long)i;
    ready_fix(m, i);
}

static void delayed_fix_down(struct mem *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->delayed_len && m->delayed[l]->not_before < m->delayed[s]->not_before)
            s = l;
        if (r < m->delayed_len && m->delayed[r]->not_before < m->delayed[s]->not_before)
            s = r;
        if (s == i)
            return;
        struct entry *t = m->delayed[i];
        m->delayed[i] = m->delayed[s];
        m->delayed[s] = t;
        i = s;
    }
}

static bool delayed_push(struct mem *m, struct entry *e)
{
    if (m->delayed_len == m->delayed_cap) {
        size_t cap = m->delayed_cap ? m->delayed_cap * 2 : 64;
        struct entry **n = realloc(m->delayed, cap * sizeof *n);
        if (n == NULL)
            return false;
        m->delayed = n;
        m->delayed_cap = cap;
    }
    size_t i = m->delayed_len++;
    m->delayed[i] = e;
    while (i > 0 && m->delayed[i]->not_before < m->delayed[(i - 1) / 2]->not_before) {
        struct entry *t = m->delayed[i];
        m->delayed[i] = m->delayed[(i - 1) / 2];
        m->delayed[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return true;
}

static struct entry *delayed_pop(struct mem *m)
{
    struct entry *e = m->delayed[0];
    m->delayed[0] = m->delayed[--m->delayed_len];
    delayed_fix_down(m, 0);
    return e;
}

/* ---------------------------------------------------------------- hosts */

static bool schedulable(const struct mem *m, const struct host *h)
{
    return h->head != NULL && h->active < m->o.per_host && h->robots_state != ROBOTS_FETCHING;
}

/* Puts h in the ready heap, or takes it out, as its state says. */
static void reschedule(struct mem *m, struct host *h)
{
    bool in = h->heap_at >= 0, want = schedulable(m, h);
    if (want && !in)
        (void)ready_insert(m, h); /* on OOM it waits for its next change */
    else if (!want && in)
        ready_remove(m, h);
    else if (want)
        ready_fix(m, (size_t)h->heap_at);
}

static struct host *host_get(struct mem *m, const char *url, bool *created)
{
    size_t n = url_origin_prefix(url);
    uint64_t hv = hash_str(url, n);
    *created = false;
    if (m->hosts_cap > 0) {
        for (struct host *h = m->hosts[hv & (m->hosts_cap - 1)]; h; h = h->next_in_map)
            if (h->hash == hv && strlen(h->key) == n && memcmp(h->key, url, n) == 0)
                return h;
    }
    if ((m->hosts_len + 1) > m->hosts_cap) {
        size_t cap = m->hosts_cap ? m->hosts_cap * 2 : 256;
        struct host **b = calloc(cap, sizeof *b);
        if (b == NULL)
            return NULL;
        for (size_t i = 0; i < m->hosts_cap; i++) {
            for (struct host *h = m->hosts[i], *nx; h; h = nx) {
                nx = h->next_in_map;
                h->next_in_map = b[h->hash & (cap - 1)];
                b[h->hash & (cap - 1)] = h;
            }
        }
        free(m->hosts);
        m->hosts = b;
        m->hosts_cap = cap;
    }
    struct host *h = calloc(1, sizeof *h);
    if (h == NULL || (h->key = malloc(n + 1)) == NULL) {
        free(h);
        return NULL;
    }
    memcpy(h->key, url, n);
    h->key[n] = '\0';
    h->hash = hv;
    h->heap_at = -1;
    h->crawl_delay_ms = -1;
    h->next_in_map = m->hosts[hv & (m->hosts_cap - 1)];
    m->hosts[hv & (m->hosts_cap - 1)] = h;
    m->hosts_len++;
    *created = true;
    return h;
}

static void queue_push(struct host *h, struct entry *e, bool front)
{
    e->host = h;
    if (front) {
        e->next = h->head;
        h->head = e;
        if (h->tail == NULL)
            h->tail = e;
    } else {
        e->next = NULL;
        if (h->tail != NULL)
            h->tail->next = e;
        else
            h->head = e;
        h->tail = e;
    }
}

static bool continuation(const struct entry *e)
{
    return e->hops > 0 || e->retries > 0;
}

/* Queues e on its host (made when new, with its robots.txt first). */
static int enqueue(struct mem *m, struct entry *e, bool front)
{
    bool created;
    struct host *h = host_get(m, e->url, &created);
    if (h == NULL)
        return -ENOMEM;
    if (created && m->o.robots) {
        struct entry *r = calloc(1, sizeof *r);
        size_t n = strlen(h->key);
        char *u = malloc(n + sizeof "/robots.txt");
        if (r == NULL || u == NULL) {
            free(r);
            free(u);
            return -ENOMEM;
        }
        memcpy(u, h->key, n);
        memcpy(u + n, "/robots.txt", sizeof "/robots.txt");
        r->url = u;
        r->is_robots = true;
        queue_push(h, r, false);
        m->queued++;
        h->robots_state = ROBOTS_PENDING;
    } else if (created) {
        h->robots_state = ROBOTS_NONE;
    }
    /* a robots.txt not yet fetched stays at the head */
    if (front && h->robots_state == ROBOTS_PENDING && h->head != NULL && h->head->is_robots) {
        e->host = h;
        e->next = h->head->next;
        h->head->next = e;
        if (h->tail == h->head)
            h->tail = e;
    } else {
        queue_push(h, e, front);
    }
    m->queued++;
    if (continuation(e))
        m->queued_cont++;
    reschedule(m, h);
    return 0;
}

static void entry_free(struct entry *e)
{
    if (e->is_robots)
        free((char *)e->url);
    rcstr_unref(e->parent);
    free(e->chain);
    free(e);
}

/* ------------------------------------------------------------ the calls */

static void log_found(struct mem *m, const char *url, int depth, const char *parent)
{
    if (m->o.log_fd < 0)
        return;
    size_t n = strlen(url) + (parent ? strlen(parent) : 1) + 32;
    char *line = malloc(n);
    if (line == NULL)
        return;
    int len = snprintf(line, n, "Q\t%d\t%s\t%s\n", depth, parent ? parent : "-", url);
    const char *p = line;
    while (len > 0) { /* O_APPEND: one write, whole lines */
        ssize_t w = write(m->o.log_fd, p, (size_t)len);
        if (w <= 0)
            break;
        p += w;
        len -= (int)w;
    }
    free(line);
}

static int mem_add(struct frontier *f, const char *url, int depth, const char *parent)
{
    struct mem *m = (struct mem *)f;
    pthread_mutex_lock(&m->lock);
    bool added;
    const char *u = seen_intern(m, url, &added);
    int rc = u == NULL ? -ENOMEM : added ? 1 : 0;
    if (rc == 1) {
        struct entry *e = calloc(1, sizeof *e);
        if (e == NULL) {
            rc = -ENOMEM;
        } else {
            e->url = u;
            e->depth = depth;
            e->parent = parent ? rcstr_new(parent) : NULL;
            rc = enqueue(m, e, false);
            if (rc < 0)
                entry_free(e);
            else
                rc = 1;
        }
        if (rc == 1)
            log_found(m, u, depth, parent);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc == 1)
        eddy_notify_one(m->changed);
    return rc;
}

static int mem_add_links(struct frontier *f, char *const *urls, int n, int depth,
                         const char *parent)
{
    int added = 0;
    for (int i = 0; i < n; i++) {
        int rc = mem_add(f, urls[i], depth, parent);
        if (rc < 0)
            return rc;
        added += rc;
    }
    return added;
}

static bool budget_spent(const struct mem *m)
{
    return m->o.max_pages > 0 && m->pages_started >= m->o.max_pages;
}

static bool over(const struct mem *m)
{
    return m->in_flight == 0 && m->delayed_len == 0 &&
           (m->queued == 0 || (budget_spent(m) && m->queued_cont == 0));
}

static int64_t host_delay_ms(const struct mem *m, const struct host *h)
{
    return h->crawl_delay_ms > m->o.delay_ms ? h->crawl_delay_ms : m->o.delay_ms;
}

/* Takes the first entry of h that may go now, NULL if none. */
static struct entry *take(struct mem *m, struct host *h)
{
    struct entry **pp = &h->head, *prev = NULL;
    for (struct entry *e = h->head; e != NULL; prev = e, e = e->next) {
        bool page = !e->is_robots && !continuation(e);
        if (page && budget_spent(m)) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        if (h->tail == e)
            h->tail = prev;
        m->queued--;
        if (continuation(e))
            m->queued_cont--;
        if (page)
            m->pages_started++;
        return e;
    }
    return NULL;
}

static uint64_t jittered(struct mem *m, int64_t ms)
{
    if (ms <= 0)
        return 0;
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    double f = 0.5 + (double)(m->rng >> 11) / (double)(1ull << 53); /* 0.5 .. 1.5 */
    return (uint64_t)((double)ms * 1e6 * f);
}

/* The next entry that may be fetched now, or NULL; *until: when one may
   be (UINT64_MAX: when something changes). Caller holds lock. */
static struct entry *pick(struct mem *m, uint64_t now, uint64_t *until)
{
    while (m->delayed_len > 0 && m->delayed[0]->not_before <= now) {
        struct entry *e = delayed_pop(m);
        if (enqueue(m, e, true) < 0) { /* OOM: it is given up, as done */
            entry_free(e);
        }
    }
    *until = m->delayed_len > 0 ? m->delayed[0]->not_before : UINT64_MAX;
    while (m->ready_len > 0) {
        struct host *h = m->ready[0];
        if (h->next_start > now) {
            if (h->next_start < *until)
                *until = h->next_start;
            return NULL;
        }
        struct entry *e = take(m, h);
        if (e == NULL) {
            ready_remove(m, h); /* only pages beyond the budget left */
            continue;
        }
        if (!e->is_robots && h->robots_state == ROBOTS_READY && h->rules != NULL) {
            const char *path = e->url + strlen(h->key);
            if (!robots_allowed(h->rules, *path ? path : "/")) {
                e->blocked = true; /* recorded, not fetched: no slot taken */
                if (!continuation(e))
                    m->pages_started--; /* not a page fetched */
                reschedule(m, h);
                return e;
            }
        }
        if (h->active++ == 0)
            m->hosts_active++;
        m->in_flight++;
        h->next_start = now + jittered(m, host_delay_ms(m, h));
        if (e->is_robots)
            h->robots_state = ROBOTS_FETCHING;
        reschedule(m, h);
        return e;
    }
    return NULL;
}

static struct entry *mem_next(struct frontier *f)
{
    struct mem *m = (struct mem *)f;
    if (eddy_mutex_lock(m->picker) < 0)
        return NULL; /* cancelled */
    struct entry *e = NULL;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        if (m->draining || over(m)) {
            pthread_mutex_unlock(&m->lock);
            break;
        }
        uint64_t now = eddy_now_ns(), until;
        e = pick(m, now, &until);
        pthread_mutex_unlock(&m->lock);
        if (e != NULL)
            break;
        int64_t ms = until == UINT64_MAX ? -1 : (int64_t)((until - now + 999999) / 1000000);
        if (eddy_notify_wait(m->changed, ms) == -ECANCELED)
            break;
    }
    eddy_mutex_unlock(m->picker);
    if (e == NULL)
        eddy_notify_one(m->changed); /* the next picker sees the end too */
    return e;
}

/* Frees e's slot on its host. Caller holds lock. */
static void release_slot(struct mem *m, struct entry *e)
{
    struct host *h = e->host;
    if (e->blocked)
        return;
    if (--h->active == 0)
        m->hosts_active--;
    m->in_flight--;
    if (e->is_robots && h->robots_state == ROBOTS_FETCHING)
        h->robots_state = ROBOTS_READY; /* no rules set: allow all */
    reschedule(m, h);
}

static void mem_done(struct frontier *f, struct entry *e)
{
    struct mem *m = (struct mem *)f;
    pthread_mutex_lock(&m->lock);
    release_slot(m, e);
    pthread_mutex_unlock(&m->lock);
    entry_free(e);
    eddy_notify_one(m->changed);
}

static void mem_retry(struct frontier *f, struct entry *e, uint64_t at_ns)
{
    struct mem *m = (struct mem *)f;
    pthread_mutex_lock(&m->lock);
    release_slot(m, e);
    e->retries++;
    e->blocked = false;
    e->not_before = at_ns;
    bool ok = delayed_push(m, e);
    pthread_mutex_unlock(&m->lock);
    if (!ok)
        entry_free(e);
    eddy_notify_one(m->changed);
}

bool frontier_hop_loops(const struct entry *e, const char *target)
{
    const char *first = e->first_url != NULL ? e->first_url : e->url;
    if (strcmp(target, e->url) == 0 || strcmp(target, first) == 0)
        return true;
    for (int i = 0; i < e->hops; i++)
        if (strcmp(target, e->chain[i]) == 0)
            return true;
    return false;
}

static int mem_hop(struct frontier *f, struct entry *e, const char *target)
{
    struct mem *m = (struct mem *)f;
    const char *first = e->first_url != NULL ? e->first_url : e->url;
    if (frontier_hop_loops(e, target))
        return -ELOOP;
    pthread_mutex_lock(&m->lock);
    int rc;
    if (seen_has(m, target)) {
        rc = 0;
    } else {
        bool added;
        const char *u = seen_intern(m, target, &added);
        struct entry *h = calloc(1, sizeof *h);
        const char **chain = malloc((size_t)(e->hops + 1) * sizeof *chain);
        if (u == NULL || h == NULL || chain == NULL) {
            free(h);
            free(chain);
            rc = -ENOMEM;
        } else {
            for (int i = 0; i < e->hops; i++)
                chain[i] = e->chain[i];
            chain[e->hops] = e->url;
            h->url = u;
            h->first_url = first;
            h->chain = chain;
            h->hops = e->hops + 1;
            h->depth = e->depth;
            h->retries = 0;
            h->parent = e->parent;
            if (h->parent != NULL)
                atomic_fetch_add(&h->parent->refs, 1);
            rc = enqueue(m, h, true);
            if (rc < 0)
                entry_free(h);
            else
                rc = 1;
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (rc == 1)
        eddy_notify_one(m->changed);
    return rc;
}

static void mem_set_robots(struct frontier *f, struct entry *e, struct robots *r)
{
    struct mem *m = (struct mem *)f;
    struct host *h = e->host;
    pthread_mutex_lock(&m->lock);
    robots_free(h->rules);
    h->rules = r;
    long d = robots_crawl_delay_ms(r);
    h->crawl_delay_ms = d > m->o.max_crawl_delay_ms ? m->o.max_crawl_delay_ms : d;
    h->robots_state = ROBOTS_READY;
    pthread_mutex_unlock(&m->lock);
}

static void mem_drain(struct frontier *f)
{
    struct mem *m = (struct mem *)f;
    pthread_mutex_lock(&m->lock);
    m->draining = true;
    pthread_mutex_unlock(&m->lock);
    eddy_notify_all(m->changed);
}

static int mem_mark_done(struct frontier *f, const char *url, bool page)
{
    struct mem *m = (struct mem *)f;
    pthread_mutex_lock(&m->lock);
    bool added;
    const char *u = seen_intern(m, url, &added);
    if (u != NULL && added && page)
        m->pages_started++; /* a resumed crawl's budget counts what was done */
    pthread_mutex_unlock(&m->lock);
    return u == NULL ? -ENOMEM : 0;
}

static void mem_log_to(struct frontier *f, int fd)
{
    struct mem *m = (struct mem *)f;
    pthread_mutex_lock(&m->lock);
    m->o.log_fd = fd;
    pthread_mutex_unlock(&m->lock);
}

static void mem_stats(struct frontier *f, long *queued, long *in_flight, long *hosts_active)
{
    struct mem *m = (struct mem *)f;
    pthread_mutex_lock(&m->lock);
    *queued = m->queued + (long)m->delayed_len;
    *in_flight = m->in_flight;
    *hosts_active = m->hosts_active;
    pthread_mutex_unlock(&m->lock);
}

static bool mem_crawl_done(struct frontier *f, long *done)
{
    (void)f;
    *done = 0;
    return false; /* this process is the whole crawl */
}

static const char *mem_failure(struct frontier *f)
{
    (void)f;
    return NULL; /* nothing outside the process to lose */
}

static void mem_free(struct frontier *f)
{
    struct mem *m = (struct mem *)f;
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->hosts_cap; i++) {
        for (struct host *h = m->hosts[i], *nx; h; h = nx) {
            nx = h->next_in_map;
            for (struct entry *e = h->head, *en; e; e = en) {
                en = e->next;
                entry_free(e);
            }
            robots_free(h->rules);
            free(h->key);
            free(h);
        }
    }
    for (size_t i = 0; i < m->delayed_len; i++)
        entry_free(m->delayed[i]);
    for (size_t i = 0; i < m->seen_cap; i++)
        free(m->seen[i]);
    free(m->seen);
    free(m->hosts);
    free(m->ready);
    free(m->delayed);
    eddy_mutex_free(m->picker);
    eddy_notify_free(m->changed);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const struct frontier_ops mem_ops = {
    .add = mem_add,
    .add_links = mem_add_links,
    .next = mem_next,
    .done = mem_done,
    .retry = mem_retry,
    .hop = mem_hop,
    .set_robots = mem_set_robots,
    .drain = mem_drain,
    .mark_done = mem_mark_done,
    .log_to = mem_log_to,
    .stats = mem_stats,
    .crawl_done = mem_crawl_done,
    .failure = mem_failure,
    .free = mem_free,
};

struct frontier *frontier_mem_new(const struct frontier_opts *o)
{
    struct mem *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->base.ops = &mem_ops;
    m->o = *o;
    if (m->o.per_host < 1)
        m->o.per_host = 1;
    m->rng = 0x9e3779b97f4a7c15u ^ (uint64_t)eddy_now_ns();
    pthread_mutex_init(&m->lock, NULL);
    if (eddy_mutex_new(&m->picker) < 0 || eddy_notify_new(&m->changed) < 0) {
        mem_free(&m->base);
        return NULL;
    }
    return &m->base;
}
