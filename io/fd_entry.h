/*
 * io/fd_entry.h: the per-fd state of io/fd.c, shared with io/fd_watch.c
 * (level-triggered interest for foreign fds) and io/fd_uring.c (what the
 * io_uring backend needs of the table). One entry per fd number, in
 * a table that only grows; every field but `interest` under the entry's lock.
 */
#ifndef EDDY_IO_FD_ENTRY_H
#define EDDY_IO_FD_ENTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io_int.h"

struct eddy__task;

enum { DIR_READ = 0, DIR_WRITE = 1 };

struct fd_entry {
    pthread_mutex_t lock;
    uint32_t gen;                      /* guarded by: lock; bumped by close */
    uint32_t reg;                      /* guarded by: lock; bumped by each
                                          registration: its events carry it */
    uint8_t ready;                     /* guarded by: lock; EDDY_READABLE|WRITABLE */
    bool nonblock;                     /* guarded by: lock; O_NONBLOCK set */
    bool not_socket;                   /* guarded by: lock; sendmsg said ENOTSOCK */
    struct eddy__io_driver *drv;       /* guarded by: lock; registered with */
    uint64_t tick[2];                  /* guarded by: lock; events per direction */
    struct eddy__task *waiter[2];      /* guarded by: lock; holds a reference */
    /* level-triggered interest of a foreign fd (eddy__fd_watch): while
       watch is set the registration is level-triggered with these events */
    eddy__watch_fn watch;              /* guarded by: lock */
    void *watch_arg;                   /* guarded by: lock */
    uint8_t watch_events;              /* guarded by: lock */
    /* a one-shot callback for the next read readiness (io/fd_arm.c): set
       by eddy__fd_read_or_arm, taken by the event that runs it or by
       eddy__fd_disarm, dropped by eddy_close */
    eddy__arm_fn arm_fn;               /* guarded by: lock */
    void *arm_arg;                     /* guarded by: lock */
    /* whether a task waits on the fd or it is watched: written under lock,
       read without it by eddy__fd_poll_stranded's scan */
    _Atomic bool interest;
    /* The file registered (io/fd_reuse.c): ours is set for the sockets
       eddy makes (eddy__fd_fresh sees their number handed out again);
       for any other fd, the device and inode seen when it was registered,
       compared before each wait on the registration. */
    bool ours;                         /* guarded by: lock */
    uint64_t dev, ino;                 /* guarded by: lock; 0: not known */
};

/* io/fd.c: drops e's registration and wakes its waiters with -EBADF (the
   fd is gone); bumps the generation. Caller holds e->lock. */
void eddy__fd_forget_locked(struct fd_entry *e, int fd);

/* io/fd_reuse.c: for an fd eddy did not make, whether the file registered
   under its number is still the one there (true when it cannot tell);
   records the file at a registration (known false). Caller holds e->lock. */
bool eddy__fd_same_file(struct fd_entry *e, int fd, bool known);

/* Entries per chunk of the table: chunk c holds fds c * EDDY__FD_CHUNK on. */
#define EDDY__FD_CHUNK 1024

/* For a scan of the whole table (the io_uring stand-in): how many chunks
   there are, and chunk c (NULL where none was made). */
size_t eddy__fd_table_chunks(void);
struct fd_entry *eddy__fd_table_chunk(size_t c);

/* The entry of fd, made when missing when create is set (NULL only on OOM,
   fd < 0, or a missing entry without create). Entries are never freed: a
   stale event may still look one up. */
struct fd_entry *eddy__fd_entry(int fd, bool create);

/* Registers e's fd with the current worker's reactor if not yet (or moves
   it off a stuck one). Caller holds e->lock. 0 or -errno. */
int eddy__fd_ensure_registered(struct fd_entry *e, int fd);

/* The readiness events e's registration asks for. Caller holds e->lock. */
uint32_t eddy__fd_reg_events(const struct fd_entry *e);

/* What a registration of fd carries as its event data: the fd and the
   registration number, never 0 (0 is the unpark eventfd). */
static inline uint64_t eddy__fd_event_data(int fd, uint32_t reg)
{
    return ((uint64_t)reg << 32) | (uint32_t)(fd + 1);
}

/* Publishes whether e has a waiter or a watch (for the stand-in scan).
   Caller holds e->lock. */
static inline void eddy__fd_note_interest(struct fd_entry *e)
{
    bool any = e->waiter[0] != NULL || e->waiter[1] != NULL || e->watch != NULL ||
               e->arm_fn != NULL;
    atomic_store_explicit(&e->interest, any, memory_order_relaxed);
}

/* The readiness bit of direction d. */
static inline uint8_t eddy__fd_dir_bit(int d)
{
    return d == DIR_READ ? 1 /* EDDY_READABLE */ : 2 /* EDDY_WRITABLE */;
}

/* The caller found direction d not ready (its call hit EAGAIN, or poll(2)
   said so) after it saw d's tick at seen: the bit is cleared unless an
   event came since, so an edge between the check and the wait is never
   lost. Only the direction the caller checked: another task may be
   between its own EAGAIN and its wait on the other one, and clearing its
   bit would leave it sleeping through the edge it is owed (Tokio's
   clear_readiness takes the ready set it observed for the same reason).
   Caller holds e->lock. */
static inline void eddy__fd_clear_readiness(struct fd_entry *e, int d, uint64_t seen)
{
    if (e->tick[d] == seen)
        e->ready &= (uint8_t)~eddy__fd_dir_bit(d);
}

/* Sets O_NONBLOCK on fd once (e->nonblock remembers). Caller holds
   e->lock. 0 or -errno. */
int eddy__fd_make_nonblocking(struct fd_entry *e, int fd);

#endif
