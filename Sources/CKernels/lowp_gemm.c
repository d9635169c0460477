// Low-precision matrix products for inference and bf16 training (see include/ckernels.h): int8 × int8 → int32 with
// AVX512-VNNI (`vpdpbusd`) and bf16 × bf16 → fp32 with AVX512_BF16 (`vdpbf16ps`), each with a portable
// twin in plain C that computes the same numbers (bit for bit: the int8 sums are exact, and the bf16 twin
// adds the products in the instruction's order — a product of two bf16 values is exact in fp32).
//
// Layout. The weight W [n, k] (nn.Linear's [out, in]) is packed once into panels of 16 output columns. A
// panel holds, for each group of G consecutive k (G = 4 bytes of int8, or 2 bf16 — one 32-bit word), the 16
// columns' G values side by side: one 64-byte vector per group, which is exactly what one `vpdpbusd` or
// `vdpbf16ps` multiplies against a broadcast word of the activations. k is padded with zeros to a multiple
// of G and n to a multiple of 16; the padding contributes nothing. int8 panels are stored by triples (the
// tile's width), their vectors of one group side by side, so that a tile reads one stream of weights.
//
// The tile. A tile is up to 8 rows × 3 panels (48 columns): 24 accumulators, three weight vectors and a
// broadcast, 28 of the 32 vector registers. Each pass over k reads a 48-column panel triple from L2 (at most
// 48·k bytes) for 8 rows of activations from L1. The caller hands each thread either a range of rows (many
// rows: PackedWeights.swift) or a range of panel triples (few rows).
//
// Dispatch. `bk_lowp_isa()` tells which instructions this CPU has; the public entry points use them when it
// has them and the portable loops otherwise (multi-versioned, like the rest of CKernels).

#include "ckernels.h"
#include "clones.h"
#include "tiles.h"
#include "gelu.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define BK_HAVE_X86_LOWP 1
#define BK_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define BK_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))
#else
#define BK_HAVE_X86_LOWP 0
#endif

int bk_lowp_isa(void) {
#if BK_HAVE_X86_LOWP
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    int isa = 0;
    if (avx512 && __builtin_cpu_supports("avx512vnni")) isa |= BK_ISA_AVX512_VNNI;
    if (avx512 && __builtin_cpu_supports("avx512bf16")) isa |= BK_ISA_AVX512_BF16;
    return isa;
#else
    return 0;
#endif
}

// Filled on first use, from whichever worker threads get there first: relaxed atomics, since every thread computes the
// same value (a plain int here was a data race ThreadSanitizer reported).
static int cached_isa = -1;
static inline int isa(void) {
    int value = __atomic_load_n(&cached_isa, __ATOMIC_RELAXED);
    if (value < 0) {
        value = bk_lowp_isa();
        __atomic_store_n(&cached_isa, value, __ATOMIC_RELAXED);
    }
    return value;
}

long bk_lowp_padded_k(long k, int group) { return (k + group - 1) / group * group; }

long bk_lowp_panels(long n) { return (n + BK_PANEL - 1) / BK_PANEL; }

// MARK: - Packing and quantisation (run once per weight, or once per product for the activations)

BK_CLONES void bk_quantize_weights_s8(int8_t *q, float *scales, const float *w, long n, long k) {
    for (long o = 0; o < n; o++) {
        const float *row = w + o * k;
        float amax = 0;
        for (long i = 0; i < k; i++) amax = fmaxf(amax, fabsf(row[i]));
        float scale = amax > 0 ? amax / 127.0f : 1.0f;
        scales[o] = scale;
        for (long i = 0; i < k; i++) {
            float v = nearbyintf(row[i] / scale);
            q[o * k + i] = (int8_t)fminf(fmaxf(v, -127.0f), 127.0f);
        }
    }
}

// int8 panels are stored by triples (tiles.h): where panel p's 64-byte vector of group g (4 values of k) starts.
static inline long s8_vector_offset(long panels, long kp, long p, long g) { return bk_triple_offset(panels, kp / 4, p, g, 64); }

void bk_pack_s8(int8_t *packed, int32_t *column_sums, const int8_t *q, long n, long k) {
    long kp = bk_lowp_padded_k(k, 4), panels = bk_lowp_panels(n);
    memset(packed, 0, (size_t)(panels * BK_PANEL * kp));
    for (long o = 0; o < panels * BK_PANEL; o++) column_sums[o] = 0;
    for (long o = 0; o < n; o++) {
        long p = o / BK_PANEL, lane = o % BK_PANEL;
        int32_t sum = 0;
        for (long i = 0; i < k; i++) {
            packed[s8_vector_offset(panels, kp, p, i / 4) + lane * 4 + i % 4] = q[o * k + i];
            sum += q[o * k + i];
        }
        column_sums[o] = sum;
    }
}

