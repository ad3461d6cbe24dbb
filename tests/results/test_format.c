/*
 * test_format.c — pbr_format_value: the scales every table, summary and chart
 * label share, each style's precision, rounding across a scale boundary, and
 * truncation; and pbr_escape/pbr_printable/pbr_json_print, which make text
 * from a file safe to print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results.h"

typedef struct row {
    const char *unit;
    double v;
    pbr_format_style style;
    const char *want;
} row;

static void test_table(void **state)
{
    (void)state;
    static const row rows[] = {
        {"ns", 250, PBR_FORMAT_TABLE, "250.0 ns"},
        {"ns", 11800, PBR_FORMAT_TABLE, "11.80 us"},
        {"ns", 2.5e6, PBR_FORMAT_TABLE, "2.50 ms"},
        {"ns", 3e9, PBR_FORMAT_TABLE, "3.000 s"},
        {"ns", 250, PBR_FORMAT_SHORT, "250 ns"},
        {"ns", 11800, PBR_FORMAT_SHORT, "11.8 us"},
        {"ns", 11800, PBR_FORMAT_CHART, "11.8 µs"},
        {"ns", 999.97, PBR_FORMAT_TABLE, "1.00 us"}, /* rounds into the next scale */
        {"ns", 999.97, PBR_FORMAT_SHORT, "1 us"},
        {"tasks/s", 181300, PBR_FORMAT_TABLE, "181.3k tasks/s"},
        {"tasks/s", 181300, PBR_FORMAT_SHORT, "181k tasks/s"},
        {"tasks/s", 3.19e6, PBR_FORMAT_SHORT, "3.19M tasks/s"},
        {"bytes/s", 2.5e9, PBR_FORMAT_TABLE, "2.50 GB/s"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char buf[64];
        pbr_format_value(buf, sizeof buf, rows[i].unit, rows[i].v, rows[i].style);
        if (strcmp(buf, rows[i].want))
            fail_msg("row %zu: %g %s gave '%s', want '%s'", i, rows[i].v, rows[i].unit, buf,
                     rows[i].want);
    }
}

static void test_other_units_and_truncation(void **state)
{
    (void)state;
    char buf[64];
    pbr_format_value(buf, sizeof buf, "count", 42, PBR_FORMAT_SHORT);
    assert_non_null(strstr(buf, "42"));
    pbr_format_value(buf, sizeof buf, NULL, 1.5, PBR_FORMAT_SHORT);
    assert_non_null(strstr(buf, "1.5"));
    char tiny[5];
    memset(tiny, 'x', sizeof tiny);
    pbr_format_value(tiny, sizeof tiny, "ns", 11800, PBR_FORMAT_TABLE);
    assert_int_equal(tiny[sizeof tiny - 1], '\0');
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

static void test_escape(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } rows[] = {
        {"thread", "thread"},
        {"µs ±", "µs ±"},                     /* UTF-8 text stays */
        {"a\nb\tc\rd", "a\\nb\\tc\\rd"},
        {"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
        {"bell\x07 del\x7f", "bell\\x07 del\\x7f"},
        {"csi\xc2\x9b" "2J", "csi\\u009b2J"},     /* C1 control U+009B */
        {"bad\xff\xc3(", "bad\\xff\\xc3("}, /* not UTF-8 */
        {"over\xc0\xaflong", "over\\xc0\\xaflong"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t need = pbr_escape(buf, sizeof buf, rows[i].in);
        assert_string_equal(buf, rows[i].want);
        assert_int_equal(need, strlen(rows[i].want));
        assert_string_equal(pbr_printable(rows[i].in), rows[i].want);
    }
    /* Clean text is handed back as it is; NULL prints as "". */
    const char *clean = "roundtrip";
    assert_ptr_equal(pbr_printable(clean), clean);
    assert_string_equal(pbr_printable(NULL), "");
    /* Truncation never cuts an escape in half. */
    char tiny[6];
    assert_int_equal(pbr_escape(tiny, sizeof tiny, "ab\x1b[1m"), strlen("ab\\x1b[1m"));
    assert_string_equal(tiny, "ab");
    /* As many escaped texts as slots stay valid at once. */
    const char *held[PBR_PRINTABLE_SLOTS];
    char text[PBR_PRINTABLE_SLOTS][16];
    for (int i = 0; i < PBR_PRINTABLE_SLOTS; i++) {
        snprintf(text[i], sizeof text[i], "%d\n", i);
        held[i] = pbr_printable(text[i]);
    }
    for (int i = 0; i < PBR_PRINTABLE_SLOTS; i++) {
        snprintf(buf, sizeof buf, "%d\\n", i);
        assert_string_equal(held[i], buf);
    }
}

static void test_json_print(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s}", "b", "x\xc2\x9by\x1b\xc2\xb5");
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_int_equal(pbr_json_print(j, f, JSON_COMPACT), 0);
    fclose(f);
    /* C0 by JSON's own escape, C1 as \u009B, µ as itself; and it reads
     * back as the same string. */
    assert_string_equal(out, "{\"b\":\"x\\u009By\\u001B\xc2\xb5\"}");
    json_t *back = json_loads(out, 0, NULL);
    assert_non_null(back);
    assert_true(json_equal(j, back));
    json_decref(back);
    json_decref(j);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_other_units_and_truncation),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_json_print),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
