// Read-only access to a GGUF file: header, metadata, tensor table, tensor bytes.
//
// The file is memory-mapped; nothing is copied but the metadata. Every count,
// length, dimension and offset read from the file is checked against the bytes
// that remain before anything is allocated or dereferenced, so a hostile or
// truncated file yields a status naming the file, the key or tensor, the byte
// offset, and the problem — never a crash. Layout per the GGUF specification
// (ggml's docs/gguf.md): versions 2 and 3, little-endian.
//
// Invariants once open() or parse() succeeded:
//  1. Every tensor's [data, data + bytes) lies inside the mapping and starts at
//     a multiple of alignment() from data_offset().
//  2. Every tensor's type is known (ggml_type_info_of succeeds), it has 1-4
//     dimensions, and ne[0] is a multiple of its block size.
//  3. Keys and tensor names are unique.
// Thread safety: const methods may be called concurrently. Move-only; tensor
// views point into the mapping and are valid while the gguf_file lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/ggml_type.hpp"
#include "model/gguf_value.hpp"
#include "model/status.hpp"

namespace corolla {

struct gguf_tensor {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] (ne0) is the row length
  uint32_t type = 0;           // a ggml_type id; known (invariant 2)
  uint64_t offset = 0;         // relative to the data section
  int64_t elements = 0;
  uint64_t bytes = 0;
  const uint8_t* data = nullptr;

  int64_t row_length() const { return shape.empty() ? 0 : shape[0]; }
  int64_t rows() const { return row_length() ? elements / row_length() : 0; }
  uint64_t row_bytes() const { return rows() ? bytes / uint64_t(rows()) : 0; }
  const uint8_t* row(int64_t r) const { return data + uint64_t(r) * row_bytes(); }
  std::string shape_string() const;  // "[64, 512]"
};

class gguf_file {
 public:
  // Maps and parses `path`. Errors: io_error when it can not be opened or mapped,
  // corruption / not_supported as described above.
  static result<gguf_file> open(const std::string& path);

  // Parses `size` bytes at `data`, which must outlive the result (tests, fuzzing).
  // `name` stands for the file in error messages.
  static result<gguf_file> parse(const uint8_t* data, size_t size, std::string name);

  gguf_file(gguf_file&&) noexcept;
  gguf_file& operator=(gguf_file&&) noexcept;
  gguf_file(const gguf_file&) = delete;
  gguf_file& operator=(const gguf_file&) = delete;
  ~gguf_file();

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  const uint8_t* bytes() const { return bytes_; }  // the whole file, file_size() bytes
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, gguf_value>>& metadata() const { return metadata_; }
  const gguf_value* find(std::string_view key) const;  // nullptr when absent

  // Typed look-ups. Errors: not_found when absent, corruption when the stored type
  // does not convert; both messages name the file and key.
  result<std::string> get_string(std::string_view key) const;
  result<int64_t> get_int(std::string_view key) const;
  result<double> get_float(std::string_view key) const;
  result<bool> get_bool(std::string_view key) const;
  // The array stored under `key`, checked to hold elements of `element` type (or
  // any numeric type when `element` is f32 and any integer when it is i32).
  result<const std::vector<gguf_value>*> get_array(std::string_view key, gguf_type element) const;

  const std::vector<gguf_tensor>& tensors() const { return tensors_; }
  const gguf_tensor* find_tensor(std::string_view name) const;  // nullptr when absent

  // Tells the kernel the mapped pages may be dropped (they are re-read from the
  // file on next access). Used after weights are converted into other buffers.
  void release_pages() const;
  // The same for one tensor's bytes (load_stacked releases each tensor it converts, so
  // the file and the converted weights are never resident together).
  void release_pages(const gguf_tensor& tensor) const;

 private:
  gguf_file() = default;
  status parse_all();

  struct mapping;
  std::unique_ptr<mapping> map_;  // null when parse() borrowed the bytes
  const uint8_t* bytes_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, gguf_value>> metadata_;
  std::vector<gguf_tensor> tensors_;
};

}  // namespace corolla