// Round to nearest even, as torch's float → bfloat16 (NaN kept quiet).
static inline uint16_t bf16_from_float(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

void bk_pack_bf16(uint16_t *packed, const float *w, long n, long k) {
    long kp = bk_lowp_padded_k(k, 2), panels = bk_lowp_panels(n);
    memset(packed, 0, (size_t)(panels * BK_PANEL * kp) * 2);
    for (long o = 0; o < n; o++) {
        uint16_t *panel = packed + (o / BK_PANEL) * BK_PANEL * kp;
        long lane = o % BK_PANEL;
        for (long i = 0; i < k; i++) panel[(i / 2) * BK_PANEL * 2 + lane * 2 + i % 2] = bf16_from_float(w[o * k + i]);
    }
}

// The panels of w = xᵀ, x [k, n] with row stride ldx: panel word (g, lane) is the pair x[2g, o], x[2g + 1, o] of
// column o = 16·p + lane. Two rows of x are read 16 columns at a time, so no transpose pass is needed.
BK_CLONES void bk_pack_bf16_transposed(uint16_t *packed, const float *x, long ldx, long k, long n, long panel_begin,
                                       long panel_end) {
    long kp = bk_lowp_padded_k(k, 2);
    for (long p = panel_begin; p < panel_end; p++) {
        uint16_t *panel = packed + p * BK_PANEL * kp;
        long width = n - p * BK_PANEL < BK_PANEL ? n - p * BK_PANEL : BK_PANEL;
        for (long g = 0; g < kp / 2; g++) {
            const float *even = x + (2 * g) * ldx + p * BK_PANEL, *odd = even + ldx;
            int has_odd = 2 * g + 1 < k;
            uint16_t *words = panel + g * BK_PANEL * 2;
            for (long lane = 0; lane < BK_PANEL; lane++) {
                words[lane * 2] = lane < width ? bf16_from_float(even[lane]) : 0;
                words[lane * 2 + 1] = lane < width && has_odd ? bf16_from_float(odd[lane]) : 0;
            }
        }
    }
}

// out[c, r] for columns [c_begin, c_end) of x [k, n]: tiles of 16 × 16, so that both the reads (16 floats of a row)
// and the writes (16 values of an output row) touch whole cache lines.
BK_CLONES void bk_columns_to_bf16(uint16_t *out, const float *x, long ldx, long k, long n, long c_begin, long c_end) {
    long kp = bk_lowp_padded_k(k, 2);
    (void)n;
    for (long c0 = c_begin; c0 < c_end; c0 += 16) {
        long c1 = c0 + 16 < c_end ? c0 + 16 : c_end;
        for (long r0 = 0; r0 < k; r0 += 16) {
            long r1 = r0 + 16 < k ? r0 + 16 : k;
            uint16_t tile[16][16];
            for (long r = r0; r < r1; r++)
                for (long c = c0; c < c1; c++) tile[c - c0][r - r0] = bf16_from_float(x[r * ldx + c]);
            for (long c = c0; c < c1; c++) memcpy(out + c * kp + r0, tile[c - c0], (size_t)(r1 - r0) * 2);
        }
        if (kp > k)
            for (long c = c0; c < c1; c++) out[c * kp + k] = 0;
    }
}

// Rows asymmetric to u8, as ONNX Runtime's DynamicQuantizeLinear does per tensor but here per row (so a
// row's result never depends on the other rows of the batch, padding included): the range [min(0, lo),
// max(0, hi)] maps onto 0…255, the zero point is round(−min / scale), values round half to even.
static inline __attribute__((always_inline)) void quantize_row_u8(uint8_t *restrict q, float *scale_out, int32_t *zero_out,
                                                                  const float *restrict x, long k, long kp) {
    // Comparisons rather than fminf/fmaxf, whose NaN rules keep the loops scalar (a NaN input gives a
    // meaningless row either way).
    float lo = 0, hi = 0;
    {
#pragma clang fp reassociate(on)
        for (long i = 0; i < k; i++) { lo = x[i] < lo ? x[i] : lo; hi = x[i] > hi ? x[i] : hi; }
    }
    float scale = (hi - lo) / 255.0f;
    if (!(scale > 0)) scale = 1.0f;
    float zero = nearbyintf(-lo / scale);
    zero = zero < 0 ? 0 : (zero > 255 ? 255 : zero);
    float inverse = 1.0f / scale;
    for (long i = 0; i < k; i++) {
        float v = nearbyintf(x[i] * inverse) + zero;
        v = v < 0 ? 0 : (v > 255 ? 255 : v);
        q[i] = (uint8_t)(int32_t)v;
    }
    for (long i = k; i < kp; i++) q[i] = (uint8_t)zero;
    *scale_out = scale;
    *zero_out = (int32_t)zero;
}

BK_CLONES void bk_quantize_rows_u8_portable(uint8_t *q, float *scales, int32_t *zeros, const float *x, long lda, long rows, long k) {
    long kp = bk_lowp_padded_k(k, 4);
    for (long r = 0; r < rows; r++) quantize_row_u8(q + r * kp, scales + r, zeros + r, x + r * lda, k, kp);
}

#if BK_HAVE_X86_LOWP
// The same arithmetic as quantize_row_u8, sixteen lanes at a time (min and max are exact in any order).
BK_VNNI_TARGET static void quantize_rows_u8_avx512(uint8_t *q, float *scales, int32_t *zeros, const float *x, long lda,
                                                   long rows, long k) {
    long kp = bk_lowp_padded_k(k, 4);
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * lda;
        uint8_t *out = q + r * kp;
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        for (long i = 0; i < k; i += 16) {
            __mmask16 mask = k - i >= 16 ? 0xffff : (__mmask16)((1u << (k - i)) - 1u);
            __m512 v = _mm512_maskz_loadu_ps(mask, row + i);
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
        }
        float low = _mm512_reduce_min_ps(lo), high = _mm512_reduce_max_ps(hi);
        float scale = (high - low) / 255.0f;
        if (!(scale > 0)) scale = 1.0f;
        float zero = nearbyintf(-low / scale);
        zero = zero < 0 ? 0 : (zero > 255 ? 255 : zero);
        __m512 inverse = _mm512_set1_ps(1.0f / scale), zeros16 = _mm512_set1_ps(zero);
        __m512 top = _mm512_set1_ps(255.0f), bottom = _mm512_setzero_ps();
        for (long i = 0; i < k; i += 16) {
            __mmask16 mask = k - i >= 16 ? 0xffff : (__mmask16)((1u << (k - i)) - 1u);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row + i), inverse);
            v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zeros16);
            v = _mm512_min_ps(_mm512_max_ps(v, bottom), top);
            _mm512_mask_cvtusepi32_storeu_epi8(out + i, mask, _mm512_cvtps_epi32(v));
        }
        for (long i = k; i < kp; i++) out[i] = (uint8_t)zero;
        scales[r] = scale;
        zeros[r] = (int32_t)zero;
    }
}
#endif

