// quant_layout: how a matrix of 4- to 6-bit weights sits in memory for Corolla's native
// quantised matmul (kernels/matmul_quant.hpp), and the kernel table of its paths.
//
// Every supported ggml type is read as 32-value groups of unsigned integers q of 4, 5 or
// 6 bits with per-group f32 factors s (scale) and m (offset), w = s * q + m:
//   Q4_0, Q5_0  s = d (f16),         m = -8 d / -16 d  (kept as the integer offset 8/16)
//   Q4_1, Q5_1  s = d (f16),         m = min (f16)
//   Q4_K, Q5_K  s = D * sc (6 bits), m = -(Dmin * mn) (6 bits), D, Dmin f16 per 256 values
//   Q6_K        s = D * sc (int8) per 16 values, offset 32, D f16 per 256 values
// Products such as D * sc are exact in f32 (11 x 8 significant bits), so a factor is the
// same number whether it is precomputed or not; the layout keeps the small integers and
// computes factors in the kernels, which keeps a matrix at its file's size.
//
// Layout. Rows are padded to a multiple of 8 (zero rows) and stored as tiles of 8 rows.
// Within a tile the 8 rows are interleaved, 4 values at a time, so that one 32-byte
// register holds values 4k .. 4k + 3 (chunk k of a group) of all 8 rows — byte 4 r + j
// is row r's value 4k + j — and a u8 x s8 dot with those 4 activations broadcast leaves
// each row's sum in its own 32-bit lane: no horizontal sums. A tile is one sequential
// stream (what decode's prefetchers follow best): group records in order, and for the K
// types a super-block header before each run of 8 groups. A group record:
//   qs  [c = 0..3][32 bytes]  byte 4 r + j: value 4c + j of row r in the low nibble,
//                             value 16 + 4c + j in the high one
//   qh  [plane][32 bytes]     (5 bits: one plane, 6 bits: two) bit k of byte 4 r + j is
//                             bit 4 + plane of value 4k + j of row r
//   then per format, [row] each: Q4_0, Q5_0: d f16; Q4_1, Q5_1: d f16, m f16;
//   Q4_K, Q5_K: sc u8, mn u8; Q6_K: sc int8 for values 0-15, then for 16-31.
// A super-block header, [row] each: Q4_K, Q5_K: D f16, Dmin f16; Q6_K: D f16.
// Exactness and equal bits. Activations are quantised per group to int8 (x = xs * xq,
// xs = max|x| / 127, xq = nearbyint(x / xs) in [-127, 127]) with the sums of xq per
// 16 values beside them. Each path computes, for every row and group, the exact int32
// isum = sum(q * xq) — u8 x s8 maddubs pairs stay below 2 * 63 * 127 < 32767, so they
// never saturate — and then the same f32 operations in the same order, one lane per row:
//   offset types: acc += (s * xs) * float(isum - offset * xsum)      (Q6_K: per half)
//   min types:    acc += (s * xs) * float(isum);  acc += (m * xs) * float(xsum)
// starting from acc = 0 and taking groups in order. No fused multiply-adds (the build
// forbids contraction). So every path's outputs are bitwise equal.
//
// Each path's kernels are compiled in their own translation unit for their ISA, like
// kernels/int8/packed_int8.hpp's. Pure functions; any thread; the caller splits the work.
#pragma once

#include <cstdint>
#include <type_traits>

