// nis: Berends-Giele recursion for colour-ordered tree amplitudes with gluons and one massless
// quark line, compiled once into a table of ordered sub-currents ("forest") and evaluated per
// event without allocation.
//
// Colour-ordered Feynman rules (all momenta outgoing, T^a = sqrt(2) t^a, Tr T^a T^b = delta^ab):
//   3-gluon vertex (i/sqrt2)[g_{mu1 mu2}(k1-k2)_{mu3} + cyclic], 4-gluon vertex
//   (i/2)[2 g_{mu1 mu3} g_{mu2 mu4} - g_{mu1 mu2} g_{mu3 mu4} - g_{mu1 mu4} g_{mu2 mu3}],
//   gluon propagator -i g_{mu nu}/P^2 (Feynman gauge), quark-gluon vertex (i/sqrt2) gamma^mu,
//   quark propagator i Pslash/P^2 (P along the fermion arrow).
// With the factors of i absorbed, the gluon current of an ordered set of legs is
//   J(1..n) = 1/P^2 [ 1/sqrt2 sum_k V3(J(1..k), J(k+1..n)) + 1/2 sum_{j<k} V4(J(1..j), J(j+1..k), J(k+1..n)) ]
//   V3(J1, J2) = J1 (-2P1-P2).J2 + (P1-P2) J1.J2 + J2 (2P2+P1).J1   (exact, no current conservation assumed)
//   V4(A, B, C) = 2 B (A.C) - A (B.C) - C (A.B),
// J of one leg = its polarisation vector. Amplitudes are known up to an overall phase common to
// all orderings, which cancels in |M|^2.
//
// Polarisation-aware caching: every node (ordered tuple of legs) stores its current for all
// 2^len polarisation assignments of its own legs, bit i = polarisation of the i-th leg of the
// tuple. Sub-tuples are contiguous, so the index of a combination is the concatenation of the
// children's indices. Each sub-current is computed once per event for all orderings and all
// polarisation configurations.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <vector>

#include "nis/lorentz.hpp"
#include "nis/spinors.hpp"

