// Record and replay of real processes (DESIGN §7, docs/operations.md
// "Recording and replay"): an embedded-cluster run of a seed example records
// one trace per process (the driver's, every worker's); each replays without
// divergence, alone and as a directory; a corrupted real trace (a flipped
// payload byte, a truncated file, a wrong schema) is a clear error naming
// the file and the event, never a crash.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/trace.h"
#include "run_command.h"

#ifndef DRAY_EXAMPLES_DIR
#error "compile with -DDRAY_EXAMPLES_DIR and -DDRAY_CLI"
#endif

namespace {

namespace fs = std::filesystem;

using dray::test::RunResult;

RunResult RunCmd(const std::string& command) {
  return dray::test::RunCommand(command, {"DRAY_SIM", "DRAY_ADDRESS", "DRAY_RECORD"});
}

std::vector<std::string> Traces(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".db") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

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

// Flips every bit of one byte of an event's payload (at `offset`, or its last byte).
bool FlipPayloadByte(const std::string& path, const std::string& rowid, size_t offset) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return false;
  sqlite3_stmt* s = nullptr;
  std::string payload;
  sqlite3_prepare_v2(db, ("SELECT payload FROM events WHERE rowid = " + rowid).c_str(), -1, &s, nullptr);
  if (sqlite3_step(s) == SQLITE_ROW)
    payload.assign(static_cast<const char*>(sqlite3_column_blob(s, 0)), static_cast<size_t>(sqlite3_column_bytes(s, 0)));
  sqlite3_finalize(s);
  bool ok = !payload.empty();
  if (ok) {
    payload[std::min(offset, payload.size() - 1)] ^= static_cast<char>(0xff);
    sqlite3_prepare_v2(db, ("UPDATE events SET payload = ? WHERE rowid = " + rowid).c_str(), -1, &s, nullptr);
    sqlite3_bind_blob(s, 1, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
    ok = sqlite3_step(s) == SQLITE_DONE;
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return ok;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One recorded embedded run for every test here: map_reduce (tasks on several
// workers, a tree reduce, nested Gets).
class RecordTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "dray_record_test_" + std::to_string(::getpid()));
    fs::remove_all(*dir_);
    *run_ = RunCmd("DRAY_RECORD=" + *dir_ + "/run " + std::string(DRAY_EXAMPLES_DIR) + "/map_reduce");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
  }
  static std::string* dir_;
  static RunResult* run_;
};
std::string* RecordTest::dir_ = nullptr;
RunResult* RecordTest::run_ = new RunResult();

TEST_F(RecordTest, EveryProcessOfAnEmbeddedRunReplaysWithoutDivergence) {
  ASSERT_EQ(run_->exit_code, 0) << run_->output;
  ASSERT_NE(run_->output.find("\nok\n"), std::string::npos) << run_->output;
  std::vector<std::string> traces = Traces(*dir_ + "/run");
  ASSERT_GE(traces.size(), 2u) << "the driver's and at least one worker's";
  size_t embedded = 0, workers = 0;
  for (const auto& t : traces) {
    std::string name = fs::path(t).filename().string();
    dray::sim::ReplayResult r = dray::sim::Replay(t);
    EXPECT_TRUE(r.ok) << name << ": " << r.error;
    EXPECT_TRUE(r.note.empty()) << name << ": " << r.note;  // closed cleanly, workers included
    // (A worker stopped before its connection opened has stepped nothing.)
    EXPECT_EQ(Sql(t, "SELECT value FROM meta WHERE key = 'kind'"), "real");
    EXPECT_NE(Sql(t, "SELECT value FROM meta WHERE key = 'seeds'"), "");
    if (name.rfind("embedded-n0.p1-", 0) == 0) {
      ++embedded;
      EXPECT_EQ(r.components, 3u) << "control service, node manager, driver";
      EXPECT_GT(r.events, 100u) << name;
      EXPECT_EQ(Sql(t, "SELECT group_concat(component) FROM events WHERE kind = 'create'"), "gcs,node,driver");
    } else {
      ++workers;
      EXPECT_EQ(name.rfind("worker-n0.p", 0), 0u) << name;
      EXPECT_EQ(r.components, 1u);
    }
  }
  EXPECT_EQ(embedded, 1u);
  EXPECT_GE(workers, 1u);
  // The command, on the directory.
  RunResult d = RunCmd(std::string(DRAY_CLI) + " replay " + *dir_ + "/run");
  EXPECT_EQ(d.exit_code, 0) << d.output;
  std::string n = std::to_string(traces.size());
  EXPECT_NE(d.output.find(n + " of " + n + " traces replayed without divergence"), std::string::npos) << d.output;
}

TEST_F(RecordTest, CorruptedRealTracesAreErrorsNamingWhatAndWhere) {
  std::vector<std::string> traces = Traces(*dir_ + "/run");
  ASSERT_FALSE(traces.empty());
  std::string src;
  for (const auto& t : traces)
    if (fs::path(t).filename().string().rfind("embedded-", 0) == 0) src = t;
  ASSERT_FALSE(src.empty());
  std::string bad = *dir_ + "/bad";
  fs::create_directories(bad);
  auto copy = [&](const std::string& name) {
    std::string to = bad + "/" + name;
    fs::copy_file(src, to, fs::copy_options::overwrite_existing);
    return to;
  };

  // A flipped byte inside a step's payload: the event is named (as a
  // divergence, a payload that no longer decodes, or the rows' checksum).
  int flipped_named = 0;
  for (int offset : {20, 40, 60}) {
    std::string t = copy("flip" + std::to_string(offset) + ".db");
    std::string rowid = Sql(t, "SELECT rowid FROM events WHERE kind = 'deliver:TaskDone' ORDER BY rowid LIMIT 1");
    ASSERT_NE(rowid, "");
    ASSERT_TRUE(FlipPayloadByte(t, rowid, offset));
    dray::sim::ReplayResult r = dray::sim::Replay(t);
    EXPECT_FALSE(r.ok) << "offset " << offset;
    if (r.error.find("event #" + rowid) != std::string::npos) ++flipped_named;
    else EXPECT_NE(r.error.find("checksum"), std::string::npos) << r.error;
  }
  EXPECT_GE(flipped_named, 1) << "at least one flip named its event";

  // Truncated: a prefix of the file.
  std::string whole = ReadFile(src);
  for (size_t keep : {size_t{100}, size_t{4096}, whole.size() / 2}) {
    std::string t = bad + "/cut" + std::to_string(keep) + ".db";
    std::ofstream(t, std::ios::binary) << whole.substr(0, keep);
    dray::sim::ReplayResult r = dray::sim::Replay(t);
    EXPECT_FALSE(r.ok) << "kept " << keep;
    EXPECT_NE(r.error.find(t), std::string::npos) << r.error;
  }

  // A wrong schema: the events table without its payload column; a table renamed.
  std::string t = copy("schema.db");
  Sql(t, "ALTER TABLE events DROP COLUMN payload");
  dray::sim::ReplayResult r = dray::sim::Replay(t);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not a dray trace"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("payload"), std::string::npos) << r.error;
  t = copy("renamed.db");
  Sql(t, "ALTER TABLE events RENAME TO happenings");
  r = dray::sim::Replay(t);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no such table: events"), std::string::npos) << r.error;

  // The command on the whole directory: exit 1, each bad file named, no crash.
  RunResult d = RunCmd(std::string(DRAY_CLI) + " replay " + bad);
  EXPECT_EQ(d.exit_code, 1) << d.output;
  EXPECT_NE(d.output.find("0 of "), std::string::npos) << d.output;
  EXPECT_EQ(d.output.find("died"), std::string::npos) << d.output;
  for (const auto& f : Traces(bad)) EXPECT_NE(d.output.find(f + ": "), std::string::npos) << f << "\n" << d.output;
}

}  // namespace
