// The real backend of the public API (DESIGN §5): the embedded single-node
// cluster a driver starts when it names no cluster, and worker mode (a process
// started by a node manager with DRAY_WORKER set). docs/operations.md says
// how the embedded cluster runs and where its files live.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/api/backend.h"
#include "core/gcs/control_service.h"
#include "core/node/node_manager.h"
#include "core/owner/owner.h"
#include "core/proto/codec.h"
#include "dray/errors.h"
#include "real/cluster.h"
#include "real/host.h"
#include "real/token.h"

namespace dray {
namespace real {
namespace {

std::atomic<uint32_t> g_cluster_counter{0};

// A fresh directory /tmp/dray-<pid>-<n> (mode 0700) for one embedded cluster.
std::string MakeClusterDir() {
  const char* base = std::getenv("TMPDIR");
  std::string root = base && *base ? base : "/tmp";
  for (int tries = 0; tries < 1000; ++tries) {
    std::string dir = root + "/dray-" + std::to_string(getpid()) + "-" + std::to_string(g_cluster_counter++);
    if (::mkdir(dir.c_str(), 0700) == 0) return dir;
    if (errno != EEXIST) throw Error("dray: cannot make the cluster directory " + dir + ": " + std::strerror(errno));
  }
  throw Error("dray: cannot make a cluster directory under " + root + " (1000 names taken)");
}

// Config::record (DRAY_RECORD) as an absolute path: workers get it as it is.
std::string RecordDir(const std::string& dir) {
  if (dir.empty()) return dir;
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(dir, ec);
  return ec ? dir : p.lexically_normal().string();
}

bool CheckInvariants() {
  const char* v = std::getenv("DRAY_CHECK_INVARIANTS");
  return v && std::string(v) == "1";
}

class EmbeddedCluster final : public internal::Backend {
 public:
  explicit EmbeddedCluster(const Config& c) : config_(c) {}
  ~EmbeddedCluster() override { Stop(); }

  internal::ProcessRuntime* StartDriver() override {
    dir_ = MakeClusterDir();
    try {
      return Boot();
    } catch (...) {
      Stop();
      throw;
    }
  }

  void Stop() override {
    if (host_) {
      host_->Stop();
      host_.reset();
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      if (ec) std::fprintf(stderr, "dray: could not remove %s: %s\n", dir_.c_str(), ec.message().c_str());
      dir_.clear();
    }
  }

 private:
  internal::ProcessRuntime* Boot() {
    std::string token, err;
    if (!GenerateToken(&token, &err)) throw Error("dray: cannot make a cluster token: " + err);
    HostOptions ho;
    ho.token = token;
    ho.token_file = TokenPath(dir_);
    if (!WriteTokenFile(ho.token_file, token, &err)) throw Error("dray: " + err);
    ho.listen_unix = dir_ + "/node.sock";
    ho.spill_dir = dir_ + "/spill";  // removed with dir_
    ho.check_invariants = CheckInvariants();
    ho.role = HostRole::kEmbedded;
    ho.store_bytes = config_.object_store_memory > 0 ? config_.object_store_memory : NodeManagerConfig{}.store_capacity_bytes;
    ho.store_prefault = config_.prefault_object_store;
    ho.record_dir = RecordDir(config_.record);
    host_ = std::make_unique<Host>(std::move(ho));

    const Addr gcs{0, kControlServiceProc};
    ControlServiceConfig gc{gcs, EntropySeed()};
    host_->Add(gcs, std::make_unique<ControlService>(gc), gc.seed, Pack(gc));

    NodeManagerConfig nc;
    nc.node = 0;
    nc.gcs = gcs;
    int cpus = config_.num_cpus > 0 ? config_.num_cpus : static_cast<int>(std::thread::hardware_concurrency());
    nc.total.SetUnits("CPU", std::max(cpus, 1));
    nc.total.SetUnits("memory", 4.0 * (1 << 30));
    nc.total.SetUnits("node:0", 1);
    for (const auto& [k, v] : config_.resources) {
      if (v < 0) throw Error("dray: Config::resources: '" + k + "' must not be negative");
      nc.total.SetUnits(k, v);
    }
    if (config_.object_store_memory > 0) nc.store_capacity_bytes = config_.object_store_memory;
    nc.seed = EntropySeed();
    host_->Add(Addr{0, kNodeManagerProc}, std::make_unique<NodeManager>(nc), nc.seed, Pack(nc));

    const Addr driver{0, kFirstUserProc};
    OwnerConfig oc{driver, Addr{0, kNodeManagerProc}, gcs, false, EntropySeed()};
    UserRuntime* rt = host_->AddUser(driver, std::make_unique<Owner>(oc), oc.seed, Pack(oc));
    std::string error;
    if (!host_->Start(&error)) throw Error("dray: cannot start the embedded cluster: " + error);
    internal::SetCurrentRuntime(rt);
    rt->WaitStarted();
    rt->set_init_ns(host_->NowNs());
    return rt;
  }

