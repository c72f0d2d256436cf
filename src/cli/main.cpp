// effectual: the command line. A thin layer over the library: parse flags, call, print.
// Every error reaches main() as an eff::Error and leaves as one line on stderr and its exit code.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"

namespace {

// OpenMP's default wait policy spins between parallel regions. On a machine whose cores are also
// busy with other work (a shared CI runner, a laptop compiling), a spinning team waiting for a
// descheduled thread turns a 0.4 ms inference into hundreds of milliseconds. Passive waiting costs
// a few microseconds per region and never collapses, so it is our default. libgomp reads the
// setting when it loads, before main(), hence the one-time re-exec. An explicit OMP_WAIT_POLICY or
// GOMP_SPINCOUNT from the user is respected.
void ensure_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);
  // If re-executing is impossible (no /proc), run on with the default policy.
}

}  // namespace

int main(int argc, char** argv) {
  ensure_passive_openmp_wait(argv);
  CLI::App app{"effectual: find and exploit ineffectual work in DNN inference"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "effectual 0.1.0");
  eff::cli::register_commands(app);
  eff::cli::register_profile_command(app);
  eff::cli::register_simulate_command(app);
  eff::cli::register_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const eff::Error& e) {
    std::fprintf(stderr, "effectual: %s\n", e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "effectual: out of memory\n");
    return 9;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "effectual: %s\n", e.what());
    return 1;
  }
  return 0;
}
