#include "model/gguf_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace corolla {
namespace {

constexpr uint32_t kMaxDims = 4;                             // GGML_MAX_DIMS
constexpr uint64_t kMaxTensorName = 64;                      // GGML_MAX_NAME, terminator included
constexpr int kMaxArrayDepth = 8;                            // nesting deeper than this is hostile
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name len, n_dims, ne0, type, offset

// Smallest encoding of one value of type `t`; 0 for an unknown type.
uint64_t min_encoded_size(uint32_t t) {
  switch (static_cast<gguf_type>(t)) {
    case gguf_type::u8:
    case gguf_type::i8:
    case gguf_type::boolean:
      return 1;
    case gguf_type::u16:
    case gguf_type::i16:
      return 2;
    case gguf_type::u32:
    case gguf_type::i32:
    case gguf_type::f32:
      return 4;
    case gguf_type::u64:
    case gguf_type::i64:
    case gguf_type::f64:
    case gguf_type::string:
      return 8;
    case gguf_type::array:
      return 12;
  }
  return 0;
}

// Bounds-checked little-endian reader over [data, data + size).
class cursor {
 public:
  cursor(const uint8_t* data, uint64_t size, const std::string& file)
      : data_(data), size_(size), file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  status error(const std::string& what, const std::string& problem) const {
    return status::corruption(file_ + ": " + what + " at offset " + std::to_string(pos_) + ": " +
                              problem);
  }

