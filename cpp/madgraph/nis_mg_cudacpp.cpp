// nis provider library around one subprocess of a MadGraph CUDACPP standalone folder (the `*.sa`
// folders of madgraph4gpu, `output standalone_cudacpp`): SubProcesses/P1_*/CPPProcess.{h,cc},
// SubProcesses/{Bridge.h, MatrixElementKernels.*, ...} and src/Parameters_*.{h,cc}. Built by
// nis/bridge/madgraph.py through cpp/madgraph/CMakeLists.txt: the C++/SIMD back end by default
// (namespace mg5amcCpu, Bridge::cpu_sequence), or CUDA with NIS_MG_BACKEND=cuda (namespace
// mg5amcGpu, Bridge::gpu_sequence; see the CMakeLists).
//
// The Bridge takes a fixed number of events per call, with the momenta as Fortran's
// P_MULTI(0:3, NEXTERNAL, NEVT), i.e. C's [nevt][npar][4]: nis's event-major layout, which the
// Bridge itself turns into the kernels' AOSOA pages. The provider feeds it pages of kPage events
// (full pages straight from nis's array; the last, partial page padded with copies of its last
// event) and keeps a pool of Bridges, one per hardware thread, so that nis's worker threads each
// run their own (a Bridge is not thread-safe). The plugin keeps the good-helicity table in statics
// that a Bridge's first call writes: first calls run alone (a shared_mutex), the others together.
//
// Three things the Bridge does that a library inside Python must contain:
// * its constructor reads the param card from a path relative to the working directory
//   ("../../Cards/param_card.dat", or "../Cards/..." and up in newer versions): the Bridges are
//   built once, at provider creation, with the working directory switched to the P1_* folder;
// * CPPProcess switches on SIGFPE traps: nis_mg_provider.hpp restores the floating-point
//   environment after creation and after every evaluation;
// * it takes the strong coupling per event: G = sqrt(4 pi aS) with aS from the card's SMINPUTS 3.
// The masses come from the card's MASS block (0 for particles it does not list, as MadGraph's
// models do for massless ones).
#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "Bridge.h"
#include "nis_mg_provider.hpp"
#include "nis_mg_subprocess.h"

#if defined(MGONGPUCPP_GPUIMPL) || defined(__CUDACC__)
namespace mg = mg5amcGpu;
#define NIS_MG_SEQUENCE gpu_sequence
#else
namespace mg = mg5amcCpu;
#define NIS_MG_SEQUENCE cpu_sequence
#endif
#include "nis_mg_bridge_api.hpp"

namespace {

using BridgeD = mg::Bridge<double>;

// Events per Bridge call: a multiple of every SIMD width (8 doubles) and of the 32 GPU threads
// a CUDA Bridge wants.
constexpr unsigned kPage = 256;

// One Bridge with the per-event inputs and outputs of a page.
struct Slot {
  std::unique_ptr<BridgeD> bridge;
  bool filtered = false;  // has this Bridge computed the good helicities (on its first page)?
  std::vector<double> momenta, gs, rndhel, rndcol, mes;
  std::vector<unsigned> flavour;
  std::vector<int> selhel, selcol;
};

// Switches the working directory for its lifetime.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::filesystem::path& path) : previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(path);
  }
  ~WorkingDirectory() {
    std::error_code ignored;
    std::filesystem::current_path(previous_, ignored);
  }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  std::filesystem::path previous_;
};

