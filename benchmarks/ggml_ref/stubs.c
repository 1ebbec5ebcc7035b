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

// The block layouts of the types the benchmark runs: quantize_* step through the rows with ggml_row_size.
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
        case GGML_TYPE_IQ2_XXS: *elems = 256, *bytes = 66; return;
        case GGML_TYPE_IQ2_XS: *elems = 256, *bytes = 74; return;
        case GGML_TYPE_IQ2_S: *elems = 256, *bytes = 82; return;
        case GGML_TYPE_IQ3_XXS: *elems = 256, *bytes = 98; return;
        case GGML_TYPE_IQ3_S: *elems = 256, *bytes = 110; return;
        case GGML_TYPE_IQ1_S: *elems = 256, *bytes = 50; return;
        case GGML_TYPE_IQ1_M: *elems = 256, *bytes = 56; return;
        case GGML_TYPE_TQ1_0: *elems = 256, *bytes = 54; return;
        case GGML_TYPE_TQ2_0: *elems = 256, *bytes = 66; return;
        case GGML_TYPE_MXFP4: *elems = 32, *bytes = 17; return;
        case GGML_TYPE_NVFP4: *elems = 64, *bytes = 36; return;
        case GGML_TYPE_Q1_0: *elems = 128, *bytes = 18; return;
        case GGML_TYPE_Q2_0: *elems = 64, *bytes = 18; return;
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
