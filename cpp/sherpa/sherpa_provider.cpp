// nis provider library for Sherpa's matrix elements (Comix), through Sherpa's MEProcess.
//
// Process string: "<incoming PDG ids> -> <outgoing PDG ids> @ <run card>", e.g.
//   "11 -11 -> 1 -1 21 @ /home/me/.cache/nis/sherpa/ab12/Sherpa.yaml"
// with the particles in the caller's order. The run card (nis.bridge.sherpa writes it) must list
// this process in its PROCESSES. |M|^2 is CSMatrixElement(): Comix' colour-sampled amplitude
// summed over every colour assignment, the exact colour sum (its cost grows like 3^(2 n_g + n_q);
// Comix' COLOR_SCHEME: 1 would sum in one call, but crashes MEProcess). Sherpa is initialised from it once (INIT_ONLY: 2: model, couplings and the
// Comix amplitudes, no integration) in the card's directory, and shared by every provider made
// from the same card; it is deleted with the last of them. Sherpa keeps process-wide state, so
// at most one run card is live at a time, and every call into Sherpa holds one lock.
//
// Normalisation: Sherpa returns |M|^2 averaged over initial spins and colours and divided by the
// final-state symmetry factor prod n_k!; nis' convention leaves that factor to the phase space,
// so it is multiplied back here (and CSMatrixElement()'s extra initial-state swap factor, 2 for
// identical incoming partons with PDFs, divided out). Momenta are permuted into Sherpa's canonical particle order.
#include <algorithm>
#include <array>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "ATOOLS/Math/Vector.H"
#include "ATOOLS/Org/Exception.H"
#include "ATOOLS/Phys/Flavour.H"
#include "AddOns/Python/MEProcess.H"
#include "PHASIC++/Process/Process_Base.H"
#include "SHERPA/Main/Sherpa.H"
#include "nis/c_boundary.hpp"

namespace {

std::mutex sherpa_lock;  // every call into Sherpa

// The live Sherpa: its run card and how many providers use it.
struct Session {
  std::string card;
  SHERPA::Sherpa* generator = nullptr;
  int users = 0;
};
Session session;

using nis::Error;

// nis::guarded, with Sherpa's exceptions (which do not derive from std::exception and print
// themselves) turned into nis errors first.
template <class F>
int guarded(F&& body, char* err, size_t errlen) {
  return nis::guarded(err, errlen, [&] {
    try {
      body();
    } catch (const ATOOLS::Exception& e) {
      std::ostringstream out;
      out << e;
      throw Error(NIS_ERR_INTERNAL, "Sherpa: " + out.str());
    }
  });
}

// Sherpa's constructor installs its own signal and terminate handlers (they call exit()); the
// host (Python) keeps its own: saved before and put back after.
class HostHandlers {
 public:
  HostHandlers() {
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], nullptr, &saved_[i]);
    terminate_ = std::get_terminate();
  }
  ~HostHandlers() {
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &saved_[i], nullptr);
    std::set_terminate(terminate_);
  }

 private:
  static constexpr std::array<int, 9> kSignals{SIGSEGV, SIGINT,  SIGPIPE, SIGBUS, SIGFPE,
                                               SIGABRT, SIGTERM, SIGXCPU, SIGUSR1};
  std::array<struct sigaction, 9> saved_{};
  std::terminate_handler terminate_;
};

class WorkingDirectory {  // Sherpa writes Process/ and its reports into the current directory
 public:
  explicit WorkingDirectory(const std::string& dir) {
    char buffer[4096];
    if (!getcwd(buffer, sizeof buffer)) throw Error(NIS_ERR_INTERNAL, "cannot read the working directory");
    previous_ = buffer;
    if (chdir(dir.c_str()) != 0) throw Error(NIS_ERR_BAD_PARAMETER, "cannot enter the run directory '" + dir + "'");
  }
  ~WorkingDirectory() { (void)!chdir(previous_.c_str()); }

