#include "real/host.h"
#include "real/spill.h"

#include <charconv>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include "core/api/user_calls.h"
#include "core/common/assert.h"
#include "core/node/node_manager.h"
#include "core/owner/owner.h"
#include "core/proto/codec.h"
#include "dray/errors.h"
#include "dray/remote.h"
#include "real/recorder.h"

extern char** environ;

namespace dray::real {

using internal::ToObjectValue;
using internal::ToRefData;
using internal::ToRefInfo;
using internal::ToValueData;

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Ray's defaults (DESIGN §6).
constexpr int kTaskRetries = 3;
constexpr int kActorRestarts = 0;
constexpr int kActorTaskRetries = 0;

std::string ExitCause(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended (status " + std::to_string(status) + ")";
}

// The hub whose store CurrentStoreCounters reads.
std::atomic<Host*> g_store_host{nullptr};
// A refused grant (no offset).
constexpr uint64_t kRefused = UINT64_MAX;

bool ParseU64(const std::string& s, uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// A kRoutedShm attachment: two little-endian u64, offset and size.
Buf EncodeDescriptor(uint64_t offset, uint64_t size) {
  std::string d;
  for (uint64_t v : {offset, size})
    for (int b = 0; b < 8; ++b) d.push_back(static_cast<char>(v >> (8 * b)));
  return Buf(std::move(d));
}

bool DecodeDescriptor(const Buf& a, uint64_t v[2], std::string* error) {
  if (a.size() != kShmDescriptorBytes) {
    *error = "a shared-memory descriptor of " + std::to_string(a.size()) + " bytes, not " +
             std::to_string(kShmDescriptorBytes);
    return false;
  }
  v[0] = v[1] = 0;
  for (int k = 0; k < 2; ++k)
    for (int b = 0; b < 8; ++b) v[k] |= uint64_t{static_cast<uint8_t>(a.data()[8 * k + b])} << (8 * b);
  return true;
}

}  // namespace

// A worker's value arena: large values go into ranges its hub grants.
class Host::GrantArena final : public internal::ValueArena {
 public:
  explicit GrantArena(Host* host) : host_(host) {}
  bool Allocate(size_t n, char** out, Buf* owner) override { return host_->AllocateGranted(n, out, owner); }

 private:
  Host* const host_;
};

void Host::QueueRelease(const std::weak_ptr<Releases>& rel, uint64_t offset) {
  auto r = rel.lock();
  if (!r) return;
  std::lock_guard<std::mutex> lock(r->mu);
  r->offsets.push_back(offset);
  if (!r->scheduled && r->schedule) {
    r->scheduled = true;
    r->schedule();
  }
}

std::vector<std::string> SelfArgv() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] != '\0') continue;
    out.push_back(all.substr(b, i - b));
    b = i + 1;
  }
  if (b < all.size()) out.push_back(all.substr(b));
  return out;
}

uint64_t EntropySeed() {
  uint64_t v = 0;
  ssize_t n = getrandom(&v, sizeof v, 0);
  if (n != static_cast<ssize_t>(sizeof v)) {
    // No entropy source: time and pid still make processes differ.
    v = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<uint64_t>(getpid()) << 32);
  }
  return v;
}

// ---- the host ----

struct Host::Local {
  Addr addr;
  std::unique_ptr<Component> comp;
  std::string config;  // packed, for the trace's "create" row
  uint64_t seed = 0;
  Prng rng;
  UserRuntime* user = nullptr;
  std::unique_ptr<UserRuntime> user_owned;
  struct Timer {
    std::unique_ptr<asio::steady_timer> t;
    uint64_t gen = 0;
  };
  std::map<uint64_t, Timer> timers;
  uint64_t timer_gen = 0;
};

struct Host::Child {
  Addr addr;
  bool stopping = false;
  bool retiring = false;  // KillAllWorkers (reported dead at once): messages to it are dropped quietly
  std::unique_ptr<asio::steady_timer> kill_timer;
};

std::string EncodeControl(const HostControl& c) {
  msgpack::sbuffer b;
  msgpack::pack(b, c);
  return std::string(b.data(), b.size());
}

bool DecodeControl(const std::string& body, HostControl* c, std::string* error) {
  if (body.size() > kControlMaxBytes) {
    *error = "a control frame of " + std::to_string(body.size()) + " bytes (at most " +
             std::to_string(kControlMaxBytes) + ")";
    return false;
  }
  try {
    // Nothing a peer declares can make this allocate more than the body allows
    // (every element takes at least a byte).
    const size_t most = body.size();
    msgpack::unpack_limit limit(most, most, most, most, most, 8);
    msgpack::object_handle oh = msgpack::unpack(body.data(), body.size(), nullptr, nullptr, limit);
    oh.get().convert(*c);
    return true;
  } catch (const std::exception& e) {
    *error = std::string("an unreadable control frame: ") + e.what();
    return false;
  }
}

Host::Host(HostOptions options) : options_(std::move(options)), start_(std::chrono::steady_clock::now()) {
  if (!options_.uplink_unix.empty()) options_.role = HostRole::kWorker;
  worker_mode_ = options_.role == HostRole::kWorker;
  argv_ = SelfArgv();
  TransportOptions to;
  to.connection.token = options_.token;
  if (hub() && options_.store_bytes > 0) {
    std::string err;
    arena_ = ShmArena::Create(options_.store_bytes, options_.store_prefault, &err);
    if (!arena_)
      std::fprintf(stderr, "dray: no shared-memory object store (%s); large objects stay on the heap\n", err.c_str());
    to.connection.arena = arena_.get();  // values from other processes are read into it
    if (arena_) ledger_ = std::make_unique<ShmLedger>(arena_, options_.grant_max_bytes);
  }
  // Connections of workers this process stops close as it shuts down: no news.
  // A worker's connection closing is no news: its death is reported (with
  // its cause) when it is reaped.
  to.log = [this](const std::string& line) {
    static const std::string kPeerLeft = "closed: the peer closed the connection";
    bool peer_left = line.size() >= kPeerLeft.size() && line.compare(line.size() - kPeerLeft.size(), kPeerLeft.size(), kPeerLeft) == 0;
    if (!shutting_down_ && !(peer_left && hub())) std::fprintf(stderr, "%s\n", line.c_str());
  };
  TransportHandlers th;
  th.on_open = [this](ConnId id, const std::string& peer, bool outbound) {
    if (!outbound && peer.rfind("unix", 0) == 0) unix_conns_.insert(id);
    OnOpen(id);
  };
  th.on_routed = [this](ConnId id, const Route& r, Message&& m) { OnRouted(id, r, std::move(m)); };
  th.on_message = [this](ConnId id, Message&&) {
    transport_->Close(id);  // every message between dray processes is routed
  };
  th.on_close = [this](ConnId id, const std::string& reason) { OnClose(id, reason); };
  if (worker_mode_) {
    releases_->schedule = [this] { asio::post(transport_->context(), [this] { FlushReleases(); }); };
    th.resolve_shm = [this](ConnId id, std::vector<Buf>& a, std::string* error) {
      if (id != uplink_) {
        *error = "a shared-memory frame from a connection that is not this worker's node";
        return false;
      }
      return ResolveShm(a, error);
    };
  } else if (ledger_) {
    // A local worker hands over ranges it was granted and wrote.
    th.resolve_shm = [this](ConnId id, std::vector<Buf>& a, std::string* error) { return HandOverShm(id, a, error); };
  }
  th.on_control = [this](ConnId id, std::string&& body) { OnControl(id, std::move(body)); };
  // DRAY_WORKER_BATON=0: the worker's loop stays on its loop thread (for
  // comparisons; docs/performance.md).
  const char* baton_env = std::getenv("DRAY_WORKER_BATON");
  if (worker_mode_ && !(baton_env && std::string(baton_env) == "0")) {
    baton_ = std::make_unique<LoopBaton>();
    to.run_loop = [b = baton_.get()](asio::io_context& io) { b->RunLoopThread(io); };
  }
  transport_ = std::make_unique<Transport>(std::move(to), std::move(th));
}

