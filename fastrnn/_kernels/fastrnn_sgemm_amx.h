/* fastrnn_sgemm_amx.h: float32 GEMM on Intel AMX tiles, to float32 accuracy (included by
 * fastrnn_sgemm.h).
 *
 * Why: on Xeons with AMX (Sapphire Rapids and later) one TDPBF16PS instruction does a
 * 16 x 16 x 32 bf16 product with float32 accumulation every 16 cycles: ~2.9 TFLOP/s per
 * core against ~190 GFLOP/s for float32 AVX-512 FMAs.  bf16 alone keeps 8 bits of each
 * operand, far from float32, so every float32 value is split into three bf16 pieces
 *
 *     a = a0 + a1 + a2     a0 = bf16(a), a1 = bf16(a - a0), a2 = bf16(a - a0 - a1)
 *
 * (24 significant bits, the subtractions are exact), and a . b is summed from the six
 * piece products that matter, smallest first:
 *
 *     a2 b0 + a1 b1 + a0 b2 + a1 b0 + a0 b1 + a0 b0
 *
 * The three dropped products (a1 b2, a2 b1, a2 b2) are below 2^-25 of |a b|, so each
 * product is as exact as a float32 one and accumulation is float32 as in any sgemm;
 * tests/test_sgemm.py holds the result to the same float64-reference tolerance as the
 * AVX-512 path (measured error per element: ~5e-8 of sum |a_k b_k|).  Six products cost
 * 6/16 of the tile unit's bf16 rate, still ~2x the AVX-512 kernel at the recurrence's
 * shapes (benchmarks/bench_gemm.py).  Like the hardware, the path treats float32
 * denormals as zero (the kernels flush them anyway); an infinite input gives NaN, not inf.
 *
 * Layout.  A tile is 16 rows x 64 bytes.  An A tile holds 16 rows x 32 k of one piece; a
 * B tile holds 16 k-pairs x 16 columns x 2 (VNNI: the two k of a pair side by side).
 * Packed A: per 16-row tile, per 32-k block, the three piece tiles (3 KB); packed B: per
 * 16-column block, per 32-k block, the three piece tiles.  Rows are zero padded to 16,
 * columns to 16; padded results are never stored.
 * The K tail: a last k block with kv <= 16 real k (K = 65, the char-LM input projection,
 * has kv = 1) would cost six tile products for a few k.  It is packed compactly instead:
 * the six piece pairs of each k side by side, slot 6k + p holding A piece FRX_TAIL_A[p]
 * and B piece FRX_TAIL_B[p], so that ceil(6 kv / 32) products (one for kv <= 5) cover
 * it.  Each piece product is exact in float32 as before; only the order in which the
 * tile unit adds them differs.
 * Blocking (Goto): jc over N (FRX_NC, B block packed unless prepacked), pc over K
 * (FRX_KC), ic over M (FRX_MC, A block packed with alpha), then 16 x 32 micro-tiles:
 * tiles 0-1 accumulate C, 2-4 hold A's pieces, 5-7 B's pieces.
 * Turned off by FASTRNN_NO_AMX=1 (fastrnn_sgemm.h).
 */
#ifndef FASTRNN_SGEMM_AMX_H
#define FASTRNN_SGEMM_AMX_H

#include <cpuid.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FRX_TILE 512  /* bf16 per tile: 16 x 32 */
#define FRX_BLOCK (3 * FRX_TILE) /* the three pieces of one 16 x 32 (or 32 x 16) block */
#define FRX_KC 512    /* K block: an A tile row block is 48 KB */
#define FRX_MC 64     /* M block: four 16-row tiles, 192 KB packed (L2) */
#define FRX_NC 512    /* N block when B is packed per call: 1.5 MB at KC = 512 */
#define FRX_ALIGN 64  /* packed buffers start on a cache line */

typedef struct {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} frx_tilecfg;

/* AMX tiles with bf16 products, AVX-512 bf16 conversions, and the kernel's permission to
 * use the tile state (Linux asks each process to request it once). */
static inline int frx_available(void) {
    static int ok = -1; /* benign race: the request is idempotent */
    if (ok < 0) {
        unsigned a, b, c, d, v = 0;
        __builtin_cpu_init();
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22)) &&
            (d & (1u << 24)) && __builtin_cpu_supports("avx512bw")) {
            unsigned a1, b1, c1, d1;
            if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && (a1 & (1u << 5)))
                v = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                            18 /* XFEATURE_XTILEDATA */) == 0;
        }
        ok = (int)v;
    }
    return ok;
}

