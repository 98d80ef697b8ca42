#include "model/llama_config.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "model/head_file.hpp"

namespace corolla {
namespace {

status read_positive(const gguf_file& file, const std::string& key, int64_t& out) {
  auto v = file.get_int(key);
  if (!v) return v.error();
  if (*v <= 0) {
    return status::corruption(file.name() + ": metadata key '" + key + "' is " +
                              std::to_string(*v) + " (must be positive)");
  }
  out = *v;
  return status();
}

status check_tensor(const gguf_file& file, const std::string& name,
                    const std::vector<int64_t>& shape) {
  const gguf_tensor* t = file.find_tensor(name);
  if (!t) return status::not_found(file.name() + ": required tensor '" + name + "' is missing");
  if (t->shape != shape) {
    gguf_tensor expected;
    expected.shape = shape;
    return status::corruption(file.name() + ": tensor '" + name + "' has shape " +
                              t->shape_string() + " (expected " + expected.shape_string() + ")");
  }
  const auto info = ggml_type_info_of(t->type);
  if (!info || !info->dequantizable) {
    return status::not_supported(file.name() + ": tensor '" + name + "' has type " +
                                 ggml_type_name(t->type) +
                                 ", which Corolla can not load (F32, F16, BF16, Q8_0, Q4_0, "
                                 "Q4_K, Q6_K are supported)");
  }
  return status();
}

}  // namespace

std::string block_tensor_name(int64_t block, const char* suffix) {
  return "blk." + std::to_string(block) + "." + suffix;
}

std::vector<int64_t> block_file_bytes(const gguf_file& file, const llama_config& config) {
  std::vector<int64_t> bytes(size_t(std::max<int64_t>(config.n_blocks, 0)), 0);
  for (const gguf_tensor& t : file.tensors()) {
    if (t.name.rfind("blk.", 0) != 0) continue;
    int64_t block = 0;
    const char* first = t.name.data() + 4;
    const char* last = t.name.data() + t.name.size();
    const auto [stop, err] = std::from_chars(first, last, block);
    if (err == std::errc() && stop != last && *stop == '.' && block >= 0 &&
        block < config.n_blocks) {
      bytes[size_t(block)] += int64_t(t.bytes);
    }
  }
  return bytes;
}

namespace {

// RoPE scaling as llama.cpp applies it: Llama 3.1's rope_freqs.weight divides each pair's
// frequency; linear scaling (rope.scaling.factor F) divides every frequency by F.
status read_rope_scaling(const gguf_file& file, const std::string& scaling, llama_config& c) {
  const int64_t pairs = c.rope_dim / 2;
  if (const gguf_tensor* t = file.find_tensor("rope_freqs.weight")) {
    if (t->type != uint32_t(ggml_type::f32) || t->elements != pairs) {
      return status::corruption(file.name() + ": rope_freqs.weight must be " +
                                std::to_string(pairs) + " F32 values, is " +
                                ggml_type_name(t->type) + " " + t->shape_string());
    }
    c.rope_freq_factors.resize(size_t(pairs));
    std::memcpy(c.rope_freq_factors.data(), t->data, size_t(pairs) * sizeof(float));
    for (float f : c.rope_freq_factors) {
      if (!(f > 0 && f < 1e6f)) {
        return status::corruption(file.name() + ": rope_freqs.weight holds " + std::to_string(f) +
                                  ": factors must be positive");
      }
    }
  }
  if (scaling == "linear") {
    auto factor = file.get_float("llama.rope.scaling.factor");
    if (!factor) return factor.error();
    if (!(*factor >= 1 && *factor < 1e6)) {
      return status::corruption(file.name() + ": llama.rope.scaling.factor " +
                                std::to_string(*factor) + " must be >= 1");
    }
    if (c.rope_freq_factors.empty()) c.rope_freq_factors.assign(size_t(pairs), 1.0f);
    for (float& f : c.rope_freq_factors) f *= float(*factor);
  }
  return status();
}

}  // namespace

result<llama_config> read_llama_config(const gguf_file& file) {
  auto arch = file.get_string("general.architecture");
  if (!arch) return arch.error();
  if (*arch != "llama") {
    return status::not_supported(file.name() + ": architecture '" + *arch +
                                 "' is not supported (only 'llama' is)");
  }
  // What Corolla's llama blocks do not compute is refused by name: running such a file
  // would give wrong logits without a word.
  if (auto experts = file.get_int("llama.expert_count"); experts.ok() && *experts > 0) {
    return status::not_supported(file.name() + ": a mixture of experts (llama.expert_count = " +
                                 std::to_string(*experts) + ", Mixtral style) is not supported");
  }
  std::string scaling = "none";
  if (auto type = file.get_string("llama.rope.scaling.type"); type.ok()) scaling = *type;
  if (scaling != "none" && scaling != "linear") {
    return status::not_supported(file.name() + ": RoPE scaling '" + scaling +
                                 "' (llama.rope.scaling.type) is not supported (none and linear "
                                 "are, and Llama 3.1's rope_freqs.weight)");
  }
  llama_config c;
  COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.block_count", c.n_blocks));
  COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.embedding_length", c.dim));
  COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.feed_forward_length", c.hidden_dim));
  COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.attention.head_count", c.n_heads));
  c.n_kv_heads = c.n_heads;
  if (file.find("llama.attention.head_count_kv")) {
    COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.attention.head_count_kv", c.n_kv_heads));
  }
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0) {
    return status::corruption(file.name() + ": embedding length " + std::to_string(c.dim) +
                              ", head count " + std::to_string(c.n_heads) + " and kv head count " +
                              std::to_string(c.n_kv_heads) +
                              " are inconsistent (dim % heads and heads % kv heads must be 0)");
  }
  c.rope_dim = c.head_dim();
  if (file.find("llama.rope.dimension_count")) {
    COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.rope.dimension_count", c.rope_dim));
    if (c.rope_dim > c.head_dim() || c.rope_dim % 2 != 0) {
      return status::corruption(
          file.name() + ": llama.rope.dimension_count " + std::to_string(c.rope_dim) +
          " must be even and at most the head dimension " + std::to_string(c.head_dim()));
    }
  }
  if (file.find("llama.rope.freq_base")) {
    auto base = file.get_float("llama.rope.freq_base");
    if (!base) return base.error();
    if (!(*base > 0))
      return status::corruption(file.name() + ": llama.rope.freq_base must be positive");
    c.rope_freq_base = float(*base);
  }
  COROLLA_RETURN_IF_ERROR(read_rope_scaling(file, scaling, c));
  auto eps = file.get_float("llama.attention.layer_norm_rms_epsilon");
  if (!eps) return eps.error();
  if (!(*eps > 0 && *eps < 1)) {
    return status::corruption(file.name() + ": llama.attention.layer_norm_rms_epsilon " +
                              std::to_string(*eps) + " is out of (0, 1)");
  }
  c.rms_eps = float(*eps);
  if (file.find("llama.context_length")) {
    COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.context_length", c.context_length));
  }
  if (file.find("llama.vocab_size")) {
    COROLLA_RETURN_IF_ERROR(read_positive(file, "llama.vocab_size", c.vocab_size));
  } else {
    auto tokens = file.get_array("tokenizer.ggml.tokens", gguf_type::string);
    if (!tokens) return tokens.error();
    c.vocab_size = int64_t((*tokens)->size());
    if (c.vocab_size == 0)
      return status::corruption(file.name() + ": tokenizer.ggml.tokens is empty");
  }
  return c;
}

