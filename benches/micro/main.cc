// benches/micro/main.cc: eddy_micro, the Google Benchmark harness (C++17)
// over the C workloads of workloads.c and internals.c.
//
// Runtime benchmarks mirror the Tokio and Go peer programs (the directory
// PEERS_RUNTIME names, see benches/run_peers.sh) and take the worker count
// as their argument (spawn_many_local/workers:2/real_time):
// the runtime is created once per run of the benchmark function, outside the
// timed loop, one repetition warms it up (stack pools, first mappings), and
// each iteration is then one repetition of the workload. Time is wall time
// (UseRealTime: the work happens on the workers, not on this thread), and
// items_per_second counts the peers' operations (tasks, yields, round trips,
// spawns, messages), so ns/op = 1e9 / items_per_second.
//
// Internal microbenchmarks (fiber_switch, deque_*, timer_insert_cancel,
// chan_try_send_recv) run a batch per iteration; items = operations.
//
//   eddy_micro [--benchmark_filter=REGEX] [--benchmark_format=json] ...
//   EDDY_BENCH_HANG_S=60: abort with a report when one repetition hangs
//   (0: no watchdog).

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
#include "benches/micro/workloads.h"
#include <eddy/common.h>
}

namespace {

std::string error_text(const char *what, int64_t rc) {
    return std::string(what) + ": " + eddy_strerror(static_cast<int>(rc));
}

// ------------------------------------------------------------ runtime

using Workload = int64_t (*)(eb_ctx *);

void run_workload(benchmark::State &state, Workload fn) {
    const unsigned workers = static_cast<unsigned>(state.range(0));
    eb_ctx *ctx = nullptr;
    int rc = eb_ctx_new(&ctx, workers);
    if (rc < 0) {
        state.SkipWithError(error_text("eddy_rt_new", rc).c_str());
        return;
    }
    int64_t ops = fn(ctx); // warm-up repetition, untimed
    if (ops < 0) {
        state.SkipWithError(error_text("warm-up repetition", ops).c_str());
        eb_ctx_free(ctx);
        return;
    }
    int64_t total = 0;
    for (auto _ : state) {
        ops = fn(ctx);
        if (ops < 0) {
            state.SkipWithError(error_text("repetition", ops).c_str());
            break;
        }
        total += ops;
    }
    state.SetItemsProcessed(total);
    eb_ctx_free(ctx);
}

template <Workload Fn> void BM_runtime(benchmark::State &state) {
    run_workload(state, Fn);
}

// ----------------------------------------------------------- internals

constexpr uint32_t kBatch = 1024;

void BM_fiber_switch(benchmark::State &state) {
    eb_fibers *f = nullptr;
    int rc = eb_fibers_new(&f);
    if (rc < 0) {
        state.SkipWithError(error_text("eb_fibers_new", rc).c_str());
        return;
    }
    int64_t total = 0;
    for (auto _ : state)
        total += eb_fibers_run(f, 2 * kBatch);
    state.SetItemsProcessed(total);
    eb_fibers_free(f);
}

template <bool Steal> void BM_deque(benchmark::State &state) {
    eb_deques *d = nullptr;
    int rc = eb_deques_new(&d);
    if (rc < 0) {
        state.SkipWithError(error_text("eb_deques_new", rc).c_str());
        return;
    }
    int64_t total = 0;
    for (auto _ : state) {
        int64_t n = Steal ? eb_deque_steal(d) : eb_deque_push_pop(d, kBatch);
        if (n < 0) {
            state.SkipWithError(error_text("deque", n).c_str());
            break;
        }
        total += n;
    }
    state.SetItemsProcessed(total);
    eb_deques_free(d);
}

void BM_timer_insert_cancel(benchmark::State &state) {
    eb_wheel *w = nullptr;
    int rc = eb_wheel_new(&w, static_cast<uint32_t>(state.range(0)));
    if (rc < 0) {
        state.SkipWithError(error_text("eb_wheel_new", rc).c_str());
        return;
    }
    int64_t total = 0;
    for (auto _ : state) {
        int64_t n = eb_wheel_insert_cancel(w, kBatch);
        if (n < 0) {
            state.SkipWithError(error_text("wheel", n).c_str());
            break;
        }
        total += n;
    }
    state.SetItemsProcessed(total);
    eb_wheel_free(w);
}

void BM_chan_try_send_recv(benchmark::State &state) {
    eb_chan_try *c = nullptr;
    int rc = eb_chan_try_new(&c, EB_CHAN_CAP);
    if (rc < 0) {
        state.SkipWithError(error_text("eddy_chan_new", rc).c_str());
        return;
    }
    int64_t total = 0;
    for (auto _ : state) {
        int64_t n = eb_chan_try_run(c, kBatch);
        if (n < 0) {
            state.SkipWithError(error_text("try_send/try_recv", n).c_str());
            break;
        }
        total += n;
    }
    state.SetItemsProcessed(total);
    eb_chan_try_free(c);
}

} // namespace

// The peers' workloads, 1 and 2 workers (Tokio current_thread / multi_thread
// with 2 workers; Go GOMAXPROCS 1 / 2).
#define EB_PEER_BENCH(name, fn)                                                    \
    BENCHMARK(BM_runtime<fn>)->Name(name)->ArgName("workers")->Arg(1)->Arg(2)      \
        ->UseRealTime()

EB_PEER_BENCH("spawn_many_local", eb_spawn_many_local);
EB_PEER_BENCH("spawn_many_remote", eb_spawn_many_remote);
EB_PEER_BENCH("yield_many", eb_yield_many);
EB_PEER_BENCH("ping_pong", eb_ping_pong);
EB_PEER_BENCH("chained_spawn", eb_chained_spawn);
EB_PEER_BENCH("channel_throughput", eb_channel_throughput);

// Children under a scope beside plain spawn + join (items = children).
EB_PEER_BENCH("spawn_join", eb_spawn_join);
EB_PEER_BENCH("scope_spawn_close", eb_scope_spawn_close);
EB_PEER_BENCH("spawn_join_each", eb_spawn_join_each);
EB_PEER_BENCH("scope_each", eb_scope_each);

// Two tasks yielding to each other on one worker: items = task switches.
BENCHMARK(BM_runtime<eb_task_switch>)->Name("task_switch")->ArgName("workers")->Arg(1)
    ->UseRealTime();

BENCHMARK(BM_fiber_switch)->Name("fiber_switch")->UseRealTime();
BENCHMARK(BM_deque<false>)->Name("deque_push_pop")->UseRealTime();
BENCHMARK(BM_deque<true>)->Name("deque_steal")->UseRealTime();
BENCHMARK(BM_timer_insert_cancel)->Name("timer_insert_cancel")->ArgName("armed")
    ->Arg(10000)->UseRealTime();
BENCHMARK(BM_chan_try_send_recv)->Name("chan_try_send_recv")->UseRealTime();

int main(int argc, char **argv) {
    unsigned hang_s = 60;
    if (const char *env = std::getenv("EDDY_BENCH_HANG_S"))
        hang_s = static_cast<unsigned>(std::strtoul(env, nullptr, 10));
    eb_watchdog_start(hang_s);

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
