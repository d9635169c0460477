// Hot elementwise kernels of the BERT forward and backward, in C so that each can be compiled several times:
// for baseline x86-64, x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512), picked at load time by the CPU
// (function multi-versioning, `target_clones`, clones.h). The `_portable` twins are the baseline build only, so a
// benchmark can show the gain and tests can compare the two.
#ifndef BERTKIT_CKERNELS_H
#define BERTKIT_CKERNELS_H

#include <stddef.h>

/// out[i] = gelu(x[i]) with transformers' exact (erf) GELU; erf as torch's vectorised CPU kernel computes it.
void bk_gelu_forward(float *out, const float *x, long n);
void bk_gelu_forward_portable(float *out, const float *x, long n);

/// dx[i] = dy[i] · gelu'(x[i]) (dx may alias dy).
void bk_gelu_backward(float *dx, const float *dy, const float *x, long n);
void bk_gelu_backward_portable(float *dx, const float *dy, const float *x, long n);

/// In-place softmax of `rows` rows of length n; keys with mask[j] == 0 get probability 0 (mask may be NULL).
/// A row whose keys are all masked becomes uniform over all n keys.
void bk_softmax_rows(float *scores, long rows, long n, const float *mask);
void bk_softmax_rows_portable(float *scores, long rows, long n, const float *mask);

/// LayerNorm of `rows` rows of length dim; mean and rstd (may be NULL) receive the row statistics.
void bk_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *weight,
                          const float *bias, long rows, long dim, float eps);
void bk_layernorm_forward_portable(float *out, float *mean, float *rstd, const float *x, const float *weight,
                                   const float *bias, long rows, long dim, float eps);

/// x ← x + residual, then LayerNorm of x into out (one pass per row; the same arithmetic as the two
/// separately). out must not alias x or residual.
void bk_add_layernorm_forward(float *out, float *mean, float *rstd, float *x, const float *residual, const float *weight,
                              const float *bias, long rows, long dim, float eps);
void bk_add_layernorm_forward_portable(float *out, float *mean, float *rstd, float *x, const float *residual, const float *weight,
                                       const float *bias, long rows, long dim, float eps);

#include <stdint.h>

/// Softmax backward over `rows` rows of length n: g ← p ⊙ (g − Σ_j g_j·p_j). g must not alias p.
void bk_softmax_backward_rows(float *g, const float *p, long rows, long n);
void bk_softmax_backward_rows_portable(float *g, const float *p, long rows, long n);

/// LayerNorm backward over `rows` rows of length dim, from the forward's mean and rstd: dx += ∂L/∂x;
/// dweight += Σ dy·x̂ and dbias += Σ dy (either may be NULL). dx must not alias dy or x.
void bk_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x, const float *mean,
                           const float *rstd, const float *weight, long rows, long dim);
void bk_layernorm_backward_portable(float *dx, float *dweight, float *dbias, const float *dy, const float *x, const float *mean,
                                    const float *rstd, const float *weight, long rows, long dim);

/// out[j] += Σ_r x[r·ld + j] for j < cols, the rows added in order.
void bk_column_sums(float *out, const float *x, long rows, long cols, long ld);
void bk_column_sums_portable(float *out, const float *x, long rows, long cols, long ld);

/// One AdamW update of n elements as torch.optim.AdamW computes it, on the gradient times `grad_scale`:
/// p ← p·decay − step_size·m / (√v / bias2_root + eps) after m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g².
void bk_adamw(float *p, const float *g, float *m, float *v, long n, float grad_scale, float decay, float beta1,
              float beta2, float step_size, float bias2_root, float eps);
void bk_adamw_portable(float *p, const float *g, float *m, float *v, long n, float grad_scale, float decay, float beta1,
                       float beta2, float step_size, float bias2_root, float eps);

/// Σ x[i]², accumulated in double.
double bk_sum_squares(const float *x, long n);
double bk_sum_squares_portable(const float *x, long n);

/// x[i] *= s.
void bk_scale(float *x, long n, float s);
void bk_scale_portable(float *x, long n, float s);

