// The handshake fuzz target's seeds: for each side, the peer's half of a
// valid transcript for the target's token and nonces (fuzz/handshake_fuzz.h),
// whole and cut short, and a rejection. Each must run without failing.
#include "core/common/assert.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/handshake_fuzz.h"
#include "real/wire_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace dray::fuzz {
namespace {

std::string Wire(const std::string& body) {
  return real::EncodeWireFrame(real::FrameKind::kHandshake, Frame{body, {}});
}

}  // namespace

FuzzTarget MakeFuzzTarget() {
  // A real run between the two sides gives both halves of the transcript.
  real::ClientHandshake c(kFuzzToken, kFuzzClientNonce);
  real::ServerHandshake s(kFuzzToken, kFuzzServerNonce);
  std::string hello = c.Hello();
  real::HandshakeStep challenge = s.OnBody(hello);
  real::HandshakeStep proof = c.OnBody(challenge.send);
  real::HandshakeStep result = s.OnBody(proof.send);
  DRAY_ASSERT(result.status == real::HandshakeStep::kDone);
  FuzzTarget t;
  t.name = "handshake_fuzz_standalone";
  const std::string server(1, '\0'), client(1, '\1');  // the first byte picks the side under test
  t.seeds.push_back({"server-good", server + Wire(hello) + Wire(proof.send)});
  t.seeds.push_back({"server-hello-only", server + Wire(hello)});
  t.seeds.push_back({"client-good", client + Wire(challenge.send) + Wire(result.send)});
  t.seeds.push_back({"client-challenge-only", client + Wire(challenge.send)});
  t.seeds.push_back({"client-rejected", client + Wire(challenge.send) + Wire(std::string("\x04\x00", 2))});
  // A mutation is accepted when a side still finishes: only those that keep
  // the valid transcript intact should.
  t.accepted = [](const std::string& bytes) {
    if (bytes.empty()) return false;
    bool server = (bytes[0] & 1) == 0;
    std::string_view in(bytes);
    in.remove_prefix(1);
    real::FrameReader r(real::kHandshakeLimits);
    real::ServerHandshake sv(kFuzzToken, kFuzzServerNonce);
    real::ClientHandshake cl(kFuzzToken, kFuzzClientNonce);
    while (true) {
      size_t used = 0;
      if (r.Feed(in.data(), in.size(), &used) != real::FrameReader::Status::kFrame) return false;
      in.remove_prefix(used);
      real::WireFrame f = r.Take();
      auto st = (server ? sv.OnBody(f.frame.header) : cl.OnBody(f.frame.header)).status;
      if (st == real::HandshakeStep::kDone) return true;
      if (st == real::HandshakeStep::kFailed) return false;
    }
  };
  // The good transcripts must complete; the others must not.
  t.seed_ok = [accepted = t.accepted](const Seed& s, std::string* err) {
    bool good = s.name.size() > 5 && s.name.compare(s.name.size() - 5, 5, "-good") == 0;
    if (accepted(s.bytes) != good) *err = good ? "the transcript does not complete" : "the transcript completes";
    return err->empty();
  };
  t.accepted_what = "still completed a handshake";
  return t;
}

}  // namespace dray::fuzz
