#include "apps/node_options.hpp"

#include "apps/command_line.hpp"

#include <charconv>
#include <fstream>
#include <map>

#include "actors/routing_table.hpp"
#include "apps/http_face.hpp"

namespace corolla {
namespace po = boost::program_options;

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// The whole of `text` as a decimal integer.
bool parse_int(const std::string& text, int64_t& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end;
}

// Where each key's value came from: "--key" or "file:line".
using origins = std::map<std::string, std::string>;

status bad(const origins& from, const std::string& key, const std::string& problem) {
  auto it = from.find(key);
  const std::string where = it == from.end() ? "" : it->second + ": ";
  return status::invalid_argument(where + key + ": " + problem);
}

// Stores the file's values below the command line's, one line at a time so that a bad
// value names its line.
status read_config_file(const std::string& path, const po::options_description& desc,
                        po::variables_map& vm, origins& from) {
  std::ifstream in(path);
  if (!in) return status::not_found(path + ": can not read the config file");
  std::map<std::string, int> first_line;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      return status::invalid_argument(where + ": expected 'key = value', got '" + line + "'");
    }
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "config") {
      return status::invalid_argument(where + ": config: a config file can not name another");
    }
    const po::option_description* known = desc.find_nothrow(key, false);
    if (known == nullptr) {
      return status::invalid_argument(where + ": unknown key '" + key +
                                      "' (actor-node --help lists the keys)");
    }
    const bool repeatable = known->semantic()->is_composing();
    if (auto [it, fresh] = first_line.emplace(key, number); !fresh && !repeatable) {
      return status::invalid_argument(where + ": " + key + ": given twice (first on line " +
                                      std::to_string(it->second) + ")");
    }
    from.emplace(key, where);  // the command line's origin stays when it set the key
    po::parsed_options one(&desc);
    one.options.emplace_back(key, std::vector<std::string>{value});
    try {
      po::store(one, vm);
    } catch (const po::error& e) {
      return status::invalid_argument(where + ": " + key + ": '" + value + "': " + e.what());
    }
  }
  return status();
}

