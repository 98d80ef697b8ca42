// wire_fields: what message structs need to list their fields for cereal, and a
// string field whose length is checked before it is allocated (a peer's length
// prefix is not trusted).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include <cereal/cereal.hpp>

namespace corolla {

// Reads `size` bytes into `bytes` a MiB at a time: a length prefix that promises more
// than the message holds fails at the first missing MiB, so what is allocated follows
// the bytes that really arrived, not the length a peer claims.
template <class Archive>
void load_bytes(Archive& ar, std::string& bytes, size_t size) {
  constexpr size_t piece = size_t(1) << 20;
  bytes.clear();
  for (size_t at = 0; at < size; at += piece) {
    const size_t n = std::min(piece, size - at);
    bytes.resize(at + n);
    ar(cereal::binary_data(bytes.data() + at, n));
  }
}

template <size_t MaxBytes>
struct bounded_text {
  std::string& text;

  template <class Archive>
  void save(Archive& ar) const {
    ar(cereal::make_size_tag(cereal::size_type(text.size())),
       cereal::binary_data(text.data(), text.size()));
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type size = 0;
    ar(cereal::make_size_tag(size));
    if (size > MaxBytes) {
      throw cereal::Exception("a text field of " + std::to_string(size) +
                              " bytes exceeds its limit of " + std::to_string(MaxBytes));
    }
    load_bytes(ar, text, size);
  }
};

// A name, host or error text: short by nature.
inline bounded_text<4096> text_field(std::string& s) {
  return {s};
}
inline bounded_text<4096> text_field(const std::string& s) {
  return {const_cast<std::string&>(s)};
}

// A list whose element count is checked before it is allocated.
template <size_t MaxItems, class T>
struct bounded_vector {
  std::vector<T>& items;

  template <class Archive>
  void save(Archive& ar) const {
    ar(cereal::make_size_tag(cereal::size_type(items.size())));
    for (const T& item : items) ar(item);
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type size = 0;
    ar(cereal::make_size_tag(size));
    if (size > MaxItems) {
      throw cereal::Exception("a list of " + std::to_string(size) + " items exceeds its limit of " +
                              std::to_string(MaxItems));
    }
    items.resize(size);
    for (T& item : items) ar(item);
  }
};

template <size_t MaxItems, class T>
bounded_vector<MaxItems, T> bounded_list(std::vector<T>& items) {
  return {items};
}
template <size_t MaxItems, class T>
bounded_vector<MaxItems, T> bounded_list(const std::vector<T>& items) {
  return {const_cast<std::vector<T>&>(items)};
}

}  // namespace corolla