  template <class T>
  status read(T& out, const std::string& what) {
    if (remaining() < sizeof(T)) {
      return error(what, "truncated (need " + std::to_string(sizeof(T)) + " bytes, " +
                             std::to_string(remaining()) + " left)");
    }
    std::memcpy(&out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return status();
  }

  status read_string(std::string& out, const std::string& what) {
    uint64_t length = 0;
    COROLLA_RETURN_IF_ERROR(read(length, what + " length"));
    if (length > remaining()) {
      pos_ -= sizeof length;
      return error(what, "string length " + std::to_string(length) + " exceeds the " +
                             std::to_string(remaining() - sizeof length) +
                             " bytes left in the file");
    }
    out.assign(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return status();
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& file_;
};

status read_value(cursor& in, uint32_t type, int depth, const std::string& what, gguf_value& out);

template <class T>
status read_number(cursor& in, gguf_type type, const std::string& what, gguf_value& out) {
  T v{};
  COROLLA_RETURN_IF_ERROR(in.read(v, what));
  if constexpr (std::is_floating_point_v<T>) {
    out = gguf_value::of_float(type, v);
  } else if constexpr (std::is_signed_v<T>) {
    out = gguf_value::of_int(type, v);
  } else {
    out = gguf_value::of_uint(type, v);
  }
  return status();
}

status read_array(cursor& in, int depth, const std::string& what, gguf_value& out) {
  if (depth >= kMaxArrayDepth) {
    return in.error(what, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
  }
  uint32_t element = 0;
  uint64_t count = 0;
  COROLLA_RETURN_IF_ERROR(in.read(element, what + " element type"));
  const uint64_t min_size = min_encoded_size(element);
  if (min_size == 0) {
    return in.error(what, "unknown array element type " + std::to_string(element));
  }
  COROLLA_RETURN_IF_ERROR(in.read(count, what + " array length"));
  if (count > in.remaining() / min_size) {
    return in.error(what, "array of " + std::to_string(count) + " " + gguf_type_name(element) +
                              " can not fit in the " + std::to_string(in.remaining()) +
                              " bytes left in the file");
  }
  std::vector<gguf_value> items(count);
  for (uint64_t i = 0; i < count; ++i) {
    COROLLA_RETURN_IF_ERROR(
        read_value(in, element, depth + 1, what + "[" + std::to_string(i) + "]", items[i]));
  }
  out = gguf_value::of_array(static_cast<gguf_type>(element), std::move(items));
  return status();
}

status read_value(cursor& in, uint32_t type, int depth, const std::string& what, gguf_value& out) {
  switch (static_cast<gguf_type>(type)) {
    case gguf_type::u8:
      return read_number<uint8_t>(in, gguf_type::u8, what, out);
    case gguf_type::i8:
      return read_number<int8_t>(in, gguf_type::i8, what, out);
    case gguf_type::u16:
      return read_number<uint16_t>(in, gguf_type::u16, what, out);
    case gguf_type::i16:
      return read_number<int16_t>(in, gguf_type::i16, what, out);
    case gguf_type::u32:
      return read_number<uint32_t>(in, gguf_type::u32, what, out);
    case gguf_type::i32:
      return read_number<int32_t>(in, gguf_type::i32, what, out);
    case gguf_type::u64:
      return read_number<uint64_t>(in, gguf_type::u64, what, out);
    case gguf_type::i64:
      return read_number<int64_t>(in, gguf_type::i64, what, out);
    case gguf_type::f32:
      return read_number<float>(in, gguf_type::f32, what, out);
    case gguf_type::f64:
      return read_number<double>(in, gguf_type::f64, what, out);
    case gguf_type::boolean: {
      uint8_t b = 0;
      COROLLA_RETURN_IF_ERROR(in.read(b, what));
      if (b > 1) return in.error(what, "bool byte is " + std::to_string(b) + " (expected 0 or 1)");
      out = gguf_value::of_bool(b != 0);
      return status();
    }
    case gguf_type::string: {
      std::string s;
      COROLLA_RETURN_IF_ERROR(in.read_string(s, what));
      out = gguf_value::of_string(std::move(s));
      return status();
    }
    case gguf_type::array:
      return read_array(in, depth, what, out);
  }
  return in.error(what, "unknown value type " + std::to_string(type));
}

}  // namespace

struct gguf_file::mapping {
  void* address = nullptr;
  size_t length = 0;
  ~mapping() {
    if (address) munmap(address, length);
  }
};

std::string gguf_tensor::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

gguf_file::gguf_file(gguf_file&&) noexcept = default;
gguf_file& gguf_file::operator=(gguf_file&&) noexcept = default;
gguf_file::~gguf_file() = default;

result<gguf_file> gguf_file::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return status::io_error(path + ": can not open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return status::io_error(path + ": can not stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return status::io_error(path + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return status::corruption(path + ": empty file (0 bytes), not a GGUF file");
  }
  void* address = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (address == MAP_FAILED)
    return status::io_error(path + ": can not mmap: " + std::strerror(err));

  gguf_file file;
  file.map_ = std::make_unique<mapping>();
  file.map_->address = address;
  file.map_->length = size_t(st.st_size);
  file.bytes_ = static_cast<const uint8_t*>(address);
  file.size_ = uint64_t(st.st_size);
  file.name_ = path;
  COROLLA_RETURN_IF_ERROR(file.parse_all());
  return file;
}

result<gguf_file> gguf_file::parse(const uint8_t* data, size_t size, std::string name) {
  gguf_file file;
  file.bytes_ = data;
  file.size_ = size;
  file.name_ = std::move(name);
  COROLLA_RETURN_IF_ERROR(file.parse_all());
  return file;
}

status gguf_file::parse_all() {
  cursor in(bytes_, size_, name_);

  char magic[4] = {};
  if (size_ < 4)
    return in.error("magic",
                    "file is " + std::to_string(size_) + " bytes, too short for a GGUF header");
  COROLLA_RETURN_IF_ERROR(in.read(magic, "magic"));
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    std::string shown;
    for (char c : magic) shown += (c >= 32 && c < 127) ? c : '?';
    return status::corruption(name_ + ": not a GGUF file: magic is '" + shown +
                              "' (expected 'GGUF')");
  }
  COROLLA_RETURN_IF_ERROR(in.read(version_, "version"));
  if (version_ == 0x02000000u || version_ == 0x03000000u) {
    return status::not_supported(name_ + ": big-endian GGUF files are not supported");
  }
  if (version_ != 2 && version_ != 3) {
    return status::not_supported(name_ + ": GGUF version " + std::to_string(version_) +
                                 " is not supported (versions 2 and 3 are)");
  }

  uint64_t tensor_count = 0, kv_count = 0;
  COROLLA_RETURN_IF_ERROR(in.read(tensor_count, "tensor count"));
  COROLLA_RETURN_IF_ERROR(in.read(kv_count, "metadata count"));
  if (tensor_count > in.remaining() / kMinTensorInfoBytes) {
    return in.error("tensor count", std::to_string(tensor_count) +
                                        " tensors can not fit in a file of " +
                                        std::to_string(size_) + " bytes");
  }
  if (kv_count > in.remaining() / (8 + 4 + 1)) {
    return in.error("metadata count", std::to_string(kv_count) +
                                          " key/value pairs can not fit in a file of " +
                                          std::to_string(size_) + " bytes");
  }

  std::unordered_set<std::string> keys;
  metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key;
    COROLLA_RETURN_IF_ERROR(in.read_string(key, "metadata key #" + std::to_string(i)));
    const std::string what = "metadata key '" + key + "'";
    if (!keys.insert(key).second) return in.error(what, "duplicate key");
    uint32_t type = 0;
    COROLLA_RETURN_IF_ERROR(in.read(type, what + " type"));
    gguf_value value;
    COROLLA_RETURN_IF_ERROR(read_value(in, type, 0, what, value));
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const gguf_value* a = find("general.alignment")) {
    const auto v = a->as_uint();
    if (!v || *v == 0 || (*v & (*v - 1)) != 0 || *v > (1u << 30)) {
      return status::corruption(name_ + ": metadata key 'general.alignment' is " + a->to_display() +
                                " (expected a power of two)");
    }
    alignment_ = *v;
  }

  std::unordered_set<std::string> names;
  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    gguf_tensor t;
    COROLLA_RETURN_IF_ERROR(in.read_string(t.name, "tensor #" + std::to_string(i) + " name"));
    const std::string what = "tensor '" + t.name + "'";
    if (t.name.size() >= kMaxTensorName) {
      return in.error(what, "name is " + std::to_string(t.name.size()) + " bytes (at most " +
                                std::to_string(kMaxTensorName - 1) + ")");
    }
    if (!names.insert(t.name).second) return in.error(what, "duplicate tensor name");
    uint32_t n_dims = 0;
    COROLLA_RETURN_IF_ERROR(in.read(n_dims, what + " dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return in.error(what, "has " + std::to_string(n_dims) + " dimensions (1 to " +
                                std::to_string(kMaxDims) + " allowed)");
    }
    t.shape.resize(n_dims);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      COROLLA_RETURN_IF_ERROR(in.read(ne, what + " dimension " + std::to_string(d)));
      if (ne == 0 || ne > uint64_t(std::numeric_limits<int64_t>::max()) / elements) {
        return in.error(what, "dimension " + std::to_string(d) + " is " + std::to_string(ne) +
                                  " (must be positive, element count must fit in 63 bits)");
      }
      elements *= ne;
      t.shape[d] = int64_t(ne);
    }
    t.elements = int64_t(elements);
    COROLLA_RETURN_IF_ERROR(in.read(t.type, what + " type"));
    const auto info = ggml_type_info_of(t.type);
    if (!info) {
      return status::not_supported(name_ + ": " + what + " has tensor type " +
                                   std::to_string(t.type) + ", which Corolla does not know");
    }
    if (t.shape[0] % info->block_size != 0) {
      return in.error(what, "row length " + std::to_string(t.shape[0]) +
                                " is not a multiple of the " + info->name + " block size " +
                                std::to_string(info->block_size));
    }
    const uint64_t blocks = elements / uint64_t(info->block_size);
    if (blocks > std::numeric_limits<uint64_t>::max() / uint64_t(info->block_bytes)) {
      return in.error(what, "byte size overflows");
    }
    t.bytes = blocks * uint64_t(info->block_bytes);
    COROLLA_RETURN_IF_ERROR(in.read(t.offset, what + " offset"));
    if (t.offset % alignment_ != 0) {
      return in.error(what, "data offset " + std::to_string(t.offset) +
                                " is not a multiple of the alignment " +
                                std::to_string(alignment_));
    }
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (in.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > size_) {
    return status::corruption(name_ + ": tensor data would start at offset " +
                              std::to_string(data_offset_) + ", past the end of the file (" +
                              std::to_string(size_) + " bytes)");
  }
  const uint64_t data_size = tensors_.empty() ? 0 : size_ - data_offset_;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.bytes > data_size - t.offset) {
      const uint64_t begin = data_offset_ + t.offset;
      return status::corruption(name_ + ": tensor '" + t.name + "' (" + ggml_type_name(t.type) +
                                " " + t.shape_string() + ") data [" + std::to_string(begin) + ", " +
                                std::to_string(begin + t.bytes) +
                                ") ends past the end of the file (" + std::to_string(size_) +
                                " bytes): truncated tensor data");
    }
    t.data = bytes_ + data_offset_ + t.offset;
  }
  return status();
}

