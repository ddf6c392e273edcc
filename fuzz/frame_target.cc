// The frame fuzz target's seeds: a frame of every sample message (with
// attachments where the samples carry large payloads), a handshake frame,
// and a stream of several frames back to back. Each must read without error.
#include "fuzz/fuzz_target.h"
#include "real/wire_frame.h"
#include "tests/message_samples.h"

namespace dray::fuzz {
namespace {

// Reads `bytes` whole; "" or the error.
std::string ReadError(const std::string& bytes, size_t* frames) {
  real::FrameReader r;
  std::string_view v(bytes);
  *frames = 0;
  while (true) {
    size_t used = 0;
    auto st = r.Feed(v.data(), v.size(), &used);
    v.remove_prefix(used);
    if (st == real::FrameReader::Status::kError) return r.error();
    if (st == real::FrameReader::Status::kNeedMore) break;
    r.Take();
    ++*frames;
  }
  return r.Finish() == real::FrameReader::Status::kError ? r.error() : "";
}

}  // namespace

FuzzTarget MakeFuzzTarget() {
  FuzzTarget t;
  t.name = "frame_fuzz_standalone";
  std::string stream;
  for (const auto& m : samples::SampleMessages()) {
    std::string s = real::EncodeWireFrame(real::FrameKind::kMessage, EncodeFrame(m));
    if (stream.size() < 4096) stream += s;
    t.seeds.push_back({std::string("frame-") + MessageName(m) + "-" + std::to_string(t.seeds.size()), s});
  }
  ObjectChunk big;
  big.data = Buf(std::string(kAttachMinBytes, 'a'));
  t.seeds.push_back({"frame-attachment", real::EncodeWireFrame(real::FrameKind::kMessage, EncodeFrame(Message{big}))});
  t.seeds.push_back({"frame-handshake", real::EncodeWireFrame(real::FrameKind::kHandshake, Frame{"\x01\x01nonce", {}})});
  t.seeds.push_back({"frame-stream", stream});
  t.seed_ok = [](const Seed& s, std::string* err) {
    size_t frames = 0;
    *err = ReadError(s.bytes, &frames);
    if (err->empty() && frames == 0) *err = "no frame";
    return err->empty();
  };
  t.accepted = [](const std::string& s) {
    size_t frames = 0;
    return ReadError(s, &frames).empty() && frames > 0;
  };
  t.accepted_what = "still read as whole frames";
  return t;
}

}  // namespace dray::fuzz
