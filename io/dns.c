/*
 * io/dns.c: host name resolution for the socket calls. Numeric addresses
 * are parsed at once; names go to getaddrinfo, which blocks, so a task runs
 * it on the runtime's blocking pool (a small task kind of io's own) and
 * suspends until it is done. A plain thread calls getaddrinfo directly; a
 * worker outside a task (a signal handler) is refused, as it would block.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <eddy/common.h>

#include "io/io_int.h"
#include "sched/alloc.h"
#include "sched/sched.h"

struct dns_task {
    struct eddy__task base;
    char *host;      /* owned: freed by release */
    char port[8];
    int socktype, passive;
    struct addrinfo *res;
    int rc;
};
_Static_assert(sizeof(struct dns_task) <= EDDY__TASK_BLOCK, "dns task fits a task block");

static int map_gai(int g)
{
    switch (g) {
    case 0:
        return 0;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
    case EAI_ADDRFAMILY:
        return EDDY_EAI_NONAME;
    case EAI_AGAIN:
        return EDDY_EAI_AGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return errno ? -errno : EDDY_EAI_FAIL;
    default:
        return EDDY_EAI_FAIL;
    }
}

static int lookup(const char *host, const char *port, int socktype, int passive, int numeric,
                  struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) | (numeric ? AI_NUMERICHOST : 0);
    if (!passive)
        hints.ai_flags |= AI_ADDRCONFIG;
    return map_gai(getaddrinfo(host, port, &hints, res));
}

static enum eddy__poll dns_run(struct eddy__task *t, int worker)
{
    (void)worker;
    struct dns_task *d = (struct dns_task *)t;
    d->rc = lookup(d->host, d->port, d->socktype, d->passive, 0, &d->res);
    return EDDY__POLL_DONE;
}

static void dns_release(struct eddy__task *t)
{
    struct dns_task *d = (struct dns_task *)t;
    if (d->res != NULL) /* joiner gone (cancelled): the result is ours */
        freeaddrinfo(d->res);
    eddy__strfree(d->host);
}

static const struct eddy__task_vtable dns_vt = {
    .run = dns_run,
    .release = dns_release,
    .kind = "dns",
};

int eddy__resolve(const char *host, uint16_t port, int socktype, int passive,
                  struct addrinfo **res)
{
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    if (host != NULL && host[0] == '\0')
        host = NULL;
    if (host == NULL && !passive)
        host = "localhost";
    if (host != NULL && strlen(host) > 253)
        return -EINVAL;
    /* numeric (or NULL for a wildcard listener): no lookup, no blocking */
    int rc = lookup(host, ps, socktype, passive, 1, res);
    if (rc == 0)
        return 0;
    if (eddy__on_worker_outside_task())
        return -EPERM; /* a signal handler: getaddrinfo would block the worker */
    struct eddy__sched *s = eddy__sched_current();
    if (s == NULL || eddy__task_current() == NULL)
        return lookup(host, ps, socktype, passive, 0, res);
    struct eddy__task *t = eddy__task_alloc();
    if (t == NULL)
        return -ENOMEM;
    /* references: the pool's run and this joiner */
    eddy__task_init(t, &dns_vt, s, 2, true);
    struct dns_task *d = (struct dns_task *)t;
    d->host = eddy__strdup(host);
    if (d->host == NULL) {
        eddy__task_pool_release(t);
        return -ENOMEM;
    }
    snprintf(d->port, sizeof d->port, "%s", ps);
    d->socktype = socktype;
    d->passive = passive;
    d->res = NULL;
    d->rc = EDDY_EAI_FAIL;
    rc = eddy__sched_spawn_blocking(s, t);
    if (rc < 0) {
        eddy__strfree(d->host);
        eddy__task_pool_release(t);
        return rc;
    }
    /* keep a reference across the join so the result can be read (join
       consumes the handle's) */
    eddy__task_ref(t);
    rc = eddy__task_join(t, NULL, UINT64_MAX);
    if (rc == 0) {
        rc = d->rc;
        *res = d->res;
        d->res = NULL;
    } else if (eddy__task_flags(t) & EDDY__T_JOIN_INTEREST) {
        /* the wait ended first (this task's abort or deadline) and the
           handle is still ours: detach, the pool finishes the lookup and
           the release frees its result (the flag, not rc, tells: -ECANCELED
           may also be the lookup's own abort, which consumed the handle) */
        eddy__task_detach(t);
    }
    eddy__task_unref(t);
    return rc;
}
