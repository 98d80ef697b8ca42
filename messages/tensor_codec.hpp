// tensor_codec: hidden states on the wire — a small header (codec, rows, cols) and the
// values encoded as bytes.
//
// Codecs (the swarm picks one; the session asks for it when it opens):
//   f32         4 bytes a value, exact.
//   f16         2 bytes a value (IEEE half, round to nearest even).
//   int8_block  per row, blocks of 32 values (the last may be shorter): one f32 scale
//               (max |x| / 127) then the values as int8 = round(x / scale); 1.125
//               bytes a value.
// Invariants:
//  1. data.size() == encoded_size(codec, rows, cols) for every tensor_bytes that
//     encode_tensor makes or decode_tensor accepts.
//  2. decode_tensor trusts nothing: the codec, the shape against what the receiver
//     expects, and the byte count are checked before a value is read.
// No CAF; callable from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/wire_fields.hpp"
#include "model/status.hpp"

namespace corolla {

enum class tensor_codec : uint8_t { f32 = 0, f16 = 1, int8_block = 2 };

constexpr int64_t int8_codec_block = 32;
// The largest tensor a message may carry: a 16k-token prefill of an 8192-wide model.
constexpr int64_t max_tensor_values = int64_t(max_wire_values);

const char* to_string(tensor_codec codec);
// "f32", "f16" or "int8"; invalid_argument naming the text otherwise.
result<tensor_codec> parse_tensor_codec(const std::string& name);

struct tensor_bytes {
  uint8_t codec = 0;  // a tensor_codec
  int64_t rows = 0;   // tokens
  int64_t cols = 0;   // values per token (the model's dim)
  std::string data;   // encoded values, row-major

  // Field order is wire order. The data's length is not sent: it follows from the
  // header, which is checked before anything is read, and is read 64 KiB at a time.
  template <class Archive>
  void save(Archive& ar) const {
    ar(codec, rows, cols, cereal::binary_data(data.data(), data.size()));
  }
  template <class Archive>
  void load(Archive& ar);
};

// Bytes the values of a rows x cols tensor take in `codec`.
size_t encoded_size(tensor_codec codec, int64_t rows, int64_t cols);

tensor_bytes encode_tensor(tensor_codec codec, const float* x, int64_t rows, int64_t cols);

// A 64-bit digest of `t` as it travels (header and bytes): push mode's servers report the
// digest of the input they computed on, so a server can not send the next one something
// else than what it sent the client. Not cryptographic: it only has to make an honest
// mismatch impossible to miss, and a liar gains nothing by matching it.
uint64_t tensor_digest(const tensor_bytes& t);

// Decodes `t` into out [rows, cols]. Errors: corruption for an unknown codec, a size
// that disagrees with the header, or rows outside [1, max_rows]; invalid_argument when
// cols != expected_cols. `out` is untouched on error.
status decode_tensor(const tensor_bytes& t, int64_t expected_cols, int64_t max_rows,
                     std::vector<float>& out);

template <class Archive>
void tensor_bytes::load(Archive& ar) {
  ar(codec, rows, cols);
  if (codec > uint8_t(tensor_codec::int8_block)) {
    // An unknown codec's size is unknowable; the receiver's decode_tensor names it.
    data.clear();
    return;
  }
  if (rows < 0 || cols < 0 || (cols > 0 && rows > max_tensor_values / cols)) {
    throw cereal::Exception("tensor of " + std::to_string(rows) + " x " + std::to_string(cols) +
                            " values is larger than a message may carry");
  }
  load_in_pieces(ar, data, encoded_size(tensor_codec(codec), rows, cols));
}

}  // namespace corolla