/// Inverted dropout with a counter-based mask: element i (counted from `first`) is kept when
/// fmix32(((first + i) · 0x9E3779B1) ^ key) >= threshold, and then multiplied by `scale`; else zeroed.
/// `out` may equal `in`.
void bk_dropout(float *out, const float *in, long count, long first, uint32_t key, uint32_t threshold, float scale);
void bk_dropout_portable(float *out, const float *in, long count, long first, uint32_t key, uint32_t threshold, float scale);

/// The x86-64 microarchitecture level this CPU runs: 4 (AVX-512 F/BW/CD/DQ/VL), 3 (AVX2, FMA, BMI2),
/// otherwise 1; 0 on other architectures. OpenBLAS's kernel choice is checked against it (BLAS.swift).
int bk_cpu_level(void);

/// The CPUs this process may run on (its affinity mask: what `taskset` or `mpirun --bind-to core` left it), else the
/// online CPUs.
int bk_usable_cpus(void);

// MARK: Low-precision products for inference and bf16 training (lowp_gemm.c)

/// Bits of `bk_lowp_isa()`: which low-precision instructions this CPU runs.
#define BK_ISA_AVX512_VNNI 1
#define BK_ISA_AVX512_BF16 2
int bk_lowp_isa(void);

/// k rounded up to a multiple of `group` (4 for int8, 2 for bf16): the row length of packed operands.
long bk_lowp_padded_k(long k, int group);
/// Panels of 16 output columns that hold n columns.
long bk_lowp_panels(long n);

/// Symmetric per-output-channel int8: scales[o] = max|w[o, :]| / 127 (1 for an all-zero row),
/// q = round-half-even(w / scale) clamped to ±127. w and q are [n, k].
void bk_quantize_weights_s8(int8_t *q, float *scales, const float *w, long n, long k);
/// Packs q [n, k] into panels (bk_lowp_panels(n) · 16 · bk_lowp_padded_k(k, 4) bytes; panel triples interleaved by
/// groups of 4 k, as the kernel's tile reads them) and writes the
/// column sums Σ_i q[o, i] (bk_lowp_panels(n) · 16 of them, zero past n).
void bk_pack_s8(int8_t *packed, int32_t *column_sums, const int8_t *q, long n, long k);
/// Rounds w [n, k] to bf16 (nearest even) and packs it into panels (panels · 16 · padded_k(k, 2) values).
void bk_pack_bf16(uint16_t *packed, const float *w, long n, long k);
/// The panels bk_pack_bf16 makes of w = xᵀ [n, k], read from x [k, n] (row stride ldx), for panels
/// [panel_begin, panel_end): training's products whose weight operand is a transpose (W for ∂x, the input for ∂W).
void bk_pack_bf16_transposed(uint16_t *packed, const float *x, long ldx, long k, long n, long panel_begin, long panel_end);
/// Columns [c_begin, c_end) of x [k, n] (row stride ldx) as bf16 rows: out[c, r] = bf16(x[r, c]), out [n, padded_k(k, 2)]
/// (padding zero) — the activations operand of ∂W = ∂outᵀ · input.
void bk_columns_to_bf16(uint16_t *out, const float *x, long ldx, long k, long n, long c_begin, long c_end);

/// Quantises `rows` rows of x (row stride lda) to u8, each row with its own scale and zero point, into q
/// [rows, padded_k(k, 4)] (the padding holds the zero point).
void bk_quantize_rows_u8(uint8_t *q, float *scales, int32_t *zeros, const float *x, long lda, long rows, long k);
void bk_quantize_rows_u8_portable(uint8_t *q, float *scales, int32_t *zeros, const float *x, long lda, long rows, long k);
/// Rounds `rows` rows of x to bf16 into out [rows, padded_k(k, 2)] (padding zero).
void bk_rows_to_bf16(uint16_t *out, const float *x, long lda, long rows, long k);
void bk_rows_to_bf16_portable(uint16_t *out, const float *x, long lda, long rows, long k);

