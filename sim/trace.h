// Traces (DESIGN §7): a SQLite file with a `meta` table and an `events` table
// (sequence, time, process, component, input kind, input payload, hash of the
// effects the input caused). `dray replay` re-steps every component from its
// recorded inputs; `dray timeline` turns a trace into Chrome trace JSON.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/common/step.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dray::sim {

class TraceWriter {
 public:
  // Throws dray::Error naming the file when it cannot be created.
  static std::unique_ptr<TraceWriter> Open(const std::string& path, const std::map<std::string, std::string>& meta);
  ~TraceWriter();
  // A component came to life with this config (its constructor's input).
  void Create(uint64_t seq, TimeNs t, const Addr& a, const char* component, const std::string& config);
  void Step(uint64_t seq, TimeNs t, const Addr& a, const char* component, const Input& in, uint64_t effects_hash);
  void SetMeta(const std::string& key, const std::string& value);
  void Close();

 private:
  TraceWriter() = default;
  void Insert(uint64_t seq, TimeNs t, const Addr& a, const char* component, const char* kind,
              const std::string& payload, uint64_t effects_hash);
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::string path_;
};

struct ReplayResult {
  bool ok = false;
  uint64_t events = 0;
  uint64_t components = 0;
  std::string error;  // the first divergence, or why the trace could not be read
};
// Re-steps every component of the trace and checks every effects hash.
ReplayResult Replay(const std::string& path);

// Writes Chrome trace JSON (one row per worker, a slice per task). Returns ""
// on success, else the error.
std::string WriteTimeline(const std::string& trace_path, const std::string& json_path);

const char* InputKind(const Input& in);

}  // namespace dray::sim
