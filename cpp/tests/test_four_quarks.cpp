// Checks of the built-in provider lepton_pair_four_quarks (two quark lines, a lepton pair, at most
// one gluon, any crossing): colour matrices against explicit SU(3) generators, gauge invariance of
// the gluon, Lorentz invariance, CP (the charge-conjugate process at parity-reflected momenta),
// relabelling of the particle order, identical-quark symmetry, collinear factorisation of the
// gluon onto the four-quark matrix element, the factory's refusals; per-process timings are printed.
// Pointwise agreement with Sherpa is tested in tests/test_four_quarks.py.
#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "events.hpp"
#include "nis/bridge.hpp"
#include "nis/four_quarks.hpp"
#include "nis/lorentz.hpp"

using namespace nis_test;

namespace {

const double kAlphaS = 0.118;

std::unique_ptr<nis::LeptonPairFourQuarks> make(const std::string& text, const nis::Parameters& par = {}) {
  return nis::LeptonPairFourQuarks::create(nis::parse_process(text), par);
}

void note(const std::string& what, double dev) { std::printf("  %-60s %.2e\n", what.c_str(), dev); }

// c_k(i_r0, i_r1, j_c0, j_c1, a) with the exchanged gluon summed, T = sqrt2 t; index
// (((i_r0 * 3 + i_r1) * 3 + j_c0) * 3 + j_c1) * 8 + a.
std::vector<cplx> explicit_tensor(const nis::LeptonPairFourQuarks::ColourTensor& t) {
  const SU3& su = su3();
  std::vector<cplx> c(81 * 8, 0.0);
  bool gluon = false;  // without the external gluon, only a = 0 is filled
  for (const auto& chain : t.chain)
    for (int label : chain) gluon = gluon || label == 0;
  for (int a = 0; a < (gluon ? 8 : 1); ++a)
    for (int b = 0; b < 8; ++b) {
      // the matrix of each chain for this (a, b)
      cplx M[2][3][3];
      for (int r = 0; r < 2; ++r) {
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) M[r][i][j] = i == j ? 1.0 : 0.0;
        for (int label : t.chain[r]) {
          const int x = label == 0 ? a : b;
          cplx R[3][3] = {};
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
              for (int l = 0; l < 3; ++l) R[i][j] += M[r][i][l] * std::sqrt(2.0) * su.t[x][l][j];
          std::copy(&R[0][0], &R[0][0] + 9, &M[r][0][0]);
        }
      }
      for (int i0 = 0; i0 < 3; ++i0)
        for (int i1 = 0; i1 < 3; ++i1)
          for (int j0 = 0; j0 < 3; ++j0)
            for (int j1 = 0; j1 < 3; ++j1) {
              const int j[2] = {j0, j1};
              c[(((i0 * 3 + i1) * 3 + j0) * 3 + j1) * 8 + a] += M[0][i0][j[t.column[0]]] * M[1][i1][j[t.column[1]]];
            }
    }
  return c;
}

void test_colour() {
  std::printf("colour matrices against explicit SU(3) generators (max |C - C_explicit| / C_00)\n");
  for (const char* proc : {"u u~ -> mu+ mu- d d~", "u u~ -> mu+ mu- u u~", "u u~ -> mu+ mu- d d~ g",
                           "u u -> mu+ mu- u u g", "e+ e- -> u u~ u u~ g", "u g -> mu+ mu- u u u~"}) {
    auto m = make(proc);
    NIS_CHECK(m != nullptr);
    if (!m) continue;
    const int nb = m->n_basis();
    std::vector<std::vector<cplx>> c;
    for (const auto& t : m->colour_basis()) c.push_back(explicit_tensor(t));
    double dev = 0;
    const double c00 = m->colour_matrix()[0];
    for (int k = 0; k < nb; ++k)
      for (int l = 0; l < nb; ++l) {
        cplx v = 0;
        for (std::size_t x = 0; x < c[k].size(); ++x) v += std::conj(c[k][x]) * c[l][x];
        const double C = m->colour_matrix()[k * nb + l];
        dev = std::max({dev, std::fabs(C - v.real()) / c00, std::fabs(v.imag()) / c00});
      }
    NIS_CHECK(dev < 1e-13);
    note(std::string(proc) + " (" + std::to_string(nb) + " tensors)", dev);
  }
  // closed forms: sum |T^b_ij T^b_kl|^2 = N^2 - 1; interference of the two pairings -(N^2-1)/N
  auto m = make("u u~ -> mu+ mu- u u~", {{"nc", 4}});
  NIS_CHECK(m->n_basis() == 2);
  NIS_CHECK_CLOSE(m->colour_matrix()[0], 15.0, 1e-14);
  NIS_CHECK_CLOSE(m->colour_matrix()[1], -15.0 / 4, 1e-14);
  // with the gluon: sum |(T^g T^b)_ij T^b_kl|^2 = 2^3 Tr(t^b t^g t^g t^b) / 2 = 4 N CF^2
  auto g = make("u u~ -> mu+ mu- d d~ g");
  NIS_CHECK_CLOSE(g->colour_matrix()[0], 4 * 3 * 16.0 / 9, 1e-13);
}

