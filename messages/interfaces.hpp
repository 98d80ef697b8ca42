// interfaces: the typed actor handles of Corolla's actors. Typed handles make a
// wrong message a compile error here, and make CAF refuse a remote peer whose
// interface differs (PLATFORM.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/caf_types.hpp"

namespace corolla {

// Push mode: a step on its way along a route. The server runs `step`, sends its output
// on to chain.front() (with the rest of the chain) and a hop_output to reply_to. The
// handles are untyped because the server's own interface names this type; they are
// server_actor and client_session_actor handles.
struct push_step {
  step_request step;
  uint32_t hop = 0;               // the receiving server's place in the route
  int64_t sent_ns = 0;            // steady clock at the send (hop_output::inbound_us)
  std::vector<caf::actor> chain;  // the servers after this one, in route order
  caf::actor reply_to;
};

// push_step::sent_ns's clock: the machine's monotonic clock, shared by its processes.
inline int64_t push_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, push_step& x) {
  return f(caf::meta::type_name("corolla.push_step"), x.step, x.hop, x.sent_ns, x.chain,
           x.reply_to);
}

// A span of blocks with sessions (actors/server.cpp). drain_atom: take no new sessions
// (and tell the sessions' clients to move them off); move_atom: drain, announcing the span
// the node is moving to; leave_atom: announce going offline; tick_atom: its own timer
// re-announcing its record (with a ticket: a step output held back by fault injection, now
// due); kv_request: rows of a session's caches, for the server taking it over; adopt_atom
// with an adopt_request and a server (untyped, as in push_step): take the session's
// caches over from that server, answering the rows taken.
using server_actor =
    caf::typed_actor<caf::replies_to<open_session_request>::with<open_session_reply>,
                     caf::replies_to<step_request>::with<step_reply>,
                     caf::replies_to<close_session_request>::with<close_session_reply>,
                     caf::replies_to<info_atom>::with<server_record>,
                     caf::replies_to<drain_atom>::with<server_record>,
                     caf::replies_to<move_atom, int64_t, int64_t>::with<server_record>,
                     caf::replies_to<leave_atom>::with<server_record>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<tick_atom, uint64_t>, caf::reacts_to<push_step>,
                     caf::replies_to<kv_request>::with<kv_chunk>,
                     caf::replies_to<adopt_atom, adopt_request, caf::actor>::with<int64_t>>;

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

// A node's room for more blocks (actors/span_host.cpp): host_atom loads blocks
// [start, end) and serves them from a new server on this node; its record is the reply.
using span_host_actor =
    caf::typed_actor<caf::replies_to<host_atom, int64_t, int64_t>::with<server_record>>;

// A node's balancer (actors/balancer.cpp), which owns the node's server and moves it.
// info_atom: the server it runs now; drain_atom: balancing stops and the server drains;
// tick_atom: its timer for the next balance check; move_atom: its timer while a move
// waits for sessions to finish; watch_atom: its timer to look for blocks nobody serves.
using balancer_actor =
    caf::typed_actor<caf::replies_to<info_atom>::with<server_actor>,
                     caf::replies_to<drain_atom>::with<server_record>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<move_atom>, caf::reacts_to<watch_atom>>;

// Server records and routes (actors/routing_table.cpp). gossip_atom with an offer: the
// answer (wants, rumors, listed buckets); with records and their servers' handles (in the
// same order): the records the sender wanted back, with theirs; join_atom: connect
// to a seed's table and gossip with it; flush_atom: push to every connected peer now;
// tick_atom: its own gossip timer. host_atom with a span_host_actor: this node's host;
// with a span: asks it to host the span (refused without one); probe_atom with a payload:
// answers its size; with a size: measures the link to a peer with a payload of that many
// bytes (bytes per second; refused without a peer); rehost_atom: asks the
// connected peers' nodes, one after another, until one hosts the span; head_atom with an
// offset and a length: a piece of the node's head file (refused by a node without one).
using routing_table_actor =
    caf::typed_actor<caf::reacts_to<announce_atom, server_record, server_actor>,
                     caf::replies_to<route_request>::with<std::vector<route_hop>>,
                     caf::replies_to<list_atom>::with<std::vector<server_record>>,
                     caf::replies_to<gossip_atom, gossip_offer>::with<gossip_answer>,
                     caf::replies_to<gossip_atom, gossip_records, std::vector<server_actor>>::with<
                         gossip_records, std::vector<server_actor>>,
                     caf::replies_to<join_atom, std::string>::with<uint64_t>,
                     caf::replies_to<flush_atom>::with<uint64_t>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<host_atom, span_host_actor>,
                     caf::replies_to<host_atom, int64_t, int64_t>::with<server_record>,
                     caf::replies_to<rehost_atom, int64_t, int64_t>::with<server_record>,
                     caf::replies_to<probe_atom, std::string>::with<uint64_t>,
                     caf::replies_to<probe_atom, uint64_t>::with<double>,
                     caf::replies_to<head_atom, uint64_t, uint64_t>::with<head_chunk>,
                     caf::reacts_to<observe_atom, uint64_t, double, int64_t>>;

// One generation's route and input caches (actors/client_session.cpp). open_atom
// finds a route and opens it; route_atom describes it (compute/transfer fields zero);
// tick_atom is its own watchdog over the step in flight; recover_atom its timer for the
// next failover attempt; drain_atom with a server id: that server of the route is
// leaving (sent by the server itself), so the session moves off it.
using client_session_actor =
    caf::typed_actor<caf::replies_to<open_atom>::with<std::vector<hop_timing>>,
                     caf::replies_to<session_step>::with<session_step_result>,
                     caf::replies_to<route_atom>::with<std::vector<hop_timing>>,
                     caf::reacts_to<close_atom>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<recover_atom>, caf::reacts_to<hop_output>,
                     caf::reacts_to<drain_atom, uint64_t>>;

}  // namespace corolla
