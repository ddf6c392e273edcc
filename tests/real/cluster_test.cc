// Multi-node clusters end to end (multi-process): `dray start` runs a head and
// two nodes on loopback (an ephemeral port, this test's own temp dir); drivers
// join and run the seed examples; `dray status` shows the nodes; garbage and
// a wrong token on every listening socket are closed while jobs still run;
// `dray stop` leaves no process, socket or file behind.
// Timings are not asserted: these machines are shared and noisy.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "real/transport.h"
#include "run_command.h"

#ifndef DRAY_EXAMPLES_DIR
#error "compile with -DDRAY_EXAMPLES_DIR, -DDRAY_EXAMPLE_LIST, -DDRAY_RUNTIME_APP and -DDRAY_CLI"
#endif

namespace {

namespace fs = std::filesystem;

using dray::test::RunResult;

RunResult RunCmd(const std::string& command) {
  return dray::test::RunCommand(command, {"DRAY_SIM", "DRAY_ADDRESS", "DRAY_TOKEN", "DRAY_TOKEN_FILE"});
}

std::string FirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

// Daemons detach from `dray start`; as a subreaper this test inherits them
// (and anything they leave), so it can reap them and see what is left.
void ReapZombies() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

bool Running(int pid) {
  ReapZombies();
  return pid > 0 && kill(pid, 0) == 0;
}

// Processes whose parent is this test (daemons and orphans), not zombies.
std::vector<int> Children() {
  ReapZombies();
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    int pid = std::atoi(e.path().filename().c_str());
    if (pid <= 0) continue;
    std::string line = FirstLine(e.path().string() + "/stat");
    size_t rp = line.rfind(')');
    char state = 0;
    int ppid = 0;
    if (rp != std::string::npos && std::sscanf(line.c_str() + rp + 1, " %c %d", &state, &ppid) == 2 &&
        ppid == getpid() && state != 'Z')
      out.push_back(pid);
  }
  return out;
}

class Cluster {
 public:
  Cluster() {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    static int n = 0;
    dir_ = "/tmp/dray-ct-" + std::to_string(getpid()) + "-" + std::to_string(n++);
    fs::remove_all(dir_);
  }
  ~Cluster() {
    if (!stopped_) Stop();
  }

  // Head + `nodes` nodes, 2 CPUs each.
  // `flags`: more flags for every daemon (the head's and the nodes').
  void Start(int nodes, const std::string& head_flags = "", const std::string& flags = "") {
    RunResult h = RunCmd(Cli() + " start --head --host 127.0.0.1 --port 0 --num-cpus 2 --temp-dir " + dir_ + " " +
                         head_flags + " " + flags);
    ASSERT_EQ(h.exit_code, 0) << h.output;
    ASSERT_NE(h.output.find("started the head at 127.0.0.1:"), std::string::npos) << h.output;
    address_ = FirstLine(dir_ + "/head_address");
    ASSERT_FALSE(address_.empty());
    for (int i = 0; i < nodes; ++i) {
      RunResult r = RunCmd(Cli() + " start --address " + address_ + " --num-cpus 2 --temp-dir " + dir_ + " " + flags);
      ASSERT_EQ(r.exit_code, 0) << r.output;
      ASSERT_NE(r.output.find("started node " + std::to_string(i + 1)), std::string::npos) << r.output;
    }
  }

  RunResult Stop() {
    stopped_ = true;
    return RunCmd(Cli() + " stop --temp-dir " + dir_);
  }

  std::vector<int> DaemonPids() const {
    std::vector<int> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/pids", ec))
      if (e.path().extension() == ".pid") out.push_back(std::atoi(FirstLine(e.path().string()).c_str()));
    return out;
  }
  std::vector<std::string> Sockets() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/sockets", ec)) out.push_back(e.path().string());
    return out;
  }
  std::string Logs() const {
    std::string all;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/logs", ec)) {
      std::ifstream f(e.path());
      all += "--- " + e.path().string() + "\n" + std::string(std::istreambuf_iterator<char>(f), {});
    }
    return all;
  }

  std::string Env() const { return "DRAY_TEMP_DIR=" + dir_ + " "; }
  static std::string Cli() { return DRAY_CLI; }
  const std::string& dir() const { return dir_; }
  const std::string& address() const { return address_; }
  uint16_t port() const { return static_cast<uint16_t>(std::stoi(address_.substr(address_.rfind(':') + 1))); }

 private:
  std::string dir_;
  std::string address_;
  bool stopped_ = false;
};

