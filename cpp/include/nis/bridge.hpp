// nis: the bridge between callers (Python, the C API, Sherpa) and matrix-element providers.
//
//   ProcessSpec spec = nis::parse_process("e+ e- -> d d~ g");      // names -> PDG ids
//   auto me = nis::create("e+ e- -> mu+ mu-", {{"alpha", 1/137.0}});  // a built-in provider
//   auto ext = nis::load_library("libmy_me.so", "u u~ -> e+ e-", {}); // a provider library (C ABI)
//   nis::evaluate_batch(*me, n, n * 4 * 4, momenta, out);             // checks, then |M|^2
//
// Every failure throws nis::Error with the status code of matrix_element.h and a message that
// names the problem and, where there is one, the fix.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "nis/matrix_element.hpp"

namespace nis {

// ---- process strings (process.cpp) -------------------------------------------------------------

// "e+ e- -> d d~ g g" -> PDG ids. Throws NIS_ERR_UNKNOWN_PROCESS for an unknown particle name
// (the message lists the known ones), a missing or repeated "->", or an empty side.
ProcessSpec parse_process(const std::string& text);
// The particle names parse_process knows, in table order ("e-", "e+", ..., "w-").
std::vector<std::string> particle_names();
// PDG id of a particle name; throws NIS_ERR_UNKNOWN_PROCESS for an unknown one.
int pdg_code(const std::string& name);
// Name of a PDG id ("e-" for 11), or the number itself as text when the table lacks it.
std::string particle_name(int pdg);

// ---- parameters (parameters.cpp) ---------------------------------------------------------------

// "alpha_s=0.118; mZ=91.19" -> {{"alpha_s", 0.118}, {"mZ", 91.19}}. Entries are separated by ';'
// (or ','), blanks around names and values are ignored, empty entries are skipped. Throws
// NIS_ERR_BAD_PARAMETER for an entry without '=', an empty name, a value that is not a finite
// number, or a name given twice.
Parameters parse_parameters(const std::string& text);
// The inverse, with every digit kept ("%.17g"): what a provider library's entry point receives.
std::string format_parameters(const Parameters& parameters);

// ---- built-in providers (registry.cpp) ---------------------------------------------------------

// Asks every registered factory (in name order) for the process; the first that answers wins.
// Throws NIS_ERR_UNKNOWN_PROCESS when none does (the message lists the registered providers),
// and passes on whatever a factory throws (e.g. NIS_ERR_BAD_PARAMETER).
std::unique_ptr<MatrixElement> create(const std::string& process, const Parameters& parameters = {});

// ---- provider libraries (loader.cpp) -----------------------------------------------------------

// dlopen()s the shared library at `path`, calls its `nis_provider_create` for the process and
// wraps the provider it returns. The library stays loaded while the returned object lives.
// Throws NIS_ERR_LOAD for a missing file, a file that is not a loadable shared library (with
// dlerror()'s text), a missing entry point or a wrong ABI version; passes on the status and
// message of an entry point that refuses the process or the parameters.
std::unique_ptr<MatrixElement> load_library(const std::string& path, const std::string& process,
                                            const Parameters& parameters = {});

// ---- batch checks and evaluation (checks.cpp, batch.cpp) ---------------------------------------

struct EvaluateOptions {
  // Momentum conservation: |sum p_in - sum p_out| (each of the four components) must not exceed
  // tolerance * (total incoming energy). A negative value switches the check off.
  double conservation_tolerance = 1e-9;
  // Worker threads: 0 picks automatically (one per `min_events_per_thread` events, at most the
  // hardware's thread count), 1 evaluates serially on the caller's thread.
  unsigned threads = 0;
  std::size_t min_events_per_thread = 4096;
};

// Checks events [begin, end) of a batch: every value finite, four-momentum conserved. Throws
// NIS_ERR_BAD_MOMENTA naming the first bad event (its index in the whole batch) and the problem.
void check_momenta(const ProcessInfo& info, std::size_t begin, std::size_t end, const double* momenta,
                   double conservation_tolerance);

// How many threads evaluate_batch uses for n_events events.
unsigned thread_count(std::size_t n_events, const EvaluateOptions& options);

// The bridge's one way in: checks the batch (n_values must equal n_events * n_particles * 4),
// then evaluates it, split over threads for large batches. An exception from any thread reaches
// the caller (the one from the earliest event range when several fail); `out` is unspecified
// after an error.
void evaluate_batch(const MatrixElement& me, std::size_t n_events, std::size_t n_values, const double* momenta,
                    double* out, const EvaluateOptions& options = {});

}  // namespace nis
