// Tests of the bridge itself: process strings, parameters, the batch checks (finite values,
// four-momentum conservation), thread splitting, the C API's error codes, and loading the example
// provider library in C, whose e+ e- -> mu+ mu- must equal 2 e^4 (t^2 + u^2) / s^2.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "nis/bridge.hpp"

namespace {

const double kPi = 3.14159265358979323846;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs f, expecting nis::Error with `code` whose message contains every part.
template <class F>
void expect_error(F&& f, nis_status code, const std::vector<std::string>& parts, const char* what) {
  ++nis_test::checks();
  try {
    f();
  } catch (const nis::Error& e) {
    bool ok = e.code() == code;
    for (const auto& p : parts) ok = ok && contains(e.what(), p);
    if (!ok) {
      std::fprintf(stderr, "  got code %d: %s\n", static_cast<int>(e.code()), e.what());
      nis_test::fail(__FILE__, __LINE__, what);
    }
    return;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "  got std::exception: %s\n", e.what());
  }
  nis_test::fail(__FILE__, __LINE__, what);
}

// Massless 2 -> 2 events at fixed sqrt(s), random angles: 16 doubles per event.
std::vector<double> two_to_two(std::size_t n, double sqrt_s, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> p(16 * n);
  const double e = sqrt_s / 2;
  for (std::size_t i = 0; i < n; ++i) {
    const double c = 2 * u(rng) - 1, s = std::sqrt(1 - c * c), phi = 2 * kPi * u(rng);
    const double q[16] = {e, 0, 0, e, e, 0, 0, -e, e, e * s * std::cos(phi), e * s * std::sin(phi), e * c,
                          e, -e * s * std::cos(phi), -e * s * std::sin(phi), -e * c};
    for (int k = 0; k < 16; ++k) p[16 * i + k] = q[k];
  }
  return p;
}

double dot(const double* a, const double* b) { return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]; }

// A toy provider for 2 -> 2 massless processes: |M|^2 = t * u / s^2 + (event-dependent digits),
// throwing for events whose outgoing E carries a marker value, so thread splitting and error
// propagation can be checked.
class Toy final : public nis::MatrixElement {
 public:
  explicit Toy(const nis::ProcessSpec& spec) {
    info_.name = spec.text;
    info_.pdg_in = spec.pdg_in;
    info_.pdg_out = spec.pdg_out;
    info_.masses.assign(info_.n_particles(), 0.0);
  }
  const nis::ProcessInfo& info() const override { return info_; }
  void evaluate(std::size_t n, const double* p, double* out) const override {
    for (std::size_t i = 0; i < n; ++i) {
      const double* q = p + 16 * i;
      if (q[0] == 777.0) throw nis::Error(NIS_ERR_INTERNAL, "toy failure at E=777");
      const double s = 2 * dot(q, q + 4), t = -2 * dot(q, q + 8), u = -2 * dot(q, q + 12);
      out[i] = t * u / (s * s) + std::sin(q[9]) * 1e-3;
    }
  }

 private:
  nis::ProcessInfo info_;
};

NIS_REGISTER_PROVIDER(zz_test_toy, [](const nis::ProcessSpec& spec, const nis::Parameters&)
                                       -> std::unique_ptr<nis::MatrixElement> {
  // Only "ve ve~ -> vm vm~": a process no real provider claims.
  if (spec.pdg_in == std::vector<int>{12, -12} && spec.pdg_out == std::vector<int>{14, -14})
    return std::make_unique<Toy>(spec);
  return nullptr;
})