static inline int frx_ceil(int a, int b) { return (a + b - 1) / b; }

static inline uint16_t *frx_aligned(void *p) {
    return (uint16_t *)(((uintptr_t)p + FRX_ALIGN - 1) & ~(uintptr_t)(FRX_ALIGN - 1));
}

/* Floats to allocate for a K x N matrix packed by frx_pack_b (alignment slack included). */
static inline size_t frx_packed_size(int K, int N) {
    return (size_t)frx_ceil(N, 16) * frx_ceil(K, 32) * FRX_BLOCK / 2 + FRX_ALIGN / 4;
}

/* The three bf16 pieces of 16 floats (bit patterns in 16-bit lanes). */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static inline void frx_split(
    __m512 x, __m256i *p0, __m256i *p1, __m256i *p2)
{
    __m256i b0 = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 r = _mm512_sub_ps(
        x, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b0), 16)));
    __m256i b1 = (__m256i)_mm512_cvtneps_pbh(r);
    r = _mm512_sub_ps(
        r, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b1), 16)));
    *p0 = b0;
    *p1 = b1;
    *p2 = (__m256i)_mm512_cvtneps_pbh(r);
}

/* Tiles of a compact K tail of kv real k (see the top of this file), 0 for a full block. */
static inline int frx_tail_tiles(int kv) { return kv < 32 && kv <= 16 ? (6 * kv + 31) / 32 : 0; }

/* Slot 6k + p of a tail pairs A piece FRX_TAIL_A[p] with B piece FRX_TAIL_B[p]: the six
 * products a2 b0, a1 b1, a0 b2, a1 b0, a0 b1, a0 b0. */
static const int FRX_TAIL_A[6] = {2, 1, 0, 1, 0, 0};
static const int FRX_TAIL_B[6] = {0, 1, 2, 0, 1, 0};

/* Scalar frx_split: round to nearest even bf16, denormal inputs as zero (as the vector
 * conversion does), NaN kept NaN. */
static inline uint16_t frx_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7F800000u) == 0)
        return (uint16_t)((u >> 16) & 0x8000u); /* zero or denormal: signed zero */
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x40u); /* NaN: quiet, stays NaN */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float frx_from_bf16(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline void frx_split_scalar(float x, uint16_t piece[3]) {
    piece[0] = frx_bf16(x);
    x -= frx_from_bf16(piece[0]);
    piece[1] = frx_bf16(x);
    x -= frx_from_bf16(piece[1]);
    piece[2] = frx_bf16(x);
}

/* out[j * ldo + i] = src[i * lds + j] for a 16 x 16 block: the in-register transpose
 * (32-bit unpacks, 64-bit shuffles, two rounds of 128-bit lane shuffles). */
__attribute__((target("avx512f"))) static inline void frx_transpose16(const float *src,
                                                                     long lds, float *out,
                                                                     int ldo)
{
    __m512 r[16], a[16], b[16];
    int i, c;
    for (i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * lds);
    for (i = 0; i < 16; i += 2) { /* a[i], a[i+1]: rows i, i+1 interleaved */
        a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (i = 0; i < 16; i += 4) { /* b[i + c], lane L: rows i..i+3 of column 4L + c */
        b[i] = _mm512_shuffle_ps(a[i], a[i + 2], 0x44);
        b[i + 1] = _mm512_shuffle_ps(a[i], a[i + 2], 0xEE);
        b[i + 2] = _mm512_shuffle_ps(a[i + 1], a[i + 3], 0x44);
        b[i + 3] = _mm512_shuffle_ps(a[i + 1], a[i + 3], 0xEE);
    }
    for (c = 0; c < 4; c++) { /* gather lane L of b[c], b[4+c], b[8+c], b[12+c] */
        __m512 e0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x88);
        __m512 e1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xDD);
        __m512 e2 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x88);
        __m512 e3 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xDD);
        _mm512_storeu_ps(out + (long)c * ldo, _mm512_shuffle_f32x4(e0, e2, 0x88));
        _mm512_storeu_ps(out + (long)(8 + c) * ldo, _mm512_shuffle_f32x4(e0, e2, 0xDD));
        _mm512_storeu_ps(out + (long)(4 + c) * ldo, _mm512_shuffle_f32x4(e1, e3, 0x88));
        _mm512_storeu_ps(out + (long)(12 + c) * ldo, _mm512_shuffle_f32x4(e1, e3, 0xDD));
    }
}

