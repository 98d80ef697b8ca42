#include "apps/sim_command.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>

#include "apps/command_line.hpp"
#include "bench/balance_sim.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

// A scenario file (JSON): the swarm's servers and the run's settings, e.g.
//   {"blocks": 32, "hours": 6, "check_period_s": 60, "mean_lifetime_h": 3, "churn": true,
//    "servers": [{"name": "a100", "throughput": 8, "blocks": 16, "join_s": 0},
//                {"name": "laptop", "throughput": 1, "blocks": 4, "join_s": 600,
//                 "leave_s": 4000, "count": 3}]}
// Only "servers" is required. Errors name the file and the key.
std::optional<std::string> read_scenario(const std::string& path, balance_sim_options& o,
                                         const po::variables_map& vm, balance_scenario& out) {
  std::ifstream in(path);
  if (!in) return path + ": can not open";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return path + ": not JSON (" + e.what() + ")";
  }
  if (!j.is_object()) return path + ": expected an object with \"servers\"";
  auto number = [&](const nlohmann::json& v, const std::string& key, double low,
                    double& to) -> std::optional<std::string> {
    if (!v.is_number()) return path + ": " + key + ": expected a number";
    to = v.get<double>();
    if (!(to >= low))
      return path + ": " + key + ": " + v.dump() + " is below " + std::to_string(low);
    return std::nullopt;
  };
  // Flags given on the command line win over the file.
  auto setting = [&](const char* key, const char* flag, auto& field,
                     double low) -> std::optional<std::string> {
    if (!j.contains(key) || !vm[flag].defaulted()) return std::nullopt;
    double v = 0;
    if (auto e = number(j[key], key, low, v)) return e;
    field = static_cast<std::decay_t<decltype(field)>>(v);
    return std::nullopt;
  };
  for (const auto& [key, value] : j.items()) {
    static const char* known[] = {"blocks",          "hours", "check_period_s",
                                  "mean_lifetime_h", "churn", "servers"};
    if (std::find(std::begin(known), std::end(known), key) == std::end(known)) {
      return path + ": unknown key '" + key + "'";
    }
  }
  if (auto e = setting("blocks", "blocks", o.n_blocks, 2)) return e;
  if (auto e = setting("hours", "hours", o.hours, 1e-3)) return e;
  if (auto e = setting("check_period_s", "check-period-s", o.check_period_s, 1e-3)) return e;
  if (auto e = setting("mean_lifetime_h", "lifetime-h", o.mean_lifetime_h, 1e-3)) return e;
  if (j.contains("churn")) {
    if (!j["churn"].is_boolean()) return path + ": churn: expected true or false";
    out.churn = j["churn"].get<bool>();
  }
  if (!j.contains("servers") || !j["servers"].is_array() || j["servers"].empty()) {
    return path + ": servers: expected a non-empty array";
  }
  constexpr size_t kMostServers = 10000;
  for (size_t i = 0; i < j["servers"].size(); ++i) {
    const nlohmann::json& s = j["servers"][i];
    const std::string at = "servers[" + std::to_string(i) + "]";
    if (!s.is_object()) return path + ": " + at + ": expected an object";
    scenario_server server;
    server.name = at;
    double count = 1, blocks = 0;
    for (const auto& [key, value] : s.items()) {
      std::optional<std::string> e;
      if (key == "name") {
        if (!value.is_string()) return path + ": " + at + ".name: expected a string";
        server.name = value.get<std::string>();
      } else if (key == "throughput") {
        e = number(value, at + ".throughput", 1e-9, server.throughput);
      } else if (key == "blocks") {
        e = number(value, at + ".blocks", 1, blocks);
      } else if (key == "join_s") {
        e = number(value, at + ".join_s", 0, server.join_s);
      } else if (key == "leave_s") {
        e = number(value, at + ".leave_s", 0, server.leave_s);
      } else if (key == "count") {
        e = number(value, at + ".count", 1, count);
      } else {
        return path + ": " + at + ": unknown key '" + key + "'";
      }
      if (e) return e;
    }
    if (!s.contains("throughput") || !s.contains("blocks")) {
      return path + ": " + at + ": throughput and blocks are required";
    }
    server.blocks = int64_t(blocks);
    if (double(server.blocks) != blocks || server.blocks > o.n_blocks) {
      return path + ": " + at + ".blocks: " + s["blocks"].dump() + " is not a whole number of " +
             "blocks in 1.." + std::to_string(o.n_blocks);
    }
    if (s.contains("leave_s") && server.leave_s <= server.join_s) {
      return path + ": " + at + ".leave_s: not after join_s";
    }
    if (count != std::floor(count) || out.servers.size() + size_t(count) > kMostServers) {
      return path + ": " + at + ".count: a whole number, at most " + std::to_string(kMostServers) +
             " servers in all";
    }
    for (int64_t k = 0; k < int64_t(count); ++k) out.servers.push_back(server);
  }
  return std::nullopt;
}

}  // namespace

