// guarded_middleman: CAF's middleman with the wire guard in front of every connection.
//
// CAF 0.17 lets a middleman actor choose how its connections read and write (its
// openssl module does exactly this to put TLS under BASP). The guarded middleman makes
// every scribe read through a wire_guard (actors/wire_guard.hpp): the swarm key
// handshake, checked BASP frames, whole frames only; accepted connections are admitted
// by connection_admission (per-address and total bounds, a handshake deadline). TLS,
// when configured, sits under the guard, so a certificate holder's bytes are checked
// too. The BASP broker itself is CAF's, unchanged.
//
// It is an actor system module (loaded by enable_network) so the system starts it after
// the middleman and stops it before; CAF 0.17 leaves the module slot `network_manager`
// to libcaf_net, which 0.17 does not ship, and the guard takes that slot.
//
// Invariants:
//  1. Every connection that publish and connect make through network_actor() is
//     guarded; CAF's automatic connections stay off (the 0.17 default), so no other
//     path opens one.
//  2. A connection that fails the guard is closed before CAF sees the offending byte,
//     and one line says why on stderr (at most 10 lines a second, printed by the
//     guard's own thread so that a full stderr pipe never stalls the network).
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/connection_admission.hpp"
#include "actors/wire_guard.hpp"

namespace corolla {

struct guard_settings {
  guard_limits limits;
  admission_limits admission;
  std::optional<swarm_key> key;  // a private swarm
  bool tls = false;              // mutual TLS under the guard (the openssl module's files)
};

// What the guard has refused so far, for logs and tests.
struct guard_counters {
  std::atomic<uint64_t> refused_connections{0};  // bounds at accept
  std::atomic<uint64_t> failed_connections{0};   // a bad frame, key or handshake deadline
  std::atomic<uint64_t> frames{0};               // checked frames passed to CAF
};

class guard_state;

// Loads the guard module into `cfg`; call before the actor system is made from it.
void load_guard(caf::actor_system_config& cfg, guard_settings settings);

// The guarded middleman actor of `system`, or null when the guard was not loaded.
caf::io::middleman_actor guarded_middleman(caf::actor_system& system);

// The guard's counters of `system` (null when the guard was not loaded).
const guard_counters* guard_counters_of(caf::actor_system& system);

}  // namespace corolla