void bk_quantize_rows_u8(uint8_t *q, float *scales, int32_t *zeros, const float *x, long lda, long rows, long k) {
#if BK_HAVE_X86_LOWP
    if (isa() & BK_ISA_AVX512_VNNI) {
        quantize_rows_u8_avx512(q, scales, zeros, x, lda, rows, k);
        return;
    }
#endif
    bk_quantize_rows_u8_portable(q, scales, zeros, x, lda, rows, k);
}

static inline void rows_to_bf16(uint16_t *out, const float *x, long lda, long rows, long k) {
    long kp = bk_lowp_padded_k(k, 2);
    for (long r = 0; r < rows; r++) {
        for (long i = 0; i < k; i++) out[r * kp + i] = bf16_from_float(x[r * lda + i]);
        for (long i = k; i < kp; i++) out[r * kp + i] = 0;
    }
}
BK_CLONES void bk_rows_to_bf16_portable(uint16_t *out, const float *x, long lda, long rows, long k) { rows_to_bf16(out, x, lda, rows, k); }

#if BK_HAVE_X86_LOWP
// bf16_from_float sixteen lanes at a time, with the same integer rounding (so NaN and denormals round alike).
BK_VNNI_TARGET static void rows_to_bf16_avx512(uint16_t *out, const float *x, long lda, long rows, long k) {
    long kp = bk_lowp_padded_k(k, 2);
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), magnitude = _mm512_set1_epi32(0x7fffffff);
    const __m512i infinity = _mm512_set1_epi32(0x7f800000), quiet = _mm512_set1_epi32(0x0040);
    for (long r = 0; r < rows; r++) {
        for (long i = 0; i < k; i += 16) {
            __mmask16 mask = k - i >= 16 ? 0xffff : (__mmask16)((1u << (k - i)) - 1u);
            __m512i bits = _mm512_maskz_loadu_epi32(mask, x + r * lda + i);
            __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(bits, 16), one)));
            __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, magnitude), infinity);
            __m512i high = _mm512_mask_or_epi32(_mm512_srli_epi32(rounded, 16), nan, _mm512_srli_epi32(bits, 16), quiet);
            _mm512_mask_cvtepi32_storeu_epi16(out + r * kp + i, mask, high);
        }
        for (long i = k; i < kp; i++) out[r * kp + i] = 0;
    }
}
#endif

