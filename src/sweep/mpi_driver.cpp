#include "sweep/mpi_driver.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/progress.h"
#include "engine/executor.h"
#include "sweep/mpi_plugin.h"

namespace eff::sweep {

namespace {

// The points in capture_interleaved order, handed out (as indices into spec.points) from rank 0 to
// its own compute thread and to the others. Its progress bar counts the points handed out (a
// point's end is not reported back to rank 0).
struct Dispenser {
  std::atomic<int64_t> next{0};
  int64_t count = 0;
  std::vector<int64_t> order;
  std::mutex mu;
  std::optional<Progress> bar;
  static int64_t take(void* self) {
    auto* d = static_cast<Dispenser*>(self);
    const int64_t i = d->next.fetch_add(1);
    if (i >= d->count) return -1;
    std::lock_guard lock(d->mu);
    if (i > 0) d->bar->advance();  // the previous hand-out's point is under way or done
    return d->order[static_cast<size_t>(i)];
  }
};

}  // namespace

MpiOutcome run_mpi(const Spec& spec, RunOptions o, const std::function<void()>& merge) {
  const EffMpiV1& mpi = load_mpi_plugin();
  MpiOutcome out;
  int local = 1;
  if (mpi.init(&out.rank, &out.size, &local) != 0) fail("sweep: MPI_Init failed");
  // The ranks of a node share its cores (rank 0's dispatcher sleeps while it waits).
  if (o.threads == 0) o.threads = std::max(1, resolve_threads(0) / std::max(1, local));

  // Rank 0 alone takes the lock and prepares the folder; everyone learns whether that worked.
  std::optional<SweepLock> lock;
  std::exception_ptr setup_error;
  int ok = 1;
  if (out.rank == 0) {
    try {
      lock.emplace(o.out, 0, 1);
      prepare_out(spec, o);
    } catch (...) {
      setup_error = std::current_exception();
      ok = 0;
    }
  }
  mpi.broadcast(&ok);
  if (!ok) {
    mpi.finalize();
    if (setup_error) std::rethrow_exception(setup_error);
    out.counts.failed = -1;
    return out;
  }

  try {
    PointRunner runner(spec, o);
    if (out.rank == 0) {
      Dispenser d;
      d.count = static_cast<int64_t>(spec.points.size());
      std::vector<const Point*> all;
      for (const Point& p : spec.points) all.push_back(&p);
      for (const Point* p : capture_interleaved(all)) d.order.push_back(static_cast<int64_t>(p - spec.points.data()));
      d.bar.emplace("sweep (MPI)", d.count);
      std::exception_ptr worker_error;
      std::thread worker([&] {
        try {
          for (int64_t i = Dispenser::take(&d); i >= 0; i = Dispenser::take(&d)) runner.run(spec.points[i]);
        } catch (...) {
          worker_error = std::current_exception();
        }
      });
      mpi.serve(&Dispenser::take, &d);
      worker.join();
      d.bar->finish();
      if (worker_error) std::rethrow_exception(worker_error);
    } else {
      for (int64_t i = mpi.request(); i >= 0; i = mpi.request()) runner.run(spec.points.at(i));
    }
    out.counts = runner.counts();
    mpi.barrier();
    if (out.rank == 0) merge();
  } catch (const std::exception& e) {
    // The sweep folder failed under this rank (disk full, permissions): the others would wait for
    // it forever, so the job ends here.
    std::fprintf(stderr, "effectual: rank %d: %s\n", out.rank, e.what());
    mpi.abort(1);
  }
  mpi.finalize();
  return out;
}

}  // namespace eff::sweep
