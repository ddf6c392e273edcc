// Traces (DESIGN §7): a simulated run writes one, Replay re-steps it and finds
// the first event that diverges, WriteTimeline draws it, and the dray command
// wraps both without crashing on bad input.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include "core/gcs/control_service.h"
#include "core/proto/codec.h"
#include "sim/trace.h"

namespace {
int Square(int x) { return x * x; }
int SumOfTwo(int a, int b) { return a + b; }
}  // namespace
DRAY_REMOTE(Square, SumOfTwo);

namespace {

using dray::sim::Replay;
using dray::sim::ReplayResult;
using dray::sim::WriteTimeline;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "dray_trace_test_" + std::to_string(::getpid()) + "_" + name;
}

struct Recorded {
  std::string path;
  uint64_t trace_hash = 0;
  std::vector<int> values;
};

// A small program: six tasks, one that depends on two of them, Get them all.
Recorded RecordRun(const std::string& name, uint64_t seed) {
  Recorded r;
  r.path = TempPath(name);
  dray::Init(dray::Config{.sim = "seed=" + std::to_string(seed) + ",nodes=2,cpus=2,trace=" + r.path});
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 6; ++i) refs.push_back(dray::Task(Square).Remote(i));
  dray::ObjectRef<int> sum = dray::Task(SumOfTwo).Remote(refs[2], refs[3]);
  for (const auto& v : dray::Get(refs)) r.values.push_back(*v);
  r.values.push_back(*dray::Get(sum));
  dray::Shutdown();
  r.trace_hash = dray::sim::LastStats().trace_hash;
  return r;
}

// Runs SQL on a trace file; returns the first column of the first row ("" if none).
std::string Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string out;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
  int rc = sqlite3_step(s);
  EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db);
  if (rc == SQLITE_ROW && sqlite3_column_text(s, 0)) out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

// Replaces one event's input (kind and payload) with `in`.
void SetInput(const std::string& path, const std::string& rowid, const dray::Input& in) {
  std::string bytes = dray::EncodeInput(in);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE events SET kind = ?, payload = ? WHERE rowid = ?", -1, &s, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(s, 1, dray::sim::InputKind(in), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(s, 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 3, std::stoll(rowid));
  EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

std::string CopyTrace(const std::string& from, const std::string& name) {
  std::string to = TempPath(name);
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  return to;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

class TraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { run_ = new Recorded(RecordRun("run.db", 7)); }
  static void TearDownTestSuite() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir(), ec))
      if (e.path().filename().string().rfind("dray_trace_test_" + std::to_string(::getpid()) + "_", 0) == 0)
        std::filesystem::remove(e.path(), ec);
    delete run_;
    run_ = nullptr;
  }
  static Recorded* run_;
};
Recorded* TraceTest::run_ = nullptr;

TEST_F(TraceTest, RunComputedTheRightValues) {
  EXPECT_EQ(run_->values, (std::vector<int>{0, 1, 4, 9, 16, 25, 13}));
}

TEST_F(TraceTest, ReplayOfARecordedRunHasNoDivergence) {
  ReplayResult r = Replay(run_->path);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.events, 0u);
  // The control service, two node managers, the driver and at least one worker.
  EXPECT_GE(r.components, 5u);
  EXPECT_EQ(std::to_string(r.events), Sql(run_->path, "SELECT count(*) FROM events WHERE kind != 'create'"));
  EXPECT_EQ(std::to_string(r.components), Sql(run_->path, "SELECT count(*) FROM events WHERE kind = 'create'"));
}

// A run with crashed workers and nodes, a node that joins later and lost
// objects rebuilt replays without divergence as well.
TEST(TraceFaults, ARunWithCrashesReplays) {
  std::string path = TempPath("faults");
  dray::Init(dray::Config{.sim = "seed=5,nodes=3,cpus=2,head_cpus=0,inline_kb=0,faults=swarm,faults_until_ms=300,"
                                 "task_retries=-1,trace=" + path});
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 40; ++i) refs.push_back(dray::Task(Square).Remote(i));
  dray::ObjectRef<int> sum = dray::Task(SumOfTwo).Remote(refs[2], refs[3]);
  dray::sim::CrashNode(1);
  dray::sim::AddNode();
  for (int i = 0; i < 40; ++i) ASSERT_EQ(*dray::Get(refs[i]), i * i);
  EXPECT_EQ(*dray::Get(sum), 13);
  dray::Shutdown();
  EXPECT_GT(dray::sim::LastStats().crashes, 0u);
  ReplayResult r = Replay(path);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.events, 0u);
  std::remove(path.c_str());
}

