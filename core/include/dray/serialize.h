// Values travel as msgpack (a user type declares MSGPACK_DEFINE). Error
// objects carry an error record that Get turns back into the right exception.
#pragma once
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <tuple>

#include <msgpack.hpp>

#include "dray/errors.h"
#include "dray/object_ref.h"

namespace dray::internal {

// msgpack's output streams for Serialize. A value is packed once into a
// string; if it made a write of kLargeWriteBytes or more (a string's or a
// binary's body), only its size is kept and it is packed again, straight
// into an allocation of that size (the process's value arena, else the
// heap), so a large value's bytes are copied exactly once. Two passes, not
// pointers kept from the first: a user's adaptor may pack a temporary.
inline constexpr size_t kLargeWriteBytes = 4 * 1024;

class FirstPassSink {
 public:
  void write(const char* p, size_t n) {
    total_ += n;
    if (n >= kLargeWriteBytes) large_ = true;
    if (!large_) small_.append(p, n);
  }
  bool large() const { return large_ || total_ >= kArenaMinBytes; }
  size_t total() const { return total_; }
  std::string& bytes() { return small_; }  // the whole value unless large()

 private:
  std::string small_;
  size_t total_ = 0;
  bool large_ = false;
};

class FixedSink {
 public:
  FixedSink(char* out, size_t cap) : w_(out), left_(cap) {}
  void write(const char* p, size_t n) {
    if (n > left_) {
      overflow_ = true;
      return;
    }
    std::memcpy(w_, p, n);
    w_ += n;
    left_ -= n;
  }
  bool exact() const { return !overflow_ && left_ == 0; }

 private:
  char* w_;
  size_t left_;
  bool overflow_ = false;
};

struct StringSink {
  std::string s;
  void write(const char* p, size_t n) { s.append(p, n); }
};

// The value being deserialized on this thread (a Buffer inside it shares
// its bytes instead of copying them).
inline thread_local const Bytes* tls_deserialize_source = nullptr;

template <class T>
ValueData Serialize(const T& v) {
  ValueData out;
  {
    ContainedRefs scope;
    FirstPassSink first;
    msgpack::pack(first, v);
    out.contained = std::move(scope.refs);
    out.pins = std::move(scope.pins);
    if (!first.large()) {
      out.data = Bytes(std::move(first.bytes()));
      return out;
    }
    bool exact = true;
    ContainedRefs again;  // the second pass notes the same refs: dropped
    out.data = AllocateValue(first.total(), [&](char* w) {
      FixedSink fixed(w, first.total());
      msgpack::pack(fixed, v);
      exact = fixed.exact();
    });
    if (exact) return out;
  }
  // The value packed to another size the second time (an adaptor that is
  // not a function of the value): pack it once more, into a string.
  ContainedRefs third;
  StringSink sink;
  msgpack::pack(sink, v);
  out.data = Bytes(std::move(sink.s));
  return out;
}

// Error record: [kind, task_name, type, message].
ValueData MakeErrorValue(const std::string& kind, const std::string& task_name, const std::string& type,
                         const std::string& message);
[[noreturn]] void ThrowErrorValue(const ValueData& v);

template <class T>
std::shared_ptr<T> Deserialize(const ValueData& v) {
  if (v.is_error) ThrowErrorValue(v);
  if (v.data.empty()) throw Error("dray: object has no data");
  struct Source {
    const Bytes* prev = tls_deserialize_source;
    explicit Source(const Bytes* b) { tls_deserialize_source = b; }
    ~Source() { tls_deserialize_source = prev; }
  } source(&v.data);
  try {
    // Strings and binaries are referenced in v.data (alive throughout), not
    // copied into the unpack zone and then again into the result.
    msgpack::object_handle oh = msgpack::unpack(
        v.data.data(), v.data.size(),
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
