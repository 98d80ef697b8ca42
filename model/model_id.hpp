// model_id: a short fingerprint of a GGUF model, compared by every node of a swarm so
// that servers and clients of different models never mix.
//
// It hashes (FNV-1a, 64 bits) the header, metadata and tensor table, and the first
// 4 KiB of every tensor's data: two files made by the model maker with the same shape
// but different seeds differ, and the whole file is never read.
#pragma once

#include <string>

#include "model/gguf_file.hpp"
#include "model/kv_cache.hpp"
#include "model/linear.hpp"
#include "model/status.hpp"

namespace corolla {

// "llama-5x64-1f0c2d3e4b5a6978": architecture, blocks x width, hash.
std::string model_fingerprint(const gguf_file& file);

// The same for a file on disk. Errors: the file's (gguf_file::open).
result<std::string> model_fingerprint(const std::string& path);

// The id a swarm's nodes compare: the fingerprint, "+int8" when the servers convert
// every weight to int8, "+kvf32" or "+kvq8_0" when their KV caches are not f16 —
// servers that differ so compute different functions, and spot checks compare bits. A
// client's f32 reference head goes with native servers.
std::string swarm_model_id(const std::string& fingerprint, precision weights, kv_type kv);

}  // namespace corolla
