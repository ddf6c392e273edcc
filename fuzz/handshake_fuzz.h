// Shared by the handshake fuzz target and its seeds: the fixed token and
// nonces the target runs with (a fuzzer cannot forge an HMAC, so the seeds
// carry a valid transcript for these values).
#pragma once
#include "real/handshake.h"

namespace dray::fuzz {

inline constexpr const char* kFuzzToken = "fuzz-cluster-token-0123456789";
inline real::Nonce FuzzNonce(uint8_t b) {
  real::Nonce n;
  n.fill(b);
  return n;
}
inline const real::Nonce kFuzzClientNonce = FuzzNonce(0xa5);  // the target's client
inline const real::Nonce kFuzzServerNonce = FuzzNonce(0x5a);  // the target's server

}  // namespace dray::fuzz
