// The tile shape shared by the kernels with packed weights (lowp_gemm.c, f32_gemm.c): panels of 16 output columns,
// tiles of up to 8 rows × 3 panels — 24 accumulators of 16 lanes, three weight vectors and a broadcast, 28 of
// AVX-512's 32 vector registers.
#ifndef BERTKIT_CKERNELS_TILES_H
#define BERTKIT_CKERNELS_TILES_H

#define BK_PANEL 16
#define BK_TILE_ROWS 8
#define BK_TILE_PANELS 3
/// Values in one stored row of a tile's results (BK_GEMM_GELU's local tile).
#define BK_TILE_COLUMNS (BK_TILE_PANELS * BK_PANEL)

// Packed weights are stored by panel triples (the tile's width): for each step of k (a group of 4 int8 or one float),
// the vectors of the triple's (up to) three panels side by side, so that a tile reads one stream of weights. Where
// panel p's vector for step `step` starts, in units of `vector` (the values of one vector: 64 int8, 16 floats), with
// `steps` steps per panel and `panels` panels in all.
static inline long bk_triple_offset(long panels, long steps, long p, long step, long vector) {
    long first = p / BK_TILE_PANELS * BK_TILE_PANELS;
    long width = panels - first < BK_TILE_PANELS ? panels - first : BK_TILE_PANELS;
    return (first * steps + step * width + (p - first)) * vector;
}

// The output columns a tile of nv panels starting at `column` covers, of n.
static inline long bk_tile_columns(long n, long column, long nv) {
    return n - column < nv * BK_PANEL ? n - column : nv * BK_PANEL;
}

// Calls TILE(MR, NV, args…) with the tile's row count mr (1…8) and panel count nv (1…3) as constants, so that
// each of the 24 shapes is its own unrolled loop with its accumulators in registers.
#define BK_TILE_ROWS_SWITCH(TILE, NV, ...)                                                                             \
    switch (mr) {                                                                                                      \
    case 8: TILE(8, NV, __VA_ARGS__); break;                                                                           \
    case 7: TILE(7, NV, __VA_ARGS__); break;                                                                           \
    case 6: TILE(6, NV, __VA_ARGS__); break;                                                                           \
    case 5: TILE(5, NV, __VA_ARGS__); break;                                                                           \
    case 4: TILE(4, NV, __VA_ARGS__); break;                                                                           \
    case 3: TILE(3, NV, __VA_ARGS__); break;                                                                           \
    case 2: TILE(2, NV, __VA_ARGS__); break;                                                                           \
    default: TILE(1, NV, __VA_ARGS__); break;                                                                          \
    }
#define BK_TILE_SWITCH(TILE, ...)                                                                                      \
    if (nv == 3) { BK_TILE_ROWS_SWITCH(TILE, 3, __VA_ARGS__) }                                                         \
    else if (nv == 2) { BK_TILE_ROWS_SWITCH(TILE, 2, __VA_ARGS__) }                                                    \
    else { BK_TILE_ROWS_SWITCH(TILE, 1, __VA_ARGS__) }

#endif
