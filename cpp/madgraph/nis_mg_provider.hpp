// nis: the part of a MadGraph provider library that does not depend on MadGraph's output format.
//
// A provider library wraps one subprocess folder (SubProcesses/P*) of a MadGraph output. The
// Python builder (nis/bridge/madgraph.py) writes a header `nis_mg_subprocess.h` for it, with the
// folder's paths and a table of the processes the subprocess answers (`nis_mg::Process`); each
// format's source (nis_mg_standalone_cpp.cpp, nis_mg_standalone.cpp, nis_mg_cudacpp.cpp) defines an
// `Engine` and ends with NIS_MG_DEFINE_ENTRY_POINT(Engine), which exports `nis_provider_create`.
//
// An Engine is built once per provider (from the C entry point, never across threads; the
// floating-point environment is restored after its construction and after every evaluate) and offers
//   std::vector<double> masses(const Process&)   masses in the process's particle order
//   void evaluate(const Process&, std::size_t n, const double* momenta, double* out)
// where `momenta` is nis's event-major layout and `out` receives MadGraph's own |M|^2 (averaged
// over initial and summed over final helicities and colours, divided by the identical-particle
// factor). evaluate() must be safe to call from several threads at once.
//
// Conventions (cpp/include/nis/matrix_element.h): nis wants |M|^2 WITHOUT the final-state
// symmetry factor, which the phase-space side applies from `symmetry_factor`. MadGraph divides by
// it (its denominators are spins x colours x identical particles), so the provider multiplies
// MadGraph's value by `Process::identical` (prod_k n_k! over identical final-state particles) and
// reports symmetry_factor = 1 / identical: nis's integrand then sees exactly MadGraph's value.
#pragma once

#include <cctype>
#include <cfenv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nis/matrix_element.h"

#if defined(__GNUC__)
#define NIS_MG_EXPORT __attribute__((visibility("default")))
#else
#define NIS_MG_EXPORT
#endif

