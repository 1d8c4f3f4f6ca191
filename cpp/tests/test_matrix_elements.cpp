// Checks of the built-in physics matrix elements (cpp/src/providers): analytic formulas,
// gauge invariance, Bose symmetry, Lorentz invariance, exact colour matrices against explicit
// SU(3) generators, soft and collinear factorisation; per-process timings are printed.
#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "events.hpp"
#include "nis/bridge.hpp"
#include "nis/colour.hpp"
#include "nis/providers.hpp"
#include "nis/spinors.hpp"

using namespace nis_test;

namespace {

const double kAlpha = 1.0 / 132.507, kAlphaS = 0.118, kMZ = 91.1876, kWZ = 2.4952, kSin2w = 0.22290;

nis::ProcessSpec spec(const std::string& text) { return nis::parse_process(text); }

std::unique_ptr<nis::MatrixElement> make(const std::string& text, const nis::Parameters& par = {}) {
  nis::ProcessSpec s = spec(text);
  if (auto m = nis::LeptonPairQuarkLine::create(s, par)) return m;
  if (auto m = nis::GluonScattering::create(s, par)) return m;
  return nullptr;
}
std::unique_ptr<nis::LeptonPairQuarkLine> make_ee(const std::string& text, const nis::Parameters& par = {}) {
  return nis::LeptonPairQuarkLine::create(spec(text), par);
}
std::unique_ptr<nis::GluonScattering> make_gg(const std::string& text, const nis::Parameters& par = {}) {
  return nis::GluonScattering::create(spec(text), par);
}


// DDM colour vectors c_sigma(a_0..a_{n-1}) = 2^{(n-2)/2} (F^{a_s1}..F^{a_s(n-2)})_{a_0 a_{n-1}},
// F^x_{bc} = f^{bxc}; index a = sum a_l 8^l.
std::vector<std::vector<double>> ddm_vectors(const std::vector<std::vector<int>>& orderings, int n) {
  const SU3& g = su3();
  std::size_t dim = 1;
  for (int l = 0; l < n; ++l) dim *= 8;
  std::vector<std::vector<double>> out;
  std::vector<std::size_t> stride(n);
  for (int l = 0; l < n; ++l) stride[l] = l == 0 ? 1 : stride[l - 1] * 8;
  for (const auto& o : orderings) {
    std::vector<double> c(dim, 0.0);
    // recursive chain over the middle legs
    std::vector<int> a(n, 0);
    for (std::size_t idx = 0; idx < dim; ++idx) {
      std::size_t r = idx;
      for (int l = 0; l < n; ++l) a[l] = static_cast<int>(r % 8), r /= 8;
      // row vector v_b = delta_{b a0}, multiply by F^{a_sk}: v'_c = sum_b v_b f^{b x c}
      double v[8] = {0};
      v[a[o[0]]] = 1;
      for (int k = 1; k < n - 1; ++k) {
        double w[8] = {0};
        for (int b = 0; b < 8; ++b)
          if (v[b] != 0)
            for (int cc = 0; cc < 8; ++cc) w[cc] += v[b] * g.f[b][a[o[k]]][cc];
        std::copy(w, w + 8, v);
      }
      c[idx] = std::pow(2.0, (n - 2) / 2.0) * v[a[o[n - 1]]];
    }
    out.push_back(c);
  }
  return out;
}

// -------------------------------------------------------------------------------------------------

void note(const char* what, double dev) { std::printf("  %-58s max rel. deviation %.2e\n", what, dev); }

// Analytic e+ e- -> f fbar, photon + Z, massless:
//   (1/4) sum|M|^2 = e^4 Nc [ (|F_LL|^2 + |F_RR|^2) u^2 + (|F_LR|^2 + |F_RL|^2) t^2 ],
//   t = (p_e- - p_f)^2, u = (p_e- - p_fbar)^2, F_ab = Qe Qf/s + g^e_a g^f_b/(sw^2 cw^2)/(s - mZ^2 + i mZ wZ)
// (helicity amplitudes: same chiralities ~ s (1 + cos theta), opposite ~ s (1 - cos theta)).
void couplings(double s, double Qf, double T3f, bool z, cplx F[2][2]) {
  const double cw2 = 1 - kSin2w;
  const double ge[2] = {-0.5 + kSin2w, kSin2w};
  const double gf[2] = {T3f - Qf * kSin2w, -Qf * kSin2w};
  const cplx prop = 1.0 / cplx(s - kMZ * kMZ, kMZ * kWZ);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) F[a][b] = -Qf / s + (z ? ge[a] * gf[b] / (kSin2w * cw2) * prop : 0.0);
}
double ee_ff_analytic(const double* pep, const double* pem, const double* pf, const double* pfb, double Qf, double T3f,
                      double nc) {
  const double s = 2 * dot(pep, pem), t = -2 * dot(pem, pf), u = -2 * dot(pem, pfb);
  cplx F[2][2];
  couplings(s, Qf, T3f, true, F);
  const double e2 = 4 * kPi * kAlpha;
  return e2 * e2 * nc *
         ((std::norm(F[0][0]) + std::norm(F[1][1])) * u * u + (std::norm(F[0][1]) + std::norm(F[1][0])) * t * t);
}

