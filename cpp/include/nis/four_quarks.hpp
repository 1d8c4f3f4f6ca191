// nis: the built-in provider for a charged-lepton pair and two massless quark lines with at most
// one gluon, in any crossing (lepton_pair_four_quarks.cpp):
//   q q~ -> l+ l- Q Q~ (+ g), q Q -> l+ l- q Q (+ g), q g -> l+ l- q Q Q~, e+ e- -> q q~ Q Q~ (+ g), ...
// the four-quark subprocesses of p p -> l+ l- + 2 and 3 jets (order alpha_s^2 alpha^2 and
// alpha_s^3 alpha^2) and of e+ e- -> 4 and 5 jets. The photon and the Z (s-channel couplings
// of electroweak.hpp, s = the lepton pair's invariant mass squared) attach to either quark line;
// one gluon is exchanged between the lines; the extra gluon sits on either line or on the
// exchanged gluon. Identical quarks: both pairings of the quark ends into lines, with the relative
// Fermi sign. Exact colour sum over a basis of generator products (colour.hpp).
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "nis/electroweak.hpp"
#include "nis/lorentz.hpp"
#include "nis/matrix_element.hpp"
#include "nis/sm_parameters.hpp"

namespace nis {

class LeptonPairFourQuarks : public MatrixElement {
 public:
  // A colour tensor: the quark line starting at row end r (0, 1) ends at column end column[r]
  // and carries the product of generators chain[r] (T = sqrt2 t, read from the row index to the
  // column index); label 0 is the external gluon, label 1 the gluon exchanged between the lines
  // (summed). E.g. (T^g T^b)_{r0 c0} T^b_{r1 c1} = {{0, 1}, {{0, 1}, {1}}}.
  struct ColourTensor {
    std::array<int, 2> column;
    std::array<std::vector<int>, 2> chain;
  };

  // nullptr when the process is not of this kind; throws nis::Error on bad parameters
  // (those of SMParameters: alpha, alpha_s, mZ, wZ, sin2w, nc).
  static std::unique_ptr<LeptonPairFourQuarks> create(const ProcessSpec& spec, const Parameters& par);

  const ProcessInfo& info() const override { return info_; }
  void evaluate(std::size_t n_events, const double* momenta, double* out) const override;

  // Checks and tests. Helicity configurations h = ((((a * 2 + r0) * 2 + r1) * 2 + c0) * 2 + c1) * 2 + e:
  // a the lepton chirality, r0, r1, c0, c1 the chiralities of the quark row and column ends
  // (0 = L, 1 = R), e the linear polarisation of the gluon (always 0 without one). amplitudes()
  // fills amps[h * n_basis + k] (zero where the chiralities do not form lines), couplings e^2 F
  // included, g_s not; |M|^2 = average e^4 g_s^(4 + 2 n_g) sum_h A_h^+ C A_h. gauge = true
  // replaces the gluon's polarisation vectors by its momentum.
  static constexpr int kConfigs = 64;
  void amplitudes(const double* event, std::vector<cplx>& amps, bool gauge = false) const;
  const std::vector<ColourTensor>& colour_basis() const { return basis_; }
  const std::vector<double>& colour_matrix() const { return colour_; }  // C[k * n_basis + l]
  int n_basis() const { return static_cast<int>(basis_.size()); }
  int n_gluons() const { return gluon_ < 0 ? 0 : 1; }
  int n_pairings() const { return static_cast<int>(pairings_.size()); }

  // sum over colours of c_k^* c_l for two tensors, exact for any N (colour.hpp)
  static double colour_product(const ColourTensor& k, const ColourTensor& l, double nc);

 private:
  struct Pairing {
    std::array<int, 2> column;  // row end r is joined to column end column[r]
    double sign;                // Fermi sign of the permutation
  };
  LeptonPairFourQuarks(const ProcessSpec& spec, const SMParameters& sm, std::array<int, 2> lepton,
                       std::array<int, 2> rows, std::array<int, 2> cols, int gluon, std::vector<Pairing> pairings);
  void compute(const double* event, bool gauge, cplx* amps) const;

  ProcessInfo info_;
  SMParameters sm_;
  std::array<int, 2> lepton_;      // event positions of the lepton line's row and column ends
  std::array<int, 2> rows_, cols_;  // event positions of the quark row ends and column ends
  std::array<FermionCharges, 2> row_charges_;
  FermionCharges lepton_charges_;
  int gluon_;                       // event position of the gluon, -1 without one
  std::vector<Pairing> pairings_;
  int per_pairing_;                 // colour tensors per pairing: 1 without the gluon, 4 with it
  std::vector<ColourTensor> basis_;
  std::vector<double> colour_;
};

}  // namespace nis
