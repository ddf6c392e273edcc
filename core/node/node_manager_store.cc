// The node manager's object store under pressure (docs/architecture.md, "The
// object store"): LRU bookkeeping, pinning of dispatched tasks' arguments,
// eviction of secondary copies, spilling of primary copies to the node's
// disk (effects), restores on demand (an effect whose completion comes back
// as ObjectRestored) and the fallback allocation when nothing can make room.
// Every operation is O(log n) in the store's size.
#include <algorithm>

#include "core/common/probe.h"
#include "core/node/node_manager.h"

namespace dray {

void NodeManager::LruAdd(const ObjectId& id, StoreEntry& e) {
  DRAY_ASSERT(e.lru == 0 && Evictable(id, e), "only an unpinned, unwanted copy in memory is evictable");
  e.lru = ++lru_clock_;
  (e.primary ? lru_primary_ : lru_secondary_).emplace(e.lru, id);
}

void NodeManager::LruRemove(const ObjectId& id, StoreEntry& e) {
  if (e.lru == 0) return;
  size_t n = (e.primary ? lru_primary_ : lru_secondary_).erase(e.lru);
  DRAY_ASSERT(n == 1, "an evictable entry missing from its LRU list");
  (void)id;
  e.lru = 0;
}

void NodeManager::Touch(const ObjectId& id, StoreEntry& e) {
  if (e.lru == 0) return;
  LruRemove(id, e);
  LruAdd(id, e);
}

void NodeManager::Pin(const ObjectId& id, Lease& l) {
  auto it = store_.find(id);
  DRAY_ASSERT(it != store_.end() && it->second.in_memory, "pinning an object that is not in memory");
  StoreEntry& e = it->second;
  if (e.pins++ == 0) LruRemove(id, e);
  l.pinned.emplace_back(id, e.seq);
}

void NodeManager::WantArgs(const TaskSpec& spec) {
  for (const auto& a : spec.args) {
    if (a.kind != TaskArg::kRef || !a.in_store) continue;
    if (wanted_[a.ref.id]++ != 0) continue;
    if (auto it = store_.find(a.ref.id); it != store_.end()) LruRemove(a.ref.id, it->second);
  }
}

void NodeManager::UnwantArgs(const TaskSpec& spec) {
  for (const auto& a : spec.args) {
    if (a.kind != TaskArg::kRef || !a.in_store) continue;
    auto w = wanted_.find(a.ref.id);
    DRAY_ASSERT(w != wanted_.end() && w->second > 0, "a queued task's argument was not wanted");
    if (--w->second != 0) continue;
    wanted_.erase(w);
    if (auto it = store_.find(a.ref.id); it != store_.end() && it->second.lru == 0 && Evictable(a.ref.id, it->second))
      LruAdd(a.ref.id, it->second);
  }
}

void NodeManager::UnpinAll(Lease& l) {
  for (const auto& [id, seq] : l.pinned) {
    auto it = store_.find(id);
    if (it == store_.end() || it->second.seq != seq) continue;  // freed meanwhile
    StoreEntry& e = it->second;
    DRAY_ASSERT(e.pins > 0, "unpinning an unpinned object");
    if (--e.pins == 0 && Evictable(id, e)) LruAdd(id, e);
  }
  l.pinned.clear();
}

std::vector<ObjectId> NodeManager::ArgsToFetchAgain(const TaskSpec& spec) const {
  std::vector<ObjectId> out;
  for (const auto& a : spec.args) {
    if (a.kind != TaskArg::kRef || !a.in_store || InMemory(a.ref.id)) continue;
    // Gone with its dead owner: not fetched again (the caller fails the task).
    if (!store_.count(a.ref.id) && OwnerDead(a.ref.owner)) continue;
    if (std::find(out.begin(), out.end(), a.ref.id) == out.end()) out.push_back(a.ref.id);
  }
  return out;
}

bool NodeManager::MakeRoom(uint64_t bytes, Context& cx) {
  const uint64_t cap = cfg_.store_capacity_bytes;
  if (bytes > cap) return false;  // bigger than the whole store: emptying it would not help
  while (store_used_ + bytes > cap) {
    // Copies of the ids: evicting or spilling erases their LRU nodes.
    if (!lru_secondary_.empty()) {
      ObjectId id = lru_secondary_.begin()->second;
      Evict(id, cx);
    } else if (!lru_primary_.empty()) {
      ObjectId id = lru_primary_.begin()->second;
      Spill(id, cx);
    } else {
      return false;  // everything left is pinned
    }
  }
  return true;
}

// A secondary copy goes; its owner forgets the location (a pull already on
// its way here gets found=false and tries the next location).
void NodeManager::Evict(const ObjectId& id, Context& cx) {
  auto it = store_.find(id);
  DRAY_ASSERT(it != store_.end() && !it->second.primary && it->second.in_memory && it->second.pins == 0,
              "evicting what may not be evicted");
  DRAY_PROBE("node.store.evicted");
  ++store_evictions_;
  std::vector<Addr> owners = it->second.owners;
  DropEntry(it, cx);
  TellOwnersCopyGone(owners, id, cx);
}

// Every live owner of an object forgets this node as one of its locations.
void NodeManager::TellOwnersCopyGone(const std::vector<Addr>& owners, const ObjectId& id, Context& cx) {
  for (const Addr& owner : owners)
    if (!OwnerDead(owner)) cx.Send(owner, RemoveObjectLocation{id, cfg_.node});
}

// A primary copy's bytes go to disk; its metadata stays. An object restored
// earlier still has its spill file: nothing is written again.
void NodeManager::Spill(const ObjectId& id, Context& cx) {
  auto it = store_.find(id);
  DRAY_ASSERT(it != store_.end() && it->second.primary && it->second.in_memory && it->second.pins == 0,
              "spilling what may not be spilled");
  StoreEntry& e = it->second;
  LruRemove(id, e);
  if (e.spill_key == 0) {
    DRAY_PROBE("node.store.spilled");
    e.spill_key = next_spill_key_++;
    ++store_spills_;
    cx.Emit(EfSpill{e.spill_key, id, e.value.data});
  } else {
    DRAY_PROBE("node.store.spilled_again");  // its file is still there
  }
  e.value.data = Buf();
  e.in_memory = false;
  store_used_ -= e.size;
  ++spilled_objects_;
}

void NodeManager::StartRestore(const ObjectId& id, StoreEntry& e, Context& cx) {
  DRAY_ASSERT(!e.in_memory && e.spill_key != 0, "restoring an object that is not spilled");
  if (e.restoring) return;
  DRAY_PROBE("node.store.restore");
  e.restoring = true;
  ++store_restores_;
  cx.Emit(EfRestore{e.spill_key, id, e.size});
}

void NodeManager::OnRestored(const ObjectRestored& m, Context& cx) {
  auto it = store_.find(m.id);
  // Freed (its file deleted) or dropped while the read was out: nothing to do.
  if (it == store_.end() || !it->second.restoring || it->second.spill_key != m.key) return;
  StoreEntry& e = it->second;
  e.restoring = false;
  if (!m.ok || m.data.size() != e.size) {
    // The disk lost it: this copy is gone. Its owner forgets the location
    // (and rebuilds the object from lineage if no copy is left).
    DRAY_PROBE("node.store.restore_failed");
    std::string why = "object " + m.id.Str() + ": its spilled copy on node " + std::to_string(cfg_.node) +
                      " could not be read back: " +
                      (m.ok ? std::to_string(m.data.size()) + " bytes, not " + std::to_string(e.size) : m.error);
    std::vector<Addr> owners = e.owners;
    DropEntry(it, cx);
    TellOwnersCopyGone(owners, m.id, cx);
    PullFailed(m.id, why, cx);
    return;
  }
  if (!MakeRoom(e.size, cx)) {
    DRAY_PROBE("node.store.fallback");
    ++store_overflows_;
  }
  e.value.data = m.data;
  e.in_memory = true;
  store_used_ += e.size;
  DRAY_ASSERT(spilled_objects_ > 0);
  --spilled_objects_;
  if (Evictable(m.id, e)) LruAdd(m.id, e);
  ServeWaitingPulls(m.id, cx);
  ObjectArrived(m.id, cx);
}

void NodeManager::ServeWaitingPulls(const ObjectId& id, Context& cx) {
  auto w = waiting_pulls_.find(id);
  if (w == waiting_pulls_.end()) return;
  auto reqs = std::move(w->second);
  waiting_pulls_.erase(w);
  for (const auto& [from, chunk] : reqs) OnPullRequest(from, PullObject{id, chunk}, cx);
}

NodeManager::StoreIt NodeManager::DropEntry(StoreIt it, Context& cx) {
  StoreEntry& e = it->second;
  LruRemove(it->first, e);
  if (e.in_memory) {
    DRAY_ASSERT(store_used_ >= e.size);
    store_used_ -= e.size;
  } else {
    DRAY_ASSERT(spilled_objects_ > 0);
    --spilled_objects_;
  }
  if (e.spill_key != 0) {
    DRAY_PROBE("node.store.spill_deleted");
    cx.Emit(EfDeleteSpill{e.spill_key});
  }
  ObjectId id = it->first;
  auto next = store_.erase(it);
  // Pull requests that waited for its restore: it is not here any more.
  auto w = waiting_pulls_.find(id);
  if (w != waiting_pulls_.end()) {
    auto reqs = std::move(w->second);
    waiting_pulls_.erase(w);
    for (const auto& [from, chunk] : reqs) {
      ObjectChunk c;
      c.id = id;
      c.found = false;
      cx.Send(from, std::move(c));
    }
  }
  return next;
}

}  // namespace dray