// Every network fault and buggify at once (one-way cuts, clogs, spikes, slow
// nodes, lost, duplicated and reordered frames, rare paths in the node
// managers): the sequencing layer and the faults are the simulator's, so the
// components' inputs replay exactly, buggify decisions included (they come
// from the components' configs and rngs).
TEST(TraceFaults, ARunWithNetworkFaultsAndBuggifyReplays) {
  std::string path = TempPath("netfaults");
  dray::Init(dray::Config{.sim = "seed=6,nodes=4,cpus=2,head_cpus=0,inline_kb=0,faults_until_ms=300,task_retries=-1,"
                                 "net_fault_every_us=3000,fault_every_us=5000,faults=worker_crash+node_crash+"
                                 "partition+one_way_partition+latency_spike+slow_node+clog+loss+duplicate+reorder+"
                                 "buggify,trace=" + path});
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 40; ++i) refs.push_back(dray::Task(Square).Remote(i));
  dray::ObjectRef<int> sum = dray::Task(SumOfTwo).Remote(refs[2], refs[3]);
  for (int i = 0; i < 40; ++i) ASSERT_EQ(*dray::Get(refs[i]), i * i);
  EXPECT_EQ(*dray::Get(sum), 13);
  dray::Shutdown();
  dray::sim::RunStats st = dray::sim::LastStats();
  EXPECT_GT(st.net_faults, 0u);
  EXPECT_GT(st.frames_lost, 0u);
  ReplayResult r = Replay(path);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.events, 0u);
  std::remove(path.c_str());
}

TEST_F(TraceTest, MetaHoldsTheRunsTraceHash) {
  EXPECT_EQ(Sql(run_->path, "SELECT value FROM meta WHERE key = 'trace_hash'"), std::to_string(run_->trace_hash));
  EXPECT_EQ(Sql(run_->path, "SELECT value FROM meta WHERE key = 'seed'"), "7");
  EXPECT_EQ(Sql(run_->path, "SELECT value FROM meta WHERE key = 'format'"), "dray-trace/1");
  EXPECT_EQ(Sql(run_->path, "SELECT value FROM meta WHERE key = 'steps'"),
            Sql(run_->path, "SELECT count(*) FROM events WHERE kind != 'create'"));
}

TEST_F(TraceTest, SameSeedWritesTheSameEvents) {
  Recorded again = RecordRun("again.db", 7);
  EXPECT_EQ(again.trace_hash, run_->trace_hash);
  const char* digest =
      "SELECT count(*) || ':' || sum(seq) || ':' || sum(time_ns) || ':' || sum(effects_hash % 1000003) || ':' || "
      "sum(length(payload)) FROM events";
  EXPECT_EQ(Sql(again.path, digest), Sql(run_->path, digest));
}

TEST_F(TraceTest, TamperedEffectsHashIsTheDivergenceNamed) {
  std::string t = CopyTrace(run_->path, "tampered.db");
  std::string count = Sql(t, "SELECT count(*) FROM events WHERE kind != 'create'");
  std::string pick = "SELECT rowid FROM events WHERE kind != 'create' ORDER BY rowid LIMIT 1 OFFSET " +
                     std::to_string(std::stoi(count) / 2);
  std::string rowid = Sql(t, pick);
  std::string seq = Sql(t, "SELECT seq FROM events WHERE rowid = " + rowid);
  std::string kind = Sql(t, "SELECT kind FROM events WHERE rowid = " + rowid);
  // Flip the lowest bit (SQLite has no XOR).
  Sql(t, "UPDATE events SET effects_hash = (effects_hash | 1) - (effects_hash & 1) WHERE rowid = " + rowid);
  ReplayResult r = Replay(t);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.find("divergence at event #" + rowid + " (seq " + seq + ","), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("input " + kind), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("recorded effects hash 0x"), std::string::npos) << r.error;
  // Every event before it replayed.
  EXPECT_EQ(std::to_string(r.events), Sql(t, "SELECT count(*) FROM events WHERE kind != 'create' AND rowid < " + rowid));
}

