#include "apps/sim_command.hpp"

#include <boost/program_options.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/command_line.hpp"
#include "bench/gossip_sim.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

// "1000,10000" as node counts; false when a piece is not a count in 8..20000.
bool parse_counts(const std::string& text, std::vector<int>& out) {
  std::stringstream in(text);
  std::string piece;
  while (std::getline(in, piece, ',')) {
    try {
      size_t used = 0;
      const int n = std::stoi(piece, &used);
      if (used != piece.size() || n < 8 || n > 20000) return false;
      out.push_back(n);
    } catch (const std::exception&) {
      return false;
    }
  }
  return !out.empty();
}

}  // namespace

int run_gossip_sim_command(const std::vector<std::string>& args, std::ostream& out) {
  gossip_sim_options o;
  gossip_settings& s = o.settings;
  std::string nodes = "1000,10000", protocols = "full,delta";
  int64_t period_ms = s.period.count();
  int full_most = 2000;
  po::options_description opts("corolla sim gossip [--nodes N,...] [--protocols full,delta] ...");
  opts.add_options()("help,h", "show this help")("nodes", po::value(&nodes)->default_value(nodes),
                                                 "swarm sizes to simulate, 8..20000 each")(
      "protocols", po::value(&protocols)->default_value(protocols),
      "full (protocol 5: whole tables), delta (protocol 6: entries, rumors, bucket sums)")(
      "full-most", po::value(&full_most)->default_value(full_most),
      "the largest swarm full is simulated at (a join costs it nodes^2 whole tables)")(
      "seed", po::value(&o.seed)->default_value(o.seed), "placement, latencies, peers, events")(
      "period-ms", po::value(&period_ms)->default_value(period_ms), "the gossip period")(
      "fanout", po::value(&s.fanout)->default_value(s.fanout), "peers news goes to at once")(
      "rumor-rounds", po::value(&s.rumor_rounds)->default_value(s.rumor_rounds),
      "periodic rounds an entry is offered in")(
      "anti-entropy-every", po::value(&s.anti_entropy_every)->default_value(s.anti_entropy_every),
      "rounds between bucket-sum comparisons")(
      "buckets", po::value(&s.buckets)->default_value(s.buckets), "bucket sums per comparison")(
      "refresh-budget", po::value(&s.refresh_budget)->default_value(s.refresh_budget),
      "bytes per second per replica the swarm's refreshes may take")(
      "view", po::value(&o.view)->default_value(o.view),
      "connections a delta node opens (heartbeats find deaths)")(
      "events", po::value(&o.joins)->default_value(o.joins), "joins, and as many deaths")(
      "event-spacing", po::value(&o.event_spacing)->default_value(o.event_spacing),
      "gossip periods between events")("uplink-mbits",
                                       po::value(&o.uplink_mbits)->default_value(o.uplink_mbits),
                                       "each node's upload speed")(
      "loss", po::value(&o.loss)->default_value(o.loss), "chance that a gossip message is lost");
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla sim gossip", out, vm)) return *done;
  std::vector<int> counts;
  if (!parse_counts(nodes, counts)) {
    std::cerr << "corolla sim gossip: --nodes " << nodes
              << ": expected counts in 8..20000 separated by commas\n";
    return 2;
  }
  const bool full = protocols.find("full") != std::string::npos;
  const bool delta = protocols.find("delta") != std::string::npos;
  if (protocols != "full" && protocols != "delta" && protocols != "full,delta" &&
      protocols != "delta,full") {
    std::cerr << "corolla sim gossip: --protocols " << protocols
              << ": expected full, delta or full,delta\n";
    return 2;
  }
  if (period_ms < 10 || s.fanout < 0 || s.rumor_rounds < 1 || s.anti_entropy_every < 1 ||
      s.buckets < 1 || s.refresh_budget <= 0 || o.view < 1 || o.joins < 1 || o.event_spacing < 1 ||
      o.uplink_mbits <= 0 || !(o.loss >= 0 && o.loss < 1)) {
    std::cerr << "corolla sim gossip: a period of at least 10 ms, fanout >= 0, at least one "
                 "rumor round, bucket, view link, event and period between events, a positive "
                 "budget and uplink, a loss in [0, 1)\n";
    return 2;
  }
  s.period = std::chrono::milliseconds(period_ms);
  std::vector<gossip_sim_result> runs;
  std::vector<int> skipped;
  for (int n : counts) {
    o.nodes = n;
    if (full && n <= full_most) {
      o.protocol = gossip_protocol::full;
      runs.push_back(run_gossip_sim(o));
    } else if (full) {
      skipped.push_back(n);
    }
    if (delta) {
      o.protocol = gossip_protocol::delta;
      runs.push_back(run_gossip_sim(o));
    }
  }
  out << "routing-table replicas over a simulated internet (six regions, one-way 5-160 ms, "
      << o.uplink_mbits << " Mbit/s uplinks), gossip period " << period_ms << " ms; " << o.joins
      << " joins and " << o.joins << " deaths, " << o.event_spacing
      << " periods apart, after a warm-up of " << o.warmup_periods << " periods\n\n";
  print_gossip_sim(runs, out);
  for (int n : skipped) {
    // Each period a replica takes part in two push-pulls on average (its own and one that
    // chose it): two whole tables in.
    const double mib_per_s =
        2.0 * n * gossip_record_bytes() / (double(period_ms) / 1000.0) / (1 << 20);
    out << "full, " << n << " nodes: not simulated (above --full-most): its digest lists at most "
        << max_servers << " records, and at " << n << " nodes every replica would receive about "
        << std::fixed << std::setprecision(1) << mib_per_s
        << " MiB/s of whole tables between joins, and each join would push the whole table "
        << "from every replica to every other\n";
  }
  return 0;
}

}  // namespace corolla
