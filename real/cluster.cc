#include "real/cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "core/gcs/control_service.h"
#include "core/node/node_manager.h"
#include "core/proto/codec.h"
#include "real/host.h"
#include "real/token.h"
#include "real/transport.h"

namespace dray::real {

namespace fs = std::filesystem;

namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

bool WriteFileAtomically(const std::string& path, const std::string& text, std::string* error) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    if (!f) {
      *error = "cannot write " + tmp;
      return false;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool MakeDir(const std::string& dir, std::string* error) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    *error = "cannot make " + dir + ": " + ec.message();
    return false;
  }
  ::chmod(dir.c_str(), 0700);
  return true;
}

std::string ExePath(int pid) {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return ec ? "" : p.string();
}

// Alive and not a zombie.
bool Running(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string stat = ReadFirstLine("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

std::string Human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.2f%s", bytes, units[u]);
  return buf;
}

// Ray's `ray status` layout, from the control service's table.
std::string RenderStatus(const ControlService& gcs, const Host& host) {
  std::ostringstream o;
  char when[64];
  std::time_t t = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  const std::string rule(63, '-');
  o << "======== Cluster status: " << when << " ========\n";
  o << "Node status\n" << rule << "\n";
  o << "Healthy:\n";
  ResourceSet total, available;
  size_t healthy = 0;
  for (const auto& [n, v] : gcs.nodes()) {
    ++healthy;
    total.Add(v.total);
    available.Add(v.available);
    o << " node " << n << (n == 0 ? " (head)" : "") << (host.node_connected(n) ? "" : " (disconnected)") << ": "
      << v.queued << " queued\n";
  }
  if (healthy == 0) o << " (no healthy nodes)\n";
  o << "Dead:\n";
  size_t dead = 0;
  for (NodeId n = 0; n < host.next_node(); ++n)
    if (gcs.IsDead(n)) {
      ++dead;
      o << " node " << n << "\n";
    }
  if (dead == 0) o << " (no dead nodes)\n";
  o << "\nResources\n" << rule << "\nUsage:\n";
  for (const auto& [name, amount] : total.items()) {
    if (name.rfind("node:", 0) == 0) continue;
    double tot = FromFixed(amount);
    double used = tot - FromFixed(available.Get(name));
    char buf[160];
    if (name == "memory")
      std::snprintf(buf, sizeof buf, " %s/%s %s\n", Human(used).c_str(), Human(tot).c_str(), name.c_str());
    else
      std::snprintf(buf, sizeof buf, " %.1f/%.1f %s\n", used, tot, name.c_str());
    o << buf;
  }
  o << "\nDemands:\n";
  size_t demands = 0;
  for (const auto& [n, list] : gcs.infeasible()) {
    std::map<std::string, int> count;
    for (const auto& r : list) ++count[r.Str()];
    for (const auto& [shape, k] : count) {
      ++demands;
      o << " " << shape << ": " << k << "+ pending tasks/actors (infeasible, submitted on node " << n << ")\n";
    }
  }
  if (demands == 0) o << " (no resource demands)\n";
  return o.str();
}

// The files of one daemon in its temp dir (docs/operations.md, "Files").
struct DaemonFiles {
  std::string dir, pid_file, socket, log;
};

DaemonFiles FilesFor(const std::string& temp, bool head, int pid) {
  std::string name = head ? "head" : "node-" + std::to_string(pid);
  return {temp, temp + "/pids/" + name + ".pid", temp + "/sockets/" + name + ".sock", temp + "/logs/" + name + ".log"};
}

void BlockStopSignals(sigset_t* set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, set, nullptr);
}

NodeManagerConfig NodeConfig(const DaemonOptions& o, NodeId node) {
  NodeManagerConfig nc;
  nc.node = node;
  nc.gcs = Addr{0, kControlServiceProc};
  int cpus = o.num_cpus > 0 ? o.num_cpus : static_cast<int>(std::thread::hardware_concurrency());
  nc.total.SetUnits("CPU", std::max(cpus, 1));
  if (o.num_gpus > 0) nc.total.SetUnits("GPU", o.num_gpus);
  nc.total.SetUnits("memory", 4.0 * (1 << 30));
  nc.total.SetUnits("node:" + std::to_string(node), 1);
  for (const auto& [k, v] : o.resources) nc.total.SetUnits(k, v);
  if (o.object_store_memory > 0) nc.store_capacity_bytes = o.object_store_memory;
  nc.seed = EntropySeed();
  return nc;
}

