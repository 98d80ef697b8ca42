// Writes GGUF files (version 3 by default, 2 on request) with metadata and
// F32 / F16 / BF16 / Q8_0 tensors, byte for byte as the GGUF specification lays
// them out: header, key/values, tensor infos, padding to `alignment`, then each
// tensor's data at an aligned offset.
//
// Tensors are described up front and their values produced row by row while the
// file is written, so a 1 GB model never sits in memory as f32.
// Invariants:
//  1. Keys and tensor names are unique: set() replaces, add_tensor() refuses a repeat.
//  2. The file appears under its final name only once it is complete (written to
//     "<path>.tmp" and renamed), so a failed write never leaves a truncated GGUF.
// Not thread-safe; one writer per file.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "model/ggml_type.hpp"
#include "model/gguf_value.hpp"
#include "model/status.hpp"

namespace corolla {

class gguf_writer {
 public:
  // Fills out[0, shape[0]) with the f32 values of row `row`.
  using row_source = std::function<void(int64_t row, float* out)>;

  explicit gguf_writer(uint32_t version = 3, uint64_t alignment = 32);

  // Sets `key`, replacing an earlier value but keeping its position.
  void set(const std::string& key, gguf_value value);
  // Removes `key` if it is set.
  void erase(const std::string& key);

  // Declares a tensor. Errors: invalid_argument for a repeated name, an empty or
  // non-positive shape, more than 4 dimensions, or a row length that is not a
  // multiple of the type's block size; not_supported for a type it can not write.
  status add_tensor(const std::string& name, std::vector<int64_t> shape, ggml_type type,
                    row_source rows);

  // Declares a tensor whose bytes are copied as they are (any type ggml_type_info_of
  // knows; `data` must outlive the write): a head file keeps its model's exact
  // embedding and LM head. Errors: as add_tensor's, and invalid_argument when `bytes` is
  // not the shape's size in `type`.
  status add_tensor_bytes(const std::string& name, std::vector<int64_t> shape, ggml_type type,
                          const uint8_t* data, uint64_t bytes);
  // Writes the file. Errors: io_error naming the path.
  status write_file(const std::string& path) const;
  // Writes to a stream (tests, fuzz seeds). Errors: io_error when the stream fails.
  status write(std::ostream& out) const;

 private:
  status declare(const std::string& name, std::vector<int64_t> shape, ggml_type type,
                 row_source rows, const uint8_t* raw, uint64_t raw_bytes);

  struct tensor {
    std::string name;
    std::vector<int64_t> shape;
    ggml_type type;
    row_source rows;
    const uint8_t* raw = nullptr;  // add_tensor_bytes: written as is
    uint64_t offset = 0;
    uint64_t bytes = 0;
  };

  uint32_t version_;
  uint64_t alignment_;
  std::vector<std::pair<std::string, gguf_value>> metadata_;
  std::vector<tensor> tensors_;
  uint64_t data_bytes_ = 0;
};

}  // namespace corolla
