// nis as an in-process Sherpa integrator: libProc_NIS.so, loaded by an unmodified Sherpa when its
// run card says `INTEGRATOR: NIS`. The channel generator "NIS" asks the matrix-element generator
// for its own final-state channels (Comix' or Amegic's) and puts one channel, NIS_Channel, in
// their place. NIS_Channel keeps Sherpa's channels as the mappings u -> p_c(u) of the unit cube
// and as the prior, and gets its points from nis' Python sampler (nis.bridge.sherpa_plugin),
// which runs in an embedded interpreter. See that module's docstring for the weights.
//
// States of the channel:
//   fresh     before training: Sherpa's own channels, adapting as usual during Sherpa's
//             optimisation; when it ends, nis trains on top of the adapted (now fixed) channels;
//   training  inside Session.train: a point is the cube point Python asked for, and the weight
//             Sherpa sees is channel c's own W_c(p), so Differential() returns F_c(u);
//   sampling  after training: points from Session.sample in batches, weight
//             a_c W(p) / (share_c q_c(u)) with W Sherpa's multi-channel weight;
//   native    after a Python error with NIS: {ON_ERROR: native}: Sherpa's own integrator.
#include <pybind11/embed.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <dlfcn.h>

#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ATOOLS/Math/Random.H"
#include "ATOOLS/Org/Exception.H"
#include "ATOOLS/Org/Message.H"
#include "ATOOLS/Org/Run_Parameter.H"
#include "ATOOLS/Org/Scoped_Settings.H"
#include "ATOOLS/Phys/Weights.H"
#include "PHASIC++/Channels/Channel_Generator.H"
#include "PHASIC++/Channels/Multi_Channel.H"
#include "PHASIC++/Channels/Single_Channel.H"
#include "PHASIC++/Main/Phase_Space_Handler.H"
#include "PHASIC++/Main/Process_Integrator.H"
#include "PHASIC++/Process/Process_Base.H"

namespace py = pybind11;
using ATOOLS::Vec4D;
using PHASIC::Cut_Data;

namespace {

constexpr std::size_t SAMPLE_BATCH = 4096;

// The interpreter, started once per Sherpa process with the Python nis was built with (its
// site-packages, its .pth start-up hooks); NIS_PYTHON overrides it. Sherpa keeps its own signal
// handlers; the GIL stays with Sherpa's (only) thread.
void start_python() {
  if (Py_IsInitialized()) return;
  dlopen(NIS_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL);  // extension modules resolve against it
  const char* env = std::getenv("NIS_PYTHON");
  const std::string exe = env && *env ? env : NIS_PYTHON_EXECUTABLE;
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, exe.c_str());
  char* argv[] = {const_cast<char*>(exe.c_str())};
  if (!PyStatus_Exception(status)) status = PyConfig_SetBytesArgv(&config, 1, argv);
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status))
    throw std::runtime_error(std::string("cannot start Python (") + exe + "): " +
                             (status.err_msg ? status.err_msg : "unknown error"));
}

std::string describe(const ATOOLS::Exception& e) {
  std::ostringstream out;
  out << e;
  return out.str();
}

class NIS_Channel : public PHASIC::Single_Channel {
 public:
  NIS_Channel(PHASIC::Process_Base* proc, const std::vector<PHASIC::Single_Channel*>& native)
      : p_proc(proc), p_psh(&*proc->Integrator()->PSHandler()), m_native("nis_native_" + proc->Name()) {
    m_name = "NIS";
    m_nin = proc->NIn();
    m_nout = proc->NOut();
    for (auto* ch : native) {
      m_native.Add(ch);
      m_rannum = std::max(m_rannum, ch->Dimension());
    }
    m_native.SetNin(m_nin);
    m_native.SetNout(m_nout);
    m_native.Reset();
    m_u.assign(m_rannum, 0.5);
    m_generated.resize(m_nin + m_nout);
    ATOOLS::Settings& s = ATOOLS::Settings::GetMainSettings();
    m_onerror = s["NIS"]["ON_ERROR"].SetDefault("stop").Get<std::string>();
    if (m_onerror != "stop" && m_onerror != "native")
      THROW(fatal_error, "NIS:ON_ERROR must be 'stop' or 'native', not '" + m_onerror + "'");
    m_statedir = s["RESULT_DIRECTORY"].Get<std::string>() + ".nis";
    guarded("start", [&] {
      start_python();
      std::map<std::string, std::string> settings;
      for (const auto& key : s["NIS"].GetKeys()) settings[key] = s["NIS"][key].SetDefault("").Get<std::string>();
      py::module_ plugin = py::module_::import("nis.bridge.sherpa_plugin");
      m_session = plugin.attr("Session")(proc->Name(), m_rannum, m_native.Number(), 4 * m_nout, settings, m_statedir);
    });
  }

