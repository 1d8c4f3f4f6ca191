// Shared helpers of the C++ checks of the built-in providers: events as flat momentum arrays
// (particle i at [4 i, 4 i + 4), incoming first), RAMBO points, rotations, boosts, parity,
// relabellings, the Catani-Seymour emission map, and explicit SU(3) generators.
#pragma once

#include <array>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "check.hpp"
#include "nis/lorentz.hpp"
#include "nis/matrix_element.hpp"

namespace nis_test {

using nis::cplx;
using Event = std::vector<double>;
constexpr double kPi = 3.14159265358979323846;


inline double me1(const nis::MatrixElement& m, const Event& ev) {
  double out = 0;
  m.evaluate(1, ev.data(), &out);
  return out;
}

inline double dot(const double* a, const double* b) { return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]; }
inline const double* P(const Event& ev, int i) { return ev.data() + 4 * i; }

// RAMBO (Kleiss, Stirling, Ellis): n massless final-state momenta, flat in phase space, beams along z.
inline Event rambo(int n, double rs, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> U(0, 1);
  Event ev(4 * (n + 2), 0.0);
  ev[0] = rs / 2, ev[3] = rs / 2, ev[4] = rs / 2, ev[7] = -rs / 2;
  std::vector<std::array<double, 4>> q(n);
  double Q[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    const double c = 2 * U(rng) - 1, ph = 2 * kPi * U(rng), q0 = -std::log(U(rng) * U(rng));
    const double st = std::sqrt(1 - c * c);
    q[i] = {q0, q0 * st * std::cos(ph), q0 * st * std::sin(ph), q0 * c};
    for (int m = 0; m < 4; ++m) Q[m] += q[i][m];
  }
  const double M = std::sqrt(Q[0] * Q[0] - Q[1] * Q[1] - Q[2] * Q[2] - Q[3] * Q[3]);
  const double b[3] = {-Q[1] / M, -Q[2] / M, -Q[3] / M};
  const double x = rs / M, g = Q[0] / M, a = 1 / (1 + g);
  for (int i = 0; i < n; ++i) {
    const double bq = b[0] * q[i][1] + b[1] * q[i][2] + b[2] * q[i][3];
    double* p = &ev[4 * (i + 2)];
    p[0] = x * (g * q[i][0] + bq);
    for (int k = 0; k < 3; ++k) p[k + 1] = x * (q[i][k + 1] + b[k] * q[i][0] + a * bq * b[k]);
  }
  return ev;
}

// random rotation of every momentum
inline Event rotate(const Event& ev, std::mt19937_64& rng) {
  std::normal_distribution<double> N(0, 1);
  double q[4];
  double nq = 0;
  for (double& x : q) x = N(rng), nq += x * x;
  for (double& x : q) x /= std::sqrt(nq);
  const double w = q[0], x = q[1], y = q[2], z = q[3];
  const double R[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
                          {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
                          {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)}};
  Event out = ev;
  for (std::size_t i = 0; i < ev.size() / 4; ++i)
    for (int a = 0; a < 3; ++a) {
      double s = 0;
      for (int b = 0; b < 3; ++b) s += R[a][b] * ev[4 * i + 1 + b];
      out[4 * i + 1 + a] = s;
    }
  return out;
}
inline Event boost_z(const Event& ev, double beta) {
  const double g = 1 / std::sqrt(1 - beta * beta);
  Event out = ev;
  for (std::size_t i = 0; i < ev.size() / 4; ++i) {
    out[4 * i] = g * (ev[4 * i] + beta * ev[4 * i + 3]);
    out[4 * i + 3] = g * (ev[4 * i + 3] + beta * ev[4 * i]);
  }
  return out;
}
inline Event swap_particles(const Event& ev, int i, int j) {
  Event out = ev;
  for (int m = 0; m < 4; ++m) std::swap(out[4 * i + m], out[4 * j + m]);
  return out;
}

// Catani-Seymour final-final inverse map: from a Born event, emitter i and spectator k (final
// state), builds an event with one more particle appended: p_i = z pi~ + (1-z) y pk~ + kt,
// p_new = (1-z) pi~ + z y pk~ - kt, p_k = (1-y) pk~, kt^2 = -2 z (1-z) y pi~.pk~ (exact kinematics).
inline Event emit(const Event& born, int i, int k, double y, double z, double phi) {
  nis::RVec4 pi = nis::load_vec4(P(born, i)), pk = nis::load_vec4(P(born, k));
  const double pik = nis::mdot(pi, pk);
  // two unit space-like vectors orthogonal to pi and pk
  auto perp = [&](nis::RVec4 r) {
    return r - (nis::mdot(r, pk) / pik) * pi - (nis::mdot(r, pi) / pik) * pk;
  };
  nis::RVec4 e1 = perp({{0, 1, 0.3, 0.2}});
  e1 = (1 / std::sqrt(-nis::msq(e1))) * e1;
  nis::RVec4 e2 = perp({{0, 0.1, 1, -0.4}});
  e2 = e2 + nis::mdot(e2, e1) * e1;
  e2 = (1 / std::sqrt(-nis::msq(e2))) * e2;
  const double kt = std::sqrt(2 * z * (1 - z) * y * pik);
  const nis::RVec4 ktv = (kt * std::cos(phi)) * e1 + (kt * std::sin(phi)) * e2;
  const nis::RVec4 ni = z * pi + ((1 - z) * y) * pk + ktv;
  const nis::RVec4 nj = (1 - z) * pi + (z * y) * pk - ktv;
  const nis::RVec4 nk = (1 - y) * pk;
  Event out = born;
  for (int m = 0; m < 4; ++m) out[4 * i + m] = ni[m], out[4 * k + m] = nk[m];
  for (int m = 0; m < 4; ++m) out.push_back(nj[m]);
  return out;
}

