// nis provider library around one subprocess of a MadGraph `output standalone` (Fortran) folder:
// SubProcesses/P*/matrix.f with SUBROUTINE SMATRIX(P, ANS), P(0:3, NEXTERNAL), compiled with the
// folder's Source/MODEL (SETPARA, couplings) and Source/DHELAS (HELAS/ALOHA routines). Built by
// nis/bridge/madgraph.py through cpp/madgraph/CMakeLists.txt.
//
// The Fortran side is reached through the ISO_C_BINDING shim nis_mg_standalone_shim.F:
//   nis_mg_setpara(path, length)  CALL SETPARA(path): read the param card, set the common blocks
//   nis_mg_masses(masses)         the masses of pmass.inc, after SETPARA
//   nis_mg_smatrix(p, ans)        CALL SMATRIX(P, ANS) (the name comes from matrix.f)
//   nis_mg_nexternal()            NEXTERNAL of nexternal.inc
// P(0:3, NEXTERNAL) is column-major: (E, px, py, pz) of particle 1, then particle 2, ... which is
// nis's event layout, so an event is passed as it is (copied, as SMATRIX's P is not read-only).
//
// SMATRIX keeps its helicity filter in SAVEd variables and the couplings in common blocks, so
// calls are serialised with one library-wide mutex: a standalone provider uses one core.
#include <array>
#include <vector>

#include "nis_mg_provider.hpp"
#include "nis_mg_subprocess.h"

extern "C" {
void nis_mg_setpara(const char* path, int length);
void nis_mg_masses(double* masses);
void nis_mg_smatrix(double* p, double* ans);
int nis_mg_nexternal();
}

namespace {

class Engine {
 public:
  Engine() {
    std::lock_guard<std::mutex> lock(nis_mg::library_mutex());
    const int n = nis_mg_nexternal();
    if (n != NIS_MG_N_EXTERNAL)
      throw std::runtime_error("nexternal.inc has NEXTERNAL = " + std::to_string(n) + ", the process table " +
                               std::to_string(NIS_MG_N_EXTERNAL));
    const std::string card = NIS_MG_PARAM_CARD;
    nis_mg_setpara(card.c_str(), static_cast<int>(card.size()));
    masses_.resize(n);
    nis_mg_masses(masses_.data());
  }

  std::vector<double> masses(const nis_mg::Process& process) const { return nis_mg::masses_in_order(process, masses_); }

  void evaluate(const nis_mg::Process& process, std::size_t n_events, const double* momenta, double* out) {
    constexpr int n = NIS_MG_N_EXTERNAL;
    std::array<double, 4 * n> event{};
    std::lock_guard<std::mutex> lock(nis_mg::library_mutex());
    for (std::size_t e = 0; e < n_events; ++e) {
      const double* source = momenta + 4 * n * e;
      std::copy(source, source + 4 * n, event.begin());
      if (process.swap_momenta) nis_mg::swap_incoming(event.data());
      double answer = 0;
      nis_mg_smatrix(event.data(), &answer);
      out[e] = answer * process.identical;
    }
  }

 private:
  std::vector<double> masses_;
};

}  // namespace

NIS_MG_DEFINE_ENTRY_POINT(Engine)
