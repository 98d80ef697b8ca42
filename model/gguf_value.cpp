#include "model/gguf_value.hpp"

#include <limits>
#include <sstream>

namespace corolla {

std::string gguf_type_name(uint32_t id) {
  static const char* const kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                       "bool", "string", "array", "u64", "i64", "f64"};
  if (id < sizeof kNames / sizeof kNames[0]) return kNames[id];
  return "type " + std::to_string(id);
}

gguf_value gguf_value::of_uint(gguf_type type, uint64_t v) {
  gguf_value x;
  x.type_ = type;
  x.data_ = v;
  return x;
}

gguf_value gguf_value::of_int(gguf_type type, int64_t v) {
  gguf_value x;
  x.type_ = type;
  x.data_ = v;
  return x;
}

gguf_value gguf_value::of_float(gguf_type type, double v) {
  gguf_value x;
  x.type_ = type;
  x.data_ = v;
  return x;
}

gguf_value gguf_value::of_bool(bool v) {
  gguf_value x;
  x.type_ = gguf_type::boolean;
  x.data_ = v;
  return x;
}

gguf_value gguf_value::of_string(std::string v) {
  gguf_value x;
  x.type_ = gguf_type::string;
  x.data_ = std::move(v);
  return x;
}

gguf_value gguf_value::of_array(gguf_type element_type, std::vector<gguf_value> items) {
  gguf_value x;
  x.type_ = gguf_type::array;
  x.element_type_ = element_type;
  x.data_ = std::make_shared<const std::vector<gguf_value>>(std::move(items));
  return x;
}

gguf_value gguf_value::strings(const std::vector<std::string>& v) {
  std::vector<gguf_value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(of_string(s));
  return of_array(gguf_type::string, std::move(items));
}

gguf_value gguf_value::f32s(const std::vector<float>& v) {
  std::vector<gguf_value> items;
  items.reserve(v.size());
  for (float f : v) items.push_back(of_float(gguf_type::f32, f));
  return of_array(gguf_type::f32, std::move(items));
}

gguf_value gguf_value::i32s(const std::vector<int32_t>& v) {
  std::vector<gguf_value> items;
  items.reserve(v.size());
  for (int32_t i : v) items.push_back(of_int(gguf_type::i32, i));
  return of_array(gguf_type::i32, std::move(items));
}

bool gguf_value::is_integer() const {
  return std::holds_alternative<uint64_t>(data_) || std::holds_alternative<int64_t>(data_);
}

std::optional<int64_t> gguf_value::as_int() const {
  if (auto* u = std::get_if<uint64_t>(&data_)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return int64_t(*u);
  }
  if (auto* i = std::get_if<int64_t>(&data_)) return *i;
  return std::nullopt;
}

std::optional<uint64_t> gguf_value::as_uint() const {
  if (auto* u = std::get_if<uint64_t>(&data_)) return *u;
  if (auto* i = std::get_if<int64_t>(&data_)) {
    if (*i < 0) return std::nullopt;
    return uint64_t(*i);
  }
  return std::nullopt;
}

std::optional<double> gguf_value::as_float() const {
  if (auto* d = std::get_if<double>(&data_)) return *d;
  if (auto* u = std::get_if<uint64_t>(&data_)) return double(*u);
  if (auto* i = std::get_if<int64_t>(&data_)) return double(*i);
  return std::nullopt;
}

std::optional<bool> gguf_value::as_bool() const {
  if (auto* b = std::get_if<bool>(&data_)) return *b;
  return std::nullopt;
}

const std::string* gguf_value::as_string() const {
  return std::get_if<std::string>(&data_);
}

const std::vector<gguf_value>& gguf_value::items() const {
  static const std::vector<gguf_value> kEmpty;
  if (auto* a = std::get_if<std::shared_ptr<const std::vector<gguf_value>>>(&data_)) return **a;
  return kEmpty;
}

std::string gguf_value::to_display(size_t max_items) const {
  std::ostringstream out;
  if (auto* s = as_string()) {
    std::string shown = s->size() > 60 ? s->substr(0, 57) + "..." : *s;
    for (char& c : shown) {
      if (c == '\n') c = ' ';
    }
    out << '"' << shown << '"';
  } else if (auto b = as_bool()) {
    out << (*b ? "true" : "false");
  } else if (auto* d = std::get_if<double>(&data_)) {
    out << *d;
  } else if (auto* u = std::get_if<uint64_t>(&data_)) {
    out << *u;
  } else if (auto* i = std::get_if<int64_t>(&data_)) {
    out << *i;
  } else {
    const auto& v = items();
    out << "[" << gguf_type_name(uint32_t(element_type_)) << " x " << v.size() << "] [";
    for (size_t k = 0; k < v.size() && k < max_items; ++k) {
      out << (k ? ", " : "") << v[k].to_display(max_items);
    }
    out << (v.size() > max_items ? ", ...]" : "]");
  }
  return out.str();
}

}  // namespace corolla
