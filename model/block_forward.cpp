#include "model/block_forward.hpp"

#include <algorithm>

#include "kernels/geglu.hpp"
#include "kernels/half.hpp"
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

namespace {

void norm(bool fast, float* out, const float* x, const std::vector<float>& weight, int64_t rows,
          int64_t dim, float eps) {
  if (fast) {
    rmsnorm(out, x, weight.data(), rows, dim, eps);
  } else {
    ref::rmsnorm(out, x, weight.data(), rows, dim, eps);
  }
}

void add_rows(float* x, const std::vector<float>& bias, int64_t rows) {
  const int64_t width = int64_t(bias.size());
  for (int64_t r = 0; r < rows; ++r) add_into(x + r * width, bias.data(), width);
}

}  // namespace

void block_forward_batch(const block_weights& w, const std::vector<sequence_step>& seqs, float* x,
                         block_workspace& ws) {
  const llama_config& c = w.config;
  const int64_t dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim();
  const int64_t qkv_dim = q_dim + 2 * kv_dim;
  const bool fast = w.kind != precision::f32;
  int64_t n = 0;
  for (const sequence_step& s : seqs) n += s.n;
  ensure(ws.xb, n * dim);
  ensure(ws.qkv, n * qkv_dim);
  ensure(ws.q, n * q_dim);
  ensure(ws.att, n * q_dim);
  ensure(ws.k, n * kv_dim);
  ensure(ws.v, n * kv_dim);
  ensure(ws.out, n * dim);
  ensure(ws.gate_up, n * 2 * c.hidden_dim);
  ensure(ws.hidden, n * c.hidden_dim);

  norm(fast, ws.xb.data(), x, w.attn_norm, n, dim, c.rms_eps);
  // q, k, v for every row of every sequence in one matmul
  w.qkv.forward(ws.qkv.data(), ws.xb.data(), n, ws.matmul);
  if (!w.qkv_bias.empty()) add_rows(ws.qkv.data(), w.qkv_bias, n);
  int64_t row = 0;
  for (const sequence_step& s : seqs) {
    kv_cache& cache = *s.cache;
    float* q = ws.q.data() + row * q_dim;
    float* keys = ws.k.data();
    for (int64_t t = 0; t < s.n; ++t) {
      const float* src = ws.qkv.data() + (row + t) * qkv_dim;
      std::copy_n(src, q_dim, q + t * q_dim);
      std::copy_n(src + q_dim, kv_dim, keys + t * kv_dim);
      std::copy_n(src + q_dim + kv_dim, kv_dim, ws.v.data() + t * kv_dim);
    }
    if (!w.q_norm.empty()) {  // each head normed on its own
      norm(fast, q, q, w.q_norm, s.n * c.n_heads, c.head_dim(), c.rms_eps);
      norm(fast, keys, keys, w.k_norm, s.n * c.n_kv_heads, c.head_dim(), c.rms_eps);
    }
    // RoPE relative positional encoding on q and the new keys
    if (fast) {
      rope(q, s.n, s.pos, c.n_heads, w.rope);
      rope(keys, s.n, s.pos, c.n_kv_heads, w.rope);
    } else {
      const float* factors = w.rope_factors.empty() ? nullptr : w.rope_factors.data();
      ref::rope(q, s.n, s.pos, c.n_heads, c.head_dim(), c.rope_dim, w.rope_base, factors,
                c.rope_neox);
      ref::rope(keys, s.n, s.pos, c.n_kv_heads, c.head_dim(), c.rope_dim, w.rope_base, factors,
                c.rope_neox);
    }
    for (int64_t t = 0; t < s.n; ++t) {
      cache.store(s.pos + t, keys + t * kv_dim, ws.v.data() + t * kv_dim);
    }
    // causal attention over the session's cache (or the layer's window of it)
    float* att = ws.att.data() + row * q_dim;
    const int64_t len = s.pos + s.n;
    if (fast) {
      attention(att, q, cache.view(), s.n, s.pos, w.attention, ws.attention);
    } else if (cache.type() != kv_type::f32) {
      ensure(ws.kv_f32, 2 * len * kv_dim);
      float* k32 = ws.kv_f32.data();
      float* v32 = k32 + len * kv_dim;
      cache.read_f32(len, k32, v32);
      ref::attention(att, q, k32, v32, s.n, s.pos, w.attention);
    } else {
      const kv_view rows = cache.view();
      ref::attention(att, q, static_cast<const float*>(rows.keys),
                     static_cast<const float*>(rows.values), s.n, s.pos, w.attention);
    }
    cache.commit(s.pos + s.n);
    row += s.n;
  }
  // the output projection and residual
  w.wo.forward(ws.out.data(), ws.att.data(), n, ws.matmul);
  if (!w.wo_bias.empty()) add_rows(ws.out.data(), w.wo_bias, n);
  if (!w.post_attn_norm.empty())
    norm(fast, ws.out.data(), ws.out.data(), w.post_attn_norm, n, dim, c.rms_eps);
  add_into(x, ws.out.data(), n * dim);

  // ffn rmsnorm, then down(act(gate(x)) * up(x)) with gate and up fused
  norm(fast, ws.xb.data(), x, w.ffn_norm, n, dim, c.rms_eps);
  w.gate_up.forward(ws.gate_up.data(), ws.xb.data(), n, ws.matmul);
  if (c.activation == ffn_activation::gelu) {
    geglu(ws.hidden.data(), ws.gate_up.data(), n, c.hidden_dim);
  } else if (fast) {
    swiglu(ws.hidden.data(), ws.gate_up.data(), n, c.hidden_dim);
  } else {
    ref::swiglu(ws.hidden.data(), ws.gate_up.data(), n, c.hidden_dim);
  }
  w.down.forward(ws.out.data(), ws.hidden.data(), n, ws.matmul);
  if (!w.post_ffn_norm.empty())
    norm(fast, ws.out.data(), ws.out.data(), w.post_ffn_norm, n, dim, c.rms_eps);
  add_into(x, ws.out.data(), n * dim);
}

}  // namespace corolla
