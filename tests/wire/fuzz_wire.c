/*
 * fuzz_wire.c — libFuzzer target for the frame decoder (clang only).
 *
 * Build with -DPB_FUZZ=ON and CC=clang; run as
 *     build/tests/wire/fuzz_wire tests/wire/corpus
 * Every input is decoded as a stream of frames, as the collector does; an
 * accepted frame must lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (;;) {
        pb__frame fr;
        uint64_t need = 0;
        char why[200];
        int r = pb__wire_decode(data + off, size - off, 1u << 24, &fr, &need, why, sizeof why);
        if (r != PB__WIRE_FRAME)
            return 0;
        if (need < PB__WIRE_HEADER || need > size - off)
            abort();
        const uint8_t *body = fr.body;
        if (body < data + off || body + fr.body_len != data + off + need)
            abort();
        off += (size_t)need;
    }
}
