#include "model/model_id.hpp"

#include "model/head_file.hpp"

#include <algorithm>
#include <cstdio>

namespace corolla {
namespace {

constexpr uint64_t fnv_offset = 1469598103934665603ull;
constexpr uint64_t fnv_prime = 1099511628211ull;
constexpr uint64_t sampled_tensor_bytes = 4096;

uint64_t fnv1a(uint64_t hash, const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * fnv_prime;
  return hash;
}

}  // namespace

std::string model_fingerprint(const gguf_file& file) {
  if (auto head_of = file.get_string(head_of_key); head_of.ok()) return *head_of;
  // The header, metadata and tensor table are what precede the data section.
  uint64_t hash =
      fnv1a(fnv_offset, file.bytes(), size_t(std::min(file.data_offset(), file.file_size())));
  for (const gguf_tensor& t : file.tensors()) {
    hash = fnv1a(hash, t.data, size_t(std::min(t.bytes, sampled_tensor_bytes)));
  }
  auto arch = file.get_string("general.architecture");
  const std::string name = arch.ok() ? *arch : "unknown";
  auto blocks = file.get_int(name + ".block_count");
  auto width = file.get_int(name + ".embedding_length");
  char text[96];
  std::snprintf(text, sizeof text, "%s-%lldx%lld-%016llx", name.c_str(),
                blocks.ok() ? static_cast<long long>(*blocks) : 0LL,
                width.ok() ? static_cast<long long>(*width) : 0LL,
                static_cast<unsigned long long>(hash));
  return text;
}

result<std::string> model_fingerprint(const std::string& path) {
  COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(path));
  return model_fingerprint(file);
}

std::string swarm_model_id(const std::string& fingerprint, precision weights, kv_type kv) {
  return fingerprint + (weights == precision::int8 ? "+int8" : "") +
         (kv == kv_type::f16 ? "" : std::string("+kv") + to_string(kv));
}

}  // namespace corolla
