#include "sim/cost/energy.h"

#include <nlohmann/json.hpp>

#include "sim/design.h"

namespace eff::sim::cost {

double EnergyBreakdown::total() const {
  double t = 0;
  for (const auto& [name, field] : energy_fields()) t += this->*field;
  return t;
}

EnergyBreakdown& EnergyBreakdown::operator+=(const EnergyBreakdown& o) {
  for (const auto& [name, field] : energy_fields()) this->*field += o.*field;
  return *this;
}

std::vector<std::pair<const char*, double EnergyBreakdown::*>> energy_fields() {
  return {{"datapath", &EnergyBreakdown::datapath},     {"adder_trees", &EnergyBreakdown::adder_trees},
          {"shifters", &EnergyBreakdown::shifters},     {"accumulators", &EnergyBreakdown::accumulators},
          {"detectors", &EnergyBreakdown::detectors},   {"clock", &EnergyBreakdown::clock},
          {"act_memory", &EnergyBreakdown::act_memory}, {"wgt_memory", &EnergyBreakdown::wgt_memory},
          {"offchip", &EnergyBreakdown::offchip},       {"leakage", &EnergyBreakdown::leakage}};
}

CostModel::CostModel(const Inventory& inv, const Technology& t)
    : area_(cost::area(inv, t)), frequency_hz_(t.frequency_hz()) {
  const EventCosts& e = inv.events;
  per_bit_product_ = e.bit_parallel ? t["energy_pj.multiplier_16x16_op"] / 256.0 : t["energy_pj.and_bit_product"];
  per_tree_add_ = e.tree_add_bits * t["energy_pj.adder_bit"];
  per_shift_ = double(e.shifter_bits) * e.shifter_stages * t["energy_pj.mux_bit"];
  per_accumulate_ = double(e.accumulator_bits) * (t["energy_pj.adder_bit"] + t["energy_pj.register_bit_write"]);
  per_act_value_ = e.detector_ops_per_act_value * t["energy_pj.precision_detector_op"] +
                   e.offset_ops_per_act_value * t["energy_pj.offset_generator_op"];
  per_cycle_clock_ = inv.count_of(Part::kRegisterBit) * t["energy_pj.register_bit_clock"];
  // Both memories are eDRAM in every design of the family (seed 001 §3.1).
  per_act_bit_ = t["memory.edram_read_pj_per_bit"];
  per_wgt_bit_ = t["memory.edram_read_pj_per_bit"];
  per_write_bit_ = t["memory.edram_write_pj_per_bit"];
  act_write_bits_per_output_ = e.act_write_bits_per_output;
  per_offchip_byte_ = 8 * t["offchip.pj_per_bit"];
  const double leakage_mw = area_.logic_mm2 * t["leakage_mw_per_mm2.logic"] +
                            area_.edram_mm2 * t["leakage_mw_per_mm2.edram"] +
                            (area_.sram_mm2 + area_.offchip_mm2) * t["leakage_mw_per_mm2.sram"];
  per_cycle_leakage_ = leakage_mw * 1e-3 / frequency_hz_ * 1e12;  // W x s -> pJ
}

EnergyBreakdown CostModel::energy(const LayerStats& s) const {
  EnergyBreakdown e;
  e.datapath = double(s.bit_products) * per_bit_product_;
  e.adder_trees = double(s.adder_tree_adds) * per_tree_add_;
  e.shifters = double(s.shifter_ops) * per_shift_;
  e.accumulators = double(s.accumulator_updates) * per_accumulate_;
  e.detectors = double(s.act_buffer_read_bits) / 16.0 * per_act_value_;
  e.clock = double(s.cycles) * per_cycle_clock_;
  e.act_memory = double(s.act_buffer_read_bits) * per_act_bit_ + double(s.act_buffer_write_bits) * per_write_bit_;
  e.wgt_memory = double(s.wgt_buffer_read_bits) * per_wgt_bit_ + double(s.wgt_buffer_write_bits) * per_write_bit_;
  e.offchip = double(s.offchip_act_bytes + s.offchip_wgt_bytes) * per_offchip_byte_;
  e.leakage = double(s.cycles) * per_cycle_leakage_;
  return e;
}

EnergyBreakdown CostModel::idle_energy(uint64_t cycles) const {
  EnergyBreakdown e;
  e.clock = double(cycles) * per_cycle_clock_;
  e.leakage = double(cycles) * per_cycle_leakage_;
  return e;
}

nlohmann::json energy_json(const EnergyBreakdown& e) {
  nlohmann::json j;
  for (const auto& [name, field] : energy_fields()) j[name] = e.*field;
  j["total"] = e.total();
  return j;
}

}  // namespace eff::sim::cost
