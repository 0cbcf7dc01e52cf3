// The subcommands of `moerouter`. Each add_* registers its options on the app and a callback
// that does the work; errors propagate as exceptions to main(), which prints one line.
#pragma once

namespace CLI {
class App;
}

namespace moerouter::cli {

void add_route_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_golden_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace moerouter::cli