void ExpectExample(const Cluster& c, const std::string& name, const std::vector<std::string>& expected,
                   bool by_flag = false) {
  std::string prog = std::string(DRAY_EXAMPLES_DIR) + "/" + name;
  // A bound per example (message_actor sleeps 100 s): a hang fails here, naming the example.
  prog = "timeout -s KILL 200 " + prog;
  RunResult r = by_flag ? RunCmd(c.Env() + prog + " --dray-address=" + c.address())
                        : RunCmd(c.Env() + "DRAY_ADDRESS=" + c.address() + " " + prog);
  EXPECT_NE(r.exit_code, 128 + SIGKILL) << name << " hung (killed after 200 s)\n" << r.output << c.Logs();
  EXPECT_EQ(r.exit_code, 0) << r.output << c.Logs();
  EXPECT_NE(r.output.find("\nok\n"), std::string::npos) << r.output << c.Logs();
  for (const auto& e : expected) EXPECT_NE(r.output.find(e), std::string::npos) << "missing '" << e << "' in\n" << r.output;
}

TEST(RealCluster, ThreeNodesRunExamplesAndStopCleanly) {
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(c.Start(2));
  std::vector<int> pids = c.DaemonPids();
  ASSERT_EQ(pids.size(), 3u);
  ASSERT_EQ(c.Sockets().size(), 3u);

  RunResult s = RunCmd(Cluster::Cli() + " status --temp-dir " + c.dir());
  EXPECT_EQ(s.exit_code, 0) << s.output;
  for (const char* want : {"Healthy:\n node 0 (head)", "\n node 1:", "\n node 2:", " (no dead nodes)", "/6.0 CPU",
                           "Demands:\n (no resource demands)"})
    EXPECT_NE(s.output.find(want), std::string::npos) << "missing '" << want << "' in\n" << s.output;

  // Every example, unchanged, as a driver of the cluster, one after another
  // (a head runs one program's drivers at a time). Some check more lines.
  const std::map<std::string, std::vector<std::string>> expected = {
      {"four_tasks", {"results = [0, 1, 2, 3]"}},
      {"map_reduce", {"simple reduce: result = 9900", "tree reduce:", "result = 9900"}},
      {"put_get", {"ray.get(data_ref) = [1, 2, 3, 4, 5]", "= 19999900000 each: yes"}},
      {"matrix_dag", {"(matches the local product: yes)"}},
      {"actor_counter", {"\n0\n2\n"}},
      {"four_counters", {"[1, 1, 1, 1]", "[11, 11, 11, 11]"}},
  };
  std::vector<std::string> names;
  std::stringstream list(DRAY_EXAMPLE_LIST);
  for (std::string name; std::getline(list, name, ',');) names.push_back(name);
  EXPECT_GE(names.size(), 24u);
  std::string timings;
  for (const auto& name : names) {
    auto t0 = std::chrono::steady_clock::now();
    auto it = expected.find(name);
    ExpectExample(c, name, it == expected.end() ? std::vector<std::string>{} : it->second,
                  name == "map_reduce");  // one by --dray-address=, the others by DRAY_ADDRESS
    timings += " " + name + " " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - t0).count()) + " ms;";
  }
  std::printf("examples on the cluster:%s\n", timings.c_str());

  // Init({.address}), tasks on several nodes; Shutdown keeps the cluster.
  RunResult j = RunCmd(c.Env() + std::string(DRAY_RUNTIME_APP) + " join " + c.address());
  EXPECT_EQ(j.exit_code, 0) << j.output << c.Logs();
  EXPECT_NE(j.output.find("joined ok"), std::string::npos) << j.output;
  for (int pid : pids) EXPECT_TRUE(Running(pid)) << "daemon " << pid << " died\n" << c.Logs();

  // A task no node fits shows up as a pending demand, and goes with its driver.
  std::string status = Cluster::Cli() + " status --temp-dir " + c.dir();
  RunResult d = RunCmd(c.Env() + std::string(DRAY_RUNTIME_APP) + " demand " + c.address() + " '" + status + "'");
  EXPECT_EQ(d.exit_code, 0) << d.output << c.Logs();
  EXPECT_NE(d.output.find("Demands:\n {CPU: 64}: 1+ pending tasks/actors"), std::string::npos) << d.output;
  RunResult after = RunCmd(status);
  EXPECT_NE(after.output.find(" 0.0/6.0 CPU"), std::string::npos) << after.output;

  RunResult stop = c.Stop();
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_NE(stop.output.find("stopped 3 daemons"), std::string::npos) << stop.output;
  for (int pid : pids) EXPECT_FALSE(Running(pid)) << "daemon " << pid << " still runs";
  EXPECT_TRUE(Children().empty()) << "processes left behind (workers?)";
  EXPECT_FALSE(fs::exists(c.dir())) << "the temp dir is still there";
}

