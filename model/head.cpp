#include "model/head.hpp"

#include <cmath>

#include "kernels/reference.hpp"
#include "kernels/rmsnorm.hpp"
#include "model/block_weights.hpp"
#include "model/dequantize.hpp"

namespace corolla {

result<head> head::load(std::shared_ptr<const gguf_file> file, const llama_config& config,
                        precision kind) {
  head h;
  h.config_ = config;
  h.kind_ = kind;
  h.embedding_ = file->find_tensor("token_embd.weight");
  if (h.embedding_ == nullptr) {
    return status::not_found(file->name() + ": tensor 'token_embd.weight' is missing");
  }
  if (h.embedding_->row_length() != config.dim || h.embedding_->rows() != config.vocab_size) {
    return status::corruption(file->name() + ": tensor 'token_embd.weight' has shape " +
                              h.embedding_->shape_string() + ", expected [" +
                              std::to_string(config.dim) + ", " +
                              std::to_string(config.vocab_size) + "]");
  }
  COROLLA_ASSIGN_OR_RETURN(h.final_norm_, load_vector(*file, "output_norm.weight", config.dim));
  // Llama 3.2, Gemma and small models tie the LM head to the embedding.
  const char* lm_name = ties_output(*file, config) ? "token_embd.weight" : "output.weight";
  COROLLA_ASSIGN_OR_RETURN(h.lm_head_, load_stacked(*file, {lm_name}, config.dim, kind));
  if (h.lm_head_.rows() != config.vocab_size) {
    return status::corruption(
        file->name() + ": tensor '" + lm_name + "' has " + std::to_string(h.lm_head_.rows()) +
        " rows, expected the vocabulary's " + std::to_string(config.vocab_size));
  }
  h.file_ = std::move(file);
  return h;
}

status head::embed(const int32_t* tokens, int64_t n, float* x) const {
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size) {
      return status::out_of_range("token id " + std::to_string(tokens[i]) +
                                  " is outside the vocabulary [0, " +
                                  std::to_string(config_.vocab_size) + ")");
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    float* row = x + i * config_.dim;
    COROLLA_RETURN_IF_ERROR(dequantize_tensor_row(*embedding_, tokens[i], row));
    if (config_.embedding_scale != 1) {
      for (int64_t j = 0; j < config_.dim; ++j) row[j] *= config_.embedding_scale;
    }
  }
  return status();
}

void head::logits(const float* x, int64_t n, float* logits, head_workspace& ws) const {
  const int64_t dim = config_.dim;
  if (ws.normed.size() < size_t(n * dim)) ws.normed.resize(n * dim);
  // final rmsnorm, then the classifier into the vocabulary
  if (kind_ != precision::f32) {
    rmsnorm(ws.normed.data(), x, final_norm_.data(), n, dim, config_.rms_eps);
  } else {
    ref::rmsnorm(ws.normed.data(), x, final_norm_.data(), n, dim, config_.rms_eps);
  }
  lm_head_.forward(logits, ws.normed.data(), n, ws.matmul);
  if (const float cap = config_.logit_softcap; cap > 0) {
    for (int64_t i = 0; i < n * config_.vocab_size; ++i)
      logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

}  // namespace corolla
