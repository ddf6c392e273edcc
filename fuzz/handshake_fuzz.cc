// libFuzzer target for the handshake as a connection runs it: the first byte
// picks the side (even: server, odd: client), the rest is the peer's byte
// stream, read by a FrameReader with the pre-authentication limits; each
// handshake frame's body goes to the state machine until it is done or fails.
// Properties (a violation aborts): nothing crashes or throws; a failure names
// its reason; after a failure nothing succeeds; a side is done only when the
// peer proved the token (the body it accepted carries the right HMAC).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz/handshake_fuzz.h"
#include "real/wire_frame.h"

namespace {

using dray::real::HandshakeStep;

[[noreturn]] void Fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "handshake_fuzz: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string Mac(std::string_view label, const dray::real::Nonce& nc, const dray::real::Nonce& ns) {
  auto m = dray::real::HandshakeMac(dray::fuzz::kFuzzToken, label, nc, ns);
  return std::string(reinterpret_cast<const char*>(m.data()), m.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool server = (data[0] & 1) == 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  dray::real::ServerHandshake s(dray::fuzz::kFuzzToken, dray::fuzz::kFuzzServerNonce);
  dray::real::ClientHandshake c(dray::fuzz::kFuzzToken, dray::fuzz::kFuzzClientNonce);
  dray::real::FrameReader reader(dray::real::kHandshakeLimits);
  std::string first;  // the server's HELLO as received
  bool over = false;
  while (!over) {
    size_t used = 0;
    auto st = reader.Feed(in.data(), in.size(), &used);
    in.remove_prefix(used);
    if (st != dray::real::FrameReader::Status::kFrame) break;
    dray::real::WireFrame f = reader.Take();
    if (f.kind != dray::real::FrameKind::kHandshake) break;  // the connection closes here
    const std::string& body = f.frame.header;
    HandshakeStep step = server ? s.OnBody(body) : c.OnBody(body);
    switch (step.status) {
      case HandshakeStep::kFailed:
        if (step.error.empty()) Fail("a failure without a reason");
        // Any further body fails too.
        if ((server ? s.OnBody(body) : c.OnBody(body)).status != HandshakeStep::kFailed)
          Fail("a body after a failure did not fail");
        over = true;
        break;
      case HandshakeStep::kContinue:
        if (step.send.empty()) Fail("continue without a body to send");
        if (server && first.empty()) first = body;
        if (!server) {  // the client answered a CHALLENGE: it must have carried the server's proof
          dray::real::Nonce ns;
          std::memcpy(ns.data(), body.data() + 1, ns.size());
          if (body.substr(1 + ns.size()) != Mac(dray::real::kServerLabel, dray::fuzz::kFuzzClientNonce, ns))
            Fail("the client accepted a server without the token");
        }
        break;
      case HandshakeStep::kDone:
        if (server) {
          dray::real::Nonce nc;
          if (first.size() != 2 + nc.size()) Fail("the server finished without a HELLO");
          std::memcpy(nc.data(), first.data() + 2, nc.size());
          if (body.substr(1) != Mac(dray::real::kClientLabel, nc, dray::fuzz::kFuzzServerNonce))
            Fail("the server accepted a client without the token");
          if (!s.done()) Fail("kDone but not done()");
        } else if (!c.done()) {
          Fail("kDone but not done()");
        }
        over = true;
        break;
    }
  }
  return 0;
}
