// `corolla gguf info FILE` and `corolla gguf make ...`: the GGUF inspector and the
// model maker's command line. Each returns the process exit code and writes
// errors as one line to stderr.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_gguf_info(const std::vector<std::string>& args, std::ostream& out);
int run_gguf_make(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
