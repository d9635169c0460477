// See include/ckernels.h. Each public kernel is a `target_clones` function (baseline + x86-64-v3) whose
// body is a static inline function, compiled once per target; `_portable` calls the same body built for
// the baseline only.

#include "ckernels.h"
#include "clones.h"
#include <math.h>

#include "gelu.h"

static inline __attribute__((always_inline)) void gelu_forward_body(float *restrict out, const float *restrict x, long n) {
    for (long i = 0; i < n; i++) {
        out[i] = bk_gelu(x[i]);
    }
}

// dx may equal dy (the backward works in place): each iteration reads dy[i] before writing dx[i], so the
// lanes of one vector never depend on each other. Without `assume_safety` the vectoriser's overlap check
// sends dx == dy down the scalar loop (eight times slower).
static inline __attribute__((always_inline)) void gelu_backward_body(float *dx, const float *dy, const float *restrict x, long n) {
#pragma clang loop vectorize(assume_safety)
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + bk_erff(v * 0.70710678118654752440f));
        float pdf = 0.39894228040143267794f * bk_expf(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

// Reductions: their additions may be reassociated (summed in several vector lanes), the only place where
// float operation order is relaxed; `#pragma clang fp` applies to these bodies alone.
// The maximum over unmasked keys, in eight lanes (the loop vectoriser does not take float max reductions).
static inline __attribute__((always_inline)) float row_max(const float *restrict s, const float *restrict mask, long n) {
    float lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        for (int k = 0; k < 8; k++) {
            float v = (mask == 0 || mask[j + k] != 0.0f) ? s[j + k] : -INFINITY;
            lanes[k] = v > lanes[k] ? v : lanes[k];
        }
    }
    float maximum = -INFINITY;
    for (int k = 0; k < 8; k++) maximum = lanes[k] > maximum ? lanes[k] : maximum;
    for (; j < n; j++) {
        float v = (mask == 0 || mask[j] != 0.0f) ? s[j] : -INFINITY;
        maximum = v > maximum ? v : maximum;
    }
    return maximum;
}

static inline __attribute__((always_inline)) float exp_shifted_sum(float *restrict s, const float *restrict mask, long n, float shift) {
#pragma clang fp reassociate(on)
    float sum = 0.0f;
    // Masked keys: exp is computed anyway (branch-free, so the loop vectorises) and multiplied by 0;
    // bk_expf clamps its argument, so the product is never inf · 0.
    if (mask) { for (long j = 0; j < n; j++) { float e = bk_expf(s[j] - shift) * (mask[j] != 0.0f ? 1.0f : 0.0f); s[j] = e; sum += e; } }
    else { for (long j = 0; j < n; j++) { float e = bk_expf(s[j] - shift); s[j] = e; sum += e; } }
    return sum;
}

static inline __attribute__((always_inline)) float row_sum(const float *restrict x, long n) {
#pragma clang fp reassociate(on)
    float sum = 0.0f;
    for (long i = 0; i < n; i++) sum += x[i];
    return sum;
}

static inline __attribute__((always_inline)) float row_squared_deviation(const float *restrict x, long n, float m) {
#pragma clang fp reassociate(on)
    float sum = 0.0f;
    for (long i = 0; i < n; i++) { float d = x[i] - m; sum += d * d; }
    return sum;
}

static inline __attribute__((always_inline)) void softmax_rows_body(float *scores, long rows, long n, const float *restrict mask) {
    for (long row = 0; row < rows; row++) {
        float *restrict s = scores + row * n;
        float maximum = row_max(s, mask, n);
        if (maximum == -INFINITY) {   // every key masked
            for (long j = 0; j < n; j++) s[j] = 1.0f / (float)n;
            continue;
        }
        float inverse = 1.0f / exp_shifted_sum(s, mask, n, maximum);
        for (long j = 0; j < n; j++) s[j] *= inverse;
    }
}