TEST_F(TraceTest, MissingEventIsCaughtByTheChainedHash) {
  // Deleting a step can leave every remaining effects hash intact (a later
  // ClusterView supersedes an earlier one): the meta checks catch it.
  std::string t = CopyTrace(run_->path, "deleted.db");
  std::string rowid = Sql(t, "SELECT rowid FROM events WHERE kind = 'deliver:ClusterView' ORDER BY rowid LIMIT 1");
  ASSERT_FALSE(rowid.empty());
  Sql(t, "DELETE FROM events WHERE rowid = " + rowid);
  ReplayResult r = Replay(t);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("missing"), std::string::npos) << r.error;
  // Even with the step count in meta fixed up.
  Sql(t, "UPDATE meta SET value = value - 1 WHERE key = 'steps'");
  r = Replay(t);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("chained hash"), std::string::npos) << r.error;
}

TEST_F(TraceTest, AlteredRowThatStillReplaysIsCaughtByTheChecksum) {
  // The control service draws no randomness, so a new seed in its config
  // changes nothing it does: only the rows' checksum notices.
  std::string t = CopyTrace(run_->path, "reseeded.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(t.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT rowid, payload FROM events WHERE kind = 'create' AND component = 'gcs'",
                               -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  int64_t rowid = sqlite3_column_int64(s, 0);
  dray::ControlServiceConfig c;
  std::string err;
  ASSERT_TRUE(dray::Unpack(static_cast<const char*>(sqlite3_column_blob(s, 1)),
                           static_cast<size_t>(sqlite3_column_bytes(s, 1)), &c, &err))
      << err;
  sqlite3_finalize(s);
  c.seed ^= 0x5eed;
  std::string bytes = dray::Pack(c);
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE events SET payload = ? WHERE rowid = ?", -1, &s, nullptr), SQLITE_OK);
  sqlite3_bind_blob(s, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 2, rowid);
  EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
  ReplayResult r = Replay(t);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("checksum"), std::string::npos) << r.error;
}

TEST_F(TraceTest, UnfinishedRunReplaysWithANote) {
  EXPECT_EQ(Replay(run_->path).note, "");
  // A run that aborts leaves its committed events but no end record.
  std::string t = CopyTrace(run_->path, "unfinished.db");
  Sql(t, "DELETE FROM meta WHERE key IN ('steps', 'trace_hash', 'rows_hash')");
  Sql(t, "DELETE FROM events WHERE rowid > (SELECT max(rowid) - 10 FROM events)");
  ReplayResult r = Replay(t);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.note.find("did not shut down cleanly"), std::string::npos) << r.note;
}