namespace nis_mg {

// One process a subprocess library answers (a row of the generated table).
struct Process {
  const char* name;     // nis syntax, e.g. "u~ u -> e+ e-"
  const int* pdg;       // PDG ids, incoming first, in this process's particle order
  int me_index;         // which entry of MadGraph's matrix-element array (standalone_cpp mirrors)
  int swap_momenta;     // 1: swap the two incoming momenta before calling MadGraph
  int swapped_order;    // 1: the incoming particles are in the opposite order to MadGraph's
  int identical;        // prod_k n_k! over identical final-state particles (MadGraph divides by it)
  double average;       // 1 / (initial spins x colours): MadGraph applies it
  int order_qcd;        // power of alpha_s in |M|^2
  int order_qed;        // power of alpha in |M|^2
};

// MadGraph's masses (its particle order) in the order of ``process``.
inline std::vector<double> masses_in_order(const Process& process, std::vector<double> masses) {
  if (process.swapped_order && masses.size() >= 2) std::swap(masses[0], masses[1]);
  return masses;
}

inline void set_error(char* err, std::size_t errlen, const std::string& message) {
  if (err && errlen > 0) {
    std::strncpy(err, message.c_str(), errlen - 1);
    err[errlen - 1] = '\0';
  }
}

// "e+  e- > mu+ mu-" and "e+ e- -> mu+ mu-" both read as "e+ e- -> mu+ mu-".
inline std::string normalise_process(const std::string& text) {
  std::istringstream in(text);
  std::string word, out;
  while (in >> word) {
    if (word == ">") word = "->";
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

inline bool file_exists(const std::string& path) {
  std::ifstream file(path);
  return file.good();
}

// The single-index entries of an SLHA card ("BLOCK MASS" / "  23 9.1188e+01 # mz") and its
// DECAY lines (block "decay"), block names in lower case. Enough for masses and alpha_s.
class SlhaCard {
 public:
  explicit SlhaCard(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read the param card '" + path + "'");
    std::string line, block;
    while (std::getline(in, line)) {
      std::istringstream words(line.substr(0, line.find('#')));
      std::vector<std::string> w;
      for (std::string s; words >> s;) w.push_back(s);
      if (w.empty()) continue;
      const std::string first = lower(w[0]);
      if (first == "block") {
        block = w.size() > 1 ? lower(w[1]) : "";
      } else if (first == "decay") {
        block.clear();
        if (w.size() >= 3) store("decay", w[1], w[2]);
      } else if (!block.empty() && w.size() == 2) {
        store(block, w[0], w[1]);
      }
    }
  }

  double get(const std::string& block, int index, double fallback) const {
    const auto found = entries_.find({block, index});
    return found == entries_.end() ? fallback : found->second;
  }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  void store(const std::string& block, const std::string& index, const std::string& value) {
    char* end = nullptr;
    const long i = std::strtol(index.c_str(), &end, 10);
    if (*end) return;
    const double v = std::strtod(value.c_str(), &end);
    if (*end) return;
    entries_[{block, static_cast<int>(i)}] = v;
  }
  std::map<std::pair<std::string, int>, double> entries_;
};

// Saves the floating-point environment (rounding mode, flags and, with glibc, the trap mask) and
// restores it: MadGraph's CUDACPP code switches on SIGFPE traps (feenableexcept), which must not
// leak into the Python interpreter that loaded the library.
class FloatingPointGuard {
 public:
  FloatingPointGuard() { std::fegetenv(&env_); }
  ~FloatingPointGuard() { std::fesetenv(&env_); }
  FloatingPointGuard(const FloatingPointGuard&) = delete;
  FloatingPointGuard& operator=(const FloatingPointGuard&) = delete;

 private:
  std::fenv_t env_;
};

// One mutex for the whole library: MadGraph's standalone code keeps its state in statics and
// common blocks (helicity filters, couplings), shared by every object of the library.
inline std::mutex& library_mutex() {
  static std::mutex mutex;
  return mutex;
}

// The text of whatever a MadGraph routine threw (std::exception, a C string or std::string).
inline std::string describe_current_exception() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (const char* text) {
    return text ? text : "unknown error";
  } catch (const std::string& text) {
    return text;
  } catch (...) {
    return "unknown exception";
  }
}

// The provider: one Engine and the process it was asked for.
template <class Engine>
struct Provider {
  const Process* process = nullptr;
  std::unique_ptr<Engine> engine;
  std::string name;
  std::vector<int> pdg;
  std::vector<double> masses;
  int n_in = 0, n_out = 0;
};

template <class Engine>
int provider_info(void* state, nis_process_info* out) {
  const auto* p = static_cast<const Provider<Engine>*>(state);
  out->name = p->name.c_str();
  out->n_in = p->n_in;
  out->n_out = p->n_out;
  out->pdg = p->pdg.data();
  out->masses = p->masses.data();
  out->average = p->process->average;
  out->order_qcd = p->process->order_qcd;
  out->order_qed = p->process->order_qed;
  out->symmetry_factor = 1.0 / p->process->identical;
  return NIS_OK;
}

template <class Engine>
int provider_evaluate(void* state, std::size_t n_events, const double* momenta, double* out, char* err,
                      std::size_t errlen) {
  auto* p = static_cast<Provider<Engine>*>(state);
  try {
    FloatingPointGuard guard;
    p->engine->evaluate(*p->process, n_events, momenta, out);
    return NIS_OK;
  } catch (...) {
    const std::string why = describe_current_exception();
    set_error(err, errlen, std::string("MadGraph subprocess ") + p->process->name + ": " + why);
    return NIS_ERR_INTERNAL;
  }
}

template <class Engine>
void provider_destroy(void* state) {
  delete static_cast<Provider<Engine>*>(state);
}

// The body of nis_provider_create for a subprocess whose processes are `table[0..count)`.
template <class Engine>
int create_provider(const Process* table, std::size_t count, int n_in, int n_external, const char* subprocess,
                    const char* param_card, const char* process, const char* parameters, nis_provider* out,
                    char* err, std::size_t errlen) {
  try {
    if (!process || !out) {
      set_error(err, errlen, "null process or output");
      return NIS_ERR_INTERNAL;
    }
    const std::string wanted = normalise_process(process);
    const Process* chosen = nullptr;
    std::string known;
    for (std::size_t i = 0; i < count; ++i) {
      if (wanted.empty() || normalise_process(table[i].name) == wanted) {
        chosen = &table[i];
        break;
      }
    }
    if (!chosen) {
      for (std::size_t i = 0; i < count; ++i) known += std::string(i ? "; " : "") + "'" + table[i].name + "'";
      set_error(err, errlen,
                std::string("MadGraph subprocess ") + subprocess + " does not compute '" + process + "'; it answers " +
                    known);
      return NIS_ERR_UNKNOWN_PROCESS;
    }
    if (parameters && !normalise_process(parameters).empty()) {
      set_error(err, errlen,
                std::string("MadGraph subprocess ") + subprocess + " takes its parameters from its param card '" +
                    param_card + "', not from nis (got '" + parameters + "'); edit the card instead");
      return NIS_ERR_BAD_PARAMETER;
    }
    if (!file_exists(param_card)) {
      set_error(err, errlen, std::string("the param card '") + param_card + "' of MadGraph subprocess " + subprocess +
                                 " does not exist or cannot be read");
      return NIS_ERR_LOAD;
    }
    FloatingPointGuard guard;
    auto provider = std::make_unique<Provider<Engine>>();
    provider->process = chosen;
    provider->engine = std::make_unique<Engine>();
    provider->name = normalise_process(chosen->name);
    provider->pdg.assign(chosen->pdg, chosen->pdg + n_external);
    provider->masses = provider->engine->masses(*chosen);
    provider->n_in = n_in;
    provider->n_out = n_external - n_in;
    if (provider->masses.size() != static_cast<std::size_t>(n_external))
      throw std::runtime_error("MadGraph reports " + std::to_string(provider->masses.size()) + " masses for " +
                               std::to_string(n_external) + " particles");
    out->abi_version = NIS_ABI_VERSION;
    out->state = provider.release();
    out->info = provider_info<Engine>;
    out->evaluate = provider_evaluate<Engine>;
    out->destroy = provider_destroy<Engine>;
    return NIS_OK;
  } catch (...) {
    set_error(err, errlen, std::string("MadGraph subprocess ") + subprocess + ": " + describe_current_exception());
    return NIS_ERR_INTERNAL;
  }
}

// Swaps the first two particles of an event of n particles (in place).
inline void swap_incoming(double* event) {
  for (int k = 0; k < 4; ++k) std::swap(event[k], event[4 + k]);
}

}  // namespace nis_mg

// The exported entry point, from the generated table (nis_mg_subprocess.h).
#define NIS_MG_DEFINE_ENTRY_POINT(ENGINE)                                                                         \
  extern "C" NIS_MG_EXPORT int nis_provider_create(const char* process, const char* parameters, nis_provider* out, \
                                                   char* err, size_t errlen) {                                   \
    return nis_mg::create_provider<ENGINE>(nis_mg_processes, sizeof nis_mg_processes / sizeof nis_mg_processes[0], \
                                           NIS_MG_N_INITIAL, NIS_MG_N_EXTERNAL, NIS_MG_SUBPROCESS,               \
                                           NIS_MG_PARAM_CARD, process, parameters, out, err, errlen);            \
  }
