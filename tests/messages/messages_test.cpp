// Every message survives the wire unchanged; truncated, padded or oversized bytes
// are refused with a status naming the message; tensor codecs keep their error
// bounds; and CAF's own serialisation carries a message through the cereal bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/node_config.hpp"
#include "messages/caf_types.hpp"
#include "tests/support/test_support.hpp"

// The largest allocation this test binary has made (operator new below counts it).
std::atomic<size_t>& corolla_largest_allocation() {
  static std::atomic<size_t> largest{0};
  return largest;
}

void* operator new(size_t size) {
  size_t seen = corolla_largest_allocation().load();
  while (size > seen && !corolla_largest_allocation().compare_exchange_weak(seen, size)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC sees the replaced new inlined as malloc and the replaced delete as a mismatch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace corolla {
namespace {

std::vector<float> values(uint64_t salt, int64_t n) {
  std::mt19937_64 rng(testing::test_seed() + salt);
  return testing::uniform_floats(rng, size_t(n), -3.0f, 3.0f);
}

step_request sample_step() {
  const auto x = values(1, 3 * 40);
  return step_request{42, 7, 5, encode_tensor(tensor_codec::int8_block, x.data(), 3, 40)};
}

server_record sample_record() {
  server_record r;
  r.server_id = 3;
  r.name = "node-a";
  r.protocol_version = protocol_version;
  r.start_block = 2;
  r.end_block = 9;
  r.state = uint8_t(serving_state::draining);
  r.compute_ms_per_block = 0.75;
  r.cache_bytes_free = 1 << 20;
  r.version = 12;
  r.throughput = 41.5;
  r.next_start = 4;
  r.next_end = 11;
  return r;
}

// Round trip through the wire bytes, then every proper prefix must be refused.
template <class T, class Same>
void check_wire(const T& original, Same same) {
  const std::string bytes = to_wire(original);
  T back;
  ASSERT_TRUE(from_wire(bytes, back, wire_message<T>::name).ok());
  EXPECT_TRUE(same(original, back)) << wire_message<T>::name;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    T partial;
    const status st = from_wire(bytes.substr(0, cut), partial, wire_message<T>::name);
    ASSERT_FALSE(st.ok()) << wire_message<T>::name << " cut at " << cut;
    EXPECT_NE(st.message().find(wire_message<T>::name), std::string::npos);
  }
  T padded;
  EXPECT_FALSE(from_wire(bytes + "x", padded, wire_message<T>::name).ok());
}

bool same_tensor(const tensor_bytes& a, const tensor_bytes& b) {
  return a.codec == b.codec && a.rows == b.rows && a.cols == b.cols && a.data == b.data;
}

TEST(Messages, EverySessionMessageRoundTripsAndRefusesTruncation) {
  check_wire(open_session_request{protocol_version, 9, 1, 4, 512, 1}, [](auto& a, auto& b) {
    return a.protocol_version == b.protocol_version && a.session_id == b.session_id &&
           a.start_block == b.start_block && a.end_block == b.end_block &&
           a.max_tokens == b.max_tokens && a.codec == b.codec;
  });
  check_wire(open_session_reply{9, "server-2", 4096}, [](auto& a, auto& b) {
    return a.session_id == b.session_id && a.server_name == b.server_name &&
           a.cache_bytes == b.cache_bytes;
  });
  check_wire(sample_step(), [](auto& a, auto& b) {
    return a.session_id == b.session_id && a.step_id == b.step_id && a.pos == b.pos &&
           same_tensor(a.hidden, b.hidden);
  });
  const auto x = values(2, 2 * 16);
  check_wire(step_reply{1, 2, encode_tensor(tensor_codec::f16, x.data(), 2, 16), 30, 45},
             [](auto& a, auto& b) {
               return a.step_id == b.step_id && same_tensor(a.hidden, b.hidden) &&
                      a.compute_us == b.compute_us && a.server_us == b.server_us;
             });
  check_wire(close_session_request{5},
             [](auto& a, auto& b) { return a.session_id == b.session_id; });
  check_wire(close_session_reply{5, 77},
             [](auto& a, auto& b) { return a.cache_bytes_freed == b.cache_bytes_freed; });
  check_wire(block_step{1, 2, 1, 64, 5, 10, values(3, 16)}, [](auto& a, auto& b) {
    return a.pos == b.pos && a.end_block == b.end_block && a.hidden == b.hidden;
  });
  check_wire(block_output{1, 10, values(4, 16)},
             [](auto& a, auto& b) { return a.compute_us == b.compute_us && a.hidden == b.hidden; });
}

TEST(Messages, SwarmAndClientMessagesRoundTrip) {
  check_wire(sample_record(), [](auto& a, auto& b) {
    return a.server_id == b.server_id && a.name == b.name && a.end_block == b.end_block &&
           a.state == b.state && a.compute_ms_per_block == b.compute_ms_per_block &&
           a.version == b.version && a.throughput == b.throughput && a.next_start == b.next_start &&
           a.next_end == b.next_end;
  });
  check_wire(route_request{0, 22, {3, 4}}, [](auto& a, auto& b) {
    return a.end_block == b.end_block && a.excluded == b.excluded;
  });
  generate_request g;
  g.prompt = "Once upon a time";
  g.chat = true;
  g.options.sampling.top_k = 7;
  g.options.stop_strings = {"\n\n"};
  check_wire(g, [](auto& a, auto& b) {
    return a.prompt == b.prompt && a.chat == b.chat &&
           a.options.sampling.top_k == b.options.sampling.top_k &&
           a.options.stop_strings == b.options.stop_strings;
  });
  generate_reply r;
  r.stats.tokens = {1, 2, 3};
  r.stats.reason = stop_reason::max_tokens;
  r.mean_token = {hop_timing{"server-1", 0, 2, 1.5, 0.25}};
  check_wire(r, [](auto& a, auto& b) {
    return a.stats.tokens == b.stats.tokens && a.stats.reason == b.stats.reason &&
           a.mean_token.size() == 1 && b.mean_token[0].compute_ms == 1.5;
  });
  gossip_offer o{
      protocol_version, "llama-5x64-00ff", {{7, 3, false}, {9, 4, true}}, {1, 2}, true, false};
  check_wire(o, [](auto& a, auto& b) {
    return a.model_id == b.model_id && b.entries.size() == 2 && b.entries[1].dead &&
           b.entries[1].version == 4 && a.sums == b.sums && b.periodic && !b.everything;
  });
  gossip_answer answer{{7}, {{3, 1, false}}, {{5, 2, true}}, {12}};
  check_wire(answer, [](auto& a, auto& b) {
    return a.wants == b.wants && b.entries.size() == 1 && b.listed[0].dead &&
           a.buckets == b.buckets;
  });
  gossip_records d{{sample_record(), sample_record()}, {{4, 8, true}}, {11, 12}};
  d.records[1].host = "10.0.0.7";
  d.records[1].port = 7702;
  check_wire(d, [](auto& a, auto& b) {
    return a.records.size() == 2 && b.records[1].host == "10.0.0.7" && b.records[1].port == 7702 &&
           a.records[0].version == b.records[0].version && b.deaths.size() == 1 &&
           a.wants == b.wants;
  });
  check_wire(session_step{4, 1, values(5, 8)},
             [](auto& a, auto& b) { return a.hidden == b.hidden; });
  check_wire(text_chunk{"abc"}, [](auto& a, auto& b) { return a.text == b.text; });
}

TEST(Messages, OversizedLengthsAreRefusedBeforeAllocating) {
  // A tensor header claiming 2^40 rows: refused from the header alone.
  step_request huge = sample_step();
  huge.hidden.rows = int64_t(1) << 40;
  huge.hidden.data.clear();
  step_request back;
  const status st = from_wire(to_wire(huge), back, "step_request");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("larger than a message may carry"), std::string::npos);
  // A server name claiming 1 GiB.
  std::string bytes = to_wire(sample_record());
  server_record r;
  bytes.replace(8, 8, std::string("\x00\x00\x00\x40\x00\x00\x00\x00", 8));  // name's length
  const status name = from_wire(bytes, r, "server_record");
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.message().find("exceeds its limit"), std::string::npos) << name.message();
  // Gossip claiming 2^32 records.
  std::string gossip = to_wire(gossip_records{});
  gossip.replace(0, 8, std::string("\x00\x00\x00\x00\x01\x00\x00\x00", 8));
  gossip_records g;
  const status list = from_wire(gossip, g, "gossip_records");
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.message().find("a list of 4294967296 items exceeds its limit of 4096"),
            std::string::npos)
      << list.message();
  // An offer claiming 2^32 entries.
  std::string offer = to_wire(gossip_offer{protocol_version, "m", {}, {}, false, false});
  offer.replace(4 + 8 + 1, 8, std::string("\x00\x00\x00\x00\x01\x00\x00\x00", 8));
  gossip_offer go;
  const status entries = from_wire(offer, go, "gossip_offer");
  ASSERT_FALSE(entries.ok());
  EXPECT_NE(entries.message().find("exceeds its limit of 65536"), std::string::npos)
      << entries.message();
}

