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

// Writes of this size or more are referenced, not copied, until the value's
// size is known; then the value is copied once, into memory of that size.
inline constexpr size_t kGatherMinBytes = 4 * 1024;

// msgpack's output stream. Small writes are appended; a large write (a
// string's or binary's body) is remembered in place, so a large value is
// copied exactly once, into an allocation of its final size (the arena's or
// the heap's). The referenced bytes must outlive Finish (they are the value
// being packed).
class ValueSink {
 public:
  void write(const char* p, size_t n) {
    if (n >= kGatherMinBytes) {
      pieces_.push_back({small_.size(), p, n});
    } else {
      small_.append(p, n);
    }
    total_ += n;
  }
  Bytes Finish() {
    if (pieces_.empty() && total_ < kArenaMinBytes) return Bytes(std::move(small_));
    return AllocateValue(total_, [this](char* w) {
      size_t from = 0;  // of small_
      for (const Piece& piece : pieces_) {
        std::memcpy(w, small_.data() + from, piece.at - from);
        w += piece.at - from;
        from = piece.at;
        std::memcpy(w, piece.p, piece.n);
        w += piece.n;
      }
      std::memcpy(w, small_.data() + from, small_.size() - from);
    });
  }

 private:
  struct Piece {
    size_t at;  // where in small_'s bytes it goes
    const char* p;
    size_t n;
  };
  std::string small_;
  std::vector<Piece> pieces_;
  size_t total_ = 0;
};

// The value being deserialized on this thread (a Buffer inside it shares
// its bytes instead of copying them).
inline thread_local const Bytes* tls_deserialize_source = nullptr;

template <class T>
ValueData Serialize(const T& v) {
  ContainedRefs scope;
  ValueSink sink;
  msgpack::pack(sink, v);
  ValueData out;
  out.data = sink.Finish();
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
