// A hub's account of the store ranges its workers hold (docs/protocol.md,
// "Shared-memory frames"; docs/architecture.md, "The shared-memory store").
// The allocator stays in the hub (ShmArena); a worker only ever holds ranges
// the ledger says it holds:
//  - granted: the worker asked for n bytes (`shm-grant`) to write a value
//    into; the hub keeps the allocation until the worker hands it over (a
//    kRoutedShm descriptor) or gives it back (`shm-release`) or goes;
//  - lent: the worker reads the range in place (the hub sent it a kRoutedShm
//    descriptor, or the worker handed the range over and still has its own
//    copy); the hub keeps the value alive until `shm-release` or the worker
//    goes.
// Every range held is the hub's ordinary store value (a ShmArena Bytes), so
// dropping a connection's entries frees whatever only it held.
//
// Not thread-safe: the hub's loop thread only. The counts are atomics, for
// tests and status from any thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "real/shm_store.h"

namespace dray::real {

class ShmLedger {
 public:
  // `grant_max_bytes`: what one connection may hold granted and not yet
  // handed over (0: half the store).
  ShmLedger(std::shared_ptr<ShmArena> arena, uint64_t grant_max_bytes);
  ShmLedger(const ShmLedger&) = delete;
  ShmLedger& operator=(const ShmLedger&) = delete;

  // A worker asks for `n` bytes: its offset, or false with *why (over the
  // connection's bound, or the store is full: the worker uses its heap).
  bool Grant(uint64_t conn, uint64_t n, uint64_t* offset, std::string* why);
  // A descriptor (offset, n) from `conn`: the value it names, which becomes
  // the hub's; the range moves from granted to lent (the worker may still
  // read its copy). False with *why when `conn` was not granted exactly that
  // range (never granted, already handed over, another size).
  bool HandOver(uint64_t conn, uint64_t offset, uint64_t n, internal::Bytes* value, std::string* why);
  // The hub sends `value` (at `offset`) to `conn` in place.
  void Lend(uint64_t conn, uint64_t offset, internal::Bytes value);
  // `conn` no longer holds its range at `offset`: one lent entry there goes,
  // else the grant there is freed. False when it held none.
  bool Release(uint64_t conn, uint64_t offset);
  // The connection closed: whatever it held goes.
  void Drop(uint64_t conn);
  void Clear();

  size_t lent_ranges() const { return lent_count_.load(); }
  size_t granted_ranges() const { return granted_count_.load(); }
  uint64_t granted_bytes(uint64_t conn) const;
  uint64_t grant_max_bytes() const { return grant_max_bytes_; }

 private:
  struct Held {
    std::multimap<uint64_t, internal::Bytes> lent;  // offset -> value (a range may be lent more than once)
    std::map<uint64_t, internal::Bytes> granted;    // offset -> allocation, not yet written or handed over
    uint64_t granted_bytes = 0;
  };
  void CheckCounts() const;

  std::shared_ptr<ShmArena> arena_;
  uint64_t grant_max_bytes_;
  std::map<uint64_t, Held> held_;  // by connection
  std::atomic<size_t> lent_count_{0};
  std::atomic<size_t> granted_count_{0};
};

}  // namespace dray::real
