#include "real/spill.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace dray::real {

namespace {
bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}
}  // namespace

void DiskThread::Post(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  jobs_.push_back(std::move(job));
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  cv_.notify_one();
}

void DiskThread::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    jobs_.clear();
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void DiskThread::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
    if (stopped_) return;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

void SpillDir::Write(uint64_t key, const Buf& data) {
  std::string why;
  if (!made_) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) why = "cannot make " + dir_ + ": " + ec.message();
    else {
      ::chmod(dir_.c_str(), 0700);
      made_ = true;
    }
  }
  if (why.empty()) {
    std::string path = Path(key);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      why = "cannot create " + path + ": " + std::strerror(errno);
    } else {
      bool ok = WriteAll(fd, data.data(), data.size());
      int err = errno;
      ::close(fd);
      if (ok) {
        ++files_;
        return;
      }
      why = "cannot write " + path + ": " + std::strerror(err);
      ::unlink(path.c_str());
    }
  }
  if (!warned_) {
    std::fprintf(stderr, "dray: spilling: %s; keeping spilled objects in memory instead\n", why.c_str());
    warned_ = true;
  }
  kept_[key] = data;
}

bool SpillDir::Read(uint64_t key, uint64_t size, Buf* out, std::string* error) {
  if (auto it = kept_.find(key); it != kept_.end()) {
    *out = it->second;
    return true;
  }
  std::string path = Path(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open spill file " + path + ": " + std::strerror(errno);
    return false;
  }
  // A file of another size is not what was spilled under this key.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) != size) {
    ::close(fd);
    *error = "spill file " + path + " holds " + std::to_string(st.st_size) + " bytes, not " + std::to_string(size);
    return false;
  }
  // Restored into the node's shared-memory store when it has room (its
  // workers then read it in place), else onto the heap.
  char* dst = nullptr;
  Buf owner;
  internal::ValueArena* arena = size >= internal::kArenaMinBytes ? internal::CurrentValueArena() : nullptr;
  std::string data;
  const bool in_store = arena && arena->Allocate(size, &dst, &owner);
  if (!in_store) {
    data.resize(size);
    dst = data.data();
    owner = Buf();
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = ::read(fd, dst + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  if (got != size) {
    *error = "spill file " + path + " holds " + std::to_string(got) + " bytes, not " + std::to_string(size);
    return false;
  }
  *out = in_store ? std::move(owner) : Buf(std::move(data));
  return true;
}

void SpillDir::Delete(uint64_t key) {
  if (kept_.erase(key)) return;
  if (::unlink(Path(key).c_str()) == 0 && files_ > 0) --files_;
}

void SpillDir::RemoveAll() {
  kept_.clear();
  if (!made_) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (ec) std::fprintf(stderr, "dray: could not remove the spill directory %s: %s\n", dir_.c_str(), ec.message().c_str());
  made_ = false;
  files_ = 0;
}

}  // namespace dray::real
