#include "apps/plan_command.hpp"

#include <boost/program_options.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>

#include "actors/span_planner.hpp"
#include "apps/command_line.hpp"
#include "model/block_weights.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

constexpr double mib = 1 << 20;

bool parse_number(const std::string& text, double& value) {
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && value >= 0;
}

bool parse_int(const std::string& text, int64_t& value) {
  const auto [stop, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && err == std::errc() && stop == text.data() + text.size() && value >= 0;
}

// "NAME,MEMORY_MIB,THROUGHPUT[,START:END]"
result<plan_node> parse_node(const std::string& spec) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t comma; (comma = spec.find(',', from)) != std::string::npos; from = comma + 1) {
    parts.push_back(spec.substr(from, comma - from));
  }
  parts.push_back(spec.substr(from));
  auto bad = [&](const std::string& why) {
    return status::invalid_argument("--node '" + spec + "': " + why +
                                    " (expected NAME,MEMORY_MIB,THROUGHPUT[,START:END])");
  };
  if (parts.size() < 3 || parts.size() > 4 || parts[0].empty()) return bad("wrong fields");
  plan_node n;
  n.name = parts[0];
  double memory = 0;
  if (!parse_number(parts[1], memory)) return bad("memory is not a number of MiB");
  n.memory_bytes = int64_t(memory * mib);
  if (!parse_number(parts[2], n.throughput)) return bad("throughput is not a number");
  if (parts.size() == 4) {
    const size_t colon = parts[3].find(':');
    if (colon == std::string::npos || !parse_int(parts[3].substr(0, colon), n.start) ||
        !parse_int(parts[3].substr(colon + 1), n.end) || n.end <= n.start) {
      return bad("the current span is not START:END");
    }
  }
  return n;
}

// Blocks and the bytes of the largest block loaded with `weights`, from a GGUF file.
status read_model(const std::string& path, precision weights, int64_t& n_blocks,
                  int64_t& block_bytes) {
  COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(path));
  COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
  n_blocks = config.n_blocks;
  const std::vector<int64_t> bytes = block_resident_bytes(file, config, weights);
  block_bytes = *std::max_element(bytes.begin(), bytes.end());
  return status();
}

}  // namespace

int run_plan(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description opts(
      "corolla plan (--model FILE | --blocks N --block-mib M) --node NAME,MEMORY_MIB,"
      "THROUGHPUT[,START:END] ...\n"
      "THROUGHPUT: block-steps per second on the node (decode steps/s of one block);\n"
      "START:END: the span it serves now (blocks kept in place are counted)");
  std::string model;
  int64_t n_blocks = 0;
  double block_mib = 0;
  std::vector<std::string> specs;
  opts.add_options()("help,h", "show this help")("model", po::value(&model),
                                                 "GGUF file: its blocks and their size")(
      "blocks", po::value(&n_blocks), "blocks of the model (without --model)")(
      "block-mib", po::value(&block_mib), "memory one block takes (without --model)")(
      "node", po::value(&specs)->composing(), "a node (repeatable)");
  std::string weights;
  add_precision_options(opts, weights);
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla plan", out, vm)) return *done;
  const auto kind = precision_from_options(vm, weights, "corolla plan");
  if (!kind) return 2;
  int64_t block_bytes = int64_t(block_mib * mib);
  if (!model.empty()) {
    if (status s = read_model(model, *kind, n_blocks, block_bytes); !s.ok()) {
      std::cerr << "corolla plan: " << s.message() << "\n";
      return 1;
    }
  }
  if (n_blocks <= 0 || block_bytes <= 0 || specs.empty()) {
    std::cerr << "corolla plan: give --model FILE (or --blocks and --block-mib) and at least "
                 "one --node\n";
    return 2;
  }
  std::vector<plan_node> nodes;
  for (const std::string& spec : specs) {
    auto n = parse_node(spec);
    if (!n.ok()) {
      std::cerr << "corolla plan: " << n.error().message() << "\n";
      return 2;
    }
    nodes.push_back(*n);
  }
  auto counts = best_block_counts(nodes, n_blocks, block_bytes);
  if (!counts) {
    std::cerr << "corolla plan: the nodes' memory holds fewer than the model's " << n_blocks
              << " blocks of " << double(block_bytes) / mib << " MiB\n";
    return 1;
  }
  const span_plan plan = place_spans(nodes, *counts, n_blocks, block_bytes);
  const auto proportional = memory_proportional_counts(nodes, n_blocks, block_bytes);
  const double by_memory =
      proportional ? bottleneck_of(nodes, *proportional, n_blocks, block_bytes) : 0;
  char line[256];
  std::snprintf(line, sizeof line, "%lld blocks of %.1f MiB%s%s\n\n",
                static_cast<long long>(n_blocks), double(block_bytes) / mib,
                model.empty() ? "" : " from ", model.c_str());
  out << line << "| node | memory MiB | throughput | serves now | plan | steps/s |\n"
      << "| --- | ---: | ---: | --- | --- | ---: |\n";
  std::vector<std::string> planned(nodes.size(), "-");
  std::vector<double> pace(nodes.size(), 0);
  for (const planned_span& s : plan.spans) {
    planned[s.node] = std::to_string(s.start) + ":" + std::to_string(s.end);
    pace[s.node] = nodes[s.node].throughput / double(s.end - s.start);
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const plan_node& n = nodes[i];
    const std::string now =
        n.end > n.start ? std::to_string(n.start) + ":" + std::to_string(n.end) : "-";
    std::snprintf(line, sizeof line, "| %s | %.0f | %.2f | %s | %s | %.2f |\n", n.name.c_str(),
                  double(n.memory_bytes) / mib, n.throughput, now.c_str(), planned[i].c_str(),
                  pace[i]);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "\nbottleneck: %.2f steps/s; split by memory (as exo and llama.cpp): %.2f "
                "steps/s\nblocks kept in place: %lld of %lld\n\nactor-node spans:\n",
                plan.bottleneck, by_memory, static_cast<long long>(plan.blocks_kept),
                static_cast<long long>(n_blocks));
  out << line;
  for (const planned_span& s : plan.spans) {
    out << "  " << nodes[s.node].name << ": span = " << s.start << ":" << s.end << "\n";
  }
  return 0;
}

}  // namespace corolla
