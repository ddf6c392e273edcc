// Resource amounts as fixed-point integers (Ray's fixed_point.h): 1/10000 of
// a unit, so sums never drift. A ResourceSet is a small sorted map by name.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "core/common/assert.h"

namespace dray {

inline constexpr int64_t kResourceUnit = 10000;
inline int64_t ToFixed(double units) { return static_cast<int64_t>(std::llround(units * kResourceUnit)); }
inline double FromFixed(int64_t f) { return static_cast<double>(f) / kResourceUnit; }

class ResourceSet {
 public:
  using Entry = std::pair<std::string, int64_t>;
  ResourceSet() = default;

  int64_t Get(const std::string& name) const {
    auto it = Find(name);
    return it != items_.end() && it->first == name ? it->second : 0;
  }
  void Set(const std::string& name, int64_t amount) {
    DRAY_ASSERT(amount >= 0, "resource amounts are never negative");
    auto it = Find(name);
    if (it != items_.end() && it->first == name) {
      if (amount == 0) items_.erase(it); else it->second = amount;
    } else if (amount != 0) {
      items_.insert(it, {name, amount});
    }
  }
  void SetUnits(const std::string& name, double units) { Set(name, ToFixed(units)); }
  const std::vector<Entry>& items() const { return items_; }
  bool empty() const { return items_.empty(); }

  // True when every demand in `need` fits into this set.
  bool Contains(const ResourceSet& need) const {
    for (const auto& [n, a] : need.items_) if (Get(n) < a) return false;
    return true;
  }
  void Add(const ResourceSet& o) { for (const auto& [n, a] : o.items_) Set(n, Get(n) + a); }
  // REQUIRES: Contains(o).
  void Subtract(const ResourceSet& o) {
    for (const auto& [n, a] : o.items_) {
      DRAY_ASSERT(Get(n) >= a, "subtracting more than is available");
      Set(n, Get(n) - a);
    }
  }
  bool operator==(const ResourceSet&) const = default;
  std::string Str() const {
    std::string s = "{";
    for (const auto& [n, a] : items_) {
      if (s.size() > 1) s += ", ";
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s: %g", n.c_str(), FromFixed(a));
      s += buf;
    }
    return s + "}";
  }
  MSGPACK_DEFINE(items_);

 private:
  std::vector<Entry>::iterator Find(const std::string& name) {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const Entry& e, const std::string& k) { return e.first < k; });
  }
  std::vector<Entry>::const_iterator Find(const std::string& name) const {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const Entry& e, const std::string& k) { return e.first < k; });
  }
  std::vector<Entry> items_;
};

}  // namespace dray
