// The hashes a trace checks (DESIGN §7): of a step's effects and of a
// delivered message. Defined once here so that the simulator, which hashes
// while it runs, and `dray replay`, which re-steps a trace, agree.
//
// A sent message is hashed from its frame (codec.h), once: an `EfSend`
// contributes its destination and the hash of its frame, and a delivery's
// input hash is the sender and that same message hash. So a simulator that
// already encoded the message for the network never hashes its bytes twice.
#pragma once
#include <string>
#include <vector>

#include "core/common/step.h"
#include "core/proto/codec.h"

namespace dray {

// Hash of a step's effects (the trace's per-event check).
uint64_t HashEffects(const std::vector<Effect>& effects);

// The same hash, keeping what it encoded: for every `EfSend` in `effects`, in
// order, the encoded message and its hash are appended to `sends`.
struct EncodedSend {
  Frame frame;
  uint64_t hash = 0;
};
uint64_t HashEffectsKeepSends(const std::vector<Effect>& effects, std::vector<EncodedSend>* sends);

// Hash of an encoded message: its header and its attachments' sizes and bytes.
uint64_t HashFrame(const Frame& f);
// The input hash of a delivery: who sent it and the hash of its bytes.
uint64_t DeliveryHash(const Addr& from, uint64_t message_hash);
// The hash of any input: a delivery's as above (the sim, which has the frame's
// hash already, calls DeliveryHash itself), others from their encoding.
uint64_t HashInput(const Input& in);

}  // namespace dray