bool CheckInvariantsEnv() {
  const char* v = std::getenv("DRAY_CHECK_INVARIANTS");
  return v && std::string(v) == "1";
}

// Runs a daemon until SIGTERM/SIGINT/SIGHUP (or, a node, until the head goes).
// Says "ok <what>" or "error <why>" on ready_fd once it serves (or failed).
int RunDaemon(const DaemonOptions& o, int ready_fd) {
  auto say = [&](const std::string& line) {
    if (ready_fd < 0) {  // --block: the "ready" log line says the rest
      if (line.rfind("error ", 0) == 0) std::fprintf(stderr, "dray start: %s\n", line.substr(6).c_str());
      return;
    }
    std::string l = line + "\n";
    ssize_t n = ::write(ready_fd, l.data(), l.size());
    (void)n;
    ::close(ready_fd);
    ready_fd = -1;
  };
  sigset_t stop_set;
  BlockStopSignals(&stop_set);  // before any thread: every thread inherits it
  const std::string temp = o.temp_dir;
  DaemonFiles files = FilesFor(temp, o.head, getpid());
  std::string err;
  for (const char* sub : {"/session", "/pids", "/sockets", "/logs"})
    if (!MakeDir(temp + sub, &err)) {
      say("error " + err);
      return 1;
    }
  std::string token_path = TokenPath(temp);
  std::string token;
  HostOptions ho;
  ho.check_invariants = CheckInvariantsEnv();
  ho.record_dir = o.record_dir;
  ho.code_path = o.code_path;
  ho.listen_unix = files.socket;
  ho.store_bytes = o.object_store_memory > 0 ? o.object_store_memory : NodeManagerConfig{}.store_capacity_bytes;
  ho.spill_dir = temp + "/session/spill/" + (o.head ? std::string("head") : "node-" + std::to_string(getpid()));
  ho.token_file = token_path;
  if (o.head) {
    int other = std::atoi(ReadFirstLine(files.pid_file).c_str());
    if (Running(other) && ExePath(other) == ExePath(getpid())) {
      say("error a head already runs from " + temp + " (pid " + std::to_string(other) + "); `dray stop" +
          (temp == DefaultTempDir() ? "" : " --temp-dir " + temp) + "` first");
      return 1;
    }
    ::unlink(token_path.c_str());  // a stale cluster's
    if (!GenerateToken(&token, &err) || !WriteTokenFile(token_path, token, &err)) {
      say("error cannot make the cluster token: " + err);
      return 1;
    }
    ho.role = HostRole::kHead;
    ho.listen_tcp_host = o.host;
    ho.listen_tcp_port = o.port;
  } else {
    std::string host;
    uint16_t port = 0;
    if (!ResolveAddress(o.address, temp, &host, &port, &err) || !ResolveToken(temp, o.token_file, &token, &err)) {
      say("error " + err);
      return 1;
    }
    // Its workers read the token here (another machine: a copy of the head's).
    struct stat st;
    if (::stat(token_path.c_str(), &st) != 0 && !WriteTokenFile(token_path, token, &err)) {
      say("error " + err);
      return 1;
    }
    ho.role = HostRole::kNode;
    ho.uplink_tcp_host = host;
    ho.uplink_tcp_port = port;
    ho.on_uplink_lost = [](const std::string& reason) {
      std::fprintf(stderr, "dray: lost the head (%s); this node stops\n", reason.c_str());
      ::kill(getpid(), SIGTERM);
    };
  }
  ho.token = token;
  // Rendered on the loop thread, where the control service steps.
  ControlService* gcs_ptr = nullptr;
  Host* host_ptr = nullptr;
  if (o.head) ho.status = [&gcs_ptr, &host_ptr] { return RenderStatus(*gcs_ptr, *host_ptr); };
  Host host(std::move(ho));
  host_ptr = &host;
  NodeId node = 0;
  std::string ready;
  if (o.head) {
    const Addr gcs_addr{0, kControlServiceProc};
    ControlServiceConfig gc{gcs_addr, EntropySeed()};
    if (o.health_period_ms > 0) gc.health_period_ns = TimeNs{o.health_period_ms} * 1'000'000;
    if (o.health_misses > 0) gc.health_misses = o.health_misses;
    auto gcs = std::make_unique<ControlService>(gc);
    gcs_ptr = gcs.get();
    host.Add(gcs_addr, std::move(gcs), gc.seed, Pack(gc));
  } else {
    Addr me;
    if (!host.Join(&me, &err)) {
      say("error " + err);
      return 1;
    }
    node = me.node;
  }
  NodeManagerConfig nc = NodeConfig(o, node);
  host.Add(Addr{node, kNodeManagerProc}, std::make_unique<NodeManager>(nc), nc.seed, Pack(nc));
  if (!host.Start(&err)) {
    say("error " + err);
    return 1;
  }
  if (o.head) {
    std::string advertise = o.host == "0.0.0.0" || o.host.empty() ? "127.0.0.1" : o.host;
    std::string addr = advertise + ":" + std::to_string(host.bound_port());
    if (!WriteFileAtomically(temp + "/head_address", addr + "\n", &err)) {
      say("error " + err);
      return 1;
    }
    ready = "head " + addr + " pid " + std::to_string(getpid());
  } else {
    ready = "node " + std::to_string(node) + " pid " + std::to_string(getpid());
  }
  if (!WriteFileAtomically(files.pid_file, std::to_string(getpid()) + "\n", &err)) {
    say("error " + err);
    return 1;
  }
  std::fprintf(stderr, "dray: %s ready (%s)\n", o.head ? "head" : "node", ready.c_str());
  say("ok " + ready);
  int sig = 0;
  sigwait(&stop_set, &sig);
  std::fprintf(stderr, "dray: %s stopping (signal %d)\n", o.head ? "head" : "node", sig);
  host.Stop();
  ::unlink(files.socket.c_str());
  ::unlink(files.pid_file.c_str());
  if (o.head) ::unlink((temp + "/head_address").c_str());
  return 0;
}

}  // namespace

