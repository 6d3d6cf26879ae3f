/* A program outside the tree, built against an installed eddy. */
#include <eddy.h>
#include <stdint.h>
#include <stdio.h>

static void *twice(void *arg)
{
    eddy_sleep_ms(1);
    return (void *)((uintptr_t)arg * 2);
}

int main(void)
{
    if (eddy_version() != EDDY_VERSION_HEX) {
        fprintf(stderr, "header/library version mismatch\n");
        return 1;
    }
    eddy_rt *rt;
    if (eddy_rt_new(&rt, NULL) < 0)
        return 1;
    void *r = NULL;
    int rc = eddy_rt_block_on(rt, twice, (void *)21, &r);
    eddy_rt_free(rt);
    printf("consumer: %s -> %lu\n", eddy_version_string(), (unsigned long)(uintptr_t)r);
    return rc == 0 && (uintptr_t)r == 42 ? 0 : 1;
}
