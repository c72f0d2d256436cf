// The list of designs: one line each, in the order they are reported. A design file `foo.cpp`
// defines `DesignEntry design_entry_foo()`; SimRegistry.EveryDesignFileIsListed
// (tests/unit/sim/test_sim_machinery.cpp) checks that every file in this folder is listed here.
#include "sim/design.h"

// clang-format off
#define EFF_SIM_DESIGNS(X) \
  X(dadiannao) \
  X(cnvlutin) \
  X(stripes) \
  X(dstripes) \
  X(tartan) \
  X(loom) \
  X(pragmatic) \
  X(systolic) \
  X(cgnet) \
  /* end of list: add a design above this line as "  X(name) \\" */
// clang-format on

namespace eff::sim {

#define EFF_DECLARE_DESIGN(id) DesignEntry design_entry_##id();
EFF_SIM_DESIGNS(EFF_DECLARE_DESIGN)
#undef EFF_DECLARE_DESIGN

const std::vector<DesignEntry>& design_registry() {
#define EFF_LIST_DESIGN(id) design_entry_##id(),
  static const std::vector<DesignEntry> registry = {EFF_SIM_DESIGNS(EFF_LIST_DESIGN)};
#undef EFF_LIST_DESIGN
  return registry;
}

const DesignEntry* find_design(const std::string& id) {
  for (const DesignEntry& e : design_registry()) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

}  // namespace eff::sim
