#include "bench/client_answer.hpp"

#include <string>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/caf_types.hpp"

namespace corolla {

result<generate_reply> ask_client(caf::actor_system& system, const caf::actor& client,
                                  const generate_request& req, std::chrono::seconds timeout) {
  caf::scoped_actor self{system};
  self->send(client, reset_atom::value);
  self->send(client, req);
  result<generate_reply> out =
      status::internal("no answer within " + std::to_string(timeout.count()) + " s");
  bool done = false;
  self->receive_while([&] { return !done; })(
      [](const text_chunk&) {},
      [&](generate_reply& reply) {
        out = std::move(reply);
        done = true;
      },
      [&](caf::error& e) {
        out = status::internal("generation failed: " + describe(e));
        done = true;
      },
      caf::after(timeout) >> [&] { done = true; });
  return out;
}

}  // namespace corolla
