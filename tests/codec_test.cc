// The codec: every message, input and effect round-trips; bad bytes give a
// clear error and never throw.
#include "core/proto/codec.h"
#include "core/proto/effects_hash.h"
#include "tests/message_samples.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace dray {
namespace {

using samples::SampleRef;
using samples::SampleResources;
using samples::SampleSpec;
using samples::SampleValue;

// One of every Message alternative, each with non-default fields (the list the
// fuzzer's seed corpus uses too).
std::vector<Message> AllMessages() { return samples::EveryMessage(); }

TEST(Codec, SampleCoversEveryMessageAlternative) {
  std::set<size_t> seen;
  for (const auto& m : AllMessages()) seen.insert(m.index());
  EXPECT_EQ(seen.size(), std::variant_size_v<Message>) << "add the new message to samples::EveryMessage()";
}

TEST(Codec, EveryMessageRoundTrips) {
  for (const Message& m : AllMessages()) {
    SCOPED_TRACE(MessageName(m));
    std::string bytes = EncodeMessage(m);
    ASSERT_GE(bytes.size(), 2u);
    EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kCodecVersion);
    Message out;
    std::string err;
    ASSERT_TRUE(DecodeMessage(bytes.data(), bytes.size(), &out, &err)) << err;
    EXPECT_EQ(out.index(), m.index());
    EXPECT_EQ(EncodeMessage(out), bytes);
    // The sample is not the default value: the round trip carried real fields.
    Message def;
    std::visit([&](const auto& alt) { def = std::decay_t<decltype(alt)>{}; }, m);
    EXPECT_NE(EncodeMessage(def), bytes);
  }
}

