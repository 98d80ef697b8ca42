#include "apps/sim_command.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "apps/command_line.hpp"
#include "bench/balance_sim.hpp"

namespace po = boost::program_options;

namespace corolla {

int run_sim(const std::vector<std::string>& args, std::ostream& out) {
  balance_sim_options o;
  std::string csv;
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
      "plan-quality", po::value(&o.plan_quality)->default_value(o.plan_quality),
      "plan mode's balance-quality: follow the plan only if it beats now / this")(
      "exact-time-limit-s", po::value(&o.exact_time_limit_s)->default_value(o.exact_time_limit_s),
      "seconds GLPK may take per set of live servers for the exact optimum (0: skip it)")(
      "max-moves-per-hour", po::value(&o.max_moves_per_hour)->default_value(o.max_moves_per_hour),
      "rule 2 moves a server may make in any hour")("csv", po::value(&csv),
                                                    "write every sample to this file");
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla sim", out, vm)) return *done;
  if (o.n_blocks < 2 || o.servers < 1 || o.hours <= 0 || o.mean_lifetime_h <= 0 ||
      o.check_period_s <= 0 || o.balance_quality <= 0 || o.plan_quality <= 0 ||
      o.exact_time_limit_s < 0) {
    std::cerr << "corolla sim: blocks >= 2, servers >= 1, positive hours, lifetime, check "
                 "period and qualities, and a time limit >= 0\n";
    return 2;
  }
  const balance_sim_result r = run_balance_sim(o);
  print_balance_sim(o, r, out);
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