// The gluon's polarisation replaced by its momentum: the colour-space vector sum_k A_k c_k
// (explicit SU(3) components, so no square root of a cancelling quadratic form) vanishes for every
// configuration of the other helicities; max component relative to the physical amplitudes' (both
// polarisations) in the same configuration.
void test_gauge(std::mt19937_64& rng) {
  std::printf("gauge invariance of the gluon (eps -> k, |k| ~ 100 GeV):"
              " max |sum_k A_k c_k|(eps -> k) / max |sum_k A_k c_k|(eps), every helicity\n");
  for (const char* proc : {"u u~ -> mu+ mu- d d~ g", "u u~ -> mu+ mu- u u~ g", "u d -> mu+ mu- u d g",
                           "u u -> mu+ mu- u u g", "u~ u~ -> mu+ mu- u~ u~ g", "u g -> mu+ mu- u d d~",
                           "g u -> mu+ mu- u u u~", "d~ g -> mu+ mu- s s~ d~", "e+ e- -> u u~ d d~ g",
                           "e+ e- -> u u~ u u~ g", "d s~ -> mu+ mu- d s~ g", "g d~ -> e- e+ u~ d~ u"}) {
    auto m = make(proc);
    NIS_CHECK(m != nullptr);
    if (!m) continue;
    const int np = static_cast<int>(m->info().n_particles()), nb = m->n_basis();
    std::vector<std::vector<cplx>> c;
    for (const auto& t : m->colour_basis()) c.push_back(explicit_tensor(t));
    auto colour_vector_max = [&](const cplx* A) {
      double mx = 0;
      for (std::size_t x = 0; x < c[0].size(); ++x) {
        cplx v = 0;
        for (int k = 0; k < nb; ++k) v += A[k] * c[k][x];
        mx = std::max(mx, std::abs(v));
      }
      return mx;
    };
    double worst = 0, partial = 0;
    for (int n = 0; n < 3; ++n) {
      Event ev = boost_z(rotate(rambo(np - 2, 300, rng), rng), 0.3);
      std::vector<cplx> A, G;
      m->amplitudes(ev.data(), A);
      m->amplitudes(ev.data(), G, true);
      for (int h = 0; h < nis::LeptonPairFourQuarks::kConfigs; h += 2) {
        const double phys = std::max(colour_vector_max(&A[h * nb]), colour_vector_max(&A[(h + 1) * nb]));
        if (phys == 0) continue;
        double gmax = 0;
        for (int k = 0; k < nb; ++k) gmax = std::max(gmax, std::abs(G[h * nb + k]));
        const double r = colour_vector_max(&G[h * nb]) / phys;
        NIS_CHECK(r < 1e-10);
        worst = std::max(worst, r);
        partial = std::max(partial, gmax / phys);
      }
    }
    char what[160];
    std::snprintf(what, sizeof what, "%s (partial amplitudes alone: %.0f)", proc, partial);
    note(what, worst);
  }
}

void test_lorentz_and_cp(std::mt19937_64& rng) {
  std::printf("Lorentz invariance (rotation + boost), CP (conjugate process at parity-reflected momenta)\n");
  struct C {
    const char* proc;
    const char* cp;  // the CP conjugate, particles in the same positions
  };
  const C cases[] = {{"u u~ -> mu+ mu- d d~", "u~ u -> mu- mu+ d~ d"},
                     {"u d -> mu+ mu- u d", "u~ d~ -> mu- mu+ u~ d~"},
                     {"u u -> mu+ mu- u u", "u~ u~ -> mu- mu+ u~ u~"},
                     {"u u~ -> mu+ mu- u u~", "u~ u -> mu- mu+ u~ u"},
                     {"d s~ -> mu+ mu- d s~", "d~ s -> mu- mu+ d~ s"},
                     {"e+ e- -> u u~ d d~", "e- e+ -> u~ u d~ d"},
                     {"u u~ -> mu+ mu- d d~ g", "u~ u -> mu- mu+ d~ d g"},
                     {"u g -> mu+ mu- u d d~", "u~ g -> mu- mu+ u~ d~ d"},
                     {"u d -> mu+ mu- u d g", "u~ d~ -> mu- mu+ u~ d~ g"},
                     {"u u -> mu+ mu- u u g", "u~ u~ -> mu- mu+ u~ u~ g"},
                     {"e+ e- -> u u~ u u~ g", "e- e+ -> u~ u u~ u g"}};
  for (const auto& c : cases) {
    auto m = make(c.proc), mc = make(c.cp);
    NIS_CHECK(m != nullptr && mc != nullptr);
    if (!m || !mc) continue;
    const int np = static_cast<int>(m->info().n_particles());
    double dl = 0, dcp = 0;
    for (int n = 0; n < 5; ++n) {
      Event ev = rambo(np - 2, 250 + 100 * n, rng);
      const double ref = me1(*m, ev);
      NIS_CHECK(ref > 0);
      const double v = me1(*m, boost_z(rotate(boost_z(ev, 0.5), rng), -0.7));
      NIS_CHECK_CLOSE(v, ref, 1e-11);
      dl = std::max(dl, std::fabs(v / ref - 1));
      const double w = me1(*mc, parity(ev));
      NIS_CHECK_CLOSE(w, ref, 1e-11);
      dcp = std::max(dcp, std::fabs(w / ref - 1));
    }
    note(std::string(c.proc) + ": Lorentz", dl);
    note(std::string(c.proc) + ": CP", dcp);
  }
}

