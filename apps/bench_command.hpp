// `corolla bench kernels|generate [flags]`: parses a suite's flags and runs it (the
// suites themselves live in bench/). Returns the exit code.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

// args[0] names the suite.
int run_bench(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
