// llama_config: the hyper-parameters of a `llama`-architecture GGUF, and a check
// that the file holds every tensor a Llama needs with the shapes they imply.
//
// Keys follow llama.cpp's naming ("llama.block_count", ...). Llama 2/3, TinyLlama,
// Mistral and SmolLM GGUFs all declare general.architecture = "llama".
// Invariants of a config returned by read_llama_config():
//  1. n_heads % n_kv_heads == 0 and dim % n_heads == 0; rope_dim <= head_dim().
//  2. Every field is positive; rope_freq_base defaults to 10000 and context_length
//     to 2048 when the file leaves them out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/gguf_file.hpp"
#include "model/status.hpp"

namespace corolla {

struct llama_config {
  int64_t n_blocks = 0;    // transformer layers
  int64_t dim = 0;         // embedding length
  int64_t hidden_dim = 0;  // feed-forward length
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // key/value heads (grouped-query attention when < n_heads)
  int64_t rope_dim = 0;    // rotated dimensions per head
  float rope_freq_base = 10000.0f;
  // RoPE scaling: per-pair divisors of the frequencies ([rope_dim / 2]), from Llama 3.1's
  // rope_freqs.weight and/or linear scaling's factor; empty for none.
  std::vector<float> rope_freq_factors;
  float rms_eps = 1e-5f;
  int64_t context_length = 2048;  // tokens
  int64_t vocab_size = 0;

  int64_t head_dim() const { return dim / n_heads; }
  int64_t kv_dim() const { return head_dim() * n_kv_heads; }
  int64_t group_size() const { return n_heads / n_kv_heads; }  // query heads per kv head
  // Weights of one block, in values.
  int64_t block_parameters() const {
    return 2 * dim * dim + 2 * dim * kv_dim() + 3 * dim * hidden_dim + 2 * dim;
  }
};

// Reads the hyper-parameters. Errors: not_supported naming the architecture when
// it is not "llama"; not_found naming a missing required key; corruption when a
// value is of the wrong type or violates the invariants above.
result<llama_config> read_llama_config(const gguf_file& file);

// Checks that every tensor a Llama of `config` needs is present with its shape
// (output.weight may be absent: the embedding is then tied) and of a type
// Corolla can dequantise. Errors name the file and the tensor.
// A head file (model/head_file.hpp) is checked for the head's tensors only.
status check_llama_tensors(const gguf_file& file, const llama_config& config);

// "blk.3.attn_q.weight" style names.
std::string block_tensor_name(int64_t block, const char* suffix);

// Per block of `config`, the bytes its tensors take in `file` (what loading it costs,
// near enough).
std::vector<int64_t> block_file_bytes(const gguf_file& file, const llama_config& config);

}  // namespace corolla