// The same process with the particles listed in another order, momenta permuted alike; identical
// quarks with their momenta exchanged.
void test_relabelling(std::mt19937_64& rng) {
  std::printf("particle order and identical-quark exchange\n");
  struct C {
    const char* a;
    const char* b;
    std::vector<int> perm;  // b's particle k is a's particle perm[k]
  };
  const std::vector<C> cases = {
      {"u u~ -> mu+ mu- d d~", "u~ u -> d~ mu- d mu+", {1, 0, 5, 3, 4, 2}},
      {"u d -> mu+ mu- u d", "d u -> d u mu- mu+", {1, 0, 5, 4, 3, 2}},
      {"u u~ -> mu+ mu- u u~", "u~ u -> u~ mu- u mu+", {1, 0, 5, 3, 4, 2}},
      {"u d -> mu+ mu- u d g", "d u -> g d mu+ u mu-", {1, 0, 6, 5, 2, 4, 3}},
      {"u g -> mu+ mu- u d d~", "g u -> d~ u mu- d mu+", {1, 0, 6, 4, 3, 5, 2}},
      {"e+ e- -> u u~ u u~ g", "e- e+ -> u~ g u u~ u", {1, 0, 3, 6, 4, 5, 2}},
      // identical quarks: exchange their momenta
      {"u u -> mu+ mu- u u", "u u -> mu+ mu- u u", {1, 0, 2, 3, 5, 4}},
      {"u u -> mu+ mu- u u g", "u u -> mu+ mu- u u g", {0, 1, 2, 3, 5, 4, 6}},
      {"e+ e- -> u u~ u u~", "e+ e- -> u u~ u u~", {0, 1, 4, 5, 2, 3}},
      {"e+ e- -> u u~ u u~", "e+ e- -> u u~ u u~", {0, 1, 4, 3, 2, 5}},
      {"e+ e- -> u u~ u u~ g", "e+ e- -> u u~ u u~ g", {0, 1, 4, 3, 2, 5, 6}},
      {"g u -> mu+ mu- u u u~", "g u -> mu+ mu- u u u~", {0, 1, 2, 3, 5, 4, 6}}};
  for (const auto& c : cases) {
    auto ma = make(c.a), mb = make(c.b);
    NIS_CHECK(ma != nullptr && mb != nullptr);
    if (!ma || !mb) continue;
    const int np = static_cast<int>(ma->info().n_particles());
    double dev = 0;
    for (int n = 0; n < 5; ++n) {
      Event ev = rambo(np - 2, 400, rng);
      const double ref = me1(*ma, ev), v = me1(*mb, permute(ev, c.perm));
      NIS_CHECK_CLOSE(v, ref, 1e-12);
      dev = std::max(dev, std::fabs(v / ref - 1));
    }
    note(std::string(c.a) + " vs " + c.b, dev);
  }
}

// A gluon collinear to a final quark: |M_{n+1}|^2 -> 2 g^2 / s_qg CF (1+z^2)/(1-z) |M_n|^2 (quark
// momentum fraction z); ratio - 1 at y = lambda^2.
void test_collinear(std::mt19937_64& rng) {
  std::printf("collinear gluon: ratio to the Altarelli-Parisi approximation - 1 at lambda = 1e-2, 1e-3, 1e-4\n");
  struct C {
    const char* born;
    const char* real;
    int i, k;
  };
  const C cases[] = {{"u u~ -> mu+ mu- d d~", "u u~ -> mu+ mu- d d~ g", 4, 5},
                     {"u d -> mu+ mu- u d", "u d -> mu+ mu- u d g", 5, 4},
                     {"e+ e- -> u u~ d d~", "e+ e- -> u u~ d d~ g", 3, 2},
                     {"e+ e- -> u u~ u u~", "e+ e- -> u u~ u u~ g", 4, 3},
                     {"u u -> mu+ mu- u u", "u u -> mu+ mu- u u g", 4, 2}};
  const double g2 = 4 * kPi * kAlphaS, CF = 4.0 / 3.0;
  for (const auto& c : cases) {
    char label[80];
    std::snprintf(label, sizeof label, "%-26s leg %d || g:", c.real, c.i + 1);
    check_collinear_limit(*make(c.born), *make(c.real), c.i, c.k, g2, [&](double z) { return CF * (1 + z * z) / (1 - z); },
                          500, rng, label);
  }
}