void bk_rows_to_bf16(uint16_t *out, const float *x, long lda, long rows, long k) {
#if BK_HAVE_X86_LOWP
    if (isa() & BK_ISA_AVX512_VNNI) {
        rows_to_bf16_avx512(out, x, lda, rows, k);
        return;
    }
#endif
    bk_rows_to_bf16_portable(out, x, lda, rows, k);
}

// MARK: - int8: portable

// out[r, o] = (Σ_i qa[r,i]·qw[o,i] − zero_r·colsum_o) · (scale_r · wscale_o) + bias_o, for panels
// [panel_begin, panel_end).
static inline __attribute__((always_inline)) void
s8_gemm_body(float *out, long ldc, const uint8_t *qa, const float *a_scales, const int32_t *a_zeros, const int8_t *packed,
             const int32_t *column_sums, const float *w_scales, const float *bias, long rows, long n, long k,
             long panel_begin, long panel_end, int flags) {
    long kp = bk_lowp_padded_k(k, 4), panels = bk_lowp_panels(n);
    for (long p = panel_begin; p < panel_end; p++) {
        long width = n - p * BK_PANEL < BK_PANEL ? n - p * BK_PANEL : BK_PANEL;
        for (long r = 0; r < rows; r++) {
            const uint8_t *a = qa + r * kp;
            int32_t acc[BK_PANEL] = {0};
            for (long g = 0; g < kp / 4; g++) {
                const int8_t *vector = packed + s8_vector_offset(panels, kp, p, g);
                for (int lane = 0; lane < BK_PANEL; lane++) {
                    const int8_t *b = vector + lane * 4;
                    acc[lane] += a[4 * g] * b[0] + a[4 * g + 1] * b[1] + a[4 * g + 2] * b[2] + a[4 * g + 3] * b[3];
                }
            }
            for (long lane = 0; lane < width; lane++) {
                long o = p * BK_PANEL + lane;
                float value = (float)(acc[lane] - a_zeros[r] * column_sums[o]);
                out[r * ldc + o] = fmaf(value, a_scales[r] * w_scales[o], bias ? bias[o] : 0.0f);
            }
            if (flags & BK_GEMM_GELU) bk_gelu_in_place(out + r * ldc + p * BK_PANEL, width);
        }
    }
}

BK_CLONES static void s8_gemm_portable_clones(float *out, long ldc, const uint8_t *qa, const float *a_scales,
                                              const int32_t *a_zeros, const int8_t *packed, const int32_t *column_sums,
                                              const float *w_scales, const float *bias, long rows, long n, long k,
                                              long panel_begin, long panel_end, int flags) {
    s8_gemm_body(out, ldc, qa, a_scales, a_zeros, packed, column_sums, w_scales, bias, rows, n, k, panel_begin, panel_end, flags);
}

void bk_gemm_s8_portable(float *out, long ldc, const uint8_t *qa, const float *a_scales, const int32_t *a_zeros,
                         const int8_t *packed, const int32_t *column_sums, const float *w_scales, const float *bias,
                         long rows, long n, long k, long panel_begin, long panel_end, int flags) {
    s8_gemm_portable_clones(out, ldc, qa, a_scales, a_zeros, packed, column_sums, w_scales, bias, rows, n, k,
                            panel_begin, panel_end, flags);
}

// MARK: - bf16: portable

// out[r, o] = bias_o + Σ over pairs (2g+1 first, then 2g) of a·w, accumulated in fp32 as vdpbf16ps does.
static inline float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline __attribute__((always_inline)) void
bf16_gemm_body(float *out, long ldc, const uint16_t *a16, const uint16_t *packed, const float *bias, long rows, long n,
               long k, long panel_begin, long panel_end, int flags) {
    long kp = bk_lowp_padded_k(k, 2);
    for (long p = panel_begin; p < panel_end; p++) {
        const uint16_t *panel = packed + p * BK_PANEL * kp;
        long width = n - p * BK_PANEL < BK_PANEL ? n - p * BK_PANEL : BK_PANEL;
        for (long r = 0; r < rows; r++) {
            const uint16_t *a = a16 + r * kp;
            float acc[BK_PANEL] = {0};
            for (long g = 0; g < kp / 2; g++) {
                float a0 = bf16_to_float(a[2 * g]), a1 = bf16_to_float(a[2 * g + 1]);
                for (int lane = 0; lane < BK_PANEL; lane++) {
                    const uint16_t *b = panel + g * BK_PANEL * 2 + lane * 2;
                    // The products are exact in fp32, so each step rounds once, with or without FMA.
                    acc[lane] = fmaf(a1, bf16_to_float(b[1]), acc[lane]);
                    acc[lane] = fmaf(a0, bf16_to_float(b[0]), acc[lane]);
                }
            }
            for (long lane = 0; lane < width; lane++) {
                long o = p * BK_PANEL + lane;
                float value = acc[lane] + (bias ? bias[o] : 0.0f);
                out[r * ldc + o] = flags & BK_GEMM_ACCUMULATE ? out[r * ldc + o] + value : value;
            }
            if (flags & BK_GEMM_GELU) bk_gelu_in_place(out + r * ldc + p * BK_PANEL, width);
        }
    }
}

