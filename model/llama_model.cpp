#include "model/llama_model.hpp"

#include <chrono>

namespace corolla {

result<llama_model> llama_model::load(const std::string& path, const model_options& options) {
  const auto start = std::chrono::steady_clock::now();
  auto opened = gguf_file::open(path);
  if (!opened.ok()) return opened.error();
  auto file = std::make_shared<const gguf_file>(std::move(*opened));
  auto config = read_llama_config(*file);
  if (!config.ok()) return config.error();
  COROLLA_RETURN_IF_ERROR(check_llama_tensors(*file, *config));

  llama_model m;
  m.config_ = *config;
  const int64_t end = options.end_block < 0 ? config->n_blocks : options.end_block;
  if (options.first_block < 0 || options.first_block > end || end > config->n_blocks) {
    return status::out_of_range(path + ": span [" + std::to_string(options.first_block) + ", " +
                                std::to_string(end) + ") is outside the model's " +
                                std::to_string(config->n_blocks) + " blocks");
  }
  m.first_block_ = options.first_block;
  for (int64_t b = options.first_block; b < end; ++b) {
    auto block = load_block_weights(*file, *config, b, options.kind);
    if (!block.ok()) return block.error();
    m.blocks_.push_back(std::move(*block));
    for (const gguf_tensor& t : file->tensors()) {
      if (t.name.rfind("blk." + std::to_string(b) + ".", 0) == 0) file->release_pages(t);
    }
  }
  if (options.with_head) {
    auto tok = tokenizer::from_gguf(*file);
    if (!tok.ok()) return tok.error();
    m.tokenizer_.emplace(std::move(*tok));
    auto h = head::load(file, *config, options.kind);
    if (!h.ok()) return h.error();
    m.head_.emplace(std::move(*h));
  }
  file->release_pages();
  m.load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

size_t llama_model::weight_bytes() const {
  size_t total = head_ ? head_->bytes() : 0;
  for (const block_weights& b : blocks_) total += b.bytes();
  return total;
}

}  // namespace corolla
