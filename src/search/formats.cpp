#include "search/formats.h"

#include <cmath>

#include "core/error.h"

namespace eff::search {

FixedPointFormat integer_format(double max_abs, bool negative) {
  FixedPointFormat f;
  f.is_signed = negative;
  f.frac_bits = 0;
  const int cap = negative ? 16 : 15;
  f.int_bits = negative ? 1 : 0;
  const int sign = negative ? 1 : 0;
  while (f.int_bits < cap && !(max_abs < std::ldexp(1.0, f.int_bits - sign))) ++f.int_bits;
  return f;
}

int max_frac_bits(const FixedPointFormat& f) {
  return (f.is_signed ? 16 : 15) - f.int_bits;
}

int min_frac_bits(const FixedPointFormat& f) {
  return f.total_bits() - f.frac_bits >= 1 ? 0 : 1;
}

std::string objective_name(Objective o) {
  switch (o) {
    case Objective::kActivations:
      return "activations";
    case Objective::kProducts:
      return "products";
    case Objective::kMemory:
      return "memory";
  }
  return "?";
}

Objective parse_objective(const std::string& s) {
  if (s == "activations") return Objective::kActivations;
  if (s == "products") return Objective::kProducts;
  if (s == "memory") return Objective::kMemory;
  fail<UsageError>("--objective '{}': use activations, products or memory", s);
}

double layer_cost(Objective o, const LayerCostShape& l, int pa, int pw) {
  switch (o) {
    case Objective::kActivations:
      return double(l.macs) * (pa + pw / 1024.0);
    case Objective::kProducts:
      return double(l.macs) * pa * pw;
    case Objective::kMemory:
      return double(l.act_count) * pa + double(l.wgt_count) * pw;
  }
  return 0;
}

std::string precision_notation(const std::vector<int>& bits) {
  std::string s;
  for (size_t i = 0; i < bits.size(); ++i) {
    if (i) s += '-';
    s += std::to_string(bits[i]);
  }
  return s;
}

double stripes_ideal_speedup(const std::vector<int64_t>& macs, const std::vector<int>& act_bits) {
  double num = 0, den = 0;
  for (size_t i = 0; i < macs.size() && i < act_bits.size(); ++i) {
    num += 16.0 * double(macs[i]);
    den += double(macs[i]) * act_bits[i];
  }
  return den > 0 ? num / den : 0.0;
}

}  // namespace eff::search
