// nis: a minimal check harness for the C++ tests (one executable per test_*.cpp, run by ctest).
//   NIS_CHECK(cond) and NIS_CHECK_CLOSE(a, b, rel) record failures with file:line; main returns
//   nis_test::summary() so ctest sees a non-zero exit on any failure.
#pragma once

#include <cmath>
#include <cstdio>

namespace nis_test {
inline int& failures() {
  static int n = 0;
  return n;
}
inline int& checks() {
  static int n = 0;
  return n;
}
inline void fail(const char* file, int line, const char* what) {
  ++failures();
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
}
inline bool close(double a, double b, double rel) {
  return std::fabs(a - b) <= rel * std::fmax(std::fabs(a), std::fabs(b)) || a == b;
}
inline int summary(const char* name) {
  std::printf("%s: %d checks, %d failed\n", name, checks(), failures());
  return failures() == 0 ? 0 : 1;
}
}  // namespace nis_test

#define NIS_CHECK(cond)                                          \
  do {                                                           \
    ++nis_test::checks();                                        \
    if (!(cond)) nis_test::fail(__FILE__, __LINE__, #cond);      \
  } while (0)

#define NIS_CHECK_CLOSE(a, b, rel)                                                                         \
  do {                                                                                                     \
    ++nis_test::checks();                                                                                  \
    const double nis_a_ = (a), nis_b_ = (b);                                                               \
    if (!nis_test::close(nis_a_, nis_b_, (rel))) {                                                         \
      char nis_msg_[256];                                                                                  \
      std::snprintf(nis_msg_, sizeof nis_msg_, "%s = %.17g vs %s = %.17g (rel %.3g)", #a, nis_a_, #b, nis_b_, \
                    (double)(rel));                                                                        \
      nis_test::fail(__FILE__, __LINE__, nis_msg_);                                                        \
    }                                                                                                      \
  } while (0)