TEST_F(TraceTest, CorruptRowsGiveErrorsNotCrashes) {
  struct Case {
    const char* name;
    std::string sql;
    const char* expect;
  };
  const std::string mid_step = "(SELECT rowid FROM events WHERE kind != 'create' ORDER BY rowid LIMIT 1 OFFSET 10)";
  const Case cases[] = {
      {"payload", "UPDATE events SET payload = x'01c1ff' WHERE rowid = " + mid_step, "cannot decode the payload"},
      {"version", "UPDATE events SET payload = x'07' WHERE rowid = " + mid_step, "codec version"},
      {"nullpayload", "UPDATE events SET payload = NULL WHERE rowid = " + mid_step, "cannot decode the payload"},
      {"component", "UPDATE events SET component = 'martian' WHERE kind = 'create' AND component = 'node'",
       "unknown component kind 'martian'"},
      {"config", "UPDATE events SET payload = x'c3' WHERE kind = 'create' AND component = 'driver'",
       "cannot decode the owner config"},
      {"nocreate", "DELETE FROM events WHERE kind = 'create' AND component = 'driver'", "never created"},
      {"kind", "UPDATE events SET kind = 'timer' WHERE rowid = (SELECT rowid FROM events WHERE kind = 'cmd:submit' "
               "LIMIT 1)", "the payload holds input cmd:submit"},
      {"hash", "UPDATE events SET effects_hash = 'x' WHERE rowid = " + mid_step, "effects_hash is not an integer"},
      {"node", "UPDATE events SET node = -1 WHERE rowid = " + mid_step, "out of range"},
      {"format", "UPDATE meta SET value = 'dray-trace/99' WHERE key = 'format'", "format 'dray-trace/99'"},
      {"noevents", "DROP TABLE events", "not a dray trace"},
  };
  for (const Case& c : cases) {
    std::string t = CopyTrace(run_->path, std::string("corrupt_") + c.name + ".db");
    Sql(t, c.sql);
    ReplayResult r = Replay(t);
    EXPECT_FALSE(r.ok) << c.name;
    EXPECT_NE(r.error.find(c.expect), std::string::npos) << c.name << ": " << r.error;
  }
}

