#include "model/dequantize.hpp"

#include <cstring>
#include <string>

#include "kernels/half.hpp"

namespace corolla {
namespace {

constexpr int kQK = 32;    // values per Q8_0 / Q4_0 block
constexpr int kQKK = 256;  // values per K-quant super-block

uint16_t load_u16(const uint8_t* p) {
  return uint16_t(p[0] | (p[1] << 8));
}

void dequantize_q8_0(const uint8_t* src, float* out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 2 + kQK, out += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const auto* q = reinterpret_cast<const int8_t*>(src + 2);
    for (int i = 0; i < kQK; ++i) out[i] = d * float(q[i]);
  }
}

void dequantize_q4_0(const uint8_t* src, float* out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 2 + kQK / 2, out += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const uint8_t* q = src + 2;
    for (int i = 0; i < kQK / 2; ++i) {
      out[i] = d * float((q[i] & 0x0f) - 8);
      out[i + kQK / 2] = d * float((q[i] >> 4) - 8);
    }
  }
}

// Q4_K packs eight 6-bit (scale, min) pairs into 12 bytes: pairs 0-3 sit in the
// low 6 bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take their low 4
// bits from bytes 8-11 and their top 2 bits from the spare bits of bytes 0-7.
void q4_k_scale_min(int j, const uint8_t* s, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void dequantize_q4_k(const uint8_t* src, float* out, int64_t blocks) {
  constexpr int kBytes = 2 + 2 + 12 + kQKK / 2;
  for (int64_t b = 0; b < blocks; ++b, src += kBytes) {
    const float d = f16_to_f32(load_u16(src));
    const float dmin = f16_to_f32(load_u16(src + 2));
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    // Each 64 values share 32 bytes: low nibbles are sub-block j, high nibbles j+1.
    for (int j = 0; j < 8; j += 2, q += 32) {
      int sc0, m0, sc1, m1;
      q4_k_scale_min(j, scales, sc0, m0);
      q4_k_scale_min(j + 1, scales, sc1, m1);
      const float d0 = d * float(sc0), min0 = dmin * float(m0);
      const float d1 = d * float(sc1), min1 = dmin * float(m1);
      for (int l = 0; l < 32; ++l) *out++ = d0 * float(q[l] & 0x0f) - min0;
      for (int l = 0; l < 32; ++l) *out++ = d1 * float(q[l] >> 4) - min1;
    }
  }
}

void dequantize_q6_k(const uint8_t* src, float* out, int64_t blocks) {
  constexpr int kBytes = kQKK / 2 + kQKK / 4 + kQKK / 16 + 2;
  for (int64_t b = 0; b < blocks; ++b, src += kBytes) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + kQKK / 2;
    const auto* sc = reinterpret_cast<const int8_t*>(src + kQKK / 2 + kQKK / 4);
    const float d = f16_to_f32(load_u16(src + kBytes - 2));
    // Each half (128 values) uses 64 ql bytes, 32 qh bytes and 8 scales; one qh
    // byte holds the top two bits of four values 32 apart.
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, out += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * float(sc[is]) * float(q1);
        out[l + 32] = d * float(sc[is + 2]) * float(q2);
        out[l + 64] = d * float(sc[is + 4]) * float(q3);
        out[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
    }
  }
}

}  // namespace

status dequantize_row(uint32_t type, const void* src, float* out, int64_t n) {
  const auto info = ggml_type_info_of(type);
  if (!info || !info->dequantizable) {
    return status::not_supported("dequantising " + ggml_type_name(type) +
                                 " is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K are)");
  }
  if (n < 0 || n % info->block_size != 0) {
    return status::invalid_argument("row of " + std::to_string(n) +
                                    " values is not a multiple of the " + info->name +
                                    " block size " + std::to_string(info->block_size));
  }
  const auto* bytes = static_cast<const uint8_t*>(src);
  const int64_t blocks = n / info->block_size;
  switch (static_cast<ggml_type>(type)) {
    case ggml_type::f32:
      std::memcpy(out, src, size_t(n) * sizeof(float));
      break;
    case ggml_type::f16:
      f16_to_f32_row(out, bytes, size_t(n));
      break;
    case ggml_type::bf16:
      bf16_to_f32_row(out, bytes, size_t(n));
      break;
    case ggml_type::q8_0:
      dequantize_q8_0(bytes, out, blocks);
      break;
    case ggml_type::q4_0:
      dequantize_q4_0(bytes, out, blocks);
      break;
    case ggml_type::q4_k:
      dequantize_q4_k(bytes, out, blocks);
      break;
    case ggml_type::q6_k:
      dequantize_q6_k(bytes, out, blocks);
      break;
    default:
      break;  // excluded by info->dequantizable
  }
  return status();
}

status dequantize_tensor_row(const gguf_tensor& tensor, int64_t row, float* out) {
  if (row < 0 || row >= tensor.rows()) {
    return status::out_of_range("tensor '" + tensor.name + "': row " + std::to_string(row) +
                                " of " + std::to_string(tensor.rows()));
  }
  status st = dequantize_row(tensor.type, tensor.row(row), out, tensor.row_length());
  if (!st.ok()) return status::not_supported("tensor '" + tensor.name + "': " + st.message());
  return st;
}

}  // namespace corolla
