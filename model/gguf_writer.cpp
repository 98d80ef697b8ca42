#include "model/gguf_writer.hpp"

#include <algorithm>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "model/quantize.hpp"

namespace corolla {
namespace {

template <class T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::ostream& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.write(s.data(), std::streamsize(s.size()));
}

void put_value(std::ostream& out, const gguf_value& v);

void put_payload(std::ostream& out, const gguf_value& v) {
  switch (v.type()) {
    case gguf_type::u8:
      put<uint8_t>(out, uint8_t(*v.as_uint()));
      break;
    case gguf_type::i8:
      put<int8_t>(out, int8_t(*v.as_int()));
      break;
    case gguf_type::u16:
      put<uint16_t>(out, uint16_t(*v.as_uint()));
      break;
    case gguf_type::i16:
      put<int16_t>(out, int16_t(*v.as_int()));
      break;
    case gguf_type::u32:
      put<uint32_t>(out, uint32_t(*v.as_uint()));
      break;
    case gguf_type::i32:
      put<int32_t>(out, int32_t(*v.as_int()));
      break;
    case gguf_type::u64:
      put<uint64_t>(out, *v.as_uint());
      break;
    case gguf_type::i64:
      put<int64_t>(out, *v.as_int());
      break;
    case gguf_type::f32:
      put<float>(out, float(*v.as_float()));
      break;
    case gguf_type::f64:
      put<double>(out, *v.as_float());
      break;
    case gguf_type::boolean:
      put<uint8_t>(out, *v.as_bool() ? 1 : 0);
      break;
    case gguf_type::string:
      put_string(out, *v.as_string());
      break;
    case gguf_type::array:
      put<uint32_t>(out, uint32_t(v.element_type()));
      put<uint64_t>(out, v.items().size());
      for (const auto& item : v.items()) put_payload(out, item);
      break;
  }
}

void put_value(std::ostream& out, const gguf_value& v) {
  put<uint32_t>(out, uint32_t(v.type()));
  put_payload(out, v);
}

void pad_to(std::ostream& out, uint64_t& pos, uint64_t alignment) {
  while (pos % alignment != 0) {
    out.put('\0');
    ++pos;
  }
}

}  // namespace

gguf_writer::gguf_writer(uint32_t version, uint64_t alignment)
    : version_(version), alignment_(alignment) {
  if (alignment_ != 32) set("general.alignment", gguf_value::u32(uint32_t(alignment_)));
}