std::string DefaultTempDir() {
  const char* base = std::getenv("TMPDIR");
  return std::string(base && *base ? base : "/tmp") + "/dray";
}

bool ResolveToken(const std::string& temp_dir, const std::string& token_file, std::string* token,
                  std::string* error) {
  if (const char* t = std::getenv("DRAY_TOKEN"); t && *t) {
    *token = t;
    while (!token->empty() && (token->back() == '\n' || token->back() == ' ')) token->pop_back();
    if (token->size() < kTokenMinBytes) {
      *error = "DRAY_TOKEN is too short to be a cluster token";
      return false;
    }
    return true;
  }
  std::string path = token_file;
  if (path.empty())
    if (const char* f = std::getenv("DRAY_TOKEN_FILE"); f && *f) path = f;
  if (path.empty()) path = TokenPath(temp_dir.empty() ? DefaultTempDir() : temp_dir);
  std::string e;
  if (!ReadTokenFile(path, token, &e)) {
    *error = "no cluster token: " + e +
             " (on the head's machine it is <temp-dir>/session/token; elsewhere set DRAY_TOKEN or DRAY_TOKEN_FILE)";
    return false;
  }
  return true;
}

bool ResolveAddress(const std::string& address, const std::string& temp_dir, std::string* host, uint16_t* port,
                    std::string* error) {
  std::string a = address;
  if (a.empty() || a == "auto") {
    std::string file = (temp_dir.empty() ? DefaultTempDir() : temp_dir) + "/head_address";
    a = ReadFirstLine(file);
    if (a.empty()) {
      *error = "no cluster address given and no head runs from this machine (" + file + " is missing)";
      return false;
    }
  }
  size_t colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) {
    *error = "'" + a + "' is not HOST:PORT";
    return false;
  }
  std::string p = a.substr(colon + 1);
  if (p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5 || std::stoi(p) < 1 ||
      std::stoi(p) > 65535) {
    *error = "'" + a + "': the port must be 1..65535";
    return false;
  }
  *host = a.substr(0, colon);
  *port = static_cast<uint16_t>(std::stoi(p));
  return true;
}