void test_ee_ffbar(std::mt19937_64& rng) {
  std::printf("e+ e- -> f fbar against the analytic gamma/Z formula\n");
  struct F {
    const char* proc;
    int f, fb;  // positions of f and fbar
    double Q, T3, nc;
  };
  const F cases[] = {{"e+ e- -> mu+ mu-", 3, 2, -1, -0.5, 1}, {"e+ e- -> mu- mu+", 2, 3, -1, -0.5, 1},
                     {"e+ e- -> ta- ta+", 2, 3, -1, -0.5, 1}, {"e+ e- -> d d~", 2, 3, -1. / 3, -0.5, 3},
                     {"e+ e- -> u u~", 2, 3, 2. / 3, 0.5, 3},  {"e+ e- -> b~ b", 3, 2, -1. / 3, -0.5, 3},
                     {"e+ e- -> c c~", 2, 3, 2. / 3, 0.5, 3}};
  double dev = 0;
  for (const auto& c : cases) {
    auto m = make(c.proc);
    NIS_CHECK(m != nullptr);
    if (!m) continue;
    NIS_CHECK_CLOSE(m->info().average, 0.25, 1e-15);
    NIS_CHECK(m->info().order_qed == 2 && m->info().order_qcd == 0);
    for (double rs : {10.0, 60.0, 91.1876, 91.5, 200.0, 1000.0})
      for (int k = 0; k < 4; ++k) {
        Event ev = rotate(rambo(2, rs, rng), rng);  // random beam axis and angle
        const double a = ee_ff_analytic(P(ev, 0), P(ev, 1), P(ev, c.f), P(ev, c.fb), c.Q, c.T3, c.nc);  // already spin-averaged
        const double v = me1(*m, ev);
        NIS_CHECK_CLOSE(v, a, 1e-12);
        dev = std::max(dev, std::fabs(v / a - 1));
      }
  }
  // incoming order e- e+
  {
    auto m1 = make("e+ e- -> mu+ mu-"), m2 = make("e- e+ -> mu+ mu-");
    Event ev = rambo(2, 150, rng);
    NIS_CHECK_CLOSE(me1(*m1, ev), me1(*m2, swap_particles(ev, 0, 1)), 1e-13);
  }
  note("e+e- -> mu mu, tau tau, d d~, u u~, c c~, b b~ (1e-12)", dev);
}

// e+ e- -> q qbar g: exact tree-level |M|^2 (k1 = e+, k2 = e-, p1 = q, p2 = qbar, p3 = g):
//   sum|M|^2 = 8 e^4 Nc CF g^2 s [ (|F_LL|^2+|F_RR|^2)((k1.p1)^2 + (k2.p2)^2)
//                                + (|F_LR|^2+|F_RL|^2)((k1.p2)^2 + (k2.p1)^2) ] / ((p1.p3)(p2.p3))
// photon only: 16 e^4 Q^2 Nc CF g^2 [(k1.p1)^2+(k1.p2)^2+(k2.p1)^2+(k2.p2)^2] / (s (p1.p3)(p2.p3)).
// Normalisation fixed by the soft limit (eikonal x Born) and by the angle average
// (-> CF alpha_s/(2 pi) (x1^2+x2^2)/((1-x1)(1-x2)) x Born).
double ee_qqg_analytic(const Event& ev, double Qf, double T3f, bool z) {
  const double *k1 = P(ev, 0), *k2 = P(ev, 1), *p1 = P(ev, 2), *p2 = P(ev, 3), *p3 = P(ev, 4);
  const double s = 2 * dot(k1, k2);
  cplx F[2][2];
  couplings(s, Qf, T3f, z, F);
  const double e2 = 4 * kPi * kAlpha, g2 = 4 * kPi * kAlphaS, nc = 3, cf = 4.0 / 3.0;
  const double same = std::pow(dot(k1, p1), 2) + std::pow(dot(k2, p2), 2);
  const double opp = std::pow(dot(k1, p2), 2) + std::pow(dot(k2, p1), 2);
  return 8 * e2 * e2 * nc * cf * g2 * s *
         ((std::norm(F[0][0]) + std::norm(F[1][1])) * same + (std::norm(F[0][1]) + std::norm(F[1][0])) * opp) /
         (dot(p1, p3) * dot(p2, p3));
}

