// nis._bridge: the pybind11 view of the matrix-element bridge. nis/bridge/ wraps it (numpy and
// torch inputs, output allocation, dataclasses); this layer only checks buffers, releases the GIL
// and calls nis::evaluate_batch. nis::Error becomes nis.bridge.errors.BridgeError with `.code`.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/numpy.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nis/bridge.hpp"
#include "nis/sm_parameters.hpp"

namespace py = pybind11;

namespace {

const char* status_name(int code) {
  switch (code) {
    case NIS_OK: return "NIS_OK";
    case NIS_ERR_UNKNOWN_PROCESS: return "NIS_ERR_UNKNOWN_PROCESS";
    case NIS_ERR_BAD_PARAMETER: return "NIS_ERR_BAD_PARAMETER";
    case NIS_ERR_BAD_MOMENTA: return "NIS_ERR_BAD_MOMENTA";
    case NIS_ERR_LOAD: return "NIS_ERR_LOAD";
    default: return "NIS_ERR_INTERNAL";
  }
}

// Raises nis.bridge.errors.BridgeError(message, code); plain ValueError with .code if that module
// cannot be imported (the extension used on its own).
void raise_bridge_error(int code, const char* message) {
  py::object type;
  try {
    type = py::module_::import("nis.bridge.errors").attr("BridgeError");
    PyErr_SetObject(type.ptr(), type(message, status_name(code)).ptr());
  } catch (py::error_already_set&) {
    py::object error = py::reinterpret_borrow<py::object>(PyExc_ValueError)(message);
    error.attr("code") = status_name(code);
    PyErr_SetObject(PyExc_ValueError, error.ptr());
  }
}

// The checked view of a momenta array and an output array.
struct Batch {
  std::size_t n_events;
  const double* momenta;
  double* out;
};

Batch batch_of(const nis::ProcessInfo& info, const py::array& momenta, const py::array& out) {
  const auto bad = [](const std::string& what) { return nis::Error(NIS_ERR_BAD_MOMENTA, what); };
  const auto np = static_cast<py::ssize_t>(info.n_particles());
  if (!py::isinstance<py::array_t<double>>(momenta) || !(momenta.flags() & py::array::c_style))
    throw bad("momenta must be a C-contiguous float64 array");
  if (momenta.ndim() != 3 || momenta.shape(1) != np || momenta.shape(2) != 4)
    throw bad("momenta must have shape (n_events, " + std::to_string(np) + ", 4)");
  if (!py::isinstance<py::array_t<double>>(out) || !(out.flags() & py::array::c_style) || out.ndim() != 1 ||
      out.shape(0) != momenta.shape(0))
    throw bad("out must be a C-contiguous float64 array of shape (n_events,) = (" +
              std::to_string(momenta.shape(0)) + ",)");
  if (!out.writeable()) throw bad("out is read-only");
  return {static_cast<std::size_t>(momenta.shape(0)), static_cast<const double*>(momenta.data()),
          static_cast<double*>(const_cast<py::array&>(out).mutable_data())};
}

nis::EvaluateOptions options_of(unsigned threads, double tolerance) {
  nis::EvaluateOptions o;
  o.threads = threads;
  o.conservation_tolerance = tolerance;
  return o;
}

class PyMatrixElement {
 public:
  PyMatrixElement(const std::string& process, const nis::Parameters& parameters, const std::optional<std::string>& library)
      : me_(library ? nis::load_library(*library, process, parameters) : nis::create(process, parameters)) {}

  py::dict info() const {
    const nis::ProcessInfo& i = me_->info();
    py::dict d;
    d["name"] = i.name;
    d["pdg_in"] = py::tuple(py::cast(i.pdg_in));
    d["pdg_out"] = py::tuple(py::cast(i.pdg_out));
    d["masses"] = py::tuple(py::cast(i.masses));
    d["average"] = i.average;
    d["order_qcd"] = i.order_qcd;
    d["order_qed"] = i.order_qed;
    d["symmetry_factor"] = i.symmetry_factor;
    d["n_particles"] = i.n_particles();
    return d;
  }

