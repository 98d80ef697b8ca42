#include "actors/node_network.hpp"

#include <random>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include "actors/routing_table.hpp"

namespace corolla {

void enable_network(node_config& cfg, const network_options& options) {
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", caf::timespan(options.heartbeat_interval));
  cfg.set("middleman.connection-timeout", caf::timespan(options.connection_timeout));
  // PLATFORM.md: no middleman worker threads halves loopback round trips on 2 cores.
  cfg.set("middleman.workers", size_t(0));
  if (options.tls()) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = options.tls_certificate;
    cfg.openssl_key = options.tls_key;
    cfg.openssl_cafile = options.tls_ca;
  }
}

caf::io::middleman_actor network_actor(caf::actor_system& system) {
  if (system.has_openssl_manager()) return system.openssl_manager().actor_handle();
  return system.middleman().actor_handle();
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
  if (system.has_openssl_manager()) return caf::openssl::publish(table, port, host.c_str(), true);
  return system.middleman().publish(table, port, host.c_str(), true);
}

}  // namespace corolla