void test_ee_qqg(std::mt19937_64& rng) {
  std::printf("e+ e- -> q q~ g against the exact O(alpha_s) formula\n");
  double dev_a = 0, dev_z = 0;
  for (int zex = 0; zex < 2; ++zex)
    for (const char* proc : {"e+ e- -> d d~ g", "e+ e- -> u u~ g", "e+ e- -> b b~ g"}) {
      auto m = make(proc, {{"z_exchange", double(zex)}});
      NIS_CHECK(m != nullptr);
      if (!m) continue;
      const bool up = std::string(proc).find(" u ") != std::string::npos;
      NIS_CHECK(m->info().order_qcd == 1 && m->info().order_qed == 2);
      for (double rs : {20.0, 91.1876, 300.0})
        for (int k = 0; k < 6; ++k) {
          Event ev = rotate(rambo(3, rs, rng), rng);
          const double a = ee_qqg_analytic(ev, up ? 2. / 3 : -1. / 3, up ? 0.5 : -0.5, zex) / 4;
          const double v = me1(*m, ev);
          NIS_CHECK_CLOSE(v, a, 1e-10);
          (zex ? dev_z : dev_a) = std::max(zex ? dev_z : dev_a, std::fabs(v / a - 1));
        }
    }
  note("e+e- -> q q~ g, photon only (z_exchange = 0) (1e-10)", dev_a);
  note("e+e- -> q q~ g, photon + Z (1e-10)", dev_z);
}

// gg -> gg: (1/256) sum|M|^2 = (9/2) g^4 (3 - tu/s^2 - su/t^2 - st/u^2)
void test_gg_gg(std::mt19937_64& rng) {
  std::printf("g g -> g g against the textbook formula\n");
  auto m = make("g g -> g g");
  double dev = 0;
  NIS_CHECK_CLOSE(m->info().average, 1.0 / 256, 1e-15);
  for (int k = 0; k < 20; ++k) {
    Event ev = boost_z(rotate(rambo(2, 100 + 50 * k, rng), rng), 0.3);
    const double s = 2 * dot(P(ev, 0), P(ev, 1)), t = -2 * dot(P(ev, 0), P(ev, 2)), u = -2 * dot(P(ev, 0), P(ev, 3));
    const double g2 = 4 * kPi * kAlphaS;
    const double a = 4.5 * g2 * g2 * (3 - t * u / (s * s) - s * u / (t * t) - s * t / (u * u));
    const double v = me1(*m, ev);
    NIS_CHECK_CLOSE(v, a, 1e-12);
    dev = std::max(dev, std::fabs(v / a - 1));
  }
  note("g g -> g g (1e-12)", dev);
}

// gg -> ggg: all non-vanishing 5-gluon helicity amplitudes are MHV or anti-MHV (Parke-Taylor) and
// the leading-colour sum is exact for 5 gluons:
//   sum|M|^2 = g^6 N^3 (N^2-1) sum_{hel} sum_{S5/Z5} |A|^2
//            = 4 g^6 N^3 (N^2-1) [sum_{i<j} s_ij^4] sum_{12 orderings mod reflection} 1/|s12 s23 s34 s45 s51|
void test_gg_ggg(std::mt19937_64& rng) {
  std::printf("g g -> g g g against the Parke-Taylor colour-summed formula\n");
  auto m = make("g g -> g g g");
  double dev = 0;
  for (int k = 0; k < 20; ++k) {
    Event ev = boost_z(rotate(rambo(3, 500, rng), rng), -0.2);
    double sij[5][5];
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j) {
        const double si = i < 2 ? -1 : 1, sj = j < 2 ? -1 : 1;
        sij[i][j] = 2 * si * sj * dot(P(ev, i), P(ev, j));
      }
    double s4 = 0;
    for (int i = 0; i < 5; ++i)
      for (int j = i + 1; j < 5; ++j) s4 += std::pow(sij[i][j], 4);
    std::vector<int> o = {1, 2, 3, 4};
    double den = 0;
    do {
      if (o[0] > o[3]) continue;  // one of each reflection pair
      const int seq[5] = {0, o[0], o[1], o[2], o[3]};
      double pr = 1;
      for (int i = 0; i < 5; ++i) pr *= sij[seq[i]][seq[(i + 1) % 5]];
      den += 1 / std::fabs(pr);
    } while (std::next_permutation(o.begin(), o.end()));
    const double g2 = 4 * kPi * kAlphaS, N = 3;
    const double a = 4 * std::pow(g2, 3) * N * N * N * (N * N - 1) * s4 * den / 256;
    const double v = me1(*m, ev);
    NIS_CHECK_CLOSE(v, a, 1e-11);
    dev = std::max(dev, std::fabs(v / a - 1));
  }
  note("g g -> g g g (1e-11)", dev);
}

