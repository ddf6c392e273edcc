#include "core/proto/effects_hash.h"

#include "core/common/hash.h"
#include "core/proto/codec.h"

namespace dray {

namespace {
msgpack::sbuffer& Scratch() {
  thread_local msgpack::sbuffer sb(4096);
  sb.clear();
  return sb;
}

template <class OnSend>
uint64_t Hash(const std::vector<Effect>& effects, OnSend&& on_send) {
  Hasher h;
  for (const auto& e : effects) {
    if (const auto* s = std::get_if<EfSend>(&e)) {
      Frame f = EncodeFrame(s->msg);
      uint64_t mh = HashFrame(f);
      h.U64(e.index()).U64(s->to.Key()).U64(mh);
      on_send(std::move(f), mh);
      continue;
    }
    msgpack::sbuffer& sb = Scratch();
    msgpack::pack(sb, e);
    h.U64(sb.size()).Bytes(sb.data(), sb.size());
  }
  return h.Done();
}
}  // namespace

uint64_t HashFrame(const Frame& f) {
  Hasher h;
  h.Str(f.header).U64(f.attachments.size());
  for (const auto& a : f.attachments) h.U64(a ? a->size() : 0).U64(a ? HashBytes(a->data(), a->size()) : 0);
  return h.Done();
}

uint64_t DeliveryHash(const Addr& from, uint64_t message_hash) {
  return Hasher().U64(from.Key()).U64(message_hash).Done();
}

uint64_t HashEffects(const std::vector<Effect>& effects) {
  return Hash(effects, [](Frame&&, uint64_t) {});
}

uint64_t HashEffectsKeepSends(const std::vector<Effect>& effects, std::vector<EncodedSend>* sends) {
  return Hash(effects, [&](Frame&& f, uint64_t mh) { sends->push_back({std::move(f), mh}); });
}

}  // namespace dray