Host::~Host() { Stop(); }

void Host::Add(Addr addr, std::unique_ptr<Component> comp, uint64_t seed, std::string config) {
  DRAY_ASSERT(!started_, "a component added after Start");
  DRAY_ASSERT(!Find(addr), "two components at one address");
  auto l = std::make_unique<Local>();
  l->addr = addr;
  l->comp = std::move(comp);
  l->rng = Prng(seed);
  l->config = std::move(config);
  l->seed = seed;
  locals_.push_back(std::move(l));
}

UserRuntime* Host::AddUser(Addr addr, std::unique_ptr<Component> owner, uint64_t seed, std::string config) {
  Add(addr, std::move(owner), seed, std::move(config));
  Local& l = *locals_.back();
  l.user_owned = std::make_unique<UserRuntime>(this, addr);
  l.user = l.user_owned.get();
  return l.user;
}

Host::Local* Host::Find(const Addr& a) {
  for (auto& l : locals_)
    if (l->addr == a) return l.get();
  return nullptr;
}

int64_t Host::NowNs() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
}

bool Host::Join(Addr* assigned, std::string* error, std::chrono::milliseconds timeout) {
  DRAY_ASSERT(options_.role == HostRole::kNode || options_.role == HostRole::kDriver, "Join: not a node or driver");
  DRAY_ASSERT(!started_ && locals_.empty(), "Join after Add or Start");
  auto p = std::make_shared<std::promise<std::pair<bool, HostControl>>>();
  auto f = p->get_future();
  asio::post(transport_->context(), [this, p] {
    ready_ = false;
    join_ = p;
    uplink_ = transport_->ConnectTcp(options_.uplink_tcp_host, options_.uplink_tcp_port);
  });
  std::string where = options_.uplink_tcp_host + ":" + std::to_string(options_.uplink_tcp_port);
  if (f.wait_for(timeout) != std::future_status::ready) {
    asio::post(transport_->context(), [this] {
      join_.reset();
      transport_->Close(uplink_);
    });
    *error = "no answer from the head at " + where + " within " + std::to_string(timeout.count()) + " ms";
    return false;
  }
  auto [ok, c] = f.get();
  if (!ok) {
    *error = "cannot join the cluster at " + where + ": " + c.text;
    return false;
  }
  *assigned = Addr{c.node, c.proc};
  node_ = c.node;
  return true;
}

bool Host::Start(std::string* error) {
  DRAY_ASSERT(!started_, "Host::Start twice");
  started_ = true;
  // This process's large values (a driver's puts, values assembled from
  // chunks) are written into the store.
  if (arena_) {
    internal::SetValueArena(arena_.get());
    g_store_host.store(this);
  }
  if (worker_mode_ && !options_.store_path.empty()) {
    // Read-write, to write large values into ranges the hub grants; a
    // read-only mapping (or none) still reads what the hub lends.
    std::string err;
    view_ = ShmView::Open(options_.store_path, true, &err);
    if (!view_) view_ = ShmView::Open(options_.store_path, false, &err);
    if (!view_) std::fprintf(stderr, "dray worker: %s; large values go over the socket\n", err.c_str());
    if (view_ && view_->writable()) {
      grant_arena_ = std::make_unique<GrantArena>(this);
      internal::SetValueArena(grant_arena_.get());
    }
  }
  if (!options_.record_dir.empty() && !StartRecording(error)) return false;
  if (options_.role == HostRole::kHead &&
      !transport_->ListenTcp(options_.listen_tcp_host, options_.listen_tcp_port, &bound_port_, error))
    return false;
  if (!worker_mode_) {
    if (!options_.listen_unix.empty() && !transport_->ListenUnix(options_.listen_unix, error)) return false;
    asio::post(transport_->context(), [this] {
      StartAll();
      // Frames that came between joining and now, after every start.
      asio::post(transport_->context(), [this] {
        ready_ = true;
        auto early = std::move(early_);
        early_.clear();
        for (auto& [conn, route, m] : early) OnRouted(conn, route, std::move(m));
      });
    });
    return true;
  }
  // On the loop, like every use of uplink_: the dial it posts can connect
  // and finish the handshake before this thread would have stored the id,
  // and OnOpen would not know the uplink (the worker never registers).
  asio::post(transport_->context(), [this] { uplink_ = transport_->ConnectUnix(options_.uplink_unix); });
  return true;  // StartAll once the uplink is open
}

