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
  block_forward_batch(w, {sequence_step{&cache, pos, n}}, x, ws);
  return status();
}

void block_forward_batch(const block_weights& w, const std::vector<sequence_step>& seqs, float* x,
                         block_workspace& ws) {
  const llama_config& c = w.config;
  const int64_t dim = c.dim, kv_dim = c.kv_dim(), qkv_dim = dim + 2 * kv_dim;
  const bool fast = w.kind == precision::int8;
  int64_t n = 0;
  for (const sequence_step& s : seqs) n += s.n;
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
  // q, k, v for every row of every sequence in one matmul
  w.qkv.forward(ws.qkv.data(), ws.xb.data(), n, ws.matmul);
  int64_t row = 0;
  for (const sequence_step& s : seqs) {
    kv_cache& cache = *s.cache;
    float* q = ws.q.data() + row * dim;
    // k and v go straight into the session's cache
    for (int64_t t = 0; t < s.n; ++t) {
      const float* src = ws.qkv.data() + (row + t) * qkv_dim;
      std::copy_n(src, dim, q + t * dim);
      std::copy_n(src + dim, kv_dim, cache.keys(s.pos + t));
      std::copy_n(src + dim + kv_dim, kv_dim, cache.values(s.pos + t));
    }
    // RoPE relative positional encoding on q and the new keys
    if (fast) {
      rope(q, s.n, s.pos, c.n_heads, w.rope);
      rope(cache.keys(s.pos), s.n, s.pos, c.n_kv_heads, w.rope);
    } else {
      const float* factors = c.rope_freq_factors.empty() ? nullptr : c.rope_freq_factors.data();
      ref::rope(q, s.n, s.pos, c.n_heads, c.head_dim(), c.rope_dim, c.rope_freq_base, factors);
      ref::rope(cache.keys(s.pos), s.n, s.pos, c.n_kv_heads, c.head_dim(), c.rope_dim,
                c.rope_freq_base, factors);
    }
    // causal attention over the session's whole cache
    float* att = ws.att.data() + row * dim;
    if (fast) {
      attention(att, q, cache.keys(0), cache.values(0), s.n, s.pos, c.n_heads, c.n_kv_heads,
                c.head_dim(), ws.attention);
    } else {
      ref::attention(att, q, cache.keys(0), cache.values(0), s.n, s.pos, c.n_heads, c.n_kv_heads,
                     c.head_dim());
    }
    cache.commit(s.pos + s.n);
    row += s.n;
  }
  // the output projection and residual
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
}

}  // namespace corolla
