// The handshake state machines (real/handshake.h), driven by hand: the right
// token, wrong tokens on either side, replayed transcripts, garbage.
#include "real/handshake.h"

#include <gtest/gtest.h>

#include <string>

#include "core/common/prng.h"

namespace dray::real {
namespace {

Nonce Fill(uint8_t b) {
  Nonce n;
  n.fill(b);
  return n;
}

std::string Hex(const std::array<uint8_t, kMacBytes>& mac) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (uint8_t c : mac) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

bool Has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// What each side sent, in order.
struct Transcript {
  std::string hello, challenge, proof, result;
};

// Runs a whole handshake; returns both final steps.
std::pair<HandshakeStep, HandshakeStep> RunHandshake(const std::string& client_token, const std::string& server_token,
                                            Nonce nc, Nonce ns, Transcript* t = nullptr) {
  ClientHandshake c(client_token, nc);
  ServerHandshake s(server_token, ns);
  Transcript local;
  if (!t) t = &local;
  t->hello = c.Hello();
  HandshakeStep s1 = s.OnBody(t->hello);
  if (s1.status != HandshakeStep::kContinue) return {HandshakeStep{}, s1};
  t->challenge = s1.send;
  HandshakeStep c1 = c.OnBody(t->challenge);
  if (c1.status != HandshakeStep::kContinue) return {c1, s1};
  t->proof = c1.send;
  HandshakeStep s2 = s.OnBody(t->proof);
  t->result = s2.send;
  HandshakeStep c2 = c.OnBody(t->result);
  return {c2, s2};
}

TEST(Handshake, MacMatchesAnIndependentHmac) {
  // Golden values from `openssl dgst -sha256 -hmac` and Python's hmac module.
  EXPECT_EQ(Hex(HandshakeMac("test-token-0123456789", kServerLabel, Fill(1), Fill(2))),
            "92e99e997a82488cb95805e11c1bfd6f30e435fa031936186b24caaf7ba9eb7b");
  EXPECT_EQ(Hex(HandshakeMac("test-token-0123456789", kClientLabel, Fill(1), Fill(2))),
            "b39e08190c20c7a18e5c940fc44c82a8cedf4b4d3569e2d804cfd39eaf3c291a");
}

TEST(Handshake, RightTokenBothSidesDone) {
  Transcript t;
  auto [c, s] = RunHandshake("the-cluster-token", "the-cluster-token", Fill(1), Fill(2), &t);
  EXPECT_EQ(c.status, HandshakeStep::kDone) << c.error;
  EXPECT_EQ(s.status, HandshakeStep::kDone) << s.error;
  EXPECT_EQ(t.hello.size(), 34u);
  EXPECT_EQ(t.challenge.size(), 65u);
  EXPECT_EQ(t.proof.size(), 33u);
  EXPECT_EQ(t.result, std::string("\x04\x01", 2));
  // The token itself never travels.
  for (const std::string* b : {&t.hello, &t.challenge, &t.proof, &t.result})
    EXPECT_FALSE(Has(*b, "the-cluster-token"));
}

TEST(Handshake, ClientRefusesAServerWithoutTheToken) {
  auto [c, s] = RunHandshake("client-token-aaaa", "server-token-bbbb", Fill(1), Fill(2));
  EXPECT_EQ(c.status, HandshakeStep::kFailed);
  EXPECT_TRUE(Has(c.error, "the server does not know the cluster token")) << c.error;
  EXPECT_TRUE(c.send.empty()) << "no proof for an impostor";
}

TEST(Handshake, ServerRefusesAClientWithoutTheToken) {
  // A client that skips checking the server and proves with the wrong token.
  ServerHandshake s("server-token-bbbb", Fill(2));
  ClientHandshake c("server-token-bbbb", Fill(1));
  ASSERT_EQ(s.OnBody(c.Hello()).status, HandshakeStep::kContinue);
  std::string proof(1, static_cast<char>(HandshakeType::kProof));
  auto mac = HandshakeMac("client-token-aaaa", kClientLabel, Fill(1), Fill(2));
  proof.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  HandshakeStep r = s.OnBody(proof);
  EXPECT_EQ(r.status, HandshakeStep::kFailed);
  EXPECT_TRUE(Has(r.error, "wrong cluster token")) << r.error;
  EXPECT_EQ(r.send, std::string("\x04\x00", 2));  // RESULT: rejected
  EXPECT_FALSE(s.done());
  // The client, told so, says so.
  ClientHandshake c2("server-token-bbbb", Fill(1));
  ServerHandshake s2("server-token-bbbb", Fill(2));
  ASSERT_EQ(c2.OnBody(s2.OnBody(c2.Hello()).send).status, HandshakeStep::kContinue);
  HandshakeStep cr = c2.OnBody(r.send);
  EXPECT_EQ(cr.status, HandshakeStep::kFailed);
  EXPECT_TRUE(Has(cr.error, "rejected our cluster token")) << cr.error;
}

TEST(Handshake, ServerProofIsNotAClientProof) {
  // Reflection: send the server's own MAC back as the proof.
  ServerHandshake s("tok-tok-tok-tok-tok", Fill(2));
  ClientHandshake c("tok-tok-tok-tok-tok", Fill(1));
  HandshakeStep ch = s.OnBody(c.Hello());
  std::string proof(1, static_cast<char>(HandshakeType::kProof));
  proof += ch.send.substr(1 + kNonceBytes);
  EXPECT_EQ(s.OnBody(proof).status, HandshakeStep::kFailed);
  // Or the server's nonce as the client's.
  ServerHandshake s2("tok-tok-tok-tok-tok", Fill(2));
  ClientHandshake mirror("tok-tok-tok-tok-tok", Fill(2));
  HandshakeStep r = s2.OnBody(mirror.Hello());
  EXPECT_EQ(r.status, HandshakeStep::kFailed);
  EXPECT_TRUE(Has(r.error, "reflection")) << r.error;
}

TEST(Handshake, ReplayedTranscriptsProveNothing) {
  const std::string tok = "replay-token-0123";
  Transcript t;
  auto [c, s] = RunHandshake(tok, tok, Fill(1), Fill(2), &t);
  ASSERT_EQ(s.status, HandshakeStep::kDone);
  // An eavesdropper replays the client's side to a server with a new nonce.
  ServerHandshake s2(tok, Fill(3));
  ASSERT_EQ(s2.OnBody(t.hello).status, HandshakeStep::kContinue);
  HandshakeStep r = s2.OnBody(t.proof);
  EXPECT_EQ(r.status, HandshakeStep::kFailed);
  EXPECT_TRUE(Has(r.error, "wrong cluster token")) << r.error;
  // ... or the server's side to a client with a new nonce.
  ClientHandshake c2(tok, Fill(4));
  HandshakeStep rc = c2.OnBody(t.challenge);
  EXPECT_EQ(rc.status, HandshakeStep::kFailed);
  EXPECT_TRUE(Has(rc.error, "does not know the cluster token")) << rc.error;
}

TEST(Handshake, WrongShapesNameWhatWasWrong) {
  const std::string tok = "shape-token-01234";
  EXPECT_TRUE(Has(ServerHandshake(tok, Fill(2)).OnBody("").error, "empty handshake body where HELLO belongs"));
  EXPECT_TRUE(Has(ServerHandshake(tok, Fill(2)).OnBody(std::string("\x03", 1) + std::string(32, 'm')).error,
                  "PROOF (type 3) where HELLO belongs"));
  EXPECT_TRUE(Has(ServerHandshake(tok, Fill(2)).OnBody(std::string("\x01\x01", 2)).error,
                  "HELLO of 2 bytes, expected 34"));
  std::string hello2 = ClientHandshake(tok, Fill(1)).Hello();
  hello2[1] = 2;
  EXPECT_TRUE(Has(ServerHandshake(tok, Fill(2)).OnBody(hello2).error, "handshake version 2"));
  EXPECT_TRUE(Has(ClientHandshake(tok, Fill(1)).OnBody("\x63garbage").error, "an unknown body (type 99)"));
  // Bodies after the end.
  ClientHandshake c(tok, Fill(1));
  ServerHandshake s(tok, Fill(2));
  c.OnBody(s.OnBody(c.Hello()).send);
  ASSERT_TRUE(Has(s.OnBody(std::string(1, '\x03') + std::string(32, 0)).error, "wrong cluster token"));
  EXPECT_TRUE(Has(s.OnBody(c.Hello()).error, "after the handshake was over"));
}

TEST(Handshake, RandomGarbageNeverSucceedsOrCrashes) {
  Prng rng(11);
  const std::string tok = "garbage-token-012";
  for (int i = 0; i < 20000; ++i) {
    std::string body(rng.Below(80), '\0');
    for (auto& ch : body) ch = static_cast<char>(rng.Below(256));
    if (!body.empty() && rng.Chance(1, 2)) body[0] = static_cast<char>(1 + rng.Below(4));
    ServerHandshake s(tok, Fill(2));
    ClientHandshake c(tok, Fill(1));
    HandshakeStep a = s.OnBody(body);
    HandshakeStep b = c.OnBody(body);
    EXPECT_NE(b.status, HandshakeStep::kDone);
    if (a.status == HandshakeStep::kContinue) {  // a well-formed HELLO; random proofs must fail
      std::string proof(1, '\x03');
      for (size_t k = 0; k < kMacBytes; ++k) proof += static_cast<char>(rng.Below(256));
      EXPECT_EQ(s.OnBody(proof).status, HandshakeStep::kFailed);
    } else {
      EXPECT_FALSE(a.error.empty());
    }
  }
}

TEST(Handshake, RandomNoncesDiffer) {
  Nonce a, b;
  std::string err;
  ASSERT_TRUE(RandomNonce(&a, &err)) << err;
  ASSERT_TRUE(RandomNonce(&b, &err)) << err;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace dray::real
