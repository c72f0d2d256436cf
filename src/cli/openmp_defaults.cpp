// How long an OpenMP thread spins at a barrier before it sleeps, when the user did not say.
//
// libgomp's default (GOMP_SPINCOUNT 300000 pause loops: ~4.5 ms on this project's Xeon) is what a
// team stall costs per parallel region: when a team thread waits for a core that another task (or
// its own spinning leader) holds, the others spin that long before they sleep and free their core.
// Measured (issue 8, busy8e-note.md): a 2-thread team whose worker lost its core took 14 ms per
// region with the default, 0.67 ms with 20000; the quiet bench's worst runs (12.6-15 ms, 26-32x the
// median, 2-3 sleeps each) are two or three default spins. A thread that waits less than the spin,
// as every team thread does between the back-to-back regions of an inference, never sleeps, so a
// quiet machine's speed is unchanged (interleaved A/B, resnet b1, 2 threads: same medians). Only
// when the thread count is effectual's to choose: the governor (engine/thread_governor.h) then
// keeps a team off cores that other work holds, where short spins would cost (below).
//
// libgomp reads the variable once, when it is loaded: before main, and before an executable's
// pre-initialisers could set it for good (libc's start-up resets the environment after them). So
// the program restarts itself once with it set. (The Python package sets it in its __init__.py
// before the compiled module loads libgomp: docs/python.md.)
#include "cli/openmp_defaults.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace eff::cli {

namespace {
// ~0.3 ms of pause loops on current Xeons (~15 ns each), less on older cores.
constexpr const char* kSpinCount = "20000";

// Whether the command line fixes the thread count (`--threads N` or `--threads=N`, N not 0): then
// no governor watches the team, and libgomp's long spin keeps such a team's median when other
// work contends for the cores (measured: forced 2-thread teams beside other work ran at 12-16 ms
// medians with the short spin, waking at every region, against 0.28 ms with the long one).
bool threads_fixed(char** argv) {
  for (char** a = argv + 1; *a; ++a) {
    const char* value = nullptr;
    if (std::strcmp(*a, "--threads") == 0) {
      value = a[1];
    } else if (std::strncmp(*a, "--threads=", 10) == 0) {
      value = *a + 10;
    }
    if (value && std::strtol(value, nullptr, 10) != 0) return true;
  }
  return false;
}

// What to restart: the executable's own path when it still names this very file, so that the
// process keeps its name (the kernel names it after the file exec'd: through /proc/self/exe every
// restarted command showed as "exe" in ps, top and perf); /proc/self/exe when the file was
// replaced or removed meanwhile (a rebuild), which still is the program running.
std::string restart_path() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return "/proc/self/exe";
  path[n] = '\0';
  struct stat running {
  }, named{};
  if (stat("/proc/self/exe", &running) != 0 || stat(path, &named) != 0 || running.st_dev != named.st_dev ||
      running.st_ino != named.st_ino) {
    return "/proc/self/exe";
  }
  return path;
}

// libgomp's rule for OMP_NUM_THREADS: positive integers, comma-separated, blanks around them.
bool valid_thread_list(const char* v) {
  const char* p = v;
  for (;;) {
    while (*p == ' ' || *p == '\t') ++p;
    char* end = nullptr;
    const long n = std::strtol(p, &end, 10);
    if (end == p || n < 1 || *p == '-' || *p == '+') return false;
    p = end;
    while (*p == ' ' || *p == '\t') ++p;
    if (*p == '\0') return true;
    if (*p++ != ',') return false;
  }
}

}  // namespace

void apply_openmp_defaults(char** argv) {
  if (std::getenv("GOMP_SPINCOUNT") != nullptr || std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (threads_fixed(argv)) return;
  if (std::thread::hardware_concurrency() < 2) return;  // no team, nothing to wait for
  if (setenv("GOMP_SPINCOUNT", kSpinCount, 0) != 0) return;
  // An invalid OMP_NUM_THREADS was warned about and ignored by this process's libgomp: the
  // restarted one would warn again, so it goes without it (and ignores nothing more).
  if (const char* v = std::getenv("OMP_NUM_THREADS"); v && !valid_thread_list(v)) unsetenv("OMP_NUM_THREADS");
  execv(restart_path().c_str(), argv);
  // Still here: exec failed (no /proc). The variable is set but this libgomp never reads it.
}

}  // namespace eff::cli
