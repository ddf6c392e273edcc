#include "real/handshake.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>

#include "core/common/assert.h"

namespace dray::real {
namespace {

constexpr size_t kHelloBytes = 2 + kNonceBytes;                  // type, version, Nc
constexpr size_t kChallengeBytes = 1 + kNonceBytes + kMacBytes;  // type, Ns, server MAC
constexpr size_t kProofBytes = 1 + kMacBytes;                    // type, client MAC
constexpr size_t kResultBytes = 2;                               // type, accepted

const char* TypeName(uint8_t t) {
  switch (static_cast<HandshakeType>(t)) {
    case HandshakeType::kHello: return "HELLO";
    case HandshakeType::kChallenge: return "CHALLENGE";
    case HandshakeType::kProof: return "PROOF";
    case HandshakeType::kResult: return "RESULT";
  }
  return "an unknown body";
}

// Checks that `body` is a `type` body of exactly `size` bytes.
bool Expect(std::string_view body, HandshakeType type, size_t size, std::string* error) {
  const char* want = TypeName(static_cast<uint8_t>(type));
  if (body.empty()) {
    *error = std::string("an empty handshake body where ") + want + " belongs";
    return false;
  }
  auto got = static_cast<uint8_t>(body[0]);
  if (got != static_cast<uint8_t>(type)) {
    *error = std::string("handshake body ") + TypeName(got) + " (type " + std::to_string(got) + ") where " + want +
             " belongs";
    return false;
  }
  if (body.size() != size) {
    *error = std::string(want) + " of " + std::to_string(body.size()) + " bytes, expected " + std::to_string(size);
    return false;
  }
  return true;
}

void Append(std::string* s, const uint8_t* p, size_t n) { s->append(reinterpret_cast<const char*>(p), n); }

bool MacEquals(const std::array<uint8_t, kMacBytes>& want, std::string_view got) {
  DRAY_ASSERT(got.size() == kMacBytes);
  return CRYPTO_memcmp(want.data(), got.data(), kMacBytes) == 0;
}

}  // namespace

std::array<uint8_t, kMacBytes> HandshakeMac(std::string_view token, std::string_view label, const Nonce& client_nonce,
                                            const Nonce& server_nonce) {
  std::string msg(label);
  Append(&msg, client_nonce.data(), kNonceBytes);
  Append(&msg, server_nonce.data(), kNonceBytes);
  std::array<uint8_t, kMacBytes> mac{};
  unsigned int len = 0;
  const unsigned char* r = HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
                                reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac.data(), &len);
  DRAY_ASSERT(r != nullptr && len == kMacBytes, "HMAC-SHA256 failed");
  return mac;
}

bool RandomNonce(Nonce* out, std::string* error) {
  if (RAND_bytes(out->data(), static_cast<int>(out->size())) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    *error = std::string("no random bytes from OpenSSL (RAND_bytes): ") + buf;
    return false;
  }
  return true;
}

// ---- client ----

ClientHandshake::ClientHandshake(std::string token, const Nonce& nonce) : token_(std::move(token)), nonce_(nonce) {
  DRAY_ASSERT(!token_.empty(), "an empty cluster token");
}

std::string ClientHandshake::Hello() const {
  std::string s;
  s.push_back(static_cast<char>(HandshakeType::kHello));
  s.push_back(static_cast<char>(kHandshakeVersion));
  Append(&s, nonce_.data(), kNonceBytes);
  DRAY_ASSERT(s.size() == kHelloBytes);
  return s;
}

HandshakeStep ClientHandshake::Fail(std::string why) {
  state_ = State::kFailed;
  return HandshakeStep{HandshakeStep::kFailed, "", std::move(why)};
}