namespace nis {
namespace bg {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr int kMaxLegs = 7;  // 2^kMaxLegs polarisation combinations per node at most

struct Node {
  std::vector<int> legs;  // ordered labels
  int len = 0;
  std::size_t offset = 0;  // first of 2^len values
  bool propagate = true;   // multiply by 1/P^2 (false for the root of an amplitude)
  std::vector<std::array<int, 2>> s3;  // (left, right) children for the 3-vertex
  std::vector<std::array<int, 3>> s4;  // (a, b, c) children for the 4-vertex
};

// Gluon sub-currents, real arithmetic (real polarisation vectors or momenta as "polarisations").
// For each ordering o of n gluon labels and each global polarisation configuration g (bit l =
// polarisation of gluon label l), the local index (bit i = polarisation of the i-th gluon in the
// ordering) under which an ordering's amplitudes are stored: result[o * 2^n + g].
inline std::vector<int> polarisation_index(const std::vector<std::vector<int>>& orderings, int n) {
  const int ng = 1 << n;
  std::vector<int> local(orderings.size() * ng);
  for (std::size_t o = 0; o < orderings.size(); ++o)
    for (int g = 0; g < ng; ++g) {
      int loc = 0;
      for (int pos = 0; pos < n; ++pos) loc |= ((g >> orderings[o][pos]) & 1) << pos;
      local[o * ng + g] = loc;
    }
  return local;
}

class GluonForest {
 public:
  // Registers the ordered tuple `legs` and all its contiguous sub-tuples; returns its node id.
  int add(const std::vector<int>& legs, bool propagate = true) {
    std::vector<int> key = legs;
    key.push_back(propagate ? 1 : 0);
    auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    Node node;
    node.legs = legs;
    node.len = static_cast<int>(legs.size());
    node.propagate = propagate;
    const int L = node.len;
    auto sub = [&](int a, int b) {
      return add(std::vector<int>(legs.begin() + a, legs.begin() + b), true);
    };
    for (int k = 1; k < L; ++k) node.s3.push_back({sub(0, k), sub(k, L)});
    for (int j = 1; j < L; ++j)
      for (int k = j + 1; k < L; ++k) node.s4.push_back({sub(0, j), sub(j, k), sub(k, L)});
    node.offset = size_;
    size_ += std::size_t(1) << L;
    nodes_.push_back(node);
    const int id = static_cast<int>(nodes_.size()) - 1;
    index_[key] = id;
    return id;
  }
  std::size_t n_values() const { return size_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  // p[leg]: all-outgoing momentum of each leg; eps[2*leg+i]: its polarisation i (i = 0, 1).
  // values: n_values() entries, P: nodes().size() entries (node momenta), both scratch owned by the caller.
  void evaluate(const RVec4* p, const RVec4* eps, RVec4* values, RVec4* P) const {
    for (std::size_t id = 0; id < nodes_.size(); ++id) {
      const Node& nd = nodes_[id];
      RVec4* out = values + nd.offset;
      if (nd.len == 1) {
        const int l = nd.legs[0];
        P[id] = p[l];
        out[0] = eps[2 * l];
        out[1] = eps[2 * l + 1];
        continue;
      }
      P[id] = P[nd.s3[0][0]] + P[nd.s3[0][1]];
      const int ncomb = 1 << nd.len;
      for (int c = 0; c < ncomb; ++c) out[c] = {{0, 0, 0, 0}};
      for (const auto& s : nd.s3) {
        const Node& l = nodes_[s[0]];
        const Node& r = nodes_[s[1]];
        const RVec4 &P1 = P[s[0]], &P2 = P[s[1]];
        const RVec4 A = -(2.0 * P1 + P2), B = 2.0 * P2 + P1, D = kInvSqrt2 * (P1 - P2);
        const RVec4* J1 = values + l.offset;
        const RVec4* J2 = values + r.offset;
        const int nl = 1 << l.len, nr = 1 << r.len;
        double bi[1 << kMaxLegs], aj[1 << kMaxLegs];
        for (int i = 0; i < nl; ++i) bi[i] = kInvSqrt2 * mdot(B, J1[i]);
        for (int j = 0; j < nr; ++j) aj[j] = kInvSqrt2 * mdot(A, J2[j]);
        for (int j = 0; j < nr; ++j) {
          RVec4* o = out + (j << l.len);
          for (int i = 0; i < nl; ++i) {
            const double d = mdot(J1[i], J2[j]);
            for (int m = 0; m < 4; ++m) o[i][m] += aj[j] * J1[i][m] + d * D[m] + bi[i] * J2[j][m];
          }
        }
      }
      for (const auto& s : nd.s4) {
        const Node& na = nodes_[s[0]];
        const Node& nb = nodes_[s[1]];
        const Node& nc = nodes_[s[2]];
        const RVec4* JA = values + na.offset;
        const RVec4* JB = values + nb.offset;
        const RVec4* JC = values + nc.offset;
        const int la = 1 << na.len, lb = 1 << nb.len, lc = 1 << nc.len;
        for (int k = 0; k < lc; ++k)
          for (int j = 0; j < lb; ++j) {
            const double bc = 0.5 * mdot(JB[j], JC[k]);
            RVec4* o = out + (j << na.len) + (k << (na.len + nb.len));
            for (int i = 0; i < la; ++i) {
              const double ac = mdot(JA[i], JC[k]), ab = 0.5 * mdot(JA[i], JB[j]);
              for (int m = 0; m < 4; ++m) o[i][m] += ac * JB[j][m] - bc * JA[i][m] - ab * JC[k][m];
            }
          }
      }
      if (nd.propagate) {
        const double inv = 1.0 / msq(P[id]);
        for (int c = 0; c < ncomb; ++c) out[c] = inv * out[c];
      }
    }
  }

 private:
  std::map<std::vector<int>, int> index_;
  std::vector<Node> nodes_;
  std::size_t size_ = 0;
};

// One massless quark line ubar(q) ... v(qbar) with n gluons attached in every order, with a
// colourless vector current inserted anywhere on the line and contracted with a given vector L.
// Helicity is conserved on the line: chirality R uses the upper-row / lower-column halves of
// the Dirac spinors (sigma in the vertex), chirality L the other halves (sigmabar).
class QuarkLineForest {
 public:
  struct LineNode {
    std::vector<int> legs;
    int len = 0;
    std::size_t offset = 0;
    std::vector<std::array<int, 2>> splits;  // row: (row node, gluon node); column: (gluon node, column node)
  };