 private:
  std::string previous_;
};

SHERPA::Sherpa* acquire(const std::string& card) {
  if (session.generator) {
    if (session.card != card)
      throw Error(NIS_ERR_BAD_PARAMETER,
                    "Sherpa is already running from '" + session.card + "' in this process; Sherpa keeps process-wide "
                    "state, so a second run card ('" + card + "') needs the first one's matrix elements deleted first");
    ++session.users;
    return session.generator;
  }
  const auto slash = card.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : card.substr(0, slash);
  const std::string file = slash == std::string::npos ? card : card.substr(slash + 1);
  if (access(card.c_str(), R_OK) != 0) throw Error(NIS_ERR_BAD_PARAMETER, "cannot read the Sherpa run card '" + card + "'");
  std::vector<std::string> args{"nis-sherpa", file, "INIT_ONLY: 2", "EVENTS: 0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(&a[0]);
  WorkingDirectory here(dir);
  HostHandlers keep;
  auto generator = std::make_unique<SHERPA::Sherpa>(static_cast<int>(argv.size()), argv.data());
  generator->InitializeTheRun();
  session = Session{card, generator.release(), 1};
  return session.generator;
}

void release() {
  if (--session.users > 0) return;
  HostHandlers keep;
  delete session.generator;
  session = Session{};
}

std::vector<int> parse_ids(const std::string& side, const std::string& text) {
  std::istringstream in(side);
  std::vector<int> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    int id = 0;
    try {
      id = std::stoi(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || id == 0)
      throw Error(NIS_ERR_UNKNOWN_PROCESS, "'" + word + "' in '" + text + "' is not a PDG id");
    ids.push_back(id);
  }
  return ids;
}

struct Provider {
  std::string name;
  std::vector<int> pdg;        // the caller's order
  std::vector<double> masses;  // the caller's order
  std::vector<size_t> order;   // Sherpa's particle k is the caller's order[k]
  double average = 1.0, symmetry = 1.0, is_symmetry = 1.0;
  int n_in = 0, n_out = 0, order_qcd = 0, order_qed = 0;
  std::unique_ptr<MEProcess> me;

  Provider(const std::string& text) {
    const auto at = text.find(" @ ");
    const auto arrow = text.find("->");
    if (at == std::string::npos || arrow == std::string::npos || arrow > at)
      throw Error(NIS_ERR_UNKNOWN_PROCESS,
                    "Sherpa process must read '<PDG ids> -> <PDG ids> @ <run card>'; got '" + text + "'");
    const auto in = parse_ids(text.substr(0, arrow), text);
    const auto out = parse_ids(text.substr(arrow + 2, at - arrow - 2), text);
    if (in.size() != 2 || out.empty())
      throw Error(NIS_ERR_UNKNOWN_PROCESS, "Sherpa process needs two incoming and at least one outgoing particle: '" + text + "'");
    n_in = 2, n_out = static_cast<int>(out.size());
    pdg = in;
    pdg.insert(pdg.end(), out.begin(), out.end());
    name = text.substr(0, at);
    SHERPA::Sherpa* generator = acquire(text.substr(at + 3));
    try {
      setup(generator);
    } catch (...) {
      me.reset();
      release();
      throw;
    }
  }

  void setup(SHERPA::Sherpa* generator) {
    std::vector<ATOOLS::Flavour> flavours;
    for (int id : pdg) flavours.emplace_back(static_cast<long>(id));
    for (size_t k = 0; k < flavours.size(); ++k) {
      if (flavours[k].Kfcode() == kf_none)
        throw Error(NIS_ERR_UNKNOWN_PROCESS, "Sherpa's model has no particle with PDG id " + std::to_string(pdg[k]));
    }
    // Sherpa's canonical order within the incoming and within the outgoing particles
    order.resize(pdg.size());
    std::iota(order.begin(), order.end(), 0);
    PHASIC::Order_Flavour before(nullptr);
    auto by_sherpa = [&](size_t a, size_t b) { return before(flavours[a], flavours[b]) != 0; };
    std::stable_sort(order.begin(), order.begin() + n_in, by_sherpa);
    std::stable_sort(order.begin() + n_in, order.end(), by_sherpa);
    me = std::make_unique<MEProcess>(generator);
    for (int k = 0; k < n_in; ++k) me->AddInFlav(pdg[order[k]]);
    for (size_t k = n_in; k < order.size(); ++k) me->AddOutFlav(pdg[order[k]]);
    me->Initialize();          // throws when the card has no such process
    me->GenerateColorPoint();  // without a first colour point Comix returns 0
    is_symmetry = me->GetProc()->ISSymFac();
    std::map<long, int> count;
    for (size_t k = 0; k < flavours.size(); ++k) {
      masses.push_back(flavours[k].Mass());
      if (k >= 2) symmetry *= ++count[static_cast<long>(flavours[k])];
    }
    for (int k = 0; k < n_in; ++k) {
      const auto& f = flavours[k];
      const double spins = f.IsVector() && f.Mass() == 0.0 ? 2.0 : f.IntSpin() + 1.0;
      const double colours = f.StrongCharge() == 8 ? 8.0 : f.StrongCharge() != 0 ? 3.0 : 1.0;
      average /= spins * colours;
    }
    int strong = 0;
    for (const auto& f : flavours) strong += f.Strong() ? 1 : 0;
    order_qcd = std::max(strong - 2, 0);  // tree level, SM: couplings = n_external - 2
    order_qed = static_cast<int>(pdg.size()) - 2 - order_qcd;
  }

  ~Provider() {
    me.reset();
    release();
  }

  void evaluate(size_t n, const double* momenta, double* out) {
    const size_t m = pdg.size();
    ATOOLS::Vec4D_Vector p(m);
    for (size_t e = 0; e < n; ++e) {
      const double* q = momenta + e * m * 4;
      for (size_t k = 0; k < m; ++k) {
        const double* v = q + order[k] * 4;
        p[k] = ATOOLS::Vec4D(v[0], v[1], v[2], v[3]);
      }
      me->SetMomenta(p);
      out[e] = me->CSMatrixElement() * symmetry / is_symmetry;
    }
  }
};

int info(void* state, nis_process_info* out) {
  auto* p = static_cast<Provider*>(state);
  out->name = p->name.c_str();
  out->n_in = p->n_in;
  out->n_out = p->n_out;
  out->pdg = p->pdg.data();
  out->masses = p->masses.data();
  out->average = p->average;
  out->order_qcd = p->order_qcd;
  out->order_qed = p->order_qed;
  out->symmetry_factor = 1.0 / p->symmetry;
  return NIS_OK;
}

int evaluate(void* state, size_t n, const double* momenta, double* out, char* err, size_t errlen) {
  return guarded(
      [&] {
        std::lock_guard<std::mutex> hold(sherpa_lock);
        static_cast<Provider*>(state)->evaluate(n, momenta, out);
      },
      err, errlen);
}

void destroy(void* state) {
  std::lock_guard<std::mutex> hold(sherpa_lock);
  try {
    delete static_cast<Provider*>(state);
  } catch (...) {
  }
}

}  // namespace

extern "C" int nis_provider_create(const char* process, const char* parameters, nis_provider* out, char* err,
                                   size_t errlen) {
  return guarded(
      [&] {
        if (parameters && *parameters)
          throw Error(NIS_ERR_BAD_PARAMETER,
                        std::string("the Sherpa provider takes its settings from the run card, not parameters ('") +
                            parameters + "')");
        std::lock_guard<std::mutex> hold(sherpa_lock);
        auto provider = std::make_unique<Provider>(process ? process : "");
        out->abi_version = NIS_ABI_VERSION;
        out->state = provider.release();
        out->info = info;
        out->evaluate = evaluate;
        out->destroy = destroy;
      },
      err, errlen);
}