TEST(TensorCodec, F32IsExactAndTheOthersKeepTheirBounds) {
  const int64_t rows = 3, cols = 70;  // 70: a short last int8 block
  const auto x = values(6, rows * cols);
  for (tensor_codec codec : {tensor_codec::f32, tensor_codec::f16, tensor_codec::int8_block}) {
    const tensor_bytes t = encode_tensor(codec, x.data(), rows, cols);
    EXPECT_EQ(t.data.size(), encoded_size(codec, rows, cols));
    std::vector<float> y;
    ASSERT_TRUE(decode_tensor(t, cols, rows, y).ok());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < cols; b += int8_codec_block) {
        float amax = 0;
        for (int64_t i = b; i < std::min(cols, b + int8_codec_block); ++i) {
          amax = std::max(amax, std::fabs(x[size_t(r * cols + i)]));
        }
        for (int64_t i = b; i < std::min(cols, b + int8_codec_block); ++i) {
          const size_t k = size_t(r * cols + i);
          const float err = std::fabs(y[k] - x[k]);
          switch (codec) {
            case tensor_codec::f32:
              ASSERT_EQ(y[k], x[k]);
              break;
            // half: 11 significant bits, relative error <= 2^-11
            case tensor_codec::f16:
              ASSERT_LE(err, std::fabs(x[k]) / 2048.0f + 1e-7f);
              break;
            // int8: half a quantisation step of its block, plus float rounding
            case tensor_codec::int8_block:
              ASSERT_LE(err, amax / 127.0f * 0.5001f);
              break;
          }
        }
      }
    }
  }
  EXPECT_EQ(encoded_size(tensor_codec::int8_block, 1, 64), 64u + 2 * 4);
}

