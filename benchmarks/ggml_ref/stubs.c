// The four ggml.c functions that ggml-quants.c calls, for kquant-bench-cpu-types built with
// -DKQUANT_GGML_DIR (ggml-quants.c is compiled alone, without ggml.c).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ggml.h"

void ggml_abort(const char* file, int line, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ggml_abort at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

// The block layouts of the twelve types the benchmark runs: quantize_* with an importance matrix step
// through the rows with ggml_row_size.
static void layout(enum ggml_type type, int64_t* elems, size_t* bytes) {
    switch (type) {
        case GGML_TYPE_Q4_0: *elems = 32, *bytes = 18; return;
        case GGML_TYPE_Q4_1: *elems = 32, *bytes = 20; return;
        case GGML_TYPE_Q5_0: *elems = 32, *bytes = 22; return;
        case GGML_TYPE_Q5_1: *elems = 32, *bytes = 24; return;
        case GGML_TYPE_Q8_0: *elems = 32, *bytes = 34; return;
        case GGML_TYPE_Q2_K: *elems = 256, *bytes = 84; return;
        case GGML_TYPE_Q3_K: *elems = 256, *bytes = 110; return;
        case GGML_TYPE_Q4_K: *elems = 256, *bytes = 144; return;
        case GGML_TYPE_Q5_K: *elems = 256, *bytes = 176; return;
        case GGML_TYPE_Q6_K: *elems = 256, *bytes = 210; return;
        case GGML_TYPE_IQ4_NL: *elems = 32, *bytes = 18; return;
        case GGML_TYPE_IQ4_XS: *elems = 256, *bytes = 136; return;
        default: ggml_abort(__FILE__, __LINE__, "type %d is not one the benchmark runs", (int)type);
    }
}

size_t ggml_row_size(enum ggml_type type, int64_t ne) {
    int64_t elems;
    size_t bytes;
    layout(type, &elems, &bytes);
    return bytes * (size_t)(ne / elems);
}

size_t ggml_type_size(enum ggml_type type) {
    int64_t elems;
    size_t bytes;
    layout(type, &elems, &bytes);
    return bytes;
}

const char* ggml_type_name(enum ggml_type type) {
    (void)type;
    return "?";
}
