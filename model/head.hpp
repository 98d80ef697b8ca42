// head: what the client keeps of a model (DESIGN.md): the token embedding, the final
// norm and the LM head.
//
// Embedding rows are dequantised on demand from the mapped GGUF in whatever type it
// stores them (the table is vocab x dim; a client needs a few rows per step), so the
// head keeps the file open. The LM head (output.weight, or the embedding when the
// model ties them) is converted like a block's matrices: int8 or f32. Gemma's embedding
// scale and final soft-cap are applied here (llama_config).
// Shapes: x [n, dim], logits [n, vocab]. Immutable after load; logits() may run from
// several threads, each with its own workspace.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/matmul_int8.hpp"
#include "model/gguf_file.hpp"
#include "model/linear.hpp"
#include "model/llama_config.hpp"
#include "model/status.hpp"

namespace corolla {

struct head_workspace {
  std::vector<float> normed;  // [n, dim]
  matmul_workspace matmul;
};

class head {
 public:
  // Errors: not_found / corruption naming the tensor.
  static result<head> load(std::shared_ptr<const gguf_file> file, const llama_config& config,
                           precision kind);

  // x [n, dim] <- embedding rows of tokens[0, n). Errors: out_of_range naming a token
  // id outside [0, vocab).
  status embed(const int32_t* tokens, int64_t n, float* x) const;

  // logits [n, vocab] of the final hidden states x [n, dim] (x is not changed).
  void logits(const float* x, int64_t n, float* logits, head_workspace& ws) const;

  const llama_config& config() const { return config_; }
  int64_t vocab_size() const { return config_.vocab_size; }
  size_t bytes() const { return lm_head_.bytes() + final_norm_.size() * sizeof(float); }

 private:
  std::shared_ptr<const gguf_file> file_;
  const gguf_tensor* embedding_ = nullptr;  // [vocab, dim] inside file_
  llama_config config_;
  precision kind_ = precision::native;
  std::vector<float> final_norm_;  // [dim]
  linear lm_head_;                 // [vocab, dim]
};

}  // namespace corolla