// Gauge invariance at one event: each gluon's polarisation replaced by its momentum in turn
// (m.amplitudes(event, out, gluon)); the largest such amplitude over the largest physical one,
// checked below 1e-11 and returned. Amplitude: cplx (quark lines) or double (gluons).
template <class Amplitude, class Provider>
double gauge_violation(const Provider& m, const Event& ev, int n_gluons) {
  auto largest = [](const std::vector<Amplitude>& v) {
    double x = 0;
    for (auto& a : v) x = std::max(x, std::abs(a));
    return x;
  };
  std::vector<Amplitude> A, G;
  m.amplitudes(ev.data(), A);
  const double mx = largest(A);
  double worst = 0;
  for (int gl = 0; gl < n_gluons; ++gl) {
    m.amplitudes(ev.data(), G, gl);
    const double ratio = largest(G) / mx;
    NIS_CHECK(ratio < 1e-11);
    worst = std::max(worst, ratio);
  }
  return worst;
}

void test_gauge(std::mt19937_64& rng) {
  std::printf("gauge invariance: polarisation -> momentum, max|A| / max|A_physical|\n");
  for (int n = 1; n <= 4; ++n) {
    std::string proc = "e+ e- -> u u~";
    for (int i = 0; i < n; ++i) proc += " g";
    auto m = make_ee(proc);
    double worst = 0;
    for (int k = 0; k < 3; ++k)
      worst = std::max(worst, gauge_violation<cplx>(*m, rotate(rambo(2 + n, 250, rng), rng), n));
    note(proc.c_str(), worst);
  }
  // crossed quark lines and gluons (Drell-Yan + jets): incoming gluons too
  for (const char* proc : {"u g -> e+ e- u", "g g -> mu+ mu- d d~", "d~ g -> mu- mu+ g d~ g", "g u~ -> e+ e- g u~ g g",
                           "u u~ -> mu+ mu- g g g"}) {
    auto m = make_ee(proc);
    const int np = static_cast<int>(m->info().n_particles());
    std::vector<int> gluon_positions;
    for (int i = 0; i < np; ++i)
      if ((i < 2 ? m->info().pdg_in[i] : m->info().pdg_out[i - 2]) == 21) gluon_positions.push_back(i);
    NIS_CHECK(static_cast<int>(gluon_positions.size()) == m->n_gluons());
    double worst = 0;
    for (int k = 0; k < 3; ++k)
      worst = std::max(worst, gauge_violation<cplx>(*m, boost_z(rotate(rambo(np - 2, 250, rng), rng), 0.3), m->n_gluons()));
    note(proc, worst);
  }
  for (int n = 4; n <= 6; ++n) {
    std::string proc = "g g ->";
    for (int i = 0; i < n - 2; ++i) proc += " g";
    auto m = make_gg(proc);
    double worst = 0;
    for (int k = 0; k < 3; ++k)
      worst = std::max(worst, gauge_violation<double>(*m, boost_z(rotate(rambo(n - 2, 250, rng), rng), 0.4), n));
    note(proc.c_str(), worst);
  }
}

void test_symmetries(std::mt19937_64& rng) {
  std::printf("Bose symmetry (gluon permutations, incoming swap) and Lorentz invariance\n");
  for (const char* proc : {"e+ e- -> d d~ g g", "e+ e- -> d d~ g g g", "e+ e- -> s s~ g g g g", "g g -> g g g",
                           "g g -> g g g g", "g g -> g g", "u g -> mu+ mu- u g g", "g g -> e+ e- c c~ g"}) {
    auto m = make(proc);
    const int np = static_cast<int>(m->info().n_particles());
    const bool gg = m->info().pdg_in[0] == 21 && m->info().pdg_in[1] == 21;
    double dev = 0;
    for (int k = 0; k < 3; ++k) {
      Event ev = rotate(rambo(np - 2, 400, rng), rng);
      const double ref = me1(*m, ev);
      // permutations of the final-state gluons
      std::vector<int> gl;
      for (int i = 2; i < np; ++i)
        if (m->info().pdg_out[i - 2] == 21) gl.push_back(i);
      std::vector<int> perm = gl;
      while (std::next_permutation(perm.begin(), perm.end())) {
        Event e2 = ev;
        for (std::size_t a = 0; a < gl.size(); ++a)
          for (int c = 0; c < 4; ++c) e2[4 * perm[a] + c] = ev[4 * gl[a] + c];
        const double v = me1(*m, e2);
        NIS_CHECK_CLOSE(v, ref, 1e-12);
        dev = std::max(dev, std::fabs(v / ref - 1));
      }
      if (gg) {
        const double v = me1(*m, swap_particles(ev, 0, 1));
        NIS_CHECK_CLOSE(v, ref, 1e-12);
        dev = std::max(dev, std::fabs(v / ref - 1));
      }
      // rotations and a boost along the beam (gg), rotations (ee)
      Event e3 = rotate(ev, rng);
      if (gg) e3 = boost_z(e3, 0.6);
      const double v = me1(*m, e3);
      NIS_CHECK_CLOSE(v, ref, 1e-11);
      dev = std::max(dev, std::fabs(v / ref - 1));
    }
    note(proc, dev);
  }
}