/* Split rows of 32 floats (row r at rows + r * 32) times alpha into the three piece tiles
 * of an A block (rows r0..r1). */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static inline void frx_split_rows(
    const float *rows, long ld, int r0, int r1, float alpha, uint16_t *blk)
{
    __m512 va = _mm512_set1_ps(alpha);
    int r, h;
    for (r = r0; r < r1; r++) {
        for (h = 0; h < 2; h++) {
            __m256i p0, p1, p2;
            frx_split(_mm512_mul_ps(va, _mm512_loadu_ps(rows + (r - r0) * ld + 16 * h)), &p0,
                      &p1, &p2);
            _mm256_storeu_si256((__m256i *)(blk + r * 32 + 16 * h), p0);
            _mm256_storeu_si256((__m256i *)(blk + FRX_TILE + r * 32 + 16 * h), p1);
            _mm256_storeu_si256((__m256i *)(blk + 2 * FRX_TILE + r * 32 + 16 * h), p2);
        }
    }
}

/* Pack alpha op(A)[0:mc, 0:kc] (element (m, k) at A[m * rs + k * cs]) into A tiles:
 * tile t (rows 16t..16t+15), k block j at out + (t * kbs + j) * FRX_BLOCK. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void frx_pack_a(
    int mc, int kc, float alpha, const float *A, long rs, long cs, uint16_t *out)
{
    int kbs = frx_ceil(kc, 32), t, j, r, k, h;
    float tmp[16][32];
    for (t = 0; t < frx_ceil(mc, 16); t++) {
        int m0 = t * 16, mv = mc - m0 < 16 ? mc - m0 : 16;
        for (j = 0; j < kbs; j++) {
            uint16_t *blk = out + ((size_t)t * kbs + j) * FRX_BLOCK;
            int k0 = j * 32, kv = kc - k0 < 32 ? kc - k0 : 32, nt = frx_tail_tiles(kv);
            if (nt) { /* compact K tail: row r, slot 6k + p in tile (6k + p) / 32 */
                memset(blk, 0, sizeof(uint16_t) * FRX_BLOCK);
                for (r = 0; r < mv; r++)
                    for (k = 0; k < kv; k++) {
                        uint16_t piece[3];
                        int p;
                        frx_split_scalar(alpha * A[(long)(m0 + r) * rs + (long)(k0 + k) * cs],
                                         piece);
                        for (p = 0; p < 6; p++) {
                            int slot = 6 * k + p;
                            blk[(slot / 32) * FRX_TILE + r * 32 + slot % 32] = piece[FRX_TAIL_A[p]];
                        }
                    }
                continue;
            }
            if (cs == 1 && kv == 32) { /* rows contiguous in k: split in place */
                frx_split_rows(A + (long)m0 * rs + k0, rs, 0, mv, alpha, blk);
            } else if (rs == 1 && kv == 32 && mv == 16) { /* transposed: two 16 x 16 */
                frx_transpose16(A + m0 + (long)k0 * cs, cs, &tmp[0][0], 32);
                frx_transpose16(A + m0 + (long)(k0 + 16) * cs, cs, &tmp[0][16], 32);
                frx_split_rows(&tmp[0][0], 32, 0, 16, alpha, blk);
            } else { /* edges: gather, zero padded */
                for (r = 0; r < mv; r++)
                    for (k = 0; k < 32; k++)
                        tmp[r][k] = k < kv ? A[(long)(m0 + r) * rs + (long)(k0 + k) * cs] : 0.0f;
                frx_split_rows(&tmp[0][0], 32, 0, mv, alpha, blk);
            }
            for (r = mv; r < 16; r++)
                for (h = 0; h < 3; h++)
                    memset(blk + h * FRX_TILE + r * 32, 0, 64);
        }
    }
}