// The trace of this process (DESIGN §7): <dir>/<role>-n<node>.p<proc>-<pid>.db,
// named for its first component; a "create" row per component with its config
// (which holds the seed its PRNG got from real entropy).
bool Host::StartRecording(std::string* error) {
  static constexpr const char* kRoles[] = {"embedded", "head", "node", "driver", "worker"};
  const char* role = worker_mode_ ? "worker" : kRoles[static_cast<int>(options_.role)];
  if (locals_.empty()) {
    *error = "cannot record a process without components";
    return false;
  }
  std::string components, seeds;
  for (const auto& l : locals_) {
    if (l->config.empty()) {
      *error = "cannot record " + l->addr.Str() + ": its config was not given to Host::Add";
      return false;
    }
    components += (components.empty() ? "" : ",") + l->addr.Str() + "=" + l->comp->Kind();
    seeds += (seeds.empty() ? "" : ",") + l->addr.Str() + "=" + std::to_string(l->seed);
  }
  char hostname[256] = {};
  gethostname(hostname, sizeof hostname - 1);
  std::string name = std::string(role) + "-" + locals_.front()->addr.Str() + "-" + std::to_string(getpid());
  try {
    recorder_ = Recorder::Open(options_.record_dir, name,
                               {{"role", role},
                                {"components", components},
                                {"seeds", seeds},
                                {"host", hostname},
                                {"time", "real monotonic ns since the process's host started"}});
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
  for (const auto& l : locals_) recorder_->Create(NowNs(), l->addr, l->comp->Kind(), l->config);
  return true;
}

std::string Host::record_path() const { return recorder_ ? recorder_->path() : ""; }

std::string Host::EndRecording() { return recorder_ ? recorder_->Close() : ""; }

void Host::StartAll() {
  for (auto& l : locals_) {
    Local* p = l.get();
    // Each start is its own loop event, after the deliveries the previous
    // one posted (the node registers before the driver asks for its job).
    asio::post(transport_->context(), [this, p] { StepLocal(*p, InCommand{CmdStart{}}); });
  }
}

struct Host::DrainTimer {
  explicit DrainTimer(asio::io_context& io) : t(io) {}
  asio::steady_timer t;
};

void Host::PostCommand(const Addr& addr, Command cmd) {
  bool schedule;
  {
    std::lock_guard<std::mutex> lock(commands_.mu);
    commands_.queue.emplace_back(addr, std::move(cmd));
    schedule = !commands_.scheduled;
    commands_.scheduled = true;
  }
  if (schedule) asio::post(transport_->context(), [this] { DrainCommands(); });
}

// Loop thread: steps up to a batch of the user threads' commands, then lets
// the loop serve its sockets before the next batch; while a write queue is
// congested it waits for it to drain (checked every 200 us).
void Host::DrainCommands() {
  constexpr size_t kBatch = 256;
  if (!shutting_down_ && transport_->Congested()) {
    if (!drain_timer_) drain_timer_ = std::make_unique<DrainTimer>(transport_->context());
    drain_timer_->t.expires_after(std::chrono::microseconds(200));
    drain_timer_->t.async_wait([this](const boost::system::error_code&) { DrainCommands(); });
    return;
  }
  // One at a time off the queue, so that congestion a command causes (a
  // large put's frame, say) holds the next one.
  for (size_t i = 0; i < kBatch; ++i) {
    std::pair<Addr, Command> next;
    {
      std::lock_guard<std::mutex> lock(commands_.mu);
      if (commands_.queue.empty()) {
        commands_.scheduled = false;
        return;
      }
      next = std::move(commands_.queue.front());
      commands_.queue.pop_front();
    }
    Local* l = Find(next.first);
    if (l && !shutting_down_) StepLocal(*l, InCommand{std::move(next.second)});
    if (!shutting_down_ && transport_->Congested()) break;
  }
  asio::post(transport_->context(), [this] { DrainCommands(); });  // more, or congested: checked first
}

void Host::StepLocal(Local& l, const Input& in) {
  static const bool debug = std::getenv("DRAY_DEBUG") != nullptr;
  if (debug) {
    std::string what = "timer/command";
    if (const auto* d = std::get_if<InDeliver>(&in))
      what = "message " + std::to_string(d->msg.index()) + " from " + d->from.Str();
    std::fprintf(stderr, "dray[%d] %.6f %s: %s\n", static_cast<int>(getpid()), NowNs() / 1e9, l.addr.Str().c_str(),
                 what.c_str());
  }
  std::vector<Effect> effects;
  const TimeNs now = NowNs();  // the step's time, as the trace records it
  Context cx(now, &l.rng, &effects);
  l.comp->Step(in, cx);
  if (options_.check_invariants) l.comp->CheckInvariants();
  if (recorder_) recorder_->Step(now, l.addr, l.comp->Kind(), in, effects);
  if (debug)
    for (const auto& e : effects)
      std::fprintf(stderr, "dray[%d]   effect %zu%s\n", static_cast<int>(getpid()), e.index(),
                   std::holds_alternative<EfSend>(e)
                       ? (" send " + std::to_string(std::get<EfSend>(e).msg.index()) + " to " + std::get<EfSend>(e).to.Str()).c_str()
                       : "");
  Exec(l, effects);
}

void Host::Exec(Local& l, std::vector<Effect>& effects) {
  for (auto& eff : effects) {
    std::visit(
        [&](auto& e) {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, EfSend>) {
            Deliver(l.addr, e.to, std::move(e.msg));
          } else if constexpr (std::is_same_v<E, EfSetTimer>) {
            SetTimer(l, e.id, e.at);
          } else if constexpr (std::is_same_v<E, EfCancelTimer>) {
            l.timers.erase(e.id);  // the timer's destructor cancels its wait
          } else if constexpr (std::is_same_v<E, EfStartWorker>) {
            SpawnWorker(e.worker);
          } else if constexpr (std::is_same_v<E, EfStopWorker>) {
            StopWorker(e.worker);
          } else if constexpr (std::is_same_v<E, EfRunTask>) {
            DRAY_ASSERT(l.user, "RunTask for a process without user code");
            l.user->OnRunTask(std::move(e.spec));
          } else if constexpr (std::is_same_v<E, EfCompleteWait>) {
            DRAY_ASSERT(l.user, "CompleteWait for a process without user code");
            if (e.waiter == kStartWaiter)
              if (const auto* o = dynamic_cast<const Owner*>(l.comp.get()); o && o->job() != 0)
                l.user->BeginTask(TaskId::ForDriver(o->job()));
            l.user->OnCompleteWait(std::move(e));
          } else if constexpr (std::is_same_v<E, EfCommandResult>) {
            DRAY_ASSERT(l.user, "CommandResult for a process without user code");
            l.user->OnCommandResult(std::move(e));
          } else if constexpr (std::is_same_v<E, EfPersist>) {
            // The control service's durable rows: kept by the simulator (its
            // restarts are simulated); a real control service does not
            // restart yet, so nothing reads them back (docs/fault-tolerance.md).
          } else if constexpr (std::is_same_v<E, EfSpill> || std::is_same_v<E, EfRestore> ||
                               std::is_same_v<E, EfDeleteSpill>) {
            Spill(l, e);
          }
        },
        eff);
  }
}

// The node manager's spill effects (real/spill.h): the file work runs on the
// host's disk thread, in order; a restore's bytes come back as a new loop
// event, ObjectRestored, as if from the node manager itself.
template <class E>
void Host::Spill(Local& l, E& e) {
  if (!spill_) {
    std::string dir = options_.spill_dir;
    if (dir.empty()) dir = "/tmp/dray-spill-" + std::to_string(getpid());
    spill_ = std::make_unique<SpillDir>(dir);
  }
  if (!disk_) disk_ = std::make_unique<DiskThread>();
  SpillDir* dir = spill_.get();
  if constexpr (std::is_same_v<E, EfSpill>) {
    disk_->Post([dir, key = e.key, data = e.data] { dir->Write(key, data); });
  } else if constexpr (std::is_same_v<E, EfDeleteSpill>) {
    disk_->Post([dir, key = e.key] { dir->Delete(key); });
  } else {
    disk_->Post([this, dir, node = l.addr, id = e.id, key = e.key, size = e.size] {
      ObjectRestored r{id, key, false, {}, ""};
      r.ok = dir->Read(key, size, &r.data, &r.error);
      asio::post(transport_->context(), [this, node, r = std::move(r)]() mutable {
        Local* n = Find(node);
        if (n && !shutting_down_) StepLocal(*n, InDeliver{node, std::move(r)});
      });
    });
  }
}

// Local: a new loop event (FIFO with every other). Remote: one routed frame
// on the connection that leads there: a worker's uplink, or (hub) the
// worker's own connection. A message to a process that is gone is dropped,
// as the network would.
void Host::Deliver(const Addr& from, const Addr& to, Message msg) {
  if (Find(to)) {
    asio::post(transport_->context(), [this, from, to, msg = std::move(msg)]() mutable {
      Local* l = Find(to);
      if (l && !shutting_down_) StepLocal(*l, InDeliver{from, std::move(msg)});
    });
    return;
  }
  ConnId conn = 0;
  if (worker_mode_ || options_.role == HostRole::kDriver) {
    conn = uplink_;
  } else if (auto it = routes_.find(to); it != routes_.end()) {
    conn = it->second;  // a worker of this node (a driver of the head)
  } else if (options_.role == HostRole::kNode && to.node != node_) {
    conn = uplink_;  // the head relays to every other node and every driver
  } else if (options_.role == HostRole::kHead) {
    if (auto n = nodes_by_id_.find(to.node); n != nodes_by_id_.end() && to.node != 0) conn = n->second;
  }
  if (conn == 0 && departed_.count(to)) return;  // a driver that left: no news
  if (conn == 0) {
    auto pid = child_pids_.find(to);
    if (pid != child_pids_.end() && children_.at(pid->second).retiring) return;  // being stopped: no news
  }
  std::string err;
  Frame frame;
  if (conn != 0) frame = EncodeFrame(msg);
  bool in_place = conn != 0 && !frame.attachments.empty() &&
                  (worker_mode_ ? SendHandOver(Route{from, to}, frame)
                                : arena_ && unix_conns_.count(conn) && SendToWorkerInPlace(conn, Route{from, to}, frame));
  if (in_place) return;
  if (conn == 0 || !transport_->SendRouted(conn, Route{from, to}, std::move(frame), &err)) {
    if (++dropped_ <= 5 || std::getenv("DRAY_DEBUG"))
      std::fprintf(stderr, "dray: dropped a message from %s to %s: %s\n", from.Str().c_str(), to.Str().c_str(),
                   conn == 0 ? "no such process (gone?)" : err.c_str());
  }
}

void Host::SetTimer(Local& l, uint64_t id, TimeNs at) {
  Local::Timer& t = l.timers[id];
  t.gen = ++l.timer_gen;
  t.t = std::make_unique<asio::steady_timer>(transport_->context());
  t.t->expires_at(start_ + std::chrono::nanoseconds(std::max<TimeNs>(at, 0)));
  Local* lp = &l;
  uint64_t gen = t.gen;
  t.t->async_wait([this, lp, id, gen](const error_code& ec) {
    if (ec || shutting_down_) return;
    auto it = lp->timers.find(id);
    if (it == lp->timers.end() || it->second.gen != gen) return;  // cancelled or re-armed
    lp->timers.erase(it);
    StepLocal(*lp, InTimer{id});
  });
}

