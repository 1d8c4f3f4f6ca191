// nis: exact SU(N) colour algebra for the colour matrices of the built-in processes.
//
// Everything is evaluated for a real number of colours N (no explicit generators): products of
// traces of fundamental generators t^a (Tr t^a t^b = delta^ab / 2), every adjoint label occurring
// exactly twice, are reduced with the Fierz identity
//   sum_a t^a_ij t^a_kl = (delta_il delta_kj - delta_ij delta_kl / N) / 2 .
// Adjoint traces use adj = N x Nbar - singlet:  Tr_adj(T^a1..T^ak) = sum over subsets S of
// (-1)^|S| Tr(t's not in S, in order) Tr(t's in S, in reverse order).
// The colour matrices are computed once, at construction of a provider.
#pragma once

#include <map>
#include <utility>
#include <vector>

namespace nis {
namespace colour {

using Traces = std::vector<std::vector<int>>;

// Value of a product of fundamental traces with every label contracted.
inline double trace_product(Traces tr, double N) {
  double factor = 1.0;
  // drop empty traces (Tr 1 = N); a trace with a single generator vanishes
  std::size_t i = 0;
  while (i < tr.size()) {
    if (tr[i].empty()) {
      factor *= N;
      tr.erase(tr.begin() + static_cast<long>(i));
    } else if (tr[i].size() == 1) {
      return 0.0;
    } else {
      ++i;
    }
  }
  if (tr.empty()) return factor;
  const std::vector<int> t0 = tr[0];
  const int a = t0[0];
  // partner in the same trace?
  for (std::size_t p = 1; p < t0.size(); ++p) {
    if (t0[p] != a) continue;
    std::vector<int> X(t0.begin() + 1, t0.begin() + static_cast<long>(p));
    std::vector<int> Y(t0.begin() + static_cast<long>(p) + 1, t0.end());
    Traces rest(tr.begin() + 1, tr.end());
    Traces t1 = rest;  // Tr(X) Tr(Y)
    t1.push_back(X);
    t1.push_back(Y);
    Traces t2 = rest;  // Tr(X Y) / N
    std::vector<int> XY = X;
    XY.insert(XY.end(), Y.begin(), Y.end());
    t2.push_back(XY);
    return factor * 0.5 * (trace_product(t1, N) - trace_product(t2, N) / N);
  }
  for (std::size_t j = 1; j < tr.size(); ++j) {
    const std::vector<int>& tj = tr[j];
    for (std::size_t p = 0; p < tj.size(); ++p) {
      if (tj[p] != a) continue;
      std::vector<int> X(t0.begin() + 1, t0.end());
      std::vector<int> Y(tj.begin() + static_cast<long>(p) + 1, tj.end());
      Y.insert(Y.end(), tj.begin(), tj.begin() + static_cast<long>(p));
      Traces rest;
      for (std::size_t k = 1; k < tr.size(); ++k)
        if (k != j) rest.push_back(tr[k]);
      Traces t1 = rest;  // Tr(X Y)
      std::vector<int> XY = X;
      XY.insert(XY.end(), Y.begin(), Y.end());
      t1.push_back(XY);
      Traces t2 = rest;  // Tr(X) Tr(Y) / N
      t2.push_back(X);
      t2.push_back(Y);
      return factor * 0.5 * (trace_product(t1, N) - trace_product(t2, N) / N);
    }
  }
  return 0.0;  // unpaired label: cannot happen for a fully contracted product
}

// Tr_adj(T^{l_1} ... T^{l_k}) with adjoint generators (T^a)_bc = -i f^abc (Tr_adj T^a T^b = N delta).
inline double adjoint_trace(const std::vector<int>& labels, double N) {
  const std::size_t k = labels.size();
  double sum = 0.0;
  for (unsigned long S = 0; S < (1ul << k); ++S) {
    std::vector<int> in_order, reversed;
    int sign = 1;
    for (std::size_t i = 0; i < k; ++i) {
      if (S >> i & 1ul) {
        reversed.insert(reversed.begin(), labels[i]);
        sign = -sign;
      } else {
        in_order.push_back(labels[i]);
      }
    }
    sum += sign * trace_product({in_order, reversed}, N);
  }
  return sum;
}

// Relative permutation rho with rho_i = position of tau_i in sigma (relabelling invariance:
// a fully contracted colour factor depends only on it).
inline std::vector<int> relative(const std::vector<int>& sigma, const std::vector<int>& tau) {
  std::map<int, int> pos;
  for (std::size_t i = 0; i < sigma.size(); ++i) pos[sigma[i]] = static_cast<int>(i);
  std::vector<int> rho;
  for (int t : tau) rho.push_back(pos.at(t));
  return rho;
}

// The colour matrix C[s][t] = 2^n * trace(reversed(s) then t) of orderings of n labels, where
// `trace` contracts a label sequence (reversed sigma followed by tau). A fully contracted colour
// factor depends only on the relative permutation of s and t, so each is computed once.
template <class Trace>
std::vector<double> ordering_matrix(const std::vector<std::vector<int>>& orderings, Trace trace) {
  const std::size_t m = orderings.size();
  std::vector<double> C(m * m);
  std::map<std::vector<int>, double> memo;
  for (std::size_t s = 0; s < m; ++s)
    for (std::size_t t = 0; t < m; ++t) {
      const std::vector<int> rho = relative(orderings[s], orderings[t]);
      auto it = memo.find(rho);
      if (it == memo.end()) {
        const std::size_t n = rho.size();
        std::vector<int> labels;
        for (std::size_t i = n; i-- > 0;) labels.push_back(static_cast<int>(i));
        for (int r : rho) labels.push_back(r);
        it = memo.emplace(rho, static_cast<double>(1ul << n) * trace(labels)).first;
      }
      C[s * m + t] = it->second;
    }
  return C;
}

// Quark line with gluons: colour factors c_sigma = (T^{a_s1} ... T^{a_sn})_{i jbar}, T = sqrt(2) t.
// C[s][t] = sum over colours of c_s^* c_t = 2^n Tr(t^{s_n} .. t^{s_1} t^{t_1} .. t^{t_n}).
inline std::vector<double> quark_line_matrix(const std::vector<std::vector<int>>& orderings, double N) {
  return ordering_matrix(orderings, [N](const std::vector<int>& tr) { return trace_product({tr}, N); });
}

// Del Duca-Dixon-Maltoni adjoint basis: c_sigma = (F^{a_s1} ... F^{a_sk})_{a_first a_last},
// (F^a)_bc = ftilde^{bac}, ftilde^{abc} = Tr([T^a, T^b] T^c) (T = sqrt(2) t), so that
// C[s][t] = 2^k Tr_adj(T^{s_k} .. T^{s_1} T^{t_1} .. T^{t_k}); `orderings` are the k middle legs.
inline std::vector<double> adjoint_matrix(const std::vector<std::vector<int>>& orderings, double N) {
  return ordering_matrix(orderings, [N](const std::vector<int>& labels) { return adjoint_trace(labels, N); });
}

}  // namespace colour
}  // namespace nis
