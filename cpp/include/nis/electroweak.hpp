// nis: s-channel photon + Z couplings of massless fermions, for e+ e- -> f fbar (+ gluons).
//   vertex f-f-gamma: -i e Q gamma^mu;  f-f-Z: -i e/(sw cw) gamma^mu (g_L P_L + g_R P_R),
//   g_L = T3 - Q sw^2, g_R = -Q sw^2; propagators -i g_{mu nu}/s and -i g_{mu nu}/(s - mZ^2 + i mZ wZ)
//   (fixed width; the q_mu q_nu part drops out between massless currents).
// The amplitude for lepton chirality a and final-fermion chirality b is e^2 F_ab(s) times the
// product of the two vector currents, F_ab = Q_e Q_f / s + g^e_a g^f_b /(sw^2 cw^2) / (s - mZ^2 + i mZ wZ).
#pragma once

#include <complex>

namespace nis {

struct FermionCharges {
  double Q = 0, T3 = 0;
  double gL(double sin2w) const { return T3 - Q * sin2w; }
  double gR(double sin2w) const { return -Q * sin2w; }
};

// Charges of a fermion by |PDG id| (1..6 quarks, 11..16 leptons); Q of the particle (not antiparticle).
inline FermionCharges fermion_charges(int pdg) {
  const int a = pdg < 0 ? -pdg : pdg;
  switch (a) {
    case 1: case 3: case 5: return {-1.0 / 3.0, -0.5};
    case 2: case 4: case 6: return {2.0 / 3.0, 0.5};
    case 11: case 13: case 15: return {-1.0, -0.5};
    case 12: case 14: case 16: return {0.0, 0.5};
    default: return {0.0, 0.0};
  }
}

// F[a][b], a = lepton chirality (0 = L, 1 = R), b = final-fermion chirality, for s = (p_e+ + p_e-)^2.
inline void s_channel_couplings(double s, const FermionCharges& e, const FermionCharges& f, double mZ, double wZ,
                                double sin2w, bool with_z, std::complex<double> F[2][2]) {
  const double cos2w = 1.0 - sin2w;
  const std::complex<double> propZ = 1.0 / std::complex<double>(s - mZ * mZ, mZ * wZ);
  const double ge[2] = {e.gL(sin2w), e.gR(sin2w)};
  const double gf[2] = {f.gL(sin2w), f.gR(sin2w)};
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      F[a][b] = e.Q * f.Q / s + (with_z ? ge[a] * gf[b] / (sin2w * cos2w) * propZ : 0.0);
}

}  // namespace nis