void test_colour_matrices() {
  std::printf("colour matrices against explicit SU(3) generators\n");
  // DDM adjoint basis for 4, 5, 6 gluons
  for (int n = 4; n <= 6; ++n) {
    std::string proc = "g g ->";
    for (int i = 0; i < n - 2; ++i) proc += " g";
    auto m = make_gg(proc);
    const auto& ords = m->orderings();
    auto c = ddm_vectors(ords, n);
    double dev = 0;
    const std::size_t no = ords.size();
    for (std::size_t s = 0; s < no; ++s)
      for (std::size_t t = 0; t < no; ++t) {
        double v = 0;
        for (std::size_t a = 0; a < c[s].size(); ++a) v += c[s][a] * c[t][a];
        const double C = m->colour_matrix()[s * no + t];
        NIS_CHECK(std::fabs(C - v) <= 1e-10 * std::fabs(m->colour_matrix()[0]));
        dev = std::max(dev, std::fabs(C - v) / std::fabs(m->colour_matrix()[0]));
      }
    note((proc + ": DDM colour matrix").c_str(), dev);
  }
  // quark line: c_sigma = (T^{s1}..T^{sn})_{ij}, T = sqrt2 t
  const SU3& g = su3();
  for (int n = 1; n <= 3; ++n) {
    std::string proc = "e+ e- -> d d~";
    for (int i = 0; i < n; ++i) proc += " g";
    auto m = make_ee(proc);
    const auto& ords = m->orderings();
    const std::size_t no = ords.size();
    std::size_t dim = 1;
    for (int l = 0; l < n; ++l) dim *= 8;
    std::vector<std::vector<cplx>> c(no, std::vector<cplx>(dim * 9));
    for (std::size_t o = 0; o < no; ++o)
      for (std::size_t idx = 0; idx < dim; ++idx) {
        int a[4];
        std::size_t r = idx;
        for (int l = 0; l < n; ++l) a[l] = static_cast<int>(r % 8), r /= 8;
        cplx M[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        for (int k = 0; k < n; ++k) {
          cplx R[3][3] = {};
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
              for (int l = 0; l < 3; ++l) R[i][j] += M[i][l] * std::sqrt(2.0) * g.t[a[ords[o][k]]][l][j];
          std::copy(&R[0][0], &R[0][0] + 9, &M[0][0]);
        }
        std::copy(&M[0][0], &M[0][0] + 9, c[o].begin() + idx * 9);
      }
    double dev = 0;
    for (std::size_t s = 0; s < no; ++s)
      for (std::size_t t = 0; t < no; ++t) {
        cplx v = 0;
        for (std::size_t a = 0; a < c[s].size(); ++a) v += std::conj(c[s][a]) * c[t][a];
        const double C = m->colour_matrix()[s * no + t];
        NIS_CHECK(std::fabs(C - v.real()) <= 1e-12 * std::fabs(m->colour_matrix()[0]));
        dev = std::max(dev, std::fabs(C - v.real()) / std::fabs(m->colour_matrix()[0]));
      }
    note((proc + ": quark-line colour matrix").c_str(), dev);
  }
  // closed forms: (T^a T^a)_ii summed = N CF * 2 = N^2 - 1 for one gluon; N for none
  NIS_CHECK_CLOSE(make_ee("e+ e- -> d d~ g")->colour_matrix()[0], 8.0, 1e-14);
  NIS_CHECK_CLOSE(make_ee("e+ e- -> d d~")->colour_matrix()[0], 3.0, 1e-14);
  // N = 4 for good measure: quark-line two-gluon matrix [[N CF^2... ]] from the Fierz identity by hand
  {
    auto m = make_ee("e+ e- -> d d~ g g", {{"nc", 4}});
    const double N = 4, CF = (N * N - 1) / (2 * N);
    // sum |(T^a T^b)_ij|^2 = 4 N CF^2 ... with T = sqrt2 t: 4 * Tr(t^b t^a t^a t^b) = 4 N CF^2,
    // interference 4 Tr(t^b t^a t^b t^a) = 4 N CF (CF - N/2)
    NIS_CHECK_CLOSE(m->colour_matrix()[0], 4 * N * CF * CF, 1e-13);
    NIS_CHECK_CLOSE(m->colour_matrix()[1], 4 * N * CF * (CF - N / 2), 1e-13);
  }
}

// soft gluon: |M_{n+1}|^2 -> -g^2 sum_{i != j} (p_i.p_j)/((p_i.k)(p_j.k)) <M_n| T_i.T_j |M_n>
void test_soft(std::mt19937_64& rng) {
  std::printf("soft-gluon limits: ratio to the eikonal approximation - 1 at lambda = 1e-2, 1e-3, 1e-4\n");
  const double g2 = 4 * kPi * kAlphaS, CA = 3, CF = 4.0 / 3.0;
  // e+ e- -> d d~ g g -> d d~ g (colour correlations of q q~ g are diagonal)
  {
    auto m3 = make("e+ e- -> d d~ g"), m4 = make("e+ e- -> d d~ g g");
    Event born = rambo(3, 200, rng);
    double prev = 1;
    std::printf("  e+e- -> d d~ g g, gluon 2 soft:");
    for (double lam : {1e-2, 1e-3, 1e-4}) {
      Event ev = emit(born, 2, 3, 0.7 * lam, 1 - lam, 0.4);
      const double *q = P(ev, 2), *qb = P(ev, 3), *gl = P(ev, 4), *k = P(ev, 5);
      auto W = [&](const double* a, const double* b) { return dot(a, b) / (dot(a, k) * dot(b, k)); };
      const double eik = g2 * ((2 * CF - CA) * W(q, qb) + CA * W(q, gl) + CA * W(qb, gl));
      const double r = me1(*m4, ev) / (eik * me1(*m3, born)) - 1;
      std::printf("  %.2e", r);
      NIS_CHECK(std::fabs(r) < 30 * lam);
      NIS_CHECK(std::fabs(r) < std::fabs(prev));
      prev = r;
    }
    std::printf("\n");
  }
  // g g -> g g g -> g g -> g g with colour correlations from explicit SU(3)
  {
    auto m4 = make_gg("g g -> g g"), m5 = make_gg("g g -> g g g");
    const auto& ords = m4->orderings();
    auto c = ddm_vectors(ords, 4);
    const SU3& su = su3();
    const std::size_t no = ords.size(), dim = c[0].size();
    // K[i][j][s][t] = sum_a c_s(a) (T_i.T_j c_t)(a), (T^b)_{xy} = -i f^{bxy}
    double K[4][4][2][2] = {};
    const std::size_t stride[4] = {1, 8, 64, 512};
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        for (std::size_t t = 0; t < no; ++t) {
          std::vector<double> Tc(dim, 0.0);
          for (std::size_t a = 0; a < dim; ++a) {
            const int ai = static_cast<int>(a / stride[i] % 8), aj = static_cast<int>(a / stride[j] % 8);
            double v = 0;
            for (int b = 0; b < 8; ++b)
              for (int x = 0; x < 8; ++x) {
                const double fi = su.f[b][ai][x];
                if (fi == 0) continue;
                if (i == j) {
                  for (int y = 0; y < 8; ++y) {
                    const double fj = su.f[b][x][y];
                    if (fj == 0) continue;
                    v -= fi * fj * c[t][a + (y - ai) * stride[i]];
                  }
                } else {
                  for (int y = 0; y < 8; ++y) {
                    const double fj = su.f[b][aj][y];
                    if (fj == 0) continue;
                    v -= fi * fj * c[t][a + (x - ai) * stride[i] + (y - aj) * stride[j]];
                  }
                }
              }
            Tc[a] = v;
          }
          for (std::size_t s = 0; s < no; ++s) {
            double v = 0;
            for (std::size_t a = 0; a < dim; ++a) v += c[s][a] * Tc[a];
            K[i][j][s][t] = v;
          }
        }
    // colour conservation: sum_j T_j |c> = 0, T_i^2 = CA
    double cons = 0;
    for (int i = 0; i < 4; ++i)
      for (std::size_t s = 0; s < no; ++s)
        for (std::size_t t = 0; t < no; ++t) {
          double sum = 0;
          for (int j = 0; j < 4; ++j) sum += K[i][j][s][t];
          cons = std::max(cons, std::fabs(sum) / std::fabs(m4->colour_matrix()[0]));
          NIS_CHECK_CLOSE(K[i][i][s][t], CA * m4->colour_matrix()[s * no + t], 1e-12);
        }
    NIS_CHECK(cons < 1e-12);
    Event born = boost_z(rambo(2, 300, rng), 0.25);
    std::vector<double> A;
    m4->amplitudes(born.data(), A);
    const int ng = 16;
    double Tij[4][4] = {};
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        for (int g = 0; g < ng; ++g)
          for (std::size_t s = 0; s < no; ++s)
            for (std::size_t t = 0; t < no; ++t) Tij[i][j] += A[s * ng + g] * K[i][j][s][t] * A[t * ng + g];
    const double born_me = me1(*m4, born);
    double prev = 1;
    std::printf("  g g -> g g g, gluon 5 soft (colour-correlated): ");
    for (double lam : {1e-2, 1e-3, 1e-4}) {
      Event ev = emit(born, 3, 2, 0.5 * lam, 1 - lam, 1.1);
      double k[4];
      std::copy(P(ev, 4), P(ev, 4) + 4, k);
      double eik = 0;
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          if (i == j) continue;
          const double si = i < 2 ? -1 : 1, sj = j < 2 ? -1 : 1;
          double pi[4], pj[4];
          for (int c2 = 0; c2 < 4; ++c2) pi[c2] = si * P(ev, i)[c2], pj[c2] = sj * P(ev, j)[c2];
          eik -= dot(pi, pj) / (dot(pi, k) * dot(pj, k)) * Tij[i][j];
        }
      // Born normalisation: me1 = avg g^4 sum A C A
      double sumACA = 0;
      for (int g = 0; g < ng; ++g)
        for (std::size_t s = 0; s < no; ++s)
          for (std::size_t t = 0; t < no; ++t)
            sumACA += A[s * ng + g] * m4->colour_matrix()[s * no + t] * A[t * ng + g];
      const double approx = g2 * eik * born_me / sumACA;
      const double r = me1(*m5, ev) / approx - 1;
      std::printf("  %.2e", r);
      NIS_CHECK(std::fabs(r) < 30 * lam);
      NIS_CHECK(std::fabs(r) < std::fabs(prev));
      prev = r;
    }
    std::printf("\n");
  }
}

