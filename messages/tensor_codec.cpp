#include "messages/tensor_codec.hpp"

#include <cmath>
#include <cstring>

#include "kernels/half.hpp"

namespace corolla {

const char* to_string(tensor_codec codec) {
  switch (codec) {
    case tensor_codec::f32:
      return "f32";
    case tensor_codec::f16:
      return "f16";
    case tensor_codec::int8_block:
      return "int8";
  }
  return "unknown";
}

result<tensor_codec> parse_tensor_codec(const std::string& name) {
  if (name == "f32") return tensor_codec::f32;
  if (name == "f16") return tensor_codec::f16;
  if (name == "int8") return tensor_codec::int8_block;
  return status::invalid_argument("unknown wire codec '" + name + "' (expected f32, f16 or int8)");
}

size_t encoded_size(tensor_codec codec, int64_t rows, int64_t cols) {
  const size_t values = size_t(rows) * size_t(cols);
  switch (codec) {
    case tensor_codec::f32:
      return values * 4;
    case tensor_codec::f16:
      return values * 2;
    case tensor_codec::int8_block: {
      const size_t blocks_per_row = size_t((cols + int8_codec_block - 1) / int8_codec_block);
      return size_t(rows) * blocks_per_row * sizeof(float) + values;
    }
  }
  return 0;
}

tensor_bytes encode_tensor(tensor_codec codec, const float* x, int64_t rows, int64_t cols) {
  tensor_bytes t;
  t.codec = uint8_t(codec);
  t.rows = rows;
  t.cols = cols;
  t.data.resize(encoded_size(codec, rows, cols));
  char* out = t.data.data();
  const int64_t values = rows * cols;
  switch (codec) {
    case tensor_codec::f32:
      std::memcpy(out, x, size_t(values) * 4);
      break;
    case tensor_codec::f16:
      for (int64_t i = 0; i < values; ++i) {
        const uint16_t h = f32_to_f16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      break;
    case tensor_codec::int8_block:
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t b = 0; b < cols; b += int8_codec_block) {
          const float* v = x + r * cols + b;
          const int64_t len = std::min(int8_codec_block, cols - b);
          float amax = 0;
          for (int64_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(v[i]));
          const float scale = amax / 127.0f;
          const float inv = scale > 0 ? 1.0f / scale : 0.0f;
          std::memcpy(out, &scale, sizeof scale);
          out += sizeof scale;
          for (int64_t i = 0; i < len; ++i) *out++ = char(int8_t(std::lrintf(v[i] * inv)));
        }
      }
      break;
  }
  return t;
}

uint64_t tensor_digest(const tensor_bytes& t) {
  // FNV-1a over 8-byte words (then the tail), seeded with the header.
  constexpr uint64_t prime = 0x100000001b3ull;
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * prime; };
  mix(t.codec);
  mix(uint64_t(t.rows));
  mix(uint64_t(t.cols));
  const size_t words = t.data.size() / 8;
  for (size_t i = 0; i < words; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, t.data.data() + 8 * i, 8);
    mix(v);
  }
  for (size_t i = words * 8; i < t.data.size(); ++i) mix(uint8_t(t.data[i]));
  return h;
}

status decode_tensor(const tensor_bytes& t, int64_t expected_cols, int64_t max_rows,
                     std::vector<float>& out) {
  if (t.codec > uint8_t(tensor_codec::int8_block)) {
    return status::corruption("tensor: unknown codec tag " + std::to_string(t.codec));
  }
  if (t.cols < 1) {
    return status::corruption("tensor: " + std::to_string(t.cols) + " values per token");
  }
  if (t.cols != expected_cols) {
    return status::invalid_argument("tensor: " + std::to_string(t.cols) +
                                    " values per token, expected " + std::to_string(expected_cols));
  }
  if (t.rows < 1 || t.rows > max_rows) {
    return status::corruption("tensor: " + std::to_string(t.rows) + " rows, expected 1.." +
                              std::to_string(max_rows));
  }
  const auto codec = tensor_codec(t.codec);
  const size_t want = encoded_size(codec, t.rows, t.cols);
  if (t.data.size() != want) {
    return status::corruption("tensor: " + std::to_string(t.data.size()) + " bytes of " +
                              to_string(codec) + " data, the header needs " + std::to_string(want));
  }
  const int64_t values = t.rows * t.cols;
  out.resize(size_t(values));
  const char* in = t.data.data();
  switch (codec) {
    case tensor_codec::f32:
      std::memcpy(out.data(), in, size_t(values) * 4);
      break;
    case tensor_codec::f16:
      f16_to_f32_row(out.data(), in, size_t(values));
      break;
    case tensor_codec::int8_block:
      for (int64_t r = 0; r < t.rows; ++r) {
        for (int64_t b = 0; b < t.cols; b += int8_codec_block) {
          float* v = out.data() + r * t.cols + b;
          const int64_t len = std::min(int8_codec_block, t.cols - b);
          float scale;
          std::memcpy(&scale, in, sizeof scale);
          in += sizeof scale;
          for (int64_t i = 0; i < len; ++i) v[i] = scale * float(int8_t(*in++));
        }
      }
      break;
  }
  return status();
}

}  // namespace corolla