void gguf_writer::set(const std::string& key, gguf_value value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void gguf_writer::erase(const std::string& key) {
  metadata_.erase(std::remove_if(metadata_.begin(), metadata_.end(),
                                 [&](const auto& entry) { return entry.first == key; }),
                  metadata_.end());
}

status gguf_writer::add_tensor(const std::string& name, std::vector<int64_t> shape, ggml_type type,
                               row_source rows) {
  if (!is_writable_type(type)) {
    return status::not_supported("tensor '" + name + "': can not write " +
                                 ggml_type_name(uint32_t(type)));
  }
  return declare(name, std::move(shape), type, std::move(rows), nullptr, 0);
}

status gguf_writer::add_tensor_bytes(const std::string& name, std::vector<int64_t> shape,
                                     ggml_type type, const uint8_t* data, uint64_t bytes) {
  if (!ggml_type_info_of(uint32_t(type))) {
    return status::not_supported("tensor '" + name + "': unknown type " +
                                 std::to_string(uint32_t(type)));
  }
  return declare(name, std::move(shape), type, nullptr, data, bytes);
}

status gguf_writer::declare(const std::string& name, std::vector<int64_t> shape, ggml_type type,
                            row_source rows, const uint8_t* raw, uint64_t raw_bytes) {
  for (const auto& t : tensors_) {
    if (t.name == name) return status::invalid_argument("tensor '" + name + "' added twice");
  }
  if (shape.empty() || shape.size() > 4) {
    return status::invalid_argument("tensor '" + name + "': 1 to 4 dimensions required");
  }
  uint64_t elements = 1;
  for (int64_t d : shape) {
    if (d <= 0) return status::invalid_argument("tensor '" + name + "': non-positive dimension");
    elements *= uint64_t(d);
  }
  const auto info = *ggml_type_info_of(uint32_t(type));
  if (shape[0] % info.block_size != 0) {
    return status::invalid_argument("tensor '" + name + "': row length " +
                                    std::to_string(shape[0]) + " is not a multiple of the " +
                                    info.name + " block size " + std::to_string(info.block_size));
  }
  tensor t{name, std::move(shape), type, std::move(rows), raw};
  t.bytes = elements / uint64_t(info.block_size) * uint64_t(info.block_bytes);
  if (raw != nullptr && raw_bytes != t.bytes) {
    return status::invalid_argument("tensor '" + name + "': " + std::to_string(raw_bytes) +
                                    " bytes given, its shape takes " + std::to_string(t.bytes));
  }
  t.offset = data_bytes_;
  data_bytes_ = (t.offset + t.bytes + alignment_ - 1) / alignment_ * alignment_;
  tensors_.push_back(std::move(t));
  return status();
}

status gguf_writer::write(std::ostream& out) const {
  uint64_t pos = 0;
  {
    // The header is small; build it in memory to know its length for padding.
    std::ostringstream header;
    header.write("GGUF", 4);
    put<uint32_t>(header, version_);
    put<uint64_t>(header, tensors_.size());
    put<uint64_t>(header, metadata_.size());
    for (const auto& [key, value] : metadata_) {
      put_string(header, key);
      put_value(header, value);
    }
    for (const auto& t : tensors_) {
      put_string(header, t.name);
      put<uint32_t>(header, uint32_t(t.shape.size()));
      for (int64_t d : t.shape) put<uint64_t>(header, uint64_t(d));
      put<uint32_t>(header, uint32_t(t.type));
      put<uint64_t>(header, t.offset);
    }
    const std::string bytes = header.str();
    out.write(bytes.data(), std::streamsize(bytes.size()));
    pos = bytes.size();
  }
  pad_to(out, pos, alignment_);

  const uint64_t data_start = pos;
  std::vector<float> row;
  std::vector<char> encoded;
  for (const auto& t : tensors_) {
    pad_to(out, pos, alignment_);
    if (pos - data_start != t.offset) return status::io_error("tensor layout mismatch");
    if (t.raw != nullptr) {
      out.write(reinterpret_cast<const char*>(t.raw), std::streamsize(t.bytes));
      pos += t.bytes;
      if (!out) return status::io_error("write failed in tensor '" + t.name + "'");
      continue;
    }
    const int64_t n = t.shape[0];
    int64_t row_count = 1;
    for (size_t d = 1; d < t.shape.size(); ++d) row_count *= t.shape[d];
    const uint64_t row_bytes = t.bytes / uint64_t(row_count);
    row.resize(size_t(n));
    encoded.resize(row_bytes);
    for (int64_t r = 0; r < row_count; ++r) {
      t.rows(r, row.data());
      COROLLA_RETURN_IF_ERROR(quantize_row(t.type, row.data(), n, encoded.data()));
      out.write(encoded.data(), std::streamsize(row_bytes));
    }
    pos += t.bytes;
    if (!out) return status::io_error("write failed in tensor '" + t.name + "'");
  }
  out.flush();
  if (!out) return status::io_error("write failed");
  return status();
}

status gguf_writer::write_file(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::vector<char> buffer(1 << 20);
    std::ofstream out;
    out.rdbuf()->pubsetbuf(buffer.data(), std::streamsize(buffer.size()));
    out.open(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return status::io_error(path + ": can not create " + tmp);
    status st = write(out);
    out.close();
    if (!st.ok() || !out) {
      std::remove(tmp.c_str());
      return status::io_error(path + ": " + (st.ok() ? "write failed" : st.message()));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return status::io_error(path + ": can not rename " + tmp + " into place");
  }
  return status();
}

}  // namespace corolla
