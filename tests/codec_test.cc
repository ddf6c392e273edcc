// The codec: every message, input and effect round-trips; bad bytes give a
// clear error and never throw.
#include "core/proto/codec.h"
#include "core/proto/effects_hash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace dray {
namespace {

RefInfo SampleRef(uint32_t k) { return RefInfo{ObjectId{0x1234500000000000ULL + k, k}, Addr{k, k + 2}}; }

ObjectValue SampleValue() {
  ObjectValue v;
  v.data = Buf(std::string("payload\0with nul", 16));
  v.is_error = true;
  v.contained = {SampleRef(1), SampleRef(2)};
  return v;
}

ResourceSet SampleResources() {
  ResourceSet r;
  r.SetUnits("CPU", 2.5);
  r.SetUnits("custom", 0.0001);
  return r;
}

TaskSpec SampleSpec() {
  TaskSpec s;
  s.task = TaskId{77};
  s.parent = TaskId{76};
  s.job = 3;
  s.function = "Add";
  s.name = "add";
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = SampleRef(4);
  a.resolved = true;
  a.in_store = true;
  a.locations = {1, 2};
  a.size = 200000;
  TaskArg b;
  b.value = SampleValue();
  s.args = {a, b};
  s.num_returns = 2;
  s.resources = SampleResources();
  s.owner = Addr{0, 2};
  s.max_retries = -1;
  s.retry_exceptions = true;
  s.attempt = 2;
  s.spill_count = 1;
  return s;
}

// One of every Message alternative, each with non-default fields.
std::vector<Message> AllMessages() {
  NodeView nv{4, Addr{4, 0}, SampleResources(), SampleResources(), 9};
  ReturnObject ro{ObjectId{5, 1}, SampleValue(), true, 3, 123456};
  StoredObject so{ObjectId{6, 1}, Addr{1, 3}, SampleValue()};
  return {
      RegisterNode{4, Addr{4, 0}, SampleResources(), 1 << 20},
      ResourceReport{4, SampleResources(), 2, {SampleResources()}, 17},
      ClusterView{8, {nv, nv}},
      RegisterJob{Addr{0, 2}},
      JobRegistered{5},
      SubmitTask{SampleSpec()},
      ExecuteTask{SampleSpec()},
      TaskDone{TaskId{77}, 1, Addr{2, 66}, {ro}},
      TaskFinished{TaskId{77}, {so}},
      RegisterWorker{Addr{2, 66}},
      WorkerBlocked{TaskId{78}},
      WorkerUnblocked{TaskId{79}},
      ResumeGrant{TaskId{80}},
      PutObject{so},
      FetchObject{ObjectId{9, 2}, Addr{0, 2}, {1, 3}, 44},
      ObjectReady{ObjectId{9, 2}, 44, true, SampleValue(), "none"},
      PullObject{ObjectId{9, 2}, 3},
      ObjectChunk{ObjectId{9, 2}, true, 1, 3, 30, true, {SampleRef(7)}, Addr{0, 2}, "0123456789"},
      FreeObjects{{ObjectId{1, 1}, ObjectId{2, 0x80000001u}}},
      AddObjectLocation{ObjectId{1, 1}, 6},
      GetObjectStatus{ObjectId{1, 1}},
      ObjectStatus{ObjectId{1, 1}, true, true, SampleValue(), {2, 4}, 999},
      AddBorrower{ObjectId{1, 1}},
      AddBorrowerAck{ObjectId{1, 1}, true},
      RemoveBorrower{ObjectId{1, 1}, 3},
      ReturnRefsAck{TaskId{81}},
      WorkerOwnership{true},
  };
}

TEST(Codec, SampleCoversEveryMessageAlternative) {
  std::set<size_t> seen;
  for (const auto& m : AllMessages()) seen.insert(m.index());
  EXPECT_EQ(seen.size(), std::variant_size_v<Message>) << "add the new message to AllMessages()";
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
  std::vector<Command> cmds = {
      CmdStart{},
      CmdSubmit{SampleSpec()},
      CmdPut{SampleValue()},
      CmdGet{3, {SampleRef(1)}, 1000},
      CmdWait{4, {SampleRef(1), SampleRef(2)}, 2, 5000},
      CmdAddRef{SampleRef(3)},
      CmdRemoveRef{SampleRef(3)},
      CmdTaskReturned{TaskId{5}, {SampleValue()}},
  };
  std::set<size_t> kinds;
  for (const auto& c : cmds) kinds.insert(c.index());
  EXPECT_EQ(kinds.size(), std::variant_size_v<Command>);
  std::vector<Input> inputs = {InDeliver{Addr{1, 2}, ClusterView{3, {}}}, InTimer{(1ULL << 62) + 5}};
  for (const auto& c : cmds) inputs.push_back(InCommand{c});
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
  std::vector<Effect> effects = {
      EfSend{Addr{1, 0}, FreeObjects{{ObjectId{1, 1}}}},
      EfSetTimer{7, 123456789},
      EfCancelTimer{7},
      EfStartWorker{Addr{1, 66}},
      EfStopWorker{Addr{1, 66}},
      EfRunTask{SampleSpec()},
      EfCompleteWait{5, kWaitTimeout, {SampleValue()}, {1, 0}},
      EfCommandResult{TaskId{9}, {ObjectId{9, 1}, ObjectId{9, 2}}},
  };
  std::set<size_t> kinds;
  for (const auto& e : effects) kinds.insert(e.index());
  EXPECT_EQ(kinds.size(), std::variant_size_v<Effect>);
  for (const Effect& e : effects) {
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

TEST(Codec, MessageNames) {
  EXPECT_STREQ(MessageName(Message{RegisterNode{}}), "RegisterNode");
  EXPECT_STREQ(MessageName(Message{ReturnRefsAck{}}), "ReturnRefsAck");
  EXPECT_STREQ(MessageName(std::variant_size_v<Message>), "Unknown");
}

}  // namespace
}  // namespace dray