// Children of `pid` (its workers), from /proc.
std::vector<int> ChildrenOf(int pid) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    int p = std::atoi(e.path().filename().c_str());
    if (p <= 0) continue;
    std::string line = FirstLine(e.path().string() + "/stat");
    size_t rp = line.rfind(')');
    char state = 0;
    int ppid = 0;
    if (rp != std::string::npos && std::sscanf(line.c_str() + rp + 1, " %c %d", &state, &ppid) == 2 &&
        ppid == pid && state != 'Z')
      out.push_back(p);
  }
  return out;
}

// kill -9 of a whole node (its daemon and its workers) while a job runs on
// it: the head's health checks declare it dead (test-friendly timing), its
// tasks are retried elsewhere and the job's result is right. Then `dray stop`
// leaves nothing behind, the dead node's pid file and socket included.
TEST(RealCluster, NodeKilledMidRunIsSurvived) {
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(c.Start(2, "--health-period-ms 300 --health-misses 3"));
  std::vector<int> pids = c.DaemonPids();
  ASSERT_EQ(pids.size(), 3u);
  int head = std::atoi(FirstLine(c.dir() + "/pids/head.pid").c_str());
  std::vector<int> nodes;
  for (int p : pids)
    if (p != head) nodes.push_back(p);
  ASSERT_EQ(nodes.size(), 2u);
  auto job = std::async(std::launch::async, [&] {
    return RunCmd(c.Env() + std::string(DRAY_RUNTIME_APP) + " survive " + c.address());
  });
  // Wait until a node runs workers for the job, then kill it and them.
  int victim = 0;
  std::vector<int> workers;
  for (int i = 0; i < 200 && !victim; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (int n : nodes) {
      workers = ChildrenOf(n);
      if (!workers.empty()) {
        victim = n;
        break;
      }
    }
  }
  ASSERT_NE(victim, 0) << "no node started a worker within 10 s\n" << c.Logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // mid-task
  workers = ChildrenOf(victim);
  kill(victim, SIGKILL);
  for (int w : workers) kill(w, SIGKILL);
  ASSERT_EQ(job.wait_for(std::chrono::seconds(120)), std::future_status::ready) << c.Logs();
  RunResult r = job.get();
  EXPECT_EQ(r.exit_code, 0) << r.output << c.Logs();
  EXPECT_NE(r.output.find("survived"), std::string::npos) << r.output << c.Logs();
  EXPECT_FALSE(Running(victim));
  for (int w : workers) EXPECT_FALSE(Running(w)) << "worker " << w << " of the killed node";
  // The head has declared it dead; the other nodes still serve.
  RunResult s = RunCmd(Cluster::Cli() + " status --temp-dir " + c.dir());
  EXPECT_NE(s.output.find("Dead:\n node "), std::string::npos) << s.output;
  ExpectExample(c, "four_tasks", {"results = [0, 1, 2, 3]"});
  RunResult stop = c.Stop();
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  for (int pid : pids) EXPECT_FALSE(Running(pid)) << "daemon " << pid << " still runs";
  EXPECT_TRUE(Children().empty()) << "processes left behind (workers?)";
  EXPECT_FALSE(fs::exists(c.dir())) << "the temp dir is still there (pid file or socket of the killed node?)";
}

