// nis provider library around one subprocess of a MadGraph `output standalone_cpp` folder:
// SubProcesses/P*/CPPProcess.{h,cc} (class NIS_MG_CLASS, usually CPPProcess) compiled with the
// folder's src/ (Parameters_*, HelAmps_*, read_slha). Built by nis/bridge/madgraph.py through
// cpp/madgraph/CMakeLists.txt, which also generates nis_mg_subprocess.h.
//
// The class is used exactly as MadGraph's check_sa.cpp does: initProc(param card), then per event
// setMomenta(one double[4] per particle, E px py pz), sigmaKin() and getMatrixElements()[k], where
// k = 1 is MadGraph's mirror process (incoming particles swapped) when nprocesses == 2.
//
// sigmaKin() keeps its helicity filter and the model parameters in statics shared by every object
// of the library, so calls are serialised with one library-wide mutex: a standalone_cpp provider
// uses one core. (The cudacpp format has no such limit.)
#include <array>
#include <vector>

#include "CPPProcess.h"
#include "nis_mg_provider.hpp"
#include "nis_mg_subprocess.h"

namespace {

class Engine {
 public:
  Engine() {
    std::lock_guard<std::mutex> lock(nis_mg::library_mutex());
    if (NIS_MG_CLASS::nexternal != NIS_MG_N_EXTERNAL || NIS_MG_CLASS::ninitial != NIS_MG_N_INITIAL)
      throw std::runtime_error("the class has " + std::to_string(NIS_MG_CLASS::nexternal) + " particles (" +
                               std::to_string(NIS_MG_CLASS::ninitial) + " incoming), the process table " +
                               std::to_string(NIS_MG_N_EXTERNAL) + " (" + std::to_string(NIS_MG_N_INITIAL) + ")");
    // The particle order of the table (read from the Process: comments) must be the class's own
    const std::string name = process_.name();  // e.g. "e+ e- > mu+ mu- (sm)"
    const std::string particles = name.substr(0, name.find(" ("));
    if (nis_mg::normalise_process(particles) != nis_mg::normalise_process(nis_mg_processes[0].name))
      throw std::runtime_error("CPPProcess::name() is '" + name + "' but the Process: comments read '" +
                               nis_mg_processes[0].name + "'; nis cannot tell the order of the particles");
    process_.initProc(std::string(NIS_MG_PARAM_CARD));
    const std::vector<double>& masses = process_.getMasses();
    masses_.assign(masses.begin(), masses.end());
  }

  std::vector<double> masses(const nis_mg::Process& process) const { return nis_mg::masses_in_order(process, masses_); }

  void evaluate(const nis_mg::Process& process, std::size_t n_events, const double* momenta, double* out) {
    constexpr int n = NIS_MG_N_EXTERNAL;
    std::array<double, 4 * n> event{};
    std::vector<double*> pointers(n);
    for (int i = 0; i < n; ++i) pointers[i] = event.data() + 4 * i;
    std::lock_guard<std::mutex> lock(nis_mg::library_mutex());
    for (std::size_t e = 0; e < n_events; ++e) {
      const double* source = momenta + 4 * n * e;
      std::copy(source, source + 4 * n, event.begin());
      if (process.swap_momenta) nis_mg::swap_incoming(event.data());
      process_.setMomenta(pointers);
      process_.sigmaKin();
      out[e] = process_.getMatrixElements()[process.me_index] * process.identical;
    }
  }

 private:
  NIS_MG_CLASS process_;
  std::vector<double> masses_;
};

}  // namespace

NIS_MG_DEFINE_ENTRY_POINT(Engine)
