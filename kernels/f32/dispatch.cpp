// The public f32 kernels (rmsnorm.hpp, softmax.hpp, swiglu.hpp, attention.hpp): scratch
// sized here, on the baseline side, then the process's copy of f32_ops runs.
#include <omp.h>

#include "kernels/assert.hpp"
#include "kernels/attention.hpp"
#include "kernels/cpu_isa.hpp"
#include "kernels/f32/f32_ops.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/softmax.hpp"
#include "kernels/swiglu.hpp"

namespace corolla {
namespace f32 {

int64_t attention_scratch_floats(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  const int64_t rows = kAttentionTokens * (n_heads / n_kv_heads);
  const int64_t floats = 2 * head_dim * kAttentionPositions + rows * (2 + head_dim);
  return (floats + 15) / 16 * 16;  // each thread's share on its own cache lines
}

const ops& process_ops() {
  static const ops& chosen = []() -> const ops& {
    switch (process_int8_path()) {
      case int8_path::portable:
        return baseline_ops();
      case int8_path::avx2:
        return avx2_ops();
      case int8_path::avx512bw:
      case int8_path::onednn_vnni:
        break;
    }
    return avx512_ops();
  }();
  return chosen;
}

}  // namespace f32

void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim,
             float eps) {
  f32::process_ops().rmsnorm(out, x, weight, rows, dim, eps);
}

void softmax(float* x, int64_t n) {
  f32::process_ops().softmax(x, n);
}

void swiglu(float* out, const float* gate_up, int64_t n, int64_t hidden) {
  f32::process_ops().swiglu(out, gate_up, n, hidden);
}

namespace {

void run_attention(float* out, const float* q, const kv_view& cache, int64_t n, int64_t pos0,
                   const attention_params& p, attention_workspace& ws) {
  COROLLA_ASSERT(n > 0 && pos0 >= 0 && p.n_kv_heads > 0 && p.n_heads % p.n_kv_heads == 0 &&
                 p.window >= 0);
  const size_t needed = size_t(omp_get_max_threads()) *
                        size_t(f32::attention_scratch_floats(p.n_heads, p.n_kv_heads, p.head_dim));
  if (ws.scratch.size() < needed) ws.scratch.resize(needed);
  f32::process_ops().attention({out, q, cache, n, pos0, p.n_heads, p.n_kv_heads, p.head_dim,
                                p.scale, p.softcap, p.window, ws.scratch.data()});
}

}  // namespace

void attention(float* out, const float* q, const float* k, const float* v, int64_t n, int64_t pos0,
               const attention_params& p, attention_workspace& ws) {
  run_attention(out, q, {kv_type::f32, k, v}, n, pos0, p, ws);
}

void attention(float* out, const float* q, const kv_view& cache, int64_t n, int64_t pos0,
               const attention_params& p, attention_workspace& ws) {
  run_attention(out, q, cache, n, pos0, p, ws);
}

}  // namespace corolla
