// protocol: the version peers compare when they first talk, and the error codes
// Corolla's actors reply with.
//
// The version rises whenever a message's wire layout or meaning changes; a peer
// with another version is refused at open_session (and, across nodes, at join) with
// an error naming both versions. No CAF: caf_types.hpp maps errc to caf::error.
#pragma once

#include <cstdint>

#include "model/status.hpp"

namespace corolla {

constexpr uint32_t protocol_version = 6;

enum class errc : uint8_t {
  protocol_mismatch = 1,  // the peer speaks another protocol version
  malformed_message,      // a field out of range, a bad codec tag, a wrong shape
  unknown_session,        // a step or close for a session the server does not hold
  over_budget,            // the KV-cache budget can not hold what the session asks for
  position_gap,           // a step at pos > cache length
  busy,                   // a step while the same session's previous one runs
  no_route,               // no chain of servers covers the blocks
  compute_failed,         // a block could not run the step
  draining,               // the server is leaving: it takes no new sessions
  not_allowed,            // a node's own control message (drain, move, join ...) from a peer
};

const char* to_string(errc code);

// The errc a status from model/ or messages/ stands for.
errc errc_for(const status& st);

}  // namespace corolla