TEST(Codec, FieldsSurviveTheRoundTrip) {
  Message m = SubmitTask{SampleSpec()};
  std::string bytes = EncodeMessage(m);
  Message out;
  std::string err;
  ASSERT_TRUE(DecodeMessage(bytes.data(), bytes.size(), &out, &err)) << err;
  const TaskSpec& s = std::get<SubmitTask>(out).spec;
  EXPECT_EQ(s.task, TaskId{77});
  EXPECT_EQ(s.function, "Add");
  EXPECT_EQ(s.max_retries, -1);
  EXPECT_TRUE(s.retry_exceptions);
  EXPECT_EQ(s.resources, SampleResources());
  ASSERT_EQ(s.args.size(), 2u);
  EXPECT_EQ(s.args[0].ref, SampleRef(4));
  EXPECT_EQ(s.args[0].locations, (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(s.args[1].value, SampleValue());  // bytes with a NUL, error flag, contained refs
  EXPECT_EQ(s.args[1].value.data.size(), 16u);
}

TEST(Codec, EveryInputRoundTrips) {
  std::vector<Command> cmds = samples::EveryCommand();
  std::set<size_t> kinds;
  for (const auto& c : cmds) kinds.insert(c.index());
  EXPECT_EQ(kinds.size(), std::variant_size_v<Command>) << "add the new command to samples::EveryCommand()";
  std::vector<Input> inputs = samples::SampleInputs();
  kinds.clear();
  for (const auto& in : inputs) kinds.insert(in.index());
  EXPECT_EQ(kinds.size(), std::variant_size_v<Input>);
  for (const Input& in : inputs) {
    std::string bytes = EncodeInput(in);
    Input out;
    std::string err;
    ASSERT_TRUE(DecodeInput(bytes.data(), bytes.size(), &out, &err)) << err;
    EXPECT_EQ(out.index(), in.index());
    EXPECT_EQ(EncodeInput(out), bytes);
  }
}

TEST(Codec, EveryEffectRoundTrips) {
  std::vector<Effect> effects = samples::EveryEffect();
  std::set<size_t> kinds;
  for (const auto& e : effects) kinds.insert(e.index());
  EXPECT_EQ(kinds.size(), std::variant_size_v<Effect>) << "add the new effect to samples::EveryEffect()";
  for (const Effect& e : samples::SampleEffects()) {
    std::string bytes = EncodeEffect(e);
    Effect out;
    std::string err;
    ASSERT_TRUE(DecodeEffect(bytes.data(), bytes.size(), &out, &err)) << err;
    EXPECT_EQ(out.index(), e.index());
    EXPECT_EQ(EncodeEffect(out), bytes);
  }
  // The effects hash depends on content and order.
  std::vector<Effect> swapped = effects;
  std::swap(swapped[0], swapped[1]);
  EXPECT_EQ(HashEffects(effects), HashEffects(effects));
  EXPECT_NE(HashEffects(effects), HashEffects(swapped));
}

// Decoding must fail with a message, and never throw.
bool DecodeFails(const std::string& bytes, std::string* err) {
  Message out;
  bool ok = true;
  EXPECT_NO_THROW(ok = DecodeMessage(bytes.data(), bytes.size(), &out, err));
  return !ok;
}

TEST(Codec, EmptyBufferIsRejected) {
  std::string err;
  EXPECT_TRUE(DecodeFails("", &err));
  EXPECT_NE(err.find("empty"), std::string::npos) << err;
}

TEST(Codec, WrongVersionIsRejected) {
  std::string bytes = EncodeMessage(JobRegistered{5});
  bytes[0] = static_cast<char>(kCodecVersion + 1);
  std::string err;
  EXPECT_TRUE(DecodeFails(bytes, &err));
  EXPECT_NE(err.find("version"), std::string::npos) << err;
  EXPECT_NE(err.find(std::to_string(kCodecVersion + 1)), std::string::npos) << err;
}

TEST(Codec, TrailingBytesAreRejected) {
  std::string bytes = EncodeMessage(JobRegistered{5}) + "xy";
  std::string err;
  EXPECT_TRUE(DecodeFails(bytes, &err));
  EXPECT_NE(err.find("2 trailing bytes"), std::string::npos) << err;
}

TEST(Codec, EveryTruncationIsRejected) {
  for (const Message& m : AllMessages()) {
    std::string bytes = EncodeMessage(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::string err;
      ASSERT_TRUE(DecodeFails(bytes.substr(0, n), &err)) << MessageName(m) << " cut at " << n;
      ASSERT_FALSE(err.empty());
    }
  }
}

TEST(Codec, UnknownVariantTagIsRejected) {
  // [tag, value] with a tag past the last alternative.
  msgpack::sbuffer sb;
  sb.write(reinterpret_cast<const char*>(&kCodecVersion), 1);
  msgpack::packer<msgpack::sbuffer> pk(sb);
  pk.pack_array(2);
  pk.pack(static_cast<uint32_t>(std::variant_size_v<Message> + 3));
  pk.pack_array(0);
  std::string err;
  EXPECT_TRUE(DecodeFails(std::string(sb.data(), sb.size()), &err));
  EXPECT_NE(err.find("message"), std::string::npos) << err;
  EXPECT_NE(err.find("malformed"), std::string::npos) << err;
}

// STYLE.md: errors name what failed. A frame from a newer peer with a message
// this build does not know should say so, not "bad_cast".
TEST(Codec, UnknownVariantTagIsNamedInTheError) {
  msgpack::sbuffer sb;
  sb.write(reinterpret_cast<const char*>(&kCodecVersion), 1);
  msgpack::packer<msgpack::sbuffer> pk(sb);
  pk.pack_array(2);
  pk.pack(static_cast<uint32_t>(99));
  pk.pack_array(0);
  std::string err;
  EXPECT_TRUE(DecodeFails(std::string(sb.data(), sb.size()), &err));
  EXPECT_NE(err.find("tag"), std::string::npos) << err;
  EXPECT_NE(err.find("99"), std::string::npos) << err;
}

TEST(Codec, WrongShapeIsRejected) {
  std::string err;
  // Not an array at all.
  msgpack::sbuffer sb;
  sb.write(reinterpret_cast<const char*>(&kCodecVersion), 1);
  msgpack::pack(sb, std::string("hello"));
  EXPECT_TRUE(DecodeFails(std::string(sb.data(), sb.size()), &err));
  EXPECT_NE(err.find("malformed"), std::string::npos) << err;
  // A known tag with a body of the wrong type (JobRegistered.job as a string).
  msgpack::sbuffer sb2;
  sb2.write(reinterpret_cast<const char*>(&kCodecVersion), 1);
  msgpack::packer<msgpack::sbuffer> pk(sb2);
  pk.pack_array(2);
  pk.pack(static_cast<uint32_t>(4));
  pk.pack_array(1);
  pk.pack(std::string("not a number"));
  err.clear();
  EXPECT_TRUE(DecodeFails(std::string(sb2.data(), sb2.size()), &err));
  EXPECT_NE(err.find("malformed"), std::string::npos) << err;
}

TEST(Codec, RandomBytesNeverThrow) {
  Prng rng(2024);
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(rng.Below(64), '\0');
    for (auto& c : bytes) c = static_cast<char>(rng.Below(256));
    if (!bytes.empty() && rng.Chance(1, 2)) bytes[0] = static_cast<char>(kCodecVersion);
    Message out;
    std::string err;
    EXPECT_NO_THROW(DecodeMessage(bytes.data(), bytes.size(), &out, &err));
  }
  // Mutations of valid messages (one byte flipped) never throw either.
  for (const Message& m : AllMessages()) {
    std::string good = EncodeMessage(m);
    for (int i = 0; i < 50; ++i) {
      std::string bytes = good;
      bytes[1 + rng.Below(bytes.size() - 1)] ^= static_cast<char>(1 + rng.Below(255));
      Message out;
      std::string err;
      EXPECT_NO_THROW(DecodeMessage(bytes.data(), bytes.size(), &out, &err));
    }
  }
}

TEST(Codec, HugeDeclaredSizesAreRejectedNotAllocated) {
  // A str header claiming 4 GiB with no body.
  std::string bytes;
  bytes.push_back(static_cast<char>(kCodecVersion));
  bytes += "\x92\x04\xdb\xff\xff\xff\xff";
  std::string err;
  EXPECT_TRUE(DecodeFails(bytes, &err));
  // An array header claiming 4 billion elements.
  std::string arr;
  arr.push_back(static_cast<char>(kCodecVersion));
  arr += "\xdd\xff\xff\xff\xff";
  EXPECT_TRUE(DecodeFails(arr, &err));
}

// The process's virtual memory size in bytes (VmSize), or 0 if unknown.
size_t VirtualMemoryBytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  size_t kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
  std::fclose(f);
  return kb * 1024;
}

