#include "apps/http_face.hpp"

#include <filesystem>

#include "model/model_id.hpp"

namespace corolla {

result<std::unique_ptr<http_gateway>> start_http(caf::actor_system& system,
                                                 const http_settings& settings,
                                                 client_config client,
                                                 const std::string& model_path,
                                                 const generation_options& defaults) {
  gateway_options g;
  g.host = settings.host;
  g.port = settings.port;
  g.api_key = settings.api_key;
  g.max_requests = size_t(settings.max_requests);
  g.kept_sessions = size_t(settings.kept_sessions);
  g.model_name = std::filesystem::path(model_path).stem().string();
  COROLLA_ASSIGN_OR_RETURN(g.model_id, model_fingerprint(model_path));
  g.defaults = defaults;
  g.client = std::move(client);
  return http_gateway::start(system, std::move(g));
}

bool parse_http_address(const std::string& text, http_settings& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const unsigned long value = std::stoul(port);
  if (value > 65535) return false;
  out.host = text.substr(0, colon);
  out.port = uint16_t(value);
  return true;
}

std::string http_banner(const http_gateway& gateway) {
  return "serving the OpenAI API on " + gateway.url() + " (status page /, metrics /metrics)";
}

}  // namespace corolla