namespace corolla::quant {

enum class format : uint8_t { q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k };

constexpr int64_t kGroup = 32;    // values per group
constexpr int64_t kSuper = 256;   // values per K super-block
constexpr int64_t kTileRows = 8;  // rows per tile

constexpr int bits_of(format f) {
  return f == format::q4_0 || f == format::q4_1 || f == format::q4_k ? 4
         : f == format::q6_k                                         ? 6
                                                                     : 5;
}
constexpr bool has_min(format f) {
  return f == format::q4_1 || f == format::q5_1 || f == format::q4_k || f == format::q5_k;
}
constexpr bool is_k(format f) {
  return f == format::q4_k || f == format::q5_k || f == format::q6_k;
}
// The integer the offset types subtract from q (0 for the min types).
constexpr int offset_of(format f) {
  return f == format::q4_0 ? 8 : f == format::q5_0 ? 16 : f == format::q6_k ? 32 : 0;
}
// Calls fn(std::integral_constant<format, f>{}): each kernel's one switch from the runtime
// format to its compiled-in one. (Each translation unit instantiates it with a lambda of
// its own, so no ISA's copy can stand in for another's.)
template <class Fn>
inline void with_format(format f, Fn&& fn) {
  switch (f) {
    case format::q4_0:
      return fn(std::integral_constant<format, format::q4_0>{});
    case format::q4_1:
      return fn(std::integral_constant<format, format::q4_1>{});
    case format::q5_0:
      return fn(std::integral_constant<format, format::q5_0>{});
    case format::q5_1:
      return fn(std::integral_constant<format, format::q5_1>{});
    case format::q4_k:
      return fn(std::integral_constant<format, format::q4_k>{});
    case format::q5_k:
      return fn(std::integral_constant<format, format::q5_k>{});
    case format::q6_k:
      return fn(std::integral_constant<format, format::q6_k>{});
  }
}

// Values a row's length must be a multiple of.
constexpr int64_t row_multiple(format f) {
  return is_k(f) ? kSuper : kGroup;
}

// Sizes and offsets of a tile's records (-1: the format has no such field).
struct tile_layout {
  int64_t groups = 0;  // cols / 32
  int planes = 0;      // bits - 4
  int64_t group_bytes = 0;
  int64_t header_bytes = 0;  // K types: a super-block's header
  // Within a group record: qs at 0, then these.
  int64_t qh = -1, d = -1, m = -1, sc = -1, mn = -1;
  // Within a K type's header.
  int64_t super_d = -1, super_m = -1;
  int64_t bytes = 0;  // one tile
};

inline tile_layout layout_of(format f, int64_t cols) {
  tile_layout l;
  l.groups = cols / kGroup;
  l.planes = bits_of(f) - 4;
  int64_t at = 4 * 32;
  if (l.planes > 0) {
    l.qh = at;
    at += l.planes * 32;
  }
  if (is_k(f)) {
    l.sc = at;
    at += f == format::q6_k ? 2 * kTileRows : kTileRows;
    if (has_min(f)) {
      l.mn = at;
      at += kTileRows;
    }
    l.super_d = 0;
    l.header_bytes = 2 * kTileRows;
    if (has_min(f)) {
      l.super_m = l.header_bytes;
      l.header_bytes += 2 * kTileRows;
    }
  } else {
    l.d = at;
    at += 2 * kTileRows;
    if (has_min(f)) {
      l.m = at;
      at += 2 * kTileRows;
    }
  }
  l.group_bytes = at;
  const int64_t per_super = kSuper / kGroup;
  l.bytes = is_k(f) ? cols / kSuper * (l.header_bytes + per_super * l.group_bytes)
                    : l.groups * l.group_bytes;
  return l;
}

// Group g's record and super-block k's header in a tile.
template <class Byte>
inline Byte* group_at(const tile_layout& l, Byte* tile, int64_t g) {
  if (l.header_bytes == 0) return tile + g * l.group_bytes;
  const int64_t per_super = kSuper / kGroup;
  return tile + (g / per_super) * (l.header_bytes + per_super * l.group_bytes) + l.header_bytes +
         (g % per_super) * l.group_bytes;
}
template <class Byte>
inline Byte* super_at(const tile_layout& l, Byte* tile, int64_t k) {
  return tile + k * (l.header_bytes + kSuper / kGroup * l.group_bytes);
}

struct gemm_args {
  format f;
  const uint8_t* w;  // tiles, layout.bytes apart
  tile_layout layout;
  int64_t rows;         // real rows: padding rows are computed but not written
  const int8_t* xq;     // [m, cols] quantised activations
  const float* xs;      // [m, groups] their scales
  const int32_t* xsum;  // [m, 2 groups] sums of xq per 16 values
  int64_t m;
  int64_t cols;
  float* out;  // out[i * ldo + r]
  int64_t ldo;
};

struct kernels {
  // out[i, r] for every activation row i and the rows r of tiles [tile_begin, tile_end).
  void (*gemm)(const gemm_args& args, int64_t tile_begin, int64_t tile_end);
};

const kernels& portable_kernels();
const kernels& avx2_kernels();
const kernels& vnni_kernels();  // AVX-512 VNNI on 256-bit registers

}  // namespace corolla::quant

namespace corolla::quant {

// Bytes of one row of `cols` values in ggml's own blocks of format f.
int64_t ggml_row_bytes(format f, int64_t cols);

// Packs up to 8 rows of ggml blocks of format f, `cols` values each (a null row is a
// padding row of zeros), into one tile of layout_of(f, cols).bytes bytes at `tile`.
// REQUIRES: cols % row_multiple(f) == 0.
void pack_tile(format f, int64_t cols, const uint8_t* const rows[kTileRows], uint8_t* tile);

// Value j (0 .. 31) of row r in group g of a tile: the layout's one reading, which the
// portable kernel and unpack_row use.
int value_at(const tile_layout& l, const uint8_t* tile, int64_t g, int r, int j);

// Row r of a tile as f32, w = s * q + m evaluated as ggml's dequantisation does, so the
// values equal ggml's to_float bit for bit (tests compare the two).
void unpack_row(format f, const tile_layout& l, const uint8_t* tile, int r, float* out);

}  // namespace corolla::quant