  Config config_;
  std::string dir_;
  std::unique_ptr<Host> host_;
};

// A driver joined to a running cluster (`dray start`): its Owner here, its
// node manager the head's (node 0); every frame goes over one TCP connection
// to the head. Shutdown disconnects; the cluster keeps running.
class ClusterDriver final : public internal::Backend {
 public:
  explicit ClusterDriver(const Config& c) : config_(c) {}
  ~ClusterDriver() override { Stop(); }

  internal::ProcessRuntime* StartDriver() override {
    const char* td = std::getenv("DRAY_TEMP_DIR");
    std::string temp = td && *td ? td : DefaultTempDir();
    HostOptions ho;
    ho.role = HostRole::kDriver;
    std::string err;
    if (!ResolveAddress(config_.address, temp, &ho.uplink_tcp_host, &ho.uplink_tcp_port, &err) ||
        !ResolveToken(temp, "", &ho.token, &err))
      throw Error("dray: cannot join the cluster at '" + config_.address + "': " + err);
    // Workers run this program: its path and its arguments.
    std::error_code ec;
    std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) throw Error("dray: cannot read /proc/self/exe: " + ec.message());
    ho.program.push_back(exe);
    for (auto& a : SelfArgv()) ho.program.push_back(a);
    if (ho.program.size() < 2) ho.program.push_back(exe);
    ho.check_invariants = CheckInvariants();
    ho.record_dir = RecordDir(config_.record);
    host_ = std::make_unique<Host>(std::move(ho));
    try {
      Addr self;
      if (!host_->Join(&self, &err)) throw Error("dray: " + err);
      OwnerConfig oc{self, Addr{0, kNodeManagerProc}, Addr{0, kControlServiceProc}, false, EntropySeed()};
      UserRuntime* rt = host_->AddUser(self, std::make_unique<Owner>(oc), oc.seed, Pack(oc));
      if (!host_->Start(&err)) throw Error("dray: cannot join the cluster: " + err);
      internal::SetCurrentRuntime(rt);
      rt->WaitStarted();
      rt->set_init_ns(host_->NowNs());
      return rt;
    } catch (...) {
      Stop();
      throw;
    }
  }

  void Stop() override {
    if (host_) {
      host_->Stop();
      host_.reset();
    }
  }

 private:
  Config config_;
  std::unique_ptr<Host> host_;
};

// DRAY_WORKER=<node>,<proc>,<node socket>,<token file>
[[noreturn]] void RunWorker(const std::string& spec, const std::string& record_dir) {
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "dray worker: %s (DRAY_WORKER=%s)\n", why.c_str(), spec.c_str());
    std::_Exit(3);
  };
  std::vector<std::string> parts;
  size_t b = 0;
  for (int i = 0; i < 3; ++i) {
    size_t c = spec.find(',', b);
    if (c == std::string::npos) fail("malformed worker spec");
    parts.push_back(spec.substr(b, c - b));
    b = c + 1;
  }
  parts.push_back(spec.substr(b));
  Addr self;
  try {
    self.node = static_cast<NodeId>(std::stoul(parts[0]));
    self.proc = static_cast<uint32_t>(std::stoul(parts[1]));
  } catch (const std::exception&) {
    fail("malformed worker address");
  }
  std::string token, err;
  if (!ReadTokenFile(parts[3], &token, &err)) fail(err);
  // Task output shows up line by line, even if the worker is killed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  HostOptions ho;
  ho.token = token;
  ho.uplink_unix = parts[2];
  if (const char* store = std::getenv("DRAY_STORE")) ho.store_path = store;
  ho.check_invariants = CheckInvariants();
  ho.record_dir = RecordDir(record_dir);
  if (!ho.record_dir.empty()) {
    // A recording worker ends its trace when it is stopped (SIGTERM): the
    // signal waits for this thread, in every thread (they inherit the mask).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  auto* host = new Host(std::move(ho));  // lives until the process exits
  OwnerConfig oc{self, Addr{self.node, kNodeManagerProc}, Addr{0, kControlServiceProc}, true, EntropySeed()};
  UserRuntime* rt = host->AddUser(self, std::make_unique<Owner>(oc), oc.seed, Pack(oc));
  if (!host->Start(&err)) fail(err);
  if (!host->record_path().empty()) {
    std::thread([host] {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGTERM);
      int sig = 0;
      sigwait(&set, &sig);
      std::string e = host->EndRecording();
      if (!e.empty()) std::fprintf(stderr, "dray worker: %s\n", e.c_str());
      std::fflush(stdout);
      std::signal(SIGTERM, SIG_DFL);  // die of it, as an unrecorded worker does
      pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
      raise(SIGTERM);
      std::_Exit(128 + SIGTERM);
    }).detach();
  }
  internal::SetCurrentRuntime(rt);
  rt->ServeTasks();
}

}  // namespace
}  // namespace real

namespace internal {

std::unique_ptr<Backend> CreateRealBackend(const Config& config) {
  if (const char* w = std::getenv("DRAY_WORKER"); w && *w) real::RunWorker(w, config.record);
  if (!config.address.empty()) return std::make_unique<real::ClusterDriver>(config);
  return std::make_unique<real::EmbeddedCluster>(config);
}

}  // namespace internal
}  // namespace dray
