#include "graph/value_shape.h"

namespace eff {

bool shape_admits(const Value& v, const Shape& s) {
  if (!v.has_shape) return true;
  if (v.shape.size() != s.size()) return false;
  for (size_t d = 0; d < v.shape.size(); ++d) {
    if (v.shape[d] >= 0 && v.shape[d] != s[d]) return false;
  }
  return true;
}

std::string declared_shape_text(const Value& v) {
  if (!v.has_shape) return "(unknown rank)";
  std::string out = "[";
  for (size_t d = 0; d < v.shape.size(); ++d) {
    if (d) out += ", ";
    out += v.shape[d] >= 0 ? std::to_string(v.shape[d])
                           : (d < v.dim_names.size() && !v.dim_names[d].empty() ? v.dim_names[d] : "?");
  }
  return out + "]";
}

}  // namespace eff
