/*
 * tests/bench/test_models_cli.c: `eddy-bench models` options (cli.c): the
 * modes' defaults, every tuning option, and bad input refused with a
 * message naming the option; the model names; the shared handler's
 * request parsing and answers (work.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../benches/models/cli.h"
#include "../benches/models/work.h"

static int parse(models_opts *o, char *err, const char *first, ...)
{
    char *argv[64] = { "models" };
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = models_parse(argc, argv, o, devnull, err, 256);
    fclose(devnull);
    return rc;
}

static void the_modes_set_their_sweeps(void **state)
{
    (void)state;
    models_opts o;
    char err[256];
    assert_int_equal(parse(&o, err, NULL), 0);
    assert_false(o.full);
    assert_int_equal(o.workloads, WL_ALL);
    assert_int_equal(o.models, (1u << MODEL_COUNT) - 1);
    assert_int_equal(o.rounds, 1);
    assert_string_equal(o.out, "models-out");
    assert_int_equal(parse(&o, err, "--full", NULL), 0);
    assert_true(o.full);
    assert_int_equal(o.rounds, 5);
    /* the full sweep reaches 10 and 10,000 */
    assert_int_equal(o.conns.v[0], 10);
    assert_int_equal(o.conns.v[o.conns.n - 1], 10000);
    assert_int_equal(o.fanout_c.v[0], 10);
    assert_int_equal(o.fanout_c.v[o.fanout_c.n - 1], 10000);
    /* options after or before the mode override its defaults */
    assert_int_equal(parse(&o, err, "--rounds", "3", "--full", NULL), 0);
    assert_int_equal(o.rounds, 3);
    assert_int_equal(parse(&o, err, "--smoke", NULL), 0); /* the other name of --quick */
    assert_false(o.full);
    assert_int_equal(parse(&o, err, "--help", NULL), 1);
}

static void every_option_lands_in_its_field(void **state)
{
    (void)state;
    models_opts o;
    char err[256];
    assert_int_equal(parse(&o, err, "--workload", "fanout,mixed", "--models",
                           "threads,multi-reactor", "--out", "/tmp/x", "--rounds", "2",
                           "--duration-ms", "250", "--warmup-ms", "0", "--workers", "3",
                           "--lg-workers", "2", "--pool", "8", "--fanout-pool", "9", "--pin",
                           "--conns", "1,2,3", "--conns-p16", "4", "--conns-open", "5,6",
                           "--rate", "777", "--mixed-conns", "7", "--cpu-us", "50",
                           "--wait-us", "0", "--skew", "100", "--heavy-every", "5", "--mixed-load", "60", "--c",
                           "11,22", "--delay-ms", "3", "--per-c", "4", "--min-n", "10", NULL),
                     0);
    assert_int_equal(o.workloads, WL_FANOUT | WL_MIXED);
    assert_int_equal(o.models, (1u << MODEL_THREADS) | (1u << MODEL_MULTI_REACTOR));
    assert_string_equal(o.out, "/tmp/x");
    assert_int_equal(o.rounds, 2);
    assert_int_equal(o.duration_ms, 250);
    assert_int_equal(o.warmup_ms, 0);
    assert_int_equal(o.workers, 3);
    assert_int_equal(o.lg_workers, 2);
    assert_int_equal(o.pool, 8);
    assert_int_equal(o.fanout_pool, 9);
    assert_true(o.pin);
    assert_int_equal(o.conns.n, 3);
    assert_int_equal(o.conns.v[2], 3);
    assert_int_equal(o.conns_p16.v[0], 4);
    assert_int_equal(o.conns_open.n, 2);
    assert_int_equal(o.rate, 777);
    assert_int_equal(o.mixed_conns.v[0], 7);
    assert_int_equal(o.cpu_us, 50);
    assert_int_equal(o.wait_us, 0);
    assert_int_equal(o.skew, 100);
    assert_int_equal(o.heavy_every, 5);
    assert_int_equal(o.mixed_load, 60);
    assert_int_equal(o.fanout_c.n, 2);
    assert_int_equal(o.fanout_c.v[1], 22);
    assert_int_equal(o.delay_ms, 3);
    assert_int_equal(o.fanout_per_c, 4);
    assert_int_equal(o.fanout_min_n, 10);
    /* --workload repeated adds up; --opt=value works too */
    assert_int_equal(parse(&o, err, "--workload", "server", "--workload=fanout", "--rounds=4", NULL), 0);
    assert_int_equal(o.workloads, WL_SERVER | WL_FANOUT);
    assert_int_equal(o.rounds, 4);
}