// collinear limits: |M_{n+1}|^2 -> 2 g^2 / s_ij P(z) |M_n|^2 (spin-averaged; for g -> g g the
// average over four azimuths phi, phi + pi/2, ... removes the spin correlation)
void test_collinear(std::mt19937_64& rng) {
  std::printf("collinear limits: ratio to the Altarelli-Parisi approximation - 1 at y = lambda^2, lambda = 1e-2, 1e-3, 1e-4\n");
  const double g2 = 4 * kPi * kAlphaS, CA = 3, CF = 4.0 / 3.0;
  struct C {
    const char* born;
    const char* real;
    int i, k;
    bool gluon;
  };
  const C cases[] = {{"e+ e- -> u u~ g", "e+ e- -> u u~ g g", 2, 3, false},
                     {"e+ e- -> u u~ g g", "e+ e- -> u u~ g g g", 2, 4, false},
                     {"e+ e- -> u u~ g g", "e+ e- -> u u~ g g g", 4, 2, true},
                     {"g g -> g g g", "g g -> g g g g", 4, 2, true},
                     {"g g -> g g g", "g g -> g g g g", 2, 3, true}};
  for (const auto& c : cases) {
    auto Pz = [&](double z) {
      return c.gluon ? 2 * CA * (z / (1 - z) + (1 - z) / z + z * (1 - z)) : CF * (1 + z * z) / (1 - z);
    };
    char label[80];
    std::snprintf(label, sizeof label, "%-22s leg %d || new gluon:", c.real, c.i + 1);
    check_collinear_limit(*make(c.born), *make(c.real), c.i, c.k, g2, Pz, 400, rng, label);
  }
}