static inline __attribute__((always_inline)) void layernorm_forward_body(float *restrict out, float *mean, float *rstd, const float *restrict x,
                                          const float *restrict weight, const float *restrict bias,
                                          long rows, long dim, float eps) {
    for (long row = 0; row < rows; row++) {
        const float *restrict xr = x + row * dim;
        float *restrict yr = out + row * dim;
        float m = row_sum(xr, dim) / (float)dim;
        float r = 1.0f / sqrtf(row_squared_deviation(xr, dim, m) / (float)dim + eps);
        for (long i = 0; i < dim; i++) yr[i] = (xr[i] - m) * r * weight[i] + bias[i];
        if (mean) mean[row] = m;
        if (rstd) rstd[row] = r;
    }
}

// The residual connection and the LayerNorm after it in one pass over each row: x ← x + residual (kept:
// it is the LayerNorm's input the backward needs), then out = LayerNorm(x). The same float operations as
// adding first and normalising after.
static inline __attribute__((always_inline)) void add_layernorm_forward_body(float *restrict out, float *mean, float *rstd,
                                                                             float *restrict x, const float *restrict residual,
                                                                             const float *restrict weight, const float *restrict bias,
                                                                             long rows, long dim, float eps) {
    for (long row = 0; row < rows; row++) {
        float *restrict xr = x + row * dim;
        const float *restrict rr = residual + row * dim;
        for (long i = 0; i < dim; i++) xr[i] += rr[i];
        layernorm_forward_body(out + row * dim, mean ? mean + row : 0, rstd ? rstd + row : 0, xr, weight, bias, 1, dim, eps);
    }
}

BK_CLONES void bk_add_layernorm_forward(float *out, float *mean, float *rstd, float *x, const float *residual, const float *weight,
                                        const float *bias, long rows, long dim, float eps) {
    add_layernorm_forward_body(out, mean, rstd, x, residual, weight, bias, rows, dim, eps);
}
void bk_add_layernorm_forward_portable(float *out, float *mean, float *rstd, float *x, const float *residual, const float *weight,
                                       const float *bias, long rows, long dim, float eps) {
    add_layernorm_forward_body(out, mean, rstd, x, residual, weight, bias, rows, dim, eps);
}

BK_CLONES void bk_gelu_forward(float *out, const float *x, long n) { gelu_forward_body(out, x, n); }
void bk_gelu_forward_portable(float *out, const float *x, long n) { gelu_forward_body(out, x, n); }

BK_CLONES void bk_gelu_backward(float *dx, const float *dy, const float *x, long n) { gelu_backward_body(dx, dy, x, n); }
void bk_gelu_backward_portable(float *dx, const float *dy, const float *x, long n) { gelu_backward_body(dx, dy, x, n); }

BK_CLONES void bk_softmax_rows(float *scores, long rows, long n, const float *mask) { softmax_rows_body(scores, rows, n, mask); }
void bk_softmax_rows_portable(float *scores, long rows, long n, const float *mask) { softmax_rows_body(scores, rows, n, mask); }

BK_CLONES void bk_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *weight,
                                    const float *bias, long rows, long dim, float eps) {
    layernorm_forward_body(out, mean, rstd, x, weight, bias, rows, dim, eps);
}
void bk_layernorm_forward_portable(float *out, float *mean, float *rstd, const float *x, const float *weight,
                                   const float *bias, long rows, long dim, float eps) {
    layernorm_forward_body(out, mean, rstd, x, weight, bias, rows, dim, eps);
}