// The collinear limit of emitting a gluon off leg i (spectator k; emit() above) of a RAMBO Born
// event at sqrt(s) = rs and z = 0.35: |M_real|^2 over 2 g2 / s_i,new P(z) |M_born|^2 (P(z) the
// splitting function's value, Pz(z)), averaged over four azimuths, minus 1, at y = lambda^2 for
// lambda = 1e-2, 1e-3, 1e-4: printed after `label`, checked to fall like lambda.
template <class SplittingFunction>
void check_collinear_limit(const nis::MatrixElement& born_me, const nis::MatrixElement& real, int i, int k, double g2,
                           SplittingFunction Pz, double rs, std::mt19937_64& rng, const std::string& label) {
  const int nb = static_cast<int>(born_me.info().n_particles());
  const Event born = rambo(nb - 2, rs, rng);
  const double z = 0.35, bme = me1(born_me, born);
  std::printf("  %s", label.c_str());
  double prev = 1;
  for (double lam : {1e-2, 1e-3, 1e-4}) {
    double ratio = 0;
    for (int a = 0; a < 4; ++a) {
      Event ev = emit(born, i, k, lam * lam, z, 0.3 + a * kPi / 2);
      ratio += me1(real, ev) / (2 * g2 / (2 * dot(P(ev, i), P(ev, nb))) * Pz(z) * bme) / 4;
    }
    const double r = ratio - 1;
    std::printf("  %.2e", r);
    NIS_CHECK(std::fabs(r) < 30 * lam);
    NIS_CHECK(std::fabs(r) < std::fabs(prev));
    prev = r;
  }
  std::printf("\n");
}

// space reflection of every momentum
inline Event parity(const Event& ev) {
  Event out = ev;
  for (std::size_t i = 0; i < ev.size() / 4; ++i)
    for (int a = 1; a < 4; ++a) out[4 * i + a] = -ev[4 * i + a];
  return out;
}
// out[k] = ev[perm[k]]
inline Event permute(const Event& ev, const std::vector<int>& perm) {
  Event out(ev.size());
  for (std::size_t k = 0; k < perm.size(); ++k)
    for (int m = 0; m < 4; ++m) out[4 * k + m] = ev[4 * perm[k] + m];
  return out;
}

// ---------------- explicit SU(3): Gell-Mann matrices, structure constants --------------------
struct SU3 {
  cplx t[8][3][3] = {};
  double f[8][8][8] = {};
  SU3() {
    const cplx I(0, 1);
    auto set = [&](int a, int i, int j, cplx v) { t[a][i][j] = 0.5 * v; };
    set(0, 0, 1, 1), set(0, 1, 0, 1);
    set(1, 0, 1, -I), set(1, 1, 0, I);
    set(2, 0, 0, 1), set(2, 1, 1, -1);
    set(3, 0, 2, 1), set(3, 2, 0, 1);
    set(4, 0, 2, -I), set(4, 2, 0, I);
    set(5, 1, 2, 1), set(5, 2, 1, 1);
    set(6, 1, 2, -I), set(6, 2, 1, I);
    const double r3 = 1 / std::sqrt(3.0);
    set(7, 0, 0, r3), set(7, 1, 1, r3), set(7, 2, 2, -2 * r3);
    // f^abc = -2 i Tr([t^a, t^b] t^c)
    for (int a = 0; a < 8; ++a)
      for (int b = 0; b < 8; ++b)
        for (int c = 0; c < 8; ++c) {
          cplx tr = 0;
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
              for (int k = 0; k < 3; ++k)
                tr += (t[a][i][j] * t[b][j][k] - t[b][i][j] * t[a][j][k]) * t[c][k][i];
          f[a][b][c] = std::real(-2.0 * I * tr);
        }
  }
};
inline const SU3& su3() {
  static SU3 s;
  return s;
}

// Wall time per event of m.evaluate on 200 RAMBO points at sqrt(s) = 500 GeV (repeated for 0.2 s).
inline double microseconds_per_event(const nis::MatrixElement& m, std::mt19937_64& rng) {
  const int np = static_cast<int>(m.info().n_particles());
  const int n = 200;
  std::vector<double> mom;
  for (int k = 0; k < n; ++k) {
    Event ev = rambo(np - 2, 500, rng);
    mom.insert(mom.end(), ev.begin(), ev.end());
  }
  std::vector<double> out(n);
  int reps = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  do {
    m.evaluate(n, mom.data(), out.data());
    ++reps;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < 0.2);
  return 1e6 * el / (reps * n);
}

}  // namespace nis_test
