// The commands' bodies, shared by the command line (src/cli: parse, call, print) and `import
// effectual` (src/python: convert, call, convert): each takes a loaded model (cli::load), the data
// already opened and an options struct, and returns the document its command prints with --json.
// Options are checked by `check(...)` before the model loads (the CLI calls it first so that a
// bad flag is reported without loading anything; every function checks again).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/common.h"
#include "profile/profiler.h"

namespace eff::api {

// What a command gives back: the document --json prints and the summary the terminal shows.
struct Output {
  nlohmann::json doc;
  std::string text;
};

// The data a command reads: the opened set and how to name it in reports ("--data" or the files).
struct Data {
  Dataset& set;
  std::string source;
};

// `effectual eval`.
struct EvalOptions {
  int64_t limit = 0, first = 0, batch = 64;
  void check() const;
};
nlohmann::json evaluate(cli::Loaded& l, const cli::Common& o, const Data& d, const EvalOptions& a);

// `effectual trace` (the trace goes to `out`): {"dir", "layers", "images"}.
struct TraceOptions {
  std::string out;
  int64_t images = 1, first = 0, batch = 16;
  std::string format = "effectual";
  void check(const cli::Common& o) const;
};
nlohmann::json trace(cli::Loaded& l, const cli::Common& o, const Data& d, const TraceOptions& a);

// `effectual profile`: profile.json. `options.machines` empty: the default machines.
struct ProfileOptions {
  int64_t images = 64, first = 0, batch = 32;
  bool images_given = true;         // say so when more were asked for than the data holds
  profile::ProfileOptions options;  // threads and transforms come from the model
  void check(const cli::Common& o) const;
};
nlohmann::json profile(cli::Loaded& l, const cli::Common& o, const Data& d, const ProfileOptions& a);

// `effectual info --json`: inputs, outputs, layers with geometry, totals, ops.
nlohmann::json info(cli::Loaded& l, const cli::Common& o);

}  // namespace eff::api