BK_CLONES static void bf16_gemm_portable_clones(float *out, long ldc, const uint16_t *a16, const uint16_t *packed,
                                                const float *bias, long rows, long n, long k, long panel_begin,
                                                long panel_end, int flags) {
    bf16_gemm_body(out, ldc, a16, packed, bias, rows, n, k, panel_begin, panel_end, flags);
}

void bk_gemm_bf16_portable(float *out, long ldc, const uint16_t *a16, const uint16_t *packed, const float *bias,
                           long rows, long n, long k, long panel_begin, long panel_end, int flags) {
    bf16_gemm_portable_clones(out, ldc, a16, packed, bias, rows, n, k, panel_begin, panel_end, flags);
}

#if BK_HAVE_X86_LOWP
// The GELU epilogue out of line, one per target (f32_gemm.c says why).
BK_VNNI_TARGET __attribute__((noinline)) static void vnni_gelu_tile(float *out, long ldc, const float *tile, int rows,
                                                                    long columns) {
    bk_gelu_tile(out, ldc, tile, rows, columns);
}
BK_BF16_TARGET __attribute__((noinline)) static void bf16_gelu_tile(float *out, long ldc, const float *tile, int rows,
                                                                    long columns) {
    bk_gelu_tile(out, ldc, tile, rows, columns);
}

// MARK: - int8: AVX512-VNNI

// One tile: MR rows × NV panels over the whole of k, then the dequantising epilogue. MR and NV are
// constants at every call site, so the loops unroll and the accumulators live in registers. The explicit
// full unrolls matter: without them clang 21 zeroed the 6-, 7- and 8-row tiles' accumulators through a memset of a
// stack array on every tile (4 % of an int8 bert-base forward at 8 × 128 in perf, 2026-12-04).
static inline __attribute__((always_inline)) BK_VNNI_TARGET void
s8_tile(const int MR, const int NV, float *out, long ldc, const uint8_t *qa, long kp, const float *a_scales,
        const int32_t *a_zeros, const int8_t *panels, const int32_t *column_sums, const float *w_scales,
        const float *bias, long n, long column, int flags) {
    __m512i acc[BK_TILE_ROWS][BK_TILE_PANELS];
    float tile[BK_TILE_ROWS][BK_TILE_COLUMNS];   // the results before GELU (BK_GEMM_GELU)
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_si512();
    for (long g = 0; g < kp / 4; g++) {
        __m512i b[BK_TILE_PANELS];
        for (int j = 0; j < NV; j++) b[j] = _mm512_loadu_si512(panels + (g * NV + j) * 64);
        for (int i = 0; i < MR; i++) {
            int32_t word;
            memcpy(&word, qa + i * kp + 4 * g, 4);
            __m512i a = _mm512_set1_epi32(word);
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a, b[j]);
        }
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < NV; j++) {
        long o = column + j * BK_PANEL;
        long width = n - o < BK_PANEL ? n - o : BK_PANEL;
        __mmask16 mask = (__mmask16)((1u << width) - 1u);
        __m512i sums = _mm512_maskz_loadu_epi32(mask, column_sums + o);
        __m512 wscale = _mm512_maskz_loadu_ps(mask, w_scales + o);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + o) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m512i centred = _mm512_sub_epi32(acc[i][j], _mm512_mullo_epi32(_mm512_set1_epi32(a_zeros[i]), sums));
            __m512 scale = _mm512_mul_ps(_mm512_set1_ps(a_scales[i]), wscale);
            __m512 value = _mm512_fmadd_ps(_mm512_cvtepi32_ps(centred), scale, b);
            if (flags & BK_GEMM_GELU) _mm512_storeu_ps(&tile[i][j * BK_PANEL], value);
            else _mm512_mask_storeu_ps(out + i * ldc + o, mask, value);
        }
    }
    if (flags & BK_GEMM_GELU) vnni_gelu_tile(out + column, ldc, &tile[0][0], MR, bk_tile_columns(n, column, NV));
}

