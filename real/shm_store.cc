#include "real/shm_store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/common/assert.h"

namespace dray::real {

namespace {
constexpr uint64_t kAlign = 64;
uint64_t RoundUp(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

std::shared_ptr<ShmArena> ShmArena::Create(uint64_t capacity, bool prefault, std::string* error) {
  capacity = RoundUp(std::max<uint64_t>(capacity, kAlign));
  int fd = memfd_create("dray-object-store", MFD_CLOEXEC);
  if (fd < 0) {
    *error = std::string("memfd_create: ") + std::strerror(errno);
    return nullptr;
  }
  if (ftruncate(fd, static_cast<off_t>(capacity)) != 0) {
    *error = "sizing the object store to " + std::to_string(capacity) + " bytes: " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | (prefault ? MAP_POPULATE : 0), fd, 0);
  if (p == MAP_FAILED) {
    *error = "mapping the object store (" + std::to_string(capacity) + " bytes): " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  std::shared_ptr<ShmArena> a(new ShmArena());
  a->fd_ = fd;
  a->base_ = static_cast<char*>(p);
  a->capacity_ = capacity;
  a->free_[0] = capacity;
  return a;
}

ShmArena::~ShmArena() {
  if (base_) munmap(base_, capacity_);
  if (fd_ >= 0) close(fd_);
}

bool ShmArena::Allocate(size_t n, char** out, internal::Bytes* owner) {
  uint64_t want = RoundUp(std::max<uint64_t>(n, 1));
  uint64_t offset = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.begin();
    while (it != free_.end() && it->second < want) ++it;
    if (it == free_.end()) return false;
    offset = it->first;
    uint64_t left = it->second - want;
    free_.erase(it);
    if (left > 0) free_[offset + want] = left;
    used_[offset] = want;
    used_bytes_ += want;
    ++allocations_total_;
  }
  *out = base_ + offset;
  std::shared_ptr<ShmArena> keep = shared_from_this();  // the segment outlives its values
  *owner = internal::Bytes(std::shared_ptr<const char>(base_ + offset,
                                                        [keep = std::move(keep), offset](const char*) {
                                                          keep->Free(offset);
                                                        }),
                           n);
  return true;
}

void ShmArena::Free(uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto u = used_.find(offset);
  DRAY_ASSERT(u != used_.end(), "freeing a range of the object store that is not allocated");
  uint64_t size = u->second;
  used_.erase(u);
  used_bytes_ -= size;
  auto next = free_.lower_bound(offset);
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    DRAY_ASSERT(prev->first + prev->second <= offset, "free ranges overlap");
    if (prev->first + prev->second == offset) {
      offset = prev->first;
      size += prev->second;
      free_.erase(prev);
    }
  }
  if (next != free_.end()) {
    DRAY_ASSERT(offset + size <= next->first, "free ranges overlap");
    if (offset + size == next->first) {
      size += next->second;
      free_.erase(next);
    }
  }
  free_[offset] = size;
}

bool ShmArena::Contains(const internal::Bytes& b, uint64_t* offset) const {
  const char* p = b.data();
  if (b.empty() || p < base_ || p + b.size() > base_ + capacity_) return false;
  *offset = static_cast<uint64_t>(p - base_);
  return true;
}

std::string ShmArena::path() const {
  return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd_);
}

uint64_t ShmArena::used_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_bytes_;
}

uint64_t ShmArena::allocations_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return allocations_total_;
}

size_t ShmArena::live_allocations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_.size();
}

std::shared_ptr<ShmView> ShmView::Open(const std::string& path, bool writable, std::string* error) {
  int fd = open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    *error = "opening the node's object store " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    *error = "the node's object store " + path + " has no size";
    close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  close(fd);  // the mapping keeps the segment
  if (p == MAP_FAILED) {
    *error = "mapping the node's object store " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::shared_ptr<ShmView> v(new ShmView());
  v->base_ = static_cast<char*>(p);
  v->size_ = static_cast<uint64_t>(st.st_size);
  v->writable_ = writable;
  return v;
}

ShmView::~ShmView() {
  if (base_) munmap(base_, size_);
}

bool ShmView::Slice(uint64_t offset, uint64_t n, std::function<void(uint64_t)> release, internal::Bytes* out,
                    std::string* error) {
  if (offset > size_ || n > size_ - offset) {
    *error = "a shared-memory range [" + std::to_string(offset) + ", +" + std::to_string(n) +
             ") outside the node's object store of " + std::to_string(size_) + " bytes";
    return false;
  }
  auto keep = shared_from_this();
  *out = internal::Bytes(std::shared_ptr<const char>(base_ + offset,
                                                      [keep = std::move(keep), release = std::move(release),
                                                       offset](const char*) {
                                                        if (release) release(offset);
                                                      }),
                         n);
  return true;
}

}  // namespace dray::real
