// exp, erf and the exact GELU for float, as inline functions: the GELU kernels (kernels.c) and the products that apply
// GELU in their epilogue (f32_gemm.c, lowp_gemm.c) compile the same expressions, so a fused GELU gives the bits of
// the separate one built for the same CPU.
#ifndef BERTKIT_CKERNELS_GELU_H
#define BERTKIT_CKERNELS_GELU_H

#include "tiles.h"
#include <math.h>

// exp(x) for float: range reduction by ln 2 and a degree-6 polynomial (Cephes expf), about 1 ulp;
// branch-free so the loops around it vectorise. The argument is clamped to [-87.34, 88]: at Cephes' own upper
// bound (88.72283) the power of two is 2^128, which is +inf in float, and a masked attention key whose score
// exceeds the row's maximum by that much (a padding query attending to other padding) turned inf · 0 into NaN.
// Every caller passes arguments ≤ 0 except such masked keys, whose result is multiplied by 0.
static inline __attribute__((always_inline)) float bk_expf(float x) {
    x = fminf(fmaxf(x, -87.33654f), 88.0f);
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    union { int i; float f; } scale;
    scale.i = ((int)n + 127) << 23;
    return p * scale.f;
}

// erf(x), Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): the formula of torch's Vectorized<float>::erf.
static inline __attribute__((always_inline)) float bk_erff(float x) {
    float a = fabsf(x);
    float t = 1.0f / (0.3275911f * a + 1.0f);
    float r = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f);
    float e = 1.0f - r * t * bk_expf(-x * x);
    return copysignf(e, x);
}

// transformers' exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)).
static inline __attribute__((always_inline)) float bk_gelu(float v) {
    return 0.5f * v * (1.0f + bk_erff(v * 0.70710678118654752440f));
}

// x[i] = gelu(x[i]) for i < n, in place: the portable products' epilogue over the ≤ 16 columns of a panel row they just
// stored. One vector per step, not interleaved: the default unroll (4 × 16) left such short rows entirely to the scalar
// remainder loop.
static inline __attribute__((always_inline)) void bk_gelu_in_place(float *x, long n) {
#pragma clang loop vectorize_width(16) interleave_count(1)
    for (long i = 0; i < n; i++) x[i] = bk_gelu(x[i]);
}

// out[r, c] = gelu(tile[r, c]) for r < rows, c < columns (tile rows of BK_TILE_COLUMNS values: the results of a tile of
// the products with packed weights, stored whole so that the reads that follow forward from the stores).
static inline __attribute__((always_inline)) void bk_gelu_tile(float *out, long ldc, const float *tile, int rows,
                                                               long columns) {
    for (int r = 0; r < rows; r++) {
#pragma clang loop vectorize_width(16) interleave_count(1)   // as bk_gelu_in_place
        for (long c = 0; c < columns; c++) out[r * ldc + c] = bk_gelu(tile[r * BK_TILE_COLUMNS + c]);
    }
}

#endif