const gguf_value* gguf_file::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {

status missing_key(const std::string& file, std::string_view key) {
  return status::not_found(file + ": required metadata key '" + std::string(key) + "' is missing");
}

status wrong_type(const std::string& file, std::string_view key, const gguf_value& v,
                  const char* expected) {
  return status::corruption(file + ": metadata key '" + std::string(key) + "' holds " +
                            gguf_type_name(uint32_t(v.type())) + " " + v.to_display(3) +
                            " (expected " + expected + ")");
}

}  // namespace

result<std::string> gguf_file::get_string(std::string_view key) const {
  const gguf_value* v = find(key);
  if (!v) return missing_key(name_, key);
  if (!v->as_string()) return wrong_type(name_, key, *v, "a string");
  return *v->as_string();
}

result<int64_t> gguf_file::get_int(std::string_view key) const {
  const gguf_value* v = find(key);
  if (!v) return missing_key(name_, key);
  if (auto i = v->as_int()) return *i;
  return wrong_type(name_, key, *v, "an integer");
}

result<double> gguf_file::get_float(std::string_view key) const {
  const gguf_value* v = find(key);
  if (!v) return missing_key(name_, key);
  if (v->is_array() || v->is_string() || v->type() == gguf_type::boolean) {
    return wrong_type(name_, key, *v, "a number");
  }
  return *v->as_float();
}