// ---- worker processes ----

void Host::SpawnWorker(const Addr& worker) {
  DRAY_ASSERT(!worker_mode_, "a worker starting workers");
  if (shutting_down_) return;
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls until exec.
  std::string self = "/proc/self/exe";
  std::vector<std::string> args = argv_.empty() ? std::vector<std::string>{self} : argv_;
  if (options_.role == HostRole::kHead || options_.role == HostRole::kNode) {
    // A cluster's workers run the drivers' program (docs/operations.md).
    if (program_.size() < 2) {
      Deliver(worker, Addr{worker.node, kNodeManagerProc},
              WorkerDied{worker, "could not be started: no driver has told this node its program"});
      return;
    }
    self = program_[0];
    if (!options_.code_path.empty()) {
      std::string name = program_[0].substr(program_[0].rfind('/') + 1);
      self = options_.code_path + "/" + name;
    }
    args.assign(program_.begin() + 1, program_.end());
    if (::access(self.c_str(), X_OK) != 0) {
      Deliver(worker, Addr{worker.node, kNodeManagerProc},
              WorkerDied{worker, "could not be started: " + self + " is not an executable file on this node (" +
                                     std::strerror(errno) + ")" +
                                     (options_.code_path.empty() ? "; see `dray start --code-path`" : "")});
      return;
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string env_worker = "DRAY_WORKER=" + std::to_string(worker.node) + "," + std::to_string(worker.proc) + "," +
                           options_.listen_unix + "," + options_.token_file;
  // A recording process's workers record too, into the same directory.
  std::string env_record = "DRAY_RECORD=" + options_.record_dir;
  std::string env_store = arena_ ? "DRAY_STORE=" + arena_->path() : "";
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "DRAY_WORKER=", 12) != 0 && std::strncmp(*e, "DRAY_RECORD=", 12) != 0 &&
        std::strncmp(*e, "DRAY_STORE=", 11) != 0)
      envp.push_back(*e);
  envp.push_back(env_worker.data());
  if (!options_.record_dir.empty()) envp.push_back(env_record.data());
  if (!env_store.empty()) envp.push_back(env_store.data());
  envp.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    std::string why = std::strerror(errno);
    std::fprintf(stderr, "dray: cannot start worker %s: fork: %s\n", worker.Str().c_str(), why.c_str());
    Deliver(worker, Addr{worker.node, kNodeManagerProc}, WorkerDied{worker, "could not be started: fork: " + why});
    return;
  }
  if (pid == 0) {
    // The child: dies with the thread that started it (the loop), keeps no
    // descriptor of this process but stdin/out/err.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    sigset_t none;  // a daemon blocks its stop signals in every thread; a worker must not
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
      for (int fd = 3; fd < 4096; ++fd) close(fd);
    execve(self.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  children_[pid] = Child{worker, false, false, nullptr};
  child_pids_[worker] = pid;
  std::lock_guard<std::mutex> lock(mu_);
  ++live_children_;
  reapers_.emplace_back([this, pid] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    asio::post(transport_->context(), [this, pid, status] { OnChildExit(pid, status); });
  });
}

void Host::StopWorker(const Addr& worker) {
  auto it = child_pids_.find(worker);
  if (it == child_pids_.end()) return;
  int pid = it->second;
  Child& c = children_.at(pid);
  if (c.stopping) return;
  c.stopping = true;
  if (auto r = routes_.find(worker); r != routes_.end()) transport_->Close(r->second);  // quietly
  kill(pid, SIGTERM);
  c.kill_timer = std::make_unique<asio::steady_timer>(transport_->context(), options_.stop_grace);
  c.kill_timer->async_wait([this, pid](const error_code& ec) {
    if (ec || !children_.count(pid)) return;
    kill(pid, SIGKILL);
  });
}

void Host::OnChildExit(int pid, int status) {
  auto it = children_.find(pid);
  DRAY_ASSERT(it != children_.end(), "a child reaped twice");
  Child c = std::move(it->second);
  children_.erase(it);
  child_pids_.erase(c.addr);
  if (!c.stopping && !shutting_down_) {
    // As the operating system tells it: the node manager hears WorkerDied
    // from the worker (docs/protocol.md).
    std::string cause = "worker " + c.addr.Str() + " (pid " + std::to_string(pid) + ") " + ExitCause(status);
    std::fprintf(stderr, "dray: %s\n", cause.c_str());
    Deliver(c.addr, Addr{c.addr.node, kNodeManagerProc}, WorkerDied{c.addr, cause});
  }
  std::lock_guard<std::mutex> lock(mu_);
  --live_children_;
  cv_.notify_all();
}

size_t Host::worker_processes() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_children_;
}

// ---- the shared-memory store ----
// A hub sends a local worker a message whose large payloads are all in the
// store as descriptors of their ranges (a kRoutedShm frame); the worker maps
// the store and reads them in place. Each range stays lent (its value alive
// here) until the worker says it no longer reads it, or goes.

bool Host::SendToWorkerInPlace(ConnId conn, const Route& route, Frame& f) {
  std::vector<uint64_t> offsets(f.attachments.size());
  for (size_t i = 0; i < f.attachments.size(); ++i)
    if (!arena_->Contains(f.attachments[i], &offsets[i])) return false;  // some are not in the store: copies
  Frame d{f.header, {}};
  d.attachments.reserve(f.attachments.size());
  for (size_t i = 0; i < f.attachments.size(); ++i)
    d.attachments.push_back(EncodeDescriptor(offsets[i], f.attachments[i].size()));
  std::string err;
  if (!transport_->SendRouted(conn, route, std::move(d), &err, FrameKind::kRoutedShm)) return false;
  for (size_t i = 0; i < f.attachments.size(); ++i) ledger_->Lend(conn, offsets[i], std::move(f.attachments[i]));
  return true;
}

void Host::OnShmRelease(ConnId conn, const HostControl& c) {
  size_t unknown = 0;
  for (const auto& a : c.args) {
    uint64_t off = 0;
    if (!ledger_ || !ParseU64(a, &off) || !ledger_->Release(conn, off)) ++unknown;
  }
  if (unknown > 0)
    std::fprintf(stderr, "dray: connection %llu released %zu store ranges it was not lent; ignored\n",
                 static_cast<unsigned long long>(conn), unknown);
}

bool Host::ResolveShm(std::vector<Buf>& attachments, std::string* error) {
  if (!view_) {
    *error = options_.store_path.empty() ? "this worker was not told its node's store (DRAY_STORE)"
                                         : "this worker could not map its node's store";
    return false;
  }
  std::weak_ptr<Releases> rel = releases_;
  auto release = [rel](uint64_t offset) { QueueRelease(rel, offset); };
  for (auto& a : attachments) {
    uint64_t v[2] = {0, 0};
    if (!DecodeDescriptor(a, v, error)) return false;
    Buf in_place;
    if (!view_->Slice(v[0], v[1], release, &in_place, error)) return false;
    a = std::move(in_place);
  }
  return true;
}

void Host::FlushReleases() {
  std::vector<uint64_t> offsets;
  {
    std::lock_guard<std::mutex> lock(releases_->mu);
    offsets.swap(releases_->offsets);
    releases_->scheduled = false;
  }
  if (offsets.empty() || uplink_ == 0) return;
  HostControl c{kCtlShmRelease, 0, 0, "", {}};
  c.args.reserve(offsets.size());
  for (uint64_t o : offsets) c.args.push_back(std::to_string(o));
  SendControl(uplink_, c);
}

size_t Host::lent_ranges() { return ledger_ ? ledger_->lent_ranges() : 0; }

StoreCounters Host::store_counters() {
  StoreCounters c;
  if (!arena_) return c;
  c.used_bytes = arena_->used_bytes();
  c.allocations = arena_->live_allocations();
  c.allocations_total = arena_->allocations_total();
  c.lent = ledger_->lent_ranges();
  c.granted = ledger_->granted_ranges();
  c.handed_over = handed_over_.load();
  c.grants = grants_given_.load();
  c.refusals = grant_refusals_.load();
  return c;
}