/* Pack op(B)[0:kc, 0:nc] (element (k, n) at B[k * rs + n * cs]) into VNNI B tiles:
 * column block c (columns 16c..16c+15), k block j at out + c * ld_block + j * FRX_BLOCK. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void frx_pack_b_block(
    int kc, int nc, const float *B, long rs, long cs, uint16_t *out, size_t ld_block)
{
    int kbs = frx_ceil(kc, 32), c, j, k, n, q, h;
    float tmp[32][16];
    for (c = 0; c < frx_ceil(nc, 16); c++) {
        int n0 = c * 16, nv = nc - n0 < 16 ? nc - n0 : 16;
        for (j = 0; j < kbs; j++) {
            uint16_t *blk = out + (size_t)c * ld_block + (size_t)j * FRX_BLOCK;
            int k0 = j * 32, kv = kc - k0 < 32 ? kc - k0 : 32, nt = frx_tail_tiles(kv);
            if (nt) { /* compact K tail, VNNI: slot w of column n at row w / 2, lane w % 2 */
                memset(blk, 0, sizeof(uint16_t) * FRX_BLOCK);
                for (n = 0; n < nv; n++)
                    for (k = 0; k < kv; k++) {
                        uint16_t piece[3];
                        int p;
                        frx_split_scalar(B[(long)(k0 + k) * rs + (long)(n0 + n) * cs], piece);
                        for (p = 0; p < 6; p++) {
                            int slot = 6 * k + p, w = slot % 32;
                            blk[(slot / 32) * FRX_TILE + (w / 2) * 32 + n * 2 + w % 2] =
                                piece[FRX_TAIL_B[p]];
                        }
                    }
                continue;
            }
            if (kv == 32 && nv == 16 && cs == 1) { /* full block, rows contiguous */
                for (k = 0; k < 32; k++)
                    _mm512_storeu_ps(tmp[k], _mm512_loadu_ps(B + (long)(k0 + k) * rs + n0));
            } else if (kv == 32 && nv == 16 && rs == 1) { /* full block, transposed */
                frx_transpose16(B + (long)n0 * cs + k0, cs, tmp[0], 16);
                frx_transpose16(B + (long)n0 * cs + k0 + 16, cs, tmp[16], 16);
            } else if (cs == 1) { /* rows of op(B) contiguous */
                for (k = 0; k < 32; k++)
                    for (n = 0; n < 16; n++)
                        tmp[k][n] = k < kv && n < nv ? B[(long)(k0 + k) * rs + n0 + n] : 0.0f;
            } else { /* columns contiguous (a transposed operand) */
                for (n = 0; n < 16; n++)
                    for (k = 0; k < 32; k++)
                        tmp[k][n] = k < kv && n < nv ? B[(long)(k0 + k) * rs + (long)(n0 + n) * cs]
                                                     : 0.0f;
            }
            for (q = 0; q < 16; q++) { /* tile row q: k = 2q and 2q + 1 interleaved */
                __m256i e[3], o[3];
                frx_split(_mm512_loadu_ps(tmp[2 * q]), &e[0], &e[1], &e[2]);
                frx_split(_mm512_loadu_ps(tmp[2 * q + 1]), &o[0], &o[1], &o[2]);
                for (h = 0; h < 3; h++) {
                    __m512i row = _mm512_or_si512(
                        _mm512_cvtepu16_epi32(e[h]),
                        _mm512_slli_epi32(_mm512_cvtepu16_epi32(o[h]), 16));
                    _mm512_storeu_si512((void *)(blk + h * FRX_TILE + q * 32), row);
                }
            }
        }
    }
}

/* The whole K x N matrix packed once (prepacked B of frx_gemm); out from frx_packed_size. */
static inline void frx_pack_b(int K, int N, const float *B, long rs, long cs, float *out) {
    frx_pack_b_block(K, N, B, rs, cs, frx_aligned(out),
                     (size_t)frx_ceil(K, 32) * FRX_BLOCK);
}

/* Every tile 16 rows x 64 bytes.  A static object: GCC 12's _tile_loadconfig tells the
 * compiler it reads only a pointer's worth of the config, so stores into a local one may
 * be dropped before the instruction reads them. */
static const frx_tilecfg frx_config __attribute__((aligned(64))) = {
    1, 0, {0}, {64, 64, 64, 64, 64, 64, 64, 64}, {16, 16, 16, 16, 16, 16, 16, 16}};

__attribute__((target("amx-tile"))) static inline void frx_configure(void) {
    _tile_loadconfig(&frx_config);
}

/* Move an m x n corner of C (row stride ldc) into a 16 x 16 scratch tile (zero
 * elsewhere) and back: the edge tiles. */
