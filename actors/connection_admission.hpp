// connection_admission: which TCP connections a node keeps — bounds on connections per
// peer address and in total, a deadline for a connection to finish its handshakes (the
// swarm key's and BASP's), and the silence after which an established one is dead.
// Plain class: the guarded middleman drives it with the real clock, tests with their own.
//
// Without it a stranger could hold 1000 sockets open forever (CAF 0.17 closes no
// connection that never handshakes) and exhaust the node's file descriptors.
//
// Why silence is judged here and not by CAF: CAF 0.17's own connection timeout starts a
// connection this process opens with "last heard" at the clock's epoch, so it drops any
// such connection whose peer has not answered by the first heartbeat tick (one
// heartbeat interval, 100 ms) — a 300 ms link, or a seed answering 64 joins at once,
// never gets in. enable_network turns CAF's off and gives its timeout to silence_timeout.
//
// Invariants:
//  1. At most max_pending connections in total, and max_pending_per_address from one
//     address, are admitted and not yet established; at most max_connections in all.
//  2. A connection admitted at t and not established by t + handshake_timeout is
//     returned by expired(now) for every now >= that deadline until closed().
//  3. An established connection last heard at h is returned by expired(now) for every
//     now > h + silence_timeout (when that is > 0) until closed() or heard again.
// Thread safety: none; the guarded middleman holds a mutex around every call.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/status.hpp"

namespace corolla {

struct admission_limits {
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds silence_timeout{0};  // 0: established connections never expire
  size_t max_pending = 256;
  size_t max_pending_per_address = 64;
  size_t max_connections = 1024;
};

class connection_admission {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using connection_id = int64_t;

  explicit connection_admission(admission_limits limits) : limits_(limits) {}

  // An accepted connection from `address`: ok, or out_of_range naming the bound it
  // would exceed (the caller closes it at once).
  status admit_inbound(connection_id id, const std::string& address, time_point now);
  // A connection this node opened: under the deadline, never refused.
  void admit_outbound(connection_id id, time_point now);
  // Both handshakes are done: no more deadline, no longer pending.
  void established(connection_id id, time_point now);
  // Bytes came in from the peer.
  void heard(connection_id id, time_point now);
  void closed(connection_id id);

  struct expiry {
    connection_id id = 0;
    bool silent = false;  // established and silent too long; else its handshakes are late
  };
  // Connections past their handshake deadline or their silence timeout.
  std::vector<expiry> expired(time_point now) const;

  size_t pending() const { return pending_; }
  size_t connections() const { return entries_.size(); }
  uint64_t refused() const { return refused_; }

 private:
  struct entry {
    std::string address;  // empty for outbound
    time_point deadline;
    time_point heard;
    bool pending = true;
  };
  // No longer pending: its place among the handshaking ones is free.
  void release(entry& e);

  admission_limits limits_;
  std::map<connection_id, entry> entries_;
  std::map<std::string, size_t> pending_by_address_;
  size_t pending_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace corolla
