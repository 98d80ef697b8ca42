// matmul_int8: out = x W^T with W held as int8 per output channel, run by oneDNN.
//
// W [rows, cols] is GGUF's layout (rows = output channels, cols = input features).
// It is quantised once, symmetrically per row: W[r][c] ~= w_scale[r] * q[r][c],
// q in [-127, 127], then reordered into oneDNN's blocked layout. Each call quantises
// the activations x [m, cols] per token row the same way, oneDNN computes the s32
// products, and our epilogue writes out[i][r] = s32[i][r] * x_scale[i] * w_scale[r].
//
// Why this shape (measured on this machine; ../shared/PLATFORM.md):
//  - oneDNN's fast path is brg:avx512_core_vnni with s8 weights reordered once from
//    format_tag::any. Runtime output scales drop it to gemm:jit (2.5-3x slower); static
//    scales would tie a primitive to one matrix. s32 output stays on the fast path and
//    lets every matrix of one shape share one primitive.
//  - A runtime M (DNNL_RUNTIME_DIM_VAL) also drops to gemm:jit, so primitives are made
//    per (m, cols, rows), once, and cached for the life of the process.
//  - AMX (brg:avx512_core_amx_int8) is 3x faster at m = 512 (3.4 vs 1.1 TOPS) but
//    slower for decode GEMV (19 vs 24 GB/s of weights, 2048x5632). Decode is what
//    memory bandwidth limits, so the ISA is capped at avx512_core_vnni unless the
//    user sets DNNL_MAX_CPU_ISA.
// Threads: oneDNN's OpenMP team of the calling thread; the quantise and epilogue loops
// are one OpenMP loop each. An int8_matrix is immutable once built and may be shared
// by threads; a matmul_workspace belongs to one calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace corolla {

// Per-thread scratch of matmul_int8: quantised activations, their scales, s32 results.
// Grows on the first call with a larger shape and is reused after.
struct matmul_workspace {
  std::vector<int8_t> x_q;
  std::vector<float> x_scale;
  std::vector<int32_t> acc;
  std::vector<uint8_t> scratchpad;  // oneDNN's temporary buffer, one per caller
};

class int8_matrix {
 public:
  // Writes row `row` of W as f32 to out[0, cols). Called from several threads at once.
  using row_source = std::function<void(int64_t row, float* out)>;

  // Quantises and reorders W [rows, cols], rows read through `source` in parallel.
  // REQUIRES: rows > 0, cols > 0.
  static int8_matrix quantize(int64_t rows, int64_t cols, const row_source& source);

  int8_matrix();
  int8_matrix(int8_matrix&&) noexcept;
  int8_matrix& operator=(int8_matrix&&) noexcept;
  ~int8_matrix();

  int64_t rows() const;
  int64_t cols() const;
  const float* scales() const;  // w_scale[rows]
  size_t bytes() const;         // blocked int8 values (with oneDNN's padding) + scales

 private:
  friend void matmul_int8(float*, const float*, int64_t, const int8_matrix&, matmul_workspace&);
  struct impl;
  std::unique_ptr<impl> impl_;
};

// out [m, w.rows()] = x [m, w.cols()] W^T. REQUIRES: m > 0; out and x do not overlap.
void matmul_int8(float* out, const float* x, int64_t m, const int8_matrix& w, matmul_workspace& ws);

// The oneDNN implementation chosen for an s8 matmul of this shape, e.g.
// "brg:avx512_core_vnni" (tests and benchmarks show it; ONEDNN_VERBOSE agrees).
std::string matmul_int8_implementation(int64_t m, int64_t cols, int64_t rows);

// Number of oneDNN matmul primitives created so far: constant once every shape in use
// has been seen, which is how tests check that no primitive is made per token.
int64_t matmul_int8_primitives_created();

}  // namespace corolla
