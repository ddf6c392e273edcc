// Values travel as msgpack (a user type declares MSGPACK_DEFINE). Error
// objects carry an error record that Get turns back into the right exception.
#pragma once
#include <memory>
#include <string>
#include <tuple>

#include <msgpack.hpp>

#include "dray/errors.h"
#include "dray/object_ref.h"

namespace dray::internal {

// msgpack's output stream, straight into the string that becomes the value
// (no second copy of a large value).
struct StringSink {
  std::string s;
  void write(const char* p, size_t n) { s.append(p, n); }
};

template <class T>
ValueData Serialize(const T& v) {
  ContainedRefs scope;
  StringSink sink;
  msgpack::pack(sink, v);
  ValueData out;
  out.data = std::make_shared<const std::string>(std::move(sink.s));
  out.contained = std::move(scope.refs);
  out.pins = std::move(scope.pins);
  return out;
}

// Error record: [kind, task_name, type, message].
ValueData MakeErrorValue(const std::string& kind, const std::string& task_name, const std::string& type,
                         const std::string& message);
[[noreturn]] void ThrowErrorValue(const ValueData& v);

template <class T>
std::shared_ptr<T> Deserialize(const ValueData& v) {
  if (v.is_error) ThrowErrorValue(v);
  if (!v.data) throw Error("dray: object has no data");
  try {
    // Strings and binaries are referenced in v.data (alive throughout), not
    // copied into the unpack zone and then again into the result.
    msgpack::object_handle oh = msgpack::unpack(
        v.data->data(), v.data->size(),
        [](msgpack::type::object_type t, size_t, void*) {
          return t == msgpack::type::STR || t == msgpack::type::BIN || t == msgpack::type::EXT;
        },
        nullptr);
    auto out = std::make_shared<T>();
    oh.get().convert(*out);
    return out;
  } catch (const msgpack::type_error& e) {
    throw Error(std::string("dray: object does not hold a value of the requested type (") + e.what() + ")");
  } catch (const msgpack::unpack_error& e) {
    throw Error(std::string("dray: object bytes are malformed (") + e.what() + ")");
  }
}

}  // namespace dray::internal
