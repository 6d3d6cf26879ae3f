/*
 * io/fd_reuse.c: an fd closed with close(2) while eddy had it registered,
 * whose number the kernel then hands out again. The kernel dropped the old
 * file's registration with the file, but eddy's entry still says
 * "registered", so a wait on the new file would never see an event (a
 * hang, on both backends). Two checks catch it:
 *
 *  - the sockets eddy makes (socket, accept4, the HTTP client's) go
 *    through eddy__fd_fresh, which resets whatever the entry held;
 *  - any other fd (a pipe, a socket the program made) is checked before
 *    each wait on its registration: the device and inode registered must
 *    still be the fd's (one fstat(2), on the path that is about to suspend
 *    anyway). Files that share an inode (eventfd, timerfd, epoll: one
 *    anonymous inode for all) cannot be told apart this way.
 *
 * Either way eddy names the fd on stderr, once per process.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>

#include "io/fd_entry.h"

static void say_reused(int fd)
{
    static atomic_bool said;
    if (!atomic_exchange(&said, true))
        fprintf(stderr,
                "eddy: fd %d was closed with close(2) while eddy still had it registered, "
                "and its number is in use again; close eddy's fds with eddy_close (or "
                "eddy_fd_release first)\n",
                fd);
}

bool eddy__fd_same_file(struct fd_entry *e, int fd, bool known)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return true; /* EBADF: the I/O call itself will say so */
    if (!known || e->ino == 0) {
        e->dev = (uint64_t)st.st_dev;
        e->ino = (uint64_t)st.st_ino;
        return true;
    }
    if (e->dev == (uint64_t)st.st_dev && e->ino == (uint64_t)st.st_ino)
        return true;
    say_reused(fd);
    e->dev = (uint64_t)st.st_dev;
    e->ino = (uint64_t)st.st_ino;
    return false;
}

void eddy__fd_fresh(int fd)
{
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->lock);
    bool registered = e->drv != NULL || e->waiter[DIR_READ] != NULL ||
                      e->waiter[DIR_WRITE] != NULL || e->watch != NULL || e->arm_fn != NULL;
    if (registered)
        say_reused(fd);
    if (registered || e->nonblock || e->ready || e->not_socket)
        eddy__fd_forget_locked(e, fd);
    pthread_mutex_unlock(&e->lock);
}