  explicit QuarkLineForest(int n_gluons) : n_(n_gluons) {
    std::vector<int> perm(n_);
    for (int i = 0; i < n_; ++i) perm[i] = i;
    do {
      orderings_.push_back(perm);
    } while (next_perm(perm));
    for (const auto& o : orderings_) {
      std::vector<std::array<int, 2>> terms;
      for (int k = 0; k <= n_; ++k) {
        const int r = add_row(std::vector<int>(o.begin(), o.begin() + k));
        const int c = add_col(std::vector<int>(o.begin() + k, o.end()));
        terms.push_back({r, c});
      }
      terms_.push_back(terms);
    }
    local_ = polarisation_index(orderings_, n_);
  }
  int n_gluons() const { return n_; }
  const std::vector<std::vector<int>>& orderings() const { return orderings_; }
  std::size_t n_gluon_values() const { return gluons_.n_values(); }
  std::size_t n_gluon_nodes() const { return gluons_.nodes().size(); }
  std::size_t n_line_values() const { return row_size_ + col_size_; }
  std::size_t n_line_nodes() const { return rows_.size() + cols_.size(); }

  // Scratch for one thread.
  struct Scratch {
    std::vector<RVec4> gval, gP;
    std::vector<Weyl> line;
    std::vector<cplx> amp_local;
    std::vector<RVec4> rowP, colP;
  };
  Scratch make_scratch() const {
    Scratch s;
    s.gval.resize(gluons_.n_values());
    s.gP.resize(gluons_.nodes().size());
    s.line.resize(row_size_ + col_size_);
    s.amp_local.resize(orderings_.size() << n_);
    s.rowP.resize(rows_.size());
    s.colP.resize(cols_.size());
    return s;
  }

  // Evaluates the gluon currents (call once per event and polarisation set).
  void evaluate_gluons(const RVec4* pg, const RVec4* eps, Scratch& s) const {
    gluons_.evaluate(pg, eps, s.gval.data(), s.gP.data());
  }
  // Amplitudes L_mu H^mu(ordering) for one quark chirality (right = true: R) with external
  // two-spinors `ubar` (row) and `v` (column) of that chirality, for all gluon polarisation
  // configurations: amp[o * 2^n + g], g the global configuration. Needs evaluate_gluons first.
  void amplitudes(bool right, const Weyl& ubar, const Weyl& v, const RVec4& q, const RVec4& qbar,
                  const CVec4* Ls, int nL, Scratch& s, cplx* amp) const {
    Weyl* row = s.line.data();
    Weyl* col = s.line.data() + row_size_;
    for (std::size_t id = 0; id < rows_.size(); ++id) {
      const LineNode& nd = rows_[id];
      Weyl* out = row + nd.offset;
      if (nd.len == 0) {
        s.rowP[id] = q;
        out[0] = ubar;
        continue;
      }
      const int ncomb = 1 << nd.len;
      for (int c = 0; c < ncomb; ++c) out[c] = {{0.0, 0.0}};
      s.rowP[id] = s.rowP[nd.splits[0][0]] + s.gP[nd.splits[0][1]];
      const RVec4& P = s.rowP[id];
      const double f = -kInvSqrt2 / msq(P);
      const Mat2 MP = right ? slash_sigmabar(P) : slash_sigma(P);
      for (const auto& sp : nd.splits) {
        const LineNode& l = rows_[sp[0]];
        const Node& g = gluons_.nodes()[sp[1]];
        const Weyl* U = row + l.offset;
        const RVec4* J = s.gval.data() + g.offset;
        for (int j = 0; j < (1 << g.len); ++j) {
          const Mat2 M = (right ? slash_sigma(J[j]) : slash_sigmabar(J[j])) * MP;
          for (int i = 0; i < (1 << l.len); ++i) {
            const Weyl w = U[i] * M;
            Weyl& o = out[i + (j << l.len)];
            o.c[0] += f * w.c[0];
            o.c[1] += f * w.c[1];
          }
        }
      }
    }
    for (std::size_t id = 0; id < cols_.size(); ++id) {
      const LineNode& nd = cols_[id];
      Weyl* out = col + nd.offset;
      if (nd.len == 0) {
        s.colP[id] = qbar;
        out[0] = v;
        continue;
      }
      const int ncomb = 1 << nd.len;
      for (int c = 0; c < ncomb; ++c) out[c] = {{0.0, 0.0}};
      s.colP[id] = s.gP[nd.splits[0][0]] + s.colP[nd.splits[0][1]];
      const RVec4& P = s.colP[id];
      const double f = kInvSqrt2 / msq(P);
      const Mat2 MP = right ? slash_sigmabar(P) : slash_sigma(P);
      for (const auto& sp : nd.splits) {
        const Node& g = gluons_.nodes()[sp[0]];
        const LineNode& r = cols_[sp[1]];
        const RVec4* J = s.gval.data() + g.offset;
        const Weyl* V = col + r.offset;
        for (int j = 0; j < (1 << g.len); ++j) {
          const Mat2 M = MP * (right ? slash_sigma(J[j]) : slash_sigmabar(J[j]));
          for (int i = 0; i < (1 << r.len); ++i) {
            const Weyl w = M * V[i];
            Weyl& o = out[j + (i << g.len)];
            o.c[0] += f * w.c[0];
            o.c[1] += f * w.c[1];
          }
        }
      }
    }
    const int ng = 1 << n_;
    const std::size_t no = orderings_.size();
    for (int li = 0; li < nL; ++li) {
      const Mat2 ML = right ? slash_sigma(Ls[li]) : slash_sigmabar(Ls[li]);
      for (std::size_t o = 0; o < no; ++o) {
        cplx* a = s.amp_local.data() + o * ng;
        for (int c = 0; c < ng; ++c) a[c] = 0.0;
        for (const auto& t : terms_[o]) {
          const LineNode& r = rows_[t[0]];
          const LineNode& c = cols_[t[1]];
          const Weyl* U = row + r.offset;
          const Weyl* V = col + c.offset;
          for (int i = 0; i < (1 << r.len); ++i) {
            const Weyl w = U[i] * ML;
            for (int j = 0; j < (1 << c.len); ++j)
              a[i + (j << r.len)] += w.c[0] * V[j].c[0] + w.c[1] * V[j].c[1];
          }
        }
        cplx* dst = amp + (li * no + o) * ng;
        for (int g = 0; g < ng; ++g) dst[g] = a[local_[o * ng + g]];
      }
    }
  }