// Decodes with the address space capped at its current size plus `headroom`,
// so that an allocation beyond it fails (as bad_alloc) instead of succeeding
// untouched. Without /proc or setrlimit, decodes uncapped.
bool DecodeFailsWithin(const std::string& bytes, size_t headroom, std::string* err) {
  rlimit old{};
  size_t vm = VirtualMemoryBytes();
  bool capped = vm != 0 && getrlimit(RLIMIT_AS, &old) == 0 && old.rlim_cur == RLIM_INFINITY;
  if (capped) {
    rlimit cap = old;
    cap.rlim_cur = vm + headroom;
    capped = setrlimit(RLIMIT_AS, &cap) == 0;
  }
  bool failed = DecodeFails(bytes, err);
  if (capped) setrlimit(RLIMIT_AS, &old);
  return failed;
}

// docs/performance.md, "Fuzzing": 351 bytes of nested array32 headers, each
// claiming 2^20 elements, made msgpack reserve 24 MiB per level (about 1.5 GiB
// in all) before it found the bytes missing. The limits now follow the frame:
// the decoder rejects the first header, and never needs the memory.
TEST(Codec, DeclaredSizesAreBoundedByTheFrame) {
  std::string bytes(1, static_cast<char>(kCodecVersion));
  for (int i = 0; i < 70; ++i) bytes += std::string("\xdd\x00\x10\x00\x00", 5);
  ASSERT_EQ(bytes.size(), 351u);
  std::string err;
  EXPECT_TRUE(DecodeFailsWithin(bytes, size_t{256} << 20, &err));
  EXPECT_NE(err.find("malformed"), std::string::npos) << err;
  EXPECT_NE(err.find("array"), std::string::npos) << err;  // rejected at a header, not for missing bytes
  EXPECT_EQ(err.find("bad_alloc"), std::string::npos) << err;
  Input in;
  EXPECT_FALSE(DecodeInput(bytes.data(), bytes.size(), &in, &err));
  Effect ef;
  EXPECT_FALSE(DecodeEffect(bytes.data(), bytes.size(), &ef, &err));

  // A large frame may declare large arrays, but the elements of all of them
  // together cannot exceed its bytes: the same headers at the start of a
  // 2 MiB frame get at most two levels deep (48 MiB), not 64 (1.5 GiB).
  std::string big = bytes;
  big.resize(size_t{2} << 20, '\0');
  err.clear();
  EXPECT_TRUE(DecodeFailsWithin(big, size_t{256} << 20, &err));
  EXPECT_NE(err.find("array"), std::string::npos) << err;
  EXPECT_EQ(err.find("bad_alloc"), std::string::npos) << err;

  // A map header claiming more entries than half the bytes left.
  std::string map(1, static_cast<char>(kCodecVersion));
  map += std::string("\xdf\x00\x01\x00\x00", 5) + std::string(100, '\0');
  err.clear();
  EXPECT_TRUE(DecodeFails(map, &err));
  EXPECT_NE(err.find("map"), std::string::npos) << err;
}

