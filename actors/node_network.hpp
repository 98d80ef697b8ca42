// node_network: how a Corolla process joins the network — CAF's middleman loaded with
// heartbeats on, the wire guard in front of it (actors/guarded_middleman.hpp: checked
// frames, connection bounds, the swarm key; TLS under it when configured), and its
// routing table published so that peers can connect.
//
// Heartbeats must be on in every process of a swarm (PLATFORM.md: a node with
// heartbeats drops its connection to one without), so every Corolla program that
// talks to a swarm goes through enable_network.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/connection_admission.hpp"
#include "actors/head_transfer.hpp"
#include "actors/node_config.hpp"
#include "actors/wire_guard.hpp"
#include "messages/interfaces.hpp"

namespace corolla {

struct network_options {
  std::chrono::milliseconds heartbeat_interval{100};
  std::chrono::milliseconds connection_timeout{700};  // silence that drops a peer
  // Mutual TLS when all three are set: only peers with a certificate signed by the CA
  // can connect, and this node only connects to such peers.
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_ca;
  bool tls() const { return !tls_certificate.empty(); }
  // A private swarm: only peers that hold the same key get past the guard.
  std::optional<swarm_key> key;
  admission_limits admission;
};

// Call on the config before the actor system is made from it.
void enable_network(node_config& cfg, const network_options& options);

// The middleman actor that connects to peers: the guarded one.
caf::io::middleman_actor network_actor(caf::actor_system& system);

// A routing table for a process on the network: peers reached through network_actor,
// a random choice of gossip partners; `head` is handed to clients without a model.
routing_table_actor spawn_network_table(caf::actor_system& system, const std::string& model_id,
                                        std::chrono::milliseconds gossip_period,
                                        std::chrono::milliseconds record_ttl,
                                        std::chrono::milliseconds peer_timeout,
                                        head_offer head = {});

// Publishes `table` on host:port (port 0: one the system picks); returns the port.
caf::expected<uint16_t> publish_table(caf::actor_system& system, const routing_table_actor& table,
                                      const std::string& host, uint16_t port);

// The routing table published at host:port, through the guard.
caf::expected<routing_table_actor> remote_table(caf::actor_system& system, const std::string& host,
                                                uint16_t port);

}  // namespace corolla
