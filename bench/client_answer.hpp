// client_answer: one answer of a client actor (actors/client.hpp), as the benches ask for
// it — the text streams past, the reply or the error ends it.
#pragma once

#include <chrono>

#include <caf/fwd.hpp>

#include "messages/client.hpp"
#include "model/status.hpp"

namespace corolla {

// `client`'s reply to `req`, asked after the client drops its session's context (reset,
// so that nothing of an earlier answer is reused); the client's error, or a timeout.
result<generate_reply> ask_client(caf::actor_system& system, const caf::actor& client,
                                  const generate_request& req,
                                  std::chrono::seconds timeout = std::chrono::seconds(600));

}  // namespace corolla