// Softmax backward, row by row: g ← p ⊙ (g − Σ_j g_j·p_j) (g holds ∂L/∂probs on entry, ∂L/∂scores on exit).
static inline __attribute__((always_inline)) float row_dot(const float *restrict a, const float *restrict b, long n) {
#pragma clang fp reassociate(on)
    float sum = 0.0f;
    for (long i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

static inline __attribute__((always_inline)) void softmax_backward_body(float *g, const float *restrict p, long rows, long n) {
    for (long row = 0; row < rows; row++) {
        float *restrict gr = g + row * n;
        const float *restrict pr = p + row * n;
        float dot = row_dot(gr, pr, n);
        for (long j = 0; j < n; j++) gr[j] = pr[j] * (gr[j] - dot);
    }
}

BK_CLONES void bk_softmax_backward_rows(float *g, const float *p, long rows, long n) { softmax_backward_body(g, p, rows, n); }
void bk_softmax_backward_rows_portable(float *g, const float *p, long rows, long n) { softmax_backward_body(g, p, rows, n); }

// LayerNorm backward (the derivation is in LayerNorm.swift): with x̂ = (x − mean)·rstd and g = dy·γ,
//   dx += rstd·(g − mean(g) − x̂·mean(g·x̂)),  dγ += dy·x̂,  dβ += dy.
static inline __attribute__((always_inline)) void row_g_sums(const float *restrict dy, const float *restrict x,
                                                             const float *restrict weight, long n, float m, float r,
                                                             float *g_sum, float *gx_sum) {
#pragma clang fp reassociate(on)
    float gs = 0.0f, gxs = 0.0f;
    for (long i = 0; i < n; i++) {
        float g = dy[i] * weight[i];
        gs += g;
        gxs += g * ((x[i] - m) * r);
    }
    *g_sum = gs;
    *gx_sum = gxs;
}

static inline __attribute__((always_inline)) void layernorm_backward_body(float *restrict dx, float *restrict dweight, float *restrict dbias,
                                                                          const float *restrict dy, const float *restrict x,
                                                                          const float *restrict mean, const float *restrict rstd,
                                                                          const float *restrict weight, long rows, long dim) {
    for (long row = 0; row < rows; row++) {
        const float *restrict xr = x + row * dim, *restrict dyr = dy + row * dim;
        float *restrict dxr = dx + row * dim;
        float m = mean[row], r = rstd[row], g_sum, gx_sum;
        row_g_sums(dyr, xr, weight, dim, m, r, &g_sum, &gx_sum);
        float g_mean = g_sum / (float)dim, gx_mean = gx_sum / (float)dim;
        for (long i = 0; i < dim; i++) {
            float x_hat = (xr[i] - m) * r;
            if (dweight) dweight[i] += dyr[i] * x_hat;
            if (dbias) dbias[i] += dyr[i];
            dxr[i] += r * (dyr[i] * weight[i] - g_mean - x_hat * gx_mean);
        }
    }
}

BK_CLONES void bk_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x, const float *mean,
                                     const float *rstd, const float *weight, long rows, long dim) {
    layernorm_backward_body(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, dim);
}
void bk_layernorm_backward_portable(float *dx, float *dweight, float *dbias, const float *dy, const float *x, const float *mean,
                                    const float *rstd, const float *weight, long rows, long dim) {
    layernorm_backward_body(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, dim);
}

// out[j] += Σ_r x[r·ld + j] over j < cols, rows added in order (a bias gradient: the column sums of dOut).
static inline __attribute__((always_inline)) void column_sums_body(float *restrict out, const float *restrict x, long rows, long cols, long ld) {
    for (long row = 0; row < rows; row++) {
        const float *restrict xr = x + row * ld;
        for (long j = 0; j < cols; j++) out[j] += xr[j];
    }
}

BK_CLONES void bk_column_sums(float *out, const float *x, long rows, long cols, long ld) { column_sums_body(out, x, rows, cols, ld); }
void bk_column_sums_portable(float *out, const float *x, long rows, long cols, long ld) { column_sums_body(out, x, rows, cols, ld); }

// murmur3's 32-bit finaliser over the element counter mixed with the site's key: 32-bit multiplies only,
// so the loop vectorises with AVX2 (which has no 64-bit multiply).
static inline __attribute__((always_inline)) uint32_t bk_fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static inline __attribute__((always_inline)) void dropout_body(float *out, const float *in, long count, long first,
                                                               uint32_t key, uint32_t threshold, float scale) {
#pragma clang loop vectorize(assume_safety)   // out may equal in (see gelu_backward_body)
    for (long i = 0; i < count; i++) {
        uint32_t h = bk_fmix32(((uint32_t)(first + i) * 0x9E3779B1u) ^ key);
        out[i] = h >= threshold ? in[i] * scale : 0.0f;
    }
}

BK_CLONES void bk_dropout(float *out, const float *in, long count, long first, uint32_t key, uint32_t threshold, float scale) {
    dropout_body(out, in, count, first, key, threshold, scale);
}
void bk_dropout_portable(float *out, const float *in, long count, long first, uint32_t key, uint32_t threshold, float scale) {
    dropout_body(out, in, count, first, key, threshold, scale);
}
