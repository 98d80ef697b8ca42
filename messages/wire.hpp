// wire: a message struct to bytes and back with cereal's portable binary archive
// (little-endian on every host). CAF carries these bytes (caf_types.hpp), which is
// 4-12x faster than CAF's field-by-field inspection of large vectors (PLATFORM.md).
#pragma once

#include <sstream>
#include <string>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "model/status.hpp"

namespace corolla {

template <class T>
std::string to_wire(const T& message) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(message);
  }
  return std::move(out).str();
}

// Errors: corruption naming `what` when the bytes are truncated, oversized or left over.
template <class T>
status from_wire(const std::string& bytes, T& message, const char* what) {
  std::istringstream in(bytes, std::ios::binary);
  try {
    cereal::PortableBinaryInputArchive ar(in);
    ar(message);
  } catch (const std::exception& e) {
    return status::corruption(std::string(what) + ": " + e.what());
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    return status::corruption(std::string(what) + ": bytes left over after the message");
  }
  return status();
}

}  // namespace corolla
