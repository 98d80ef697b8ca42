// node_options: what an actor-node is told to be — from a cluster config file of
// `key = value` lines (# starts a comment) and from the command line, which wins.
//
// Every key of the file is a long flag of the command line and the other way round
// (node_option_descriptions lists them with their documentation). An unknown key or a
// bad value is an error naming the key and where it was given: "node1.conf:7: port:
// 'x' is not a port (0..65535)", or "--port: ..." for the command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "actors/node_network.hpp"
#include "actors/server.hpp"
#include "messages/tensor_codec.hpp"
#include "model/status.hpp"

namespace corolla {

struct node_options {
  std::string config;  // the file read, if any
  std::string name;
  std::string host = "127.0.0.1";
  int64_t port = 0;            // 0: any free port
  std::string advertise;       // HOST:PORT the records announce; "": host:port
  std::string advertise_host;  // from advertise
  uint16_t advertise_port = 0;
  std::vector<std::string> seeds;  // host:port of nodes to join through
  std::string model;
  std::string span = "auto";  // "auto", "START:END" (blocks [START, END)) or "none" (a gateway)
  int64_t span_start = -1, span_end = -1;  // from span; -1 for auto
  int64_t threads = 0;                     // 0: every core
  int64_t kv_budget_mib = 1024;
  int64_t heartbeat_interval_ms = 100;
  int64_t heartbeat_timeout_ms = 700;
  int64_t gossip_period_ms = 500;
  int64_t record_ttl_ms = 5000;
  int64_t drain_timeout_ms = 30000;  // open sessions may finish this long at shutdown
  std::string weights_name = "native";
  precision weights = precision::native;  // from weights_name
  std::string kv_type_name = "f16";
  kv_type kv = kv_type::f16;  // from kv_type_name
  std::string codec_name = "f16";
  tensor_codec codec = tensor_codec::f16;
  std::string tls_cert, tls_key, tls_ca;  // all three, or none (plain TCP)
  std::string swarm_key_file;             // "": an open swarm
  std::optional<swarm_key> key;           // read from swarm_key_file
  int64_t handshake_timeout_ms = 5000;    // a connection's handshakes must end by then
  int64_t max_connections = 1024;
  int64_t max_pending_per_address = 64;  // connections from one address still handshaking
  std::string log_level = "info";
  double spot_check = 0;         // the HTTP face's sessions (client_config::spot_checks)
  int64_t checkpoint_every = 0;  // the HTTP face's sessions (client_config::checkpoint_every)
  // Fault injection (server_config's fault_injection), for trying a swarm's failover.
  int64_t fault_crash_after_steps = -1;  // -1: never
  int64_t fault_stall_after_steps = -1;
  int64_t fault_delay_ms = 0;
  double fault_drop_fraction = 0;
  int64_t fault_alter_every = 0;              // every Nth output altered (a liar, for spot checks)
  int64_t fault_crash_block = -1;             // this block's actor throws after ...
  int64_t fault_block_crash_after_steps = 0;  // ... this many steps, in its first
  int64_t fault_block_crashes = 1;            // ... this many lives
  double fault_block_ms = 0;     // every block pass takes at least this long (a slower machine)
  int64_t host_budget_mib = 0;   // weights it may load for spans other nodes give up
  std::string throughput_cache;  // "": the default path; "none": measure at every start
  // Balancing (actors/balancer.hpp).
  std::string balance = "auto";  // on, off, or auto: on when the span is auto
  bool balancing = false;        // from balance and span
  int64_t num_blocks = 0;        // blocks a span = auto node serves; 0: what memory-mib holds
  int64_t memory_mib = 0;        // weights plus KV budget; 0: 90% of the available memory
  int64_t join_delay_ms = 1000;  // rule 1 waits up to this long (random) before choosing
  int64_t mean_balance_check_period_ms = 60000;
  std::string balance_mode = "petals";  // petals (rule 2) or plan (actors/balance_plan.hpp)
  double balance_quality = 0.75;
  double plan_quality = 0.95;       // balance-mode = plan's balance_quality
  int64_t max_moves_per_hour = 2;   // per server, in any hour; 0: no limit
  int64_t balance_grace_ms = 5000;  // a moving server's sessions may finish this long
  double network_mbps = 0;          // the node's link; 0: measured against its seed
  // The HTTP face (http/gateway.hpp): "" off, else HOST:PORT (PORT 0: a free one).
  std::string http;
  std::string http_host;  // from http
  uint16_t http_port = 0;
  std::string http_api_key;        // "": none
  int64_t http_max_requests = 16;  // generations at once; more get 503
  int64_t http_kept_sessions = 8;  // finished sessions kept for the next turn
  bool gateway_only = false;       // span = none: no blocks, a client of the swarm
};

// The options, bound to `o`: what --help prints and what a config file may set.
boost::program_options::options_description node_option_descriptions(node_options& o);

// Parses the command line and then the config file it names with --config (the command
// line wins), and checks the values. Errors: invalid_argument naming the key and the
// file and line (or the flag); not_found when the config file can not be read.
result<node_options> read_node_options(const std::vector<std::string>& args);

// The faults `o` asks the node's server to have.
fault_injection fault_settings(const node_options& o);

// The heartbeat, TLS, swarm key and connection settings of `o`, for enable_network.
network_options network_settings(const node_options& o);

}  // namespace corolla
