// A GGUF metadata value: a scalar, a string, or an array of values (arrays may
// nest). Types and ids follow the GGUF specification's `gguf_metadata_value_type`.
//
// Invariants:
//  1. kind() tells which accessor is valid; numeric accessors convert between
//     integer widths only when the value fits, and report nullopt otherwise.
//  2. An array's elements all have its element_type().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace corolla {

enum class gguf_type : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

// "u32", "string", ...; "type N" for an unknown id.
std::string gguf_type_name(uint32_t id);

class gguf_value {
 public:
  gguf_value() = default;
  static gguf_value of_uint(gguf_type type, uint64_t v);  // u8..u64
  static gguf_value of_int(gguf_type type, int64_t v);    // i8..i64
  static gguf_value of_float(gguf_type type, double v);   // f32, f64
  static gguf_value of_bool(bool v);
  static gguf_value of_string(std::string v);
  static gguf_value of_array(gguf_type element_type, std::vector<gguf_value> items);

  // Convenience constructors for writers.
  static gguf_value u32(uint32_t v) { return of_uint(gguf_type::u32, v); }
  static gguf_value i32(int32_t v) { return of_int(gguf_type::i32, v); }
  static gguf_value f32(float v) { return of_float(gguf_type::f32, v); }
  static gguf_value str(std::string v) { return of_string(std::move(v)); }
  static gguf_value strings(const std::vector<std::string>& v);
  static gguf_value f32s(const std::vector<float>& v);
  static gguf_value i32s(const std::vector<int32_t>& v);

  gguf_type type() const { return type_; }
  bool is_integer() const;
  bool is_float() const { return type_ == gguf_type::f32 || type_ == gguf_type::f64; }
  bool is_string() const { return type_ == gguf_type::string; }
  bool is_array() const { return type_ == gguf_type::array; }

  std::optional<int64_t> as_int() const;    // any integer type whose value fits
  std::optional<uint64_t> as_uint() const;  // any non-negative integer
  std::optional<double> as_float() const;   // f32, f64, or any integer
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;  // nullptr unless a string

  // Arrays. REQUIRES: is_array() for element_type(); items() is empty otherwise.
  gguf_type element_type() const { return element_type_; }
  const std::vector<gguf_value>& items() const;

  // A short human rendering ("42", "\"llama\"", "[string x 512] [\"<unk>\", ...]").
  std::string to_display(size_t max_items = 6) const;

 private:
  gguf_type type_ = gguf_type::u8;
  gguf_type element_type_ = gguf_type::u8;
  std::variant<uint64_t, int64_t, double, bool, std::string,
               std::shared_ptr<const std::vector<gguf_value>>>
      data_ = uint64_t{0};
};

}  // namespace corolla
