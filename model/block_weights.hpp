// block_weights: one transformer block's weights, converted at load from whatever
// type the GGUF holds (model/ggml_type.hpp's dequantisable types) into int8 per output
// channel, or into f32 for the reference path.
//
// Projections that read the same input are fused into one matrix, so each step makes
// one matmul call (and oneDNN reads one weight stream) where llama.cpp makes two or three:
//   qkv     [q_dim + 2 kv_dim, dim]  rows: attn_q, then attn_k, then attn_v (phi3's
//                                    attn_qkv already is this)
//   wo      [dim, q_dim]             attn_output
//   gate_up [2 hidden, dim]          rows: ffn_gate, then ffn_up (phi3's fused ffn_up
//                                    already is this)
//   down    [dim, hidden]            ffn_down
// Norm weights and biases stay f32; the ones a family does not have are empty. The
// layer's own attention (window, soft-cap) and rotation (base, scaling) are resolved
// here from the config. Immutable after load; shared by the threads that run it.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention_params.hpp"
#include "kernels/rope.hpp"
#include "model/gguf_file.hpp"
#include "model/linear.hpp"
#include "model/llama_config.hpp"
#include "model/status.hpp"

namespace corolla {

struct block_weights {
  llama_config config;
  int64_t index = 0;  // block number in the model
  precision kind = precision::int8;
  std::vector<float> attn_norm;  // [dim]
  std::vector<float> ffn_norm;   // [dim]
  linear qkv, wo, gate_up, down;
  std::vector<float> qkv_bias;        // [q_dim + 2 kv_dim] (qwen2), or empty
  std::vector<float> wo_bias;         // [dim], or empty
  std::vector<float> q_norm, k_norm;  // [head_dim] each (qwen3, gemma3), or empty
  std::vector<float> post_attn_norm;  // [dim] (gemma), or empty
  std::vector<float> post_ffn_norm;   // [dim] (gemma), or empty
  attention_params attention;         // this layer's
  float rope_base = 0;                // this layer's frequency base ...
  std::vector<float> rope_factors;    // ... and scaling (ref::rope's factors), or empty
  rope_table rope;                    // the same, precomputed for the fast path

  size_t bytes() const;  // resident bytes of the converted weights
};

// Converts block `index` of `file`. REQUIRES: check_llama_tensors(file, config) passed.
// Errors: out_of_range for a bad index; corruption or not_supported naming the tensor
// when a row can not be dequantised.
result<block_weights> load_block_weights(const gguf_file& file, const llama_config& config,
                                         int64_t index, precision kind);

// Reads a 1-D f32-convertible tensor of `length` values (a norm weight).
result<std::vector<float>> load_vector(const gguf_file& file, const std::string& name,
                                       int64_t length);

// Loads W [rows, cols] made of the given tensors' rows stacked in order, in form `kind`,
// then releases those tensors' mapped pages. Errors name the first tensor that is
// missing, misshapen or undecodable.
result<linear> load_stacked(const gguf_file& file, const std::vector<std::string>& names,
                            int64_t cols, precision kind);

}  // namespace corolla
