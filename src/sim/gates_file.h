// The gates file as the simulator uses it (`effectual simulate --gates FILE`): the one reader of
// gating/gates_file.h, whose schema and semantics it documents, under the simulator's names.
#pragma once

#include "gating/gates_file.h"

namespace eff::sim {

using gating::GateKind;
using gating::LayerGate;
using GatesFile = gating::GatePlan;
using gating::parse_gates;
using gating::read_gates_file;

}  // namespace eff::sim
