/*
 * tests/http/origin.c: runs tests/http/origin.py with posix_spawn (not
 * fork: fork in a ThreadSanitizer build with jemalloc crashes TSan), reads
 * its ports from its first line, and talks to its control port over a
 * plain blocking socket.
 */
#include "origin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int eddy_test_origin_start(struct eddy_test_origin *o)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = { "python3", EDDY_TEST_ORIGIN_PY, NULL };
    int rc = posix_spawnp(&o->pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        fprintf(stderr, "origin: python3 not found (%s): skipping\n", strerror(rc));
        return -1;
    }
    o->stdin_fd = in[1];
    char line[128];
    size_t got = 0;
    while (got + 1 < sizeof line) {
        ssize_t n = read(out[0], line + got, 1);
        if (n <= 0 || line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(out[0]);
    if (sscanf(line, "PORTS %d %d", &o->port, &o->control_port) != 2) {
        fprintf(stderr, "origin: did not start (said '%s')\n", line);
        eddy_test_origin_stop(o);
        return -2;
    }
    return 0;
}

void eddy_test_origin_stop(struct eddy_test_origin *o)
{
    if (o->stdin_fd >= 0)
        close(o->stdin_fd);
    o->stdin_fd = -1;
    if (o->pid > 0) {
        /* it exits when its stdin closes; a hung one is killed */
        for (int i = 0; i < 200; i++) {
            if (waitpid(o->pid, NULL, WNOHANG) == o->pid) {
                o->pid = 0;
                return;
            }
            usleep(10000);
        }
        kill(o->pid, SIGKILL);
        waitpid(o->pid, NULL, 0);
        o->pid = 0;
    }
}

static int control_get(const struct eddy_test_origin *o, const char *path, char *buf, size_t len)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->control_port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (write(s, req, (size_t)n) != n) {
        close(s);
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t r = read(s, buf + got, len - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got + 1 >= len)
            break;
    }
    buf[got] = '\0';
    close(s);
    return 0;
}

long eddy_test_origin_stat(const struct eddy_test_origin *o, const char *key)
{
    static char buf[65536];
    if (control_get(o, "/stats", buf, sizeof buf) != 0)
        return -1;
    char pat[256];
    if (strncmp(key, "path:", 5) == 0)
        snprintf(pat, sizeof pat, "\"%s\": ", key + 5);
    else
        snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(buf, "\r\n\r\n");
    p = p != NULL ? strstr(p, pat) : NULL;
    if (p == NULL)
        return strncmp(key, "path:", 5) == 0 ? 0 : -1;
    return strtol(p + strlen(pat), NULL, 10);
}

void eddy_test_origin_reset_stats(const struct eddy_test_origin *o)
{
    char buf[4096];
    (void)control_get(o, "/reset-stats", buf, sizeof buf);
}

bool eddy_test_origin_wait_idle(const struct eddy_test_origin *o, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (eddy_test_origin_stat(o, "conns_now") == 0 && eddy_test_origin_stat(o, "inflight") == 0)
            return true;
        usleep(5000);
    }
    return false;
}

const char *eddy_test_origin_url(const struct eddy_test_origin *o, const char *path, char *buf,
                                 size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%d%s", o->port, path);
    return buf;
}

int eddy_test_closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        a.sin_port = htons(1);
    if (s >= 0)
        close(s);
    return ntohs(a.sin_port);
}
