#include "apps/swarm_commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "actors/wire_guard.hpp"

namespace corolla {

int run_swarm_key(const std::vector<std::string>& args, std::ostream& out) {
  const char usage[] =
      "usage: corolla swarm key -o FILE\n"
      "  writes a new 32-byte swarm key (64 hex digits) to FILE, readable by its owner only;\n"
      "  give every node `swarm-key = FILE` and actor-chat --swarm-key FILE (copy it over a\n"
      "  channel you trust). FILE must not exist.\n";
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    out << usage;
    return 0;
  }
  if (args.size() != 2 || (args[0] != "-o" && args[0] != "--output")) {
    std::cerr << "corolla swarm key: expected -o FILE\n" << usage;
    return 2;
  }
  const std::string& path = args[1];
  auto text = new_swarm_key_text();
  if (!text.ok()) {
    std::cerr << "corolla swarm key: " << text.error().message() << "\n";
    return 1;
  }
  // O_EXCL: never overwrite a key a swarm already uses.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    std::cerr << "corolla swarm key: " << path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  const bool written = ::write(fd, text->data(), text->size()) == ssize_t(text->size());
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    std::cerr << "corolla swarm key: " << path << ": could not write the key\n";
    ::unlink(path.c_str());
    return 1;
  }
  out << "wrote a new swarm key to " << path << " (mode 600)\n";
  return 0;
}

}  // namespace corolla