  ~NIS_Channel() override {
    if (Py_IsInitialized()) {
      py::gil_scoped_acquire gil;
      m_session = py::object();
    }
  }

  void Reset(double value) override {
    Single_Channel::Reset(value);
    m_native.Reset();
  }

  void GeneratePoint(Vec4D* p, Cut_Data* cuts) override {
    switch (m_state) {
      case State::fresh:
      case State::native:
        m_native.GeneratePoint(p, cuts);
        return;
      case State::training:
        m_native.Channel(m_c)->GeneratePoint(p, cuts, m_u.data());
        break;
      case State::sampling: {
        // Sherpa re-runs an accepted event from a saved random-number state (its pilot run):
        // the same ticket from Sherpa's generator then gives the same point again.
        const double ticket = ATOOLS::ran->Get();
        if (ticket != m_ticket) {
          if (m_next == m_queue_c.size()) guarded("sample", [&] { Refill(); });
          if (m_state == State::native) return GeneratePoint(p, cuts);
          m_ticket = ticket;
          m_c = m_queue_c[m_next];
          std::copy_n(&m_queue_u[m_next * m_rannum], m_rannum, m_u.begin());
          m_logq = m_queue_logq[m_next++];
          ++m_stats_points;
        }
        m_native.Channel(m_c)->GeneratePoint(p, cuts, m_u.data());
        break;
      }
    }
    std::copy_n(p, m_nin + m_nout, m_generated.begin());
    m_pending = true;
  }

  void GenerateWeight(Vec4D* p, Cut_Data* cuts) override {
    if (m_state == State::fresh || m_state == State::native) {
      m_native.GenerateWeight(p, cuts);
      m_weight = m_native.Weight();
      return;
    }
    CheckSamePoint(p);
    m_native.GenerateWeight(p, cuts);
    const double multi = m_native.Weight();  // 1 / sum_j a_j / W_j
    const double own = m_native.Channel(m_c)->Weight();
    const double a_c = m_native.Channel(m_c)->Alpha();
    if (m_state == State::training) {
      m_weight = own;
      m_have_weight = true;
      const double ecms = ATOOLS::rpa->gen.Ecms();
      for (size_t j = 0; j < m_native.Number(); ++j) {
        const double w = m_native.Channel(j)->Weight();
        m_prior[j] = (w != 0.0 && multi != 0.0) ? m_native.Channel(j)->Alpha() * multi / w : 0.0;
      }
      for (size_t i = 0; i < m_nout; ++i)
        for (int mu = 0; mu < 4; ++mu) m_features[4 * i + mu] = p[m_nin + i][mu] / ecms;
    } else {
      m_weight = (multi != 0.0) ? a_c * multi * std::exp(-m_logq) : 0.0;
    }
  }

  void AddPoint(double value) override {
    if (m_state == State::fresh || m_state == State::native) return m_native.AddPoint(value);
    if (m_state != State::sampling) return;
    ++m_stats_nonzero;
    m_stats_sum += value;
    m_stats_max = std::max(m_stats_max, std::abs(value));
  }

  void Optimize() override {
    if (m_state == State::fresh || m_state == State::native) m_native.Optimize(0.0);
  }

  // The end of Sherpa's optimisation: its channels are final, nis trains on top of them.
  void EndOptimize() override {
    if (m_state == State::fresh || m_state == State::native) m_native.EndOptimize(0.0);
    if (m_state == State::fresh) Train();
  }

  void WriteOut(std::string pid) override {
    m_native.WriteOut(pid + "_native");
    if (m_state != State::sampling) return;
    guarded("report", [&] {
      py::dict stats;
      stats["points"] = m_stats_points;
      stats["nonzero_points"] = m_stats_nonzero;
      stats["mean_weight"] = m_stats_points ? m_stats_sum / double(m_stats_points) : 0.0;
      stats["max_weight"] = m_stats_max;
      m_session.attr("write_report")(stats);
    });
  }