void test_parse_process() {
  const nis::ProcessSpec s = nis::parse_process("  e+ e-  ->  d d~ g g ");
  NIS_CHECK((s.pdg_in == std::vector<int>{-11, 11}));
  NIS_CHECK((s.pdg_out == std::vector<int>{1, -1, 21, 21}));
  NIS_CHECK(s.text == "  e+ e-  ->  d d~ g g ");
  NIS_CHECK((nis::parse_process("u u~ -> z a w+ w- t t~ ta- ta+").pdg_out == std::vector<int>{23, 22, 24, -24, 6, -6, 15, -15}));
  NIS_CHECK(nis::pdg_code("ve~") == -12);
  NIS_CHECK(nis::particle_name(-13) == "mu+");
  NIS_CHECK(nis::particle_name(9999) == "9999");
  expect_error([] { nis::parse_process("e+ e- -> mu+ muon"); }, NIS_ERR_UNKNOWN_PROCESS,
               {"unknown particle 'muon'", "known:", "mu-", "w+"}, "unknown particle named, known ones listed");
  expect_error([] { nis::parse_process("e+ e- mu+ mu-"); }, NIS_ERR_UNKNOWN_PROCESS, {"exactly one \"->\""},
               "missing arrow");
  expect_error([] { nis::parse_process("e+ e- -> mu+ -> mu-"); }, NIS_ERR_UNKNOWN_PROCESS, {"found 2"}, "two arrows");
  expect_error([] { nis::parse_process("e+ e-->mu+ mu-"); }, NIS_ERR_UNKNOWN_PROCESS, {"blanks"}, "glued arrow");
  expect_error([] { nis::parse_process("-> mu+ mu-"); }, NIS_ERR_UNKNOWN_PROCESS, {"no incoming"}, "empty side");
  expect_error([] { nis::parse_process("e+ e- ->"); }, NIS_ERR_UNKNOWN_PROCESS, {"no outgoing"}, "empty side");
}

void test_parameters() {
  const nis::Parameters p = nis::parse_parameters(" alpha_s = 0.118 ; mZ=91.19;; ");
  NIS_CHECK(p.size() == 2);
  NIS_CHECK(p.at("alpha_s") == 0.118 && p.at("mZ") == 91.19);
  NIS_CHECK(nis::parse_parameters("").empty());
  const nis::Parameters q{{"alpha", 1.0 / 132.507}, {"wZ", 2.4952}};
  NIS_CHECK(nis::parse_parameters(nis::format_parameters(q)) == q);  // every digit survives
  expect_error([] { nis::parse_parameters("mZ"); }, NIS_ERR_BAD_PARAMETER, {"'mZ'", "no '='"}, "no '='");
  expect_error([] { nis::parse_parameters("mZ=heavy"); }, NIS_ERR_BAD_PARAMETER, {"'mZ'", "heavy"}, "not a number");
  expect_error([] { nis::parse_parameters("mZ=nan"); }, NIS_ERR_BAD_PARAMETER, {"not a finite"}, "NaN value");
  expect_error([] { nis::parse_parameters("mZ=1;mZ=2"); }, NIS_ERR_BAD_PARAMETER, {"twice"}, "duplicate");
  expect_error([] { nis::parse_parameters("=2"); }, NIS_ERR_BAD_PARAMETER, {"no name"}, "empty name");
}

void test_registry() {
  const auto names = nis::provider_names();
  bool toy = false;
  for (const auto& n : names) toy = toy || n == "zz_test_toy";
  NIS_CHECK(toy);
  auto me = nis::create("ve ve~ -> vm vm~");
  NIS_CHECK(me && me->info().n_particles() == 4);
  expect_error([] { nis::create("ve~ ve -> vm vm~ vm vm~ g g g g a"); }, NIS_ERR_UNKNOWN_PROCESS,
               {"no built-in provider handles", "zz_test_toy", "library"}, "unknown process lists the providers");
  expect_error([] { nis::create("ve ve~ -> higgsino"); }, NIS_ERR_UNKNOWN_PROCESS, {"'higgsino'"},
               "unknown particle through create");
}

