#include "model/block_forward.hpp"

#include <algorithm>

#include "kernels/reference.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/rope.hpp"
#include "kernels/swiglu.hpp"

namespace corolla {
namespace {

void ensure(std::vector<float>& buffer, int64_t size) {
  if (buffer.size() < size_t(size)) buffer.resize(size);
}

void add_into(float* x, const float* delta, int64_t size) {
  for (int64_t i = 0; i < size; ++i) x[i] += delta[i];
}

}  // namespace

status block_forward(const block_weights& w, kv_cache& cache, float* x, int64_t pos, int64_t n,
                     block_workspace& ws) {
  COROLLA_RETURN_IF_ERROR(cache.prepare(pos, n));
  const llama_config& c = w.config;
  const int64_t dim = c.dim, kv_dim = c.kv_dim(), qkv_dim = dim + 2 * kv_dim;
  const bool fast = w.kind == precision::int8;
  ensure(ws.xb, n * dim);
  ensure(ws.qkv, n * qkv_dim);
  ensure(ws.q, n * dim);
  ensure(ws.att, n * dim);
  ensure(ws.out, n * dim);
  ensure(ws.gate_up, n * 2 * c.hidden_dim);
  ensure(ws.hidden, n * c.hidden_dim);

  // attention rmsnorm
  if (fast) {
    rmsnorm(ws.xb.data(), x, w.attn_norm.data(), n, dim, c.rms_eps);
  } else {
    ref::rmsnorm(ws.xb.data(), x, w.attn_norm.data(), n, dim, c.rms_eps);
  }
  // q, k, v for every token in one matmul; k and v go straight into the cache
  w.qkv.forward(ws.qkv.data(), ws.xb.data(), n, ws.matmul);
  for (int64_t t = 0; t < n; ++t) {
    const float* row = ws.qkv.data() + t * qkv_dim;
    std::copy_n(row, dim, ws.q.data() + t * dim);
    std::copy_n(row + dim, kv_dim, cache.keys(pos + t));
    std::copy_n(row + dim + kv_dim, kv_dim, cache.values(pos + t));
  }
  // RoPE relative positional encoding on q and the new keys
  if (fast) {
    rope(ws.q.data(), n, pos, c.n_heads, w.rope);
    rope(cache.keys(pos), n, pos, c.n_kv_heads, w.rope);
  } else {
    ref::rope(ws.q.data(), n, pos, c.n_heads, c.head_dim(), c.rope_dim, c.rope_freq_base);
    ref::rope(cache.keys(pos), n, pos, c.n_kv_heads, c.head_dim(), c.rope_dim, c.rope_freq_base);
  }
  // causal attention over the whole cache, then the output projection and residual
  if (fast) {
    attention(ws.att.data(), ws.q.data(), cache.keys(0), cache.values(0), n, pos, c.n_heads,
              c.n_kv_heads, c.head_dim(), ws.attention);
  } else {
    ref::attention(ws.att.data(), ws.q.data(), cache.keys(0), cache.values(0), n, pos, c.n_heads,
                   c.n_kv_heads, c.head_dim());
  }
  w.wo.forward(ws.out.data(), ws.att.data(), n, ws.matmul);
  add_into(x, ws.out.data(), n * dim);

  // ffn rmsnorm, then self.w2(F.silu(self.w1(x)) * self.w3(x)) with w1, w3 fused
  if (fast) {
    rmsnorm(ws.xb.data(), x, w.ffn_norm.data(), n, dim, c.rms_eps);
  } else {
    ref::rmsnorm(ws.xb.data(), x, w.ffn_norm.data(), n, dim, c.rms_eps);
  }
  w.gate_up.forward(ws.gate_up.data(), ws.xb.data(), n, ws.matmul);
  if (fast) {
    swiglu(ws.hidden.data(), ws.gate_up.data(), n, c.hidden_dim);
  } else {
    ref::swiglu(ws.hidden.data(), ws.gate_up.data(), n, c.hidden_dim);
  }
  w.down.forward(ws.out.data(), ws.hidden.data(), n, ws.matmul);
  add_into(x, ws.out.data(), n * dim);

  cache.commit(pos + n);
  return status();
}

}  // namespace corolla
