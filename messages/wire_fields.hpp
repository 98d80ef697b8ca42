// wire_fields: what message structs need to list their fields for cereal — texts,
// lists and number vectors whose length is checked before anything is allocated and
// whose bytes are read 64 KiB at a time (a peer's length prefix is not trusted). Every
// variable-length field of a message goes through one of them: any registered message
// can arrive from any peer, whatever actor it is addressed to.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <cereal/cereal.hpp>

namespace corolla {

// Reads `size` elements into `out` (a std::string or a vector of numbers) 64 KiB at a
// time: a length prefix that promises more than the message holds fails at the first
// missing piece, so what is allocated follows the bytes that really arrived, not the
// length a peer claims.
template <class Archive, class Container>
void load_in_pieces(Archive& ar, Container& out, size_t size) {
  using T = typename Container::value_type;
  constexpr size_t piece = (size_t(64) << 10) / sizeof(T);
  out.clear();
  for (size_t at = 0; at < size; at += piece) {
    const size_t n = std::min(piece, size - at);
    out.resize(at + n);
    ar(cereal::binary_data(out.data() + at, n * sizeof(T)));
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
    load_in_pieces(ar, text, size);
  }
};

// Vectors of numbers (hidden states, token ids) on the wire: cereal's own layout (a size,
// then the values), but the count checked before anything is allocated and the values
// read 64 KiB at a time.
template <size_t MaxItems, class T>
struct bounded_numbers {
  static_assert(std::is_arithmetic_v<T>);
  std::vector<T>& values;

  template <class Archive>
  void save(Archive& ar) const {
    ar(cereal::make_size_tag(cereal::size_type(values.size())),
       cereal::binary_data(values.data(), values.size() * sizeof(T)));
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type size = 0;
    ar(cereal::make_size_tag(size));
    if (size > MaxItems) {
      throw cereal::Exception("a list of " + std::to_string(size) +
                              " values exceeds its limit of " + std::to_string(MaxItems));
    }
    load_in_pieces(ar, values, size);
  }
};

template <size_t MaxItems, class T>
bounded_numbers<MaxItems, T> bounded_values(std::vector<T>& values) {
  return {values};
}
template <size_t MaxItems, class T>
bounded_numbers<MaxItems, T> bounded_values(const std::vector<T>& values) {
  return {const_cast<std::vector<T>&>(values)};
}

// The most values a message's vector may hold: a 16k-token prefill of an 8192-wide model.
constexpr size_t max_wire_values = size_t(1) << 27;
// The most tokens a message may list, and the longest text it may carry.
constexpr size_t max_wire_tokens = size_t(1) << 22;
constexpr size_t max_wire_text = size_t(64) << 20;

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

// A list of short texts (stop strings, server names).
template <size_t MaxItems, size_t MaxBytes>
struct bounded_text_list {
  std::vector<std::string>& texts;

  template <class Archive>
  void save(Archive& ar) const {
    ar(cereal::make_size_tag(cereal::size_type(texts.size())));
    for (std::string& t : texts) ar(bounded_text<MaxBytes>{t});
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type size = 0;
    ar(cereal::make_size_tag(size));
    if (size > MaxItems) {
      throw cereal::Exception("a list of " + std::to_string(size) + " texts exceeds its limit of " +
                              std::to_string(MaxItems));
    }
    texts.resize(size);
    for (std::string& t : texts) ar(bounded_text<MaxBytes>{t});
  }
};

template <size_t MaxItems, size_t MaxBytes = 4096>
bounded_text_list<MaxItems, MaxBytes> text_list(const std::vector<std::string>& texts) {
  return {const_cast<std::vector<std::string>&>(texts)};
}

template <size_t MaxItems, class T>
bounded_vector<MaxItems, T> bounded_list(std::vector<T>& items) {
  return {items};
}
template <size_t MaxItems, class T>
bounded_vector<MaxItems, T> bounded_list(const std::vector<T>& items) {
  return {const_cast<std::vector<T>&>(items)};
}

}  // namespace corolla