bool CurrentStoreCounters(StoreCounters* out) {
  Host* h = g_store_host.load();
  if (!h) return false;
  *out = h->store_counters();
  return true;
}

// ---- a worker's large values, written into the store (docs/protocol.md,
// "Shared-memory frames"): the hub grants a range, the worker serializes the
// value there and hands the range over with a descriptor instead of sending
// its bytes. The allocator stays in the hub.

bool Host::AllocateGranted(size_t n, char** out, Buf* owner) {
  // The loop thread answers grants: a value serialized there goes to the heap.
  if (!view_ || !view_->writable() || n <= options_.grant_min_bytes || n > view_->size() ||
      transport_->OnLoopThread())
    return false;
  std::shared_ptr<Grants> g = grants_;
  uint64_t request = 0;
  {
    std::lock_guard<std::mutex> lock(g->mu);
    if (g->closed) return false;
    request = g->next_request++;
    g->waiting.emplace(request, Grants::Wait{n, std::nullopt});
  }
  transport_->Post([this, request, n] {
    HostControl c{kCtlShmGrant, 0, 0, "", {std::to_string(request), std::to_string(n)}};
    if (uplink_ != 0) SendControl(uplink_, c);
  });
  const auto deadline = std::chrono::steady_clock::now() + options_.grant_timeout;
  if (baton_)  // user code holding the loop: it sends the request and takes the answer here
    baton_->RunWhileWaiting(
        [&] {
          std::lock_guard<std::mutex> lock(g->mu);
          return g->closed || g->waiting.at(request).offset.has_value();
        },
        deadline);
  uint64_t offset = 0;
  {
    std::unique_lock<std::mutex> lock(g->mu);
    g->cv.wait_until(lock, deadline, [&] { return g->closed || g->waiting.at(request).offset.has_value(); });
    auto w = g->waiting.find(request);
    std::optional<uint64_t> answer = w->second.offset;
    g->waiting.erase(w);  // an answer after this is given back (OnShmGranted)
    if (!answer || *answer == kRefused) return false;
    offset = *answer;
    DRAY_ASSERT(g->ranges.count(offset) == 0, "a store range granted to this worker twice");
    g->ranges.emplace(offset, Grants::Range{n, false});
  }
  ++g->granted_total;
  std::weak_ptr<Grants> wg = g;
  std::weak_ptr<Releases> rel = releases_;
  *out = view_->base() + offset;
  // The last copy gone: the hub frees the range (never handed over) or stops
  // keeping it for this worker (handed over).
  *owner = Buf(std::shared_ptr<const char>(*out,
                                           [keep = view_, wg, rel, offset](const char*) {
                                             if (auto gs = wg.lock()) {
                                               std::lock_guard<std::mutex> lock(gs->mu);
                                               gs->ranges.erase(offset);
                                             }
                                             QueueRelease(rel, offset);
                                           }),
               n);
  return true;
}

void Host::OnShmGranted(const HostControl& c) {
  uint64_t request = 0, offset = kRefused;
  if (c.args.empty() || !ParseU64(c.args[0], &request) || (c.args.size() > 1 && !ParseU64(c.args[1], &offset))) {
    std::fprintf(stderr, "dray worker: an unreadable '%s' from the node; ignored\n", kCtlShmGranted);
    return;
  }
  std::lock_guard<std::mutex> lock(grants_->mu);
  auto w = grants_->waiting.find(request);
  if (w == grants_->waiting.end()) {
    // Answered too late: the value went to the heap; the range goes back.
    if (offset != kRefused) QueueRelease(releases_, offset);
    return;
  }
  if (offset != kRefused && (offset > view_->size() || w->second.size > view_->size() - offset)) {
    std::fprintf(stderr, "dray worker: the node granted a range [%llu, +%llu) outside its store; not used\n",
                 static_cast<unsigned long long>(offset), static_cast<unsigned long long>(w->second.size));
    offset = kRefused;
  }
  w->second.offset = offset;
  grants_->cv.notify_all();
}

bool Host::SendHandOver(const Route& route, Frame& f) {
  if (!view_ || !view_->writable()) return false;
  std::vector<uint64_t> offsets;
  offsets.reserve(f.attachments.size());
  {
    std::lock_guard<std::mutex> lock(grants_->mu);
    for (const Buf& a : f.attachments) {
      const char* p = a.data();
      if (p < view_->base() || p >= view_->base() + view_->size()) return false;  // not in the store: inline
      uint64_t off = static_cast<uint64_t>(p - view_->base());
      auto r = grants_->ranges.find(off);
      // Only a whole range granted to this worker and not yet handed over
      // (a range already handed over travels as bytes).
      if (r == grants_->ranges.end() || r->second.size != a.size() || r->second.handed) return false;
      if (std::find(offsets.begin(), offsets.end(), off) != offsets.end()) return false;
      offsets.push_back(off);
    }
  }
  Frame d{f.header, {}};
  d.attachments.reserve(offsets.size());
  for (size_t i = 0; i < offsets.size(); ++i) d.attachments.push_back(EncodeDescriptor(offsets[i], f.attachments[i].size()));
  std::string err;
  if (!transport_->SendRouted(uplink_, route, std::move(d), &err, FrameKind::kRoutedShm)) return false;
  std::lock_guard<std::mutex> lock(grants_->mu);
  for (uint64_t off : offsets) grants_->ranges.at(off).handed = true;  // `f` holds them: still there
  grants_->handed_total += offsets.size();
  return true;
}

void Host::OnShmGrant(ConnId conn, const HostControl& c) {
  uint64_t request = 0, n = 0;
  if (c.args.size() != 2 || !ParseU64(c.args[0], &request) || !ParseU64(c.args[1], &n)) {
    std::fprintf(stderr, "dray: connection %llu sent a malformed '%s'; closed\n", static_cast<unsigned long long>(conn),
                 kCtlShmGrant);
    transport_->Close(conn);
    return;
  }
  uint64_t offset = 0;
  std::string why;
  if (ledger_ && ledger_->Grant(conn, n, &offset, &why)) {
    ++grants_given_;
    SendControl(conn, HostControl{kCtlShmGranted, 0, 0, "", {c.args[0], std::to_string(offset)}});
  } else {
    ++grant_refusals_;
    SendControl(conn, HostControl{kCtlShmGranted, 0, 0, ledger_ ? why : "no store on this node", {c.args[0]}});
  }
}

bool Host::HandOverShm(ConnId conn, std::vector<Buf>& attachments, std::string* error) {
  if (!unix_conns_.count(conn)) {
    *error = "a shared-memory frame from a connection that is not a local worker's";
    return false;
  }
  for (auto& a : attachments) {
    uint64_t v[2] = {0, 0};
    Buf value;
    if (!DecodeDescriptor(a, v, error) || !ledger_->HandOver(conn, v[0], v[1], &value, error)) return false;
    a = std::move(value);  // the hub's store value: not a byte copied
    ++handed_over_;
  }
  return true;
}

// ---- connections ----

void Host::OnOpen(ConnId conn) {
  if (worker_mode_ && conn == uplink_) StartAll();
  if (conn != uplink_ || !join_) return;
  HostControl c;
  if (options_.role == HostRole::kNode) {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    c.type = kCtlJoinNode;
    c.text = name;
  } else {
    c.type = kCtlJoinDriver;
    c.args = options_.program;
  }
  SendControl(conn, c);
}

void Host::SendControl(ConnId conn, const HostControl& c) {
  std::string err;
  if (!transport_->SendControl(conn, EncodeControl(c), &err))
    std::fprintf(stderr, "dray: cannot send '%s' on connection %llu: %s\n", c.type.c_str(),
                 static_cast<unsigned long long>(conn), err.c_str());
}

