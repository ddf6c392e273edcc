// ObjectRef<T>: a counted handle on a (possibly future) object. Copies share
// one registration; the last copy released lets the cluster free the object.
#pragma once
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <msgpack.hpp>

#include "dray/internal/runtime.h"

namespace dray {

template <class T>
class ObjectRef {
 public:
  ObjectRef() = default;
  // For the runtime: wraps `ref` with a new handle in the current process.
  static ObjectRef FromData(const internal::RefData& ref) {
    ObjectRef r;
    r.handle_ = internal::MakeHandle(ref);
    return r;
  }
  bool IsNull() const { return !handle_; }
  const internal::RefData& Data() const {
    static const internal::RefData kNull{};
    return handle_ ? handle_->ref() : kNull;
  }
  // Hex id, as Ray prints it.
  std::string ID() const {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%016llx%08x", static_cast<unsigned long long>(Data().task), Data().index);
    return buf;
  }
  bool operator==(const ObjectRef& o) const { return Data() == o.Data(); }
  // For the serializer: the handle that keeps the object alive.
  std::shared_ptr<const void> Pin() const { return handle_; }

 private:
  std::shared_ptr<internal::RefHandle> handle_;
};

template <class T> struct IsObjectRef : std::false_type {};
template <class T> struct IsObjectRef<ObjectRef<T>> : std::true_type { using type = T; };

}  // namespace dray

// An ObjectRef nested in a value travels as [task, index, owner node, owner proc];
// the serializer notes it so the value keeps the referenced object alive.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <class T>
struct pack<dray::ObjectRef<T>> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const dray::ObjectRef<T>& r) const {
    const auto& d = r.Data();
    if (!r.IsNull()) dray::internal::ContainedRefs::Note(d, r.Pin());
    o.pack_array(4);
    o.pack(d.task);
    o.pack(d.index);
    o.pack(d.owner_node);
    o.pack(d.owner_proc);
    return o;
  }
};
template <class T>
struct convert<dray::ObjectRef<T>> {
  const msgpack::object& operator()(const msgpack::object& o, dray::ObjectRef<T>& r) const {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) throw msgpack::type_error();
    dray::internal::RefData d;
    d.task = o.via.array.ptr[0].as<uint64_t>();
    d.index = o.via.array.ptr[1].as<uint32_t>();
    d.owner_node = o.via.array.ptr[2].as<uint32_t>();
    d.owner_proc = o.via.array.ptr[3].as<uint32_t>();
    r = d.task == 0 && d.index == 0 ? dray::ObjectRef<T>() : dray::ObjectRef<T>::FromData(d);
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