void test_checks() {
  auto me = nis::create("ve ve~ -> vm vm~");
  const std::size_t n = 10;
  std::vector<double> p = two_to_two(n, 100.0, 1), out(n);
  nis::evaluate_batch(*me, n, p.size(), p.data(), out.data());
  for (double v : out) NIS_CHECK(v >= -1e-3 && v <= 0.25 + 1e-3);  // 0 <= t u / s^2 <= 1/4, up to 1e-3

  expect_error([&] { nis::evaluate_batch(*me, n, p.size() - 4, p.data(), out.data()); }, NIS_ERR_BAD_MOMENTA,
               {"4 four-momenta per event", "got 156", "(n_events, 4, 4)"}, "value count");

  std::vector<double> q = p;
  q[16 * 7 + 4 * 2 + 3] = std::nan("");
  expect_error([&] { nis::evaluate_batch(*me, n, q.size(), q.data(), out.data()); }, NIS_ERR_BAD_MOMENTA,
               {"event 7", "particle 2", "pz", "nan"}, "NaN names event, particle, component");
  q = p;
  q[16 * 3 + 4 * 1 + 0] = INFINITY;
  expect_error([&] { nis::evaluate_batch(*me, n, q.size(), q.data(), out.data()); }, NIS_ERR_BAD_MOMENTA,
               {"event 3", "inf"}, "inf");

  q = p;
  q[16 * 5 + 4 * 3 + 1] += 1e-6;  // px of the last particle: 1e-8 of the 100 GeV incoming energy
  expect_error([&] { nis::evaluate_batch(*me, n, q.size(), q.data(), out.data()); }, NIS_ERR_BAD_MOMENTA,
               {"event 5", "does not conserve four-momentum", "px off by 1e-08", "tolerance 1e-09"},
               "conservation names the event and the violation");
  nis::EvaluateOptions loose;
  loose.conservation_tolerance = 1e-7;
  nis::evaluate_batch(*me, n, q.size(), q.data(), out.data(), loose);  // passes with a looser tolerance
  nis::EvaluateOptions off;
  off.conservation_tolerance = -1;
  q[16 * 5 + 4 * 3 + 1] += 10;
  nis::evaluate_batch(*me, n, q.size(), q.data(), out.data(), off);  // check switched off
  NIS_CHECK(std::isfinite(out[5]));

  // Rounding at 1e-16 must pass: rescale an event's momenta by a factor that is not exact.
  q = p;
  for (int k = 0; k < 16; ++k) q[16 * 2 + k] *= 1.0 / 3.0 * 3.0000000000000004;
  nis::evaluate_batch(*me, n, q.size(), q.data(), out.data());
  nis::evaluate_batch(*me, 0, 0, nullptr, nullptr);  // an empty batch is fine
}

void test_threads() {
  auto me = nis::create("ve ve~ -> vm vm~");
  const std::size_t n = 20011;  // not a multiple of any thread count
  const std::vector<double> p = two_to_two(n, 91.0, 7);
  std::vector<double> serial(n), split(n), autom(n);
  nis::EvaluateOptions one;
  one.threads = 1;
  nis::evaluate_batch(*me, n, p.size(), p.data(), serial.data(), one);
  nis::EvaluateOptions four;
  four.threads = 4;
  nis::evaluate_batch(*me, n, p.size(), p.data(), split.data(), four);
  nis::evaluate_batch(*me, n, p.size(), p.data(), autom.data());
  NIS_CHECK(serial == split);  // bitwise identical
  NIS_CHECK(serial == autom);
  NIS_CHECK(nis::thread_count(100, {}) == 1);
  NIS_CHECK(nis::thread_count(10, four) == 4);
  NIS_CHECK(nis::thread_count(2, four) == 2);

  // A provider exception in a worker thread reaches the caller (no std::terminate).
  std::vector<double> q = p;
  const std::size_t bad = n - 3;  // in the last slice, evaluated by a worker thread
  for (int k = 0; k < 16; k += 4) q[16 * bad + k] = 777.0;  // E = 777 everywhere: still conserved
  for (int k = 1; k < 16; ++k)
    if (k % 4) q[16 * bad + k] = 0.0;
  expect_error([&] { nis::evaluate_batch(*me, n, q.size(), q.data(), split.data(), four); }, NIS_ERR_INTERNAL,
               {"toy failure"}, "worker exception propagated");
  // A bad event found by a worker's check is reported with its index in the whole batch.
  q = p;
  q[16 * bad + 5] = std::nan("");
  expect_error([&] { nis::evaluate_batch(*me, n, q.size(), q.data(), split.data(), four); }, NIS_ERR_BAD_MOMENTA,
               {"event " + std::to_string(bad)}, "worker check names the global event index");
  // With two bad events, the earliest one is reported.
  q[16 * 100 + 2] = std::nan("");
  expect_error([&] { nis::evaluate_batch(*me, n, q.size(), q.data(), split.data(), four); }, NIS_ERR_BAD_MOMENTA,
               {"event 100 "}, "first bad event reported");
}

