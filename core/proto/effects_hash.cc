#include "core/proto/effects_hash.h"

#include <unordered_map>

#include "core/common/hash.h"
#include "core/proto/codec.h"

namespace dray {

namespace {

// Attachments are immutable and ride in many messages (a value goes from a
// worker to its node, between nodes, to each task that reads it), so each
// one's hash is computed once and remembered while the payload lives. The
// weak_ptr tells a live payload from a new one at a reused address.
class AttachmentHashes {
 public:
  uint64_t Of(const Buf& a) {
    if (a.size() < kAttachMinBytes) return HashBytes(a.data(), a.size());
    Key key{a.data(), a.size()};
    auto it = map_.find(key);
    const auto& owner = a.owner();
    if (it != map_.end() && !it->second.owner.owner_before(owner) && !owner.owner_before(it->second.owner) &&
        !it->second.owner.expired())
      return it->second.hash;
    uint64_t h = HashBytes(a.data(), a.size());
    map_[key] = {owner, h};
    if (++inserts_ % 4096 == 0) Prune();
    return h;
  }

 private:
  void Prune() {
    for (auto it = map_.begin(); it != map_.end();) it = it->second.owner.expired() ? map_.erase(it) : std::next(it);
  }
  struct Key {
    const char* data;
    size_t size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<const void*>()(k.data) ^ (k.size * 0x9e3779b97f4a7c15ULL); }
  };
  struct Entry {
    std::weak_ptr<const char> owner;
    uint64_t hash = 0;
  };
  std::unordered_map<Key, Entry, KeyHash> map_;
  uint64_t inserts_ = 0;
};

uint64_t AttachmentHash(const Buf& a) {
  thread_local AttachmentHashes cache;
  return cache.Of(a);
}

// Packs `v` as a frame would (large payloads aside) and hashes that, so that
// a large payload is hashed once in its life.
template <class T>
void HashPacked(const T& v, Hasher& h) {
  msgpack::sbuffer& sb = ScratchBuffer();
  internal::FrameSink sink;
  internal::tls_frame_sink = &sink;
  struct Reset {
    ~Reset() { internal::tls_frame_sink = nullptr; }
  } reset;
  msgpack::pack(sb, v);
  internal::tls_frame_sink = nullptr;
  h.U64(sb.size()).Bytes(sb.data(), sb.size()).U64(sink.attachments.size());
  for (const auto& a : sink.attachments) h.U64(a.size()).U64(AttachmentHash(a));
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
    // Other effects carry values too (a task's arguments, a Get's results).
    HashPacked(e, h);
  }
  return h.Done();
}
}  // namespace


uint64_t HashFrame(const Frame& f) {
  Hasher h;
  h.Str(f.header).U64(f.attachments.size());
  for (const auto& a : f.attachments) h.U64(a.size()).U64(AttachmentHash(a));
  return h.Done();
}

uint64_t DeliveryHash(const Addr& from, uint64_t message_hash) {
  return Hasher().U64(from.Key()).U64(message_hash).Done();
}

uint64_t HashInput(const Input& in) {
  if (const auto* d = std::get_if<InDeliver>(&in)) return DeliveryHash(d->from, HashFrame(EncodeFrame(d->msg)));
  Hasher h;
  HashPacked(in, h);
  return h.Done();
}

uint64_t HashEffects(const std::vector<Effect>& effects) {
  return Hash(effects, [](Frame&&, uint64_t) {});
}

uint64_t HashEffectsKeepSends(const std::vector<Effect>& effects, std::vector<EncodedSend>* sends) {
  return Hash(effects, [&](Frame&& f, uint64_t mh) { sends->push_back({std::move(f), mh}); });
}

}  // namespace dray