void test_factory() {
  std::printf("factory: processes taken and refused, info, parameters\n");
  for (const char* proc : {"u u~ -> mu+ mu- d d~", "u d -> mu+ mu- u d", "u u -> mu+ mu- u u", "u u~ -> mu+ mu- u u~",
                           "d s~ -> mu+ mu- d s~", "u u~ -> mu+ mu- d d~ g", "u g -> mu+ mu- u d d~",
                           "g u -> mu+ mu- u u u~", "u d -> mu+ mu- u d g", "e+ e- -> u u~ d d~ g",
                           "e+ e- -> u u~ u u~", "u~ u~ -> ta+ ta- u~ u~", "e- u -> e- u d d~"}) {
    auto m = nis::create(proc);
    NIS_CHECK(dynamic_cast<nis::LeptonPairFourQuarks*>(m.get()) != nullptr);
  }
  for (const char* proc : {"u u~ -> mu+ mu- d d~ g g", "u u~ -> mu+ mu- u d~", "u u~ -> e+ mu- d d~",
                           "u u~ -> mu+ mu- d d~ u u~", "u u~ -> mu+ mu- g g", "u u~ -> ve ve~ d d~",
                           "e+ e- -> u u~ d d~ a", "u u~ -> mu+ mu-", "u d -> mu+ mu- u c", "g g -> mu+ mu- u u~ d d~",
                           "e+ e- -> u u~ d d~ mu+ mu-", "u u~ -> mu+ mu+ d d~", "u u~ -> mu+ mu- t t~"})
    NIS_CHECK(make(proc) == nullptr);
  auto a = make("u u -> mu+ mu- u u");
  NIS_CHECK_CLOSE(a->info().symmetry_factor, 0.5, 1e-15);
  NIS_CHECK_CLOSE(a->info().average, 1.0 / 36, 1e-15);
  NIS_CHECK(a->info().order_qcd == 2 && a->info().order_qed == 2 && a->n_pairings() == 2);
  auto b = make("e+ e- -> u u~ u u~ g");
  NIS_CHECK_CLOSE(b->info().symmetry_factor, 0.25, 1e-15);
  NIS_CHECK_CLOSE(b->info().average, 0.25, 1e-15);
  NIS_CHECK(b->info().order_qcd == 3 && b->info().order_qed == 2 && b->n_basis() == 8);
  auto c = make("u g -> mu+ mu- u d d~");
  NIS_CHECK_CLOSE(c->info().average, 1.0 / 96, 1e-15);
  NIS_CHECK_CLOSE(c->info().symmetry_factor, 1.0, 1e-15);
  NIS_CHECK(c->n_pairings() == 1);
  bool threw = false;
  try {
    make("u d -> mu+ mu- u d", {{"z_exchange", 0}});
  } catch (const nis::Error& e) {
    threw = e.code() == NIS_ERR_BAD_PARAMETER;
  }
  NIS_CHECK(threw);
  std::mt19937_64 rng(7);
  Event ev = rambo(5, 300, rng);
  NIS_CHECK_CLOSE(me1(*make("u d -> mu+ mu- u d g", {{"alpha_s", 0.2}}), ev) / me1(*make("u d -> mu+ mu- u d g"), ev),
                  std::pow(0.2 / kAlphaS, 3), 1e-13);
}

void timings(std::mt19937_64& rng) {
  std::printf("timings (one core, per event, -O2 as built):\n");
  for (const char* proc : {"u u~ -> mu+ mu- d d~", "u u~ -> mu+ mu- u u~", "e+ e- -> u u~ u u~",
                           "u u~ -> mu+ mu- d d~ g",
                           "u d -> mu+ mu- u d g", "u u -> mu+ mu- u u g", "u g -> mu+ mu- u u u~",
                           "e+ e- -> u u~ u u~ g"}) {
    std::printf("  %-26s %10.3f us/event\n", proc, microseconds_per_event(*make(proc), rng));
  }
}

}  // namespace

int main() {
  std::mt19937_64 rng(20251201);
  test_colour();
  test_gauge(rng);
  test_lorentz_and_cp(rng);
  test_relabelling(rng);
  test_collinear(rng);
  test_factory();
  timings(rng);
  return nis_test::summary("test_four_quarks");
}
