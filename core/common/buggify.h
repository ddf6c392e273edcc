// Buggify (FoundationDB's BUGGIFY): rare paths (tiny transfer chunks, short
// retry pauses, late reports) turned on in simulation so that the swarm
// reaches them. It is off unless the component's config carries a buggify
// seed, which only the simulator sets; outside the simulator every site is
// off and nothing is drawn.
//
// Determinism and replay: whether a site is on for a run is a hash of the
// config's seed and the site's name (no draw); whether an on site fires when
// reached is drawn from the component's own rng (cx.rng()). Both come from the
// component's config, which a trace records, so `dray replay` re-steps the
// same decisions.
#pragma once
#include <cstdint>

#include "core/common/prng.h"
#include "core/common/probe.h"
#include "core/proto/variant_adaptor.h"

namespace dray {

struct BuggifyConfig {
  uint64_t seed = 0;             // 0: off (always, outside the simulator)
  uint32_t site_permille = 250;  // chance that a site is on for the whole run
  uint32_t fire_permille = 250;  // chance that an on site fires each time it is reached
  MSGPACK_DEFINE(seed, site_permille, fire_permille);
};

// Whether the site is on for this run. Draws nothing.
inline bool BuggifySiteOn(const BuggifyConfig& c, const char* site) {
  if (c.seed == 0) return false;
  return Prng::SubSeed(c.seed, Prng::HashName(site)) % 1000 < c.site_permille;
}

// Whether the rare path at `site` runs this time: the site is on for the run
// and fires now (drawn from `rng`, the component's; no draw when off).
inline bool BuggifyFires(const BuggifyConfig& c, const char* site, Prng& rng) {
  return BuggifySiteOn(c, site) && rng.Chance(c.fire_permille, 1000);
}

}  // namespace dray

// In a component: if (DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "node.report_delay")) ...
// Each firing counts in the code probe "buggify.<site>" (dray-sim --coverage).
#define DRAY_BUGGIFY(cfg, rng, site) \
  (::dray::BuggifyFires((cfg), site, (rng)) && [] { DRAY_PROBE("buggify." site); return true; }())
// A site that is on for the whole run, or not (consistent decisions, such as
// a transfer's chunk size); counts in the same probe each time it applies.
#define DRAY_BUGGIFY_SITE(cfg, site) \
  (::dray::BuggifySiteOn((cfg), site) && [] { DRAY_PROBE("buggify." site); return true; }())
