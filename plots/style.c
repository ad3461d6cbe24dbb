/*
 * style.c — one colour and one marker per backend, by name, in every chart
 * and every run.
 *
 * DESIGN
 *
 * A backend's look is decided by its name alone, never by which backends a
 * run happens to hold or in what order: glib is the same pink in the
 * latency chart, the throughput chart, this run's report and last month's.
 * Each known backend has a slot (1-12) in the table below; common.gp gives
 * slot i its colour and marker (filled shapes). A name the table does not
 * know (a plugin's pool: "external", "mypool") is hashed (FNV-1a) into the
 * reserve slots 13-20, so it too keeps its look from run to run; two
 * unknown names may then share a slot (8 reserve colours), told apart by
 * their legend.
 *
 * A backend with settings ("fork:transport=shm", "py-process:start_method=
 * spawn") takes its base backend's slot in another line style: the line
 * types are slot + PB__PLOT_SLOTS * style, style 0 solid with filled
 * markers, 1 dashed, 2 dotted, 3 dash-dot, each with the open twin of the
 * marker, so a variant reads as "fork, differently" and never as another
 * pool. The settings pick the style (a hash of the settings text, 1-3), so
 * one variant keeps its style from chart to chart; further series of the
 * same backend in one chart (other parameter values) step through the
 * styles from there (pb__plot_series_lt).
 *
 * For a chart's author: an extractor gives each series the line type
 * pb__plot_series_lt(pb__plot_fixed_lt(backend), k) (k counts the earlier
 * series of the same backend in that chart), passes them to its script as
 * `lts`, and the script draws series i with `lt lt_of(i)` after loading
 * common.gp. That is the whole of it; extract.c's selection helpers do the
 * first part for any chart built on them.
 */
#include <stdint.h>
#include <string.h>

#include "plot-int.h"

/* Slots 1..12, in the order of common.gp's palette. */
static const char *const known[] = {"thread",  "fork",   "exec",      "glib",
                                    "libuv",   "tbb",    "openmp",    "asio",
                                    "mpi",     "py-thread", "py-process", "py-mp"};
#define PB__PLOT_KNOWN (sizeof known / sizeof known[0])

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int pb__plot_fixed_lt(const char *backend)
{
    size_t base = strcspn(backend, ":");
    int slot = 0;
    for (size_t i = 0; i < PB__PLOT_KNOWN && !slot; i++)
        if (strlen(known[i]) == base && !strncmp(known[i], backend, base))
            slot = (int)i + 1;
    if (!slot)
        slot = (int)PB__PLOT_KNOWN + 1 +
               (int)(fnv1a(backend, base) % (PB__PLOT_SLOTS - PB__PLOT_KNOWN));
    int style = 0;
    if (backend[base] == ':')
        style = 1 + (int)(fnv1a(backend + base + 1, strlen(backend + base + 1)) % 3);
    return slot + PB__PLOT_SLOTS * style;
}

int pb__plot_series_lt(int backend_lt, size_t k)
{
    int slot = (backend_lt - 1) % PB__PLOT_SLOTS + 1;
    int style = (backend_lt - 1) / PB__PLOT_SLOTS;
    return slot + PB__PLOT_SLOTS * (int)(((size_t)style + k) % PB__PLOT_STYLES);
}
