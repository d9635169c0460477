// Function multi-versioning for the kernels: a `BK_CLONES` function is compiled for baseline x86-64 and
// for x86-64-v3 (AVX2, FMA, BMI2), and the loader picks the build the CPU runs (ifunc). Elsewhere it is
// one ordinary function.
#ifndef BERTKIT_CKERNELS_CLONES_H
#define BERTKIT_CKERNELS_CLONES_H

#if defined(__x86_64__) && defined(__clang__)
#define BK_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BK_CLONES
#endif

#endif