double analytic_ee_mumu(const double* q, double alpha) {
  const double e2 = 4 * kPi * alpha;
  const double s = 2 * dot(q, q + 4), t = -2 * dot(q, q + 8), u = -2 * dot(q, q + 12);
  return 2 * e2 * e2 * (t * t + u * u) / (s * s);
}

void test_library() {
  const double alpha = 1.0 / 137.035999;
  auto me = nis::load_library(NIS_EXAMPLE_LIBRARY, "e+ e- -> mu+ mu-", {{"alpha", alpha}});
  const nis::ProcessInfo& info = me->info();
  NIS_CHECK((info.pdg_in == std::vector<int>{-11, 11}) && (info.pdg_out == std::vector<int>{-13, 13}));
  NIS_CHECK(info.average == 0.25 && info.order_qed == 2 && info.symmetry_factor == 1.0);
  const std::size_t n = 1000;
  const std::vector<double> p = two_to_two(n, 10.0, 3);
  std::vector<double> out(n);
  nis::evaluate_batch(*me, n, p.size(), p.data(), out.data());
  for (std::size_t i = 0; i < n; i += 97) NIS_CHECK_CLOSE(out[i], analytic_ee_mumu(&p[16 * i], alpha), 1e-13);
  // At 90 degrees t = u = -s/2: (1/4) sum |M|^2 = e^4.
  const double e2 = 4 * kPi * alpha, w = 5.0;
  const double right_angle[16] = {w, 0, 0, w, w, 0, 0, -w, w, w, 0, 0, w, -w, 0, 0};
  double v = 0;
  nis::evaluate_batch(*me, 1, 16, right_angle, &v);
  NIS_CHECK_CLOSE(v, e2 * e2, 1e-14);

  expect_error([] { nis::load_library(NIS_EXAMPLE_LIBRARY, "e+ e- -> ta+ ta-"); }, NIS_ERR_UNKNOWN_PROCESS,
               {"refused", "handles only"}, "library refuses another process");
  expect_error([] { nis::load_library(NIS_EXAMPLE_LIBRARY, "e+ e- -> mu+ mu-", {{"mZ", 91.0}}); },
               NIS_ERR_BAD_PARAMETER, {"mZ"}, "library refuses a parameter");
  expect_error([] { nis::load_library("/nonexistent/libnothing.so", "e+ e- -> mu+ mu-"); }, NIS_ERR_LOAD,
               {"does not exist"}, "missing file");
  const std::string text_file = std::string(NIS_EXAMPLE_LIBRARY) + ".not_a_library.txt";
  std::ofstream(text_file) << "not an ELF file\n";
  expect_error([&] { nis::load_library(text_file, "e+ e- -> mu+ mu-"); }, NIS_ERR_LOAD,
               {"cannot load provider library", text_file}, "not a shared library");
  std::remove(text_file.c_str());
  // libm is a shared library without the entry point.
  expect_error([] { nis::load_library("libm.so.6", "e+ e- -> mu+ mu-"); }, NIS_ERR_LOAD,
               {"no entry point 'nis_provider_create'"}, "missing entry point");
  // Many loads and unloads: destroy and dlclose once each (a double free would crash here).
  for (int i = 0; i < 50; ++i) nis::load_library(NIS_EXAMPLE_LIBRARY, "e- e+ -> mu- mu+");
}