HandshakeStep ClientHandshake::OnBody(std::string_view body) {
  std::string error;
  switch (state_) {
    case State::kWaitChallenge: {
      if (!Expect(body, HandshakeType::kChallenge, kChallengeBytes, &error)) return Fail(error);
      Nonce server_nonce;
      std::memcpy(server_nonce.data(), body.data() + 1, kNonceBytes);
      if (server_nonce == nonce_) return Fail("the server echoed our nonce (a reflection?)");
      // Prove nothing to a server that cannot prove itself.
      if (!MacEquals(HandshakeMac(token_, kServerLabel, nonce_, server_nonce), body.substr(1 + kNonceBytes)))
        return Fail("the server does not know the cluster token (its proof does not match ours)");
      std::string proof;
      proof.push_back(static_cast<char>(HandshakeType::kProof));
      auto mac = HandshakeMac(token_, kClientLabel, nonce_, server_nonce);
      Append(&proof, mac.data(), mac.size());
      DRAY_ASSERT(proof.size() == kProofBytes);
      state_ = State::kWaitResult;
      return HandshakeStep{HandshakeStep::kContinue, std::move(proof), ""};
    }
    case State::kWaitResult: {
      if (!Expect(body, HandshakeType::kResult, kResultBytes, &error)) return Fail(error);
      if (body[1] == 0) return Fail("the server rejected our cluster token (is this the right cluster?)");
      if (body[1] != 1) return Fail("RESULT with an unknown verdict " + std::to_string(static_cast<uint8_t>(body[1])));
      state_ = State::kDone;
      return HandshakeStep{HandshakeStep::kDone, "", ""};
    }
    case State::kDone:
    case State::kFailed:
      break;
  }
  return Fail("a handshake body after the handshake was over");
}

// ---- server ----

ServerHandshake::ServerHandshake(std::string token, const Nonce& nonce) : token_(std::move(token)), nonce_(nonce) {
  DRAY_ASSERT(!token_.empty(), "an empty cluster token");
}

HandshakeStep ServerHandshake::Fail(std::string why, bool tell_peer) {
  state_ = State::kFailed;
  HandshakeStep step{HandshakeStep::kFailed, "", std::move(why)};
  if (tell_peer) step.send = std::string{static_cast<char>(HandshakeType::kResult), 0};
  return step;
}

HandshakeStep ServerHandshake::OnBody(std::string_view body) {
  std::string error;
  switch (state_) {
    case State::kWaitHello: {
      if (!Expect(body, HandshakeType::kHello, kHelloBytes, &error)) return Fail(error, false);
      auto version = static_cast<uint8_t>(body[1]);
      if (version != kHandshakeVersion)
        return Fail("handshake version " + std::to_string(version) + ", this build speaks version " +
                        std::to_string(kHandshakeVersion),
                    false);
      std::memcpy(client_nonce_.data(), body.data() + 2, kNonceBytes);
      if (client_nonce_ == nonce_) return Fail("the client sent our own nonce (a reflection?)", false);
      std::string challenge;
      challenge.push_back(static_cast<char>(HandshakeType::kChallenge));
      Append(&challenge, nonce_.data(), kNonceBytes);
      auto mac = HandshakeMac(token_, kServerLabel, client_nonce_, nonce_);
      Append(&challenge, mac.data(), mac.size());
      DRAY_ASSERT(challenge.size() == kChallengeBytes);
      state_ = State::kWaitProof;
      return HandshakeStep{HandshakeStep::kContinue, std::move(challenge), ""};
    }
    case State::kWaitProof: {
      if (!Expect(body, HandshakeType::kProof, kProofBytes, &error)) return Fail(error, false);
      if (!MacEquals(HandshakeMac(token_, kClientLabel, client_nonce_, nonce_), body.substr(1)))
        return Fail("wrong cluster token (the client's proof does not match)", true);
      state_ = State::kDone;
      return HandshakeStep{HandshakeStep::kDone, std::string{static_cast<char>(HandshakeType::kResult), 1}, ""};
    }
    case State::kDone:
    case State::kFailed:
      break;
  }
  return Fail("a handshake body after the handshake was over", false);
}

}  // namespace dray::real
