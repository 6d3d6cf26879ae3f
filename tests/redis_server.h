/*
 * tests/redis_server.h: a redis-server for the tests that need one
 * (tests/redis_server.c). Use eddy_test_redis_setup / _teardown as the
 * cmocka setup and teardown of each test that talks to it, and
 * EDDY_TEST_REDIS_MAIN instead of EDDY_TEST_MAIN: it skips the file (exit
 * 77) where redis-server is not installed.
 */
#ifndef EDDY_TESTS_REDIS_SERVER_H
#define EDDY_TESTS_REDIS_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "helpers.h"

struct eddy_test_redis {
    pid_t pid;     /* -1: none */
    int port;
    char dir[512]; /* its working directory, for its log */
};
/* The server of the running test. */
extern struct eddy_test_redis srv;

/* A loopback port nobody listens on now, or -1. */
int eddy_test_free_port(void);
/* Starts the server (cmocka setup: 0, or -1 with its log on stderr). */
int eddy_test_redis_setup(void **state);
/* Kills it and removes its directory (cmocka teardown: 0). */
int eddy_test_redis_teardown(void **state);
void eddy_test_redis_kill(void);
int eddy_test_redis_main(const char *file, const struct CMUnitTest *tests, size_t n, int argc,
                         char **argv, unsigned watchdog_s);

/* A cmocka test that runs with its own server. */
#define EDDY_TEST_WITH_REDIS(t) \
    cmocka_unit_test_setup_teardown(t, eddy_test_redis_setup, eddy_test_redis_teardown)

#define EDDY_TEST_REDIS_MAIN(tests, watchdog_s)                                           \
    int main(int argc, char **argv)                                                       \
    {                                                                                     \
        return eddy_test_redis_main(__FILE__, tests, sizeof(tests) / sizeof((tests)[0]),  \
                                    argc, argv, (watchdog_s));                            \
    }

#endif
