// nis: four-vectors for the built-in matrix elements. Vec4<T> holds contravariant components
// (E, px, py, pz) of a real (T = double) or complex (T = cplx) four-vector; mdot is the
// Minkowski product with metric (+,-,-,-) and no complex conjugation.
#pragma once

#include <complex>

namespace nis {

using cplx = std::complex<double>;

template <class T>
struct Vec4 {
  T v[4];
  T& operator[](int i) { return v[i]; }
  const T& operator[](int i) const { return v[i]; }
};
using RVec4 = Vec4<double>;
using CVec4 = Vec4<cplx>;

inline RVec4 load_vec4(const double* p) { return {{p[0], p[1], p[2], p[3]}}; }

template <class A, class B>
inline auto mdot(const Vec4<A>& a, const Vec4<B>& b) {
  return a.v[0] * b.v[0] - a.v[1] * b.v[1] - a.v[2] * b.v[2] - a.v[3] * b.v[3];
}
template <class A>
inline auto msq(const Vec4<A>& a) { return mdot(a, a); }

template <class T>
inline Vec4<T> operator+(const Vec4<T>& a, const Vec4<T>& b) {
  return {{a.v[0] + b.v[0], a.v[1] + b.v[1], a.v[2] + b.v[2], a.v[3] + b.v[3]}};
}
template <class T>
inline Vec4<T> operator-(const Vec4<T>& a, const Vec4<T>& b) {
  return {{a.v[0] - b.v[0], a.v[1] - b.v[1], a.v[2] - b.v[2], a.v[3] - b.v[3]}};
}
template <class T>
inline Vec4<T> operator-(const Vec4<T>& a) { return {{-a.v[0], -a.v[1], -a.v[2], -a.v[3]}}; }
template <class T, class S>
inline Vec4<T> operator*(S s, const Vec4<T>& a) {
  return {{s * a.v[0], s * a.v[1], s * a.v[2], s * a.v[3]}};
}
template <class T>
inline Vec4<T>& operator+=(Vec4<T>& a, const Vec4<T>& b) {
  for (int i = 0; i < 4; ++i) a.v[i] += b.v[i];
  return a;
}

}  // namespace nis