  // Sherpa read its results of an earlier run: its channels as they were, and the sampler
  // trained on them, which must be there too.
  void ReadIn(std::string pid) override {
    if (!m_native.ReadIn(pid + "_native"))
      THROW(fatal_error, "cannot read Sherpa's own channels for " + p_proc->Name() + " from " + pid + "_native");
    guarded("load", [&] {
      if (!m_session.attr("load")().cast<bool>())
        throw std::runtime_error("Sherpa read its results from an earlier run, but nis' state " +
                                 m_session.attr("state_path").attr("__str__")().cast<std::string>() +
                                 " for them is missing or for another set-up; remove Sherpa's " +
                                 ATOOLS::Settings::GetMainSettings()["RESULT_DIRECTORY"].Get<std::string>() +
                                 " to integrate again");
      Trained();
    });
  }

  void ISRInfo(int& type, double& mass, double& width) override {
    type = 0;
    mass = width = 0.0;
    if (m_native.Number()) m_native.Channel(0)->ISRInfo(type, mass, width);
  }
  void ISRInfo(std::vector<int>& ts, std::vector<double>& ms, std::vector<double>& ws) const override {
    m_native.ISRInfo(ts, ms, ws);
  }
  const size_t NChannels() const override { return m_native.NChannels(); }

 private:
  enum class State { fresh, training, sampling, native };

  // Runs f with Python errors (and Sherpa's, from inside a callback) handled by NIS:ON_ERROR:
  // stop -> Sherpa stops with the message; native -> Sherpa's own integrator, with a warning.
  template <class F>
  void guarded(const char* what, F&& f) {
    if (m_state == State::native) return;
    std::string message;
    try {
      f();
      return;
    } catch (py::error_already_set& e) {
      message = e.what();
    } catch (const std::exception& e) {
      message = e.what();
    } catch (const ATOOLS::Exception& e) {
      message = describe(e);
    }
    if (m_onerror == "stop")
      THROW(fatal_error, std::string("nis plugin (") + what + ") failed for " + p_proc->Name() + ":\n" + message +
                             "\n(set NIS: {ON_ERROR: native} to fall back to Sherpa's integrator instead)");
    msg_Error() << "WARNING: nis plugin (" << what << ") failed for " << p_proc->Name() << ":\n"
                << message << "\nnis: falling back to Sherpa's native integrator (NIS:ON_ERROR: native)."
                << std::endl;
    m_state = State::native;
  }

  void Trained() {
    m_state = State::sampling;
    m_next = m_queue_c.size();
    msg_Info() << m_session.attr("summary")().cast<std::string>() << std::endl;
  }

  void Train() {
    msg_Info() << "nis: training the sampler for " << p_proc->Name() << " on Sherpa's weights" << std::endl;
    guarded("train", [&] {
      py::cpp_function evaluate([this](int channel, py::array_t<double, py::array::c_style | py::array::forcecast> u) {
        return Evaluate(channel, u);
      });
      m_session.attr("train")(evaluate);
      Trained();
    });
  }

  // Sherpa's weight F_c(u) for a batch of cube points of channel c, with prior and features.
  py::tuple Evaluate(int channel, const py::array_t<double, py::array::c_style | py::array::forcecast>& u) {
    const py::ssize_t n = u.shape(0), d = u.ndim() == 2 ? u.shape(1) : 0;
    const py::ssize_t nch = m_native.Number(), nf = 4 * m_nout;
    if (channel < 0 || channel >= nch || d != py::ssize_t(m_rannum))
      throw std::invalid_argument("Evaluate: channel or point dimension out of range");
    py::array_t<double> value(n), prior({n, nch}), features({n, nf});
    auto uv = u.unchecked<2>();
    auto vv = value.mutable_unchecked<1>();
    auto pv = prior.mutable_unchecked<2>();
    auto fv = features.mutable_unchecked<2>();
    m_prior.assign(nch, 0.0);
    m_features.assign(nf, 0.0);
    struct Restore {  // the state before training, however Evaluate ends
      State& state;
      const State before;
      ~Restore() { state = before; }
    } restore{m_state, m_state};
    m_state = State::training;
    m_c = channel;
    try {
      for (py::ssize_t i = 0; i < n; ++i) {
        for (py::ssize_t k = 0; k < d; ++k) m_u[k] = uv(i, k);
        m_pending = m_have_weight = false;
        double v = p_psh->Differential(ATOOLS::Variations_Mode::nominal_only).Nominal();
        if (!std::isfinite(v)) {
          msg_Error() << "nis: Sherpa's weight is " << v << " at a training point; set to zero" << std::endl;
          v = 0.0;
        }
        vv(i) = m_have_weight ? v : 0.0;
        for (py::ssize_t j = 0; j < nch; ++j) pv(i, j) = m_have_weight ? m_prior[j] : 1.0 / double(nch);
        for (py::ssize_t k = 0; k < nf; ++k) fv(i, k) = m_have_weight ? m_features[k] : 0.0;
      }
    } catch (const ATOOLS::Exception& e) {
      throw std::runtime_error("Sherpa: " + describe(e));
    }
    return py::make_tuple(value, prior, features);
  }

