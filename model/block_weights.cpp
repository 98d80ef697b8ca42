#include "model/block_weights.hpp"

#include <array>
#include <mutex>

#include "model/dequantize.hpp"
#include "model/ggml_type.hpp"

namespace corolla {

size_t block_weights::bytes() const {
  return qkv.bytes() + wo.bytes() + gate_up.bytes() + down.bytes() +
         (attn_norm.size() + ffn_norm.size() + qkv_bias.size() + wo_bias.size() + q_norm.size() +
          k_norm.size() + post_attn_norm.size() + post_ffn_norm.size()) *
             sizeof(float);
}

result<std::vector<float>> load_vector(const gguf_file& file, const std::string& name,
                                       int64_t length) {
  const gguf_tensor* t = file.find_tensor(name);
  if (t == nullptr) return status::not_found(file.name() + ": tensor '" + name + "' is missing");
  if (t->elements != length || t->row_length() != length) {
    return status::corruption(file.name() + ": tensor '" + name + "' has shape " +
                              t->shape_string() + ", expected [" + std::to_string(length) + "]");
  }
  std::vector<float> values(length);
  COROLLA_RETURN_IF_ERROR(dequantize_tensor_row(*t, 0, values.data()));
  return values;
}

std::optional<quant::format> native_format_of(uint32_t type) {
  switch (ggml_type(type)) {
    case ggml_type::q4_0:
      return quant::format::q4_0;
    case ggml_type::q4_1:
      return quant::format::q4_1;
    case ggml_type::q5_0:
      return quant::format::q5_0;
    case ggml_type::q5_1:
      return quant::format::q5_1;
    case ggml_type::q4_k:
      return quant::format::q4_k;
    case ggml_type::q5_k:
      return quant::format::q5_k;
    case ggml_type::q6_k:
      return quant::format::q6_k;
    default:
      return std::nullopt;
  }
}

namespace {

// W's parts in their own blocks, when `kind` is native and every part has native
// kernels; otherwise empty (W is converted to int8).
std::vector<quant_matrix::part> native_parts(const std::vector<const gguf_tensor*>& tensors,
                                             int64_t cols, precision kind) {
  std::vector<quant_matrix::part> parts;
  if (kind != precision::native) return parts;
  for (const gguf_tensor* t : tensors) {
    const auto format = native_format_of(t->type);
    if (!format || cols % quant::row_multiple(*format) != 0) return {};
    parts.push_back({*format, t->rows(), [t](int64_t r) { return t->row(r); }});
  }
  return parts;
}

}  // namespace

size_t stacked_bytes(const std::vector<const gguf_tensor*>& tensors, int64_t cols, precision kind) {
  int64_t rows = 0;
  for (const gguf_tensor* t : tensors) rows += t->rows();
  if (kind == precision::f32) return size_t(rows * cols) * sizeof(float);
  const auto parts = native_parts(tensors, cols, kind);
  if (parts.empty()) return int8_matrix_bytes(rows, cols);
  size_t bytes = 0;
  for (const auto& p : parts) bytes += quant_matrix_bytes(p.format, p.rows, cols);
  return bytes;
}

result<linear> load_stacked(const gguf_file& file, const std::vector<std::string>& names,
                            int64_t cols, precision kind) {
  std::vector<const gguf_tensor*> parts;
  std::vector<int64_t> first_row;  // row of W where each part starts
  int64_t rows = 0;
  for (const std::string& name : names) {
    const gguf_tensor* t = file.find_tensor(name);
    if (t == nullptr) return status::not_found(file.name() + ": tensor '" + name + "' is missing");
    if (t->row_length() != cols || t->rows() <= 0) {
      return status::corruption(file.name() + ": tensor '" + name + "' has shape " +
                                t->shape_string() + ", expected rows of " + std::to_string(cols));
    }
    parts.push_back(t);
    first_row.push_back(rows);
    rows += t->rows();
  }
  if (auto native = native_parts(parts, cols, kind); !native.empty()) {
    linear w = linear::native(quant_matrix::pack(cols, native));
    for (const gguf_tensor* t : parts) file.release_pages(*t);
    return w;
  }
  // Rows are read in parallel; the first failure is kept and reported after.
  std::mutex mutex;
  status first_error;
  linear w = linear::load(kind, rows, cols, [&](int64_t row, float* out) {
    size_t p = parts.size() - 1;
    while (first_row[p] > row) --p;
    const status st = dequantize_tensor_row(*parts[p], row - first_row[p], out);
    if (!st.ok()) {
      std::lock_guard<std::mutex> lock(mutex);
      if (first_error.ok()) first_error = st;
      std::fill(out, out + cols, 0.0f);
    }
  });
  if (!first_error.ok()) return first_error;
  // Converted: the source rows will not be read again (a restarted block re-reads them
  // from the page cache), so they need not stay resident beside their int8 copy.
  for (const gguf_tensor* t : parts) file.release_pages(*t);
  return w;
}

std::array<stacked_matrix, 4> block_matrices(const llama_config& c, int64_t index) {
  auto name = [&](const char* suffix) { return block_tensor_name(index, suffix); };
  // phi3 stores q, k, v as one tensor and gate, up as one.
  const bool fused = c.arch == model_arch::phi3;
  return {
      stacked_matrix{fused ? std::vector<std::string>{name("attn_qkv.weight")}
                           : std::vector<std::string>{name("attn_q.weight"), name("attn_k.weight"),
                                                      name("attn_v.weight")},
                     c.dim},
      stacked_matrix{{name("attn_output.weight")}, c.q_dim()},
      stacked_matrix{fused
                         ? std::vector<std::string>{name("ffn_up.weight")}
                         : std::vector<std::string>{name("ffn_gate.weight"), name("ffn_up.weight")},
                     c.dim},
      stacked_matrix{{name("ffn_down.weight")}, c.hidden_dim}};
}

std::vector<int64_t> block_resident_bytes(const gguf_file& file, const llama_config& config,
                                          precision kind) {
  std::vector<int64_t> bytes = block_file_bytes(file, config);
  for (int64_t b = 0; b < int64_t(bytes.size()); ++b) {
    int64_t total = 0;
    bool complete = true;
    for (const stacked_matrix& m : block_matrices(config, b)) {
      std::vector<const gguf_tensor*> parts;
      for (const std::string& name : m.names) {
        const gguf_tensor* t = file.find_tensor(name);
        if (t == nullptr || t->row_length() != m.cols) complete = false;
        if (t != nullptr) parts.push_back(t);
      }
      if (!complete) break;
      total += int64_t(stacked_bytes(parts, m.cols, kind));
    }
    // Vectors (norms, biases) stay f32.
    const std::string prefix = block_tensor_name(b, "");
    for (const gguf_tensor& t : file.tensors()) {
      if (t.shape.size() == 1 && t.name.rfind(prefix, 0) == 0) total += t.elements * 4;
    }
    if (complete) bytes[size_t(b)] = total;
  }
  return bytes;
}

result<block_weights> load_block_weights(const gguf_file& file, const llama_config& config,
                                         int64_t index, precision kind) {
  if (index < 0 || index >= config.n_blocks) {
    return status::out_of_range(file.name() + ": block " + std::to_string(index) +
                                " does not exist (the model has " +
                                std::to_string(config.n_blocks) + ")");
  }
  auto name = [&](const char* suffix) { return block_tensor_name(index, suffix); };
  block_weights b;
  b.config = config;
  b.index = index;
  b.kind = kind;

  const llama_config& c = config;
  COROLLA_ASSIGN_OR_RETURN(b.attn_norm, load_vector(file, name("attn_norm.weight"), c.dim));
  COROLLA_ASSIGN_OR_RETURN(b.ffn_norm, load_vector(file, name("ffn_norm.weight"), c.dim));
  const auto matrices = block_matrices(c, index);
  linear* targets[] = {&b.qkv, &b.wo, &b.gate_up, &b.down};
  for (size_t i = 0; i < matrices.size(); ++i) {
    COROLLA_ASSIGN_OR_RETURN(*targets[i],
                             load_stacked(file, matrices[i].names, matrices[i].cols, kind));
  }

  if (file.find_tensor(name("attn_q.bias"))) {
    for (const auto& [suffix, length] : {std::pair{"attn_q.bias", c.q_dim()},
                                         {"attn_k.bias", c.kv_dim()},
                                         {"attn_v.bias", c.kv_dim()}}) {
      COROLLA_ASSIGN_OR_RETURN(const std::vector<float> part,
                               load_vector(file, name(suffix), length));
      b.qkv_bias.insert(b.qkv_bias.end(), part.begin(), part.end());
    }
  }
  if (file.find_tensor(name("attn_output.bias"))) {
    COROLLA_ASSIGN_OR_RETURN(b.wo_bias, load_vector(file, name("attn_output.bias"), c.dim));
  }
  if (c.qk_norm) {
    COROLLA_ASSIGN_OR_RETURN(b.q_norm, load_vector(file, name("attn_q_norm.weight"), c.head_dim()));
    COROLLA_ASSIGN_OR_RETURN(b.k_norm, load_vector(file, name("attn_k_norm.weight"), c.head_dim()));
  }
  if (c.post_norms) {
    COROLLA_ASSIGN_OR_RETURN(b.post_attn_norm,
                             load_vector(file, name("post_attention_norm.weight"), c.dim));
    COROLLA_ASSIGN_OR_RETURN(b.post_ffn_norm,
                             load_vector(file, name("post_ffw_norm.weight"), c.dim));
  }

  if (b.qkv.rows() != c.q_dim() + 2 * c.kv_dim() || b.wo.rows() != c.dim ||
      b.gate_up.rows() != 2 * c.hidden_dim || b.down.rows() != c.dim) {
    return status::corruption(file.name() + ": block " + std::to_string(index) +
                              " has projections of the wrong size for its config");
  }
  const bool sliding = c.is_sliding(index);
  b.attention =
      attention_params{c.n_heads,       c.n_kv_heads,        c.head_dim(),
                       c.score_scale(), c.attention_softcap, sliding ? c.sliding_window : 0};
  const bool own_rope = sliding && c.rope_freq_base_sliding > 0;
  b.rope_base = own_rope ? c.rope_freq_base_sliding : c.rope_freq_base;
  if (!own_rope) b.rope_factors = c.rope_freq_factors;
  b.rope = make_rope_table(c.head_dim(), c.rope_dim, b.rope_base, b.rope_factors, c.rope_neox);
  return b;
}

}  // namespace corolla