void Host::OnControl(ConnId conn, std::string&& body) {
  HostControl c;
  std::string err;
  if (!DecodeControl(body, &c, &err)) {
    std::fprintf(stderr, "dray: connection %llu: %s; closed\n", static_cast<unsigned long long>(conn), err.c_str());
    transport_->Close(conn);
    return;
  }
  if (c.type == kCtlShmRelease && unix_conns_.count(conn)) {
    OnShmRelease(conn, c);
    return;
  }
  if (c.type == kCtlShmGrant && unix_conns_.count(conn)) {
    OnShmGrant(conn, c);
    return;
  }
  if (c.type == kCtlShmGranted && worker_mode_ && conn == uplink_) {
    OnShmGranted(c);
    return;
  }
  if (options_.role == HostRole::kHead) {
    OnHeadControl(conn, c);
    return;
  }
  if (conn != uplink_ || (options_.role != HostRole::kNode && options_.role != HostRole::kDriver)) {
    std::fprintf(stderr, "dray: connection %llu sent a control frame ('%s') this process does not take; closed\n",
                 static_cast<unsigned long long>(conn), c.type.c_str());
    transport_->Close(conn);
    return;
  }
  if (c.type == kCtlWelcome || c.type == kCtlRefuse) {
    if (join_) {
      if (c.type == kCtlWelcome) node_ = c.node;
      join_->set_value({c.type == kCtlWelcome, c});
      join_.reset();
    }
  } else if (c.type == kCtlProgram && options_.role == HostRole::kNode) {
    program_ = c.args;
  } else if (c.type == kCtlStopWorkers && options_.role == HostRole::kNode) {
    KillAllWorkers(c.text);
  } else {
    std::fprintf(stderr, "dray: the head sent an unknown control frame '%s'; ignored\n", c.type.c_str());
  }
}

void Host::OnHeadControl(ConnId conn, const HostControl& c) {
  bool joined = node_conns_.count(conn) || driver_conns_.count(conn) || conn_addr_.count(conn);
  auto refuse = [&](const std::string& why) {
    std::fprintf(stderr, "dray: refused connection %llu: %s\n", static_cast<unsigned long long>(conn), why.c_str());
    SendControl(conn, HostControl{kCtlRefuse, 0, 0, why, {}});
  };
  if (c.type == kCtlStatus) {
    SendControl(conn, HostControl{kCtlStatusReply, 0, 0, options_.status ? options_.status() : "", {}});
  } else if (joined && (c.type == kCtlJoinNode || c.type == kCtlJoinDriver)) {
    std::fprintf(stderr, "dray: connection %llu joined twice; closed\n", static_cast<unsigned long long>(conn));
    transport_->Close(conn);
  } else if (c.type == kCtlJoinNode) {
    NodeId n = next_node_++;
    node_conns_[conn] = n;
    nodes_by_id_[n] = conn;
    std::fprintf(stderr, "dray: node %u (%s) joined\n", n, c.text.c_str());
    SendControl(conn, HostControl{kCtlWelcome, n, 0, "", {}});
    if (!program_.empty()) SendControl(conn, HostControl{kCtlProgram, 0, 0, "", program_});
  } else if (c.type == kCtlJoinDriver) {
    if (c.args.size() < 2 || c.args[0].empty() || c.args[0][0] != '/') {
      refuse("a driver must name its program (an absolute executable path, then its arguments)");
    } else if (!driver_conns_.empty() && c.args != program_) {
      refuse("another driver is connected running '" + program_[0] +
             "'; this slice runs one program's drivers at a time (docs/operations.md)");
    } else if (next_driver_ >= UINT32_MAX - kRemoteDriverProcBase) {
      refuse("this head has run out of driver addresses; restart the cluster");
    } else {
      Addr a{0, kRemoteDriverProcBase + next_driver_++};
      driver_conns_[conn] = a;
      routes_[a] = conn;
      if (!program_.empty() && c.args != program_) {
        // Workers started since the last driver left run the old program.
        KillAllWorkers("a driver of another program joined");
        for (const auto& [nc, n] : node_conns_)
          SendControl(nc, HostControl{kCtlStopWorkers, 0, 0, "a driver of another program joined", {}});
      }
      program_ = c.args;
      std::fprintf(stderr, "dray: driver %s (%s) joined\n", a.Str().c_str(), program_[0].c_str());
      for (const auto& [nc, n] : node_conns_) SendControl(nc, HostControl{kCtlProgram, 0, 0, "", program_});
      SendControl(conn, HostControl{kCtlWelcome, a.node, a.proc, "", {}});
    }
  } else {
    std::fprintf(stderr, "dray: connection %llu sent an unknown control frame '%s'; closed\n",
                 static_cast<unsigned long long>(conn), c.type.c_str());
    transport_->Close(conn);
  }
}

// Every worker of this node: the drivers that needed them are gone. Each one
// is dead to its node manager from now on: WorkerDied goes to it at once,
// before anything this process handles next (a next driver's tasks), so that
// it never leases a worker that is being stopped (the task would die with it,
// or run in the previous driver's program, or be lost with a registration that
// comes in after the death). Its connection closes; it is reaped quietly.
void Host::KillAllWorkers(const std::string& why) {
  if (!children_.empty())
    std::fprintf(stderr, "dray: stopping %zu workers: %s\n", children_.size(), why.c_str());
  for (auto& [pid, c] : children_) {
    if (c.stopping) continue;  // stopped already: its node manager has forgotten it
    c.stopping = true;
    c.retiring = true;
    if (auto r = routes_.find(c.addr); r != routes_.end()) transport_->Close(r->second);
    kill(pid, SIGTERM);
    c.kill_timer = std::make_unique<asio::steady_timer>(transport_->context(), options_.stop_grace);
    c.kill_timer->async_wait([this, pid = pid](const error_code& ec) {
      if (ec || !children_.count(pid)) return;
      kill(pid, SIGKILL);
    });
    Deliver(c.addr, Addr{c.addr.node, kNodeManagerProc},
            WorkerDied{c.addr, "worker " + c.addr.Str() + " (pid " + std::to_string(pid) + ") stopped: " + why});
  }
}

void Host::OnRouted(ConnId conn, const Route& route, Message&& m) {
  if (!ready_) {
    if (early_.size() < 100000) early_.emplace_back(conn, route, std::move(m));
    return;
  }
  if (options_.role == HostRole::kNode && conn == uplink_) {
    if (route.to.node != node_) {
      std::fprintf(stderr, "dray: the head sent node %u a frame for %s; dropped\n", node_, route.to.Str().c_str());
      return;
    }
    Deliver(route.from, route.to, std::move(m));
    return;
  }
  if (options_.role == HostRole::kHead) {
    // A node's connection speaks for that node's processes; a driver's, for
    // that driver alone.
    if (auto n = node_conns_.find(conn); n != node_conns_.end()) {
      if (route.from.node != n->second) {
        std::fprintf(stderr, "dray: node %u's connection sent a frame as %s; closed\n", n->second,
                     route.from.Str().c_str());
        transport_->Close(conn);
        return;
      }
      Deliver(route.from, route.to, std::move(m));
      return;
    }
    if (auto d = driver_conns_.find(conn); d != driver_conns_.end()) {
      if (route.from != d->second) {
        std::fprintf(stderr, "dray: driver %s's connection sent a frame as %s; closed\n", d->second.Str().c_str(),
                     route.from.Str().c_str());
        transport_->Close(conn);
        return;
      }
      Deliver(route.from, route.to, std::move(m));
      return;
    }
  }
  if (worker_mode_ || options_.role == HostRole::kDriver) {
    if (conn != uplink_ || !Find(route.to)) {
      std::fprintf(stderr, "dray: a %s got a frame for %s; dropped\n", worker_mode_ ? "worker" : "driver",
                   route.to.Str().c_str());
      return;
    }
    Deliver(route.from, route.to, std::move(m));
    return;
  }
  // The hub: a connection speaks for one worker, the one this process started
  // at that address; anything else closes it.
  auto bound = conn_addr_.find(conn);
  if (bound == conn_addr_.end()) {
    // Only on this node's Unix socket: a TCP peer (an unjoined node or
    // driver, `dray status`) never speaks for a worker.
    auto pid = child_pids_.find(route.from);
    if (pid == child_pids_.end() || routes_.count(route.from) || !unix_conns_.count(conn)) {
      std::fprintf(stderr, "dray: connection %llu claims to be %s, which is no worker started here; closed\n",
                   static_cast<unsigned long long>(conn), route.from.Str().c_str());
      transport_->Close(conn);
      return;
    }
    conn_addr_[conn] = route.from;
    routes_[route.from] = conn;
  } else if (bound->second != route.from) {
    std::fprintf(stderr, "dray: connection %llu of %s sent a frame as %s; closed\n",
                 static_cast<unsigned long long>(conn), bound->second.Str().c_str(), route.from.Str().c_str());
    transport_->Close(conn);
    return;
  }
  // A worker being stopped is dead to the cluster already (its node manager
  // heard so): what it still sends, until its connection closes, is dropped.
  if (auto pid = child_pids_.find(route.from); pid != child_pids_.end() && children_.at(pid->second).stopping) return;
  Deliver(route.from, route.to, std::move(m));
}

