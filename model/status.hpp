// status and result<T>: how model/ and everything above it report failure.
//
// Errors are values at module boundaries (LevelDB's Status): a status is either
// ok or carries a code and a message that names what went wrong and where
// ("stories.gguf: tensor 'blk.3.attn_q.weight': data [123, 456) ends past the end
// of the file (400)"). No exceptions cross model/'s API.
//
// Invariants:
//  1. ok() <=> code() == status_code::ok, and then message() is empty.
//  2. result<T> holds exactly one of a value or a non-ok status.
// Thread safety: plain values; distinct objects may be used from distinct threads.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace corolla {

enum class status_code {
  ok = 0,
  invalid_argument,  // the caller asked for something malformed
  corruption,        // a file or message is malformed or truncated
  not_supported,     // well-formed but a type, version or architecture we do not handle
  not_found,         // a named key, tensor or token is absent
  io_error,          // the operating system refused (open, mmap, write)
  out_of_range,      // a position, index or budget outside what exists
  internal,          // a failure inside: out of memory, a kernel error, a stopped thread
};

const char* to_string(status_code code);

class status {
 public:
  status() = default;

  static status ok_status() { return status(); }
  static status invalid_argument(std::string msg) {
    return {status_code::invalid_argument, std::move(msg)};
  }
  static status corruption(std::string msg) { return {status_code::corruption, std::move(msg)}; }
  static status not_supported(std::string msg) {
    return {status_code::not_supported, std::move(msg)};
  }
  static status not_found(std::string msg) { return {status_code::not_found, std::move(msg)}; }
  static status io_error(std::string msg) { return {status_code::io_error, std::move(msg)}; }
  static status out_of_range(std::string msg) {
    return {status_code::out_of_range, std::move(msg)};
  }
  static status internal(std::string msg) { return {status_code::internal, std::move(msg)}; }

  bool ok() const { return code_ == status_code::ok; }
  status_code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corruption: <message>", or "ok".
  std::string to_string() const;

 private:
  status(status_code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  status_code code_ = status_code::ok;
  std::string message_;
};

template <class T>
class result {
 public:
  result(T value) : data_(std::move(value)) {}       // NOLINT: implicit by design
  result(status error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error; an ok status when ok().
  status error() const { return ok() ? status() : std::get<1>(data_); }

 private:
  std::variant<T, status> data_;
};

}  // namespace corolla

// Returns the status of `expr` from the enclosing function when it is not ok.
#define COROLLA_RETURN_IF_ERROR(expr)          \
  do {                                         \
    ::corolla::status corolla_st_ = (expr);    \
    if (!corolla_st_.ok()) return corolla_st_; \
  } while (0)

// Evaluates `expr` (a result<T>); returns its status from the enclosing function when
// it is not ok, else moves its value into `lhs` (`auto x`, or an existing lvalue).
#define COROLLA_ASSIGN_OR_RETURN(lhs, expr) \
  COROLLA_ASSIGN_OR_RETURN_IMPL_(COROLLA_CONCAT_(corolla_result_, __LINE__), lhs, expr)
#define COROLLA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.error();                   \
  lhs = std::move(tmp).value()
#define COROLLA_CONCAT_(a, b) COROLLA_CONCAT_INNER_(a, b)
#define COROLLA_CONCAT_INNER_(a, b) a##b
