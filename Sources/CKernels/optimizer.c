// The optimizer's passes over every trainable float (see include/ckernels.h): AdamW's update, the sum of
// squares behind global-norm clipping, and scaling. Memory-bound loops; multi-versioned like kernels.c.

#include "ckernels.h"
#include "clones.h"
#include <math.h>

// torch.optim.AdamW's arithmetic, in its order (Docs/specs/transformers_training.md §2), on the gradient
// scaled by `grad_scale` (the clipping coefficient; 1 when not clipping, which leaves g exact):
//   p ← p·decay ;  m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g² ;  p ← p − step_size·m / (√v / √(1−β2^t) + ε)
static inline __attribute__((always_inline)) void adamw_body(float *restrict p, const float *restrict g, float *restrict m,
                                                             float *restrict v, long n, float grad_scale, float decay,
                                                             float beta1, float beta2, float step_size, float bias2_root, float eps) {
    const float one_minus_beta1 = 1.0f - beta1, one_minus_beta2 = 1.0f - beta2;
    for (long i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float mi = beta1 * m[i] + one_minus_beta1 * gi;
        float vi = beta2 * v[i] + one_minus_beta2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        // v ≥ 0, so the square root never sets errno: the builtin lets the loop vectorise.
        p[i] = p[i] * decay - step_size * mi / (__builtin_elementwise_sqrt(vi) / bias2_root + eps);
    }
}

BK_CLONES void bk_adamw(float *p, const float *g, float *m, float *v, long n, float grad_scale, float decay, float beta1,
                        float beta2, float step_size, float bias2_root, float eps) {
    adamw_body(p, g, m, v, n, grad_scale, decay, beta1, beta2, step_size, bias2_root, eps);
}
void bk_adamw_portable(float *p, const float *g, float *m, float *v, long n, float grad_scale, float decay, float beta1,
                       float beta2, float step_size, float bias2_root, float eps) {
    adamw_body(p, g, m, v, n, grad_scale, decay, beta1, beta2, step_size, bias2_root, eps);
}

// Σ x², accumulated in double (in several vector lanes: the only reassociation here).
static inline __attribute__((always_inline)) double sum_squares_body(const float *restrict x, long n) {
#pragma clang fp reassociate(on)
    double sum = 0.0;
    for (long i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    return sum;
}

BK_CLONES double bk_sum_squares(const float *x, long n) { return sum_squares_body(x, n); }
double bk_sum_squares_portable(const float *x, long n) { return sum_squares_body(x, n); }

static inline __attribute__((always_inline)) void scale_body(float *restrict x, long n, float s) {
    for (long i = 0; i < n; i++) x[i] *= s;
}

BK_CLONES void bk_scale(float *x, long n, float s) { scale_body(x, n, s); }
void bk_scale_portable(float *x, long n, float s) { scale_body(x, n, s); }