// Bodies are referenced in the input while decoding; the decoded value owns
// copies that outlive the input.
TEST(Codec, DecodedValuesOwnTheirBytes) {
  for (const Message& m : {Message{ObjectChunk{ObjectId{9, 2}, true, 1, 3, 30, false, {}, Addr{0, 2}, Buf(std::string("0123456789"))}},
                           Message{ObjectReady{ObjectId{9, 2}, 44, true, SampleValue(), "error text"}}}) {
    std::string bytes = EncodeMessage(m);
    const std::string expect = bytes;
    Message out;
    std::string err;
    ASSERT_TRUE(DecodeMessage(bytes.data(), bytes.size(), &out, &err)) << err;
    std::fill(bytes.begin(), bytes.end(), '\xff');  // the input is overwritten, then freed
    bytes = std::string();
    EXPECT_EQ(EncodeMessage(out), expect) << MessageName(m);
  }
}

// Ids in their flat wire form: a TaskId is a bare uint, a RefInfo a 4-array.
TEST(Codec, IdsHaveAFlatWireForm) {
  EXPECT_EQ(Pack(TaskId{5}), std::string("\x05", 1));
  EXPECT_EQ(Pack(TaskId{0xabcdef0123456789ULL}), std::string("\xcf\xab\xcd\xef\x01\x23\x45\x67\x89", 9));
  EXPECT_EQ(Pack(RefInfo{ObjectId{7, 1}, Addr{2, 3}}), std::string("\x94\x07\x01\x02\x03", 5));
  EXPECT_EQ(Pack(ObjectId{7, 1}), std::string("\x92\x07\x01", 3));
  EXPECT_EQ(Pack(Addr{2, 3}), std::string("\x92\x02\x03", 3));
  // A RefInfo of the wrong shape does not decode.
  std::string err;
  RefInfo r;
  EXPECT_FALSE(Unpack("\x93\x07\x01\x02", 4, &r, &err));
  TaskId t;
  EXPECT_FALSE(Unpack("\x91\x05", 2, &t, &err));  // the old 1-element array
  EXPECT_TRUE(Unpack("\x05", 1, &t, &err));
  EXPECT_EQ(t, TaskId{5});
}

TEST(Codec, MessageNames) {
  EXPECT_STREQ(MessageName(Message{RegisterNode{}}), "RegisterNode");
  EXPECT_STREQ(MessageName(Message{ReturnRefsAck{}}), "ReturnRefsAck");
  EXPECT_STREQ(MessageName(std::variant_size_v<Message>), "Unknown");
}

}  // namespace
}  // namespace dray

// ---- frames: large payloads travel beside the header ----