BK_VNNI_TARGET static void s8_gemm_vnni(float *out, long ldc, const uint8_t *qa, const float *a_scales,
                                        const int32_t *a_zeros, const int8_t *packed, const int32_t *column_sums,
                                        const float *w_scales, const float *bias, long rows, long n, long k,
                                        long panel_begin, long panel_end, int flags) {
    const long kp = bk_lowp_padded_k(k, 4);
    // Blocks of rows whose activations stay in L2 while every panel triple of the range passes over them.
    const long block = kp >= 2048 ? 64 : 128;
    for (long r0 = 0; r0 < rows; r0 += block) {
        long r1 = r0 + block < rows ? r0 + block : rows;
        for (long p = panel_begin; p < panel_end; p += BK_TILE_PANELS) {
            long nv = panel_end - p < BK_TILE_PANELS ? panel_end - p : BK_TILE_PANELS;
            const int8_t *pan = packed + p * BK_PANEL * kp;
            long column = p * BK_PANEL;
            for (long r = r0; r < r1; r += BK_TILE_ROWS) {
                int mr = (int)(r1 - r < BK_TILE_ROWS ? r1 - r : BK_TILE_ROWS);
                float *o = out + r * ldc;
                const uint8_t *a = qa + r * kp;
                const float *as = a_scales + r;
                const int32_t *az = a_zeros + r;
                BK_TILE_SWITCH(s8_tile, o, ldc, a, kp, as, az, pan, column_sums, w_scales, bias, n, column, flags)
            }
        }
    }
}

// MARK: - bf16: AVX512_BF16

static inline __attribute__((always_inline)) BK_BF16_TARGET void
bf16_tile(const int MR, const int NV, float *out, long ldc, const uint16_t *a16, long kp, const uint16_t *panels,
          const float *bias, long n, long column, int flags) {
    __m512 acc[BK_TILE_ROWS][BK_TILE_PANELS];
    float tile[BK_TILE_ROWS][BK_TILE_COLUMNS];   // the results before GELU (BK_GEMM_GELU)
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
    const long panel_stride = BK_PANEL * kp;
    for (long g = 0; g < kp / 2; g++) {
        __m512bh b[BK_TILE_PANELS];
        for (int j = 0; j < NV; j++) b[j] = (__m512bh)_mm512_loadu_si512(panels + j * panel_stride + g * 32);
        for (int i = 0; i < MR; i++) {
            int32_t word;
            memcpy(&word, a16 + i * kp + 2 * g, 4);
            __m512bh a = (__m512bh)_mm512_set1_epi32(word);
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], a, b[j]);
        }
    }
    for (int j = 0; j < NV; j++) {
        long o = column + j * BK_PANEL;
        long width = n - o < BK_PANEL ? n - o : BK_PANEL;
        __mmask16 mask = (__mmask16)((1u << width) - 1u);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + o) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++) {
            __m512 value = _mm512_add_ps(acc[i][j], b);
            if (flags & BK_GEMM_ACCUMULATE) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out + i * ldc + o), value);
            if (flags & BK_GEMM_GELU) _mm512_storeu_ps(&tile[i][j * BK_PANEL], value);
            else _mm512_mask_storeu_ps(out + i * ldc + o, mask, value);
        }
    }
    if (flags & BK_GEMM_GELU) bf16_gelu_tile(out + column, ldc, &tile[0][0], MR, bk_tile_columns(n, column, NV));
}

// The same products on the FMA units: each bf16 is widened to fp32 (a shift or a mask of its 32-bit pair
// word) and multiplied exactly, odd k first as vdpbf16ps does, so both kernels give the same bits. Where
// vdpbf16ps is slow (Intel cores before AMX issue one every other cycle, against two FMAs per cycle) this
// is the faster of the two. The activations come widened already: a16w[r, 2g] holds the odd element of
// pair g and a16w[r, 2g + 1] the even one, as fp32, so each is one broadcast operand of an FMA.
static inline __attribute__((always_inline)) BK_BF16_TARGET void
bf16w_tile(const int MR, const int NV, float *out, long ldc, const float *aw, long kp, const uint16_t *panels,
           const float *bias, long n, long column, int flags) {
    __m512 acc[BK_TILE_ROWS][BK_TILE_PANELS];
    float tile[BK_TILE_ROWS][BK_TILE_COLUMNS];   // the results before GELU (BK_GEMM_GELU)
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
    const long panel_stride = BK_PANEL * kp;
    const __m512i high = _mm512_set1_epi32((int)0xffff0000u);
    for (long g = 0; g < kp / 2; g++) {
        __m512 odd[BK_TILE_PANELS], even[BK_TILE_PANELS];
        for (int j = 0; j < NV; j++) {
            __m512i words = _mm512_loadu_si512(panels + j * panel_stride + g * 32);
            odd[j] = _mm512_castsi512_ps(_mm512_and_si512(words, high));
            even[j] = _mm512_castsi512_ps(_mm512_slli_epi32(words, 16));
        }
        for (int i = 0; i < MR; i++) {
            __m512 a1 = _mm512_set1_ps(aw[i * kp + 2 * g]), a0 = _mm512_set1_ps(aw[i * kp + 2 * g + 1]);
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_fmadd_ps(a1, odd[j], acc[i][j]);
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_fmadd_ps(a0, even[j], acc[i][j]);
        }
    }
    for (int j = 0; j < NV; j++) {
        long o = column + j * BK_PANEL;
        long width = n - o < BK_PANEL ? n - o : BK_PANEL;
        __mmask16 mask = (__mmask16)((1u << width) - 1u);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + o) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++) {
            __m512 value = _mm512_add_ps(acc[i][j], b);
            if (flags & BK_GEMM_ACCUMULATE) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out + i * ldc + o), value);
            if (flags & BK_GEMM_GELU) _mm512_storeu_ps(&tile[i][j * BK_PANEL], value);
            else _mm512_mask_storeu_ps(out + i * ldc + o, mask, value);
        }
    }
    if (flags & BK_GEMM_GELU) bf16_gelu_tile(out + column, ldc, &tile[0][0], MR, bk_tile_columns(n, column, NV));
}

