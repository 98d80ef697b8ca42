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
                                 ", which Corolla can not load (F32, F16, BF16, Q4_0, Q4_1, "
                                 "Q5_0, Q5_1, Q8_0, Q2_K to Q6_K, IQ4_NL and IQ4_XS are)");
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

struct family {
  const char* name;
  model_arch arch;
};
constexpr family kFamilies[] = {
    {"llama", model_arch::llama}, {"qwen2", model_arch::qwen2},   {"qwen3", model_arch::qwen3},
    {"phi3", model_arch::phi3},   {"gemma2", model_arch::gemma2}, {"gemma3", model_arch::gemma3},
};

// Keys are "<architecture>.<name>"; a reader bound to one file and its prefix.
class keys {
 public:
  keys(const gguf_file& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}
  std::string name(const char* key) const { return prefix_ + "." + key; }
  bool has(const char* key) const { return file_.find(name(key)) != nullptr; }

  status positive(const char* key, int64_t& out) const {
    return read_positive(file_, name(key), out);
  }
  status optional_positive(const char* key, int64_t& out) const {
    return has(key) ? positive(key, out) : status();
  }
  // A float in (low, high) when the key is present; `out` keeps its default otherwise.
  status optional_float(const char* key, float low, float high, float& out) const {
    if (!has(key)) return status();
    auto v = file_.get_float(name(key));
    if (!v) return v.error();
    if (!(*v > low && *v < high)) {
      return status::corruption(file_.name() + ": metadata key '" + name(key) + "' is " +
                                std::to_string(*v) + ", outside (" + std::to_string(low) + ", " +
                                std::to_string(high) + ")");
    }
    out = float(*v);
    return status();
  }
  status optional_count(const char* key, int64_t& out) const {
    if (!has(key)) return status();
    auto v = file_.get_int(name(key));
    if (!v) return v.error();
    if (*v < 0) {
      return status::corruption(file_.name() + ": metadata key '" + name(key) + "' is " +
                                std::to_string(*v) + " (must not be negative)");
    }
    out = *v;
    return status();
  }

 private:
  const gguf_file& file_;
  std::string prefix_;
};

// RoPE scaling as llama.cpp applies it: Llama 3.1's rope_freqs.weight divides each pair's
// frequency; linear scaling (rope.scaling.factor F) divides every frequency by F.
status read_rope_scaling(const gguf_file& file, const keys& k, const std::string& scaling,
                         llama_config& c) {
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
    float factor = 1;
    if (!k.has("rope.scaling.factor")) {
      return status::not_found(file.name() + ": metadata key '" + k.name("rope.scaling.factor") +
                               "' is missing (linear RoPE scaling needs it)");
    }
    COROLLA_RETURN_IF_ERROR(k.optional_float("rope.scaling.factor", 0.999, 1e6, factor));
    if (c.rope_freq_factors.empty()) c.rope_freq_factors.assign(size_t(pairs), 1.0f);
    for (float& f : c.rope_freq_factors) f *= factor;
  }
  return status();
}

// The keys a family may set beyond the common ones (set_family_defaults gave the rest).
status read_family_keys(const gguf_file& file, const keys& k, llama_config& c) {
  switch (c.arch) {
    case model_arch::qwen2:
    case model_arch::qwen3:
      return status();
    case model_arch::phi3:
      for (const char* name : {"rope_factors_long.weight", "rope_factors_short.weight"}) {
        if (file.find_tensor(name)) {
          return status::not_supported(file.name() + ": " + name +
                                       ": Phi-3's LongRoPE (the 128k-context variants) is not "
                                       "supported");
        }
      }
      break;
    case model_arch::gemma2:
      COROLLA_RETURN_IF_ERROR(
          k.optional_float("attn_logit_softcapping", 0, 1e9, c.attention_softcap));
      COROLLA_RETURN_IF_ERROR(k.optional_float("final_logit_softcapping", 0, 1e9, c.logit_softcap));
      break;
    case model_arch::gemma3:
      if (!k.has("attention.sliding_window")) {
        return status::not_found(file.name() + ": metadata key '" +
                                 k.name("attention.sliding_window") + "' is missing");
      }
      break;
    case model_arch::llama:  // Mistral 7B v0.1 style: a window on every layer, if declared
      break;
  }
  return k.optional_count("attention.sliding_window", c.sliding_window);
}

}  // namespace

