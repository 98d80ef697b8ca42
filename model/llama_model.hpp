// llama_model: a Llama GGUF loaded for inference in this process — the blocks of a
// span, and (for a client or a single process) the head and the tokenizer.
//
// Loading maps the file, checks every tensor's presence and shape, converts the
// span's matrices (int8 per output channel, or f32 for the reference path), then
// releases the mapped pages: afterwards resident memory is the converted weights plus
// what the caches take, not the file as well. The head keeps the mapping for the
// embedding rows it reads on demand.
// Immutable after load; blocks may be run by several threads with their own caches
// and workspaces. Moves only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/block_weights.hpp"
#include "model/chat_template.hpp"
#include "model/gguf_file.hpp"
#include "model/head.hpp"
#include "model/llama_config.hpp"
#include "model/status.hpp"
#include "model/tokenizer.hpp"

namespace corolla {

struct model_options {
  precision kind = precision::native;
  // The blocks' KV caches; none: f16 on the fast kernels (llama.cpp's default), f32 on the
  // f32 reference path (which compares with llama.cpp's f32-cache outputs).
  std::optional<kv_type> kv;
  int64_t first_block = 0;
  int64_t end_block = -1;  // exclusive; -1 = through the last block
  bool with_head = true;   // head and tokenizer (a client or a single process)
};

class llama_model {
 public:
  // Errors: those of gguf_file::open, read_llama_config and check_llama_tensors,
  // out_of_range for a span outside [0, n_blocks), and conversion errors naming the tensor.
  static result<llama_model> load(const std::string& path, const model_options& options);

  const llama_config& config() const { return config_; }
  const std::vector<block_weights>& blocks() const { return blocks_; }
  int64_t first_block() const { return first_block_; }
  // REQUIRES: loaded with_head.
  const class head& head() const { return *head_; }
  const class tokenizer& tokenizer() const { return *tokenizer_; }
  bool has_head() const { return head_.has_value(); }
  // The file's chat template (plain for a base model, or one without a template).
  chat_format chat() const { return chat_format_; }
  // False when the file has a chat template Corolla does not recognise (chat() is then
  // plain: callers say so).
  bool chat_template_recognised() const { return chat_template_recognised_; }

  size_t weight_bytes() const;  // converted blocks plus LM head
  double load_seconds() const { return load_seconds_; }

 private:
  llama_config config_;
  int64_t first_block_ = 0;
  std::vector<block_weights> blocks_;
  std::optional<class head> head_;
  std::optional<class tokenizer> tokenizer_;
  chat_format chat_format_ = chat_format::plain;
  bool chat_template_recognised_ = true;
  double load_seconds_ = 0;
};

}  // namespace corolla
