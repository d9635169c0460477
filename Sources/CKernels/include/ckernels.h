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

#include <stdint.h>

/// Inverted dropout with a counter-based mask: element i (counted from `first`) is kept when
/// fmix32(((first + i) · 0x9E3779B1) ^ key) >= threshold, and then multiplied by `scale`; else zeroed.
/// `out` may equal `in`.
void bk_dropout(float *out, const float *in, long count, long first, uint32_t key, uint32_t threshold, float scale);
void bk_dropout_portable(float *out, const float *in, long count, long first, uint32_t key, uint32_t threshold, float scale);

#endif