void set_family_defaults(llama_config& c) {
  const bool gemma = c.arch == model_arch::gemma2 || c.arch == model_arch::gemma3;
  c.rope_neox = c.arch != model_arch::llama;
  c.qk_norm = c.arch == model_arch::qwen3 || c.arch == model_arch::gemma3;
  c.post_norms = gemma;
  c.activation = gemma ? ffn_activation::gelu : ffn_activation::silu;
  c.embedding_scale = gemma ? std::sqrt(float(c.dim)) : 1.0f;
  c.attention_softcap = c.logit_softcap = 0;
  c.attention_scale = 0;
  c.sliding_period = 0;
  c.rope_freq_base_sliding = 0;
  if (c.arch == model_arch::gemma2) {
    c.attention_softcap = 50;
    c.logit_softcap = 30;
    c.sliding_window = 4096;
    c.sliding_period = 2;
  } else if (c.arch == model_arch::gemma3) {
    c.sliding_window = 1024;
    c.sliding_period = 6;
    c.rope_freq_base_sliding = 10000.0f;
  }
  // Gemma's 27B models scale scores by their query_pre_attn_scalar, dim / n_heads
  // (llama.cpp picks it by layer count too); the others by the head dimension.
  if (gemma && c.n_heads > 0 && c.n_blocks == (c.arch == model_arch::gemma2 ? 46 : 62)) {
    c.attention_scale = 1.0f / std::sqrt(float(c.dim / c.n_heads));
  }
}

std::optional<model_arch> model_arch_named(const std::string& name) {
  for (const family& f : kFamilies) {
    if (name == f.name) return f.arch;
  }
  return std::nullopt;
}

const char* to_string(model_arch arch) {
  for (const family& f : kFamilies) {
    if (f.arch == arch) return f.name;
  }
  return "?";
}

result<llama_config> read_llama_config(const gguf_file& file) {
  auto arch = file.get_string("general.architecture");
  if (!arch) return arch.error();
  llama_config c;
  const family* fam = nullptr;
  for (const family& f : kFamilies) {
    if (*arch == f.name) fam = &f;
  }
  if (fam == nullptr) {
    if (*arch == "qwen2moe" || *arch == "qwen3moe" || *arch == "mixtral" || *arch == "dbrx") {
      return status::not_supported(file.name() + ": architecture '" + *arch +
                                   "' is a mixture of experts, which Corolla does not run");
    }
    return status::not_supported(file.name() + ": architecture '" + *arch +
                                 "' is not supported (llama, qwen2, qwen3, phi3, gemma2 and "
                                 "gemma3 are)");
  }
  c.arch = fam->arch;
  const keys k(file, *arch);
  // What Corolla's blocks do not compute is refused by name: running such a file would
  // give wrong logits without a word.
  if (auto experts = file.get_int(k.name("expert_count")); experts.ok() && *experts > 0) {
    return status::not_supported(file.name() + ": a mixture of experts (" + k.name("expert_count") +
                                 " = " + std::to_string(*experts) +
                                 ", Mixtral style) is not supported");
  }
  std::string scaling = "none";
  if (auto type = file.get_string(k.name("rope.scaling.type")); type.ok()) scaling = *type;
  if (scaling != "none" && scaling != "linear") {
    return status::not_supported(file.name() + ": RoPE scaling '" + scaling + "' (" +
                                 k.name("rope.scaling.type") +
                                 ") is not supported (none and linear are, and Llama 3.1's "
                                 "rope_freqs.weight)");
  }
  COROLLA_RETURN_IF_ERROR(k.positive("block_count", c.n_blocks));
  COROLLA_RETURN_IF_ERROR(k.positive("embedding_length", c.dim));
  COROLLA_RETURN_IF_ERROR(k.positive("feed_forward_length", c.hidden_dim));
  COROLLA_RETURN_IF_ERROR(k.positive("attention.head_count", c.n_heads));
  c.n_kv_heads = c.n_heads;
  COROLLA_RETURN_IF_ERROR(k.optional_positive("attention.head_count_kv", c.n_kv_heads));
  COROLLA_RETURN_IF_ERROR(k.optional_positive("attention.key_length", c.key_length));
  int64_t value_length = c.key_length;
  COROLLA_RETURN_IF_ERROR(k.optional_positive("attention.value_length", value_length));
  if (value_length != c.key_length) {
    return status::not_supported(file.name() + ": key length " + std::to_string(c.key_length) +
                                 " differs from value length " + std::to_string(value_length) +
                                 ", which is not supported");
  }
  if (c.key_length == c.dim / c.n_heads && c.dim % c.n_heads == 0) c.key_length = 0;
  if ((c.key_length == 0 && c.dim % c.n_heads != 0) || c.n_heads % c.n_kv_heads != 0) {
    return status::corruption(file.name() + ": embedding length " + std::to_string(c.dim) +
                              ", head count " + std::to_string(c.n_heads) + " and kv head count " +
                              std::to_string(c.n_kv_heads) +
                              " are inconsistent (dim % heads and heads % kv heads must be 0)");
  }
  // The kernels' per-head scratch is sized for at most 1024 (real models: 64 to 256).
  if (c.head_dim() > 1024) {
    return status::not_supported(file.name() + ": head dimension " + std::to_string(c.head_dim()) +
                                 " is above 1024, which Corolla's kernels do not run");
  }
  c.rope_dim = c.head_dim();
  if (k.has("rope.dimension_count")) {
    COROLLA_RETURN_IF_ERROR(k.positive("rope.dimension_count", c.rope_dim));
    if (c.rope_dim > c.head_dim() || c.rope_dim % 2 != 0) {
      return status::corruption(
          file.name() + ": " + k.name("rope.dimension_count") + " " + std::to_string(c.rope_dim) +
          " must be even and at most the head dimension " + std::to_string(c.head_dim()));
    }
  }
  COROLLA_RETURN_IF_ERROR(k.optional_float("rope.freq_base", 0, 1e30, c.rope_freq_base));
  COROLLA_RETURN_IF_ERROR(read_rope_scaling(file, k, scaling, c));
  if (!k.has("attention.layer_norm_rms_epsilon")) {
    return status::not_found(file.name() + ": metadata key '" +
                             k.name("attention.layer_norm_rms_epsilon") + "' is missing");
  }
  COROLLA_RETURN_IF_ERROR(k.optional_float("attention.layer_norm_rms_epsilon", 0, 1, c.rms_eps));
  COROLLA_RETURN_IF_ERROR(k.optional_positive("context_length", c.context_length));
  if (k.has("vocab_size")) {
    COROLLA_RETURN_IF_ERROR(k.positive("vocab_size", c.vocab_size));
  } else {
    auto tokens = file.get_array("tokenizer.ggml.tokens", gguf_type::string);
    if (!tokens) return tokens.error();
    c.vocab_size = int64_t((*tokens)->size());
    if (c.vocab_size == 0)
      return status::corruption(file.name() + ": tokenizer.ggml.tokens is empty");
  }
  set_family_defaults(c);
  COROLLA_RETURN_IF_ERROR(read_family_keys(file, k, c));
  return c;
}

