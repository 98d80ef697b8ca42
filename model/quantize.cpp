#include "model/quantize.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "kernels/half.hpp"

namespace corolla {
namespace {

void store_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v & 0xff);
  p[1] = uint8_t(v >> 8);
}

void quantize_q8_0(const float* in, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; ++b, in += 32, out += 34) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(in[i]));
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, f32_to_f16(d));
    for (int i = 0; i < 32; ++i) out[2 + i] = uint8_t(int8_t(std::lround(in[i] * inv)));
  }
}

}  // namespace

bool is_writable_type(ggml_type type) {
  return type == ggml_type::f32 || type == ggml_type::f16 || type == ggml_type::bf16 ||
         type == ggml_type::q8_0;
}

status quantize_row(ggml_type type, const float* in, int64_t n, void* out) {
  if (!is_writable_type(type)) {
    return status::not_supported("writing " + ggml_type_name(uint32_t(type)) +
                                 " tensors is not supported (F32, F16, BF16, Q8_0 are)");
  }
  const auto info = *ggml_type_info_of(uint32_t(type));
  if (n < 0 || n % info.block_size != 0) {
    return status::invalid_argument("row of " + std::to_string(n) +
                                    " values is not a multiple of the " + info.name +
                                    " block size " + std::to_string(info.block_size));
  }
  auto* bytes = static_cast<uint8_t*>(out);
  switch (type) {
    case ggml_type::f32:
      std::memcpy(out, in, size_t(n) * sizeof(float));
      break;
    case ggml_type::f16:
      for (int64_t i = 0; i < n; ++i) store_u16(bytes + 2 * i, f32_to_f16(in[i]));
      break;
    case ggml_type::bf16:
      for (int64_t i = 0; i < n; ++i) store_u16(bytes + 2 * i, f32_to_bf16(in[i]));
      break;
    case ggml_type::q8_0:
      quantize_q8_0(in, n / 32, bytes);
      break;
    default:
      break;  // excluded by is_writable_type
  }
  return status();
}

}  // namespace corolla