void Host::OnClose(ConnId conn, const std::string& reason) {
  if (worker_mode_) {
    if (conn != uplink_) return;
    {
      std::lock_guard<std::mutex> lock(grants_->mu);
      grants_->closed = true;
      grants_->cv.notify_all();
    }
    // The node is gone (or stopped this worker): nothing more to serve.
    if (recorder_) recorder_->Close();
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(0);
  }
  if (conn == uplink_ && (options_.role == HostRole::kNode || options_.role == HostRole::kDriver)) {
    if (join_) {
      join_->set_value({false, HostControl{kCtlRefuse, 0, 0, reason, {}}});
      join_.reset();
      return;
    }
    if (shutting_down_) return;
    if (options_.role == HostRole::kDriver)
      for (auto& l : locals_)
        if (l->user) l->user->Abandon("lost the connection to the cluster's head: " + reason);
    if (options_.on_uplink_lost) options_.on_uplink_lost(reason);
    return;
  }
  if (auto n = node_conns_.find(conn); n != node_conns_.end()) {
    // The control service declares it dead once it misses its health checks.
    if (!shutting_down_) std::fprintf(stderr, "dray: node %u disconnected: %s\n", n->second, reason.c_str());
    nodes_by_id_.erase(n->second);
    node_conns_.erase(n);
    return;
  }
  if (auto d = driver_conns_.find(conn); d != driver_conns_.end()) {
    Addr a = d->second;
    driver_conns_.erase(d);
    routes_.erase(a);
    departed_.insert(a);
    if (shutting_down_) return;
    std::fprintf(stderr, "dray: driver %s left\n", a.Str().c_str());
    // As a dead owner: its objects are freed, its actors die, its queued tasks go.
    Deliver(a, Addr{0, kControlServiceProc}, Deaths{{a}, {}, "the driver " + a.Str() + " disconnected"});
    if (driver_conns_.empty()) {
      KillAllWorkers("the last driver left");
      for (const auto& [nc, n] : node_conns_) SendControl(nc, HostControl{kCtlStopWorkers, 0, 0, "the last driver left", {}});
    }
    return;
  }
  unix_conns_.erase(conn);
  if (ledger_) ledger_->Drop(conn);  // what it was lent or granted is its no more
  auto it = conn_addr_.find(conn);
  if (it == conn_addr_.end()) return;
  routes_.erase(it->second);
  conn_addr_.erase(it);
  // The worker's death itself is reported when it is reaped (waitpid).
}

void Host::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  DRAY_ASSERT(!transport_->OnLoopThread(), "Host::Stop on the loop thread");
  for (auto& l : locals_)
    if (l->user) l->user->Abandon();
  asio::post(transport_->context(), [this] {
    shutting_down_ = true;
    for (auto& [pid, c] : children_) {
      c.stopping = true;
      kill(pid, SIGTERM);
    }
  });
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, options_.stop_grace, [this] { return live_children_ == 0; })) {
      lock.unlock();
      asio::post(transport_->context(), [this] {
        for (auto& [pid, c] : children_) kill(pid, SIGKILL);
      });
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return live_children_ == 0; });
    }
  }
  // Pending timers would keep the loop running: drop them on the loop.
  std::promise<void> done;
  asio::post(transport_->context(), [this, &done] {
    for (auto& l : locals_) l->timers.clear();
    for (auto& [pid, c] : children_) c.kill_timer.reset();
    done.set_value();
  });
  done.get_future().wait();
  {
    std::lock_guard<std::mutex> lock(releases_->mu);
    releases_->schedule = nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(grants_->mu);
    grants_->closed = true;
    grants_->cv.notify_all();
  }
  transport_->Stop();
  if (ledger_) ledger_->Clear();
  Host* self = this;
  g_store_host.compare_exchange_strong(self, nullptr);
  if (arena_ && internal::CurrentValueArena() == arena_.get()) internal::SetValueArena(nullptr);
  if (grant_arena_ && internal::CurrentValueArena() == grant_arena_.get()) internal::SetValueArena(nullptr);
  std::vector<std::thread> reapers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reapers.swap(reapers_);
  }
  for (auto& t : reapers) t.join();
  if (recorder_) {
    std::string err = recorder_->Close();
    if (!err.empty()) std::fprintf(stderr, "dray: %s\n", err.c_str());
  }
  for (auto& l : locals_)
    if (l->user) l->user->MarkEnded();
  if (disk_) disk_->Stop();          // what it has not begun is dropped
  if (spill_) spill_->RemoveAll();  // the loop and the disk thread have stopped
}

// ---- the user runtime ----

EfCommandResult UserRuntime::Run(Command cmd) {
  std::lock_guard<std::mutex> one_at_a_time(run_mu_);  // one result slot
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (abandoned_) throw Error("dray: " + abandoned_why_);
    result_.reset();
  }
  host_->PostCommand(addr_, std::move(cmd));
  if (LoopBaton* b = host_->baton())  // a worker in a task: step it on this thread
    b->RunWhileWaiting([this] {
      std::lock_guard<std::mutex> lock(mu_);
      return result_.has_value() || abandoned_;
    });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return result_.has_value() || abandoned_; });
  if (!result_) throw Error("dray: " + abandoned_why_);
  EfCommandResult r = std::move(*result_);
  result_.reset();
  return r;
}

void UserRuntime::Notify(Command cmd) {
  if (!*alive_) return;
  host_->PostCommand(addr_, std::move(cmd));
}

void UserRuntime::BeginTask(TaskId task) {
  std::lock_guard<std::mutex> lock(ids_mu_);
  current_task_ = task;
  task_counter_ = 0;
  put_counter_ = 0;
}

TaskId UserRuntime::NextTaskId(TaskId* parent) {
  std::lock_guard<std::mutex> lock(ids_mu_);
  DRAY_ASSERT(current_task_ != TaskId{}, "a task id asked for before the process started");
  *parent = current_task_;
  return TaskId::Child(current_task_, ++task_counter_);
}

internal::RefData UserRuntime::SubmitNamed(TaskSpec spec, Addr actor_owner) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (abandoned_) throw Error("dray: " + abandoned_why_);
  }
  spec.task = NextTaskId(&spec.parent);
  const ObjectId ret = ObjectId::Return(spec.task, 1);
  host_->PostCommand(addr_, CmdSubmit{std::move(spec), actor_owner});
  return ToRefData({ret, addr_});
}

EfCompleteWait UserRuntime::WaitFor(uint64_t waiter) {
  if (LoopBaton* b = host_->baton())
    b->RunWhileWaiting([&] {
      std::lock_guard<std::mutex> lock(mu_);
      return completions_.count(waiter) > 0 || abandoned_;
    });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return completions_.count(waiter) || abandoned_; });
  auto it = completions_.find(waiter);
  if (it == completions_.end()) throw Error("dray: " + abandoned_why_);
  EfCompleteWait c = std::move(it->second);
  completions_.erase(it);
  return c;
}