std::vector<block_tensor> block_tensors(const llama_config& c) {
  std::vector<block_tensor> t;
  t.push_back({"attn_norm.weight", {c.dim}, true});
  if (c.arch == model_arch::phi3) {
    t.push_back({"attn_qkv.weight", {c.dim, c.q_dim() + 2 * c.kv_dim()}, true});
  } else {
    t.push_back({"attn_q.weight", {c.dim, c.q_dim()}, true});
    t.push_back({"attn_k.weight", {c.dim, c.kv_dim()}, true});
    t.push_back({"attn_v.weight", {c.dim, c.kv_dim()}, true});
    const bool biased = c.arch == model_arch::qwen2;
    t.push_back({"attn_q.bias", {c.q_dim()}, biased});
    t.push_back({"attn_k.bias", {c.kv_dim()}, biased});
    t.push_back({"attn_v.bias", {c.kv_dim()}, biased});
  }
  if (c.qk_norm) {
    t.push_back({"attn_q_norm.weight", {c.head_dim()}, true});
    t.push_back({"attn_k_norm.weight", {c.head_dim()}, true});
  }
  t.push_back({"attn_output.weight", {c.q_dim(), c.dim}, true});
  t.push_back({"attn_output.bias", {c.dim}, false});
  if (c.post_norms) t.push_back({"post_attention_norm.weight", {c.dim}, true});
  t.push_back({"ffn_norm.weight", {c.dim}, true});
  if (c.arch == model_arch::phi3) {
    t.push_back({"ffn_up.weight", {c.dim, 2 * c.hidden_dim}, true});
  } else {
    t.push_back({"ffn_gate.weight", {c.dim, c.hidden_dim}, true});
    t.push_back({"ffn_up.weight", {c.dim, c.hidden_dim}, true});
  }
  t.push_back({"ffn_down.weight", {c.hidden_dim, c.dim}, true});
  if (c.post_norms) t.push_back({"post_ffw_norm.weight", {c.dim}, true});
  return t;
}

bool ties_output(const gguf_file& file, const llama_config& c) {
  // Gemma always reads its LM head from the embedding (llama.cpp does the same).
  return c.arch == model_arch::gemma2 || c.arch == model_arch::gemma3 ||
         file.find_tensor("output.weight") == nullptr;
}

status check_llama_tensors(const gguf_file& file, const llama_config& c) {
  COROLLA_RETURN_IF_ERROR(check_tensor(file, "token_embd.weight", {c.dim, c.vocab_size}));
  COROLLA_RETURN_IF_ERROR(check_tensor(file, "output_norm.weight", {c.dim}));
  if (!ties_output(file, c)) {
    COROLLA_RETURN_IF_ERROR(check_tensor(file, "output.weight", {c.dim, c.vocab_size}));
  }
  if (is_head_file(file)) return status();
  const std::vector<block_tensor> expected = block_tensors(c);
  for (int64_t b = 0; b < c.n_blocks; ++b) {
    if (c.arch == model_arch::phi3 && file.find_tensor(block_tensor_name(b, "attn_qkv.bias"))) {
      return status::not_supported(file.name() + ": " + block_tensor_name(b, "attn_qkv.bias") +
                                   ": a bias on phi3's fused projection is not supported");
    }
    for (const block_tensor& t : expected) {
      const std::string name = block_tensor_name(b, t.suffix);
      if (!t.required && !file.find_tensor(name)) continue;
      COROLLA_RETURN_IF_ERROR(check_tensor(file, name, t.shape));
    }
  }
  return status();
}

}  // namespace corolla
