#include "sim/params.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace eff::sim {

const std::string* Params::take(const std::string& key) {
  read_[key] = true;
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

int64_t Params::integer(const std::string& key, int64_t def, int64_t min, int64_t max, const std::string& description,
                        const std::string& source) {
  declared_.push_back({key, fmt::format("int [{}, {}]", min, max), std::to_string(def), description, source});
  const std::string* v = take(key);
  if (!v) return def;
  int64_t x = 0;
  const char* end = v->data() + v->size();
  auto [p, ec] = std::from_chars(v->data(), end, x);
  if (ec != std::errc() || p != end) reject(key, fmt::format("'{}' is not an integer", *v));
  if (x < min || x > max) reject(key, fmt::format("{} is outside [{}, {}]", x, min, max));
  return x;
}

double Params::real(const std::string& key, double def, double min, double max, const std::string& description,
                    const std::string& source) {
  declared_.push_back({key, fmt::format("real [{}, {}]", min, max), fmt::format("{}", def), description, source});
  const std::string* v = take(key);
  if (!v) return def;
  double x = 0;
  if (*v == "-inf" || *v == "-.inf" || *v == "-.Inf") {
    x = -std::numeric_limits<double>::infinity();
  } else if (*v == "inf" || *v == ".inf" || *v == ".Inf") {
    x = std::numeric_limits<double>::infinity();
  } else {
    const char* end = v->data() + v->size();
    auto [p, ec] = std::from_chars(v->data(), end, x);
    if (ec != std::errc() || p != end || std::isnan(x)) reject(key, fmt::format("'{}' is not a number", *v));
  }
  if (x < min || x > max) reject(key, fmt::format("{} is outside [{}, {}]", x, min, max));
  return x;
}

bool Params::flag(const std::string& key, bool def, const std::string& description, const std::string& source) {
  declared_.push_back({key, "bool", def ? "true" : "false", description, source});
  const std::string* v = take(key);
  if (!v) return def;
  if (*v == "true") return true;
  if (*v == "false") return false;
  reject(key, fmt::format("'{}' is not true or false", *v));
}

std::string Params::choice(const std::string& key, const std::string& def, const std::vector<std::string>& options,
                           const std::string& description, const std::string& source) {
  declared_.push_back({key, fmt::format("one of {}", fmt::join(options, "|")), def, description, source});
  const std::string* v = take(key);
  if (!v) return def;
  for (const std::string& o : options) {
    if (o == *v) return o;
  }
  reject(key, fmt::format("'{}' is not one of {}", *v, fmt::join(options, ", ")));
}

void Params::reject(const std::string& key, const std::string& why) const {
  fail<ConfigError>("{}.{}: {}", where_, key, why);
}

void Params::finish() const {
  for (const auto& [key, value] : values_) {
    if (!read_.count(key)) fail<ConfigError>("{}.{}: unknown key", where_, key);
  }
}

}  // namespace eff::sim
