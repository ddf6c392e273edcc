// The node's spill storage on the real backend (docs/operations.md,
// "Spilling"): the node manager's EfSpill / EfRestore / EfDeleteSpill carried
// out as files `<dir>/<key>` (the directory is made, mode 0700, at the first
// spill). Used on the host's loop thread only; reads and writes are
// synchronous (a 100 MB restore blocks the loop for its read).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "core/proto/messages.h"

namespace dray::real {

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
