// llama_config: the hyper-parameters of a GGUF of the Llama family (model_arch: llama,
// qwen2, qwen3, phi3, gemma2, gemma3), and a check that the file holds every tensor its
// architecture needs with the shapes they imply.
//
// Keys follow llama.cpp's naming, prefixed by the architecture ("qwen2.block_count").
// Llama 2/3, TinyLlama, Mistral and SmolLM GGUFs declare "llama"; the DeepSeek-R1 distills
// of Qwen "qwen2". What a family changes is a field here, so one block and one head serve
// them all; what Corolla does not compute (experts, LongRoPE, YaRN) is refused by name.
// Invariants of a config returned by read_llama_config():
//  1. n_heads % n_kv_heads == 0; without key_length, dim % n_heads == 0; rope_dim even
//     and <= head_dim() <= 1024.
//  2. Counts are positive; rope_freq_base defaults to 10000 and context_length to 2048
//     when the file leaves them out.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf_file.hpp"
#include "model/status.hpp"

namespace corolla {

// The architectures Corolla runs: decoder transformers of Llama's shape (pre-norm
// attention and gated MLP) and the variations below, named as general.architecture.
enum class model_arch { llama, qwen2, qwen3, phi3, gemma2, gemma3 };

const char* to_string(model_arch arch);
std::optional<model_arch> model_arch_named(const std::string& name);

enum class ffn_activation { silu, gelu };  // SwiGLU (Llama) or GeGLU (Gemma)

struct llama_config {
  model_arch arch = model_arch::llama;
  int64_t n_blocks = 0;    // transformer layers
  int64_t dim = 0;         // embedding length
  int64_t hidden_dim = 0;  // feed-forward length
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // key/value heads (grouped-query attention when < n_heads)
  int64_t key_length = 0;  // per-head dimension when it is not dim / n_heads (Gemma, Qwen3)
  int64_t rope_dim = 0;    // rotated dimensions per head
  float rope_freq_base = 10000.0f;
  // RoPE scaling: per-pair divisors of the frequencies ([rope_dim / 2]), from Llama 3.1's
  // rope_freqs.weight and/or linear scaling's factor; empty for none.
  std::vector<float> rope_freq_factors;
  bool rope_neox = false;  // pairs (i, i + rope_dim / 2): every family but llama
  // Gemma 3's sliding layers rotate with their own base and no scaling; 0 = as the rest.
  float rope_freq_base_sliding = 0;
  float rms_eps = 1e-5f;
  int64_t context_length = 2048;  // tokens
  int64_t vocab_size = 0;

  ffn_activation activation = ffn_activation::silu;
  bool qk_norm = false;         // RMS norms of each q and k head before RoPE (Qwen3, Gemma 3)
  bool post_norms = false;      // RMS norms of each branch's output before the residual (Gemma)
  float embedding_scale = 1;    // the embedding row is multiplied by it (Gemma: sqrt(dim))
  float attention_scale = 0;    // of q . k; 0 = 1 / sqrt(head_dim)
  float attention_softcap = 0;  // Gemma 2: scores become cap * tanh(score / cap); 0 = none
  float logit_softcap = 0;      // Gemma 2: the same on the final logits
  int64_t sliding_window = 0;   // keys a sliding layer's query sees (itself included); 0 = none
  // Which layers slide: 0 = every layer (Mistral, Phi-3); p = all but the last of every p
  // (Gemma 2: p = 2, the even layers; Gemma 3: p = 6).
  int64_t sliding_period = 0;

  int64_t head_dim() const { return key_length > 0 ? key_length : dim / n_heads; }
  int64_t q_dim() const { return head_dim() * n_heads; }
  int64_t kv_dim() const { return head_dim() * n_kv_heads; }
  int64_t group_size() const { return n_heads / n_kv_heads; }  // query heads per kv head
  bool is_sliding(int64_t layer) const {
    return sliding_window > 0 &&
           (sliding_period == 0 || layer % sliding_period < sliding_period - 1);
  }
  float score_scale() const {
    return attention_scale > 0 ? attention_scale : 1.0f / std::sqrt(float(head_dim()));
  }
  // Weights of one block, in values.
  int64_t block_parameters() const {
    return 2 * dim * q_dim() + 2 * dim * kv_dim() + 3 * dim * hidden_dim + 2 * dim;
  }
};

// Sets what c.arch implies (RoPE pairing, activation, norms, embedding scale, Gemma's
// soft-caps, window and its layers) to the family's values, as read_llama_config does
// before the keys that may override them; the model maker starts from the same.
void set_family_defaults(llama_config& c);

// Reads the hyper-parameters. Errors: not_supported naming the architecture or the
// feature Corolla does not run; not_found naming a missing required key; corruption when a
// value is of the wrong type or violates the invariants above.
result<llama_config> read_llama_config(const gguf_file& file);

// Checks that every tensor a model of `config` needs is present with its shape
// (output.weight may be absent: the embedding is then tied; q/k/v/output biases are
// optional except for qwen2) and of a type Corolla can dequantise. Errors name the file and the
// tensor. A head file (model/head_file.hpp) is checked for the head's tensors only.
status check_llama_tensors(const gguf_file& file, const llama_config& config);

// A tensor of every block: "attn_q.weight" for blk.N.attn_q.weight, its GGUF shape, and
// whether a model of its config must have it (biases are optional but for qwen2).
struct block_tensor {
  const char* suffix;
  std::vector<int64_t> shape;
  bool required;
};
std::vector<block_tensor> block_tensors(const llama_config& config);

// Whether the LM head is the token embedding (no output.weight, or Gemma).
bool ties_output(const gguf_file& file, const llama_config& config);

// "blk.3.attn_q.weight" style names.
std::string block_tensor_name(int64_t block, const char* suffix);

// Per block of `config`, the bytes its tensors take in `file` (what loading it costs,
// near enough).
std::vector<int64_t> block_file_bytes(const gguf_file& file, const llama_config& config);

}  // namespace corolla
