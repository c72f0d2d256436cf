#pragma once

#include <CLI/CLI.hpp>

namespace eff::cli {

// Adds info, bench, eval and trace to the app; each runs its command from its callback.
void register_commands(CLI::App& app);
void register_run_command(CLI::App& app);
void register_profile_command(CLI::App& app);
void register_simulate_command(CLI::App& app);
void register_report_command(CLI::App& app);
void register_search_command(CLI::App& app);
void register_optimize_command(CLI::App& app);
void register_area_command(CLI::App& app);
void register_sweep_command(CLI::App& app);
void register_gate_command(CLI::App& app);
void register_quantize_command(CLI::App& app);

}  // namespace eff::cli
