// Immutable shared bytes: an object's payload wherever its memory lives (a
// heap string, a slice of another payload, a node's shared-memory store).
// Copies share the memory; whoever owns it is behind the shared_ptr's
// control block and is released with the last copy, on any thread.
#pragma once
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace dray::internal {

class Bytes {
 public:
  Bytes() = default;
  // Takes the string (no copy of its characters).
  explicit Bytes(std::string s) {
    auto owner = std::make_shared<const std::string>(std::move(s));
    n_ = owner->size();
    p_ = std::shared_ptr<const char>(owner, owner->data());
  }
  // `n` bytes at `p`, alive while `p` (or its owner) is.
  Bytes(std::shared_ptr<const char> p, size_t n) : p_(std::move(p)), n_(p_ ? n : 0) {}

  const char* data() const { return p_ ? p_.get() : ""; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::string_view view() const { return {data(), n_}; }
  // Bytes [offset, offset + n) of these, sharing their memory.
  // REQUIRES: offset + n <= size().
  Bytes Slice(size_t offset, size_t n) const { return Bytes(std::shared_ptr<const char>(p_, data() + offset), n); }
  // Whoever keeps the memory alive (null when empty and never set).
  const std::shared_ptr<const char>& owner() const { return p_; }
  bool operator==(const Bytes& o) const { return view() == o.view(); }

 private:
  std::shared_ptr<const char> p_;
  size_t n_ = 0;
};

// Where large serialized values are written: a backend may install one per
// process (the real backend's node store: shared memory, faulted in ahead).
// Allocate returns `n` writable bytes and the Bytes that will own them once
// written, or false (then the heap is used). Called from any thread.
class ValueArena {
 public:
  virtual ~ValueArena() = default;
  virtual bool Allocate(size_t n, char** out, Bytes* owner) = 0;
};
// REQUIRES: no Serialize is running when it changes (Init / Shutdown).
void SetValueArena(ValueArena* arena);
ValueArena* CurrentValueArena();
// Values of this size or more go to the arena (when there is one).
inline constexpr size_t kArenaMinBytes = 64 * 1024;
// `n` bytes written by `fill(char* out)`, in the arena when large enough and
// there is room, else on the heap.
template <class Fill>
Bytes AllocateValue(size_t n, Fill&& fill) {
  ValueArena* arena = n >= kArenaMinBytes ? CurrentValueArena() : nullptr;
  char* out = nullptr;
  Bytes owner;
  if (arena && arena->Allocate(n, &out, &owner)) {
    fill(out);
    return owner;
  }
  std::shared_ptr<char[]> heap(new char[n]);  // not zeroed: `fill` writes every byte
  fill(heap.get());
  return Bytes(std::shared_ptr<const char>(heap, heap.get()), n);
}

}  // namespace dray::internal
