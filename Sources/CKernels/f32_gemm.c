// fp32 products with weights packed once, at load, for inference (see include/ckernels.h).
//
// Why not OpenBLAS, which the rest of the model uses: sgemm packs both operands on every call. For BERT's
// linear layers at inference the weight is the same every call, and at batch 1 × 128 repacking it was 17.5 %
// of a bert-base forward (perf, 2026-12-04: sgemm_incopy 13.4 %, sgemm_oncopy 4.1 %); OpenBLAS's worker threads
// also spin against ours between products. ONNX Runtime packs its fp32 weights once (MLAS, `MlasGemmPackB`);
// this does the same with the tile of the low-precision kernels (tiles.h): weights in panels of 16 output columns
// stored by triples, so that for each k the tile reads 48 consecutive floats; activations read in place.
//
// Arithmetic: each output is a chain of fused multiply-adds over k in order, starting from zero, then the bias is
// added. The AVX-512 kernel and the portable loops compute exactly that, so they give the same bits, and a row's
// result never depends on the other rows of the product (a padding-free batch gives what the padded one gives).

#include "ckernels.h"
#include "clones.h"
#include "tiles.h"
#include "gelu.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define BK_HAVE_X86_F32 1
#define BK_F32_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#else
#define BK_HAVE_X86_F32 0
#endif

// The kernel needs AVX-512 F/BW/DQ/VL and FMA: what x86-64-v4, level 4 of bk_cpu_level, guarantees.
int bk_f32_packed_isa(void) { return BK_HAVE_X86_F32 && bk_cpu_level() >= 4; }

// Panels are stored by triples (tiles.h): where panel p's 16-float vector for k = i starts.
static inline long f32_vector_offset(long panels, long k, long p, long i) { return bk_triple_offset(panels, k, p, i, BK_PANEL); }

void bk_pack_f32(float *packed, const float *w, long n, long k) {
    long panels = bk_lowp_panels(n);
    memset(packed, 0, (size_t)(panels * BK_PANEL * k) * sizeof(float));
    for (long o = 0; o < n; o++) {
        long p = o / BK_PANEL, lane = o % BK_PANEL;
        for (long i = 0; i < k; i++) packed[f32_vector_offset(panels, k, p, i) + lane] = w[o * k + i];
    }
}

// MARK: - Portable

// Inlined into each clone, so that the fused multiply-adds compile to instructions where the CPU has them.
static inline __attribute__((always_inline)) void f32_gemm_body(float *out, long ldc, const float *a, long lda,
                                                                const float *packed, const float *bias, long rows,
                                                                long n, long k, long panel_begin, long panel_end, int flags) {
    long panels = bk_lowp_panels(n);
    for (long p = panel_begin; p < panel_end; p++) {
        long width = n - p * BK_PANEL < BK_PANEL ? n - p * BK_PANEL : BK_PANEL;
        for (long r = 0; r < rows; r++) {
            float acc[BK_PANEL] = {0};
            for (long i = 0; i < k; i++) {
                const float *vector = packed + f32_vector_offset(panels, k, p, i);
                float x = a[r * lda + i];
                for (int lane = 0; lane < BK_PANEL; lane++) acc[lane] = fmaf(x, vector[lane], acc[lane]);
            }
            for (long lane = 0; lane < width; lane++) {
                long o = p * BK_PANEL + lane;
                out[r * ldc + o] = acc[lane] + (bias ? bias[o] : 0.0f);
            }
            if (flags & BK_GEMM_GELU) bk_gelu_in_place(out + r * ldc + p * BK_PANEL, width);
        }
    }
}

BK_CLONES static void f32_gemm_portable_clones(float *out, long ldc, const float *a, long lda, const float *packed,
                                               const float *bias, long rows, long n, long k, long panel_begin,
                                               long panel_end, int flags) {
    f32_gemm_body(out, ldc, a, lda, packed, bias, rows, n, k, panel_begin, panel_end, flags);
}

void bk_gemm_f32_portable(float *out, long ldc, const float *a, long lda, const float *packed, const float *bias,
                          long rows, long n, long k, long panel_begin, long panel_end, int flags) {
    f32_gemm_portable_clones(out, ldc, a, lda, packed, bias, rows, n, k, panel_begin, panel_end, flags);
}

// MARK: - AVX-512

