// nis built-in provider: a charged-lepton pair and two massless quark lines with at most one
// gluon, in any crossing (class declared in four_quarks.hpp). Tree level, order alpha_s^(2+n_g) alpha^2.
//
// Amplitudes with every momentum outgoing (crossing.hpp) and literal colour-ordered Feynman rules
// (berends_giele.hpp): quark-gluon vertex (i/sqrt2) gamma^mu with colour T^a = sqrt2 t^a,
// quark propagator i Pslash/P^2 (P along the fermion arrow = sum of the outgoing momenta on the
// row side), gluon propagator -i g_{mu nu}/P^2, three-gluon vertex (i/sqrt2) V3 with colour
// ftilde^{abc} = Tr([T^a, T^b] T^c). The electroweak vertex is gamma^mu on a quark line contracted
// with the lepton current L_a and weighted by F_ab(s) of electroweak.hpp (photon + Z, fixed width,
// s = square of the lepton pair's outgoing momentum), a = lepton chirality, b = that quark line's
// chirality; the common factors (-i e)^2 (-i) drop out of |M|^2.
//
// A quark line X runs from its row end (outgoing quark or incoming antiquark) to its column end;
// in Weyl form, chirality R: ubar sigma.J1 sigmabar.P1 sigma.J2 ... v, chirality L with sigma and
// sigmabar exchanged. Line X's gluon current J_X = ubar gamma^mu v / (sqrt2 K_X^2) (propagator
// times vertex, K_X = sum of its ends' outgoing momenta); J_X^V the same with the boson on the line.
//   no gluon:  M = T^b_A T^b_B { F_A [A: V, J_B in both orders] + F_B [B: V, J_A in both orders] }
//   one gluon g (polarisation eps, momentum k), colour basis
//     t1 = (T^g T^b)_A T^b_B, t2 = (T^b T^g)_A T^b_B, t3 = T^b_A (T^g T^b)_B, t4 = T^b_A (T^b T^g)_B
//   (t1 - t2 + t3 - t4 = 0: the basis is redundant, which the exact colour matrix absorbs);
//     A1 = F_A [A: V, g, J_B in every order with g before J_B] + F_B [A: g, J_B^V] + X
//     A2 = the same with J_B before g                                              - X
//     A3 = F_B [B: V, g, J_A with g before J_A] + F_A [B: g, J_A^V],  A4 = J_A before g,
//   where X = F_A [A: V, J3 in both orders] + F_B [A: J3^V] is the three-gluon-vertex diagram,
//   J3 = V3(eps, J_B)/(sqrt2 (k + K_B)^2) (Berends-Giele current of the ordered pair (g, b)),
//   colour ftilde^{g b c} T^c_A T^b_B = t1 - t2 (counted once, on line A).
// Identical quarks: both pairings of the row ends with the column ends are lines; the amplitudes
// of the second pairing enter with the Fermi sign -1, over their own four (or one) tensors.
//   sum |M|^2 = average e^4 g_s^(4 + 2 n_g) sum_{chiralities, gluon polarisations} A^+ C A,
// C_kl = sum_colours c_k^* c_l exactly (colour.hpp), computed once at construction. The sum over
// external helicities is the sum over the lepton chirality and the chirality of every quark end;
// a pairing contributes where its lines have one chirality at both ends.
#include <cmath>
#include <string>

#include "nis/colour.hpp"
#include "nis/crossing.hpp"
#include "nis/four_quarks.hpp"
#include "nis/spinors.hpp"

