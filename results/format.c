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
 *
 * Text from a file goes through pbr_escape()/pbr_printable() on its way to
 * a person: a backend name is whatever a results file says, and "\x1b[2J"
 * or a newline in one must show as those characters, not act. Machine
 * formats that escape by their own rules (JSON) take the text as it is.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
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
    unit = pbr_printable(unit); /* a unit read from a file is shown as text */
    ul = strlen(unit);
    if (!strcmp(unit, "ns")) {
        put_scales(buf, len, v, style == PBR_FORMAT_CHART ? ns_chart_scales : ns_scales, "", style);
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

/* ------------------------------------------------------------------------
 * Text from a file
 * ------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at p (1..4), or 0 if there is none;
 * *cp gets its code point. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

size_t pbr_escape(char *buf, size_t len, const char *s)
{
    size_t need = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        char esc[8];
        const char *put = esc;
        size_t k;
        uint32_t cp;
        size_t n = utf8_seq(p, &cp);
        if (n == 0) {
            k = (size_t)snprintf(esc, sizeof esc, "\\x%02x", *p);
            n = 1;
        } else if (cp == '\n' || cp == '\t' || cp == '\r') {
            k = (size_t)snprintf(esc, sizeof esc, "\\%c", cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
        } else if (cp < 0x20 || cp == 0x7f) {
            k = (size_t)snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
        } else if (cp >= 0x80 && cp <= 0x9f) {
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
        } else {
            put = (const char *)p;
            k = n;
        }
        if (buf && need + k < len)
            memcpy(buf + need, put, k);
        else if (buf && need < len)
            len = need + 1; /* truncated: stop copying, keep counting */
        need += k;
        p += n;
    }
    if (buf && len > 0)
        buf[need < len ? need : len - 1] = '\0';
    return need;
}

const char *pbr_printable(const char *s)
{
    static _Thread_local char *slot[PBR_PRINTABLE_SLOTS];
    static _Thread_local size_t room[PBR_PRINTABLE_SLOTS];
    static _Thread_local unsigned next;
    if (!s)
        return "";
    size_t need = pbr_escape(NULL, 0, s);
    if (need == strlen(s)) {
        /* Nothing escaped has the same length only if nothing changed: an
         * escape is always longer than what it stands for. */
        return s;
    }
    unsigned i = next++ % PBR_PRINTABLE_SLOTS;
    if (room[i] < need + 1) {
        char *grown = realloc(slot[i], need + 1);
        if (!grown)
            return "?";
        slot[i] = grown;
        room[i] = need + 1;
    }
    pbr_escape(slot[i], need + 1, s);
    return slot[i];
}

/* json_dump_callback's sink: bytes to a FILE, with the UTF-8 encoding of a
 * C1 control (C2 80..C2 9F, which inside a JSON text can only be part of a
 * string) written as a \u escape. A C2 ending one chunk waits for the next. */
typedef struct json_sink {
    FILE *out;
    bool held; /* a C2 byte not yet written */
} json_sink;

static int json_sink_put(const char *buf, size_t size, void *ud)
{
    json_sink *k = ud;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (k->held) {
            k->held = false;
            if (c >= 0x80 && c <= 0x9f) {
                if (fprintf(k->out, "\\u%04X", c) < 0)
                    return -1;
                continue;
            }
            if (fputc(0xc2, k->out) == EOF)
                return -1;
        }
        if (c == 0xc2)
            k->held = true;
        else if (fputc(c, k->out) == EOF)
            return -1;
    }
    return 0;
}

int pbr_json_print(const json_t *json, FILE *out, size_t flags)
{
    json_sink k = {.out = out};
    int rc = json_dump_callback(json, json_sink_put, &k, flags);
    if (rc == 0 && k.held && fputc(0xc2, out) == EOF)
        rc = -1;
    return rc;
}