status check_llama_tensors(const gguf_file& file, const llama_config& c) {
  COROLLA_RETURN_IF_ERROR(check_tensor(file, "token_embd.weight", {c.dim, c.vocab_size}));
  COROLLA_RETURN_IF_ERROR(check_tensor(file, "output_norm.weight", {c.dim}));
  if (file.find_tensor("output.weight")) {
    COROLLA_RETURN_IF_ERROR(check_tensor(file, "output.weight", {c.dim, c.vocab_size}));
  }
  if (is_head_file(file)) return status();
  for (int64_t b = 0; b < c.n_blocks; ++b) {
    for (const char* bias : {"attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_output.bias"}) {
      if (file.find_tensor(block_tensor_name(b, bias))) {
        return status::not_supported(file.name() + ": " + block_tensor_name(b, bias) +
                                     ": attention biases in a llama file are not supported");
      }
    }
    const std::pair<const char*, std::vector<int64_t>> expected[] = {
        {"attn_norm.weight", {c.dim}},
        {"attn_q.weight", {c.dim, c.dim}},
        {"attn_k.weight", {c.dim, c.kv_dim()}},
        {"attn_v.weight", {c.dim, c.kv_dim()}},
        {"attn_output.weight", {c.dim, c.dim}},
        {"ffn_norm.weight", {c.dim}},
        {"ffn_gate.weight", {c.dim, c.hidden_dim}},
        {"ffn_up.weight", {c.dim, c.hidden_dim}},
        {"ffn_down.weight", {c.hidden_dim, c.dim}},
    };
    for (const auto& [suffix, shape] : expected) {
      COROLLA_RETURN_IF_ERROR(check_tensor(file, block_tensor_name(b, suffix), shape));
    }
  }
  return status();
}

}  // namespace corolla
