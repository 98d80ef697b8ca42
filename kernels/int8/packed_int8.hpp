// packed_int8: the weight layout and kernel table of Corolla's own int8 matmul paths
// (portable, avx2, avx512bw; cpu_isa.hpp says which CPU runs which).
//
// Layout. W [rows, cols] int8 is padded to [rows4, cols64] (rows to a multiple of 4,
// cols of 64) with zeros and stored as blocks of 4 rows, each block as 64-column chunks
// of its 4 rows: byte (r, c) sits at
//   ((r / 4) * (cols64 / 64) + c / 64) * 256 + (r % 4) * 64 + c % 64.
// A GEMV then reads W as one sequential stream, and a 64-byte chunk is one AVX-512
// register, two AVX2 registers or four SSE ones. Activations are [m, cols64] int8 rows
// (zero-padded), with |x| as u8 beside them.
//
// Exactness. Without VNNI the only byte multiply is maddubs (u8 x s8, pairs added in
// int16 with saturation). The kernels feed it |x| and sign(x) * w: both at most 127 in
// magnitude (quantisation is symmetric, [-127, 127]), so a pair sums to at most
// 2 * 127 * 127 = 32258 < 32767 and never saturates; madd with ones then widens to
// int32. Every path's int32 sums are therefore the exact dot products, and its epilogue
// is the same two f32 multiplications, out = float(sum) * x_scale * w_scale: outputs are
// bitwise equal on every path (int32 cannot overflow below 133 000 columns).
//
// Each kernel is compiled in its own translation unit for its ISA; that unit includes
// only this header and intrinsics, so no inline function compiled for a wider ISA can
// be picked by the linker for code that runs on a narrower one.
// Pure functions; any thread; the caller splits the work.
#pragma once

#include <cstdint>

namespace corolla::packed {

constexpr int64_t kRowBlock = 4;
constexpr int64_t kColChunk = 64;

inline int64_t padded_rows(int64_t rows) {
  return (rows + kRowBlock - 1) / kRowBlock * kRowBlock;
}
inline int64_t padded_cols(int64_t cols) {
  return (cols + kColChunk - 1) / kColChunk * kColChunk;
}

// Packs plain row-major int8 W [rows, cols] into `out` (padded_rows * padded_cols bytes).
void pack(int8_t* out, const int8_t* w, int64_t rows, int64_t cols);

// Symmetric quantisation of one row, the definition every path follows (weights use it
// as it is; the kernels' vector quantisers give the same bytes): q = nearbyint(x / s)
// with s = max|x| / 127 (0 for a zero row). Returns s.
float quantize_row(int8_t* q, const float* x, int64_t n);

struct gemm_args {
  const int8_t* xq;      // [m, kp] quantised activations
  const uint8_t* xa;     // [m, kp] |xq| (unused by the portable kernel)
  const float* x_scale;  // [m]
  int64_t m;
  int64_t kp;            // padded_cols(cols)
  const int8_t* w;       // packed weights
  const float* w_scale;  // [rows]
  int64_t rows;          // real rows: padding rows are computed but not written
  float* out;            // [m, rows]
};

struct kernels {
  // One activation row x [cols] as quantize_row does, padded with zeros to kp; a = |q|
  // unless a is null (oneDNN's path needs no |q|). Returns the scale.
  float (*quantize)(const float* x, int64_t cols, int64_t kp, int8_t* q, uint8_t* a);
  // out[i, r] for every row i and the rows r of blocks [block_begin, block_end).
  void (*gemm)(const gemm_args& args, int64_t block_begin, int64_t block_end);
};

const kernels& portable_kernels();
const kernels& avx2_kernels();
const kernels& avx512bw_kernels();

}  // namespace corolla::packed
