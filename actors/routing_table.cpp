// routing_table: one replica of the swarm's server records, and routes over them.
//
// Owns: per server its latest record (highest version wins) and its handle.
// Talks to: servers (announce), client sessions (route requests, listings).
// A server that dies is dropped at once (the table monitors every server it knows),
// so no route is planned through it. Routes are Petals' min_latency (route_planner).
#include "actors/routing_table.hpp"

#include <map>

#include <caf/actor_system.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/route_planner.hpp"

namespace corolla {

struct routing_table_state {
  struct entry {
    server_record record;
    server_actor handle;
  };
  std::map<uint64_t, entry> servers;  // by server id; ordered, so listings are stable
  static inline const char* name = "routing_table";
};

namespace {

using table_pointer = routing_table_actor::stateful_pointer<routing_table_state>;

caf::result<std::vector<route_hop>> find_route(table_pointer self, const route_request& req) {
  std::vector<route_candidate> candidates;
  for (const auto& [id, e] : self->state.servers) {
    const bool excluded =
        std::find(req.excluded.begin(), req.excluded.end(), id) != req.excluded.end();
    if (excluded || e.record.state != uint8_t(serving_state::online)) continue;
    candidates.push_back(route_candidate{id, e.record.start_block, e.record.end_block,
                                         e.record.rtt_ms, e.record.compute_ms_per_block});
  }
  auto planned = plan_min_latency_route(candidates, req.start_block, req.end_block);
  if (!planned) {
    return make_error(errc::no_route, "no chain of online servers covers blocks [" +
                                          std::to_string(req.start_block) + ", " +
                                          std::to_string(req.end_block) + ") (" +
                                          std::to_string(candidates.size()) + " candidates)");
  }
  std::vector<route_hop> hops;
  for (const planned_hop& p : *planned) {
    const auto& e = self->state.servers.at(p.server_id);
    hops.push_back(route_hop{e.record, e.handle, p.start_block, p.end_block});
  }
  return hops;
}

routing_table_actor::behavior_type routing_table_behavior(table_pointer self) {
  self->set_down_handler([self](const caf::down_msg& down) {
    for (auto it = self->state.servers.begin(); it != self->state.servers.end(); ++it) {
      if (it->second.handle.address() == down.source) {
        self->state.servers.erase(it);
        return;
      }
    }
  });
  return {
      [self](announce_atom, server_record& record, server_actor& handle) {
        auto& servers = self->state.servers;
        auto it = servers.find(record.server_id);
        if (it != servers.end() && it->second.record.version >= record.version) return;
        if (it == servers.end()) self->monitor(handle);
        servers[record.server_id] = routing_table_state::entry{std::move(record), handle};
      },
      [self](const route_request& req) { return find_route(self, req); },
      [self](list_atom) {
        std::vector<server_record> records;
        for (const auto& [id, e] : self->state.servers) records.push_back(e.record);
        return records;
      },
  };
}

}  // namespace

routing_table_actor spawn_routing_table(caf::actor_system& system) {
  return system.spawn(routing_table_behavior);
}

}  // namespace corolla
