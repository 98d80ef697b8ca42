#include "actors/node_network.hpp"

#include <random>

#include <caf/actor_system.hpp>
#include <caf/function_view.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/guarded_middleman.hpp"
#include "actors/routing_table.hpp"
#include "messages/caf_types.hpp"

namespace corolla {
namespace {

caf::error not_enabled() {
  return make_error(errc::no_route, "the network is off: call enable_network on the config");
}

}  // namespace

void enable_network(node_config& cfg, const network_options& options) {
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", caf::timespan(options.heartbeat_interval));
  // Off: CAF 0.17 drops an outgoing connection not answered within a heartbeat interval
  // (connection_admission.hpp); the guard judges silence instead.
  cfg.set("middleman.connection-timeout", caf::timespan(0));
  // PLATFORM.md: no middleman worker threads halves loopback round trips on 2 cores.
  cfg.set("middleman.workers", size_t(0));
  // The openssl module only for its TLS context; connections go through the guard.
  if (options.tls()) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = options.tls_certificate;
    cfg.openssl_key = options.tls_key;
    cfg.openssl_cafile = options.tls_ca;
  }
  guard_settings guard;
  guard.key = options.key;
  guard.tls = options.tls();
  guard.admission = options.admission;
  guard.admission.silence_timeout = options.connection_timeout;
  load_guard(cfg, guard);
}

caf::io::middleman_actor network_actor(caf::actor_system& system) {
  return guarded_middleman(system);
}

routing_table_actor spawn_network_table(caf::actor_system& system, const std::string& model_id,
                                        std::chrono::milliseconds gossip_period,
                                        std::chrono::milliseconds record_ttl,
                                        std::chrono::milliseconds peer_timeout, head_offer head) {
  routing_table_config cfg;
  cfg.head = std::move(head);
  cfg.model_id = model_id;
  cfg.network = network_actor(system);
  cfg.gossip_period = gossip_period;
  cfg.record_ttl = record_ttl;
  cfg.peer_timeout = peer_timeout;
  cfg.seed = std::random_device{}();
  return spawn_routing_table(system, cfg);
}

caf::expected<uint16_t> publish_table(caf::actor_system& system, const routing_table_actor& table,
                                      const std::string& host, uint16_t port) {
  auto network = network_actor(system);
  if (!network) return not_enabled();
  auto publish = caf::make_function_view(network);
  return publish(caf::publish_atom::value, port, caf::actor_cast<caf::strong_actor_ptr>(table),
                 system.message_types(table), host, true);
}

caf::expected<routing_table_actor> remote_table(caf::actor_system& system, const std::string& host,
                                                uint16_t port) {
  auto network = network_actor(system);
  if (!network) return not_enabled();
  auto connect = caf::make_function_view(network);
  auto found = connect(caf::connect_atom::value, host, port);
  if (!found) return std::move(found.error());
  auto& [node, actor, interface] = *found;
  (void)node;
  if (!actor) return caf::make_error(caf::sec::no_actor_published_at_port);
  if (!system.assignable(interface, system.message_types<routing_table_actor>())) {
    return caf::make_error(caf::sec::unexpected_actor_messaging_interface);
  }
  return caf::actor_cast<routing_table_actor>(std::move(actor));
}

}  // namespace corolla