// Checks what the value types can not; parses span and codec.
status check(node_options& o, const origins& from) {
  if (o.port < 0 || o.port > 65535) {
    return bad(from, "port", std::to_string(o.port) + " is not a port (0..65535)");
  }
  if (o.model.empty()) return bad(from, "model", "required: the GGUF file this node serves");
  o.gateway_only = o.span == "none";
  if (o.span != "auto" && !o.gateway_only) {
    const auto colon = o.span.find(':');
    if (colon == std::string::npos || !parse_int(o.span.substr(0, colon), o.span_start) ||
        !parse_int(o.span.substr(colon + 1), o.span_end)) {
      return bad(from, "span", "'" + o.span + "' is not 'auto', 'none' or START:END");
    }
    if (o.span_start < 0 || o.span_start >= o.span_end) {
      return bad(from, "span", "'" + o.span + "' is empty or negative: need 0 <= START < END");
    }
  }
  if (o.threads < 0 || o.threads > max_threads()) {
    return bad(from, "threads",
               std::to_string(o.threads) + " is outside 0 (every core) .. " +
                   std::to_string(max_threads()) + " (4 per core)");
  }
  if (o.kv_budget_mib < 1) return bad(from, "kv-budget-mib", "must be >= 1");
  if (o.heartbeat_interval_ms < 1) return bad(from, "heartbeat-interval-ms", "must be >= 1");
  if (o.heartbeat_timeout_ms <= o.heartbeat_interval_ms) {
    return bad(from, "heartbeat-timeout-ms",
               std::to_string(o.heartbeat_timeout_ms) + " must exceed heartbeat-interval-ms (" +
                   std::to_string(o.heartbeat_interval_ms) + ")");
  }
  if (o.gossip_period_ms < 1) return bad(from, "gossip-period-ms", "must be >= 1");
  if (o.drain_timeout_ms < 0) return bad(from, "drain-timeout-ms", "must be >= 0");
  if (o.record_ttl_ms <= o.gossip_period_ms) {
    return bad(from, "record-ttl-ms",
               std::to_string(o.record_ttl_ms) + " must exceed gossip-period-ms (" +
                   std::to_string(o.gossip_period_ms) + ")");
  }
  auto codec = parse_tensor_codec(o.codec_name);
  if (!codec.ok()) return bad(from, "codec", codec.error().message());
  o.codec = *codec;
  const int tls = int(!o.tls_cert.empty()) + int(!o.tls_key.empty()) + int(!o.tls_ca.empty());
  if (tls != 0 && tls != 3) {
    const char* missing = o.tls_cert.empty()  ? "tls-cert"
                          : o.tls_key.empty() ? "tls-key"
                                              : "tls-ca";
    return bad(from, missing, "missing: TLS needs tls-cert, tls-key and tls-ca, or none of them");
  }
  if (!o.swarm_key_file.empty()) {
    auto key = load_swarm_key(o.swarm_key_file);
    if (!key.ok()) return bad(from, "swarm-key", key.error().message());
    o.key = *key;
  }
  if (const auto w = weights_from_name(o.weights_name)) {
    o.weights = *w;
  } else {
    return bad(from, "weights", "'" + o.weights_name + "' is not native or int8");
  }
  if (const auto kv = kv_type_from_name(o.kv_type_name)) {
    o.kv = *kv;
  } else {
    return bad(from, "kv-type", "'" + o.kv_type_name + "' is not f16, f32 or q8_0");
  }
  if (o.handshake_timeout_ms < 1) return bad(from, "handshake-timeout-ms", "must be >= 1");
  if (o.max_connections < 1) return bad(from, "max-connections", "must be >= 1");
  if (o.max_pending_per_address < 1) {
    return bad(from, "max-pending-per-address", "must be >= 1");
  }
  if (o.log_level != "error" && o.log_level != "warning" && o.log_level != "info" &&
      o.log_level != "debug") {
    return bad(from, "log-level",
               "'" + o.log_level + "' is not one of error, warning, info, debug");
  }
  if (!o.advertise.empty() && !split_address(o.advertise, o.advertise_host, o.advertise_port)) {
    return bad(from, "advertise", "'" + o.advertise + "' is not HOST:PORT (port 1-65535)");
  }
  if (o.fault_delay_ms < 0) return bad(from, "fault-delay-ms", "must be >= 0");
  if (!(o.fault_block_ms >= 0 && o.fault_block_ms <= 60000)) {
    return bad(from, "fault-block-ms", "must be in [0, 60000]");
  }
  if (o.fault_alter_every < 0) return bad(from, "fault-alter-every", "must be >= 0");
  if (o.checkpoint_every < 0) {
    return bad(from, "checkpoint-every", std::to_string(o.checkpoint_every) + " is negative");
  }
  if (!(o.spot_check >= 0 && o.spot_check <= 1)) {
    return bad(from, "spot-check", std::to_string(o.spot_check) + " is not a fraction (0..1)");
  }
  if (o.host_budget_mib < 0) return bad(from, "host-budget-mib", "must be >= 0");
  if (!(o.fault_drop_fraction >= 0 && o.fault_drop_fraction <= 1)) {
    return bad(from, "fault-drop-fraction",
               std::to_string(o.fault_drop_fraction) + " is not a fraction (0..1)");
  }
  if (o.balance != "auto" && o.balance != "on" && o.balance != "off") {
    return bad(from, "balance", "'" + o.balance + "' is not one of on, off, auto");
  }
  o.balancing = o.balance == "on" || (o.balance == "auto" && o.span == "auto");
  if (o.num_blocks < 0) return bad(from, "num-blocks", "must be >= 0 (0: from memory-mib)");
  if (o.memory_mib < 0) return bad(from, "memory-mib", "must be >= 0 (0: from the machine)");
  if (o.join_delay_ms < 0) return bad(from, "join-delay-ms", "must be >= 0");
  if (o.mean_balance_check_period_ms < 1) {
    return bad(from, "mean-balance-check-period-ms", "must be >= 1");
  }
  if (o.balance_mode != "petals" && o.balance_mode != "plan") {
    return bad(from, "balance-mode", "'" + o.balance_mode + "' is not petals or plan");
  }
  if (!(o.balance_quality > 0 && o.balance_quality <= 1)) {
    return bad(from, "balance-quality",
               std::to_string(o.balance_quality) + " is not in (0, 1]: 1 moves on any gain");
  }
  if (!(o.plan_quality > 0 && o.plan_quality <= 1)) {
    return bad(from, "plan-quality",
               std::to_string(o.plan_quality) + " is not in (0, 1]: 1 moves on any gain");
  }
  if (o.max_moves_per_hour < 0)
    return bad(from, "max-moves-per-hour", "must be >= 0 (0: no limit)");
  if (o.balance_grace_ms < 0) return bad(from, "balance-grace-ms", "must be >= 0");
  if (!(o.network_mbps >= 0)) return bad(from, "network-mbps", "must be >= 0 (0: measured)");
  if (!o.http.empty()) {
    http_settings address;
    if (!parse_http_address(o.http, address)) {
      return bad(from, "http", "'" + o.http + "' is not HOST:PORT (PORT 0: a free one)");
    }
    o.http_host = address.host;
    o.http_port = address.port;
  }
  if (o.gateway_only && o.http.empty()) {
    return bad(from, "span", "none serves no blocks: give http = HOST:PORT for a gateway");
  }
  if (o.gateway_only && o.seeds.empty()) {
    return bad(from, "seed", "span = none needs a seed: a gateway joins a swarm, it starts none");
  }
  if (o.http_max_requests < 1) return bad(from, "http-max-requests", "must be >= 1");
  if (o.http_kept_sessions < 0) return bad(from, "http-kept-sessions", "must be >= 0");
  for (const std::string& seed : o.seeds) {
    std::string host;
    uint16_t port = 0;
    if (!split_address(seed, host, port))
      return bad(from, "seed", "'" + seed + "' is not host:port");
  }
  return status();
}

}  // namespace

