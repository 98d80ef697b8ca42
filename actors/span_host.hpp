// span_host: a node's room for more blocks. Asked to host blocks [start, end), it loads
// them (while its weight budget lasts) and serves them from a new server in this
// process, announced in the node's routing table. A server that gives its span up after
// repeated block crashes asks another node's host, through the tables (rehost_atom), so
// that the span is re-hosted before its sessions fail over.
#pragma once

#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

#include "actors/server.hpp"
#include "messages/interfaces.hpp"

namespace corolla {

struct span_host_config {
  std::string model_path;
  int64_t budget_bytes = 0;  // weights it may load for hosted spans, all together
  // What every hosted server starts from (table, executor, address, model id, codec,
  // KV budget, announce period); name, id and model are set per span.
  server_config server;
};

// Spawned detached: loading a span takes its thread for seconds.
span_host_actor spawn_span_host(caf::actor_system& system, span_host_config cfg);

}  // namespace corolla
