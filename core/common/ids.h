// Ids are derived, never drawn (DESIGN §3): a task id from its parent task and
// a counter, an object id from its task id and return (or put) index.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <msgpack.hpp>

#include "core/common/hash.h"

namespace dray {

using NodeId = uint32_t;
using JobId = uint32_t;
using TimeNs = int64_t;  // virtual or real nanoseconds

// Where a process lives: the node and its number on that node. proc 0 is the
// node manager, proc 1 on the head node is the control service, 2.. are
// drivers and workers.
struct Addr {
  NodeId node = 0;
  uint32_t proc = 0;
  bool operator==(const Addr&) const = default;
  auto operator<=>(const Addr&) const = default;
  uint64_t Key() const { return (uint64_t{node} << 32) | proc; }
  std::string Str() const { return "n" + std::to_string(node) + ".p" + std::to_string(proc); }
  MSGPACK_DEFINE(node, proc);
};
inline constexpr uint32_t kNodeManagerProc = 0;
inline constexpr uint32_t kControlServiceProc = 1;
inline constexpr uint32_t kFirstUserProc = 2;
inline constexpr uint32_t kAnyProc = UINT32_MAX;  // {node, kAnyProc}: every process of a node

struct TaskId {
  uint64_t v = 0;
  bool operator==(const TaskId&) const = default;
  auto operator<=>(const TaskId&) const = default;
  static TaskId ForDriver(JobId job) { return {Hasher().U64(0xd21e).U64(job).Done()}; }
  static TaskId Child(TaskId parent, uint64_t counter) { return {Hasher().U64(parent.v).U64(counter).Done()}; }
};

// index 1..n: the n-th return value; kPutBit|k: the k-th Put inside the task.
struct ObjectId {
  uint64_t task = 0;
  uint32_t index = 0;
  static constexpr uint32_t kPutBit = 0x80000000u;
  bool operator==(const ObjectId&) const = default;
  auto operator<=>(const ObjectId&) const = default;
  static ObjectId Return(TaskId t, uint32_t i) { return {t.v, i}; }
  static ObjectId Put(TaskId t, uint32_t k) { return {t.v, kPutBit | k}; }
  TaskId Task() const { return {task}; }
  bool IsPut() const { return (index & kPutBit) != 0; }
  std::string Str() const;
  MSGPACK_DEFINE(task, index);
};

inline std::string ObjectId::Str() const {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx.%s%u", static_cast<unsigned long long>(task),
                IsPut() ? "p" : "r", index & ~kPutBit);
  return buf;
}

struct IdHash {
  size_t operator()(const ObjectId& o) const { return Mix64(o.task ^ (uint64_t{o.index} << 1)); }
  size_t operator()(const TaskId& t) const { return t.v; }
  size_t operator()(const Addr& a) const { return Mix64(a.Key()); }
};

}  // namespace dray

// TaskId travels as its bare integer, so that the many ids in a message cost
// no array of their own to encode or decode.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <>
struct pack<dray::TaskId> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const dray::TaskId& t) const {
    o.pack(t.v);
    return o;
  }
};
template <>
struct convert<dray::TaskId> {
  const msgpack::object& operator()(const msgpack::object& o, dray::TaskId& t) const {
    if (o.type != msgpack::type::POSITIVE_INTEGER) throw msgpack::type_error();
    t.v = o.via.u64;
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
