// The node's spill storage on the real backend (docs/operations.md,
// "Spilling"): the node manager's EfSpill / EfRestore / EfDeleteSpill carried
// out as files `<dir>/<key>` (the directory is made, mode 0700, at the first
// spill). A SpillDir's reads and writes are synchronous; the host runs them
// on its DiskThread, in the order the node manager asked for them, so the
// loop never waits for the disk (a 100 MB restore used to block it for the
// whole read).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/proto/messages.h"

namespace dray::real {

// One background thread running jobs in the order posted (started by the
// first). Stop drops the jobs not yet begun and joins.
class DiskThread {
 public:
  DiskThread() = default;
  ~DiskThread() { Stop(); }
  DiskThread(const DiskThread&) = delete;
  DiskThread& operator=(const DiskThread&) = delete;
  void Post(std::function<void()> job);  // any thread; after Stop, dropped
  void Stop();                           // any thread but its own; idempotent

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stopped_ = false;                    // guarded by mu_
  std::thread thread_;                      // started under mu_
};

// Used by one thread at a time (the host's DiskThread, then Stop's caller).
class SpillDir {
 public:
  explicit SpillDir(std::string dir) : dir_(std::move(dir)) {}
  ~SpillDir() { RemoveAll(); }
  SpillDir(const SpillDir&) = delete;
  SpillDir& operator=(const SpillDir&) = delete;

  const std::string& dir() const { return dir_; }
  // Writes `data` under `key`. If the file cannot be written (disk full, say)
  // the bytes stay in this process's memory instead, with one log line, so
  // that the restore still succeeds.
  void Write(uint64_t key, const Buf& data);
  // Reads `key` back: exactly `size` bytes, or false with *error saying why.
  bool Read(uint64_t key, uint64_t size, Buf* out, std::string* error);
  // Removes `key` (a missing one is no error).
  void Delete(uint64_t key);
  // Removes every file and the directory (Shutdown, dray stop).
  void RemoveAll();
  size_t files() const { return files_; }

 private:
  std::string Path(uint64_t key) const { return dir_ + "/" + std::to_string(key); }

  std::string dir_;
  bool made_ = false;
  size_t files_ = 0;
  std::map<uint64_t, Buf> kept_;  // bytes that could not be written
  bool warned_ = false;
};

}  // namespace dray::real