static inline void frx_c_in(const float *c, long ldc, int m, int n, float *tile) {
    int r, j;
    for (r = 0; r < 16; r++)
        for (j = 0; j < 16; j++)
            tile[r * 16 + j] = r < m && j < n ? c[r * ldc + j] : 0.0f;
}

static inline void frx_c_out(const float *tile, int m, int n, float *c, long ldc) {
    int r, j;
    for (r = 0; r < m; r++)
        for (j = 0; j < n; j++)
            c[r * ldc + j] = tile[r * 16 + j];
}

/* The six piece products of one k block into C tile `acc`, smallest first.  Tile numbers
 * must be literals, hence the macro. */
#define FRX_SIX(acc)                 \
    do {                             \
        _tile_dpbf16ps(acc, 4, 5);   \
        _tile_dpbf16ps(acc, 3, 6);   \
        _tile_dpbf16ps(acc, 2, 7);   \
        _tile_dpbf16ps(acc, 3, 5);   \
        _tile_dpbf16ps(acc, 2, 6);   \
        _tile_dpbf16ps(acc, 2, 5);   \
    } while (0)

/* C[0:m, 0:n0+n1] (+)= one packed A tile row block @ one or two packed B column blocks
 * (n1 == 0: one), over kbs k blocks.  load_c: add to C (else overwrite). */
__attribute__((target("amx-tile,amx-bf16"))) static void frx_micro(
    int kbs, int tail_nt, const uint16_t *a, const uint16_t *b0, const uint16_t *b1,
    float *c, long ldc, int m, int n0, int n1, int load_c, const float *bias)
{
    float scratch[2][256] __attribute__((aligned(64)));
    float *c1 = c + 16;
    int j, direct0 = m == 16 && n0 == 16, direct1 = m == 16 && n1 == 16;
    if (!load_c && !bias) {
        _tile_zero(0);
        _tile_zero(1);
    } else { /* from C, or from the bias row in every row (row stride 0) */
        const float *src = load_c ? c : bias;
        long ld = load_c ? ldc : 0;
        if (direct0) {
            _tile_loadd(0, src, ld * 4);
        } else {
            frx_c_in(src, ld, m, n0, scratch[0]);
            _tile_loadd(0, scratch[0], 64);
        }
        if (direct1) {
            _tile_loadd(1, src + 16, ld * 4);
        } else {
            frx_c_in(src + 16, ld, m, n1, scratch[1]);
            _tile_loadd(1, scratch[1], 64);
        }
    }
    if (tail_nt) /* the last k block is a compact K tail */
        kbs--;
    for (j = 0; j < kbs; j++) {
        _tile_loadd(2, a, 64);
        _tile_loadd(3, a + FRX_TILE, 64);
        _tile_loadd(4, a + 2 * FRX_TILE, 64);
        a += FRX_BLOCK;
        _tile_loadd(5, b0, 64);
        _tile_loadd(6, b0 + FRX_TILE, 64);
        _tile_loadd(7, b0 + 2 * FRX_TILE, 64);
        b0 += FRX_BLOCK;
        FRX_SIX(0);
        if (n1 > 0) { /* the second column block reuses the A pieces */
            _tile_loadd(5, b1, 64);
            _tile_loadd(6, b1 + FRX_TILE, 64);
            _tile_loadd(7, b1 + 2 * FRX_TILE, 64);
            b1 += FRX_BLOCK;
            FRX_SIX(1);
        }
    }
    for (j = 0; j < tail_nt; j++) {
        _tile_loadd(2, a + j * FRX_TILE, 64);
        _tile_loadd(5, b0 + j * FRX_TILE, 64);
        _tile_dpbf16ps(0, 2, 5);
        if (n1 > 0) {
            _tile_loadd(6, b1 + j * FRX_TILE, 64);
            _tile_dpbf16ps(1, 2, 6);
        }
    }
    if (direct0) {
        _tile_stored(0, c, ldc * 4);
    } else {
        _tile_stored(0, scratch[0], 64);
        frx_c_out(scratch[0], m, n0, c, ldc);
    }
    if (n1 > 0) {
        if (direct1) {
            _tile_stored(1, c1, ldc * 4);
        } else {
            _tile_stored(1, scratch[1], 64);
            frx_c_out(scratch[1], m, n1, c1, ldc);
        }
    }
}

__attribute__((target("amx-tile"))) static inline void frx_release(void) { _tile_release(); }