#if BK_HAVE_X86_F32
// The GELU epilogue: the tile's results go whole into a local tile, then this writes their GELU. Out of line:
// inlined into the tile, its constants took registers from the accumulation loop, which then moved values between
// registers on every step (int8 bert-base 8 × 128 0.264 → 0.277 s); called per vector, it made the caller spill the
// accumulators around each call (1 × 128 0.035 → 0.049 s). Reading back the rows just stored in `out` instead cost
// more than the separate GELU pass (AMD does not forward masked stores).
BK_F32_TARGET __attribute__((noinline)) static void f32_gelu_tile(float *out, long ldc, const float *tile, int rows,
                                                                  long columns) {
    bk_gelu_tile(out, ldc, tile, rows, columns);
}

// One tile: MR rows × NV panels over the whole of k, then the bias. MR and NV are constants at every call site, so
// the loops unroll and the 24 accumulators stay in registers (explicit full unrolls, as in lowp_gemm.c's s8_tile).
static inline __attribute__((always_inline)) BK_F32_TARGET void
f32_tile(const int MR, const int NV, float *out, long ldc, const float *a, long lda, const float *panels,
         const float *bias, long n, long column, long k, int flags) {
    __m512 acc[BK_TILE_ROWS][BK_TILE_PANELS];
    float tile[BK_TILE_ROWS][BK_TILE_COLUMNS];   // the results before GELU (BK_GEMM_GELU)
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
        for (int j = 0; j < NV; j++) acc[r][j] = _mm512_setzero_ps();
    const float *w = panels;
    for (long i = 0; i < k; i++, w += NV * BK_PANEL) {
        __m512 b[BK_TILE_PANELS];
#pragma clang loop unroll(full)
        for (int j = 0; j < NV; j++) b[j] = _mm512_loadu_ps(w + j * BK_PANEL);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(a[r * lda + i]);
#pragma clang loop unroll(full)
            for (int j = 0; j < NV; j++) acc[r][j] = _mm512_fmadd_ps(x, b[j], acc[r][j]);
        }
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < NV; j++) {
        long o = column + j * BK_PANEL;
        long width = n - o < BK_PANEL ? n - o : BK_PANEL;
        __mmask16 mask = (__mmask16)((1u << width) - 1u);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + o) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512 value = _mm512_add_ps(acc[r][j], b);
            if (flags & BK_GEMM_GELU) _mm512_storeu_ps(&tile[r][j * BK_PANEL], value);
            else _mm512_mask_storeu_ps(out + r * ldc + o, mask, value);
        }
    }
    if (flags & BK_GEMM_GELU) f32_gelu_tile(out + column, ldc, &tile[0][0], MR, bk_tile_columns(n, column, NV));
}

BK_F32_TARGET static void f32_gemm_avx512(float *out, long ldc, const float *a, long lda, const float *packed,
                                          const float *bias, long rows, long n, long k, long panel_begin,
                                          long panel_end, int flags) {
    // Blocks of rows whose activations stay in L2 (384 KB: 128 rows of 768, 32 of 3072) while every panel triple of the
    // range passes over them. bert-base, 2 threads, AMD EPYC Zen 4: blocks of 128 / 32 rows ran 8 × 128 in 0.830 s, of
    // 32 rows in 0.858 s, of 64 in 0.865 s, of 256 in 0.847 s (one run each, 2026-12-04).
    // Activations are read in place: interleaving each tile's 8 rows first (as OpenBLAS packs its operands) ran
    // 2–4 % slower there, for k = 3072 only or for every product.
    const long block = k >= 2048 ? 32 : 128;
    for (long r0 = 0; r0 < rows; r0 += block) {
        long r1 = r0 + block < rows ? r0 + block : rows;
        for (long p = panel_begin; p < panel_end; p += BK_TILE_PANELS) {
            long nv = panel_end - p < BK_TILE_PANELS ? panel_end - p : BK_TILE_PANELS;
            const float *pan = packed + p * BK_PANEL * k;
            long column = p * BK_PANEL;
            for (long r = r0; r < r1; r += BK_TILE_ROWS) {
                int mr = (int)(r1 - r < BK_TILE_ROWS ? r1 - r : BK_TILE_ROWS);
                float *o = out + r * ldc;
                const float *x = a + r * lda;
                BK_TILE_SWITCH(f32_tile, o, ldc, x, lda, pan, bias, n, column, k, flags)
            }
        }
    }
}
#endif

void bk_gemm_f32(float *out, long ldc, const float *a, long lda, const float *packed, const float *bias, long rows,
                 long n, long k, long panel_begin, long panel_end, int flags) {
#if BK_HAVE_X86_F32
    if (bk_f32_packed_isa()) {
        f32_gemm_avx512(out, ldc, a, lda, packed, bias, rows, n, k, panel_begin, panel_end, flags);
        return;
    }
#endif
    bk_gemm_f32_portable(out, ldc, a, lda, packed, bias, rows, n, k, panel_begin, panel_end, flags);
}