void test_factories() {
  // registration through the bridge, refusals, parameters
  auto m = nis::create("e+ e- -> d d~ g g", {{"alpha_s", 0.1}});
  NIS_CHECK(m != nullptr);
  if (m) {
    NIS_CHECK(m->info().order_qcd == 2 && m->info().order_qed == 2);
    NIS_CHECK_CLOSE(m->info().symmetry_factor, 0.5, 1e-15);
    NIS_CHECK(m->info().masses.size() == 6);
  }
  auto g = nis::create("g g -> g g g g");
  NIS_CHECK(g != nullptr);
  if (g) {
    NIS_CHECK_CLOSE(g->info().symmetry_factor, 1.0 / 24, 1e-15);
    NIS_CHECK_CLOSE(g->info().average, 1.0 / 256, 1e-15);
    NIS_CHECK(g->info().order_qcd == 4 && g->info().order_qed == 0);
  }
  NIS_CHECK(make("e+ e- -> e+ e-") == nullptr);
  NIS_CHECK(make("e+ e- -> mu+ mu- g") == nullptr);
  NIS_CHECK(make("e+ e- -> d u~") == nullptr);
  NIS_CHECK(make("g g -> g g g g g") == nullptr);
  NIS_CHECK(make("u u~ -> g g") == nullptr);
  bool threw = false;
  try {
    make("e+ e- -> d d~", {{"alpha_x", 1}});
  } catch (const nis::Error& e) {
    threw = e.code() == NIS_ERR_BAD_PARAMETER;
  }
  NIS_CHECK(threw);
  threw = false;
  try {
    make("e+ e- -> d d~ g", {{"z_exchange", 0.5}});
  } catch (const nis::Error& e) {
    threw = e.code() == NIS_ERR_BAD_PARAMETER;
  }
  NIS_CHECK(threw);
  threw = false;
  try {
    make("g g -> g g", {{"wZ", -1}});
  } catch (const nis::Error& e) {
    threw = e.code() == NIS_ERR_BAD_PARAMETER;
  }
  NIS_CHECK(threw);
  // alpha_s scaling
  std::mt19937_64 rng(5);
  Event ev = rambo(4, 300, rng);
  NIS_CHECK_CLOSE(me1(*make("e+ e- -> d d~ g g", {{"alpha_s", 0.2}}), ev) / me1(*make("e+ e- -> d d~ g g"), ev),
                  std::pow(0.2 / kAlphaS, 2), 1e-13);
}