namespace dray {
namespace {

Message WithPayload(size_t bytes, char fill) {
  ObjectValue v;
  v.data = Buf(std::string(bytes, fill));
  return ObjectReady{ObjectId{4, 1}, 7, true, v, ""};
}

TEST(Frame, LargePayloadsAreAttachedAndShared) {
  Message m = WithPayload(kAttachMinBytes, 'q');
  Frame f = EncodeFrame(m);
  ASSERT_EQ(f.attachments.size(), 1u);
  EXPECT_LT(f.header.size(), 100u);
  EXPECT_EQ(f.Bytes(), f.header.size() + kAttachMinBytes);
  Message out;
  std::string err;
  ASSERT_TRUE(DecodeFrame(f.header.data(), f.header.size(), f.attachments, &out, &err)) << err;
  EXPECT_EQ(EncodeMessage(out), EncodeMessage(m));
  // Shared with the sender, not copied.
  EXPECT_EQ(std::get<ObjectReady>(out).value.data.data(), std::get<ObjectReady>(m).value.data.data());
}

TEST(Frame, SmallPayloadsStayInTheHeader) {
  Message m = WithPayload(kAttachMinBytes - 1, 'q');
  Frame f = EncodeFrame(m);
  EXPECT_TRUE(f.attachments.empty());
  EXPECT_EQ(f.header, EncodeMessage(m));
}

TEST(Frame, EveryMessageRoundTripsAsAFrame) {
  for (Message m : samples::SampleMessages()) {
    if (auto* r = std::get_if<ObjectReady>(&m)) r->value.data = Buf(std::string(kAttachMinBytes * 2, 'z'));
    Frame f = EncodeFrame(m);
    Message out;
    std::string err;
    ASSERT_TRUE(DecodeFrame(f.header.data(), f.header.size(), f.attachments, &out, &err))
        << MessageName(m) << ": " << err;
    EXPECT_EQ(EncodeMessage(out), EncodeMessage(m)) << MessageName(m);
  }
}

TEST(Frame, BadAttachmentsAreRejectedWithAReason) {
  Frame f = EncodeFrame(WithPayload(kAttachMinBytes * 2, 'a'));
  ASSERT_EQ(f.attachments.size(), 1u);
  Message out;
  std::string err;
  // Missing.
  EXPECT_FALSE(DecodeFrame(f.header.data(), f.header.size(), {}, &out, &err));
  EXPECT_NE(err.find("attachment 0 of 0"), std::string::npos) << err;
  // One too many.
  auto extra = f.attachments;
  extra.push_back(Buf(std::string("x")));
  EXPECT_FALSE(DecodeFrame(f.header.data(), f.header.size(), extra, &out, &err));
  EXPECT_NE(err.find("attachment 1 of 2 is not referred to"), std::string::npos) << err;
  // A plain message decoder meets an attachment reference.
  EXPECT_FALSE(DecodeMessage(f.header.data(), f.header.size(), &out, &err));
  EXPECT_NE(err.find("outside a frame"), std::string::npos) << err;
}

TEST(Frame, HashCoversAttachmentBytes) {
  Frame a = EncodeFrame(WithPayload(kAttachMinBytes * 2, 'a'));
  Frame b = EncodeFrame(WithPayload(kAttachMinBytes * 2, 'b'));
  EXPECT_EQ(a.header, b.header);  // only the attachment differs
  EXPECT_NE(HashFrame(a), HashFrame(b));
  EXPECT_EQ(HashFrame(a), HashFrame(EncodeFrame(WithPayload(kAttachMinBytes * 2, 'a'))));
}

// The remembered hash of an attachment never outlives its payload: a new
// payload at a reused address (likely: same size, freed just before) is
// hashed afresh.
TEST(Frame, RememberedHashesFollowThePayloadNotTheAddress) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 50; ++i) {
    char fill = static_cast<char>('a' + i % 26);
    uint64_t h = HashFrame(EncodeFrame(WithPayload(kAttachMinBytes * 2, fill)));
    uint64_t again = HashFrame(EncodeFrame(WithPayload(kAttachMinBytes * 2, fill)));
    EXPECT_EQ(h, again) << i;
    if (i < 26) EXPECT_TRUE(seen.insert(h).second) << "payload " << fill << " hashed like an earlier one";
    else EXPECT_EQ(seen.count(h), 1u) << i;
  }
}

}  // namespace
}  // namespace dray
