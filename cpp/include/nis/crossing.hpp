// nis: external legs of massless processes in any crossing, for the built-in providers.
//
// The amplitudes are computed with every momentum outgoing: an incoming leg (position 0 or 1 of
// an event) enters with k = -p. Spinors and polarisation vectors are built from the physical
// momentum p (spinors.hpp wants positive energies); for a crossed fermion this changes each
// amplitude by a phase common to all its colour orderings and diagrams, which cancels in |M|^2.
//
// A fermion line runs from a row spinor to a column spinor: the row is an outgoing fermion
// (ubar) or an incoming antifermion (vbar), the column an outgoing antifermion (v) or an
// incoming fermion (u). For chirality L the row two-spinor is conj(lambda_minus(p)) and the
// column lambda_minus(p); for R, lambda_plus (the same rule for all four cases).
#pragma once

#include <vector>

#include "nis/lorentz.hpp"
#include "nis/spinors.hpp"

namespace nis {

// An external leg: its physical momentum p and its all-outgoing momentum k (= -p if incoming).
struct Leg {
  RVec4 p, k;
};
inline Leg load_leg(const double* event, int position) {
  const RVec4 p = load_vec4(event + 4 * position);
  return {p, position < 2 ? -p : p};
}

// Whether a fermion (PDG id, incoming or not) is the row end of its line.
inline bool is_row_end(int pdg, bool incoming) { return incoming ? pdg < 0 : pdg > 0; }

// The two chiral vector currents of a line without gluons, row r and column c (physical
// momenta): L[0] = conj(lambda_-(r)) sigmabar^mu lambda_-(c), L[1] = conj(lambda_+(r)) sigma^mu lambda_+(c).
inline void chiral_currents(const RVec4& row, const RVec4& col, CVec4 L[2]) {
  L[0] = current_sigmabar(conj(lambda_minus(row)), lambda_minus(col));
  L[1] = current_sigma(conj(lambda_plus(row)), lambda_plus(col));
}

// Spin and colour average of the incoming particles: 1/2 per spin, 1/nc per quark, 1/(nc^2-1)
// per gluon, 1 per lepton.
inline double initial_average(const std::vector<int>& pdg_in, double nc) {
  double avg = 1.0;
  for (int id : pdg_in) {
    const int a = id < 0 ? -id : id;
    avg *= 0.5;
    if (a == 21) avg /= nc * nc - 1;
    else if (a >= 1 && a <= 6) avg /= nc;
  }
  return avg;
}

}  // namespace nis
