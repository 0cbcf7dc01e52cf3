// `moerouter`: command-line front end of the router. Every failure ends as one line
// "moerouter: error: <message>" on stderr and a non-zero exit status.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "moerouter: the Mixture-of-Experts router (gate), bit-comparable across CPU and CUDA.\n"
      "Run 'moerouter <command> --help' for a command's options.",
      "moerouter"};
  app.require_subcommand(1);
  // Set before the subcommands are added: they copy the parent's failure message.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    // The same "<code>: " as every other error (a usage error is always a bad argument).
    return "moerouter: error: invalid_argument: " + std::string(e.what()) + " (see --help)\n";
  });
  moerouter::cli::add_route_command(app);
  moerouter::cli::add_inspect_command(app);
  moerouter::cli::add_compare_command(app);
  moerouter::cli::add_check_command(app);
  moerouter::cli::add_demo_command(app);
  moerouter::cli::add_golden_command(app);
  moerouter::cli::add_bench_command(app);

  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // --help exits 0 here; a usage error prints one line and exits non-zero
  } catch (const std::exception& e) {
    std::cerr << "moerouter: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
