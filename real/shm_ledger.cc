#include "real/shm_ledger.h"

#include "core/common/assert.h"

namespace dray::real {

namespace {
std::string Range(uint64_t offset, uint64_t n) {
  return "[" + std::to_string(offset) + ", +" + std::to_string(n) + ")";
}
}  // namespace

ShmLedger::ShmLedger(std::shared_ptr<ShmArena> arena, uint64_t grant_max_bytes)
    : arena_(std::move(arena)),
      grant_max_bytes_(grant_max_bytes > 0 ? grant_max_bytes : (arena_ ? arena_->capacity() / 2 : 0)) {}

bool ShmLedger::Grant(uint64_t conn, uint64_t n, uint64_t* offset, std::string* why) {
  if (!arena_) {
    *why = "this node has no shared-memory store";
    return false;
  }
  Held& h = held_[conn];
  if (n == 0 || n > grant_max_bytes_ || h.granted_bytes > grant_max_bytes_ - n) {
    *why = "a grant of " + std::to_string(n) + " bytes would put this worker over its " +
           std::to_string(grant_max_bytes_) + " bytes of ranges not yet handed over (it holds " +
           std::to_string(h.granted_bytes) + ")";
    return false;
  }
  char* out = nullptr;
  internal::Bytes value;
  if (!arena_->Allocate(n, &out, &value)) {
    *why = "the store has no free range of " + std::to_string(n) + " bytes";
    return false;
  }
  bool in = arena_->Contains(value, offset);
  DRAY_ASSERT(in && value.size() == n, "a store allocation outside the store");
  DRAY_ASSERT(h.granted.count(*offset) == 0, "a store range granted twice");
  h.granted.emplace(*offset, std::move(value));
  h.granted_bytes += n;
  ++granted_count_;
  return true;
}

bool ShmLedger::HandOver(uint64_t conn, uint64_t offset, uint64_t n, internal::Bytes* value, std::string* why) {
  auto h = held_.find(conn);
  auto g = h == held_.end() ? std::map<uint64_t, internal::Bytes>::iterator{} : h->second.granted.find(offset);
  if (h == held_.end() || g == h->second.granted.end()) {
    bool handed = h != held_.end() && h->second.lent.count(offset) > 0;
    *why = "the range " + Range(offset, n) +
           (handed ? " was already handed over" : " was not granted to this connection");
    return false;
  }
  if (g->second.size() != n) {
    *why = "the range " + Range(offset, n) + " is not the " + std::to_string(g->second.size()) +
           " bytes granted at that offset";
    return false;
  }
  *value = g->second;
  h->second.lent.emplace(offset, std::move(g->second));  // the worker's own copy reads it until released
  h->second.granted_bytes -= n;
  h->second.granted.erase(g);
  --granted_count_;
  ++lent_count_;
  return true;
}

void ShmLedger::Lend(uint64_t conn, uint64_t offset, internal::Bytes value) {
  held_[conn].lent.emplace(offset, std::move(value));
  ++lent_count_;
}

bool ShmLedger::Release(uint64_t conn, uint64_t offset) {
  auto h = held_.find(conn);
  if (h == held_.end()) return false;
  if (auto l = h->second.lent.find(offset); l != h->second.lent.end()) {
    h->second.lent.erase(l);
    --lent_count_;
    return true;
  }
  if (auto g = h->second.granted.find(offset); g != h->second.granted.end()) {
    h->second.granted_bytes -= g->second.size();
    h->second.granted.erase(g);  // never handed over: the range is free again
    --granted_count_;
    return true;
  }
  return false;
}

void ShmLedger::Drop(uint64_t conn) {
  auto h = held_.find(conn);
  if (h == held_.end()) return;
  lent_count_ -= h->second.lent.size();
  granted_count_ -= h->second.granted.size();
  held_.erase(h);
  CheckCounts();
}

void ShmLedger::Clear() {
  held_.clear();
  lent_count_ = 0;
  granted_count_ = 0;
}

uint64_t ShmLedger::granted_bytes(uint64_t conn) const {
  auto h = held_.find(conn);
  return h == held_.end() ? 0 : h->second.granted_bytes;
}

void ShmLedger::CheckCounts() const {
  size_t lent = 0, granted = 0;
  for (const auto& [conn, h] : held_) {
    lent += h.lent.size();
    granted += h.granted.size();
  }
  DRAY_ASSERT(lent == lent_count_.load() && granted == granted_count_.load(), "the store ledger's counts drifted");
}

}  // namespace dray::real
