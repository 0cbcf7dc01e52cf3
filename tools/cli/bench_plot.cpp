#include "cli/bench_plot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/plot_bench_script.hpp"  // generated: kPlotBenchScript
#include "moerouter/error.hpp"

extern char** environ;

namespace moerouter::cli {

namespace {

namespace fs = std::filesystem;

// Debian's matplotlib belongs to /usr/bin/python3, which a venv's python3 earlier on PATH may
// lack; MOEROUTER_PYTHON overrides both.
std::string python() {
  if (const char* p = std::getenv("MOEROUTER_PYTHON"); p && *p) return p;
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

// A private temporary directory, removed with everything in it when the scope ends.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/moerouter-bench-XXXXXX";
    if (!::mkdtemp(pattern.data()))
      fail(ErrorCode::IoError, "--plot: cannot create a temporary directory from ", pattern, ": ",
           std::strerror(errno));
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) fail(ErrorCode::IoError, "--plot: cannot write ", path.string());
}

struct ScriptRun {
  bool started = false;  // false: no interpreter could be started
  int status = -1;       // exit status (128 + signal when killed)
  std::string last_line; // the last non-empty line it printed (its error message)
};

// Runs the embedded script with `args` (no shell, so no quoting issues with paths), its stdout and
// stderr captured to a file: only our own one-line error may reach the terminal.
ScriptRun run_script(const TempDir& dir, const std::vector<std::string>& args) {
  const fs::path script = dir.path() / "plot_bench.py", log = dir.path() / "output.txt";
  write_file(script, kPlotBenchScript);
  const std::string py = python();
  std::vector<std::string> argv_s{py, script.string()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawnp(&pid, py.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ScriptRun run;
  if (spawn_error != 0) return run;
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0)
    if (errno != EINTR) fail(ErrorCode::Internal, "--plot: waitpid: ", std::strerror(errno));
  run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  // 127: the child could not exec the interpreter (glibc's posix_spawnp reports it this way too).
  run.started = run.status != 127;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) run.last_line = line;
  return run;
}

[[noreturn]] void fail_run(const ScriptRun& run, ErrorCode code) {
  if (!run.started)
    fail_arg(ErrorCode::Unsupported, "--plot", "python3 with matplotlib (Debian: apt install python3-matplotlib)",
             "no interpreter at '" + python() + "' (set MOEROUTER_PYTHON to choose one)");
  fail(code, "--plot: ", run.last_line.empty() ? "plot_bench.py failed with exit status " +
                                                     std::to_string(run.status)
                                               : run.last_line);
}

}  // namespace

void check_plot_ready(const std::string& out_png) {
  const fs::path out(out_png);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::is_directory(out, ec))
    fail_arg(ErrorCode::InvalidArgument, "--plot", "a PNG path in an existing directory", out_png);
  TempDir tmp;
  const ScriptRun run = run_script(tmp, {"--check"});
  if (!run.started || run.status != 0) fail_run(run, ErrorCode::Unsupported);
}

void write_plot(const std::vector<BenchRow>& rows, const std::string& out_png) {
  TempDir tmp;
  std::string lines;
  for (const BenchRow& r : rows) lines += to_json_line(r) + "\n";
  const fs::path data = tmp.path() / "rows.jsonl";
  write_file(data, lines);
  const ScriptRun run = run_script(tmp, {"--out", out_png, data.string()});
  if (!run.started || run.status != 0) fail_run(run, ErrorCode::IoError);
}

}  // namespace moerouter::cli
