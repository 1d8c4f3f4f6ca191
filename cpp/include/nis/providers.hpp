// nis: the built-in physics matrix elements (massless quarks and leptons, tree level).
//
//   LeptonPairQuarkLine  a charged-lepton line and a fermion line f fbar + n g (n = 0..4 for
//                     f = d u s c b, n = 0 for a lepton f) joined by a photon and a Z, in any
//                     crossing (e+ e- -> q q~ + n g, q q~ -> l+ l- + n g, q g -> l+ l- q + ...),
//                     the f-line current by Berends-Giele, full colour.
//   GluonScattering   g g -> n g (n = 2..4), Berends-Giele, full colour in the Del Duca-Dixon-
//                     Maltoni adjoint basis.
// Both are registered as built-in providers (ids "lepton_pair_quark_line" and "gg_gluons") and can also be
// constructed directly. Parameters: those of nis::SMParameters (alpha, alpha_s, mZ, wZ, sin2w,
// nc); LeptonPairQuarkLine also takes z_exchange = 1 (default) or 0 (photon exchange only).
// Polarisation sums over gluons use the two real linear polarisations of each gluon, which is
// identical to the sum over its two helicities; quark and lepton helicities are summed as the
// two chiralities of each line.
#pragma once

#include <memory>
#include <vector>

#include "nis/berends_giele.hpp"
#include "nis/crossing.hpp"
#include "nis/electroweak.hpp"
#include "nis/matrix_element.hpp"
#include "nis/sm_parameters.hpp"

namespace nis {

class LeptonPairQuarkLine : public MatrixElement {
 public:
  // nullptr when the process is not of this kind; throws nis::Error on bad parameters.
  static std::unique_ptr<LeptonPairQuarkLine> create(const ProcessSpec& spec, const Parameters& par);

  const ProcessInfo& info() const override { return info_; }
  void evaluate(std::size_t n_events, const double* momenta, double* out) const override;

  // Checks and tests: the colour-ordered amplitudes of one event (momenta as in evaluate),
  // amps[((fchir * 2 + lchir) * n_orderings + o) * 2^n + g] = L.H (chirality 0 = L, 1 = R,
  // g = gluon polarisation configuration, bit l = linear polarisation of gluon l in the order of
  // the process string). gauge_gluon >= 0 replaces that gluon's polarisation vectors by its momentum.
  void amplitudes(const double* event, std::vector<cplx>& amps, int gauge_gluon = -1) const;
  const std::vector<std::vector<int>>& orderings() const { return forest_.orderings(); }
  const std::vector<double>& colour_matrix() const { return colour_; }
  int n_gluons() const { return n_gluons_; }

 private:
  struct Line {
    int flavour, row, col;  // |PDG id|; event positions of the row and column ends (crossing.hpp)
  };
  struct Scratch {
    bg::QuarkLineForest::Scratch line;
    CVec4 L[2];  // the lepton line's chiral currents
    double s = 0;
    Leg fr, fc;  // the f line's ends
    std::vector<RVec4> pg, eps;
    std::vector<cplx> amps;  // [(lchir * n_orderings + o) * 2^n + g] for one f chirality
  };
  LeptonPairQuarkLine(const ProcessSpec& spec, const SMParameters& sm, bool with_z, Line lepton, Line f,
                      std::vector<int> gluons);
  Scratch make_scratch() const;
  void load(const double* event, int gauge_gluon, Scratch& s) const;
  void line_amplitudes(int f_chirality, Scratch& s, cplx* amps) const;
  ProcessInfo info_;
  SMParameters sm_;
  bool with_z_;
  Line lepton_, f_;
  std::vector<int> gluons_;  // positions of the gluons
  int n_gluons_;
  FermionCharges ce_, cf_;
  bg::QuarkLineForest forest_;
  std::vector<double> colour_;
};

class GluonScattering : public MatrixElement {
 public:
  // n_total = number of gluons, incoming included (4..6 supported).
  GluonScattering(const ProcessSpec& spec, int n_total, const SMParameters& sm);
  static std::unique_ptr<GluonScattering> create(const ProcessSpec& spec, const Parameters& par);

  const ProcessInfo& info() const override { return info_; }
  void evaluate(std::size_t n_events, const double* momenta, double* out) const override;

  // Checks and tests: DDM partial amplitudes A(1, sigma, n) of one event (0-based legs 0 and
  // n-1 fixed), amps[o * 2^n + g], g = polarisation configuration (bit l = linear polarisation
  // of leg l); gauge_leg >= 0 replaces that leg's polarisation vectors by its momentum.
  void amplitudes(const double* event, std::vector<double>& amps, int gauge_leg = -1) const;
  // Orderings as full leg sequences (0, sigma..., n-1).
  const std::vector<std::vector<int>>& orderings() const { return orderings_; }
  const std::vector<double>& colour_matrix() const { return colour_; }

 private:
  struct Scratch;
  Scratch make_scratch() const;  // per-call working memory, sized for this process
  void compute(const double* event, int gauge_leg, Scratch& s) const;
  ProcessInfo info_;
  SMParameters sm_;
  int n_;
  bg::GluonForest forest_;
  std::vector<int> roots_;
  std::vector<std::vector<int>> orderings_;
  std::vector<double> colour_;
  std::vector<int> local_;  // [o * 2^n + g] -> index into the ordering's amplitude array
};

}  // namespace nis