po::options_description node_option_descriptions(node_options& o) {
  po::options_description d("actor-node options (each is also a key of the --config file)");
  // clang-format off
  d.add_options()
    ("config", po::value(&o.config), "cluster config file: 'key = value' lines, # comments")
    ("name", po::value(&o.name), "this node's name in the swarm (default: host:port)")
    ("host", po::value(&o.host)->default_value(o.host), "address to listen on and announce")
    ("advertise", po::value(&o.advertise)->default_value(o.advertise),
     "HOST:PORT peers reach this node at, when not host:port (port forwarding, a relay)")
    ("port", po::value(&o.port)->default_value(o.port), "port to listen on; 0 = a free one")
    ("seed", po::value(&o.seeds)->composing(), "host:port of a node to join through (repeatable)")
    ("model", po::value(&o.model), "the GGUF file to serve (required)")
    ("span", po::value(&o.span)->default_value(o.span), "blocks to serve: START:END, or auto")
    ("threads", po::value(&o.threads)->default_value(o.threads), "compute threads; 0 = every core")
    ("kv-budget-mib", po::value(&o.kv_budget_mib)->default_value(o.kv_budget_mib),
     "KV-cache memory for sessions")
    ("heartbeat-interval-ms", po::value(&o.heartbeat_interval_ms)->default_value(
        o.heartbeat_interval_ms), "CAF heartbeat period (must be the same on every node)")
    ("heartbeat-timeout-ms", po::value(&o.heartbeat_timeout_ms)->default_value(
        o.heartbeat_timeout_ms), "a silent peer is down after this long")
    ("gossip-period-ms", po::value(&o.gossip_period_ms)->default_value(o.gossip_period_ms),
     "routing-table gossip period")
    ("record-ttl-ms", po::value(&o.record_ttl_ms)->default_value(o.record_ttl_ms),
     "a server record not refreshed for this long expires")
    ("drain-timeout-ms", po::value(&o.drain_timeout_ms)->default_value(o.drain_timeout_ms),
     "on SIGINT/SIGTERM, how long open sessions may go on before the node leaves")
    ("weights", po::value(&o.weights_name)->default_value(o.weights_name),
     "native: Q4_0 .. Q6_K weights stay at their bits (the rest int8); int8: all int8. "
     "Every node of a swarm must agree (it is part of the model id)")
    ("kv-type", po::value(&o.kv_type_name)->default_value(o.kv_type_name),
     "sessions' KV caches: f16 or f32 (llama.cpp's -ctk/-ctv); part of the model id")
    ("codec", po::value(&o.codec_name)->default_value(o.codec_name),
     "hidden states on the wire: f32, f16 or int8")
    ("tls-cert", po::value(&o.tls_cert), "PEM certificate (with tls-key and tls-ca: mutual TLS)")
    ("tls-key", po::value(&o.tls_key), "PEM private key")
    ("tls-ca", po::value(&o.tls_ca), "PEM CA that signs every node's certificate")
    ("swarm-key", po::value(&o.swarm_key_file),
     "file of a private swarm's key (corolla swarm key makes one): peers without it are "
     "refused before any byte reaches CAF")
    ("handshake-timeout-ms", po::value(&o.handshake_timeout_ms)->default_value(
        o.handshake_timeout_ms), "a connection that has not finished its handshakes by then is closed")
    ("max-connections", po::value(&o.max_connections)->default_value(o.max_connections),
     "connections this node keeps at once")
    ("max-pending-per-address", po::value(&o.max_pending_per_address)->default_value(
        o.max_pending_per_address), "connections from one address that may be handshaking at once")
    ("spot-check", po::value(&o.spot_check)->default_value(o.spot_check),
     "HTTP face: chance per step that a session's outputs are recomputed elsewhere (0..1)")
    ("checkpoint-every", po::value(&o.checkpoint_every)->default_value(o.checkpoint_every),
     "HTTP face: every N tokens a session's standby servers take its route servers' new cache "
     "rows over, so a crash replays only the tokens since (0: off)")
    ("log-level", po::value(&o.log_level)->default_value(o.log_level),
     "error, warning, info or debug")
    ("fault-crash-after-steps", po::value(&o.fault_crash_after_steps)->default_value(
        o.fault_crash_after_steps), "fault injection: the server crashes after N steps (-1: never)")
    ("fault-stall-after-steps", po::value(&o.fault_stall_after_steps)->default_value(
        o.fault_stall_after_steps), "fault injection: the server stops answering after N steps")
    ("fault-delay-ms", po::value(&o.fault_delay_ms)->default_value(o.fault_delay_ms),
     "fault injection: every step's output held back this long")
    ("fault-drop-fraction", po::value(&o.fault_drop_fraction)->default_value(
        o.fault_drop_fraction), "fault injection: this fraction of steps ignored (0..1)")
    ("fault-alter-every", po::value(&o.fault_alter_every)->default_value(o.fault_alter_every),
     "fault injection: every Nth step's output has a value negated (0: never)")
    ("fault-crash-block", po::value(&o.fault_crash_block)->default_value(o.fault_crash_block),
     "fault injection: this block's actor throws (-1: none) ...")
    ("fault-block-crash-after-steps", po::value(&o.fault_block_crash_after_steps)->default_value(
        o.fault_block_crash_after_steps), "... after taking this many steps ...")
    ("fault-block-crashes", po::value(&o.fault_block_crashes)->default_value(
        o.fault_block_crashes), "... in its first this many lives (restarts spawn it again)")
    ("fault-block-ms", po::value(&o.fault_block_ms)->default_value(o.fault_block_ms),
     "every block pass takes at least this long: a slower machine (balancing demos)")
    ("host-budget-mib", po::value(&o.host_budget_mib)->default_value(o.host_budget_mib),
     "weights this node may load for spans other nodes give up (0: none)")
    ("throughput-cache", po::value(&o.throughput_cache)->default_value(o.throughput_cache),
     "file caching one block's measured speed (empty: ~/.cache/corolla/throughput.json; "
     "none: measure at every start)")
    ("balance", po::value(&o.balance)->default_value(o.balance),
     "move the server where the swarm needs it: on, off, or auto (on when span = auto)")
    ("num-blocks", po::value(&o.num_blocks)->default_value(o.num_blocks),
     "blocks a span = auto node serves; 0: as many as memory-mib holds")
    ("memory-mib", po::value(&o.memory_mib)->default_value(o.memory_mib),
     "memory for weights and the KV budget; 0: 90% of what the machine has available")
    ("join-delay-ms", po::value(&o.join_delay_ms)->default_value(o.join_delay_ms),
     "span = auto: wait up to this long (random) before choosing blocks")
    ("mean-balance-check-period-ms", po::value(&o.mean_balance_check_period_ms)->default_value(
         o.mean_balance_check_period_ms), "mean time between balance checks (jittered by +-50%)")
    ("balance-mode", po::value(&o.balance_mode)->default_value(o.balance_mode),
     "petals: Petals' rule 2, each node on its own view; plan: every node computes the "
     "swarm's one plan and carries out its own part")
    ("balance-quality", po::value(&o.balance_quality)->default_value(o.balance_quality),
     "petals mode: move only when the swarm's throughput now / after the move is below this")
    ("plan-quality", po::value(&o.plan_quality)->default_value(o.plan_quality, "0.95"),
     "plan mode: follow the plan only when the swarm's throughput now / the plan's is below "
     "this")
    ("max-moves-per-hour", po::value(&o.max_moves_per_hour)->default_value(o.max_moves_per_hour),
     "moves the server may make within any hour (against thrashing); 0: no limit")
    ("balance-grace-ms", po::value(&o.balance_grace_ms)->default_value(o.balance_grace_ms),
     "a moving server's sessions may finish this long before they are handed over")
    ("network-mbps", po::value(&o.network_mbps)->default_value(o.network_mbps),
     "this node's link in megabits/s; 0: measured against its seed")
    ("http", po::value(&o.http)->default_value(o.http),
     "serve the OpenAI-compatible API, status page and metrics on HOST:PORT; empty: off")
    ("http-api-key", po::value(&o.http_api_key)->default_value(o.http_api_key),
     "require 'Authorization: Bearer KEY' on the API; empty: no key")
    ("http-max-requests", po::value(&o.http_max_requests)->default_value(o.http_max_requests),
     "generations at once; more are answered 503 with Retry-After")
    ("http-kept-sessions", po::value(&o.http_kept_sessions)->default_value(o.http_kept_sessions),
     "finished sessions kept open so a conversation's next turn reuses their caches");
  // clang-format on
  return d;
}

