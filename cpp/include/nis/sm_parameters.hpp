// nis: Standard-Model parameters shared by the built-in providers. One place for the defaults,
// the names a run card may set, and their checks.
#pragma once

#include <cmath>
#include <string>

#include "nis/matrix_element.hpp"

namespace nis {

struct SMParameters {
  double alpha = 1.0 / 132.507;  // QED coupling (G_mu scheme value at the Z pole)
  double alpha_s = 0.118;        // strong coupling, fixed (the run card states the scale)
  double mZ = 91.1876;           // GeV
  double wZ = 2.4952;            // GeV, fixed width in the s-channel propagator
  double sin2w = 0.22290;        // on-shell: 1 - mW^2/mZ^2 with mW = 80.379 GeV
  double nc = 3.0;               // number of colours

  // Reads the known names from `p`; throws nis::Error(NIS_ERR_BAD_PARAMETER) for an unknown
  // name or a value out of range, naming it.
  static SMParameters from(const Parameters& p) {
    SMParameters s;
    for (const auto& [key, value] : p) {
      double* slot = key == "alpha"     ? &s.alpha
                     : key == "alpha_s" ? &s.alpha_s
                     : key == "mZ"      ? &s.mZ
                     : key == "wZ"      ? &s.wZ
                     : key == "sin2w"   ? &s.sin2w
                     : key == "nc"      ? &s.nc
                                        : nullptr;
      if (!slot)
        throw Error(NIS_ERR_BAD_PARAMETER,
                    "unknown parameter '" + key + "' (known: alpha, alpha_s, mZ, wZ, sin2w, nc)");
      if (!std::isfinite(value) || value <= 0 || (key == "sin2w" && value >= 1))
        throw Error(NIS_ERR_BAD_PARAMETER, "parameter '" + key + "' = " + std::to_string(value) + " is out of range");
      *slot = value;
    }
    return s;
  }
};

}  // namespace nis