namespace nis {

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kInvSqrt2 = 0.70710678118654752440;
const cplx kI(0.0, 1.0);
const cplx kGluonVertex(0.0, kInvSqrt2);  // i/sqrt2

bool is_charged_lepton(int a) { return a == 11 || a == 13 || a == 15; }
bool is_quark(int a) { return a >= 1 && a <= 5; }

Mat2 scaled(const Mat2& m, cplx f) {
  return {{{f * m.m[0][0], f * m.m[0][1]}, {f * m.m[1][0], f * m.m[1][1]}}};
}

// The vertex of a vector J on a quark line, for line chirality h = 0 (f J.sigmabar) and 1 (f J.sigma).
struct Vertex {
  Mat2 m[2];
};
Vertex make_vertex(const CVec4& J, cplx f) { return {{scaled(slash_sigmabar(J), f), scaled(slash_sigma(J), f)}}; }
CVec4 complexify(const RVec4& v) { return {{v[0], v[1], v[2], v[3]}}; }

// A quark line of definite chirality h: row two-spinor u, column two-spinor v, all-outgoing
// momenta q (row end) and qb (column end).
struct Line {
  Weyl u, v;
  RVec4 q, qb;
  int h;
  // i Pslash / P^2 between two vertices, P along the fermion arrow
  Mat2 prop(const RVec4& P) const { return scaled(h ? slash_sigmabar(P) : slash_sigma(P), kI / msq(P)); }
  // (i/sqrt2) r gamma^mu c: an open gluon vertex between the row part r and the column part c
  // (r sigma^mu c for R, r sigmabar^mu c for L), as a contravariant vector
  CVec4 open(const Weyl& r, const Weyl& c) const {
    const CVec4 j = h ? current_sigma(r, c) : current_sigmabar(r, c);
    return {{kGluonVertex * j[0], kGluonVertex * j[1], kGluonVertex * j[2], kGluonVertex * j[3]}};
  }
};

// Three-gluon vertex of the ordered pair (1, 2), all momenta outgoing (berends_giele.hpp):
// V3 = J1 (-2P1-P2).J2 + (P1-P2) J1.J2 + J2 (2P2+P1).J1, complex currents.
CVec4 vertex3(const CVec4& J1, const RVec4& P1, const CVec4& J2, const RVec4& P2) {
  const cplx a = mdot(-(2.0 * P1 + P2), J2), d = mdot(J1, J2), b = mdot(2.0 * P2 + P1, J1);
  const RVec4 D = P1 - P2;
  CVec4 r;
  for (int m = 0; m < 4; ++m) r[m] = a * J1[m] + d * D[m] + b * J2[m];
  return r;
}
// Berends-Giele current of the ordered pair (propagator x vertex): V3 / (sqrt2 (P1+P2)^2)
CVec4 pair_current(const CVec4& J1, const RVec4& P1, const CVec4& J2, const RVec4& P2) {
  return kInvSqrt2 / msq(P1 + P2) * vertex3(J1, P1, J2, P2);
}

int config_index(int a, int r0, int r1, int c0, int c1, int e) {
  return ((((a * 2 + r0) * 2 + r1) * 2 + c0) * 2 + c1) * 2 + e;
}
}  // namespace

double LeptonPairFourQuarks::colour_product(const ColourTensor& k, const ColourTensor& l, double nc) {
  // sum over the open indices of c_k^* c_l: follow l's line from a row end to its column end, then
  // k's conjugate line (generators in reverse order) back to a row end, until the loop closes;
  // each loop is a trace. Labels: the external gluon 0 is shared, the summed gluon of k is 1, of l 2.
  colour::Traces traces;
  bool done[2] = {false, false};
  std::size_t n_generators = 0;
  for (int start = 0; start < 2; ++start) {
    if (done[start]) continue;
    std::vector<int> trace;
    int r = start;
    do {
      done[r] = true;
      for (int x : l.chain[r]) trace.push_back(x == 0 ? 0 : 2);
      const int c = l.column[r];
      const int back = k.column[0] == c ? 0 : 1;
      for (auto it = k.chain[back].rbegin(); it != k.chain[back].rend(); ++it) trace.push_back(*it == 0 ? 0 : 1);
      r = back;
    } while (r != start);
    n_generators += trace.size();
    traces.push_back(trace);
  }
  // T = sqrt2 t for every generator
  return std::pow(2.0, 0.5 * static_cast<double>(n_generators)) * colour::trace_product(traces, nc);
}

