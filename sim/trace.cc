#include "sim/trace.h"

#include "core/proto/effects_hash.h"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "core/common/hash.h"
#include "core/gcs/control_service.h"
#include "core/node/node_manager.h"
#include "core/owner/owner.h"
#include "core/proto/codec.h"
#include "dray/errors.h"

namespace dray::sim {

namespace {

// The value of meta "format": a reader refuses a format it does not know.
constexpr const char* kTraceFormat = "dray-trace/1";
// Rows per transaction. The pages of a transaction stay in memory until it
// commits (cache_spill off), so a run that aborts (a failed DRAY_ASSERT)
// leaves a readable trace of everything up to the last commit.
constexpr uint64_t kRowsPerCommit = 8192;

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%016" PRIx64, v);
  return b;
}

// RAII for the read side.
struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

// Text from a trace as it may appear in a message: printable ASCII, bounded
// (a corrupt trace must not put raw bytes on the terminal; SQLite quotes
// pieces of a corrupt schema in its messages too).
std::string Shown(const std::string& s, size_t limit = 64) {
  std::string o;
  for (size_t i = 0; i < s.size() && i < limit; ++i) o += s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
  return s.size() > limit ? o + "..." : o;
}

std::string Column(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

// Opens a trace read-only and prepares `sql` over it. Returns "" or the error.
std::string OpenTrace(const std::string& path, Db& db, Stmt& scan, const char* sql) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "trace " + path + ": no such file";
  if (std::filesystem::is_directory(path, ec)) return "trace " + path + ": is a directory";
  if (sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return "trace " + path + ": cannot open: " + (db.db ? sqlite3_errmsg(db.db) : "out of memory");
  // The format check also makes SQLite read the header: a file that is not a
  // database fails here with "file is not a database".
  Stmt fmt;
  if (sqlite3_prepare_v2(db.db, "SELECT value FROM meta WHERE key = 'format'", -1, &fmt.s, nullptr) != SQLITE_OK)
    return "trace " + path + ": not a dray trace (" + sqlite3_errmsg(db.db) + ")";
  int rc = sqlite3_step(fmt.s);
  if (rc == SQLITE_ROW) {
    std::string f = Column(fmt.s, 0);
    if (f != kTraceFormat)
      return "trace " + path + ": format '" + Shown(f) + "' is not one this build reads (" + kTraceFormat + ")";
  } else if (rc != SQLITE_DONE) {
    return "trace " + path + ": cannot read meta: " + sqlite3_errmsg(db.db);
  }
  if (sqlite3_prepare_v2(db.db, sql, -1, &scan.s, nullptr) != SQLITE_OK)
    return "trace " + path + ": not a dray trace (" + sqlite3_errmsg(db.db) + ")";
  return "";
}

// One row of the events table, checked for types and ranges.
struct Row {
  int64_t rowid = 0;
  uint64_t seq = 0;
  int64_t time_ns = 0;
  Addr addr;
  std::string component;
  std::string kind;
  const char* payload = nullptr;
  size_t payload_size = 0;
  bool has_hash = false;
  uint64_t effects_hash = 0;
};

// Column order: rowid, seq, time_ns, node, proc, component, kind, payload, effects_hash.
constexpr const char* kScanAll =
    "SELECT rowid, seq, time_ns, node, proc, component, kind, payload, effects_hash FROM events ORDER BY rowid";

bool ReadRow(sqlite3_stmt* s, Row* r, std::string* error) {
  r->rowid = sqlite3_column_int64(s, 0);
  std::string at = "event #" + std::to_string(r->rowid);
  for (int i : {2, 3, 4}) {
    if (sqlite3_column_type(s, i) != SQLITE_INTEGER) {
      *error = at + ": column " + sqlite3_column_name(s, i) + " is not an integer";
      return false;
    }
  }
  r->seq = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
  r->time_ns = sqlite3_column_int64(s, 2);
  int64_t node = sqlite3_column_int64(s, 3);
  int64_t proc = sqlite3_column_int64(s, 4);
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  if (node < 0 || node > kMax || proc < 0 || proc > kMax) {
    *error = at + ": process n" + std::to_string(node) + ".p" + std::to_string(proc) + " is out of range";
    return false;
  }
  r->addr = Addr{static_cast<NodeId>(node), static_cast<uint32_t>(proc)};
  if (sqlite3_column_type(s, 5) != SQLITE_TEXT || sqlite3_column_type(s, 6) != SQLITE_TEXT) {
    *error = at + ": component or kind is not text";
    return false;
  }
  r->component = Column(s, 5);
  r->kind = Column(s, 6);
  int pt = sqlite3_column_type(s, 7);
  if (pt != SQLITE_BLOB && pt != SQLITE_NULL) {
    *error = at + ": payload is not a blob";
    return false;
  }
  r->payload = static_cast<const char*>(sqlite3_column_blob(s, 7));
  r->payload_size = r->payload ? static_cast<size_t>(sqlite3_column_bytes(s, 7)) : 0;
  r->has_hash = sqlite3_column_type(s, 8) == SQLITE_INTEGER;
  r->effects_hash = static_cast<uint64_t>(sqlite3_column_int64(s, 8));
  return true;
}

// A checksum over every row as written, kept in meta "rows_hash": it catches
// an altered row that still replays (a seed never drawn from, say).
uint64_t RowHash(uint64_t prev, uint64_t seq, TimeNs t, const Addr& a, std::string_view component,
                 std::string_view kind, const char* payload, size_t payload_size, uint64_t effects_hash) {
  return Hasher()
      .U64(prev)
      .U64(seq)
      .U64(static_cast<uint64_t>(t))
      .U64(a.Key())
      .Str(component)
      .Str(kind)
      .U64(payload_size)
      .Bytes(payload, payload_size)
      .U64(effects_hash)
      .Done();
}

std::string Where(const Row& r) {
  return "event #" + std::to_string(r.rowid) + " (seq " + std::to_string(r.seq) + ", time " +
         std::to_string(r.time_ns) + " ns, process " + r.addr.Str() + ", component " + Shown(r.component) +
         ", input " + Shown(r.kind) + ")";
}

// Builds the component a "create" row names, from its config; sets *seed.
std::unique_ptr<Component> MakeComponent(const Row& r, uint64_t* seed, std::string* error) {
  std::string err;
  if (r.component == "gcs") {
    ControlServiceConfig c;
    if (!Unpack(r.payload, r.payload_size, &c, &err)) {
      *error = "cannot decode the control service config: " + err;
      return nullptr;
    }
    if (c.addr != r.addr) {
      *error = "the config names process " + c.addr.Str();
      return nullptr;
    }
    *seed = c.seed;
    return std::make_unique<ControlService>(c);
  }
  if (r.component == "node") {
    NodeManagerConfig c;
    if (!Unpack(r.payload, r.payload_size, &c, &err)) {
      *error = "cannot decode the node manager config: " + err;
      return nullptr;
    }
    if (c.node != r.addr.node || r.addr.proc != kNodeManagerProc) {
      *error = "the config names node " + std::to_string(c.node);
      return nullptr;
    }
    *seed = c.seed;
    return std::make_unique<NodeManager>(c);
  }
  if (r.component == "driver" || r.component == "worker") {
    OwnerConfig c;
    if (!Unpack(r.payload, r.payload_size, &c, &err)) {
      *error = "cannot decode the owner config: " + err;
      return nullptr;
    }
    if (c.addr != r.addr) {
      *error = "the config names process " + c.addr.Str();
      return nullptr;
    }
    if (c.is_worker != (r.component == "worker")) {
      *error = std::string("the config says ") + (c.is_worker ? "worker" : "driver");
      return nullptr;
    }
    *seed = c.seed;
    return std::make_unique<Owner>(c);
  }
  *error = "unknown component kind '" + Shown(r.component) + "' (known: gcs, node, driver, worker)";
  return nullptr;
}

// What Replay steps now, for CurrentReplayEvent (plain data: read from a
// crash handler).
struct ReplayPos {
  bool active = false;
  int64_t rowid = 0;
  uint64_t seq = 0;
  int64_t time_ns = 0;
  Addr addr;
  char component[16] = {};
  char kind[48] = {};
};
thread_local ReplayPos g_pos;

void CopyTo(char* dst, size_t n, const std::string& s) {
  size_t k = std::min(n - 1, s.size());
  s.copy(dst, k);
  dst[k] = '\0';
}

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

std::map<std::string, std::string> ReadMeta(sqlite3* db) {
  std::map<std::string, std::string> m;
  Stmt s;
  if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta ORDER BY key", -1, &s.s, nullptr) != SQLITE_OK) return m;
  while (sqlite3_step(s.s) == SQLITE_ROW) m[Column(s.s, 0)] = Column(s.s, 1);
  return m;
}

std::string Micros(int64_t ns) {
  char b[40];
  std::snprintf(b, sizeof b, "%.3f", static_cast<double>(ns) / 1000.0);
  return b;
}

}  // namespace

// ---- input kinds ----

const char* InputKind(const Input& in) {
  static const std::vector<std::string> kDeliver = [] {
    std::vector<std::string> v;
    for (size_t i = 0; i < std::variant_size_v<Message>; ++i) v.push_back(std::string("deliver:") + MessageName(i));
    return v;
  }();
  static constexpr const char* kCommands[] = {"cmd:start", "cmd:submit",  "cmd:put",        "cmd:get",
                                              "cmd:wait",  "cmd:add_ref", "cmd:remove_ref", "cmd:task_returned",
                                              "cmd:create_actor", "cmd:get_actor", "cmd:kill_actor"};
  static_assert(std::size(kCommands) == std::variant_size_v<Command>, "name every command");
  if (const auto* d = std::get_if<InDeliver>(&in))
    return d->msg.index() < kDeliver.size() ? kDeliver[d->msg.index()].c_str() : "deliver:?";
  if (std::holds_alternative<InTimer>(in)) return "timer";
  if (const auto* c = std::get_if<InCommand>(&in))
    return c->cmd.index() < std::size(kCommands) ? kCommands[c->cmd.index()] : "cmd:?";
  return "?";
}

uint64_t InputHash(const Input& in) { return HashInput(in); }

uint64_t ChainHash(uint64_t prev, TimeNs t, const Addr& a, uint64_t input_hash, uint64_t effects_hash) {
  return Hasher().U64(prev).U64(static_cast<uint64_t>(t)).U64(a.Key()).U64(input_hash).U64(effects_hash).Done();
}

// ---- writer ----

std::unique_ptr<TraceWriter> TraceWriter::Open(const std::string& path,
                                               const std::map<std::string, std::string>& meta) {
  std::unique_ptr<TraceWriter> w(new TraceWriter());
  w->path_ = path;
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw Error("dray: trace " + path + ": exists and is not a regular file");
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
  if (sqlite3_open_v2(path.c_str(), &w->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string msg = w->db_ ? sqlite3_errmsg(w->db_) : "out of memory";
    sqlite3_close(w->db_);
    w->db_ = nullptr;
    throw Error("dray: cannot create trace " + path + ": " + msg);
  }
  auto exec = [&](const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(w->db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : sqlite3_errmsg(w->db_);
      sqlite3_free(msg);
      throw Error("dray: cannot create trace " + path + ": " + m);
    }
  };
  // Big transactions (kRowsPerCommit rows), no journal, no fsync: a trace is
  // rewritten, never recovered.
  exec("PRAGMA journal_mode=OFF");
  exec("PRAGMA synchronous=OFF");
  exec("PRAGMA cache_spill=OFF");
  exec("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)");
  exec("CREATE TABLE events(seq INTEGER, time_ns INTEGER, node INTEGER, proc INTEGER, component TEXT, kind TEXT, "
       "payload BLOB, effects_hash INTEGER)");
  exec("BEGIN");
  w->SetMeta("format", kTraceFormat);
  for (const auto& [k, v] : meta) w->SetMeta(k, v);
  if (!w->error_.empty()) throw Error("dray: cannot create " + w->error_);
  if (sqlite3_prepare_v2(w->db_,
                         "INSERT INTO events(seq, time_ns, node, proc, component, kind, payload, effects_hash) "
                         "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                         -1, &w->insert_, nullptr) != SQLITE_OK)
    throw Error("dray: cannot create trace " + path + ": " + sqlite3_errmsg(w->db_));
  return w;
}

TraceWriter::~TraceWriter() { Finish(); }

void TraceWriter::Fail(const std::string& what) {
  if (!error_.empty()) return;
  error_ = "trace " + path_ + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "closed");
}

void TraceWriter::Insert(uint64_t seq, TimeNs t, const Addr& a, const char* component, const char* kind,
                         const std::string& payload, uint64_t effects_hash) {
  if (!insert_ || !error_.empty()) return;  // after a failure the trace is incomplete: stop writing
  rows_hash_ = RowHash(rows_hash_, seq, t, a, component, kind, payload.data(), payload.size(), effects_hash);
  sqlite3_bind_int64(insert_, 1, static_cast<int64_t>(seq));
  sqlite3_bind_int64(insert_, 2, t);
  sqlite3_bind_int64(insert_, 3, a.node);
  sqlite3_bind_int64(insert_, 4, a.proc);
  sqlite3_bind_text(insert_, 5, component, -1, SQLITE_STATIC);
  sqlite3_bind_text(insert_, 6, kind, -1, SQLITE_STATIC);
  sqlite3_bind_blob64(insert_, 7, payload.data(), payload.size(), SQLITE_STATIC);
  sqlite3_bind_int64(insert_, 8, static_cast<int64_t>(effects_hash));
  int rc = sqlite3_step(insert_);
  sqlite3_reset(insert_);
  if (rc != SQLITE_DONE)
    Fail("write failed");
  else if (++rows_ % kRowsPerCommit == 0 && sqlite3_exec(db_, "COMMIT; BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
    Fail("commit failed");
  if (!error_.empty()) std::fprintf(stderr, "dray: %s; the trace stops here\n", error_.c_str());
}

void TraceWriter::Create(uint64_t seq, TimeNs t, const Addr& a, const char* component, const std::string& config) {
  Insert(seq, t, a, component, "create", config, 0);
}

void TraceWriter::Step(uint64_t seq, TimeNs t, const Addr& a, const char* component, const Input& in,
                       uint64_t effects_hash) {
  Insert(seq, t, a, component, InputKind(in), EncodeInput(in), effects_hash);
}

void TraceWriter::StepEncoded(uint64_t seq, TimeNs t, const Addr& a, const char* component, const char* kind,
                              const std::string& payload, uint64_t effects_hash) {
  Insert(seq, t, a, component, kind, payload, effects_hash);
}

void TraceWriter::Commit() {
  if (!db_ || !error_.empty()) return;
  if (sqlite3_exec(db_, "COMMIT; BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    Fail("commit failed");
    std::fprintf(stderr, "dray: %s; the trace stops here\n", error_.c_str());
  }
}

void TraceWriter::SetMeta(const std::string& key, const std::string& value) {
  if (!db_) {
    Fail("meta '" + key + "' set after Close");
    return;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &s, nullptr) != SQLITE_OK) {
    Fail("cannot write meta '" + key + "'");
    return;
  }
  sqlite3_bind_text(s, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  sqlite3_bind_text(s, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) Fail("cannot write meta '" + key + "'");
  sqlite3_finalize(s);
}

void TraceWriter::Finish() {
  if (!db_) return;
  sqlite3_finalize(insert_);
  insert_ = nullptr;
  if (sqlite3_get_autocommit(db_) == 0 && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
    Fail("commit failed");
  if (sqlite3_close(db_) != SQLITE_OK) Fail("close failed");
  db_ = nullptr;
}

void TraceWriter::Close() {
  if (db_) SetMeta("rows_hash", std::to_string(rows_hash_));
  Finish();
  if (!error_.empty()) throw Error("dray: " + error_);
}

// ---- replay ----

const char* CurrentReplayEvent() {
  thread_local char buf[256];
  if (!g_pos.active) return "";
  std::snprintf(buf, sizeof buf, "event #%" PRId64 " (seq %" PRIu64 ", time %" PRId64 " ns, process n%u.p%u, "
                "component %s, input %s)", g_pos.rowid, g_pos.seq, g_pos.time_ns, g_pos.addr.node,
                g_pos.addr.proc, g_pos.component, g_pos.kind);
  return buf;
}

namespace {
ReplayResult ReplayImpl(const std::string& path);
std::string WriteTimelineImpl(const std::string& trace_path, const std::string& json_path);
}  // namespace

ReplayResult Replay(const std::string& path) {
  ReplayResult r = ReplayImpl(path);
  r.error = Shown(r.error, 4096);
  return r;
}

std::string WriteTimeline(const std::string& trace_path, const std::string& json_path) {
  return Shown(WriteTimelineImpl(trace_path, json_path), 4096);
}

namespace {

ReplayResult ReplayImpl(const std::string& path) {
  ReplayResult res;
  struct PosReset {
    ~PosReset() { g_pos.active = false; }
  } pos_reset;
  try {
    Db db;
    Stmt scan;
    res.error = OpenTrace(path, db, scan, kScanAll);
    if (!res.error.empty()) return res;

    struct Live {
      std::unique_ptr<Component> comp;
      Prng rng;
    };
    std::map<uint64_t, Live> live;
    std::vector<Effect> effects;
    uint64_t chain = 0;
    uint64_t rows = 0;
    Row r;
    std::string err;
    while (true) {
      int rc = sqlite3_step(scan.s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        res.error = "trace " + path + ": cannot read events after event #" + std::to_string(r.rowid) + ": " +
                    sqlite3_errmsg(db.db);
        return res;
      }
      if (!ReadRow(scan.s, &r, &err)) {
        res.error = "trace " + path + ": " + err;
        return res;
      }
      rows = RowHash(rows, r.seq, r.time_ns, r.addr, r.component, r.kind, r.payload, r.payload_size, r.effects_hash);
      if (r.kind == "create") {
        uint64_t seed = 0;
        std::unique_ptr<Component> comp = MakeComponent(r, &seed, &err);
        if (!comp) {
          res.error = Where(r) + ": cannot create the component: " + err;
          return res;
        }
        // A process created again at one address replaces the old one.
        live[r.addr.Key()] = Live{std::move(comp), Prng(seed)};
        ++res.components;
        continue;
      }
      auto it = live.find(r.addr.Key());
      if (it == live.end()) {
        res.error = Where(r) + ": an input for a process the trace never created";
        return res;
      }
      Live& l = it->second;
      if (r.component != l.comp->Kind()) {
        res.error = Where(r) + ": the process was created as component " + l.comp->Kind();
        return res;
      }
      Input in;
      if (!DecodeInput(r.payload, r.payload_size, &in, &err)) {
        res.error = Where(r) + ": cannot decode the payload: " + err;
        return res;
      }
      if (r.kind != InputKind(in)) {
        res.error = Where(r) + ": the payload holds input " + InputKind(in);
        return res;
      }
      if (!r.has_hash) {
        res.error = Where(r) + ": effects_hash is not an integer";
        return res;
      }
      g_pos.active = true;
      g_pos.rowid = r.rowid;
      g_pos.seq = r.seq;
      g_pos.time_ns = r.time_ns;
      g_pos.addr = r.addr;
      CopyTo(g_pos.component, sizeof g_pos.component, Shown(r.component));
      CopyTo(g_pos.kind, sizeof g_pos.kind, Shown(r.kind));
      effects.clear();
      Context cx(r.time_ns, &l.rng, &effects);
      try {
        l.comp->Step(in, cx);
        l.comp->CheckInvariants();
      } catch (const std::exception& e) {
        res.error = Where(r) + ": the component threw: " + e.what();
        return res;
      }
      g_pos.active = false;
      uint64_t h = HashEffects(effects);
      if (h != r.effects_hash) {
        res.error = "divergence at " + Where(r) + ": recorded effects hash " + Hex(r.effects_hash) +
                    ", replay gives " + Hex(h) + " (" + std::to_string(effects.size()) + " effects)";
        return res;
      }
      chain = ChainHash(chain, r.time_ns, r.addr, InputHash(in), h);
      ++res.events;
    }
    // Every event matched on its own; the chained hash over all of them also
    // notices events that are missing, added or reordered.
    std::map<std::string, std::string> meta = ReadMeta(db.db);
    auto steps = meta.find("steps");
    if (steps != meta.end() && steps->second != std::to_string(res.events)) {
      res.error = "trace " + path + ": holds " + std::to_string(res.events) + " steps but its meta says " +
                  steps->second + ": events are missing or were added";
      return res;
    }
    if (steps == meta.end())
      res.note = "the trace has no end record (its run did not shut down cleanly): the events after its last "
                 "commit are missing, and the chained hash cannot be checked";
    auto th = meta.find("trace_hash");
    if (th != meta.end() && th->second != std::to_string(chain)) {
      res.error = "trace " + path + ": every event replays, but the chained hash over them is " +
                  std::to_string(chain) + " where its meta says " + th->second +
                  ": events are missing, added or reordered";
      return res;
    }
    auto rh = meta.find("rows_hash");
    if (rh != meta.end() && rh->second != std::to_string(rows)) {
      res.error = "trace " + path + ": every event replays, but the rows' checksum is " + std::to_string(rows) +
                  " where its meta says " + rh->second +
                  ": the file was altered after it was written (in a way that does not change what the "
                  "components do, e.g. a seed never drawn from)";
      return res;
    }
    res.ok = true;
  } catch (const std::exception& e) {
    res.ok = false;
    res.error = "trace " + path + ": " + e.what();
  }
  return res;
}

// ---- timeline ----

std::string WriteTimelineImpl(const std::string& trace_path, const std::string& json_path) {
  try {
    Db db;
    Stmt scan;
    std::string err = OpenTrace(
        trace_path, db, scan,
        "SELECT rowid, seq, time_ns, node, proc, component, kind, payload, effects_hash FROM events "
        "WHERE kind IN ('create', 'deliver:ExecuteTask', 'cmd:task_returned', 'cmd:get', 'cmd:wait') "
        "ORDER BY rowid");
    if (!err.empty()) return err;

    struct Running {
      int64_t start_ns = 0;
      TaskSpec spec;
    };
    struct Proc {
      std::string component;
      std::optional<Running> task;
    };
    std::map<uint64_t, Proc> procs;  // ordered: the JSON is deterministic
    std::string events;
    auto add = [&](const std::string& e) {
      if (!events.empty()) events += ",\n";
      events += e;
    };
    auto pid_tid = [](const Addr& a) {
      return "\"pid\":" + std::to_string(a.node) + ",\"tid\":" + std::to_string(a.proc);
    };
    auto slice = [&](const Addr& a, const Running& run, int64_t end_ns, const std::string& extra) {
      add("{\"name\":" + JsonString(run.spec.name) + ",\"cat\":\"task\",\"ph\":\"X\",\"ts\":" +
          Micros(run.start_ns) + ",\"dur\":" + Micros(end_ns - run.start_ns) + "," + pid_tid(a) +
          ",\"args\":{\"function\":" + JsonString(run.spec.function) + ",\"task\":\"" + Hex(run.spec.task.v) +
          "\",\"attempt\":" + std::to_string(run.spec.attempt) + extra + "}}");
    };
    Row r;
    Input in;
    int64_t last_ns = 0;
    while (true) {
      int rc = sqlite3_step(scan.s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return "trace " + trace_path + ": cannot read events: " + sqlite3_errmsg(db.db);
      if (!ReadRow(scan.s, &r, &err)) return "trace " + trace_path + ": " + err;
      last_ns = std::max(last_ns, r.time_ns);
      if (r.kind == "create") {
        Proc& p = procs[r.addr.Key()];
        if (p.task) slice(r.addr, *p.task, r.time_ns, ",\"unfinished\":true");  // created again
        p = Proc{r.component, std::nullopt};
        continue;
      }
      auto it = procs.find(r.addr.Key());
      if (it == procs.end()) return Where(r) + ": an input for a process the trace never created";
      Proc& p = it->second;
      if (!DecodeInput(r.payload, r.payload_size, &in, &err)) return Where(r) + ": cannot decode: " + err;
      if (const auto* d = std::get_if<InDeliver>(&in)) {
        const auto* ex = std::get_if<ExecuteTask>(&d->msg);
        if (!ex) return Where(r) + ": the payload holds input " + InputKind(in);
        if (p.task) slice(r.addr, *p.task, r.time_ns, ",\"unfinished\":true");
        p.task = Running{r.time_ns, ex->spec};
      } else if (const auto* c = std::get_if<InCommand>(&in)) {
        if (const auto* ret = std::get_if<CmdTaskReturned>(&c->cmd)) {
          if (!p.task) continue;  // a return without a start: nothing to draw
          bool is_error = !ret->returns.empty() && ret->returns[0].is_error;
          slice(r.addr, *p.task, r.time_ns, is_error ? ",\"error\":true" : "");
          p.task.reset();
        } else if (const auto* g = std::get_if<CmdGet>(&c->cmd)) {
          add("{\"name\":\"Get\",\"cat\":\"api\",\"ph\":\"i\",\"s\":\"t\",\"ts\":" + Micros(r.time_ns) + "," +
              pid_tid(r.addr) + ",\"args\":{\"refs\":" + std::to_string(g->refs.size()) + "}}");
        } else if (const auto* w = std::get_if<CmdWait>(&c->cmd)) {
          add("{\"name\":\"Wait\",\"cat\":\"api\",\"ph\":\"i\",\"s\":\"t\",\"ts\":" + Micros(r.time_ns) + "," +
              pid_tid(r.addr) + ",\"args\":{\"refs\":" + std::to_string(w->refs.size()) +
              ",\"num_returns\":" + std::to_string(w->num_returns) + "}}");
        }
      }
    }
    // Tasks still running when the trace ends (a killed worker, a stopped run).
    for (const auto& [key, p] : procs)
      if (p.task) slice(Addr{static_cast<NodeId>(key >> 32), static_cast<uint32_t>(key)}, *p.task, last_ns,
                        ",\"unfinished\":true");
    // Names: a process per node, a thread per driver and worker.
    std::set<NodeId> nodes;
    for (const auto& [key, p] : procs) {
      if (p.component != "driver" && p.component != "worker") continue;
      Addr a{static_cast<NodeId>(key >> 32), static_cast<uint32_t>(key)};
      if (nodes.insert(a.node).second) {
        add("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(a.node) +
            ",\"args\":{\"name\":\"node " + std::to_string(a.node) + "\"}}");
        add("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + std::to_string(a.node) +
            ",\"args\":{\"sort_index\":" + std::to_string(a.node) + "}}");
      }
      std::string name = p.component == "driver" ? "driver" : "worker p" + std::to_string(a.proc);
      add("{\"name\":\"thread_name\",\"ph\":\"M\"," + pid_tid(a) + ",\"args\":{\"name\":\"" + name + "\"}}");
      add("{\"name\":\"thread_sort_index\",\"ph\":\"M\"," + pid_tid(a) + ",\"args\":{\"sort_index\":" +
          std::to_string(a.proc) + "}}");
    }
    // The trace's meta, for whoever reads the JSON.
    std::string other;
    for (const auto& [k, v] : ReadMeta(db.db)) {
      if (!other.empty()) other += ",";
      other += JsonString(k) + ":" + JsonString(v);
    }
    std::string json = "{\"traceEvents\":[\n" + events + "\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":{" +
                       other + "}}\n";
    std::FILE* f = std::fopen(json_path.c_str(), "wb");
    if (!f) return "timeline " + json_path + ": cannot create: " + std::strerror(errno);
    bool ok = std::fwrite(json.data(), 1, json.size(), f) == json.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok) return "timeline " + json_path + ": write failed: " + std::strerror(errno);
    return "";
  } catch (const std::exception& e) {
    return "timeline of " + trace_path + ": " + e.what();
  }
}

}  // namespace

}  // namespace dray::sim
