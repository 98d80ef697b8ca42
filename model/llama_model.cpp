#include "model/llama_model.hpp"

#include <chrono>

#include "model/head_file.hpp"

namespace corolla {

result<llama_model> llama_model::load(const std::string& path, const model_options& options) {
  const auto start = std::chrono::steady_clock::now();
  COROLLA_ASSIGN_OR_RETURN(auto opened, gguf_file::open(path));
  auto file = std::make_shared<const gguf_file>(std::move(opened));
  COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(*file));
  COROLLA_RETURN_IF_ERROR(check_llama_tensors(*file, config));

  llama_model m;
  m.config_ = config;
  const int64_t end = options.end_block < 0 ? config.n_blocks : options.end_block;
  if (options.first_block < 0 || options.first_block > end || end > config.n_blocks) {
    return status::out_of_range(path + ": span [" + std::to_string(options.first_block) + ", " +
                                std::to_string(end) + ") is outside the model's " +
                                std::to_string(config.n_blocks) + " blocks");
  }
  if (end > options.first_block && is_head_file(*file)) {
    return status::invalid_argument(path +
                                    " is a head file (no blocks): a server needs the whole model");
  }
  m.first_block_ = options.first_block;
  for (int64_t b = options.first_block; b < end; ++b) {
    COROLLA_ASSIGN_OR_RETURN(auto block, load_block_weights(*file, config, b, options.kind));
    block.cache_type =
        options.kv.value_or(options.kind == precision::f32 ? kv_type::f32 : kv_type::f16);
    m.blocks_.push_back(std::move(block));
  }
  if (options.with_head) {
    COROLLA_ASSIGN_OR_RETURN(m.tokenizer_, tokenizer::from_gguf(*file));
    COROLLA_ASSIGN_OR_RETURN(m.head_, head::load(file, config, options.kind));
    if (auto source = file->get_string("tokenizer.chat_template"); source.ok()) {
      const auto format = recognise_chat_template(*source);
      m.chat_format_ = format.value_or(chat_format::plain);
      m.chat_template_recognised_ = format.has_value();
    }
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
