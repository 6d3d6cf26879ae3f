/*
 * benches/models/main.c: eddy-bench, the three-model benchmark suite.
 *
 *   eddy-bench models [...]   the suite (driver.c; --help for options)
 *   eddy-bench serve  [...]   the server under test (serve.c)
 *   eddy-bench fanout [...]   the fan-out client under test (fanout.c)
 *   eddy-bench origin [...]   the fan-out workload's origin (fanout.c)
 *
 * The last three are what `models` starts; they can be run by hand to
 * look at one model alone.
 */
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "fanout.h"
#include "serve.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: eddy-bench models [--quick|--full] [--workload fanout|server|mixed]"
               " [--out DIR] [...]\n"
               "       eddy-bench serve|fanout|origin [...]   (one process of the suite)\n"
               "       eddy-bench <command> --help\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "models") == 0)
        return models_main(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "fanout") == 0)
        return fanout_main(argc - 1, argv + 1);
    if (strcmp(cmd, "origin") == 0)
        return origin_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "eddy-bench: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