std::unique_ptr<LeptonPairFourQuarks> LeptonPairFourQuarks::create(const ProcessSpec& spec, const Parameters& par) {
  if (spec.pdg_in.size() != 2) return nullptr;
  const int np = static_cast<int>(spec.pdg_out.size()) + 2;
  int lrow = -1, lcol = -1, lflavour[2] = {0, 0}, gluon = -1;
  std::vector<int> rows, cols;
  for (int pos = 0; pos < np; ++pos) {
    const bool incoming = pos < 2;
    const int id = incoming ? spec.pdg_in[pos] : spec.pdg_out[pos - 2];
    const int a = id < 0 ? -id : id;
    const bool row = is_row_end(id, incoming);
    if (id == 21) {
      if (gluon >= 0) return nullptr;  // at most one gluon
      gluon = pos;
    } else if (is_charged_lepton(a)) {
      int& end = row ? lrow : lcol;
      if (end >= 0) return nullptr;
      end = pos;
      lflavour[row ? 0 : 1] = a;
    } else if (is_quark(a)) {
      (row ? rows : cols).push_back(pos);
    } else {
      return nullptr;
    }
  }
  if (lrow < 0 || lcol < 0 || lflavour[0] != lflavour[1]) return nullptr;
  if (rows.size() != 2 || cols.size() != 2) return nullptr;
  auto flavour = [&](int pos) {
    const int id = pos < 2 ? spec.pdg_in[pos] : spec.pdg_out[pos - 2];
    return id < 0 ? -id : id;
  };
  // the ways to join the row ends to column ends of the same flavour, with their Fermi signs
  std::vector<Pairing> pairings;
  for (int swap = 0; swap < 2; ++swap) {
    const std::array<int, 2> column = {swap, 1 - swap};
    if (flavour(rows[0]) == flavour(cols[column[0]]) && flavour(rows[1]) == flavour(cols[column[1]]))
      pairings.push_back({column, swap ? -1.0 : 1.0});
  }
  if (pairings.empty()) return nullptr;  // flavour not conserved along the lines
  const SMParameters sm = SMParameters::from(par);
  return std::unique_ptr<LeptonPairFourQuarks>(new LeptonPairFourQuarks(
      spec, sm, {lrow, lcol}, {rows[0], rows[1]}, {cols[0], cols[1]}, gluon, std::move(pairings)));
}

LeptonPairFourQuarks::LeptonPairFourQuarks(const ProcessSpec& spec, const SMParameters& sm, std::array<int, 2> lepton,
                                           std::array<int, 2> rows, std::array<int, 2> cols, int gluon,
                                           std::vector<Pairing> pairings)
    : sm_(sm), lepton_(lepton), rows_(rows), cols_(cols), gluon_(gluon), pairings_(std::move(pairings)) {
  auto id_at = [&](int pos) { return pos < 2 ? spec.pdg_in[pos] : spec.pdg_out[pos - 2]; };
  info_.name = spec.text;
  info_.pdg_in = spec.pdg_in;
  info_.pdg_out = spec.pdg_out;
  info_.masses.assign(info_.n_particles(), 0.0);
  info_.average = initial_average(spec.pdg_in, sm_.nc);
  info_.order_qcd = 2 + n_gluons();
  info_.order_qed = 2;
  // 1/prod n_k! over identical final-state particles
  double sym = 1;
  for (std::size_t i = 0; i < spec.pdg_out.size(); ++i) {
    int same = 0;
    for (std::size_t j = 0; j <= i; ++j) same += spec.pdg_out[j] == spec.pdg_out[i] ? 1 : 0;
    sym *= same;
  }
  info_.symmetry_factor = 1.0 / sym;
  lepton_charges_ = fermion_charges(id_at(lepton_[0]));
  for (int r = 0; r < 2; ++r) row_charges_[r] = fermion_charges(id_at(rows_[r]));

  // colour basis: per pairing, T^b_A T^b_B or t1..t4 (A = the line of row end 0)
  for (const Pairing& p : pairings_) {
    if (gluon_ < 0) {
      basis_.push_back({p.column, {{{1}, {1}}}});
    } else {
      basis_.push_back({p.column, {{{0, 1}, {1}}}});
      basis_.push_back({p.column, {{{1, 0}, {1}}}});
      basis_.push_back({p.column, {{{1}, {0, 1}}}});
      basis_.push_back({p.column, {{{1}, {1, 0}}}});
    }
  }
  per_pairing_ = gluon_ < 0 ? 1 : 4;
  const std::size_t nb = basis_.size();
  colour_.resize(nb * nb);
  for (std::size_t k = 0; k < nb; ++k)
    for (std::size_t l = 0; l < nb; ++l) colour_[k * nb + l] = colour_product(basis_[k], basis_[l], sm_.nc);
}

