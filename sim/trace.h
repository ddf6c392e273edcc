// Traces (DESIGN §7): a SQLite file with a `meta` table and an `events` table
// (sequence, time, process, component, input kind, input payload, hash of the
// effects the input caused). `dray replay` re-steps every component from its
// recorded inputs; `dray timeline` turns a trace into Chrome trace JSON.
//
// Schema:
//   meta(key TEXT PRIMARY KEY, value TEXT)
//   events(seq INTEGER, time_ns INTEGER, node INTEGER, proc INTEGER,
//          component TEXT, kind TEXT, payload BLOB, effects_hash INTEGER)
// Rows are in the order they happened (rowid). A "create" row brings a
// component to life at (node, proc): `component` is its Kind() ("gcs", "node",
// "driver", "worker") and `payload` its config (msgpack). Every other row is
// one Step: `kind` is InputKind(input), `payload` EncodeInput(input) and
// `effects_hash` HashEffects(effects) as a signed 64-bit reinterpretation.
// `seq` is the simulator's event counter when the row was written; several
// rows may share one (a user call steps its Owner inside an event).
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
  // Creates the file (an existing one is deleted first). Throws dray::Error
  // naming the file and SQLite's message when it cannot be created.
  static std::unique_ptr<TraceWriter> Open(const std::string& path, const std::map<std::string, std::string>& meta);
  // Commits what was written if Close() was not called.
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // A component came to life with this config (its constructor's input).
  void Create(uint64_t seq, TimeNs t, const Addr& a, const char* component, const std::string& config);
  void Step(uint64_t seq, TimeNs t, const Addr& a, const char* component, const Input& in, uint64_t effects_hash);
  // The same row with the input already encoded (EncodeInput) and named
  // (InputKind): for a writer on another thread than the one that stepped.
  void StepEncoded(uint64_t seq, TimeNs t, const Addr& a, const char* component, const char* kind,
                   const std::string& payload, uint64_t effects_hash);
  // Commits the rows written so far (a later crash keeps them) and goes on.
  void Commit();
  void SetMeta(const std::string& key, const std::string& value);
  // Commits and closes. Throws dray::Error if a write failed on the way (the
  // first failure is also printed to stderr when it happens: Create and Step
  // run on the event loop and never throw).
  void Close();

 private:
  TraceWriter() = default;
  void Insert(uint64_t seq, TimeNs t, const Addr& a, const char* component, const char* kind,
              const std::string& payload, uint64_t effects_hash);
  void Fail(const std::string& what);  // records the first write failure
  void Finish();                       // commit, finalize, close; sets error_ on failure
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::string path_;
  std::string error_;
  uint64_t rows_ = 0;
  uint64_t rows_hash_ = 0;  // meta "rows_hash", written by Close
};

struct ReplayResult {
  bool ok = false;
  uint64_t events = 0;      // steps replayed (not counting "create" rows)
  uint64_t components = 0;  // "create" rows
  std::string error;  // the first divergence, or why the trace could not be read
  std::string note;   // with ok: what could not be checked (a run that did not finish)
};
// Re-steps every component of the trace and checks every effects hash. Never
// throws; a divergence or an unreadable trace gives ok=false and the error.
// (A DRAY_ASSERT that fails inside a component still aborts: see
// CurrentReplayEvent.)
ReplayResult Replay(const std::string& path);

// The event Replay is stepping on this thread, as text ("" when none): for a
// crash handler, since a failed invariant inside a component aborts.
const char* CurrentReplayEvent();

// Writes Chrome trace JSON (one row per worker and driver, a slice per task
// executed, an instant per Get/Wait). Returns "" on success, else the error.
std::string WriteTimeline(const std::string& trace_path, const std::string& json_path);

// The run's chained hash (RunStats::trace_hash, meta "trace_hash"): over
// every step in order, so Replay can tell when events are missing, added or
// reordered, which per-event effects hashes alone cannot. World and Replay
// must compute it alike.
uint64_t InputHash(const Input& in);
uint64_t ChainHash(uint64_t prev, TimeNs t, const Addr& a, uint64_t input_hash, uint64_t effects_hash);

// "deliver:<MessageName>", "timer", or "cmd:<start|submit|put|get|wait|
// add_ref|remove_ref|task_returned>".
const char* InputKind(const Input& in);

}  // namespace dray::sim
