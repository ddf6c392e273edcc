// The public API front (DESIGN §6): hands user calls to the backend that runs
// this process. It may block the calling thread; it reads no clock of its own.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "core/api/backend.h"
#include "dray/dray.h"

namespace dray {
namespace internal {

namespace {
thread_local ProcessRuntime* tls_runtime = nullptr;
thread_local ContainedRefs* tls_contained = nullptr;

struct Registry {
  std::mutex mu;
  std::map<std::string, Invoker> by_name;
  std::map<const void*, std::string> by_key;
  std::map<std::string, std::string> by_method_key;
  std::set<std::string> ambiguous;
};
Registry& Reg() {
  static Registry r;
  return r;
}

std::unique_ptr<Backend>& CurrentBackend() {
  static std::unique_ptr<Backend> b;
  return b;
}
}  // namespace

namespace {
std::atomic<ValueArena*> g_value_arena{nullptr};
}  // namespace
void SetValueArena(ValueArena* arena) { g_value_arena.store(arena, std::memory_order_release); }
ValueArena* CurrentValueArena() { return g_value_arena.load(std::memory_order_acquire); }

ProcessRuntime* CurrentRuntime() { return tls_runtime; }
void SetCurrentRuntime(ProcessRuntime* rt) { tls_runtime = rt; }
ProcessRuntime& RequireRuntime() {
  if (!tls_runtime) throw Error("dray: not initialized in this thread; call dray::Init() first");
  return *tls_runtime;
}

RefHandle::~RefHandle() {
  if (alive_ && *alive_ && rt_) rt_->RemoveRef(ref_);
}

std::shared_ptr<RefHandle> MakeHandle(const RefData& ref) {
  ProcessRuntime& rt = RequireRuntime();
  rt.AddRef(ref);
  return std::make_shared<RefHandle>(ref, &rt, rt.AliveFlag());
}

ContainedRefs::ContainedRefs() : prev_(tls_contained) { tls_contained = this; }
ContainedRefs::~ContainedRefs() { tls_contained = prev_; }
void ContainedRefs::Note(const RefData& r, std::shared_ptr<const void> pin) {
  if (!tls_contained) return;
  tls_contained->refs.push_back(r);
  tls_contained->pins.push_back(std::move(pin));
}

void RegisterFunction(const std::string& name, const void* key, Invoker invoker) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  for (const auto& [k, n] : r.by_key) {
    if (n != name || k == key) continue;
    // Two different functions under one name: a task could run the wrong one,
    // so neither is callable (Task() and the worker both report it).
    std::fprintf(stderr, "dray: DRAY_REMOTE: two different functions are registered as '%s'; rename one\n",
                 name.c_str());
    r.ambiguous.insert(name);
  }
  r.by_name[name] = std::move(invoker);
  r.by_key[key] = name;
}
const std::string* FunctionName(const void* key) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  auto it = r.by_key.find(key);
  return it == r.by_key.end() || r.ambiguous.count(it->second) ? nullptr : &it->second;
}
void RegisterMethod(const std::string& name, const std::string& key, Invoker invoker) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  for (const auto& [k, n] : r.by_method_key) {
    if (n != name || k == key) continue;
    std::fprintf(stderr, "dray: DRAY_REMOTE: two different methods are registered as '%s'; rename one\n",
                 name.c_str());
    r.ambiguous.insert(name);
  }
  if (r.by_name.count(name) && !r.by_method_key.count(key)) {
    bool is_method = false;
    for (const auto& [k, n] : r.by_method_key) is_method |= n == name;
    if (!is_method) r.ambiguous.insert(name);
  }
  r.by_name[name] = std::move(invoker);
  r.by_method_key[key] = name;
}
const std::string* MethodName(const std::string& key) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  auto it = r.by_method_key.find(key);
  return it == r.by_method_key.end() || r.ambiguous.count(it->second) ? nullptr : &it->second;
}
const Invoker* FindFunction(const std::string& name) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() || r.ambiguous.count(name) ? nullptr : &it->second;
}
std::vector<std::string> RegisteredFunctions() {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  std::vector<std::string> out;
  for (const auto& [k, v] : r.by_name) out.push_back(k);
  return out;
}
std::vector<std::string> SplitRemoteNames(const char* names) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t\n&");
    size_t e = cur.find_last_not_of(" \t\n");
    out.push_back(b == std::string::npos ? "" : cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (const char* p = names; *p; ++p) {
    if (*p == '<' || *p == '(') ++depth;
    if (*p == '>' || *p == ')') --depth;
    if (*p == ',' && depth == 0) flush(); else cur += *p;
  }
  flush();
  return out;
}