bool ParseResourcesJson(const std::string& json, std::map<std::string, double>* out, std::string* error) {
  size_t i = 0;
  auto ws = [&] {
    while (i < json.size() && std::isspace(static_cast<unsigned char>(json[i]))) ++i;
  };
  auto fail = [&](const std::string& why) {
    *error = "--resources: " + why + " at offset " + std::to_string(i) + " (want e.g. '{\"GPU\": 2, \"disk\": 1}')";
    return false;
  };
  ws();
  if (i >= json.size() || json[i] != '{') return fail("expected '{'");
  ++i;
  ws();
  if (i < json.size() && json[i] == '}') return ++i, ws(), i == json.size() ? true : fail("trailing text");
  while (true) {
    ws();
    if (i >= json.size() || json[i] != '"') return fail("expected a quoted name");
    size_t end = json.find('"', i + 1);
    if (end == std::string::npos) return fail("an unterminated name");
    std::string name = json.substr(i + 1, end - i - 1);
    if (name.empty() || name.find('\\') != std::string::npos) return fail("a name must be plain and not empty");
    i = end + 1;
    ws();
    if (i >= json.size() || json[i] != ':') return fail("expected ':'");
    ++i;
    ws();
    const char* start = json.c_str() + i;
    char* stop = nullptr;
    double v = std::strtod(start, &stop);
    if (stop == start || !std::isfinite(v) || v < 0 || v > 1e15) return fail("expected a non-negative number");
    i += static_cast<size_t>(stop - start);
    (*out)[name] = v;
    ws();
    if (i < json.size() && json[i] == ',') {
      ++i;
      continue;
    }
    if (i < json.size() && json[i] == '}') {
      ++i;
      ws();
      return i == json.size() ? true : fail("trailing text");
    }
    return fail("expected ',' or '}'");
  }
}

int StartCommand(const DaemonOptions& in) {
  DaemonOptions o = in;
  if (o.temp_dir.empty()) o.temp_dir = DefaultTempDir();
  if (o.temp_dir.size() > 80) {
    std::fprintf(stderr, "dray start: --temp-dir %s is too long for its Unix sockets (80 characters at most)\n",
                 o.temp_dir.c_str());
    return 2;
  }
  if (o.block) {
    int rc = RunDaemon(o, -1);
    return rc;
  }
  std::string err;
  if (!MakeDir(o.temp_dir + "/logs", &err)) {
    std::fprintf(stderr, "dray start: %s\n", err.c_str());
    return 1;
  }
  int fds[2];
  if (::pipe(fds) != 0) {
    std::fprintf(stderr, "dray start: pipe: %s\n", std::strerror(errno));
    return 1;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "dray start: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::setsid();
    DaemonFiles files = FilesFor(o.temp_dir, o.head, getpid());
    int null = ::open("/dev/null", O_RDONLY);
    int log = ::open(files.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (null >= 0) ::dup2(null, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    int rc = RunDaemon(o, fds[1]);
    std::fflush(nullptr);
    std::_Exit(rc);
  }
  ::close(fds[1]);
  std::string reply;
  char buf[512];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.find('\n') != std::string::npos) break;
  }
  ::close(fds[0]);
  while (!reply.empty() && reply.back() == '\n') reply.pop_back();
  std::string log = FilesFor(o.temp_dir, o.head, pid).log;
  if (reply.rfind("ok ", 0) != 0) {
    std::fprintf(stderr, "dray start: the %s did not start: %s (log: %s)\n", o.head ? "head" : "node",
                 reply.rfind("error ", 0) == 0 ? reply.substr(6).c_str() : "no answer", log.c_str());
    if (reply.empty()) ::kill(pid, SIGKILL);
    return 1;
  }
  std::istringstream words(reply.substr(3));
  std::string kind, what;
  words >> kind >> what;
  if (o.head) {
    std::printf("dray: started the head at %s (pid %d)\n", what.c_str(), static_cast<int>(pid));
    std::printf("  token:  %s (copy it, or set DRAY_TOKEN, on other machines)\n", TokenPath(o.temp_dir).c_str());
    std::printf("  log:    %s\n", log.c_str());
    std::printf("  join a node:  dray start --address %s%s\n", what.c_str(),
                o.temp_dir == DefaultTempDir() ? "" : (" --temp-dir " + o.temp_dir).c_str());
    std::printf("  run a driver: DRAY_ADDRESS=%s%s ./my_app\n", what.c_str(),
                o.temp_dir == DefaultTempDir() ? "" : (" DRAY_TEMP_DIR=" + o.temp_dir).c_str());
    std::printf("  status, stop: dray status, dray stop%s\n",
                o.temp_dir == DefaultTempDir() ? "" : (" (with --temp-dir " + o.temp_dir + ")").c_str());
  } else {
    std::printf("dray: started node %s (pid %d), joined the head; log: %s\n", what.c_str(), static_cast<int>(pid),
                log.c_str());
  }
  return 0;
}

