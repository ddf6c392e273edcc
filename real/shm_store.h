// The node's object store memory (DESIGN §5, docs/architecture.md "The
// shared-memory store"): one shared-memory segment per node, made with
// memfd_create (it has no name in /dev/shm, so nothing is left behind, even
// by kill -9; it lives while a process maps it). The node's hub process maps
// it read-write and allocates every large value there: a driver's Put and a
// task's return are serialized straight into it, and values arriving from
// other processes are read from their socket into it. Its workers map it
// read-only and read a large object in place, without a copy.
//
// Allocation is first fit over free ranges ordered by offset, 64-byte
// aligned, coalescing on free; a value's Bytes gives its range back when its
// last copy is dropped, on any thread.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dray/internal/bytes.h"

namespace dray::real {

class ShmArena final : public internal::ValueArena, public std::enable_shared_from_this<ShmArena> {
 public:
  // A segment of `capacity` bytes; `prefault`: its pages are faulted in now
  // (MAP_POPULATE), else as they are first used (freed ranges stay faulted
  // in and are reused). Null with *error if the kernel refuses.
  static std::shared_ptr<ShmArena> Create(uint64_t capacity, bool prefault, std::string* error);
  ~ShmArena() override;
  ShmArena(const ShmArena&) = delete;
  ShmArena& operator=(const ShmArena&) = delete;

  bool Allocate(size_t n, char** out, internal::Bytes* owner) override;
  uint64_t allocations_total() const;  // successful Allocate calls, ever
  // Whether `b` lies wholly inside this segment, and at which offset.
  bool Contains(const internal::Bytes& b, uint64_t* offset) const;
  // What another process of this user opens to map the segment.
  std::string path() const;
  uint64_t capacity() const { return capacity_; }
  uint64_t used_bytes() const;
  size_t live_allocations() const;

 private:
  ShmArena() = default;
  void Free(uint64_t offset);

  int fd_ = -1;
  char* base_ = nullptr;
  uint64_t capacity_ = 0;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> free_;  // offset -> bytes; never adjacent
  std::map<uint64_t, uint64_t> used_;  // offset -> bytes
  uint64_t used_bytes_ = 0;
  uint64_t allocations_total_ = 0;
};

// A worker's mapping of its node's segment: read-write when it may write
// values into ranges its hub grants it (docs/protocol.md, "Shared-memory
// frames"), else read-only.
class ShmView : public std::enable_shared_from_this<ShmView> {
 public:
  static std::shared_ptr<ShmView> Open(const std::string& path, bool writable, std::string* error);
  ~ShmView();
  ShmView(const ShmView&) = delete;
  ShmView& operator=(const ShmView&) = delete;

  // The bytes [offset, offset + n) in place; `release(offset)` runs when
  // the last copy is dropped (any thread). False with *error when the range
  // is not inside the segment.
  bool Slice(uint64_t offset, uint64_t n, std::function<void(uint64_t)> release, internal::Bytes* out,
             std::string* error);
  uint64_t size() const { return size_; }
  // The mapping's first byte; writable() says whether it may be written.
  char* base() const { return base_; }
  bool writable() const { return writable_; }

 private:
  ShmView() = default;
  char* base_ = nullptr;
  bool writable_ = false;
  uint64_t size_ = 0;
};

}  // namespace dray::real
