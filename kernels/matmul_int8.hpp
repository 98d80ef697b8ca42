// matmul_int8: out = x W^T with W held as int8 per output channel, on the kernel path
// the CPU allows (cpu_isa.hpp): oneDNN's VNNI brgemm, or Corolla's avx512bw, avx2 or
// portable kernels (kernels/int8/packed_int8.hpp).
//
// W [rows, cols] is GGUF's layout (rows = output channels, cols = input features).
// It is quantised once, symmetrically per row: W[r][c] ~= w_scale[r] * q[r][c],
// q in [-127, 127], then laid out for its path. Each call quantises the activations
// x [m, cols] per token row the same way, the path computes the exact int32 products,
// and the epilogue writes out[i][r] = float(s32[i][r]) * x_scale[i] * w_scale[r]. Every
// path gives the same bits (invariant 1 of cpu_isa.hpp), so nodes on different CPUs
// compute one function.
//
// Why oneDNN on VNNI, and how (measured; ../shared/PLATFORM.md):
//  - Its fast path is brg:avx512_core_vnni with s8 weights reordered once from
//    format_tag::any. Runtime output scales drop it to gemm:jit (2.5-3x slower); static
//    scales would tie a primitive to one matrix. s32 output stays on the fast path and
//    lets every matrix of one shape share one primitive.
//  - A runtime M (DNNL_RUNTIME_DIM_VAL) also drops to gemm:jit, so primitives are made
//    per (m, cols, rows), once, and cached for the life of the process.
//  - AMX (brg:avx512_core_amx_int8) is 3x faster at m = 512 (3.4 vs 1.1 TOPS) but
//    slower for decode GEMV (19 vs 24 GB/s of weights, 2048x5632). oneDNN's ISA cap is
//    process-wide, so decode wins: the ISA is capped at avx512_core_vnni unless the
//    user sets DNNL_MAX_CPU_ISA.
//  - Without VNNI, oneDNN 2.6's int8 matmul is gemm:jit, 20x slower and inexact (pairs
//    of u8 x s8 products saturate in int16); hence Corolla's own kernels there.
// Threads: the calling thread's OpenMP team: on the own paths chunks are handed out
// dynamically, on as many threads as the workspace's team_policy finds fastest (one,
// when another process holds a core); oneDNN splits its own. An int8_matrix is immutable once built
// and may be shared by threads; a matmul_workspace belongs to one calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu_isa.hpp"
#include "kernels/team_policy.hpp"

namespace corolla {

// Per-thread scratch of matmul_int8: quantised activations, their scales, s32 results.
// Grows on the first call with a larger shape and is reused after.
struct matmul_workspace {
  std::vector<int8_t> x_q;
  std::vector<uint8_t> x_abs;  // |x_q|, for the packed paths' maddubs
  std::vector<float> x_scale;
  std::vector<int32_t> acc;
  std::vector<int32_t> x_sum;       // matmul_quant's sums of x_q per 16 values
  std::vector<uint8_t> scratchpad;  // oneDNN's temporary buffer, one per caller
  // Team sizes of the own paths' parallel matmuls, learned apart for decode-sized calls
  // (m < 16: weight reads bound them) and batches (compute bounds them), whose costs per
  // multiply-add differ too much to compare in one average.
  team_policy decode_team;
  team_policy batch_team;
};

class int8_matrix {
 public:
  // Writes row `row` of W as f32 to out[0, cols). Called from several threads at once.
  using row_source = std::function<void(int64_t row, float* out)>;

  // Quantises W [rows, cols], rows read through `source` in parallel, and lays it out for
  // `path`'s kernels (on the VNNI path a small matrix gets the avx512bw kernels: same
  // bits, less fixed cost). REQUIRES: rows > 0, cols > 0, int8_path_available(path).
  static int8_matrix quantize(int64_t rows, int64_t cols, const row_source& source,
                              int8_path path = process_int8_path());

  int8_matrix();
  int8_matrix(int8_matrix&&) noexcept;
  int8_matrix& operator=(int8_matrix&&) noexcept;
  ~int8_matrix();

  int64_t rows() const;
  int64_t cols() const;
  const float* scales() const;  // w_scale[rows]
  int8_path path() const;       // the kernels matmul_int8 runs on it
  size_t bytes() const;         // int8 values in the path's layout (with padding) + scales

  struct impl;

 private:
  friend void matmul_int8(float*, const float*, int64_t, const int8_matrix&, matmul_workspace&);
  std::unique_ptr<impl> impl_;
};

// Bytes int8_matrix::quantize(rows, cols, ..., path) takes.
size_t int8_matrix_bytes(int64_t rows, int64_t cols, int8_path path = process_int8_path());

// out [m, w.rows()] = x [m, w.cols()] W^T. REQUIRES: m > 0; out and x do not overlap.
void matmul_int8(float* out, const float* x, int64_t m, const int8_matrix& w, matmul_workspace& ws);

// The oneDNN implementation it would choose for an s8 matmul of this shape, e.g.
// "brg:avx512_core_vnni" (tests and benchmarks show it; ONEDNN_VERBOSE agrees).
std::string matmul_int8_implementation(int64_t m, int64_t cols, int64_t rows);

// The kernels a matmul of this shape runs on in this process: "avx2", or oneDNN's
// implementation on the VNNI path, e.g. "onednn-vnni brg:avx512_core_vnni".
std::string matmul_int8_kernel_name(int64_t m, int64_t cols, int64_t rows);

// Number of oneDNN matmul primitives created so far: constant once every shape in use
// has been seen, which is how tests check that no primitive is made per token.
int64_t matmul_int8_primitives_created();

}  // namespace corolla
