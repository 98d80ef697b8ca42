#include "messages/session.hpp"

namespace corolla {

uint64_t kv_chunk_checksum(const kv_chunk& chunk) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::string* bytes : {&chunk.kv, &chunk.history.data}) {
    for (unsigned char c : *bytes) h = (h ^ c) * 0x100000001b3ULL;
  }
  return h;
}

}  // namespace corolla
