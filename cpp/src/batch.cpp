// nis: evaluate_batch, the bridge's one way in: size check, per-event checks, then |M|^2, with
// large batches split over std::threads (MatrixElement::evaluate is const and thread-safe).
#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "nis/bridge.hpp"

namespace nis {
namespace {

// Runs body(begin, end) on `threads` contiguous slices of [0, n), the first on the caller's
// thread. Every thread is joined before returning, also when one throws or a thread cannot be
// started; the exception of the earliest slice that failed is rethrown.
void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t, std::size_t)>& body) {
  if (threads <= 1 || n == 0) {
    body(0, n);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  auto slice = [&](unsigned t) {
    const std::size_t begin = n * t / threads, end = n * (t + 1) / threads;
    try {
      body(begin, end);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  unsigned started = 1;
  try {
    for (unsigned t = 1; t < threads; ++t, ++started) workers.emplace_back(slice, t);
  } catch (...) {
    // Could not start a thread: the caller's thread does the remaining slices itself.
  }
  slice(0);
  for (unsigned t = started; t < threads; ++t) slice(t);
  for (auto& w : workers) w.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

unsigned thread_count(std::size_t n_events, const EvaluateOptions& options) {
  if (options.threads > 0) return static_cast<unsigned>(std::min<std::size_t>(options.threads, std::max<std::size_t>(n_events, 1)));
  const std::size_t per_thread = std::max<std::size_t>(options.min_events_per_thread, 1);
  const std::size_t wanted = n_events / per_thread;
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<unsigned>(std::clamp<std::size_t>(wanted, 1, hardware));
}

void evaluate_batch(const MatrixElement& me, std::size_t n_events, std::size_t n_values, const double* momenta,
                    double* out, const EvaluateOptions& options) {
  const ProcessInfo& info = me.info();
  const std::size_t n_particles = info.n_particles();
  if (n_values != n_events * n_particles * 4)
    throw Error(NIS_ERR_BAD_MOMENTA, "'" + info.name + "' takes " + std::to_string(n_particles) +
                                         " four-momenta per event, so " + std::to_string(n_events) + " events need " +
                                         std::to_string(n_events * n_particles * 4) + " values, got " +
                                         std::to_string(n_values) + " (shape must be (n_events, " +
                                         std::to_string(n_particles) + ", 4))");
  if (n_events == 0) return;
  if (!momenta || !out) throw Error(NIS_ERR_BAD_MOMENTA, "null momenta or output pointer");
  const unsigned threads = thread_count(n_events, options);
  // All checks first, so no provider runs on a batch that holds a bad event.
  parallel_for(n_events, threads, [&](std::size_t begin, std::size_t end) {
    check_momenta(info, begin, end, momenta, options.conservation_tolerance);
  });
  parallel_for(n_events, threads, [&](std::size_t begin, std::size_t end) {
    me.evaluate(end - begin, momenta + begin * n_particles * 4, out + begin);
  });
}

}  // namespace nis
