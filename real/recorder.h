// Recording a real process (DESIGN §7, docs/operations.md "Recording and
// replay"): every input the host steps a component with, with the hash of the
// effects it caused, in the simulator's trace format (sim/trace.h), so that
// `dray replay` re-steps the process's components and checks every hash.
//
// The loop thread only encodes and hashes (Step); a writer thread of its own
// inserts the rows into SQLite, one transaction per batch, so the loop never
// waits on the file.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/common/step.h"

namespace dray::sim {
class TraceWriter;
}

namespace dray::real {

class Recorder {
 public:
  // Creates `dir` (if needed) and the trace `dir`/`name`.db. Throws
  // dray::Error naming the file when it cannot.
  static std::unique_ptr<Recorder> Open(const std::string& dir, const std::string& name,
                                        const std::map<std::string, std::string>& meta);
  ~Recorder();  // Close()
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  const std::string& path() const { return path_; }
  // A component at `a` built from `config` (its msgpack config, which holds
  // its PRNG seed). REQUIRES: before its first Step.
  void Create(TimeNs t, const Addr& a, const char* component, std::string config);
  // One step: the input, and the effects it caused (before they are carried out).
  void Step(TimeNs t, const Addr& a, const char* component, const Input& in, const std::vector<Effect>& effects);
  // Writes what is queued and the end record (steps, trace hash), closes the
  // file. Idempotent; any thread but the writer. Returns "" or the error.
  std::string Close();
  // Writes what is queued now (a process about to _exit).
  void Flush();

 private:
  struct Row {
    uint64_t seq = 0;
    TimeNs t = 0;
    Addr addr;
    const char* component = "";
    const char* kind = "";  // "create" or InputKind: static strings
    std::string payload;
    uint64_t effects_hash = 0;
  };
  Recorder() = default;
  void Push(Row r);
  void WriterLoop();

  std::string path_;
  std::unique_ptr<sim::TraceWriter> writer_;  // the writer thread's, once started
  uint64_t seq_ = 0;                          // the stepping thread's
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Row> queue_;       // guarded by mu_
  size_t queued_bytes_ = 0;      // guarded by mu_: payload bytes in queue_
  bool closing_ = false;         // guarded by mu_
  uint64_t flush_asked_ = 0;     // guarded by mu_
  uint64_t flush_done_ = 0;      // guarded by mu_
  bool closed_ = false;          // guarded by mu_
  std::string error_;            // guarded by mu_ (after the writer ended)
  std::thread thread_;
};

}  // namespace dray::real
