// caf_types: how Corolla's messages meet CAF — atoms, the inspect overload that
// carries each message as one cereal byte string, errors as caf::error values.
//
// Every node calls add_corolla_types(cfg) (caf_types.cpp), so every node registers
// the same list under the same names. Decoding a message from a peer never trusts
// it: a truncated or oversized byte string becomes a malformed_message error.
#pragma once

#include <string>
#include <type_traits>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "messages/client.hpp"
#include "messages/protocol.hpp"
#include "messages/session.hpp"
#include "messages/swarm.hpp"
#include "messages/wire.hpp"

namespace corolla {

using close_atom = caf::atom_constant<caf::atom("close")>;
using announce_atom = caf::atom_constant<caf::atom("announce")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using route_atom = caf::atom_constant<caf::atom("route")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using reset_atom = caf::atom_constant<caf::atom("reset")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using gossip_atom = caf::atom_constant<caf::atom("gossip")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
using host_atom = caf::atom_constant<caf::atom("host")>;
using rehost_atom = caf::atom_constant<caf::atom("rehost")>;
using move_atom = caf::atom_constant<caf::atom("move")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using head_atom = caf::atom_constant<caf::atom("head")>;
using observe_atom = caf::atom_constant<caf::atom("observe")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;

// The messages that travel as cereal bytes, with their registered names.
#define COROLLA_WIRE_MESSAGES(X) \
  X(open_session_request)        \
  X(open_session_reply)          \
  X(step_request)                \
  X(step_reply)                  \
  X(hop_output)                  \
  X(close_session_request)       \
  X(close_session_reply)         \
  X(block_step)                  \
  X(block_output)                \
  X(server_record)               \
  X(route_request)               \
  X(gossip_offer)                \
  X(gossip_answer)               \
  X(gossip_records)              \
  X(generate_request)            \
  X(text_chunk)                  \
  X(hop_timing)                  \
  X(generate_reply)              \
  X(session_step)                \
  X(session_step_result)         \
  X(head_chunk)                  \
  X(kv_request)                  \
  X(kv_chunk)                    \
  X(adopt_request)

template <class T>
struct wire_message : std::false_type {};
#define COROLLA_WIRE_MESSAGE_TRAIT(T)                  \
  template <>                                          \
  struct wire_message<T> : std::true_type {            \
    static constexpr const char* name = "corolla." #T; \
  };
COROLLA_WIRE_MESSAGES(COROLLA_WIRE_MESSAGE_TRAIT)
#undef COROLLA_WIRE_MESSAGE_TRAIT

caf::error make_error(errc code, std::string text);
caf::error to_error(const status& st);
// The errc of a Corolla error; compute_failed for CAF's own errors.
errc errc_of(const caf::error& e);
// Whether `e` is one of Corolla's errors (and not CAF's own: a dead or unreachable actor).
bool is_corolla_error(const caf::error& e);
// The text a Corolla error carries ("over_budget: session asks ..."), or CAF's rendering.
std::string describe(const caf::error& e);

// CAF's inspection of a message: one byte string, decoded after it is read.
template <class Inspector, class T>
std::enable_if_t<wire_message<T>::value, typename Inspector::result_type> inspect(Inspector& f,
                                                                                  T& x) {
  if constexpr (Inspector::reads_state) {
    std::string bytes = to_wire(x);
    return f(caf::meta::type_name(wire_message<T>::name), bytes);
  } else {
    std::string bytes;
    auto decode = [&]() -> caf::error {
      status st = from_wire(bytes, x, wire_message<T>::name);
      return st.ok() ? caf::error{} : make_error(errc::malformed_message, st.message());
    };
    return f(caf::meta::type_name(wire_message<T>::name), bytes, caf::meta::load_callback(decode));
  }
}

}  // namespace corolla
