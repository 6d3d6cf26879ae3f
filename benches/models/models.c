/*
 * benches/models/models.c: the models' names, one spelling everywhere, and
 * the number parsing every subcommand's options share.
 */
#include "models.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[MODEL_COUNT] = {
    [MODEL_THREADS] = "threads",
    [MODEL_THREAD_POOL] = "thread-pool",
    [MODEL_SINGLE_LOOP] = "single-loop",
    [MODEL_MULTI_REACTOR] = "multi-reactor",
    [MODEL_THREAD_PER_CORE] = "thread-per-core",
};

const char *model_name(enum model m)
{
    return (unsigned)m < MODEL_COUNT ? names[m] : NULL;
}

int model_parse(const char *s)
{
    for (int m = 0; s != NULL && m < MODEL_COUNT; m++)
        if (strcmp(s, names[m]) == 0)
            return m;
    return -1;
}

bool model_is_eddy(enum model m)
{
    return m == MODEL_SINGLE_LOOP || m == MODEL_MULTI_REACTOR || m == MODEL_THREAD_PER_CORE;
}

int parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}
