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

template <class R, class... P>
void RegisterOne(const std::string& name, R (*f)(P...)) {
  RegisterFunction(name, reinterpret_cast<const void*>(f), [f, name](const std::vector<ValueData>& args) {
    if (args.size() != sizeof...(P))
      throw Error("dray: function '" + name + "' takes " + std::to_string(sizeof...(P)) + " arguments, got " +
                  std::to_string(args.size()));
    return InvokeImpl(f, args, std::index_sequence_for<P...>{});
  });
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