TEST(TensorCodec, DecodeChecksTagShapeAndSize) {
  const auto x = values(7, 2 * 8);
  tensor_bytes t = encode_tensor(tensor_codec::f16, x.data(), 2, 8);
  std::vector<float> y = {42.0f};
  EXPECT_EQ(decode_tensor(t, 9, 2, y).code(), status_code::invalid_argument);
  EXPECT_EQ(decode_tensor(t, 8, 1, y).code(), status_code::corruption);  // more rows than allowed
  tensor_bytes bad = t;
  bad.codec = 3;
  EXPECT_NE(decode_tensor(bad, 8, 2, y).message().find("unknown codec tag 3"), std::string::npos);
  bad = t;
  bad.data.pop_back();
  EXPECT_EQ(decode_tensor(bad, 8, 2, y).code(), status_code::corruption);
  bad = t;  // a token of no values (the wire fuzzer's find: a null copy of nothing)
  bad.cols = 0;
  bad.data.clear();
  EXPECT_EQ(decode_tensor(bad, 0, 2, y).code(), status_code::corruption);
  EXPECT_EQ(y, std::vector<float>{42.0f});  // untouched on error
  EXPECT_FALSE(parse_tensor_codec("bf16").ok());
  EXPECT_EQ(*parse_tensor_codec("int8"), tensor_codec::int8_block);
}

TEST(TensorCodec, AClaimedShapeAllocatesOnlyWhatArrived) {
  // A step whose header claims the largest tensor a message may carry (512 MiB of f32)
  // followed by 100 bytes: refused, without allocating what it claims.
  step_request claim = sample_step();
  claim.hidden.codec = uint8_t(tensor_codec::f32);
  claim.hidden.cols = 4096;
  claim.hidden.rows = max_tensor_values / 4096;
  claim.hidden.data.assign(100, 'x');
  std::string bytes = to_wire(claim);
  corolla_largest_allocation() = 0;
  step_request back;
  EXPECT_EQ(from_wire(bytes, back, "step_request").code(), status_code::corruption);
  EXPECT_LE(corolla_largest_allocation().load(), size_t(4) << 20);

  // The same for every vector a message has: a count of 2^27 floats, then 8 of them.
  block_step local;
  local.hidden.assign(8, 1.0f);
  bytes = to_wire(local);
  const size_t count_at = bytes.size() - 8 * sizeof(float) - sizeof(uint64_t);
  const uint64_t claimed = max_wire_values;
  std::memcpy(&bytes[count_at], &claimed, sizeof(claimed));
  corolla_largest_allocation() = 0;
  block_step back_local;
  EXPECT_EQ(from_wire(bytes, back_local, "block_step").code(), status_code::corruption);
  EXPECT_LE(corolla_largest_allocation().load(), size_t(4) << 20);
}

TEST(CafTypes, CafSerialisationCarriesAMessageAndRefusesGarbage) {
  node_config cfg;
  caf::actor_system system{cfg};
  const step_request original = sample_step();
  std::vector<char> buf;
  {
    caf::binary_serializer sink{system, buf};
    step_request copy = original;
    ASSERT_FALSE(sink(copy));
  }
  step_request back;
  {
    caf::binary_deserializer source{system, buf};
    ASSERT_FALSE(source(back));
  }
  EXPECT_TRUE(same_tensor(back.hidden, original.hidden));
  EXPECT_EQ(back.pos, original.pos);
  // Cut the cereal bytes short inside CAF's framing: an error, not a crash.
  std::vector<char> cut(buf.begin(), buf.end() - 5);
  step_request broken;
  caf::binary_deserializer source{system, cut};
  EXPECT_TRUE(bool(source(broken)));
  // Corolla's errors render by name.
  EXPECT_EQ(describe(make_error(errc::over_budget, "too big")), "over_budget: too big");
}

}  // namespace
}  // namespace corolla