  void evaluate(const py::array& momenta, const py::array& out, unsigned threads, double tolerance) const {
    const Batch b = batch_of(me_->info(), momenta, out);
    py::gil_scoped_release release;
    nis::evaluate_batch(*me_, b.n_events, b.n_events * me_->info().n_particles() * 4, b.momenta, b.out,
                        options_of(threads, tolerance));
  }

  // Seconds per call of the C++ loop alone, averaged over `repeats` calls: with checks, what
  // evaluate() costs without Python; without, the provider's own evaluate() on this thread.
  double time_native(const py::array& momenta, const py::array& out, unsigned repeats, unsigned threads,
                     double tolerance, bool checks) const {
    const Batch b = batch_of(me_->info(), momenta, out);
    if (repeats == 0) repeats = 1;
    py::gil_scoped_release release;
    const nis::EvaluateOptions o = options_of(threads, tolerance);
    const auto start = std::chrono::steady_clock::now();
    for (unsigned r = 0; r < repeats; ++r) {
      if (checks)
        nis::evaluate_batch(*me_, b.n_events, b.n_events * me_->info().n_particles() * 4, b.momenta, b.out, o);
      else
        me_->evaluate(b.n_events, b.momenta, b.out);
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count() / repeats;
  }

 private:
  std::unique_ptr<nis::MatrixElement> me_;
};

}  // namespace

PYBIND11_MODULE(_bridge, m) {
  m.doc() = "nis' C++ matrix-element bridge (use nis.bridge, which wraps this module)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nis::Error& e) {
      raise_bridge_error(e.code(), e.what());
    }
  });

  m.attr("ABI_VERSION") = NIS_ABI_VERSION;
  m.def("provider_names", &nis::provider_names, "Names of the built-in providers compiled into this module.");
  m.def("particle_names", &nis::particle_names, "Particle names process strings may use.");
  m.def(
      "parse_process",
      [](const std::string& text) {
        const nis::ProcessSpec s = nis::parse_process(text);
        return py::make_tuple(py::tuple(py::cast(s.pdg_in)), py::tuple(py::cast(s.pdg_out)));
      },
      py::arg("text"), "'e+ e- -> mu+ mu-' -> ((-11, 11), (-13, 13)): PDG ids in, out.");
  m.def(
      "sm_defaults",
      [] {
        const nis::SMParameters d;
        return nis::Parameters{{"alpha", d.alpha}, {"alpha_s", d.alpha_s}, {"mZ", d.mZ},
                               {"wZ", d.wZ},       {"sin2w", d.sin2w},     {"nc", d.nc}};
      },
      "The built-in providers' Standard-Model parameters when a run sets none (name -> value).");
  m.def("parse_parameters", &nis::parse_parameters, py::arg("text"), "'alpha_s=0.118;mZ=91.19' -> dict.");
  m.def(
      "thread_count",
      [](std::size_t n_events, unsigned threads) {
        nis::EvaluateOptions o;
        o.threads = threads;
        return nis::thread_count(n_events, o);
      },
      py::arg("n_events"), py::arg("threads") = 0, "Threads evaluate() uses for n_events (threads=0: automatic).");

  py::class_<PyMatrixElement>(m, "MatrixElement")
      .def(py::init<const std::string&, const nis::Parameters&, const std::optional<std::string>&>(),
           py::arg("process"), py::arg("parameters") = nis::Parameters{}, py::arg("library") = py::none())
      .def_property_readonly("info", &PyMatrixElement::info)
      .def("evaluate", &PyMatrixElement::evaluate, py::arg("momenta"), py::arg("out"), py::arg("threads") = 0,
           py::arg("tolerance") = 1e-9, "Checks and evaluates a batch into out, the GIL released.")
      .def("time_native", &PyMatrixElement::time_native, py::arg("momenta"), py::arg("out"), py::arg("repeats") = 10,
           py::arg("threads") = 0, py::arg("tolerance") = 1e-9, py::arg("checks") = true,
           "Seconds per call of the C++ loop, the GIL released.");
}