void test_c_api() {
  char err[256];
  nis_me* me = nullptr;
  NIS_CHECK(nis_me_create(nullptr, "e+ e- -> mu+ muon", "", &me, err, sizeof err) == NIS_ERR_UNKNOWN_PROCESS);
  NIS_CHECK(me == nullptr && contains(err, "'muon'"));
  NIS_CHECK(nis_me_create(nullptr, "ve ve~ -> vm vm~", "mZ=", &me, err, sizeof err) == NIS_ERR_BAD_PARAMETER);
  NIS_CHECK(nis_me_create("/nonexistent/lib.so", "e+ e- -> mu+ mu-", nullptr, &me, err, sizeof err) == NIS_ERR_LOAD);
  NIS_CHECK(nis_me_create(nullptr, nullptr, nullptr, &me, err, sizeof err) == NIS_ERR_UNKNOWN_PROCESS);
  NIS_CHECK(nis_me_create(nullptr, "ve ve~ -> vm vm~", "", nullptr, err, sizeof err) == NIS_ERR_INTERNAL);
  char tiny[8];  // messages are truncated, always NUL-terminated
  NIS_CHECK(nis_me_create(nullptr, "e+ e- -> mu+ muon", "", &me, tiny, sizeof tiny) == NIS_ERR_UNKNOWN_PROCESS);
  NIS_CHECK(std::string(tiny).size() == 7);
  NIS_CHECK(nis_me_create(nullptr, "e+ e- -> mu+ muon", "", &me, nullptr, 0) == NIS_ERR_UNKNOWN_PROCESS);

  NIS_CHECK(nis_me_create(NIS_EXAMPLE_LIBRARY, "e+ e- -> mu+ mu-", "alpha=0.0078125", &me, err, sizeof err) == NIS_OK);
  NIS_CHECK(me != nullptr);
  nis_process_info info{};
  NIS_CHECK(nis_me_info(me, &info) == NIS_OK);
  NIS_CHECK(info.n_in == 2 && info.n_out == 2 && info.pdg[0] == -11 && info.pdg[3] == 13 && info.masses[2] == 0.0);
  NIS_CHECK(nis_me_info(nullptr, &info) == NIS_ERR_INTERNAL);
  std::vector<double> p = two_to_two(4, 50.0, 5), out(4);
  NIS_CHECK(nis_me_evaluate(me, 4, p.data(), out.data(), err, sizeof err) == NIS_OK);
  NIS_CHECK_CLOSE(out[1], analytic_ee_mumu(&p[16], 0.0078125), 1e-13);
  p[16 * 2 + 1] = std::nan("");
  NIS_CHECK(nis_me_evaluate(me, 4, p.data(), out.data(), err, sizeof err) == NIS_ERR_BAD_MOMENTA);
  NIS_CHECK(contains(err, "event 2"));
  NIS_CHECK(nis_me_evaluate(nullptr, 4, p.data(), out.data(), err, sizeof err) == NIS_ERR_INTERNAL);
  NIS_CHECK(nis_me_evaluate(me, 4, nullptr, out.data(), err, sizeof err) == NIS_ERR_BAD_MOMENTA);
  nis_me_destroy(me);
  nis_me_destroy(nullptr);

  // A provider exception inside the C API becomes its code.
  NIS_CHECK(nis_me_create(nullptr, "ve ve~ -> vm vm~", "", &me, err, sizeof err) == NIS_OK);
  std::vector<double> q(16, 0.0);
  for (int k = 0; k < 16; k += 4) q[k] = 777.0;
  q[3] = 777.0, q[7] = -777.0, q[11] = 777.0, q[15] = -777.0;
  double v = 0;
  NIS_CHECK(nis_me_evaluate(me, 1, q.data(), &v, err, sizeof err) == NIS_ERR_INTERNAL);
  NIS_CHECK(contains(err, "toy failure"));
  nis_me_destroy(me);
}

}  // namespace

int main() {
  test_parse_process();
  test_parameters();
  test_registry();
  test_checks();
  test_threads();
  test_library();
  test_c_api();
  return nis_test::summary("test_bridge");
}