result<bool> gguf_file::get_bool(std::string_view key) const {
  const gguf_value* v = find(key);
  if (!v) return missing_key(name_, key);
  if (auto b = v->as_bool()) return *b;
  return wrong_type(name_, key, *v, "a bool");
}

result<const std::vector<gguf_value>*> gguf_file::get_array(std::string_view key,
                                                            gguf_type element) const {
  const gguf_value* v = find(key);
  if (!v) return missing_key(name_, key);
  if (!v->is_array()) return wrong_type(name_, key, *v, "an array");
  const gguf_type e = v->element_type();
  const bool integer = e == gguf_type::u8 || e == gguf_type::i8 || e == gguf_type::u16 ||
                       e == gguf_type::i16 || e == gguf_type::u32 || e == gguf_type::i32 ||
                       e == gguf_type::u64 || e == gguf_type::i64;
  const bool numeric = integer || e == gguf_type::f32 || e == gguf_type::f64;
  bool fits = e == element;
  if (element == gguf_type::f32) fits = numeric;
  if (element == gguf_type::i32) fits = integer;
  if (!fits) {
    return wrong_type(name_, key, *v, ("an array of " + gguf_type_name(uint32_t(element))).c_str());
  }
  return &v->items();
}

const gguf_tensor* gguf_file::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void gguf_file::release_pages() const {
  if (map_) madvise(map_->address, map_->length, MADV_DONTNEED);
}

void gguf_file::release_pages(const gguf_tensor& tensor) const {
  if (!map_ || tensor.bytes == 0) return;
  // madvise wants page-aligned starts; pages shared with a neighbour are dropped too,
  // which costs only a re-read from the page cache if the neighbour is used later.
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = uintptr_t(tensor.data) & ~(page - 1);
  const uintptr_t end = uintptr_t(tensor.data) + tensor.bytes;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace corolla