/* C[0:mc, 0:nc] (+)= a packed A block (mc rows, kbs k blocks) @ a packed B block (nc
 * columns, column blocks ld_block apart), by 16 x 32 micro-tiles; bias as in frx_micro. */
static void frx_block(int mc, int nc, int kbs, int tail_nt, const uint16_t *a_buf,
                      const uint16_t *bb, size_t ld_block, float *C, int ldc, int load_c,
                      const float *bias)
{
    int jr, ir;
    for (jr = 0; jr < nc; jr += 32) {
        int n0 = nc - jr < 16 ? nc - jr : 16;
        int n1 = nc - jr - 16 < 0 ? 0 : (nc - jr - 16 < 16 ? nc - jr - 16 : 16);
        const uint16_t *b0 = bb + (size_t)(jr / 16) * ld_block;
        for (ir = 0; ir < mc; ir += 16) {
            int m = mc - ir < 16 ? mc - ir : 16;
            frx_micro(kbs, tail_nt, a_buf + (size_t)(ir / 16) * kbs * FRX_BLOCK, b0,
                      n1 > 0 ? b0 + ld_block : NULL, C + (long)ir * ldc + jr, ldc, m, n0, n1,
                      load_c, bias ? bias + jr : NULL);
        }
    }
}

/* C (M, N) = alpha op(A) @ op(B) + beta C; op(A) element (m, k) at A[m * a_rs + k * a_cs],
 * op(B) element (k, n) at B[k * b_rs + n * b_cs], or B prepacked by frx_pack_b over all K
 * (then B is ignored).  With beta == 0, a non-NULL bias (N,) is added to every row (C
 * tiles start from it: no separate pass over a large C, the input projection's case).
 * Returns -1 (C untouched) when a buffer cannot be allocated.
 * (Computing C^T = op(B)^T op(A)^T instead when A is transposed, so that the wider
 * operand needs no transpose, measured slower: C tiles must then be transposed in and out
 * at every K block.) */
static int frx_gemm(int M, int N, int K, float alpha, const float *A, long a_rs, long a_cs,
                    const float *B, long b_rs, long b_cs, const float *prepacked, float beta,
                    float *C, int ldc, const float *bias)
{
    int jc, pc, ic, jr, ir, kb_all = frx_ceil(K, 32);
    void *a_mem, *b_mem = NULL;
    uint16_t *a_buf, *b_buf = NULL;
    const uint16_t *pre = prepacked ? frx_aligned((void *)prepacked) : NULL;
    int nc_max = prepacked ? N : (N < FRX_NC ? N : FRX_NC);
    int kc_max = K < FRX_KC ? K : FRX_KC, mc_max = M < FRX_MC ? M : FRX_MC;
    a_mem = malloc((size_t)frx_ceil(mc_max, 16) * frx_ceil(kc_max, 32) * FRX_BLOCK * 2 +
                   FRX_ALIGN);
    if (!prepacked)
        b_mem = malloc((size_t)frx_ceil(nc_max, 16) * frx_ceil(kc_max, 32) * FRX_BLOCK * 2 +
                       FRX_ALIGN);
    if (a_mem == NULL || (!prepacked && b_mem == NULL)) {
        free(a_mem);
        free(b_mem);
        return -1;
    }
    a_buf = frx_aligned(a_mem);
    if (b_mem)
        b_buf = frx_aligned(b_mem);
    if (beta != 0.0f && beta != 1.0f) { /* scale once, then accumulate */
        for (ir = 0; ir < M; ir++)
            for (jr = 0; jr < N; jr++)
                C[(long)ir * ldc + jr] *= beta;
        beta = 1.0f;
    }
    frx_configure();
    for (jc = 0; jc < N; jc += nc_max) {
        int nc = N - jc < nc_max ? N - jc : nc_max;
        for (pc = 0; pc < K; pc += kc_max) {
            int kc = K - pc < kc_max ? K - pc : kc_max, kbs = frx_ceil(kc, 32);
            int load_c = pc > 0 || beta == 1.0f, tail_nt = frx_tail_tiles(kc - 32 * (kbs - 1));
            const uint16_t *bb;
            size_t ld_block;
            if (pre) { /* column block c of the whole-K packing, from k block pc / 32 */
                ld_block = (size_t)kb_all * FRX_BLOCK;
                bb = pre + (size_t)(jc / 16) * ld_block + (size_t)(pc / 32) * FRX_BLOCK;
            } else {
                ld_block = (size_t)kbs * FRX_BLOCK;
                frx_pack_b_block(kc, nc, B + (long)pc * b_rs + (long)jc * b_cs, b_rs, b_cs,
                                 b_buf, ld_block);
                bb = b_buf;
            }
            for (ic = 0; ic < M; ic += mc_max) {
                int mc = M - ic < mc_max ? M - ic : mc_max;
                frx_pack_a(mc, kc, alpha, A + (long)ic * a_rs + (long)pc * a_cs, a_rs, a_cs,
                           a_buf);
                frx_block(mc, nc, kbs, tail_nt, a_buf, bb, ld_block,
                          C + (long)ic * ldc + jc, ldc, load_c,
                          beta == 0.0f && bias ? bias + jc : NULL);
            }
        }
    }
    frx_release();
    free(a_mem);
    free(b_mem);
    return 0;
}

