// dray::Buffer: immutable bytes that travel without copies. Put or return a
// Buffer and its bytes are written once into the object store; Get of a
// Buffer gives a view of the store's memory (shared memory on a real node),
// so its time does not grow with the size. Copies of a Buffer share the
// bytes. On the wire it is a msgpack binary, so a Buffer put by one program
// reads back as a std::string or std::vector<uint8_t> too, and vice versa.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "dray/internal/bytes.h"
#include "dray/serialize.h"

namespace dray {

class Buffer {
 public:
  Buffer() = default;
  // Takes the string's characters (no copy).
  explicit Buffer(std::string s) : b_(std::move(s)) {}
  // Copies `n` bytes from `p`.
  Buffer(const void* p, size_t n) : b_(std::string(static_cast<const char*>(p), n)) {}
  explicit Buffer(const std::vector<uint8_t>& v) : Buffer(v.data(), v.size()) {}
  explicit Buffer(internal::Bytes b) : b_(std::move(b)) {}

  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(b_.data()); }
  size_t size() const { return b_.size(); }
  bool empty() const { return b_.empty(); }
  std::string_view view() const { return b_.view(); }
  const uint8_t* begin() const { return data(); }
  const uint8_t* end() const { return data() + size(); }
  uint8_t operator[](size_t i) const { return data()[i]; }
  std::string ToString() const { return std::string(b_.view()); }
  // Whether this Buffer shares the memory of `other` (a view, not a copy).
  bool SharesMemoryWith(const Buffer& other) const {
    return b_.owner() && !b_.owner().owner_before(other.b_.owner()) && !other.b_.owner().owner_before(b_.owner());
  }
  const internal::Bytes& bytes() const { return b_; }
  bool operator==(const Buffer& o) const { return view() == o.view(); }

 private:
  internal::Bytes b_;
};

}  // namespace dray

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <>
struct pack<dray::Buffer> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const dray::Buffer& b) const {
    if (b.size() > UINT32_MAX) throw msgpack::type_error();
    o.pack_bin(static_cast<uint32_t>(b.size()));
    o.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<uint32_t>(b.size()));
    return o;
  }
};
template <>
struct convert<dray::Buffer> {
  const msgpack::object& operator()(const msgpack::object& o, dray::Buffer& b) const {
    const char* p = nullptr;
    size_t n = 0;
    if (o.type == msgpack::type::BIN) {
      p = o.via.bin.ptr;
      n = o.via.bin.size;
    } else if (o.type == msgpack::type::STR) {
      p = o.via.str.ptr;
      n = o.via.str.size;
    } else {
      throw msgpack::type_error();
    }
    // Inside the value being deserialized (Get): share its bytes.
    const dray::internal::Bytes* src = dray::internal::tls_deserialize_source;
    if (src && n > 0 && p >= src->data() && p + n <= src->data() + src->size()) {
      b = dray::Buffer(src->Slice(static_cast<size_t>(p - src->data()), n));
    } else {
      b = dray::Buffer(p, n);
    }
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
