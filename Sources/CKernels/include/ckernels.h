// Hot elementwise kernels of the BERT forward and backward, in C so that each can be compiled twice:
// once for baseline x86-64 and once for x86-64-v3 (AVX2 + FMA), picked at load time by the CPU
// (function multi-versioning, `target_clones`). The `_portable` twins are the baseline build only, so a
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

#endif