static void bad_options_are_refused_by_name(void **state)
{
    (void)state;
    models_opts o;
    char err[256];
    static const struct { const char *a, *b, *says; } bad[] = {
        { "--workload", "disk", "unknown workload 'disk'" },
        { "--workload", "server,", "--workload" },
        { "--models", "fibers", "unknown model 'fibers'" },
        { "--rounds", "0", "--rounds must be a whole number from 1 to 16" },
        { "--rounds", "17", "--rounds" },
        { "--rounds", "two", "got 'two'" },
        { "--duration-ms", "-5", "--duration-ms" },
        { "--conns", "10,,100", "--conns must be a list" },
        { "--conns", "10,", "--conns" },
        { "--conns", "0", "--conns" },
        { "--c", "100001", "--c must be a list" },
        { "--out", "", "--out: empty" },
        { "--bogus", NULL, "unknown option '--bogus'" },
        { "extra", NULL, "unexpected argument 'extra'" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(parse(&o, err, bad[i].a, bad[i].b, NULL), -EINVAL);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("%s %s: message '%s' lacks '%s'", bad[i].a, bad[i].b ? bad[i].b : "", err,
                     bad[i].says);
    }
    assert_int_equal(parse(&o, err, "--rounds", NULL), -EINVAL);
    assert_non_null(strstr(err, "--rounds needs a value"));
    assert_int_equal(parse(&o, err, "--quick", "--full", NULL), -EINVAL);
    assert_non_null(strstr(err, "exclude"));
    /* 17 points: one more than a list holds */
    assert_int_equal(parse(&o, err, "--c", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", NULL),
                     -EINVAL);
}

static void model_names_are_one_spelling(void **state)
{
    (void)state;
    const char *names[] = { "threads", "thread-pool", "single-loop", "multi-reactor",
                            "thread-per-core" };
    for (int m = 0; m < MODEL_COUNT; m++) {
        assert_string_equal(model_name((enum model)m), names[m]);
        assert_int_equal(model_parse(names[m]), m);
    }
    assert_int_equal(model_parse("Threads"), -1);
    assert_int_equal(model_parse(NULL), -1);
    assert_null(model_name(MODEL_COUNT));
    assert_false(model_is_eddy(MODEL_THREADS));
    assert_true(model_is_eddy(MODEL_THREAD_PER_CORE));
}

static void the_handler_parses_and_answers_the_same_every_time(void **state)
{
    (void)state;
    work_req w;
    char a[64], b[64];
    assert_int_equal(work_parse("/", NULL, &w), 0);
    assert_true(w.plaintext);
    assert_int_equal(work_answer(&w, a, sizeof a), 13);
    assert_memory_equal(a, "Hello, World!", 13);
    assert_int_equal(work_parse("/work", "kib=3&wait_us=250", &w), 0);
    assert_int_equal(w.kib, 3);
    assert_int_equal(w.wait_us, 250);
    size_t n = work_answer(&w, a, sizeof a);
    assert_int_equal(n, 17); /* 16 hex digits and a newline */
    assert_int_equal(work_answer(&w, b, sizeof b), n);
    assert_memory_equal(a, b, n);
    /* different work, a different answer */
    w.kib = 4;
    work_answer(&w, b, sizeof b);
    assert_memory_not_equal(a, b, n);
    assert_int_equal(work_parse("/work", "", &w), 0);
    assert_int_equal(w.kib, 0);
    assert_int_equal(work_parse("/nope", NULL, &w), -ENOENT);
    assert_int_equal(work_parse("/work", "kib=x", &w), -EINVAL);
    assert_int_equal(work_parse("/work", "kib=1&wait_us=99999999999", &w), -EINVAL);
    assert_int_equal(work_parse("/work", "kib=5junk", &w), -EINVAL);
    /* the calibration measures something plausible: 10 ns to 100 us a KiB */
    double ns = work_ns_per_kib();
    assert_true(ns > 10 && ns < 100000);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(the_modes_set_their_sweeps),
    cmocka_unit_test(every_option_lands_in_its_field),
    cmocka_unit_test(bad_options_are_refused_by_name),
    cmocka_unit_test(model_names_are_one_spelling),
    cmocka_unit_test(the_handler_parses_and_answers_the_same_every_time),
};

EDDY_TEST_MAIN(tests, 60)
