#include "messages/caf_types.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "messages/interfaces.hpp"
#include "messages/register.hpp"

namespace corolla {
namespace {

const caf::atom_value error_category = caf::atom("corolla");

std::string render_error(uint8_t code, caf::atom_value, const caf::message& context) {
  std::string text = to_string(errc(code));
  if (context.match_elements<std::string>()) text += ": " + context.get_as<std::string>(0);
  return text;
}

}  // namespace

caf::error make_error(errc code, std::string text) {
  return caf::error{uint8_t(code), error_category, caf::make_message(std::move(text))};
}

caf::error to_error(const status& st) {
  return make_error(errc_for(st), st.message());
}

errc errc_of(const caf::error& e) {
  return e.category() == error_category ? errc(e.code()) : errc::compute_failed;
}

bool is_corolla_error(const caf::error& e) {
  return e.category() == error_category;
}

std::string describe(const caf::error& e) {
  if (e.category() == error_category) return render_error(e.code(), e.category(), e.context());
  // CAF's own errors print as tuples ("system_error(cannot_connect_to_node, (...))"); the
  // ones users meet say what happened instead.
  if (e.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(e.code())) {
      case caf::sec::cannot_connect_to_node:
        return "nothing listens there (connection refused): is an actor-node running there?";
      case caf::sec::cannot_open_port:
        return "address already in use, or not an address of this machine";
      case caf::sec::connection_timeout:
        return "the connection timed out";
      case caf::sec::request_timeout:
        return "no answer in time";
      case caf::sec::unexpected_response:
      case caf::sec::unexpected_message:
        return "the peer answered with a message this version does not expect";
      case caf::sec::incompatible_versions:
        return "the peer runs an incompatible CAF version";
      case caf::sec::incompatible_application_ids:
        return "the peer is not a Corolla node";
      default:
        break;
    }
  }
  return caf::to_string(e);
}

void add_corolla_types(caf::actor_system_config& cfg) {
#define COROLLA_REGISTER(T) cfg.add_message_type<T>(wire_message<T>::name);
  COROLLA_WIRE_MESSAGES(COROLLA_REGISTER)
#undef COROLLA_REGISTER
  cfg.add_message_type<route_hop>("corolla.route_hop");
  cfg.add_message_type<push_step>("corolla.push_step");
  cfg.add_message_type<std::vector<route_hop>>("corolla.route");
  cfg.add_message_type<std::vector<server_record>>("corolla.server_records");
  cfg.add_message_type<std::vector<hop_timing>>("corolla.hop_timings");
  cfg.add_message_type<server_actor>("corolla.server_actor");
  cfg.add_message_type<std::vector<server_actor>>("corolla.server_actors");
  cfg.add_message_type<routing_table_actor>("corolla.routing_table_actor");
  cfg.add_message_type<client_session_actor>("corolla.client_session_actor");
  cfg.add_error_category(error_category, render_error);
}

}  // namespace corolla
