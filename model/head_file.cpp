#include "model/head_file.hpp"

#include "model/gguf_writer.hpp"
#include "model/llama_config.hpp"
#include "model/model_id.hpp"

namespace corolla {

bool is_head_file(const gguf_file& file) {
  return file.find(head_of_key) != nullptr;
}

status write_head_file(const std::string& model_path, const std::string& out_path) {
  COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(model_path));
  if (is_head_file(file)) {
    return status::invalid_argument(model_path + " is already a head file");
  }
  COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
  COROLLA_RETURN_IF_ERROR(check_llama_tensors(file, config));
  gguf_writer out(file.version(), file.alignment());
  for (const auto& [key, value] : file.metadata()) out.set(key, value);
  out.set(head_of_key, gguf_value::of_string(model_fingerprint(file)));
  for (const char* name : {"token_embd.weight", "output_norm.weight", "output.weight"}) {
    const gguf_tensor* t = file.find_tensor(name);
    if (t == nullptr) continue;  // output.weight: tied to the embedding
    COROLLA_RETURN_IF_ERROR(
        out.add_tensor_bytes(t->name, t->shape, ggml_type(t->type), t->data, t->bytes));
  }
  return out.write_file(out_path);
}

}  // namespace corolla