// `dray start --record DIR` on every daemon and DRAY_RECORD on a driver: the
// head, each node, the driver and every worker write a trace, and each one
// replays without divergence (`dray replay DIR`).
TEST(RealCluster, RecordedClusterRunReplays) {
  Cluster c;
  std::string rec = c.dir() + "-rec";
  fs::remove_all(rec);
  ASSERT_NO_FATAL_FAILURE(c.Start(2, "", "--record " + rec));
  RunResult r = RunCmd(c.Env() + "DRAY_RECORD=" + rec + " DRAY_ADDRESS=" + c.address() + " " +
                       std::string(DRAY_EXAMPLES_DIR) + "/map_reduce");
  EXPECT_EQ(r.exit_code, 0) << r.output << c.Logs();
  RunResult stop = c.Stop();
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(rec, ec)) names.push_back(e.path().filename().string());
  auto count = [&](const std::string& prefix) {
    size_t n = 0;
    for (const auto& f : names) n += f.rfind(prefix, 0) == 0;
    return n;
  };
  std::string all;
  for (const auto& f : names) all += f + " ";
  EXPECT_EQ(count("head-n0.p1-"), 1u) << all;
  EXPECT_EQ(count("node-n1.p0-"), 1u);
  EXPECT_EQ(count("node-n2.p0-"), 1u);
  EXPECT_EQ(count("driver-n0.p"), 1u);
  EXPECT_GE(count("worker-n"), 1u);
  RunResult rp = RunCmd(Cluster::Cli() + " replay " + rec);
  EXPECT_EQ(rp.exit_code, 0) << rp.output;
  std::string n = std::to_string(names.size());
  EXPECT_NE(rp.output.find(n + " of " + n + " traces replayed without divergence"), std::string::npos) << rp.output;
  EXPECT_EQ(rp.output.find("note:"), std::string::npos) << "every trace has its end record\n" << rp.output;
  fs::remove_all(rec, ec);
}

// Closed within 10 s after sending `bytes` (false: still open, or no connect).
bool GarbageIsClosed(const std::string& unix_path, uint16_t tcp_port, const std::string& bytes) {
  int fd = -1;
  if (!unix_path.empty()) {
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", unix_path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return close(fd), false;
  } else {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(tcp_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return close(fd), false;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ssize_t w = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  (void)w;
  char buf[4096];
  bool closed = false;
  while (true) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) continue;  // a rejection, perhaps
    closed = n == 0 || errno == ECONNRESET || errno == EPIPE;
    break;
  }
  close(fd);
  return closed;
}

// Dials with `token`: "open" if the handshake succeeded (then sends `control`
// if not empty), "closed: ..." if the connection closed first.
std::string DialWith(const std::string& token, const std::string& unix_path, uint16_t tcp_port,
                     const std::string& control = "") {
  auto result = std::make_shared<std::promise<std::string>>();
  auto said = std::make_shared<bool>(false);
  dray::real::TransportOptions to;
  to.connection.token = token;
  to.log = [](const std::string&) {};
  dray::real::Transport* tp = nullptr;
  dray::real::TransportHandlers th;
  th.on_open = [&tp, result, said, control](dray::real::ConnId id, const std::string&, bool) {
    if (control.empty()) {
      if (!*said) *said = true, result->set_value("open");
      return;
    }
    std::string err;
    tp->SendControl(id, control, &err);
  };
  th.on_control = [](dray::real::ConnId, std::string&&) {};
  th.on_close = [result, said](dray::real::ConnId, const std::string& reason) {
    if (!*said) *said = true, result->set_value("closed: " + reason);
  };
  dray::real::Transport t(std::move(to), std::move(th));
  tp = &t;
  auto f = result->get_future();
  t.Post([&t, unix_path, tcp_port] {
    if (unix_path.empty()) t.ConnectTcp("127.0.0.1", tcp_port);
    else t.ConnectUnix(unix_path);
  });
  std::string out = f.wait_for(std::chrono::seconds(10)) == std::future_status::ready ? f.get() : "timeout";
  t.Stop();
  return out;
}

// `dray start --code-path DIR`: the node's workers run DIR/<the driver
// program's file name>, not the driver's own path (DESIGN §5); a node whose
// program is missing reports its workers as not started, with the path.
TEST(RealCluster, ANodeWithACodePathRunsTheProgramFromThere) {
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(c.Start(0));
  std::string code = c.dir() + "-code";
  fs::create_directories(code);
  std::string app = fs::path(DRAY_RUNTIME_APP).filename().string();
  fs::copy_file(DRAY_RUNTIME_APP, code + "/" + app, fs::copy_options::overwrite_existing);
  RunResult n = RunCmd(Cluster::Cli() + " start --address " + c.address() + " --num-cpus 2 --temp-dir " + c.dir() +
                       " --resources '{\"coded\": 1}' --code-path " + code);
  ASSERT_EQ(n.exit_code, 0) << n.output;
  RunResult r = RunCmd(c.Env() + std::string(DRAY_RUNTIME_APP) + " exe " + c.address());
  EXPECT_EQ(r.exit_code, 0) << r.output << c.Logs();
  EXPECT_NE(r.output.find("worker exe = " + fs::canonical(code + "/" + app).string()), std::string::npos)
      << r.output << c.Logs();
  RunResult bad = RunCmd(Cluster::Cli() + " start --address " + c.address() + " --temp-dir " + c.dir() +
                         " --code-path " + code + "/nowhere");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--code-path " + code + "/nowhere: not a directory"), std::string::npos) << bad.output;
  EXPECT_EQ(c.Stop().exit_code, 0);
  fs::remove_all(code);
}