class Engine {
 public:
  Engine() : card_(NIS_MG_PARAM_CARD) {
    const double alpha_s = card_.get("sminputs", 3, 0.118);
    const double g = 2.0 * std::sqrt(alpha_s * 3.14159265358979323846);
    const unsigned hardware = std::thread::hardware_concurrency();
    const unsigned count = std::clamp(hardware, 1u, 256u);
    std::lock_guard<std::mutex> lock(nis_mg::library_mutex());  // one working-directory switch at a time
    WorkingDirectory here(NIS_MG_SUBPROCESS_DIR);
    for (unsigned i = 0; i < count; ++i) {
      Slot s;
      s.bridge = std::make_unique<BridgeD>(kPage, NIS_MG_N_EXTERNAL, 4);
      s.momenta.resize(std::size_t(kPage) * NIS_MG_N_EXTERNAL * 4);
      s.gs.assign(kPage, g);
      s.rndhel.assign(kPage, 0.5);
      s.rndcol.assign(kPage, 0.5);
      s.mes.resize(kPage);
      s.flavour.assign(kPage, 0);
      s.selhel.resize(kPage);
      s.selcol.resize(kPage);
      slots_.push_back(std::move(s));
      free_.push_back(i);
    }
  }

  std::vector<double> masses(const nis_mg::Process& process) const {
    std::vector<double> out(NIS_MG_N_EXTERNAL);
    for (int i = 0; i < NIS_MG_N_EXTERNAL; ++i) out[i] = card_.get("mass", std::abs(process.pdg[i]), 0.0);
    return out;
  }

  void evaluate(const nis_mg::Process& process, std::size_t n_events, const double* momenta, double* out) {
    constexpr std::size_t stride = 4 * NIS_MG_N_EXTERNAL;
    Lease lease(*this);
    Slot& s = lease.slot();
    for (std::size_t start = 0; start < n_events; start += kPage) {
      const std::size_t count = std::min<std::size_t>(kPage, n_events - start);
      const double* page = momenta + start * stride;
      if (count < kPage || process.swap_momenta) {
        std::copy(page, page + count * stride, s.momenta.begin());
        for (std::size_t i = count; i < kPage; ++i)  // pad with copies of the last event
          std::copy(page + (count - 1) * stride, page + count * stride, s.momenta.begin() + i * stride);
        if (process.swap_momenta)
          for (std::size_t i = 0; i < kPage; ++i) nis_mg::swap_incoming(s.momenta.data() + i * stride);
        page = s.momenta.data();
      }
      const nis_mg::BridgeBuffers buffers{s.gs.data(),  s.flavour.data(), s.rndhel.data(), s.rndcol.data(),
                                          s.mes.data(), s.selhel.data(),  s.selcol.data()};
      if (s.filtered) {
        std::shared_lock<std::shared_mutex> reading(helicities_);
        nis_mg::bridge_sequence(*s.bridge, page, buffers);
      } else {  // the first call writes the plugin's static good-helicity table: nobody may read it meanwhile
        std::unique_lock<std::shared_mutex> writing(helicities_);
        nis_mg::bridge_sequence(*s.bridge, page, buffers);
        s.filtered = true;
      }
      for (std::size_t i = 0; i < count; ++i) out[start + i] = s.mes[i] * process.identical;
    }
  }

 private:
  // A Bridge from the pool for the lifetime of the lease (waits while all are busy).
  class Lease {
   public:
    explicit Lease(Engine& engine) : engine_(engine) {
      std::unique_lock<std::mutex> lock(engine_.pool_mutex_);
      engine_.available_.wait(lock, [&] { return !engine_.free_.empty(); });
      index_ = engine_.free_.back();
      engine_.free_.pop_back();
    }
    ~Lease() {
      {
        std::lock_guard<std::mutex> lock(engine_.pool_mutex_);
        engine_.free_.push_back(index_);
      }
      engine_.available_.notify_one();
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Slot& slot() { return engine_.slots_[index_]; }

   private:
    Engine& engine_;
    std::size_t index_ = 0;
  };

  nis_mg::SlhaCard card_;
  std::shared_mutex helicities_;  // the plugin's good-helicity table is static (shared by all Bridges)
  std::vector<Slot> slots_;
  std::vector<std::size_t> free_;
  std::mutex pool_mutex_;
  std::condition_variable available_;
};

}  // namespace

NIS_MG_DEFINE_ENTRY_POINT(Engine)
