// corolla: the project's tool. Subcommands are listed in ../shared/DESIGN.md
// (Commands); each lives in its own file and returns the exit code.
#include <iostream>
#include <string>
#include <vector>

#include "apps/bench_command.hpp"
#include "apps/command_line.hpp"
#include "apps/generate_command.hpp"
#include "apps/gguf_commands.hpp"
#include "apps/openmp_spin.hpp"
#include "apps/plan_command.hpp"
#include "apps/quality_commands.hpp"
#include "apps/sim_command.hpp"
#include "apps/swarm_commands.hpp"

namespace {

const char kUsage[] =
    "usage: corolla <command> [args]\n"
    "  gguf info FILE                      a GGUF's architecture, hyper-parameters, tensors\n"
    "  gguf make (--preset NAME | --dim N ...) [--arch NAME] --type TYPE --seed N -o FILE\n"
    "                                      write a random GGUF of a family (the model maker)\n"
    "  gguf head MODEL -o FILE             the head a client of a swarm needs, without blocks\n"
    "  generate --model FILE --prompt TEXT [--max-tokens N] [--temperature T] [--f32] ...\n"
    "                                      single-process generation (--json: one object)\n"
    "  score --model FILE --tokens \"ID ...\" --logits OUT [--against FILE] [--f32]\n"
    "                                      teacher-forced logits, compared with a reference\n"
    "  perplexity --model FILE --file TEXT [--context N] [--f32]\n"
    "                                      perplexity of a text, as llama-perplexity\n"
    "  bench kernels|generate|sessions|swarm|recovery   benchmarks that print a table\n"
    "  plan (--model FILE | --blocks N --block-mib M) --node NAME,MEMORY_MIB,THROUGHPUT ...\n"
    "                                      the spans that make the fastest swarm\n"
    "  sim [--seed N] [--hours H] [--csv FILE] ...   the balancing simulator\n"
    "  sim gossip [--nodes N,...] ...      the membership gossip simulator\n"
    "  swarm key -o FILE                   a new private swarm's key (nodes' swarm-key)\n"
    "Run 'corolla <command> --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  corolla::limit_openmp_spinning(argv);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && corolla::wants_version(args)) {
    std::cout << corolla::version_text("corolla") << "\n";
    return 0;
  }
  if (args.size() >= 2 && args[0] == "gguf") {
    const std::vector<std::string> rest(args.begin() + 2, args.end());
    if (args[1] == "info") return corolla::run_gguf_info(rest, std::cout);
    if (args[1] == "make") return corolla::run_gguf_make(rest, std::cout);
    if (args[1] == "head") return corolla::run_gguf_head(rest, std::cout);
  }
  if (args.size() >= 2 && args[0] == "swarm" && args[1] == "key") {
    return corolla::run_swarm_key({args.begin() + 2, args.end()}, std::cout);
  }
  if (!args.empty() && args[0] == "generate") {
    return corolla::run_generate({args.begin() + 1, args.end()}, std::cout);
  }
  if (!args.empty() && args[0] == "score") {
    return corolla::run_score({args.begin() + 1, args.end()}, std::cout);
  }
  if (!args.empty() && args[0] == "perplexity") {
    return corolla::run_perplexity({args.begin() + 1, args.end()}, std::cout);
  }
  if (!args.empty() && args[0] == "bench") {
    return corolla::run_bench({args.begin() + 1, args.end()}, std::cout);
  }
  if (!args.empty() && args[0] == "sim") {
    return corolla::run_sim({args.begin() + 1, args.end()}, std::cout);
  }
  if (!args.empty() && args[0] == "plan") {
    return corolla::run_plan({args.begin() + 1, args.end()}, std::cout);
  }
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << (args.empty() ? "corolla: no command given\n"
                             : "corolla: unknown command '" + args[0] +
                                   (args.size() > 1 ? " " + args[1] : "") + "'\n")
            << kUsage;
  return 2;
}
