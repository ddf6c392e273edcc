// dray: Ray's execution model in C++20. One header; DESIGN.md §6 is the contract.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dray/buffer.h"
#include "dray/config.h"
#include "dray/errors.h"
#include "dray/object_ref.h"
#include "dray/remote.h"
#include "dray/serialize.h"

namespace dray {

void Init();
void Init(const Config& config);
void Init(int argc, char** argv);
void Init(Config config, int argc, char** argv);
void Shutdown();
bool IsInitialized();
// Time since Init: virtual time in a simulation.
std::chrono::nanoseconds Now();
// Advances the caller's virtual time in a simulation; sleeps for real otherwise.
void SleepFor(std::chrono::nanoseconds d);

template <class T>
struct WaitResult {
  std::vector<ObjectRef<T>> ready;
  std::vector<ObjectRef<T>> unready;
};

namespace internal {
template <class P, class A>
ArgData MakeArg(A&& a) {
  using D = std::decay_t<A>;
  ArgData out;
  if constexpr (IsObjectRef<D>::value) {
    static_assert(std::is_convertible_v<typename IsObjectRef<D>::type, std::decay_t<P>>,
                  "an ObjectRef argument must hold the parameter's type");
    out.is_ref = true;
    out.ref = a.Data();
  } else {
    static_assert(std::is_convertible_v<A, std::decay_t<P>>, "argument does not convert to the parameter's type");
    out.value = Serialize(static_cast<std::decay_t<P>>(std::forward<A>(a)));
  }
  return out;
}
// The arguments of a call of a function taking P..., in order.
template <class... P, class... A>
std::vector<ArgData> MakeArgs(A&&... args) {
  static_assert(sizeof...(A) == sizeof...(P), "Remote(): wrong number of arguments");
  std::vector<ArgData> v;
  v.reserve(sizeof...(A));
  (v.push_back(MakeArg<P>(std::forward<A>(args))), ...);
  return v;
}
template <class T>
std::vector<RefData> Datas(const std::vector<ObjectRef<T>>& refs) {
  std::vector<RefData> d;
  d.reserve(refs.size());
  for (const auto& r : refs) d.push_back(r.Data());
  return d;
}
int64_t ToTimeoutNs(std::chrono::nanoseconds d);
}  // namespace internal

// Task(f).Set...().Remote(args...): submits a call of a DRAY_REMOTE function.
template <class R, class... P>
class TaskCaller {
 public:
  explicit TaskCaller(R (*f)(P...)) : f_(f) {
    const std::string* name = internal::FunctionName(reinterpret_cast<const void*>(f));
    if (!name) throw FunctionNotFoundError("dray: Task(): function is not registered; add it to DRAY_REMOTE(...)");
    opts_.function = *name;
  }
  TaskCaller& SetResource(const std::string& name, double amount) {
    opts_.resources[name] = amount;
    return *this;
  }
  TaskCaller& SetResources(const std::map<std::string, double>& r) {
    for (const auto& [k, v] : r) opts_.resources[k] = v;
    return *this;
  }
  TaskCaller& SetMaxRetries(int n) { opts_.max_retries = n; return *this; }
  TaskCaller& SetRetryExceptions(bool b) { opts_.retry_exceptions = b; return *this; }
  TaskCaller& SetName(const std::string& name) { opts_.name = name; return *this; }

  template <class... A>
  ObjectRef<R> Remote(A&&... args) {
    return ObjectRef<R>::FromData(
        internal::RequireRuntime().Submit(opts_, internal::MakeArgs<P...>(std::forward<A>(args)...)));
  }

 private:
  R (*f_)(P...);
  internal::TaskOptions opts_;
};

template <class R, class... P>
TaskCaller<R, P...> Task(R (*f)(P...)) {
  return TaskCaller<R, P...>(f);
}

template <class T>
ObjectRef<std::decay_t<T>> Put(T&& value) {
  auto ref = internal::RequireRuntime().Put(internal::Serialize(static_cast<const std::decay_t<T>&>(value)));
  return ObjectRef<std::decay_t<T>>::FromData(ref);
}

template <class T>
std::vector<std::shared_ptr<T>> Get(const std::vector<ObjectRef<T>>& refs, std::chrono::nanoseconds timeout) {
  for (const auto& r : refs)
    if (r.IsNull()) throw Error("dray: Get() on a null ObjectRef");
  auto out = internal::RequireRuntime().Get(internal::Datas(refs), internal::ToTimeoutNs(timeout));
  if (out.timed_out)
    throw GetTimeoutError("dray: Get() timed out after " + std::to_string(timeout.count() / 1000000) +
                          " ms waiting for " + std::to_string(refs.size()) + " object(s)");
  std::vector<std::shared_ptr<T>> values;
  values.reserve(out.values.size());
  for (const auto& v : out.values) {
    if constexpr (std::is_void_v<T>) {
      // ObjectRef<void> (a void function or method): only errors carry anything.
      if (v.is_error) internal::ThrowErrorValue(v);
      values.push_back(nullptr);
    } else {
      values.push_back(internal::Deserialize<T>(v));
    }
  }
  return values;
}
template <class T>
std::vector<std::shared_ptr<T>> Get(const std::vector<ObjectRef<T>>& refs) {
  return Get(refs, std::chrono::nanoseconds(-1));
}
template <class T, class Rep, class Period>
std::shared_ptr<T> Get(const ObjectRef<T>& ref, std::chrono::duration<Rep, Period> timeout) {
  return Get(std::vector<ObjectRef<T>>{ref}, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout))[0];
}
template <class T>
std::shared_ptr<T> Get(const ObjectRef<T>& ref) {
  return Get(std::vector<ObjectRef<T>>{ref}, std::chrono::nanoseconds(-1))[0];
}

// Waits until num_returns refs are ready or timeout_ms passes (-1: no limit).
// ready and unready keep the input order; at most num_returns are ready.
template <class T>
WaitResult<T> Wait(const std::vector<ObjectRef<T>>& refs, int num_returns, int timeout_ms = -1) {
  if (num_returns < 0 || static_cast<size_t>(num_returns) > refs.size())
    throw Error("dray: Wait(): num_returns " + std::to_string(num_returns) + " is not in [0, " +
                std::to_string(refs.size()) + "]");
  int64_t timeout_ns = timeout_ms < 0 ? -1 : int64_t{timeout_ms} * 1000000;
  auto out = internal::RequireRuntime().Wait(internal::Datas(refs), num_returns, timeout_ns);
  WaitResult<T> w;
  for (size_t i = 0; i < refs.size(); ++i) (out.ready[i] ? w.ready : w.unready).push_back(refs[i]);
  return w;
}

}  // namespace dray

#include "dray/actor.h"
