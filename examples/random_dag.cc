#include "random_dag.h"

#include <dray/dray.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace dray::workloads {

namespace {

// A tiny splitmix64: the workload's own PRNG, so a DAG is a pure function of
// its seed on every platform (and independent of dray's internals).
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : x_(seed) {}
  uint64_t Next() {
    uint64_t z = (x_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (the modulo bias is irrelevant for a workload). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t x_;
};

uint64_t Mix(uint64_t h, uint64_t v) {
  uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

// A task's value: a hash of (its index, its inputs) and a payload of the
// drawn size, every byte of which is PadChar(hash).
struct Blob {
  uint64_t hash = 0;
  std::string pad;
  MSGPACK_DEFINE(hash, pad);
};

struct DagTaskSpec {
  uint64_t index = 0;
  uint64_t pad_bytes = 0;
  MSGPACK_DEFINE(index, pad_bytes);
};

namespace {

char PadChar(uint64_t hash) { return static_cast<char>('a' + hash % 26); }

// Whether every byte of `s` is `c`, eight bytes at a time (this check runs on
// every input byte of every task, so it must not be a byte loop).
bool AllBytesAre(const std::string& s, char c) {
  uint64_t word = 0x0101010101010101ULL * static_cast<unsigned char>(c);
  size_t n = s.size(), i = 0;
  const char* p = s.data();
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w != word) return false;
  }
  for (; i < n; ++i)
    if (p[i] != c) return false;
  return true;
}

struct InputDigest {
  uint64_t hash = 0;
  uint64_t pad_bytes = 0;
};

// The oracle and the tasks share this: a value depends only on the task's
// index, its payload size and its inputs (hash and payload size), in order.
uint64_t NodeHash(const DagTaskSpec& s, const std::vector<InputDigest>& inputs) {
  uint64_t h = Mix(0x5eed, s.index);
  h = Mix(h, s.pad_bytes);
  for (const auto& in : inputs) h = Mix(Mix(h, in.hash), in.pad_bytes);
  return h;
}

Blob Compute(const DagTaskSpec& s, const std::vector<const Blob*>& inputs) {
  std::vector<InputDigest> d;
  d.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Blob& b = *inputs[i];
    if (!AllBytesAre(b.pad, PadChar(b.hash)))
      throw std::runtime_error("random_dag: input " + std::to_string(i) + " of task " + std::to_string(s.index) +
                               " has a corrupt payload (" + std::to_string(b.pad.size()) + " bytes)");
    d.push_back({b.hash, b.pad.size()});
  }
  Blob out;
  out.hash = NodeHash(s, d);
  out.pad.assign(s.pad_bytes, PadChar(out.hash));
  return out;
}

using Nested = std::vector<ObjectRef<Blob>>;

Blob RunNode(const DagTaskSpec& s, std::vector<const Blob*> top, const Nested& nested) {
  std::vector<std::shared_ptr<Blob>> got;
  if (!nested.empty()) got = Get(nested);
  for (const auto& g : got) top.push_back(g.get());
  return Compute(s, top);
}

}  // namespace

// One remote function per number of top-level inputs; the rest are nested.
Blob RandomDagTask0(DagTaskSpec s, Nested nested) { return RunNode(s, {}, nested); }
Blob RandomDagTask1(DagTaskSpec s, Blob a, Nested nested) { return RunNode(s, {&a}, nested); }
Blob RandomDagTask2(DagTaskSpec s, Blob a, Blob b, Nested nested) { return RunNode(s, {&a, &b}, nested); }
Blob RandomDagTask3(DagTaskSpec s, Blob a, Blob b, Blob c, Nested nested) {
  return RunNode(s, {&a, &b, &c}, nested);
}
DRAY_REMOTE(RandomDagTask0, RandomDagTask1, RandomDagTask2, RandomDagTask3);