// a16 [rows, kp] bf16 → the widened, pair-swapped fp32 rows bf16w_tile reads, `block` rows at a time.
BK_BF16_TARGET static void widen_rows(float *aw, const uint16_t *a16, long rows, long kp) {
    for (long r = 0; r < rows; r++)
        for (long g = 0; g < kp / 2; g++) {
            uint32_t odd = (uint32_t)a16[r * kp + 2 * g + 1] << 16, even = (uint32_t)a16[r * kp + 2 * g] << 16;
            memcpy(aw + r * kp + 2 * g, &odd, 4);
            memcpy(aw + r * kp + 2 * g + 1, &even, 4);
        }
}

BK_BF16_TARGET static void bf16_gemm_widened(float *out, long ldc, const uint16_t *a16, const uint16_t *packed,
                                             const float *bias, long rows, long n, long k, long panel_begin,
                                             long panel_end, int flags) {
    const long kp = bk_lowp_padded_k(k, 2);
    const long block = kp >= 2048 ? 16 : 48;
    float *widened = (float *)malloc((size_t)(block * kp) * sizeof(float));
    if (!widened) { bf16_gemm_body(out, ldc, a16, packed, bias, rows, n, k, panel_begin, panel_end, flags); return; }
    for (long r0 = 0; r0 < rows; r0 += block) {
        long r1 = r0 + block < rows ? r0 + block : rows;
        widen_rows(widened, a16 + r0 * kp, r1 - r0, kp);
        for (long p = panel_begin; p < panel_end; p += BK_TILE_PANELS) {
            long nv = panel_end - p < BK_TILE_PANELS ? panel_end - p : BK_TILE_PANELS;
            const uint16_t *pan = packed + p * BK_PANEL * kp;
            long column = p * BK_PANEL;
            for (long r = r0; r < r1; r += BK_TILE_ROWS) {
                int mr = (int)(r1 - r < BK_TILE_ROWS ? r1 - r : BK_TILE_ROWS);
                float *o = out + r * ldc;
                const float *a = widened + (r - r0) * kp;
                BK_TILE_SWITCH(bf16w_tile, o, ldc, a, kp, pan, bias, n, column, flags)
            }
        }
    }
    free(widened);
}

BK_BF16_TARGET static void bf16_gemm_avx512(float *out, long ldc, const uint16_t *a16, const uint16_t *packed,
                                            const float *bias, long rows, long n, long k, long panel_begin,
                                            long panel_end, int flags) {
    const long kp = bk_lowp_padded_k(k, 2);
    const long block = kp >= 2048 ? 32 : 64;
    for (long r0 = 0; r0 < rows; r0 += block) {
        long r1 = r0 + block < rows ? r0 + block : rows;
        for (long p = panel_begin; p < panel_end; p += BK_TILE_PANELS) {
            long nv = panel_end - p < BK_TILE_PANELS ? panel_end - p : BK_TILE_PANELS;
            const uint16_t *pan = packed + p * BK_PANEL * kp;
            long column = p * BK_PANEL;
            for (long r = r0; r < r1; r += BK_TILE_ROWS) {
                int mr = (int)(r1 - r < BK_TILE_ROWS ? r1 - r : BK_TILE_ROWS);
                float *o = out + r * ldc;
                const uint16_t *a = a16 + r * kp;
                BK_TILE_SWITCH(bf16_tile, o, ldc, a, kp, pan, bias, n, column, flags)
            }
        }
    }
}
#endif

