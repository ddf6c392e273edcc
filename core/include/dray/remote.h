// DRAY_REMOTE(f, g, ...) registers remote functions by name, so that a worker
// (the same executable) can find the code a task names.
#pragma once
#include <exception>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "dray/serialize.h"

namespace dray::internal {

using Invoker = std::function<ValueData(const std::vector<ValueData>& args)>;

void RegisterFunction(const std::string& name, const void* key, Invoker invoker);
// nullptr when not registered.
const std::string* FunctionName(const void* key);
const Invoker* FindFunction(const std::string& name);
// Actor methods are registered by a key made of their type and bytes (a
// member pointer is not an address).
void RegisterMethod(const std::string& name, const std::string& key, Invoker invoker);
const std::string* MethodName(const std::string& key);
template <class M>
std::string MethodKey(M m) {
  std::string k = typeid(M).name();
  k.push_back('\0');
  k.append(reinterpret_cast<const char*>(&m), sizeof m);
  return k;
}

// The actor this worker hosts, as a T (a method of another class is an error).
template <class T>
T& ActorSelf(const std::string& method) {
  ProcessRuntime* rt = CurrentRuntime();
  if (!rt) throw Error("dray: actor method '" + method + "' called outside dray");
  ActorSlot& slot = rt->Actor();
  if (!slot.instance) throw Error("dray: actor method '" + method + "' ran in a process that hosts no actor");
  if (*slot.type != typeid(T))
    throw Error("dray: actor method '" + method + "' belongs to another class than the actor (" + slot.class_name + ")");
  return *static_cast<T*>(slot.instance.get());
}
std::vector<std::string> RegisteredFunctions();
std::vector<std::string> SplitRemoteNames(const char* names);

template <class R, class... P, size_t... I>
ValueData InvokeImpl(R (*f)(P...), const std::vector<ValueData>& args, std::index_sequence<I...>) {
  // A failed argument makes the task fail with that argument's error (as in Ray).
  for (const auto& a : args)
    if (a.is_error) return a;
  std::tuple<std::shared_ptr<std::decay_t<P>>...> values{Deserialize<std::decay_t<P>>(args[I])...};
  if constexpr (std::is_void_v<R>) {
    f(*std::get<I>(values)...);
    return Serialize(msgpack::type::nil_t());
  } else {
    return Serialize(f(*std::get<I>(values)...));
  }
}

// An actor's factory (T* Create(...)): the instance becomes this worker's actor.
template <class T, class... P, size_t... I>
ValueData InvokeFactory(T* (*f)(P...), const std::string& name, const std::vector<ValueData>& args,
                        std::index_sequence<I...>) {
  for (const auto& a : args)
    if (a.is_error) return a;
  std::tuple<std::shared_ptr<std::decay_t<P>>...> values{Deserialize<std::decay_t<P>>(args[I])...};
  T* p = f(*std::get<I>(values)...);
  if (!p) throw Error("dray: actor factory '" + name + "' returned a null pointer");
  ProcessRuntime* rt = CurrentRuntime();
  if (!rt) {
    delete p;
    throw Error("dray: actor factory '" + name + "' called outside dray");
  }
  ActorSlot& slot = rt->Actor();
  slot.instance = std::shared_ptr<void>(p, [](void* q) { delete static_cast<T*>(q); });
  slot.type = &typeid(T);
  slot.class_name = name;
  return Serialize(msgpack::type::nil_t());
}

inline void CheckArity(const std::string& name, size_t want, size_t got) {
  if (want != got)
    throw Error("dray: function '" + name + "' takes " + std::to_string(want) + " arguments, got " +
                std::to_string(got));
}

template <class R, class... P>
void RegisterOne(const std::string& name, R (*f)(P...)) {
  RegisterFunction(name, reinterpret_cast<const void*>(f), [f, name](const std::vector<ValueData>& args) {
    CheckArity(name, sizeof...(P), args.size());
    if constexpr (std::is_pointer_v<R> && std::is_class_v<std::remove_pointer_t<R>>)
      return InvokeFactory(f, name, args, std::index_sequence_for<P...>{});
    else
      return InvokeImpl(f, args, std::index_sequence_for<P...>{});
  });
}

template <class T, class M, class R, class... P, size_t... I>
ValueData InvokeMethod(M m, const std::string& name, const std::vector<ValueData>& args, std::index_sequence<I...>) {
  for (const auto& a : args)
    if (a.is_error) return a;
  T& self = ActorSelf<T>(name);
  std::tuple<std::shared_ptr<std::decay_t<P>>...> values{Deserialize<std::decay_t<P>>(args[I])...};
  if constexpr (std::is_void_v<R>) {
    (self.*m)(*std::get<I>(values)...);
    return Serialize(msgpack::type::nil_t());
  } else {
    return Serialize((self.*m)(*std::get<I>(values)...));
  }
}

template <class T, class M, class R, class... P>
void RegisterMethodOf(const std::string& name, M m) {
  RegisterMethod(name, MethodKey(m), [m, name](const std::vector<ValueData>& args) {
    CheckArity(name, sizeof...(P), args.size());
    return InvokeMethod<T, M, R, P...>(m, name, args, std::index_sequence_for<P...>{});
  });
}
template <class T, class R, class... P>
void RegisterOne(const std::string& name, R (T::*m)(P...)) {
  RegisterMethodOf<T, decltype(m), R, P...>(name, m);
}
template <class T, class R, class... P>
void RegisterOne(const std::string& name, R (T::*m)(P...) const) {
  RegisterMethodOf<T, decltype(m), R, P...>(name, m);
}

template <class... Fs>
int RegisterRemotes(const char* names, Fs... fs) {
  std::vector<std::string> n = SplitRemoteNames(names);
  size_t i = 0;
  (RegisterOne(n.at(i++), fs), ...);
  return 0;
}

}  // namespace dray::internal

#define DRAY_CONCAT_INNER(a, b) a##b
#define DRAY_CONCAT(a, b) DRAY_CONCAT_INNER(a, b)
#define DRAY_REMOTE(...)                                                     \
  [[maybe_unused]] static const int DRAY_CONCAT(dray_remote_registered_, __COUNTER__) = \
      ::dray::internal::RegisterRemotes(#__VA_ARGS__, __VA_ARGS__)