  void Refill() {
    py::tuple t = m_session.attr("sample")(SAMPLE_BATCH);
    auto c = t[0].cast<py::array_t<long long, py::array::c_style | py::array::forcecast>>();
    auto u = t[1].cast<py::array_t<double, py::array::c_style | py::array::forcecast>>();
    auto l = t[2].cast<py::array_t<double, py::array::c_style | py::array::forcecast>>();
    const std::size_t n = c.size();
    if (n == 0 || u.size() != py::ssize_t(n * m_rannum) || l.size() != py::ssize_t(n))
      throw std::runtime_error("Session.sample returned arrays of the wrong shape");
    m_queue_c.assign(c.data(), c.data() + n);
    m_queue_u.assign(u.data(), u.data() + u.size());
    m_queue_logq.assign(l.data(), l.data() + n);
    m_next = 0;
  }

  // The weight belongs to the point nis generated last; Sherpa corrects momenta only at the
  // level of rounding, anything more means someone asks for the weight of a foreign point.
  void CheckSamePoint(const Vec4D* p) const {
    const double scale = ATOOLS::rpa->gen.Ecms();
    bool same = m_pending;
    for (size_t i = 0; same && i < m_nin + m_nout; ++i)
      for (int mu = 0; mu < 4; ++mu)
        if (std::abs(p[i][mu] - m_generated[i][mu]) > 1e-7 * scale) same = false;
    if (!same)
      THROW(fatal_error, "NIS channel: asked for the weight of a point it did not generate; nis' sampler "
                         "supports Sherpa's point-then-weight order of leading-order runs only");
  }

  PHASIC::Process_Base* p_proc;
  PHASIC::Phase_Space_Handler* p_psh;
  PHASIC::Multi_Channel m_native;
  py::object m_session;
  std::string m_onerror, m_statedir;
  State m_state = State::fresh;
  // the current point
  int m_c = 0;
  std::vector<double> m_u;
  double m_logq = 0.0, m_ticket = -1.0;
  bool m_pending = false, m_have_weight = false;
  std::vector<Vec4D> m_generated;
  std::vector<double> m_prior, m_features;
  // points from Session.sample
  std::vector<long long> m_queue_c;
  std::vector<double> m_queue_u, m_queue_logq;
  std::size_t m_next = 0;
  // Sherpa's weights of the points nis sampled (for the report)
  long long m_stats_points = 0, m_stats_nonzero = 0;
  double m_stats_sum = 0.0, m_stats_max = 0.0;
};

class NIS_Channel_Generator : public PHASIC::Channel_Generator {
 public:
  explicit NIS_Channel_Generator(const PHASIC::Channel_Generator_Key& key) : Channel_Generator(key) {}

  int GenerateChannels() override {
    PHASIC::Phase_Space_Handler* psh = &*p_proc->Integrator()->PSHandler();
    p_proc->FillIntegrator(psh);  // the ME generator's own channels go into p_mc
    std::vector<PHASIC::Single_Channel*> native = p_mc->Channels();
    if (native.empty())
      THROW(fatal_error, "INTEGRATOR: NIS needs the matrix-element generator's phase-space channels, and " +
                             p_proc->Name() + " has none (Comix and Amegic provide them)");
    p_mc->DropAllChannels(false);
    p_mc->Add(new NIS_Channel(p_proc, native));
    return 0;
  }
};

}  // namespace

DECLARE_GETTER(NIS_Channel_Generator, "NIS", PHASIC::Channel_Generator, PHASIC::Channel_Generator_Key);

PHASIC::Channel_Generator* ATOOLS::Getter<PHASIC::Channel_Generator, PHASIC::Channel_Generator_Key,
                                          NIS_Channel_Generator>::operator()(const PHASIC::Channel_Generator_Key& key)
    const {
  return new NIS_Channel_Generator(key);
}

void ATOOLS::Getter<PHASIC::Channel_Generator, PHASIC::Channel_Generator_Key, NIS_Channel_Generator>::PrintInfo(
    std::ostream& str, const size_t width) const {
  str << "nis: neural importance sampling on top of the ME generator's channels";
}