void LeptonPairFourQuarks::compute(const double* event, bool gauge, cplx* amps) const {
  const int nb = n_basis();
  for (int i = 0; i < kConfigs * nb; ++i) amps[i] = 0.0;
  // lepton line: chiral currents, the boson's momentum, the couplings F[row r][a][b] of each line
  const Leg lr = load_leg(event, lepton_[0]), lc = load_leg(event, lepton_[1]);
  CVec4 L[2];
  chiral_currents(lr.p, lc.p, L);
  const RVec4 KV = lr.k + lc.k;
  cplx F[2][2][2];
  for (int r = 0; r < 2; ++r)
    s_channel_couplings(msq(KV), lepton_charges_, row_charges_[r], sm_.mZ, sm_.wZ, sm_.sin2w, true, F[r]);
  const Vertex V[2] = {make_vertex(L[0], 1.0), make_vertex(L[1], 1.0)};
  // quark ends: row two-spinors conj(lambda_-+(p)), column two-spinors lambda_-+(p), chirality L, R
  Leg row[2], col[2];
  Weyl u[2][2], v[2][2];
  for (int r = 0; r < 2; ++r) {
    row[r] = load_leg(event, rows_[r]);
    col[r] = load_leg(event, cols_[r]);
    u[r][0] = conj(lambda_minus(row[r].p));
    u[r][1] = conj(lambda_plus(row[r].p));
    v[r][0] = lambda_minus(col[r].p);
    v[r][1] = lambda_plus(col[r].p);
  }
  // the gluon: two real linear polarisations (or its momentum), vertex (i/sqrt2) eps.gamma
  const bool with_gluon = gluon_ >= 0;
  const int ne = with_gluon ? 2 : 1;
  Leg g{};
  CVec4 eps[2];
  Vertex G[2];
  if (with_gluon) {
    g = load_leg(event, gluon_);
    for (int e = 0; e < 2; ++e) {
      eps[e] = complexify(gauge ? g.p : polarisation_linear(g.p, e));
      G[e] = make_vertex(eps[e], kGluonVertex);
    }
  }

  // Per line X (A = 0, B = 1) and chirality h, the line with one gluon vertex left open (the
  // exchanged gluon's, coupling included), as vectors O^mu; an amplitude is O . J of the other
  // line's current J:
  //   O0        nothing else on the line          JX  = O0 (-i/K_X^2): the line's gluon current
  //   W[a]      the boson V_a, either side         JXV = W (-i/(K_X + K_V)^2): with the boson
  //   Gb[e]     g on the row side, Gb on the column side (bG)
  //   O1[a][e]  V_a and g, g on the row side of the open vertex: (V g .), (g V .), (g . V)
  //   O2[a][e]  V_a and g, g on the column side:                  (V . g), (. V g), (. g V)
  struct Open {
    CVec4 O0, W[2], Gb[2], bG[2], O1[2][2], O2[2][2];
  };
  for (std::size_t ip = 0; ip < pairings_.size(); ++ip) {
    const Pairing& pr = pairings_[ip];
    Open O[2][2];         // [X][h]
    CVec4 J[2][2];        // [X][h]: gluon current of line X
    CVec4 JV[2][2][2];    // [X][h][a]: gluon current of line X with the boson on it
    RVec4 K[2];
    for (int X = 0; X < 2; ++X) {
      const int c = pr.column[X];
      K[X] = row[X].k + col[c].k;
      const RVec4 q = row[X].k, qb = col[c].k;
      for (int h = 0; h < 2; ++h) {
        const Line l{u[X][h], v[c][h], q, qb, h};
        Open& o = O[X][h];
        o.O0 = l.open(l.u, l.v);
        J[X][h] = (-kI / msq(K[X])) * o.O0;
        const Mat2 pV = l.prop(q + KV), Vp = l.prop(-(qb + KV));
        Weyl uV[2], Vv[2];
        for (int a = 0; a < 2; ++a) {
          uV[a] = (l.u * V[a].m[h]) * pV;   // u V prop
          Vv[a] = Vp * (V[a].m[h] * l.v);   // prop V v
          o.W[a] = l.open(uV[a], l.v) + l.open(l.u, Vv[a]);
          JV[X][h][a] = (-kI / msq(K[X] + KV)) * o.W[a];
        }
        if (!with_gluon) continue;
        const Mat2 pG = l.prop(q + g.k), Gp = l.prop(-(qb + g.k));
        const Mat2 pVG = l.prop(q + KV + g.k), VGp = l.prop(-(qb + KV + g.k));
        for (int e = 0; e < 2; ++e) {
          const Mat2& Gm = G[e].m[h];
          const Weyl uG = (l.u * Gm) * pG, Gv = Gp * (Gm * l.v);
          o.Gb[e] = l.open(uG, l.v);
          o.bG[e] = l.open(l.u, Gv);
          for (int a = 0; a < 2; ++a) {
            const Mat2& Vm = V[a].m[h];
            const Weyl uVG = (uV[a] * Gm) * pVG, uGV = (uG * Vm) * pVG;
            const Weyl VGv = VGp * (Vm * Gv), GVv = VGp * (Gm * Vv[a]);
            o.O1[a][e] = l.open(uVG, l.v) + l.open(uGV, l.v) + l.open(uG, Vv[a]);
            o.O2[a][e] = l.open(uV[a], Gv) + l.open(l.u, VGv) + l.open(l.u, GVv);
          }
        }
      }
    }
    const int base = static_cast<int>(ip) * per_pairing_;
    for (int hB = 0; hB < 2; ++hB)
      for (int e = 0; e < ne; ++e) {
        // the three-gluon vertex (counted on line A): Berends-Giele current of (g, J_B)
        CVec4 J3{}, J3V[2]{};
        if (with_gluon) {
          J3 = pair_current(eps[e], g.k, J[1][hB], K[1]);
          for (int a = 0; a < 2; ++a) J3V[a] = pair_current(eps[e], g.k, JV[1][hB][a], K[1] + KV);
        }
        for (int a = 0; a < 2; ++a)
          for (int hA = 0; hA < 2; ++hA) {
            const cplx FA = F[0][a][hA], FB = F[1][a][hB];
            const Open &A = O[0][hA], &B = O[1][hB];
            int c[2];
            c[pr.column[0]] = hA;
            c[pr.column[1]] = hB;
            cplx* out = amps + config_index(a, hA, hB, c[0], c[1], e) * nb + base;
            if (!with_gluon) {
              out[0] = pr.sign * (FA * mdot(A.W[a], J[1][hB]) + FB * mdot(B.W[a], J[0][hA]));
              continue;
            }
            const cplx X = FA * mdot(A.W[a], J3) + FB * mdot(A.O0, J3V[a]);
            const cplx t1 = FA * mdot(A.O1[a][e], J[1][hB]) + FB * mdot(A.Gb[e], JV[1][hB][a]) + X;
            const cplx t2 = FA * mdot(A.O2[a][e], J[1][hB]) + FB * mdot(A.bG[e], JV[1][hB][a]) - X;
            const cplx t3 = FB * mdot(B.O1[a][e], J[0][hA]) + FA * mdot(B.Gb[e], JV[0][hA][a]);
            const cplx t4 = FB * mdot(B.O2[a][e], J[0][hA]) + FA * mdot(B.bG[e], JV[0][hA][a]);
            out[0] = pr.sign * t1;
            out[1] = pr.sign * t2;
            out[2] = pr.sign * t3;
            out[3] = pr.sign * t4;
          }
      }
  }
}

