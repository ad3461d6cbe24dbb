// gbench_reference.cc — a Google Benchmark program whose repetitions take
// times, and process items and bytes, chosen in advance, so that its JSON
// shows how Google Benchmark itself reports and aggregates them. The test
// beside it (gbench_tools.py) exports a poolbench results file holding the
// same per-repetition values and checks our rows against these, row by row.
//
// Each repetition runs one iteration whose (manual) time is the next value
// of $POOLBENCH_GB_TIMES_NS (comma-separated nanoseconds); it processes one
// item and POOLBENCH_GB_BYTES bytes, so Google Benchmark reports
// items_per_second = 1 / time and bytes_per_second = bytes / time (rates
// use the manual time when a benchmark sets one).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

static std::vector<double> times_ns()
{
    std::vector<double> v;
    const char *s = std::getenv("POOLBENCH_GB_TIMES_NS");
    while (s && *s) {
        char *end;
        v.push_back(std::strtod(s, &end));
        s = *end == ',' ? end + 1 : end + std::string(end).size();
    }
    return v;
}

static void BM_reference(benchmark::State &state)
{
    static const std::vector<double> times = times_ns();
    static size_t rep = 0;
    const char *b = std::getenv("POOLBENCH_GB_BYTES");
    int64_t bytes = b ? std::strtoll(b, nullptr, 10) : 0;
    for (auto _ : state)
        state.SetIterationTime(times.at(rep % times.size()) * 1e-9);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * bytes);
    rep++;
}

BENCHMARK(BM_reference)->UseManualTime()->Iterations(1)->Repetitions(9);

BENCHMARK_MAIN();