int StopCommand(const std::string& temp_in) {
  std::string temp = temp_in.empty() ? DefaultTempDir() : temp_in;
  std::vector<int> pids;
  std::error_code ec;
  std::string self = ExePath(getpid());
  for (const auto& e : fs::directory_iterator(temp + "/pids", ec)) {
    if (e.path().extension() != ".pid") continue;
    int pid = std::atoi(ReadFirstLine(e.path().string()).c_str());
    // Only a dray daemon: a pid reused by another program is left alone.
    if (Running(pid) && ExePath(pid) == self) pids.push_back(pid);
  }
  for (int pid : pids) ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  auto any_running = [&] {
    for (int pid : pids)
      if (Running(pid)) return true;
    return false;
  };
  while (any_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int killed = 0;
  for (int pid : pids)
    if (Running(pid)) {
      ::kill(pid, SIGKILL);  // its workers die with it (parent-death signal)
      ++killed;
    }
  // The daemons' files; the directory goes too if nothing else is in it.
  for (const char* sub : {"/session", "/pids", "/sockets", "/logs", "/head_address"}) fs::remove_all(temp + sub, ec);
  ::rmdir(temp.c_str());
  if (pids.empty())
    std::printf("dray stop: no daemon was running from %s; removed its files\n", temp.c_str());
  else
    std::printf("dray stop: stopped %zu daemon%s%s; removed %s's files\n", pids.size(), pids.size() == 1 ? "" : "s",
                killed ? (" (" + std::to_string(killed) + " killed with SIGKILL)").c_str() : "", temp.c_str());
  return 0;
}

int StatusCommand(const std::string& address, const std::string& temp) {
  std::string host, token, err;
  uint16_t port = 0;
  if (!ResolveAddress(address, temp, &host, &port, &err) || !ResolveToken(temp, "", &token, &err)) {
    std::fprintf(stderr, "dray status: %s\n", err.c_str());
    return 1;
  }
  auto reply = std::make_shared<std::promise<std::pair<bool, std::string>>>();
  auto done = std::make_shared<bool>(false);
  Transport* tp = nullptr;
  TransportOptions to;
  to.connection.token = token;
  to.log = [](const std::string&) {};
  TransportHandlers th;
  th.on_open = [&tp](ConnId id, const std::string&, bool) {
    std::string e;
    tp->SendControl(id, EncodeControl(HostControl{kCtlStatus, 0, 0, "", {}}), &e);
  };
  th.on_control = [reply, done](ConnId, std::string&& body) {
    HostControl c;
    std::string e;
    if (*done) return;
    *done = true;
    if (!DecodeControl(body, &c, &e) || c.type != kCtlStatusReply) reply->set_value({false, "an unreadable reply"});
    else reply->set_value({true, c.text});
  };
  th.on_close = [reply, done](ConnId, const std::string& reason) {
    if (*done) return;
    *done = true;
    reply->set_value({false, reason});
  };
  Transport t(std::move(to), std::move(th));
  tp = &t;
  auto f = reply->get_future();
  t.Post([&t, host, port] { t.ConnectTcp(host, port); });
  std::string where = host + ":" + std::to_string(port);
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    t.Stop();
    std::fprintf(stderr, "dray status: no answer from the head at %s\n", where.c_str());
    return 1;
  }
  auto [ok, text] = f.get();
  t.Stop();
  if (!ok) {
    std::fprintf(stderr, "dray status: cannot reach the head at %s: %s\n", where.c_str(), text.c_str());
    return 1;
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace dray::real
