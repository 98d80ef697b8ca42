#include "model/ggml_type.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace corolla {
namespace {

constexpr ggml_type_info kTypes[] = {
    {ggml_type::f32, "F32", 1, 4, true},
    {ggml_type::f16, "F16", 1, 2, true},
    {ggml_type::q4_0, "Q4_0", 32, 18, true},
    {ggml_type::q4_1, "Q4_1", 32, 20, true},
    {ggml_type::q5_0, "Q5_0", 32, 22, true},
    {ggml_type::q5_1, "Q5_1", 32, 24, true},
    {ggml_type::q8_0, "Q8_0", 32, 34, true},
    {ggml_type::q8_1, "Q8_1", 32, 36, false},
    {ggml_type::q2_k, "Q2_K", 256, 84, true},
    {ggml_type::q3_k, "Q3_K", 256, 110, true},
    {ggml_type::q4_k, "Q4_K", 256, 144, true},
    {ggml_type::q5_k, "Q5_K", 256, 176, true},
    {ggml_type::q6_k, "Q6_K", 256, 210, true},
    {ggml_type::q8_k, "Q8_K", 256, 292, false},
    // The IQ codebook types: known (files open, their tensors are named), and only the
    // 4-bit ones dequantised; the 1-3 bit codebooks are refused by name.
    {ggml_type::iq2_xxs, "IQ2_XXS", 256, 66, false},
    {ggml_type::iq2_xs, "IQ2_XS", 256, 74, false},
    {ggml_type::iq3_xxs, "IQ3_XXS", 256, 98, false},
    {ggml_type::iq1_s, "IQ1_S", 256, 50, false},
    {ggml_type::iq4_nl, "IQ4_NL", 32, 18, true},
    {ggml_type::iq3_s, "IQ3_S", 256, 110, false},
    {ggml_type::iq2_s, "IQ2_S", 256, 82, false},
    {ggml_type::iq4_xs, "IQ4_XS", 256, 136, true},
    {ggml_type::iq1_m, "IQ1_M", 256, 56, false},
    {ggml_type::tq1_0, "TQ1_0", 256, 54, false},
    {ggml_type::tq2_0, "TQ2_0", 256, 66, false},
    {ggml_type::i8, "I8", 1, 1, false},
    {ggml_type::i16, "I16", 1, 2, false},
    {ggml_type::i32, "I32", 1, 4, false},
    {ggml_type::i64, "I64", 1, 8, false},
    {ggml_type::f64, "F64", 1, 8, false},
    {ggml_type::bf16, "BF16", 1, 2, true},
};

}  // namespace

std::optional<ggml_type_info> ggml_type_info_of(uint32_t id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == id) return t;
  }
  return std::nullopt;
}

std::string ggml_type_name(uint32_t id) {
  if (auto info = ggml_type_info_of(id)) return info->name;
  return "type " + std::to_string(id);
}

std::optional<ggml_type> ggml_type_from_name(const std::string& name) {
  std::string upper;
  std::transform(name.begin(), name.end(), std::back_inserter(upper),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& t : kTypes) {
    if (upper == t.name) return t.type;
  }
  return std::nullopt;
}

}  // namespace corolla
