#include "model/status.hpp"

namespace corolla {

const char* to_string(status_code code) {
  switch (code) {
    case status_code::ok:
      return "ok";
    case status_code::invalid_argument:
      return "invalid argument";
    case status_code::corruption:
      return "corruption";
    case status_code::not_supported:
      return "not supported";
    case status_code::not_found:
      return "not found";
    case status_code::io_error:
      return "io error";
    case status_code::out_of_range:
      return "out of range";
    case status_code::internal:
      return "internal";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (ok()) return "ok";
  return std::string(corolla::to_string(code_)) + ": " + message_;
}

}  // namespace corolla