// The toolkit: Weyl spinors solve the massless Dirac equation with the right normalisation in
// both charts; helicity and linear polarisation sums agree as tensors (so the linear-basis
// polarisation sum used by the providers equals the helicity sum).
void test_toolkit(std::mt19937_64& rng) {
  double dev = 0;
  for (int k = 0; k < 20; ++k) {
    Event ev = rotate(rambo(2, 100, rng), rng);
    nis::RVec4 p = nis::load_vec4(P(ev, 2 + k % 2));
    if (k == 0) p = {{5, 0, 0, -5}};  // exactly along -z
    if (k == 1) p = {{5, 0, 0, 5}};
    const nis::Weyl lp = nis::lambda_plus(p), lm = nis::lambda_minus(p);
    const nis::Weyl a = nis::slash_sigma(p) * lp, b = nis::slash_sigmabar(p) * lm;
    for (int i = 0; i < 2; ++i) dev = std::max({dev, std::abs(a.c[i]) / p[0], std::abs(b.c[i]) / p[0]});
    NIS_CHECK_CLOSE(std::norm(lp.c[0]) + std::norm(lp.c[1]), 2 * p[0], 1e-14);
    NIS_CHECK_CLOSE(std::norm(lm.c[0]) + std::norm(lm.c[1]), 2 * p[0], 1e-14);
    // ubar_+ gamma^mu u_+ = 2 p^mu
    const nis::CVec4 j = nis::current_sigma(nis::conj(lp), lp);
    for (int m = 0; m < 4; ++m) dev = std::max(dev, std::abs(j[m] - 2.0 * p[m]) / p[0]);
    const nis::CVec4 ep = nis::polarisation_helicity(p, 1), em = nis::polarisation_helicity(p, -1);
    const nis::RVec4 e1 = nis::polarisation_linear(p, 0), e2 = nis::polarisation_linear(p, 1);
    dev = std::max({dev, std::abs(nis::mdot(ep, p)) / p[0], std::abs(nis::mdot(e1, p)) / p[0],
                    std::abs(nis::mdot(e2, p)) / p[0], std::abs(nis::mdot(e1, e1) + 1.0)});
    for (int m = 0; m < 4; ++m)
      for (int n = 0; n < 4; ++n) {
        const cplx hel = ep[m] * std::conj(ep[n]) + em[m] * std::conj(em[n]);
        dev = std::max(dev, std::abs(hel - (e1[m] * e1[n] + e2[m] * e2[n])));
      }
  }
  NIS_CHECK(dev < 1e-13);
  note("toolkit: Dirac equation, normalisation, polarisation sums", dev);
}

void timings(std::mt19937_64& rng) {
  std::printf("timings (one core, per event, -O2 as built):\n");
  for (const char* proc : {"e+ e- -> mu+ mu-", "e+ e- -> d d~", "e+ e- -> d d~ g", "e+ e- -> d d~ g g",
                           "e+ e- -> d d~ g g g", "e+ e- -> d d~ g g g g", "g g -> g g", "g g -> g g g",
                           "g g -> g g g g"}) {
    std::printf("  %-24s %10.3f us/event\n", proc, microseconds_per_event(*make(proc), rng));
  }
}

}  // namespace

int main() {
  std::mt19937_64 rng(20240611);
  test_ee_ffbar(rng);
  test_ee_qqg(rng);
  test_gg_gg(rng);
  test_gg_ggg(rng);
  test_gauge(rng);
  test_symmetries(rng);
  test_colour_matrices();
  test_soft(rng);
  test_collinear(rng);
  test_factories();
  test_toolkit(rng);
  timings(rng);
  return nis_test::summary("test_matrix_elements");
}