void LeptonPairFourQuarks::amplitudes(const double* event, std::vector<cplx>& amps, bool gauge) const {
  amps.assign(static_cast<std::size_t>(kConfigs) * n_basis(), 0.0);
  compute(event, gauge, amps.data());
}

void LeptonPairFourQuarks::evaluate(std::size_t n_events, const double* momenta, double* out) const {
  const int np = static_cast<int>(info_.n_particles());
  const int nb = n_basis();
  std::vector<cplx> amps(static_cast<std::size_t>(kConfigs) * nb);
  // the configurations some pairing fills
  std::vector<int> active;
  for (const Pairing& pr : pairings_)
    for (int a = 0; a < 2; ++a)
      for (int hA = 0; hA < 2; ++hA)
        for (int hB = 0; hB < 2; ++hB)
          for (int e = 0; e < (gluon_ < 0 ? 1 : 2); ++e) {
            int c[2];
            c[pr.column[0]] = hA;
            c[pr.column[1]] = hB;
            const int h = config_index(a, hA, hB, c[0], c[1], e);
            bool seen = false;
            for (int x : active) seen = seen || x == h;
            if (!seen) active.push_back(h);
          }
  const double e2 = 4 * kPi * sm_.alpha, g2 = 4 * kPi * sm_.alpha_s;
  const double norm = info_.average * e2 * e2 * std::pow(g2, 2 + n_gluons());
  for (std::size_t ev = 0; ev < n_events; ++ev) {
    compute(momenta + ev * np * 4, false, amps.data());
    double total = 0;
    for (int h : active) {
      const cplx* A = amps.data() + h * nb;
      for (int k = 0; k < nb; ++k) {
        cplx ck = 0;
        for (int l = 0; l < nb; ++l) ck += colour_[k * nb + l] * A[l];
        total += std::real(std::conj(A[k]) * ck);
      }
    }
    out[ev] = norm * total;
  }
}

}  // namespace nis

NIS_REGISTER_PROVIDER(lepton_pair_four_quarks, [](const nis::ProcessSpec& p, const nis::Parameters& par)
                                                   -> std::unique_ptr<nis::MatrixElement> {
  return nis::LeptonPairFourQuarks::create(p, par);
})