/* C1 (M, N1) = op(A) @ B1 and C2 (M, N2) = op(A) @ B2 (B1, B2 row-major K x N, row
 * strides ldb1, ldb2): one packing of op(A) for both (each A block is packed once per K
 * block and multiplied by both B blocks).  The weight gradients dW_ih = dA^T X and
 * dW_hh = dA^T H_prev share their transposed dA this way.  Results equal two frx_gemm
 * calls bit for bit.  Returns -1 (nothing written) when N1 or N2 exceeds FRX_NC or a
 * buffer cannot be allocated: then make the two calls. */
static int frx_gemm_pair(int M, int N1, int N2, int K, const float *A, long a_rs, long a_cs,
                         const float *B1, int ldb1, float *C1, int ldc1, const float *B2,
                         int ldb2, float *C2, int ldc2)
{
    int pc, ic, kc_max = K < FRX_KC ? K : FRX_KC, mc_max = M < FRX_MC ? M : FRX_MC;
    size_t b_bytes = (size_t)frx_ceil(kc_max, 32) * FRX_BLOCK * 2;
    void *a_mem, *b1_mem, *b2_mem;
    uint16_t *a_buf, *b1_buf, *b2_buf;
    if (N1 > FRX_NC || N2 > FRX_NC || N1 <= 0 || N2 <= 0 || M <= 0 || K <= 0)
        return -1;
    a_mem = malloc((size_t)frx_ceil(mc_max, 16) * frx_ceil(kc_max, 32) * FRX_BLOCK * 2 +
                   FRX_ALIGN);
    b1_mem = malloc((size_t)frx_ceil(N1, 16) * b_bytes + FRX_ALIGN);
    b2_mem = malloc((size_t)frx_ceil(N2, 16) * b_bytes + FRX_ALIGN);
    if (a_mem == NULL || b1_mem == NULL || b2_mem == NULL) {
        free(a_mem);
        free(b1_mem);
        free(b2_mem);
        return -1;
    }
    a_buf = frx_aligned(a_mem);
    b1_buf = frx_aligned(b1_mem);
    b2_buf = frx_aligned(b2_mem);
    frx_configure();
    for (pc = 0; pc < K; pc += kc_max) {
        int kc = K - pc < kc_max ? K - pc : kc_max, kbs = frx_ceil(kc, 32);
        int tail_nt = frx_tail_tiles(kc - 32 * (kbs - 1));
        size_t ld_block = (size_t)kbs * FRX_BLOCK;
        frx_pack_b_block(kc, N1, B1 + (long)pc * ldb1, ldb1, 1, b1_buf, ld_block);
        frx_pack_b_block(kc, N2, B2 + (long)pc * ldb2, ldb2, 1, b2_buf, ld_block);
        for (ic = 0; ic < M; ic += mc_max) {
            int mc = M - ic < mc_max ? M - ic : mc_max;
            frx_pack_a(mc, kc, 1.0f, A + (long)ic * a_rs + (long)pc * a_cs, a_rs, a_cs, a_buf);
            frx_block(mc, N1, kbs, tail_nt, a_buf, b1_buf, ld_block, C1 + (long)ic * ldc1,
                      ldc1, pc > 0, NULL);
            frx_block(mc, N2, kbs, tail_nt, a_buf, b2_buf, ld_block, C2 + (long)ic * ldc2,
                      ldc2, pc > 0, NULL);
        }
    }
    frx_release();
    free(a_mem);
    free(b1_mem);
    free(b2_mem);
    return 0;
}

#endif
