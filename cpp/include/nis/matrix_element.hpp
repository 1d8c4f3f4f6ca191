// nis: the batched matrix-element interface, C++17 view. See matrix_element.h for the
// conventions (momentum layout, what |M|^2 includes). Built-in providers derive from
// MatrixElement and register a factory with NIS_REGISTER_PROVIDER.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "nis/matrix_element.h"

namespace nis {

// Thrown by providers; the C boundary turns it into the status code it carries.
class Error : public std::runtime_error {
 public:
  Error(nis_status code, const std::string& what) : std::runtime_error(what), code_(code) {}
  nis_status code() const { return code_; }

 private:
  nis_status code_;
};

struct ProcessInfo {
  std::string name;             // "e+ e- -> mu+ mu-"
  std::vector<int> pdg_in;      // PDG ids of the incoming particles
  std::vector<int> pdg_out;     // PDG ids of the outgoing particles
  std::vector<double> masses;   // GeV, incoming first
  double average = 1.0;         // 1/(initial spins * colours), applied inside evaluate()
  int order_qcd = 0;            // power of alpha_s in |M|^2
  int order_qed = 0;            // power of alpha in |M|^2
  double symmetry_factor = 1.0; // 1/prod n_k! for identical final-state particles, not applied
  std::size_t n_particles() const { return pdg_in.size() + pdg_out.size(); }
};

// Physical parameters, by name ("alpha", "alpha_s", "mZ", "wZ", "sin2w", ...). Providers read
// what they need with get(name, default) and reject names they do not know (NIS_ERR_BAD_PARAMETER).
using Parameters = std::map<std::string, double>;

// A process' |M|^2 for batches of momenta. evaluate() is const and must be safe to call from
// several threads at once on disjoint output ranges.
class MatrixElement {
 public:
  virtual ~MatrixElement() = default;
  virtual const ProcessInfo& info() const = 0;
  // momenta: n_events * n_particles * 4 doubles (E, px, py, pz per particle), out: n_events doubles
  virtual void evaluate(std::size_t n_events, const double* momenta, double* out) const = 0;
};

// Built-in providers: a factory gets the parsed process and the parameters and returns a
// MatrixElement, or nullptr when it does not handle the process.
struct ProcessSpec {
  std::string text;             // the process string as given
  std::vector<int> pdg_in, pdg_out;
};
using Factory = std::function<std::unique_ptr<MatrixElement>(const ProcessSpec&, const Parameters&)>;

// Registry of built-in factories (defined in the bridge library).
void register_factory(const std::string& provider_name, Factory factory);
std::vector<std::string> provider_names();

}  // namespace nis

// Registers a built-in factory at static-initialisation time:
//   NIS_REGISTER_PROVIDER(ee_ll, [](const nis::ProcessSpec& p, const nis::Parameters& par) { ... });
#define NIS_REGISTER_PROVIDER(ID, FACTORY)                        \
  namespace {                                                     \
  const bool nis_registered_##ID = [] {                           \
    ::nis::register_factory(#ID, FACTORY);                        \
    return true;                                                  \
  }();                                                            \
  }
