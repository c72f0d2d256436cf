// Typed errors. Library code throws these; only src/cli turns them into exit codes.
// Messages follow one grammar: "<file>: <object> '<name>' (<kind>): <what is wrong>".
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace eff {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  virtual int exit_code() const { return 1; }
};

// The model file is unreadable, malformed or inconsistent.
class ModelError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 3; }
};

// The model uses an op, attribute value or data type the engine does not implement.
class UnsupportedError : public ModelError {
 public:
  using ModelError::ModelError;
  int exit_code() const override { return 4; }
};

// A tensor's shape or type does not fit where it is used (at run time).
class ShapeError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 5; }
};

// A tensor past max_tensor_bytes() or the memory the machine gives. Thrown where the tensor is
// allocated, which knows no node: the executor adds the node that asked for it.
class TensorLimitError : public ShapeError {
 public:
  using ShapeError::ShapeError;
};

// A data file (dataset, .npy, image, labels) is missing or corrupt.
class DataError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 6; }
};

// A configuration file (precision profile, thresholds, design config) is invalid.
class ConfigError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 7; }
};

// A trace directory or file is missing or corrupt.
class TraceError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 8; }
};

// Usage errors found by library code (an argument out of range).
class UsageError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 2; }
};

template <class E = Error, class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw E(fmt::format(f, std::forward<Args>(args)...));
}

// For our own invariants only, never for input.
#define EFF_ASSERT(cond)                                                                                 \
  do {                                                                                                   \
    if (!(cond)) ::eff::fail("internal error: {}:{}: assertion '{}' failed", __FILE__, __LINE__, #cond); \
  } while (0)

}  // namespace eff