result<node_options> read_node_options(const std::vector<std::string>& args) {
  node_options o;
  const po::options_description desc = node_option_descriptions(o);
  po::variables_map vm;
  origins from;
  try {
    po::parsed_options parsed = po::command_line_parser(args).options(desc).run();
    for (const po::option& opt : parsed.options)
      from.emplace(opt.string_key, "--" + opt.string_key);
    po::store(parsed, vm);
  } catch (const po::error& e) {
    return status::invalid_argument(e.what());
  }
  if (vm.count("config")) {
    COROLLA_RETURN_IF_ERROR(read_config_file(vm["config"].as<std::string>(), desc, vm, from));
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    return status::invalid_argument(e.what());
  }
  COROLLA_RETURN_IF_ERROR(check(o, from));
  return o;
}

fault_injection fault_settings(const node_options& o) {
  fault_injection f;
  f.crash_after_steps = o.fault_crash_after_steps;
  f.stall_after_steps = o.fault_stall_after_steps;
  f.reply_delay = std::chrono::milliseconds(o.fault_delay_ms);
  f.drop_fraction = o.fault_drop_fraction;
  f.alter_every = o.fault_alter_every;
  f.crash_block = o.fault_crash_block;
  f.block_crash_after_steps = o.fault_block_crash_after_steps;
  f.block_crashes = o.fault_block_crashes;
  f.seed = std::hash<std::string>{}(o.name) ^ uint64_t(o.port);
  return f;
}

network_options network_settings(const node_options& o) {
  network_options n;
  n.heartbeat_interval = std::chrono::milliseconds(o.heartbeat_interval_ms);
  n.connection_timeout = std::chrono::milliseconds(o.heartbeat_timeout_ms);
  n.tls_certificate = o.tls_cert;
  n.tls_key = o.tls_key;
  n.tls_ca = o.tls_ca;
  n.key = o.key;
  n.admission.handshake_timeout = std::chrono::milliseconds(o.handshake_timeout_ms);
  n.admission.max_connections = size_t(o.max_connections);
  n.admission.max_pending_per_address = size_t(o.max_pending_per_address);
  return n;
}

}  // namespace corolla