TEST(RealCluster, GarbageAndWrongTokensAreClosedAndJobsStillRun) {
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(c.Start(2));
  std::vector<int> pids = c.DaemonPids();
  std::vector<std::string> targets = c.Sockets();  // the head's and each node's Unix socket
  ASSERT_EQ(targets.size(), 3u);
  targets.push_back("");  // the head's TCP port
  std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string junk;
  for (int i = 0; i < 3000; ++i) junk.push_back(static_cast<char>((i * 7919 + 13) & 0xff));
  std::string fake_prefix("DRAY\x01\x02\0\0\xff\xff\xff\x7f\0\0\0\0", 16);  // a huge frame before the handshake
  std::string wrong(64, '0');
  std::string token = FirstLine(c.dir() + "/session/token");
  ASSERT_EQ(token.size(), 64u);
  for (const auto& t : targets) {
    std::string what = t.empty() ? "TCP " + c.address() : t;
    for (const std::string* bytes : {&http, &junk, &fake_prefix})
      EXPECT_TRUE(GarbageIsClosed(t, c.port(), *bytes)) << what;
    std::string r = DialWith(wrong, t, c.port());
    EXPECT_EQ(r.rfind("closed", 0), 0u) << what << ": a wrong token got " << r;
    // The right token, then a control frame that is no control message.
    r = DialWith(token, t, c.port(), "\xc1 not msgpack");
    EXPECT_EQ(r.rfind("closed", 0), 0u) << what << ": an unreadable control frame got " << r;
  }
  for (int pid : pids) EXPECT_TRUE(Running(pid)) << "daemon " << pid << " died\n" << c.Logs();
  ExpectExample(c, "four_tasks", {"results = [0, 1, 2, 3]"});
  RunResult s = RunCmd(Cluster::Cli() + " status --temp-dir " + c.dir());
  EXPECT_NE(s.output.find("\n node 2:"), std::string::npos) << s.output;
  // A wrong token from a driver: refused with a clear error, nothing hangs.
  RunResult bad = RunCmd("DRAY_TOKEN=" + wrong + " DRAY_ADDRESS=" + c.address() + " " + DRAY_EXAMPLES_DIR + "/four_tasks");
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_NE(bad.output.find("cannot join the cluster"), std::string::npos) << bad.output;
  RunResult stop = c.Stop();
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  for (int pid : pids) EXPECT_FALSE(Running(pid));
  EXPECT_FALSE(fs::exists(c.dir()));
}

TEST(RealCluster, CommandsRefuseBadInput) {
  Cluster c;
  EXPECT_EQ(RunCmd(Cluster::Cli() + " start").exit_code, 2);
  EXPECT_EQ(RunCmd(Cluster::Cli() + " start --head --port 99999").exit_code, 2);
  EXPECT_EQ(RunCmd(Cluster::Cli() + " start --head --resources '{\"GPU\": oops}'").exit_code, 2);
  EXPECT_EQ(RunCmd(Cluster::Cli() + " start --head --bogus").exit_code, 2);
  // Nothing runs there: status and a node say so, stop is a no-op.
  RunResult s = RunCmd(Cluster::Cli() + " status --temp-dir " + c.dir());
  EXPECT_EQ(s.exit_code, 1) << s.output;
  RunResult n = RunCmd(Cluster::Cli() + " start --address 127.0.0.1:1 --temp-dir " + c.dir() +
                    " --token-file /nonexistent");
  EXPECT_EQ(n.exit_code, 1) << n.output;
  EXPECT_EQ(RunCmd(Cluster::Cli() + " stop --temp-dir " + c.dir()).exit_code, 0);
  EXPECT_FALSE(fs::exists(c.dir()));
}

}  // namespace
