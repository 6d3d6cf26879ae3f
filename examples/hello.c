/* examples/hello.c: the README's example. A task fans out 10 workers that
   sleep and send their square over a channel; the root sums them. */
#include <eddy.h>
#include <stdint.h>
#include <stdio.h>

static eddy_chan *results;

static void *square(void *arg)
{
    long n = (long)(intptr_t)arg;
    eddy_sleep_ms(10 * n);              /* suspends this task, not the thread */
    long sq = n * n;
    eddy_chan_send(results, &sq);
    return NULL;
}

static void *root(void *arg)
{
    long sum = 0, v;
    for (long i = 1; i <= 10; i++)
        eddy_spawn(NULL, square, (void *)(intptr_t)i);   /* detached */
    for (int i = 0; i < 10 && eddy_chan_recv(results, &v) == 0; i++)
        sum += v;
    printf("sum of squares 1..10 = %ld (on worker %d of %u)\n", sum,
           eddy_worker_index(), eddy_rt_workers(eddy_rt_current()));
    (void)arg;
    return (void *)(intptr_t)sum;
}

int main(void)
{
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, NULL);    /* one worker per CPU */
    if (rc < 0) {
        fprintf(stderr, "eddy_rt_new: %s\n", eddy_strerror(rc));
        return 1;
    }
    eddy_chan_new(&results, 16, sizeof(long));
    void *sum = NULL;
    rc = eddy_rt_block_on(rt, root, NULL, &sum);
    eddy_chan_free(results);
    eddy_rt_free(rt);
    return rc < 0 || (intptr_t)sum != 385; /* the exit status is the test's verdict */
}
