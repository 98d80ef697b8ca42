#include "messages/protocol.hpp"

namespace corolla {

const char* to_string(errc code) {
  switch (code) {
    case errc::protocol_mismatch:
      return "protocol_mismatch";
    case errc::malformed_message:
      return "malformed_message";
    case errc::unknown_session:
      return "unknown_session";
    case errc::over_budget:
      return "over_budget";
    case errc::position_gap:
      return "position_gap";
    case errc::busy:
      return "busy";
    case errc::no_route:
      return "no_route";
    case errc::compute_failed:
      return "compute_failed";
    case errc::draining:
      return "draining";
    case errc::not_allowed:
      return "not_allowed";
  }
  return "unknown_error";
}

errc errc_for(const status& st) {
  switch (st.code()) {
    case status_code::invalid_argument:
    case status_code::corruption:
      return errc::malformed_message;
    case status_code::not_supported:
      return errc::protocol_mismatch;
    case status_code::not_found:
      return errc::unknown_session;
    case status_code::out_of_range:
      return errc::position_gap;
    default:
      return errc::compute_failed;
  }
}

}  // namespace corolla
