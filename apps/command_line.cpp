#include "apps/command_line.hpp"

#include <iostream>

namespace corolla {

std::optional<int> parse_command_line(const boost::program_options::options_description& options,
                                      const std::vector<std::string>& args,
                                      const std::string& command, std::ostream& out,
                                      boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << command << ": " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    out << options << "\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace corolla