ValueData MakeErrorValue(const std::string& kind, const std::string& task_name, const std::string& type,
                         const std::string& message) {
  ValueData v = Serialize(std::make_tuple(kind, task_name, type, message));
  v.is_error = true;
  return v;
}

void ThrowErrorValue(const ValueData& v) {
  std::string kind = "Error", task, type, message;
  try {
    msgpack::object_handle oh = msgpack::unpack(v.data.data(), v.data.size());
    std::tuple<std::string, std::string, std::string, std::string> t;
    oh.get().convert(t);
    std::tie(kind, task, type, message) = t;
  } catch (const std::exception& e) {
    throw Error(std::string("dray: an error object could not be read (") + e.what() + ")");
  }
  if (kind == "TaskError") throw TaskError(task, type, message);
  std::string what = "dray: " + kind + ": " + message;
  if (kind == "WorkerCrashedError") throw WorkerCrashedError(what);
  if (kind == "ActorDiedError") throw ActorDiedError(what);
  if (kind == "ActorUnavailableError") throw ActorUnavailableError(what);
  if (kind == "ObjectLostError") throw ObjectLostError(what);
  if (kind == "OwnerDiedError") throw OwnerDiedError(what);
  if (kind == "FunctionNotFoundError") throw FunctionNotFoundError(what);
  throw Error(what);
}

int64_t ToTimeoutNs(std::chrono::nanoseconds d) { return d.count() < 0 ? -1 : d.count(); }

}  // namespace internal

namespace {
std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

void Init() { Init(Config{}); }

void Init(const Config& config) {
  if (IsInitialized()) throw Error("dray: Init() called twice; call Shutdown() first");
  Config c = config;
  if (c.sim.empty()) c.sim = EnvOr("DRAY_SIM");
  if (c.address.empty()) c.address = EnvOr("DRAY_ADDRESS");
  if (c.record.empty()) c.record = EnvOr("DRAY_RECORD");
  // A worker process (started by its node manager) serves tasks in Init.
  bool worker = !EnvOr("DRAY_WORKER").empty();
  auto b = worker || c.sim.empty() ? internal::CreateRealBackend(c) : internal::CreateSimBackend(c);
  internal::ProcessRuntime* rt = b->StartDriver();
  internal::SetCurrentRuntime(rt);
  internal::CurrentBackend() = std::move(b);
}

void Init(int argc, char** argv) { Init(Config{}, argc, argv); }

void Init(Config config, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--dray-", 0) != 0) continue;  // the program's own flags
    size_t eq = a.find('=');
    std::string key = a.substr(0, eq);
    if (eq == std::string::npos) throw Error("dray: flag '" + a + "' needs a value (" + key + "=...)");
    std::string val = a.substr(eq + 1);
    if (key == "--dray-sim") config.sim = val;
    else if (key == "--dray-address") config.address = val;
    else if (key == "--dray-record") config.record = val;
    else if (key == "--dray-num-cpus") {
      try {
        size_t n = 0;
        config.num_cpus = std::stoi(val, &n);
        if (n != val.size() || config.num_cpus < 0) throw std::invalid_argument("x");
      } catch (const std::exception&) {
        throw Error("dray: flag --dray-num-cpus needs a non-negative integer, got '" + val + "'");
      }
    } else {
      throw Error("dray: unknown flag '" + key + "' (known: --dray-sim, --dray-address, --dray-num-cpus, --dray-record)");
    }
  }
  Init(config);
}

void Shutdown() {
  auto& b = internal::CurrentBackend();
  if (!b) return;
  b->Stop();
  b.reset();
  internal::SetCurrentRuntime(nullptr);
}

bool IsInitialized() { return internal::CurrentBackend() != nullptr; }

std::chrono::nanoseconds Now() { return std::chrono::nanoseconds(internal::RequireRuntime().NowNs()); }

void SleepFor(std::chrono::nanoseconds d) { internal::RequireRuntime().SleepNs(d.count()); }

}  // namespace dray