TEST_F(TraceTest, GarbageAndMissingFilesAreErrors) {
  std::string garbage = TempPath("garbage.db");
  {
    std::ofstream f(garbage, std::ios::binary);
    for (int i = 0; i < 500; ++i) f << "this is not a SQLite database " << i * 7919 << '\n';
  }
  ReplayResult r = Replay(garbage);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not a dray trace"), std::string::npos) << r.error;
  EXPECT_NE(WriteTimeline(garbage, TempPath("garbage.json")), "");

  r = Replay(TempPath("does_not_exist.db"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no such file"), std::string::npos) << r.error;

  std::string empty = TempPath("empty.db");
  std::ofstream(empty).close();
  r = Replay(empty);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not a dray trace"), std::string::npos) << r.error;

  r = Replay(::testing::TempDir());
  EXPECT_FALSE(r.ok);

  // A trace cut short: whatever SQLite says, Replay reports it.
  std::string whole = ReadFile(run_->path);
  for (size_t keep : {size_t{100}, size_t{4096}, whole.size() / 2}) {
    std::string cut = TempPath("cut.db");
    std::ofstream(cut, std::ios::binary) << whole.substr(0, keep);
    r = Replay(cut);
    EXPECT_FALSE(r.ok) << "kept " << keep << " bytes";
    EXPECT_FALSE(r.error.empty());
  }
}

TEST_F(TraceTest, WriterReportsAFileItCannotCreate) {
  try {
    dray::sim::TraceWriter::Open("/nonexistent-dir/trace.db", {});
    FAIL() << "no error";
  } catch (const dray::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/trace.db"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dray::sim::TraceWriter::Open(::testing::TempDir(), {}), dray::Error);
  EXPECT_THROW(dray::Init(dray::Config{.sim = "seed=1,trace=/nonexistent-dir/t.db"}), dray::Error);
  EXPECT_FALSE(dray::IsInitialized());
}

TEST_F(TraceTest, TimelineHasASlicePerTask) {
  std::string json_path = TempPath("timeline.json");
  ASSERT_EQ(WriteTimeline(run_->path, json_path), "");
  std::string json = ReadFile(json_path);
  EXPECT_EQ(json.rfind("{\"traceEvents\":[", 0), 0u);
  EXPECT_EQ(Count(json, "\"ph\":\"X\""), 7u) << json;  // six Square and one SumOfTwo
  EXPECT_EQ(Count(json, "\"name\":\"Square\""), 6u);
  EXPECT_EQ(Count(json, "\"name\":\"SumOfTwo\""), 1u);
  EXPECT_NE(json.find("\"name\":\"Get\""), std::string::npos);
  EXPECT_NE(json.find("\"args\":{\"name\":\"driver\"}"), std::string::npos);
  EXPECT_NE(json.find("\"args\":{\"name\":\"worker p"), std::string::npos);
  EXPECT_NE(json.find("\"args\":{\"name\":\"node 1\"}"), std::string::npos);
  // Balanced brackets outside strings: a cheap well-formedness check.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      ASSERT_GT(depth, 0) << "at " << i;
      --depth;
    }
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(in_string);
  EXPECT_NE(WriteTimeline(run_->path, "/nonexistent-dir/t.json"), "");
}

TEST(TraceInputKind, NamesEveryKindOfInput) {
  using namespace dray;
  EXPECT_STREQ(sim::InputKind(Input{InTimer{3}}), "timer");
  EXPECT_STREQ(sim::InputKind(Input{InDeliver{{}, ExecuteTask{}}}), "deliver:ExecuteTask");
  EXPECT_STREQ(sim::InputKind(Input{InDeliver{{}, RegisterNode{}}}), "deliver:RegisterNode");
  EXPECT_STREQ(sim::InputKind(Input{InCommand{CmdStart{}}}), "cmd:start");
  EXPECT_STREQ(sim::InputKind(Input{InCommand{CmdGet{}}}), "cmd:get");
  EXPECT_STREQ(sim::InputKind(Input{InCommand{CmdRemoveRef{}}}), "cmd:remove_ref");
  EXPECT_STREQ(sim::InputKind(Input{InCommand{CmdTaskReturned{}}}), "cmd:task_returned");
}

// ---- the dray command ----

struct CliResult {
  int code = -1;
  std::string output;
};

CliResult Cli(const std::string& args) {
  CliResult r;
  std::string cmd = std::string("'") + DRAY_CLI + "' " + args + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TEST_F(TraceTest, DrayCommand) {
  CliResult r = Cli("replay '" + run_->path + "'");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("replayed " + Sql(run_->path, "SELECT count(*) FROM events WHERE kind != 'create'") +
                          " events of "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("no divergence"), std::string::npos) << r.output;

  std::string t = CopyTrace(run_->path, "cli_tampered.db");
  Sql(t, "UPDATE events SET effects_hash = (effects_hash | 1) - (effects_hash & 1) WHERE rowid = "
         "(SELECT max(rowid) FROM events)");
  r = Cli("replay '" + t + "'");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("divergence at event #"), std::string::npos) << r.output;

  std::string garbage = TempPath("cli_garbage.db");
  std::ofstream(garbage) << "garbage";
  r = Cli("replay '" + garbage + "'");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("not a dray trace"), std::string::npos) << r.output;

  // An input that trips an assertion inside a component (a Put before the
  // driver's job is registered) aborts the replay: the command says where.
  std::string bad = CopyTrace(run_->path, "cli_assert.db");
  std::string start = Sql(bad, "SELECT rowid FROM events WHERE component = 'driver' AND kind = 'cmd:start'");
  ASSERT_FALSE(start.empty());
  SetInput(bad, start, dray::Input{dray::InCommand{dray::CmdPut{}}});
  r = Cli("replay '" + bad + "'");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("while stepping event #" + start + " "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("input cmd:put"), std::string::npos) << r.output;

  std::string json = TempPath("cli.json");
  r = Cli("timeline '" + run_->path + "' '" + json + "'");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(ReadFile(json).find("\"name\":\"Square\""), std::string::npos);

  r = Cli("version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.output.rfind("dray ", 0), 0u) << r.output;
  r = Cli("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("replay TRACE"), std::string::npos) << r.output;
  for (const char* bad : {"", "frob", "replay", "replay a b", "timeline", "version extra"}) {
    r = Cli(bad);
    EXPECT_EQ(r.code, 2) << "'" << bad << "': " << r.output;
    EXPECT_NE(r.output.find("usage: dray"), std::string::npos) << "'" << bad << "': " << r.output;
  }
  // The cluster commands (tests/real/cluster_test.cc runs them): bad usage only.
  for (const char* cluster : {"start", "start --head --address 127.0.0.1:1", "start --head --bogus", "stop --bogus",
                              "status --port 1", "start --head --port x"}) {
    r = Cli(cluster);
    EXPECT_EQ(r.code, 2) << cluster << ": " << r.output;
    EXPECT_NE(r.output.find("usage: dray"), std::string::npos) << r.output;
  }
}

}  // namespace