int run_sim(const std::vector<std::string>& args, std::ostream& out) {
  if (!args.empty() && args[0] == "gossip") {
    return run_gossip_sim_command({args.begin() + 1, args.end()}, out);
  }
  balance_sim_options o;
  std::string csv, scenario_path;
  po::options_description opts("corolla sim [--seed N] [--hours H] [--csv FILE] ...");
  opts.add_options()("help,h", "show this help")("seed", po::value(&o.seed)->default_value(o.seed),
                                                 "the swarm's and the balancers' seed")(
      "blocks", po::value(&o.n_blocks)->default_value(o.n_blocks), "blocks of the model")(
      "servers", po::value(&o.servers)->default_value(o.servers),
      "servers joining over the first hour (each one that leaves is replaced)")(
      "hours", po::value(&o.hours)->default_value(o.hours), "simulated hours")(
      "lifetime-h", po::value(&o.mean_lifetime_h)->default_value(o.mean_lifetime_h),
      "mean time a server stays")("check-period-s",
                                  po::value(&o.check_period_s)->default_value(o.check_period_s),
                                  "mean balance check period (mean_balance_check_period)")(
      "balance-quality", po::value(&o.balance_quality)->default_value(o.balance_quality),
      "petals mode: move only if the swarm would get faster than now / this")(
      "plan-quality", po::value(&o.plan_quality)->default_value(o.plan_quality, "0.95"),
      "plan mode's balance-quality: follow the plan only if it beats now / this")(
      "plan-checks-per-period",
      po::value(&o.plan_checks_per_period)->default_value(o.plan_checks_per_period),
      "plan mode checks this many times per check period")(
      "exact-time-limit-s", po::value(&o.exact_time_limit_s)->default_value(o.exact_time_limit_s),
      "seconds GLPK may take per set of live servers for the exact optimum (0: skip it)")(
      "max-moves-per-hour", po::value(&o.max_moves_per_hour)->default_value(o.max_moves_per_hour),
      "rule 2 moves a server may make in any hour")("csv", po::value(&csv),
                                                    "write every sample to this file")(
      "scenario", po::value(&scenario_path),
      "replay this swarm (JSON: servers' throughput, blocks, join and leave times; churn) "
      "instead of the built-in one");
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla sim", out, vm)) return *done;
  if (o.n_blocks < 2 || o.servers < 1 || o.hours <= 0 || o.mean_lifetime_h <= 0 ||
      o.check_period_s <= 0 || o.balance_quality <= 0 || o.plan_quality <= 0 ||
      o.exact_time_limit_s < 0) {
    std::cerr << "corolla sim: blocks >= 2, servers >= 1, positive hours, lifetime, check "
                 "period and qualities, and a time limit >= 0\n";
    return 2;
  }
  balance_scenario scenario;
  if (!scenario_path.empty()) {
    if (auto e = read_scenario(scenario_path, o, vm, scenario)) {
      std::cerr << "corolla sim: " << *e << "\n";
      return 2;
    }
  }
  const balance_scenario* replay = scenario_path.empty() ? nullptr : &scenario;
  const balance_sim_result r = run_balance_sim(o, replay);
  print_balance_sim(o, r, out, replay);
  if (!csv.empty()) {
    std::ofstream file(csv);
    write_balance_csv(r, file);
    if (!file) {
      std::cerr << "corolla sim: can not write " << csv << "\n";
      return 1;
    }
    out << "samples written to " << csv << "\n";
  }
  return 0;
}

}  // namespace corolla
