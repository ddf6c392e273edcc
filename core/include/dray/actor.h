// Actors (DESIGN §6, docs/actors.md): Actor(factory).Set...().Remote(args)
// starts one; ActorHandle<T>::Task(&T::Method).Remote(args) calls it; calls
// from one caller run in the order they were made. A handle is a counted
// reference: copies (also passed to tasks, returned, nested in values) keep
// the actor alive; when the last is gone the actor stops.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "dray/object_ref.h"
#include "dray/remote.h"

// Included by dray/dray.h after internal::MakeArg.

namespace dray {

template <class T>
class ActorHandle;

// handle.Task(&T::Method).Remote(args...)
template <class T, class R, class... P>
class ActorTaskCaller {
 public:
  template <class M>
  ActorTaskCaller(internal::RefData anchor, M m) : anchor_(anchor) {
    const std::string* name = internal::MethodName(internal::MethodKey(m));
    if (!name) throw FunctionNotFoundError("dray: ActorHandle::Task(): method is not registered; add it to DRAY_REMOTE(...)");
    opts_.function = *name;
    opts_.resources.clear();  // a call runs on the actor's worker: it needs nothing more
  }
  ActorTaskCaller& SetName(const std::string& name) { opts_.name = name; return *this; }

  template <class... A>
  ObjectRef<R> Remote(A&&... args) {
    auto v = internal::MakeArgs<P...>(std::forward<A>(args)...);
    return ObjectRef<R>::FromData(internal::RequireRuntime().SubmitActorTask(anchor_, opts_, std::move(v)));
  }

 private:
  internal::RefData anchor_;
  internal::TaskOptions opts_;
};

template <class T>
class ActorHandle {
 public:
  ActorHandle() = default;
  // For the runtime: a new handle in this process on the actor whose handle
  // object is `anchor`.
  static ActorHandle FromData(const internal::RefData& anchor) {
    ActorHandle h;
    h.anchor_ = ObjectRef<void>::FromData(anchor);
    return h;
  }
  bool IsNull() const { return anchor_.IsNull(); }
  // Its handle object: what keeps the actor alive (and how a handle travels).
  const ObjectRef<void>& Anchor() const { return anchor_; }
  const internal::RefData& Data() const { return anchor_.Data(); }
  std::shared_ptr<const void> Pin() const { return anchor_.Pin(); }
  // Hex id, as Ray prints it.
  std::string ID() const {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(Data().task));
    return buf;
  }
  bool operator==(const ActorHandle& o) const { return Data() == o.Data(); }

  template <class R, class... P>
  ActorTaskCaller<T, R, P...> Task(R (T::*m)(P...)) const {
    return ActorTaskCaller<T, R, P...>(Checked(), m);
  }
  template <class R, class... P>
  ActorTaskCaller<T, R, P...> Task(R (T::*m)(P...) const) const {
    return ActorTaskCaller<T, R, P...>(Checked(), m);
  }
  // Stops the actor; with no_restart false it restarts if max_restarts allows.
  void Kill(bool no_restart = true) const { internal::RequireRuntime().KillActor(Checked(), no_restart); }

 private:
  const internal::RefData& Checked() const {
    if (IsNull()) throw Error("dray: a null ActorHandle");
    return Data();
  }
  ObjectRef<void> anchor_;
};

// Actor(factory).SetName(...).SetMaxRestarts(...).Remote(args...)
template <class T, class... P>
class ActorCreator {
 public:
  explicit ActorCreator(T* (*f)(P...)) {
    const std::string* name = internal::FunctionName(reinterpret_cast<const void*>(f));
    if (!name) throw FunctionNotFoundError("dray: Actor(): factory is not registered; add it to DRAY_REMOTE(...)");
    opts_.factory = *name;
    opts_.class_name = typeid(T).name();
  }
  ActorCreator& SetName(const std::string& name) { opts_.name = name; return *this; }
  // Resources set here are held for the actor's life (by default it takes
  // 1 CPU to place and holds none while it runs, as in Ray).
  ActorCreator& SetResource(const std::string& name, double amount) {
    if (!opts_.resources_set) opts_.resources.clear();
    opts_.resources_set = true;
    opts_.resources[name] = amount;
    return *this;
  }
  ActorCreator& SetResources(const std::map<std::string, double>& r) {
    for (const auto& [k, v] : r) SetResource(k, v);
    return *this;
  }
  ActorCreator& SetMaxRestarts(int n) { opts_.max_restarts = n; return *this; }
  ActorCreator& SetMaxTaskRetries(int n) { opts_.max_task_retries = n; return *this; }
  ActorCreator& SetMaxConcurrency(int n) { opts_.max_concurrency = n; return *this; }

  template <class... A>
  ActorHandle<T> Remote(A&&... args) {
    auto v = internal::MakeArgs<P...>(std::forward<A>(args)...);
    return ActorHandle<T>::FromData(internal::RequireRuntime().CreateActor(opts_, std::move(v)));
  }

 private:
  internal::ActorOptions opts_;
};

template <class T, class... P>
ActorCreator<T, P...> Actor(T* (*factory)(P...)) {
  return ActorCreator<T, P...>(factory);
}

// The live actor named `name` in this job, if any.
template <class T>
std::optional<ActorHandle<T>> GetActor(const std::string& name) {
  auto found = internal::RequireRuntime().GetActor(name);
  if (!found) return std::nullopt;
  if (found->second != typeid(T).name())
    throw Error("dray: GetActor(\"" + name + "\"): the actor is of another class than the one asked for");
  return ActorHandle<T>::FromData(found->first);
}

template <class T>
void Kill(const ActorHandle<T>& actor, bool no_restart = true) {
  actor.Kill(no_restart);
}

template <class T> struct IsActorHandle : std::false_type {};
template <class T> struct IsActorHandle<ActorHandle<T>> : std::true_type {};

}  // namespace dray

// A handle nested in a value travels as its handle object's ref (and is
// counted as one).
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <class T>
struct pack<dray::ActorHandle<T>> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const dray::ActorHandle<T>& h) const {
    return o.pack(h.Anchor());
  }
};
template <class T>
struct convert<dray::ActorHandle<T>> {
  const msgpack::object& operator()(const msgpack::object& o, dray::ActorHandle<T>& h) const {
    dray::ObjectRef<void> anchor;
    o.convert(anchor);
    h = anchor.IsNull() ? dray::ActorHandle<T>() : dray::ActorHandle<T>::FromData(anchor.Data());
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