void UserRuntime::WaitStarted() { WaitFor(kStartWaiter); }

void UserRuntime::Abandon(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!abandoned_) abandoned_why_ = why;
  abandoned_ = true;
  cv_.notify_all();
}

void UserRuntime::OnRunTask(TaskSpec spec) {
  std::lock_guard<std::mutex> lock(mu_);
  tasks_.push_back(std::move(spec));
  cv_.notify_all();
}
void UserRuntime::OnCompleteWait(EfCompleteWait e) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t w = e.waiter;
  completions_[w] = std::move(e);
  cv_.notify_all();
}
void UserRuntime::OnCommandResult(EfCommandResult e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!one_way_puts_.empty()) {
    // Commands are stepped in the order made: a one-way Put's result comes
    // before that of any later command, and names the id the user thread
    // derived for it (else the refs handed out would be wrong).
    DRAY_ASSERT(e.ids.size() == 1 && e.ids[0] == one_way_puts_.front(),
                "a Put's id derived by the user thread differs from the Owner's");
    one_way_puts_.pop_front();
    return;
  }
  result_ = std::move(e);
  cv_.notify_all();
}

// Submits are one-way: the user thread names the task (NextTaskId, as the
// Owner would) and does not wait for the loop to step it. Commands posted by
// one thread are stepped in the order posted, so a later Get sees it.
internal::RefData UserRuntime::Submit(const internal::TaskOptions& opts, std::vector<internal::ArgData> args) {
  return SubmitNamed(internal::TaskCallSpec(opts, args, kTaskRetries), Addr{});
}

internal::RefData UserRuntime::CreateActor(const internal::ActorOptions& o, std::vector<internal::ArgData> args) {
  ActorSpec as = internal::ActorCreationSpec(o, args, kActorRestarts, kActorTaskRetries);
  as.creation.task = NextTaskId(&as.creation.parent);  // from the same counter as Submit's
  uint64_t waiter = next_waiter_++;
  EfCommandResult r = Run(CmdCreateActor{waiter, std::move(as)});
  internal::RefData anchor = ToRefData({r.ids.at(0), addr_});
  if (!o.name.empty()) {  // a name must be free: wait for the control service
    EfCompleteWait c = WaitFor(waiter);
    if (!c.values.empty()) internal::ThrowErrorValue(ToValueData(c.values[0]));
  }
  return anchor;
}

internal::RefData UserRuntime::SubmitActorTask(const internal::RefData& anchor, const internal::TaskOptions& opts,
                                               std::vector<internal::ArgData> args) {
  return SubmitNamed(internal::ActorCallSpec(anchor, opts, args), Addr{anchor.owner_node, anchor.owner_proc});
}

std::optional<std::pair<internal::RefData, std::string>> UserRuntime::GetActor(const std::string& name) {
  uint64_t waiter = next_waiter_++;
  Run(CmdGetActor{waiter, name});
  return internal::FoundActor(WaitFor(waiter), name);
}

void UserRuntime::KillActor(const internal::RefData& anchor, bool no_restart) {
  Notify(CmdKillActor{anchor.task, no_restart});
}

// Puts are one-way too: the user thread derives the put's id as the Owner
// does (ObjectId::Put of the task it runs and its count of puts, both reset
// with each task) and the step's result, when it comes, is checked against
// it and dropped (OnCommandResult).
internal::RefData UserRuntime::Put(internal::ValueData value) {
  ObjectId id;
  {
    std::lock_guard<std::mutex> lock(ids_mu_);
    DRAY_ASSERT(current_task_ != TaskId{}, "a Put before the process started");
    id = ObjectId::Put(current_task_, ++put_counter_);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (abandoned_) throw Error("dray: " + abandoned_why_);
    one_way_puts_.push_back(id);
  }
  host_->PostCommand(addr_, CmdPut{ToObjectValue(value)});
  internal::RefData ref = ToRefData({id, addr_});
  Remember(ref, value);
  return ref;
}

internal::WaitOutcome UserRuntime::Get(const std::vector<internal::RefData>& refs, int64_t timeout_ns) {
  internal::WaitOutcome out;
  if (GetKnown(refs, &out)) return out;
  uint64_t waiter = next_waiter_++;
  Notify(internal::GetCommand(waiter, refs, timeout_ns));
  out = internal::GetOutcome(WaitFor(waiter));
  if (!out.timed_out && out.values.size() == refs.size())
    for (size_t i = 0; i < refs.size(); ++i) Remember(refs[i], out.values[i]);
  return out;
}

bool UserRuntime::GetKnown(const std::vector<internal::RefData>& refs, internal::WaitOutcome* out) {
  std::lock_guard<std::mutex> lock(known_mu_);
  if (known_.empty()) return false;
  for (const auto& r : refs)
    if (!known_.count(r)) return false;
  out->values.reserve(refs.size());
  for (const auto& r : refs) out->values.push_back(known_.at(r));
  return true;
}

void UserRuntime::Remember(const internal::RefData& ref, const internal::ValueData& v) {
  if (v.is_error || !v.contained.empty() || v.data.empty()) return;
  std::lock_guard<std::mutex> lock(known_mu_);
  internal::ValueData plain;
  plain.data = v.data;  // shared, not copied
  if (!known_.emplace(ref, std::move(plain)).second) return;
  known_order_.push_back(ref);
  while (known_order_.size() > kKnownMax) {
    known_.erase(known_order_.front());
    known_order_.pop_front();
  }
}

void UserRuntime::Forget(const internal::RefData& ref) {
  std::lock_guard<std::mutex> lock(known_mu_);
  known_.erase(ref);  // its place in known_order_ goes when it reaches the front
}

internal::WaitOutcome UserRuntime::Wait(const std::vector<internal::RefData>& refs, int num_returns,
                                        int64_t timeout_ns) {
  uint64_t waiter = next_waiter_++;
  Notify(internal::WaitCommand(waiter, refs, num_returns, timeout_ns));
  return internal::WaitOutcomeOf(WaitFor(waiter));
}

void UserRuntime::AddRef(const internal::RefData& r) { Notify(CmdAddRef{ToRefInfo(r)}); }
void UserRuntime::RemoveRef(const internal::RefData& r) {
  Forget(r);
  Notify(CmdRemoveRef{ToRefInfo(r)});
}
int64_t UserRuntime::NowNs() { return host_->NowNs() - init_ns_; }
void UserRuntime::SleepNs(int64_t ns) {
  if (ns <= 0) return;
  if (LoopBaton* b = host_->baton()) b->Release();
  std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
}

void UserRuntime::ServeTasks() {
  LoopBaton* baton = host_->baton();
  while (true) {
    TaskSpec spec;
    // The user thread runs the loop itself until a task comes (a worker's
    // LoopBaton); if the loop has stopped, the process is about to exit.
    if (baton)
      baton->RunUntil([this] {
        std::lock_guard<std::mutex> lock(mu_);
        return !tasks_.empty();
      });
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !tasks_.empty(); });
      spec = std::move(tasks_.front());
      tasks_.pop_front();
    }
    RunTask(spec);
  }
}

// As the simulator's UserThread::RunTask: the user's exception becomes the
// task's error value; a missing function, a FunctionNotFoundError.
void UserRuntime::RunTask(const TaskSpec& spec) {
  BeginTask(spec.task);
  LoopBaton* baton = host_->baton();
  if (baton) baton->BeginUserCode();
  internal::ValueData result = internal::InvokeTask(spec);
  const bool held = baton && baton->EndUserCode();
  Notify(CmdTaskReturned{spec.task, {ToObjectValue(result)}});
  if (held) baton->Poll();  // steps the return now, on this thread, and starts its writes
}

}  // namespace dray::real
