// `corolla gguf info FILE`, `corolla gguf make ...` and `corolla gguf head ...`: the GGUF inspector
// and the model maker's command line. Each returns the process exit code and writes errors as one
// line to stderr.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_gguf_info(const std::vector<std::string>& args, std::ostream& out);
int run_gguf_make(const std::vector<std::string>& args, std::ostream& out);
// `corolla gguf head MODEL -o FILE`: a client's head file (model/head_file.hpp).
int run_gguf_head(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
