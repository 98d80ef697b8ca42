#include "actors/head_transfer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/node_network.hpp"
#include "actors/routing_table.hpp"
#include "messages/caf_types.hpp"
#include "model/head_file.hpp"

namespace corolla {
namespace {

namespace fs = std::filesystem;

std::string hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string cached_name(const std::string& model_id, uint64_t checksum) {
  return model_id + "-" + hex(checksum) + ".gguf";
}

result<routing_table_actor> connect_table(caf::actor_system& system, const std::string& address) {
  std::string host;
  uint16_t port = 0;
  if (!split_address(address, host, port)) {
    return status::invalid_argument("'" + address + "' is not host:port");
  }
  auto table = remote_table(system, host, port);
  if (!table) return status::io_error("can not reach it: " + describe(table.error()));
  return *table;
}

// Asks `table` for a chunk; the reply is checked against what the first one announced.
result<head_chunk> ask_chunk(caf::scoped_actor& self, const routing_table_actor& table,
                             uint64_t offset, uint64_t length, std::chrono::milliseconds timeout) {
  result<head_chunk> out = status::io_error("no answer");
  self->request(table, timeout, head_atom::value, offset, length)
      .receive([&](head_chunk& c) { out = std::move(c); },
               [&](const caf::error& e) { out = status::io_error(describe(e)); });
  return out;
}

result<fetched_head> fetch_from(caf::actor_system& system, const std::string& peer,
                                const std::string& cache_dir, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  COROLLA_ASSIGN_OR_RETURN(const routing_table_actor table, connect_table(system, peer));
  caf::scoped_actor self{system};
  COROLLA_ASSIGN_OR_RETURN(const head_chunk about, ask_chunk(self, table, 0, 0, timeout));
  if (about.model_id.empty() || about.model_id.find('/') != std::string::npos ||
      about.model_id.find("..") != std::string::npos) {
    return status::corruption("it names its model '" + about.model_id + "'");
  }
  if (about.total_bytes == 0 || about.total_bytes > max_head_bytes) {
    return status::corruption("it offers a head of " + std::to_string(about.total_bytes) +
                              " bytes");
  }
  fetched_head out;
  out.model_id = about.model_id;
  out.peer = peer;
  out.bytes = about.total_bytes;
  out.path = (fs::path(cache_dir) / cached_name(about.model_id, about.checksum)).string();
  std::error_code ec;
  if (fs::exists(out.path, ec) && fs::file_size(out.path, ec) == about.total_bytes) {
    out.from_cache = true;
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  }
  fs::create_directories(cache_dir, ec);
  const std::string part = out.path + ".part";
  {
    std::ofstream file(part, std::ios::binary | std::ios::trunc);
    if (!file) return status::io_error("can not write " + part);
    for (uint64_t offset = 0; offset < about.total_bytes;) {
      COROLLA_ASSIGN_OR_RETURN(const head_chunk c,
                               ask_chunk(self, table, offset, max_head_chunk_bytes, timeout));
      if (c.offset != offset || c.data.empty() || c.total_bytes != about.total_bytes ||
          c.checksum != about.checksum || c.model_id != about.model_id ||
          c.data.size() > about.total_bytes - offset) {
        return status::corruption("it sent a chunk that does not fit at offset " +
                                  std::to_string(offset));
      }
      file.write(reinterpret_cast<const char*>(c.data.data()), std::streamsize(c.data.size()));
      offset += c.data.size();
    }
    if (!file.flush()) return status::io_error("can not write " + part);
  }
  COROLLA_ASSIGN_OR_RETURN(const uint64_t sum, head_checksum(part));
  if (sum != about.checksum) {
    fs::remove(part, ec);
    return status::corruption("the head's checksum does not match (" + hex(sum) + ", announced " +
                              hex(about.checksum) + ")");
  }
  fs::rename(part, out.path, ec);
  if (ec) return status::io_error("can not keep " + out.path + ": " + ec.message());
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace

std::string default_head_cache() {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path base = cache && *cache
                            ? fs::path(cache) / "corolla"
                            : fs::path(home && *home ? home : ".") / ".cache" / "corolla";
  return (base / "heads").string();
}

result<uint64_t> head_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return status::io_error("can not read " + path);
  uint64_t hash = 1469598103934665603ull;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    const size_t n = size_t(in.gcount());
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t word = 0;
      std::memcpy(&word, buffer.data() + i, 8);
      hash = (hash ^ word) * 1099511628211ull;
    }
    for (; i < n; ++i) hash = (hash ^ uint8_t(buffer[i])) * 1099511628211ull;
  }
  return hash;
}

result<head_offer> prepare_head(const std::string& model_path, const std::string& model_id,
                                const std::string& cache_dir) {
  COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(model_path));
  head_offer offer;
  offer.model_id = model_id;
  if (is_head_file(file)) {
    offer.path = model_path;  // a gateway holding only the head passes it on
  } else {
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    offer.path = (fs::path(cache_dir) / (model_id + ".gguf")).string();
    if (!fs::exists(offer.path, ec))
      COROLLA_RETURN_IF_ERROR(write_head_file(model_path, offer.path));
  }
  std::error_code ec;
  offer.bytes = fs::file_size(offer.path, ec);
  if (ec) return status::io_error("can not read " + offer.path + ": " + ec.message());
  // The checksum reads the whole head (gigabytes for a large model): it is kept beside the
  // file, "<bytes> <checksum>", so a node's later starts read a line instead.
  const std::string sum_path = offer.path + ".sum";
  uint64_t bytes = 0, checksum = 0;
  std::ifstream sum_in(sum_path);
  if (sum_in >> bytes >> checksum && bytes == offer.bytes) {
    offer.checksum = checksum;
    return offer;
  }
  COROLLA_ASSIGN_OR_RETURN(offer.checksum, head_checksum(offer.path));
  std::ofstream(sum_path) << offer.bytes << " " << offer.checksum << "\n";
  return offer;
}

result<head_chunk> read_head_chunk(const head_offer& offer, uint64_t offset, uint64_t length) {
  head_chunk c;
  c.model_id = offer.model_id;
  c.total_bytes = offer.bytes;
  c.checksum = offer.checksum;
  c.offset = offset;
  if (length == 0) return c;
  if (offset >= offer.bytes) {
    return status::out_of_range("offset " + std::to_string(offset) + " is past the head's " +
                                std::to_string(offer.bytes) + " bytes");
  }
  c.data.resize(size_t(std::min({length, max_head_chunk_bytes, offer.bytes - offset})));
  std::ifstream in(offer.path, std::ios::binary);
  in.seekg(std::streamoff(offset));
  in.read(reinterpret_cast<char*>(c.data.data()), std::streamsize(c.data.size()));
  if (!in) return status::io_error("can not read " + offer.path);
  return c;
}

result<fetched_head> fetch_head(caf::actor_system& system, const std::vector<std::string>& peers,
                                const std::string& cache_dir, std::chrono::milliseconds timeout) {
  std::string why;
  for (const std::string& peer : peers) {
    auto got = fetch_from(system, peer, cache_dir, timeout);
    if (got.ok()) return got;
    why += "\n  " + peer + ": " + got.error().message();
  }
  return status::io_error("could not get the model's head from any peer:" + why);
}

}  // namespace corolla
