/*
 * tests/redis_server.c: a redis-server of its own for each test that needs
 * one (tests/integration/test_redis.c, tests/crawl/test_frontier_redis.c):
 * started on a free loopback port, in a directory of the build tree, tied
 * to the test's life, killed at teardown.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "redis_server.h"

extern char **environ;


static char server_path[512], setpriv_path[512];
struct eddy_test_redis srv = { .pid = -1 };

/* Finds name in PATH, else /usr/bin or /usr/sbin, into out: 0 or -1. */
static int find_program(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s:/usr/bin:/usr/sbin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, size, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    out[0] = '\0';
    return -1;
}

/* A loopback port nobody listens on now. */
int eddy_test_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

/* True once the server on port answers PING (a plain blocking client). */
static int answers_ping(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { .tv_sec = 1 };
    char buf[16] = { 0 };
    int ok = s >= 0 && setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
             connect(s, (struct sockaddr *)&a, sizeof a) == 0 && write(s, "PING\r\n", 6) == 6 &&
             read(s, buf, sizeof buf - 1) > 0 && strncmp(buf, "+PONG", 5) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

void eddy_test_redis_kill(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        waitpid(srv.pid, NULL, 0);
        srv.pid = -1;
    }
    if (srv.dir[0] != '\0') {
        char log[600];
        snprintf(log, sizeof log, "%s/redis.log", srv.dir);
        unlink(log);
        rmdir(srv.dir);
        srv.dir[0] = '\0';
    }
}

/* Starts redis-server on a free port and waits (at most 10 s) until it
   answers. A port taken meanwhile makes it exit: try another (5 times).
   posix_spawn, not fork: fork runs jemalloc's fork handlers, which take
   more locks than ThreadSanitizer can track. Through util-linux's setpriv
   (Debian: always installed), the server gets PR_SET_PDEATHSIG: it dies
   with the test even when the watchdog _exits it or ctest kills it. */
static int server_start(void)
{
    /* in the current directory (ctest's: the build tree), not /tmp: a
       test killed before its teardown leaves its directory there */
    char cwd[400];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return -1;
    snprintf(srv.dir, sizeof srv.dir, "%s/redis-XXXXXX", cwd);
    if (mkdtemp(srv.dir) == NULL) {
        srv.dir[0] = '\0';
        return -1;
    }
    char log[600];
    snprintf(log, sizeof log, "%s/redis.log", srv.dir);
    int tied = setpriv_path[0] != '\0';
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = eddy_test_free_port();
        if (port < 0)
            return -1;
        char ports[16];
        snprintf(ports, sizeof ports, "%d", port);
        char *argv[] = { setpriv_path, "--pdeathsig", "KILL", "--",
                         server_path, "--port", ports, "--bind", "127.0.0.1",
                         "--save", "", "--appendonly", "no", "--daemonize", "no",
                         "--dir", srv.dir, "--logfile", log, NULL };
        char **args = tied ? argv : argv + 4;
        pid_t pid;
        if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0)
            return -1;
        srv.pid = pid;
        srv.port = port;
        int64_t until = eddy_test_now_ms() + 10000;
        while (eddy_test_now_ms() < until) {
            if (waitpid(pid, NULL, WNOHANG) == pid) { /* exited: port taken? */
                srv.pid = -1;
                break;
            }
            if (answers_ping(port))
                return 0;
            struct timespec ts = { 0, 10 * 1000000 };
            nanosleep(&ts, NULL);
        }
        if (srv.pid > 0) { /* up but silent for 10 s: give up */
            eddy_test_redis_kill();
            return -1;
        }
    }
    return -1;
}

int eddy_test_redis_setup(void **state)
{
    (void)state;
    if (server_start() < 0) {
        fprintf(stderr, "could not start %s; its log:\n", server_path);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cat '%s/redis.log' >&2", srv.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "(none)\n");
        eddy_test_redis_kill();
        return -1;
    }
    return 0;
}

int eddy_test_redis_teardown(void **state)
{
    (void)state;
    eddy_test_redis_kill();
    return 0;
}

int eddy_test_redis_main(const char *file, const struct CMUnitTest *tests, size_t n, int argc,
                         char **argv, unsigned watchdog_s)
{
    find_program("setpriv", setpriv_path, sizeof setpriv_path);
    if (find_program("redis-server", server_path, sizeof server_path) < 0) {
        printf("redis-server not installed (apt-get install redis-server): skipping\n");
        return 77; /* ctest: skipped (SKIP_RETURN_CODE) */
    }
    atexit(eddy_test_redis_kill); /* the watchdog's _exit: see server_start */
    return eddy_test_run(file, tests, n, argc, argv, watchdog_s);
}