/// The epilogue flags of the products with packed weights (bk_gemm_s8, bk_gemm_bf16, bk_gemm_f32):
/// BK_GEMM_ACCUMULATE adds the result to out instead of storing it (bf16 training's gradients; bf16 only);
/// BK_GEMM_GELU applies the exact GELU to the result (the BERT intermediate layer at inference: one pass over
/// memory saved). GELU is the same inline code as bk_gelu_forward's (gelu.h), so the fused result has its bits.
#define BK_GEMM_ACCUMULATE 1
#define BK_GEMM_GELU 2

/// out[r, o] = (Σ_i qa[r, i]·q[o, i] − zeros[r]·column_sums[o]) · (a_scales[r]·w_scales[o]) + bias[o] for the
/// columns of panels [panel_begin, panel_end) (bias may be NULL). int32 accumulation: exact. The panels are
/// stored by triples (bk_pack_s8), so panel_begin is a multiple of 3 and panel_end a multiple of 3 or the panel count.
void bk_gemm_s8(float *out, long ldc, const uint8_t *qa, const float *a_scales, const int32_t *a_zeros,
                const int8_t *packed, const int32_t *column_sums, const float *w_scales, const float *bias,
                long rows, long n, long k, long panel_begin, long panel_end, int flags);
void bk_gemm_s8_portable(float *out, long ldc, const uint8_t *qa, const float *a_scales, const int32_t *a_zeros,
                         const int8_t *packed, const int32_t *column_sums, const float *w_scales, const float *bias,
                         long rows, long n, long k, long panel_begin, long panel_end, int flags);
/// out[r, o] = Σ_i a16[r, i]·w16[o, i] + bias[o] for the columns of panels [panel_begin, panel_end), the
/// products of each pair of k summed in fp32 in vdpbf16ps's order (odd, then even). flags: BK_GEMM_ACCUMULATE
/// (out[r, o] += that sum instead: training's gradients), BK_GEMM_GELU.
void bk_gemm_bf16(float *out, long ldc, const uint16_t *a16, const uint16_t *packed, const float *bias, long rows,
                  long n, long k, long panel_begin, long panel_end, int flags);
void bk_gemm_bf16_portable(float *out, long ldc, const uint16_t *a16, const uint16_t *packed, const float *bias,
                           long rows, long n, long k, long panel_begin, long panel_end, int flags);
/// The bf16 kernels: the portable loops, vdpbf16ps, or fp32 FMAs on the widened values — same bits.
#define BK_BF16_KERNEL_PORTABLE 0
#define BK_BF16_KERNEL_DOT 1
#define BK_BF16_KERNEL_FMA 2
/// The kernel bk_gemm_bf16 runs: the faster on this CPU, timed once (or BERTKIT_BF16_KERNEL=dot|fma).
int bk_bf16_kernel(void);
/// bk_gemm_bf16 with a chosen kernel (the portable loops when the CPU lacks AVX512_BF16).
void bk_gemm_bf16_with(int kernel, float *out, long ldc, const uint16_t *a16, const uint16_t *packed, const float *bias,
                       long rows, long n, long k, long panel_begin, long panel_end, int flags);

// MARK: fp32 products with packed weights for inference (f32_gemm.c)

/// Whether this CPU runs the AVX-512 fp32 kernel (else inference keeps OpenBLAS, whose kernels suit the CPU).
int bk_f32_packed_isa(void);
/// Packs w [n, k] (nn.Linear's [out, in]) into panels of 16 output columns stored by triples:
/// bk_lowp_panels(n) · 16 · k floats, zero past n.
void bk_pack_f32(float *packed, const float *w, long n, long k);
/// out[r, o] = (Σ_i a[r, i]·w[o, i]) + bias[o] for the columns of panels [panel_begin, panel_end), the sum a chain
/// of fused multiply-adds in k order from zero (bias may be NULL); flags: BK_GEMM_GELU. panel_begin is a multiple of 3
/// and panel_end a multiple of 3 or the panel count, as for bk_gemm_s8.
void bk_gemm_f32(float *out, long ldc, const float *a, long lda, const float *packed, const float *bias, long rows,
                 long n, long k, long panel_begin, long panel_end, int flags);
void bk_gemm_f32_portable(float *out, long ldc, const float *a, long lda, const float *packed, const float *bias,
                          long rows, long n, long k, long panel_begin, long panel_end, int flags);

#endif
