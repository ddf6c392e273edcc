// The cluster-token handshake (DESIGN §5): mutual challenge-response with
// HMAC-SHA256, run before any other frame. Both sides prove they know the
// token without sending it; each proof covers both sides' fresh nonces, so a
// recorded transcript proves nothing on a new connection. The proofs carry
// different labels, so one side's proof is never valid as the other's.
//
//   client                                   server
//   HELLO     {version, Nc}            ->
//                                      <-    CHALLENGE {Ns, HMAC(token, "dray-v1 server" Nc Ns)}
//   PROOF     {HMAC(token, "dray-v1 client" Nc Ns)} ->
//                                      <-    RESULT {accepted}
//
// The state machines here are I/O-free (the nonces are given to them; real
// ones come from RandomNonce) so they can be unit-tested and fuzzed; each body
// travels as the header of a FrameKind::kHandshake frame. The token
// authenticates the peer, not the stream: there is no encryption.
// docs/protocol.md, "Handshake", has the byte layout.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dray::real {

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;
inline constexpr uint8_t kHandshakeVersion = 1;
using Nonce = std::array<uint8_t, kNonceBytes>;

// Body types (the first byte of a handshake body).
enum class HandshakeType : uint8_t { kHello = 1, kChallenge = 2, kProof = 3, kResult = 4 };

struct HandshakeStep {
  enum Status { kContinue, kDone, kFailed };
  Status status = kContinue;
  std::string send;   // a body to send (may be set with kFailed: the server's rejection)
  std::string error;  // kFailed: what went wrong
};

class ClientHandshake {
 public:
  // REQUIRES: token not empty; nonce fresh from RandomNonce.
  ClientHandshake(std::string token, const Nonce& nonce);
  std::string Hello() const;  // the first body to send
  HandshakeStep OnBody(std::string_view body);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kWaitChallenge, kWaitResult, kDone, kFailed };
  HandshakeStep Fail(std::string why);
  std::string token_;
  Nonce nonce_;
  State state_ = State::kWaitChallenge;
};

class ServerHandshake {
 public:
  // REQUIRES: token not empty; nonce fresh from RandomNonce.
  ServerHandshake(std::string token, const Nonce& nonce);
  HandshakeStep OnBody(std::string_view body);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kWaitHello, kWaitProof, kDone, kFailed };
  HandshakeStep Fail(std::string why, bool tell_peer);
  std::string token_;
  Nonce nonce_;
  Nonce client_nonce_{};
  State state_ = State::kWaitHello;
};

// A nonce from OpenSSL's CSPRNG; false with *error if it has no entropy.
bool RandomNonce(Nonce* out, std::string* error);

// HMAC-SHA256(token, label || client_nonce || server_nonce). Exposed for tests.
std::array<uint8_t, kMacBytes> HandshakeMac(std::string_view token, std::string_view label, const Nonce& client_nonce,
                                            const Nonce& server_nonce);
inline constexpr std::string_view kServerLabel = "dray-v1 server";
inline constexpr std::string_view kClientLabel = "dray-v1 client";

}  // namespace dray::real
