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

void dequantize_q4_1(const uint8_t* src, float* out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 4 + kQK / 2, out += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const float m = f16_to_f32(load_u16(src + 2));
    const uint8_t* q = src + 4;
    for (int i = 0; i < kQK / 2; ++i) {
      out[i] = float(q[i] & 0x0f) * d + m;
      out[i + kQK / 2] = float(q[i] >> 4) * d + m;
    }
  }
}

// Q5_0 / Q5_1: the fifth bit of value j is bit j of a 32-bit word (values 16-31 take
// bits 16-31); Q5_0 centres on 16, Q5_1 adds a minimum instead.
template <bool WithMin>
void dequantize_q5(const uint8_t* src, float* out, int64_t blocks) {
  constexpr int kHeader = WithMin ? 4 : 2;
  for (int64_t b = 0; b < blocks; ++b, src += kHeader + 4 + kQK / 2, out += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const float m = WithMin ? f16_to_f32(load_u16(src + 2)) : 0.0f;
    uint32_t qh = 0;
    std::memcpy(&qh, src + kHeader, 4);
    const uint8_t* q = src + kHeader + 4;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = int(((qh >> j) << 4) & 0x10);
      const int h1 = int((qh >> (j + 12)) & 0x10);
      const int x0 = ((q[j] & 0x0f) | h0) - (WithMin ? 0 : 16);
      const int x1 = ((q[j] >> 4) | h1) - (WithMin ? 0 : 16);
      if (WithMin) {
        out[j] = float(x0) * d + m;
        out[j + kQK / 2] = float(x1) * d + m;
      } else {
        out[j] = float(x0) * d;
        out[j + kQK / 2] = float(x1) * d;
      }
    }
  }
}

// Q2_K: 16 sub-blocks of 16 values, each with a 4-bit scale and a 4-bit minimum; the
// 2-bit values of four sub-blocks share 32 bytes (shifts 0, 2, 4, 6).
void dequantize_q2_k(const uint8_t* src, float* out, int64_t blocks) {
  constexpr int kBytes = kQKK / 16 + kQKK / 4 + 4;
  for (int64_t b = 0; b < blocks; ++b, src += kBytes) {
    const uint8_t* scales = src;
    const uint8_t* q = src + kQKK / 16;
    const float d = f16_to_f32(load_u16(src + kQKK / 16 + kQKK / 4));
    const float dmin = f16_to_f32(load_u16(src + kQKK / 16 + kQKK / 4 + 2));
    int is = 0;
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = scales[is++];
          const float dl = d * float(sc & 0x0f), ml = dmin * float(sc >> 4);
          for (int l = 0; l < 16; ++l) *out++ = dl * float((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K: 2-bit values plus a high bit in hmask (clear: subtract 4), 16 sub-blocks with
// 6-bit signed scales packed into 12 bytes (low 4 bits in bytes 0-7, top 2 in 8-11).
void dequantize_q3_k(const uint8_t* src, float* out, int64_t blocks) {
  constexpr int kBytes = kQKK / 8 + kQKK / 4 + 12 + 2;
  for (int64_t b = 0; b < blocks; ++b, src += kBytes) {
    const uint8_t* hm = src;
    const uint8_t* q = src + kQKK / 8;
    const uint8_t* packed = src + kQKK / 8 + kQKK / 4;
    const float d = f16_to_f32(load_u16(src + kBytes - 2));
    int8_t scales[16];
    for (int j = 0; j < 16; ++j) {
      const int low = j < 8 ? packed[j] & 0x0f : packed[j - 8] >> 4;
      const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
      scales[j] = int8_t((low | (high << 4)) - 32);
    }
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d * float(scales[is++]);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * half;
            const int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
            *out++ = dl * float(v);
          }
        }
      }
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

// Q5_K: Q4_K's layout and scales plus a fifth bit per value in qh (bit pair 2i, 2i+1
// for the i-th 64 values).
void dequantize_q5_k(const uint8_t* src, float* out, int64_t blocks) {
  constexpr int kBytes = 2 + 2 + 12 + kQKK / 8 + kQKK / 2;
  for (int64_t b = 0; b < blocks; ++b, src += kBytes) {
    const float d = f16_to_f32(load_u16(src));
    const float dmin = f16_to_f32(load_u16(src + 2));
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* ql = src + 16 + kQKK / 8;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 8; j += 2, ql += 32, u1 = uint8_t(u1 << 2), u2 = uint8_t(u2 << 2)) {
      int sc0, m0, sc1, m1;
      q4_k_scale_min(j, scales, sc0, m0);
      q4_k_scale_min(j + 1, scales, sc1, m1);
      const float d0 = d * float(sc0), min0 = dmin * float(m0);
      const float d1 = d * float(sc1), min1 = dmin * float(m1);
      for (int l = 0; l < 32; ++l) {
        *out++ = d0 * float((ql[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - min0;
      }
      for (int l = 0; l < 32; ++l) {
        *out++ = d1 * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - min1;
      }
    }
  }
}

// IQ4_NL and IQ4_XS map 4-bit indices through one non-linear table.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

void dequantize_iq4_nl(const uint8_t* src, float* out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 2 + kQK / 2, out += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const uint8_t* q = src + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      out[j] = d * float(kIq4Values[q[j] & 0x0f]);
      out[j + kQK / 2] = d * float(kIq4Values[q[j] >> 4]);
    }
  }
}

// IQ4_XS: eight 32-value sub-blocks, each with a 6-bit scale (low 4 bits in scales_l,
// top 2 in scales_h), centred on 32.
void dequantize_iq4_xs(const uint8_t* src, float* out, int64_t blocks) {
  constexpr int kBytes = 2 + 2 + kQKK / 64 + kQKK / 2;
  for (int64_t b = 0; b < blocks; ++b, src += kBytes) {
    const float d = f16_to_f32(load_u16(src));
    const uint16_t scales_h = load_u16(src + 2);
    const uint8_t* scales_l = src + 4;
    const uint8_t* q = src + 4 + kQKK / 64;
    for (int ib = 0; ib < kQKK / 32; ++ib, q += 16, out += 32) {
      const int ls =
          ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * float(ls - 32);
      for (int j = 0; j < 16; ++j) {
        out[j] = dl * float(kIq4Values[q[j] & 0x0f]);
        out[j + 16] = dl * float(kIq4Values[q[j] >> 4]);
      }
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
                                 " is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, "
                                 "Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS are)");
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
    case ggml_type::q4_1:
      dequantize_q4_1(bytes, out, blocks);
      break;
    case ggml_type::q5_0:
      dequantize_q5<false>(bytes, out, blocks);
      break;
    case ggml_type::q5_1:
      dequantize_q5<true>(bytes, out, blocks);
      break;
    case ggml_type::q2_k:
      dequantize_q2_k(bytes, out, blocks);
      break;
    case ggml_type::q3_k:
      dequantize_q3_k(bytes, out, blocks);
      break;
    case ggml_type::q4_k:
      dequantize_q4_k(bytes, out, blocks);
      break;
    case ggml_type::q5_k:
      dequantize_q5_k(bytes, out, blocks);
      break;
    case ggml_type::iq4_nl:
      dequantize_iq4_nl(bytes, out, blocks);
      break;
    case ggml_type::iq4_xs:
      dequantize_iq4_xs(bytes, out, blocks);
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
