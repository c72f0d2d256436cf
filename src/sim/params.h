// Design parameters, declared where they are read (ramulator2 param.h style): a design asks for
// each knob with its default, its meaning and the paper it comes from. The same calls serve
// `effectual simulate --describe NAME` (run on an empty Params, they list the knobs) and user
// configuration (run on the values of one YAML entry). After construction, finish() rejects any
// key nobody read, naming the file and the key path.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace eff::sim {

struct ParamDecl {
  std::string key;
  std::string type;  // "int", "real", "bool", "choice"
  std::string default_value;
  std::string description;
  std::string source;  // paper/section the parameter and its default come from
};

class Params {
 public:
  Params() = default;
  // `values`: scalar text by key as written in the file; `where`: "file.yaml: designs[2]".
  Params(std::map<std::string, std::string> values, std::string where)
      : values_(std::move(values)), where_(std::move(where)) {}

  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max, const std::string& description,
                  const std::string& source);
  // A real number; "-inf" / "-.inf" and "inf" / ".inf" are accepted where the range allows them.
  double real(const std::string& key, double def, double min, double max, const std::string& description,
              const std::string& source);
  bool flag(const std::string& key, bool def, const std::string& description, const std::string& source);
  std::string choice(const std::string& key, const std::string& def, const std::vector<std::string>& options,
                     const std::string& description, const std::string& source);

  // A derived-quantity check failed (e.g. lanes not dividing the tile width): ConfigError naming
  // the place and the key.
  [[noreturn]] void reject(const std::string& key, const std::string& why) const;
  // Throws ConfigError for the first key that no declaration read.
  void finish() const;

  const std::vector<ParamDecl>& declared() const { return declared_; }
  const std::string& where() const { return where_; }

 private:
  const std::string* take(const std::string& key);
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> read_;
  std::string where_ = "defaults";
  std::vector<ParamDecl> declared_;
};

}  // namespace eff::sim
