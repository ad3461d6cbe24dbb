/*
 * test_format.c — pbr_format_value: the scales every table, summary and chart
 * label share, each style's precision, rounding across a scale boundary, and
 * truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
        {"bytes", 811520, PBR_FORMAT_TABLE, "792.5 KiB"}, /* memory: binary multiples */
        {"bytes", 4321280, PBR_FORMAT_SHORT, "4.12 MiB"},
        {"bytes", 512, PBR_FORMAT_TABLE, "512 B"},
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_other_units_and_truncation),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