namespace {

constexpr size_t kMaxTopLevel = 3;

struct Planned {
  DagTaskSpec spec;
  std::vector<size_t> top;     // indices of earlier tasks passed as top-level refs
  std::vector<size_t> nested;  // ... and nested inside the vector argument
  double cpus = 1;
};

uint64_t DrawPadBytes(SplitMix& rng, uint64_t max_bytes) {
  constexpr uint64_t kInline = 100 * 1024;
  uint64_t r = rng.Below(8);
  if (r == 0 && max_bytes > 64) {  // near the inline limit, on both sides
    uint64_t lo = kInline > 64 ? kInline - 64 : 0;
    uint64_t v = lo + rng.Below(129);
    return std::min(v, max_bytes);
  }
  if (r <= 2 && max_bytes > kInline) return kInline + 1 + rng.Below(max_bytes - kInline);  // stored
  return rng.Below(std::min<uint64_t>(max_bytes, 2048) + 1);                             // inline
}

std::vector<Planned> Plan(const DagParams& p) {
  SplitMix rng(p.seed ^ 0xda6da6da6ULL);
  std::vector<Planned> plan(static_cast<size_t>(std::max(p.tasks, 0)));
  uint64_t max_fan = static_cast<uint64_t>(std::max(p.max_fan_in, 0));
  for (size_t i = 0; i < plan.size(); ++i) {
    Planned& t = plan[i];
    t.spec.index = i;
    t.spec.pad_bytes = DrawPadBytes(rng, p.max_value_bytes);
    uint64_t fan = std::min<uint64_t>(rng.Below(max_fan + 1), i);
    std::vector<size_t> inputs;
    while (inputs.size() < fan) {  // distinct earlier tasks
      size_t j = static_cast<size_t>(rng.Below(i));
      if (std::find(inputs.begin(), inputs.end(), j) == inputs.end()) inputs.push_back(j);
    }
    size_t top = static_cast<size_t>(rng.Below(std::min(inputs.size(), kMaxTopLevel) + 1));
    t.top.assign(inputs.begin(), inputs.begin() + static_cast<std::ptrdiff_t>(top));
    t.nested.assign(inputs.begin() + static_cast<std::ptrdiff_t>(top), inputs.end());
    t.cpus = p.random_resources && rng.Below(2) == 0 ? 0.5 : 1.0;
  }
  return plan;
}

ObjectRef<Blob> SubmitOne(const Planned& t, const std::vector<ObjectRef<Blob>>& refs) {
  Nested nested;
  for (size_t j : t.nested) nested.push_back(refs[j]);
  const auto& top = t.top;
  switch (top.size()) {
    case 0: return Task(RandomDagTask0).SetResource("CPU", t.cpus).Remote(t.spec, nested);
    case 1: return Task(RandomDagTask1).SetResource("CPU", t.cpus).Remote(t.spec, refs[top[0]], nested);
    case 2:
      return Task(RandomDagTask2).SetResource("CPU", t.cpus).Remote(t.spec, refs[top[0]], refs[top[1]], nested);
    default:
      return Task(RandomDagTask3)
          .SetResource("CPU", t.cpus)
          .Remote(t.spec, refs[top[0]], refs[top[1]], refs[top[2]], nested);
  }
}

}  // namespace

DagResult RunRandomDag(const DagParams& p) {
  DagResult res;
  std::vector<Planned> plan = Plan(p);

  // The oracle: the same value function, run serially in-process.
  std::vector<InputDigest> expect(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    std::vector<InputDigest> in;
    for (size_t j : plan[i].top) in.push_back(expect[j]);
    for (size_t j : plan[i].nested) in.push_back(expect[j]);
    expect[i] = {NodeHash(plan[i].spec, in), plan[i].spec.pad_bytes};
  }

  std::vector<ObjectRef<Blob>> refs;
  refs.reserve(plan.size());
  try {
    for (const auto& t : plan) {
      refs.push_back(SubmitOne(t, refs));
      ++res.tasks;
    }
    // Get in batches, in task order, so that large payloads do not pile up in
    // the driver or the stores.
    constexpr size_t kBatch = 32;
    for (size_t b = 0; b < refs.size() && res.error.empty(); b += kBatch) {
      size_t e = std::min(refs.size(), b + kBatch);
      std::vector<ObjectRef<Blob>> batch(refs.begin() + static_cast<std::ptrdiff_t>(b),
                                         refs.begin() + static_cast<std::ptrdiff_t>(e));
      std::vector<std::shared_ptr<Blob>> got = Get(batch);
      for (size_t k = 0; k < got.size(); ++k) {
        size_t i = b + k;
        const Blob& v = *got[k];
        res.checksum = Mix(Mix(res.checksum, v.hash), v.pad.size());
        bool pad_ok = v.pad.size() == expect[i].pad_bytes &&
                      AllBytesAre(v.pad, PadChar(expect[i].hash));
        if (v.hash != expect[i].hash || !pad_ok) {
          res.error = "random_dag seed " + std::to_string(p.seed) + ": task " + std::to_string(i) +
                      " returned hash " + std::to_string(v.hash) + " with " + std::to_string(v.pad.size()) +
                      " payload bytes" + (pad_ok ? "" : " (corrupt)") + ", the serial run gives hash " +
                      std::to_string(expect[i].hash) + " with " + std::to_string(expect[i].pad_bytes) + " bytes";
          break;
        }
      }
      // Checked: let these go, so the cluster can free what no pending task needs.
      for (size_t i = b; i < e; ++i) refs[i] = ObjectRef<Blob>();
    }
  } catch (const std::exception& e) {
    res.error = "random_dag seed " + std::to_string(p.seed) + ": " + e.what();
  }
  refs.clear();  // drop every ref: the cluster may free everything now
  res.ok = res.error.empty();
  return res;
}

}  // namespace dray::workloads
