// effectual: the command line. A thin layer over the library: parse flags, call, print.
// Every error reaches main() as an eff::Error and leaves as one line on stderr and its exit code.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/openmp_defaults.h"
#include "core/error.h"

int main(int argc, char** argv) {
  eff::cli::apply_openmp_defaults(argv);
  CLI::App app{"effectual: find and exploit ineffectual work in DNN inference"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "effectual 0.1.0");
  eff::cli::register_commands(app);
  eff::cli::register_run_command(app);
  eff::cli::register_profile_command(app);
  eff::cli::register_simulate_command(app);
  eff::cli::register_report_command(app);
  eff::cli::register_search_command(app);
  eff::cli::register_optimize_command(app);
  eff::cli::register_area_command(app);
  eff::cli::register_sweep_command(app);
  eff::cli::register_gate_command(app);
  eff::cli::register_quantize_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and succeed; any other parse error is a usage error: one line,
    // exit code 2 like every usage error found later.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "effectual: %s\n", e.what());
    return 2;
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
