// local_only: which messages a node takes only from its own actors. An actor handle
// travels in gossip (every server's is in its record), and CAF delivers whatever a peer
// sends to a handle it knows; so the messages that steer a node — drain, move, leave,
// join, announce, flush, the timers — are refused when they come from another node,
// while sessions, steps, gossip, routes, probes and head chunks are what peers are for.
#pragma once

#include <string>

#include <caf/error.hpp>

#include "messages/caf_types.hpp"

namespace corolla {

// Whether the message `self` handles now came from an actor of this node. An anonymous
// message does not count: a peer's routed message without a source actor arrives with
// no sender at all.
template <class Self>
bool from_this_node(Self* self) {
  const auto& sender = self->current_sender();
  return sender && sender->node() == self->node();
}

inline caf::error refused_from_peer(const char* message) {
  return make_error(errc::not_allowed,
                    std::string(message) + " is taken only from this node's own actors");
}

}  // namespace corolla
