// nis: massless Weyl spinors, sigma-matrix contractions and gluon polarisation vectors.
//
// Chiral representation (Peskin-Schroeder): gamma^mu = [[0, sigma^mu], [sigmabar^mu, 0]],
// sigma^mu = (1, sigma_i), sigmabar^mu = (1, -sigma_i), gamma5 = diag(-1, 1). A massless Dirac
// spinor of definite chirality has one non-zero two-component half:
//   u_+(p) = (0, lambda_plus(p)),  u_-(p) = (lambda_minus(p), 0),
//   v(p) for the right-chiral field = (0, -lambda_plus(p)), for the left-chiral = (lambda_minus(p), 0),
// with lambda_pm(p) = sqrt(2E) xi_pm(p), xi_pm the helicity eigenstates of p_hat.sigma.
// All momenta here have positive energy (physical momenta); crossing is done by the callers,
// which use physical spinors for incoming and outgoing fermions. Overall phases of the spinors
// are convention-dependent and cancel in every |M|^2.
#pragma once

#include <cmath>

#include "nis/lorentz.hpp"

namespace nis {

struct Weyl {
  cplx c[2];
};
// 2x2 complex matrix, row-major
struct Mat2 {
  cplx m[2][2];
};

// sqrt(2E) xi_+(p), regular for every direction of p (two charts, |E + pz| or |E - pz|).
inline Weyl lambda_plus(const RVec4& p) {
  if (p[3] >= 0) {
    const double r = std::sqrt(p[0] + p[3]);
    return {{cplx(r, 0), cplx(p[1], p[2]) / r}};
  }
  const double r = std::sqrt(p[0] - p[3]);
  return {{cplx(p[1], -p[2]) / r, cplx(r, 0)}};
}
// sqrt(2E) xi_-(p)
inline Weyl lambda_minus(const RVec4& p) {
  if (p[3] >= 0) {
    const double r = std::sqrt(p[0] + p[3]);
    return {{-cplx(p[1], -p[2]) / r, cplx(r, 0)}};
  }
  const double r = std::sqrt(p[0] - p[3]);
  return {{cplx(-r, 0), cplx(p[1], p[2]) / r}};
}
inline Weyl conj(const Weyl& a) { return {{std::conj(a.c[0]), std::conj(a.c[1])}}; }

// J.sigma = J_mu sigma^mu = J^0 - J^i sigma_i
template <class T>
inline Mat2 slash_sigma(const Vec4<T>& J) {
  const cplx j0 = J[0], j1 = J[1], j2 = J[2], j3 = J[3];
  const cplx I(0, 1);
  return {{{j0 - j3, -(j1 - I * j2)}, {-(j1 + I * j2), j0 + j3}}};
}
// J.sigmabar = J^0 + J^i sigma_i
template <class T>
inline Mat2 slash_sigmabar(const Vec4<T>& J) {
  const cplx j0 = J[0], j1 = J[1], j2 = J[2], j3 = J[3];
  const cplx I(0, 1);
  return {{{j0 + j3, j1 - I * j2}, {j1 + I * j2, j0 - j3}}};
}
inline Mat2 operator*(const Mat2& a, const Mat2& b) {
  Mat2 r;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) r.m[i][j] = a.m[i][0] * b.m[0][j] + a.m[i][1] * b.m[1][j];
  return r;
}
// row spinor times matrix, matrix times column spinor
inline Weyl operator*(const Weyl& r, const Mat2& a) {
  return {{r.c[0] * a.m[0][0] + r.c[1] * a.m[1][0], r.c[0] * a.m[0][1] + r.c[1] * a.m[1][1]}};
}
inline Weyl operator*(const Mat2& a, const Weyl& c) {
  return {{a.m[0][0] * c.c[0] + a.m[0][1] * c.c[1], a.m[1][0] * c.c[0] + a.m[1][1] * c.c[1]}};
}
inline cplx sandwich(const Weyl& r, const Mat2& a, const Weyl& c) { return (r * a).c[0] * c.c[0] + (r * a).c[1] * c.c[1]; }

// r sigma^mu c and r sigmabar^mu c as contravariant four-vectors
inline CVec4 current_sigma(const Weyl& r, const Weyl& c) {
  const cplx I(0, 1);
  return {{r.c[0] * c.c[0] + r.c[1] * c.c[1], r.c[0] * c.c[1] + r.c[1] * c.c[0],
           -I * r.c[0] * c.c[1] + I * r.c[1] * c.c[0], r.c[0] * c.c[0] - r.c[1] * c.c[1]}};
}
inline CVec4 current_sigmabar(const Weyl& r, const Weyl& c) {
  const CVec4 j = current_sigma(r, c);
  return {{j[0], -j[1], -j[2], -j[3]}};
}

// Transverse unit vectors e1 = (cos th cos ph, cos th sin ph, -sin th), e2 = (-sin ph, cos ph, 0)
// of a momentum k (spatial part non-zero); e1, e2, k_hat form a right-handed frame.
inline void transverse_frame(const RVec4& k, RVec4& e1, RVec4& e2) {
  const double kt2 = k[1] * k[1] + k[2] * k[2];
  const double kk = std::sqrt(kt2 + k[3] * k[3]);
  const double kt = std::sqrt(kt2);
  const double ct = k[3] / kk, st = kt / kk;
  const double cp = kt > 0 ? k[1] / kt : 1.0, sp = kt > 0 ? k[2] / kt : 0.0;
  e1 = {{0.0, ct * cp, ct * sp, -st}};
  e2 = {{0.0, -sp, cp, 0.0}};
}
// Linear polarisation vectors (real): i = 0 -> e1, i = 1 -> e2. Summing |M|^2 over both is the
// same as summing over the two helicities.
inline RVec4 polarisation_linear(const RVec4& k, int i) {
  RVec4 e1, e2;
  transverse_frame(k, e1, e2);
  return i == 0 ? e1 : e2;
}
// Helicity polarisation vectors eps_pm(k) = (-+ e1 - i e2)/sqrt(2), helicity h = +1 or -1.
inline CVec4 polarisation_helicity(const RVec4& k, int h) {
  RVec4 e1, e2;
  transverse_frame(k, e1, e2);
  const double s = 1.0 / std::sqrt(2.0);
  CVec4 r;
  for (int m = 0; m < 4; ++m) r[m] = cplx(-h * s * e1[m], -s * e2[m]);
  return r;
}

}  // namespace nis