// MARK: - Entry points

void bk_gemm_s8(float *out, long ldc, const uint8_t *qa, const float *a_scales, const int32_t *a_zeros,
                const int8_t *packed, const int32_t *column_sums, const float *w_scales, const float *bias,
                long rows, long n, long k, long panel_begin, long panel_end, int flags) {
#if BK_HAVE_X86_LOWP
    if (isa() & BK_ISA_AVX512_VNNI) {
        s8_gemm_vnni(out, ldc, qa, a_scales, a_zeros, packed, column_sums, w_scales, bias, rows, n, k, panel_begin,
                     panel_end, flags);
        return;
    }
#endif
    bk_gemm_s8_portable(out, ldc, qa, a_scales, a_zeros, packed, column_sums, w_scales, bias, rows, n, k, panel_begin,
                        panel_end, flags);
}

// Which bf16 kernel runs: decided once per process by timing both on one tile-sized product (well under a
// millisecond), unless BERTKIT_BF16_KERNEL says dot (vdpbf16ps) or fma. Both give the same bits, so the
// choice changes the speed only.
#if BK_HAVE_X86_LOWP
static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int calibrate_bf16(void) {
    const char *forced = getenv("BERTKIT_BF16_KERNEL");
    if (forced && strcmp(forced, "dot") == 0) return BK_BF16_KERNEL_DOT;
    if (forced && strcmp(forced, "fma") == 0) return BK_BF16_KERNEL_FMA;
    enum { rows = 64, n = 96, k = 512 };
    uint16_t *a = calloc(rows * k, 2), *w = calloc(n * k, 2);
    float *out = malloc(rows * n * sizeof(float));
    if (!a || !w || !out) { free(a); free(w); free(out); return BK_BF16_KERNEL_FMA; }
    for (long i = 0; i < rows * k; i++) a[i] = 0x3f80;   // 1.0: no denormals on either path
    for (long i = 0; i < n * k; i++) w[i] = 0x3c00;
    double best[2] = {1e9, 1e9};
    for (int round = 0; round < 3; round++) {
        double t = seconds_now();
        bf16_gemm_avx512(out, n, a, w, 0, rows, n, k, 0, n / BK_PANEL, 0);
        double dot = seconds_now() - t;
        t = seconds_now();
        bf16_gemm_widened(out, n, a, w, 0, rows, n, k, 0, n / BK_PANEL, 0);
        double fma = seconds_now() - t;
        best[0] = dot < best[0] ? dot : best[0];
        best[1] = fma < best[1] ? fma : best[1];
    }
    free(a); free(w); free(out);
    return best[0] < best[1] ? BK_BF16_KERNEL_DOT : BK_BF16_KERNEL_FMA;
}
#endif

static int cached_bf16_kernel = -1;
int bk_bf16_kernel(void) {
#if BK_HAVE_X86_LOWP
    if (!(isa() & BK_ISA_AVX512_BF16)) return BK_BF16_KERNEL_PORTABLE;
    int kernel = __atomic_load_n(&cached_bf16_kernel, __ATOMIC_RELAXED);   // as cached_isa
    if (kernel < 0) {
        kernel = calibrate_bf16();
        __atomic_store_n(&cached_bf16_kernel, kernel, __ATOMIC_RELAXED);
    }
    return kernel;
#else
    return BK_BF16_KERNEL_PORTABLE;
#endif
}

void bk_gemm_bf16_with(int kernel, float *out, long ldc, const uint16_t *a16, const uint16_t *packed, const float *bias,
                       long rows, long n, long k, long panel_begin, long panel_end, int flags) {
#if BK_HAVE_X86_LOWP
    if (isa() & BK_ISA_AVX512_BF16) {
        if (kernel == BK_BF16_KERNEL_DOT) {
            bf16_gemm_avx512(out, ldc, a16, packed, bias, rows, n, k, panel_begin, panel_end, flags);
            return;
        }
        if (kernel == BK_BF16_KERNEL_FMA) {
            bf16_gemm_widened(out, ldc, a16, packed, bias, rows, n, k, panel_begin, panel_end, flags);
            return;
        }
    }
#endif
    (void)kernel;
    bk_gemm_bf16_portable(out, ldc, a16, packed, bias, rows, n, k, panel_begin, panel_end, flags);
}

void bk_gemm_bf16(float *out, long ldc, const uint16_t *a16, const uint16_t *packed, const float *bias, long rows,
                  long n, long k, long panel_begin, long panel_end, int flags) {
    bk_gemm_bf16_with(bk_bf16_kernel(), out, ldc, a16, packed, bias, rows, n, k, panel_begin, panel_end, flags);
}
