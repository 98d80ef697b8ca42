// interfaces: the typed actor handles of Corolla's actors. Typed handles make a
// wrong message a compile error here, and make CAF refuse a remote peer whose
// interface differs (PLATFORM.md).
#pragma once

#include <cstdint>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/caf_types.hpp"

namespace corolla {

// A span of blocks with sessions (actors/server.cpp).
using server_actor =
    caf::typed_actor<caf::replies_to<open_session_request>::with<open_session_reply>,
                     caf::replies_to<step_request>::with<step_reply>,
                     caf::replies_to<close_session_request>::with<close_session_reply>,
                     caf::replies_to<info_atom>::with<server_record>>;

// One leg of a route: a server and the blocks [start, end) of its span to run.
struct route_hop {
  server_record server;
  server_actor handle;
  int64_t start_block = 0;
  int64_t end_block = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, route_hop& x) {
  return f(caf::meta::type_name("corolla.route_hop"), x.server, x.handle, x.start_block,
           x.end_block);
}

// Server records and routes (actors/routing_table.cpp).
using routing_table_actor =
    caf::typed_actor<caf::reacts_to<announce_atom, server_record, server_actor>,
                     caf::replies_to<route_request>::with<std::vector<route_hop>>,
                     caf::replies_to<list_atom>::with<std::vector<server_record>>>;

// One generation's route and input caches (actors/client_session.cpp). open_atom
// finds a route and opens it; route_atom describes it (compute/transfer fields zero);
// tick_atom is its own watchdog over the step in flight.
using client_session_actor =
    caf::typed_actor<caf::replies_to<open_atom>::with<std::vector<hop_timing>>,
                     caf::replies_to<session_step>::with<session_step_result>,
                     caf::replies_to<route_atom>::with<std::vector<hop_timing>>,
                     caf::reacts_to<close_atom>, caf::reacts_to<tick_atom>>;

}  // namespace corolla
