/*
 * format.c — a value with its unit, scaled the way a person reads it.
 *
 * Every place poolbench shows a measurement to a person goes through
 * pbr_format_value(): the compare, export and history tables, the summary
 * `poolbench run` prints, and the labels of the charts. They share the
 * scales (which unit a value is shown in), so a latency reads "11.8 us" in
 * the run summary and "11.80 us" in compare, never "11800 ns" in one and
 * "0.0118 ms" in the other. The style picks only the precision and, for
 * charts, the spelling of microseconds:
 *
 *   PBR_FORMAT_TABLE  fixed decimals per scale, so columns of similar values
 *                     line up: "250.0 ns", "11.80 us", "181.3k tasks/s".
 *   PBR_FORMAT_SHORT  three significant digits: "250 ns", "11.8 us",
 *                     "181k tasks/s".
 *   PBR_FORMAT_CHART  as SHORT with "µs"; UTF-8, so not for columns whose
 *                     widths printf counts in bytes.
 *
 * A value whose rounding reaches the next scale is shown in that scale:
 * 999.97 ns is "1.00 us", not "1000.0 ns", and in SHORT not "1e+03 ns".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

/* One scale of a unit: values of magnitude `from` and up (until the next
 * scale) are divided by `from` and followed by `suffix`, with `decimals`
 * digits after the point in PBR_FORMAT_TABLE. */
typedef struct scale {
    double from;
    const char *suffix;
    int decimals;
} scale;

static const scale ns_scales[] = {
    {1, " ns", 1}, {1e3, " us", 2}, {1e6, " ms", 2}, {1e9, " s", 3}, {0, NULL, 0}};
static const scale ns_chart_scales[] = {
    {1, " ns", 1}, {1e3, " µs", 2}, {1e6, " ms", 2}, {1e9, " s", 3}, {0, NULL, 0}};
/* Sizes (memory): binary multiples, as /proc and ps count them. */
static const scale bytes_scales[] = {{1, " B", 0},
                                     {1024.0, " KiB", 1},
                                     {1024.0 * 1024, " MiB", 2},
                                     {1024.0 * 1024 * 1024, " GiB", 2},
                                     {0, NULL, 0}};
static const scale bytes_rate_scales[] = {
    {1, " B/s", 0}, {1e3, " kB/s", 2}, {1e6, " MB/s", 2}, {1e9, " GB/s", 2}, {0, NULL, 0}};
/* Any other "<something>/s": the multiplier goes before the unit, which
 * follows ("181.3k tasks/s"). */
static const scale rate_scales[] = {{1, " ", 1}, {1e3, "k ", 1}, {1e6, "M ", 2}, {0, NULL, 0}};

/* v / s->from as the style prints it; returns what snprintf returns. */
static int put_scaled(char *buf, size_t len, double v, const scale *s, pbr_format_style style)
{
    if (style == PBR_FORMAT_TABLE)
        return snprintf(buf, len, "%.*f", s->decimals, v / s->from);
    return snprintf(buf, len, "%.3g", v / s->from);
}

static void put_scales(char *buf, size_t len, double v, const scale *scales, const char *unit,
                       pbr_format_style style)
{
    double a = fabs(v);
    const scale *s = scales;
    while (s[1].suffix && a >= s[1].from)
        s++;
    /* Rounding may carry the number up to the next scale (999.97 ns at one
     * decimal is "1000.0"): show it there instead. */
    char num[64];
    put_scaled(num, sizeof num, v, s, style);
    if (s[1].suffix && fabs(strtod(num, NULL)) * s->from >= s[1].from) {
        s++;
        put_scaled(num, sizeof num, v, s, style);
    }
    snprintf(buf, len, "%s%s%s", num, s->suffix, unit);
}

void pbr_format_value(char *buf, size_t len, const char *unit, double v, pbr_format_style style)
{
    bool table = style == PBR_FORMAT_TABLE;
    size_t ul;
    if (!unit)
        unit = "";
    ul = strlen(unit);
    if (!strcmp(unit, "ns")) {
        put_scales(buf, len, v, style == PBR_FORMAT_CHART ? ns_chart_scales : ns_scales, "", style);
    } else if (!strcmp(unit, "bytes")) {
        put_scales(buf, len, v, bytes_scales, "", style);
    } else if (!strcmp(unit, "bytes/s")) {
        put_scales(buf, len, v, bytes_rate_scales, "", style);
    } else if (ul > 2 && !strcmp(unit + ul - 2, "/s")) {
        put_scales(buf, len, v, rate_scales, unit, style);
    } else if (!strcmp(unit, "%")) {
        snprintf(buf, len, table ? "%.1f%%" : "%.3g%%", v);
    } else if (!strcmp(unit, "count")) {
        if (v == floor(v) && fabs(v) < 1e15)
            snprintf(buf, len, "%.0f", v);
        else
            snprintf(buf, len, table ? "%.2f" : "%.3g", v);
    } else if (!strcmp(unit, "ratio")) {
        snprintf(buf, len, table ? "%.3f" : "%.3g", v);
    } else if (table) {
        snprintf(buf, len, "%.4g %s", v, unit);
    } else {
        snprintf(buf, len, "%.3g%s%s", v, *unit ? " " : "", unit);
    }
}