 private:
  static bool next_perm(std::vector<int>& v) {
    // lexicographic next permutation (std::next_permutation without <algorithm> in the header)
    int i = static_cast<int>(v.size()) - 2;
    while (i >= 0 && v[i] >= v[i + 1]) --i;
    if (i < 0) return false;
    int j = static_cast<int>(v.size()) - 1;
    while (v[j] <= v[i]) --j;
    std::swap(v[i], v[j]);
    for (int a = i + 1, b = static_cast<int>(v.size()) - 1; a < b; ++a, --b) std::swap(v[a], v[b]);
    return true;
  }
  int add_row(const std::vector<int>& legs) {
    auto it = row_index_.find(legs);
    if (it != row_index_.end()) return it->second;
    LineNode nd;
    nd.legs = legs;
    nd.len = static_cast<int>(legs.size());
    for (int j = 0; j < nd.len; ++j)
      nd.splits.push_back({add_row(std::vector<int>(legs.begin(), legs.begin() + j)),
                           gluons_.add(std::vector<int>(legs.begin() + j, legs.end()))});
    nd.offset = row_size_;
    row_size_ += std::size_t(1) << nd.len;
    rows_.push_back(nd);
    return row_index_[legs] = static_cast<int>(rows_.size()) - 1;
  }
  int add_col(const std::vector<int>& legs) {
    auto it = col_index_.find(legs);
    if (it != col_index_.end()) return it->second;
    LineNode nd;
    nd.legs = legs;
    nd.len = static_cast<int>(legs.size());
    for (int j = 1; j <= nd.len; ++j)
      nd.splits.push_back({gluons_.add(std::vector<int>(legs.begin(), legs.begin() + j)),
                           add_col(std::vector<int>(legs.begin() + j, legs.end()))});
    nd.offset = col_size_;
    col_size_ += std::size_t(1) << nd.len;
    cols_.push_back(nd);
    return col_index_[legs] = static_cast<int>(cols_.size()) - 1;
  }

  int n_;
  GluonForest gluons_;
  std::vector<std::vector<int>> orderings_;
  std::vector<LineNode> rows_, cols_;
  std::map<std::vector<int>, int> row_index_, col_index_;
  std::size_t row_size_ = 0, col_size_ = 0;
  std::vector<std::vector<std::array<int, 2>>> terms_;
  std::vector<int> local_;
};

}  // namespace bg
}  // namespace nis
