// nis: the checks every batch of momenta passes before any provider sees it: finite values and
// four-momentum conservation per event.
#include <cmath>
#include <cstdio>
#include <string>

#include "nis/bridge.hpp"

namespace nis {
namespace {

const char* const kComponent[4] = {"E", "px", "py", "pz"};

std::string format(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

[[noreturn]] void bad_value(std::size_t event, std::size_t particle, int component, double value) {
  throw Error(NIS_ERR_BAD_MOMENTA, "momenta of event " + std::to_string(event) + " are not finite: particle " +
                                       std::to_string(particle) + ", " + kComponent[component] + " = " +
                                       format("%g", value) + " (fix the phase-space point or drop the event)");
}

[[noreturn]] void not_conserved(std::size_t event, const double diff[4], double energy, double tolerance) {
  int worst = 0;
  for (int k = 1; k < 4; ++k)
    if (std::fabs(diff[k]) > std::fabs(diff[worst])) worst = k;
  std::string d;
  for (int k = 0; k < 4; ++k) d += (k ? ", " : "") + format("%.3g", diff[k]);
  throw Error(NIS_ERR_BAD_MOMENTA,
              "event " + std::to_string(event) + " does not conserve four-momentum: sum(p_in) - sum(p_out) = (" + d +
                  ") GeV, " + kComponent[worst] + " off by " + format("%.3g", std::fabs(diff[worst]) / energy) +
                  " of the incoming energy " + format("%.6g", energy) + " GeV (tolerance " + format("%.3g", tolerance) +
                  "; check the phase-space mapping, or loosen the tolerance)");
}

}  // namespace

void check_momenta(const ProcessInfo& info, std::size_t begin, std::size_t end, const double* momenta,
                   double conservation_tolerance) {
  const std::size_t n_in = info.pdg_in.size();
  const std::size_t n_particles = info.n_particles();
  const bool conservation = conservation_tolerance >= 0;
  for (std::size_t e = begin; e < end; ++e) {
    const double* p = momenta + e * n_particles * 4;
    double diff[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < n_in; ++i)
      for (int k = 0; k < 4; ++k) diff[k] += p[4 * i + k];
    const double energy = diff[0];
    for (std::size_t i = n_in; i < n_particles; ++i)
      for (int k = 0; k < 4; ++k) diff[k] -= p[4 * i + k];
    // A NaN or inf anywhere leaves its component's sum NaN or inf, so finite sums mean finite
    // momenta; only then is it worth finding the culprit for the message.
    if (!(std::isfinite(diff[0]) && std::isfinite(diff[1]) && std::isfinite(diff[2]) && std::isfinite(diff[3])))
      for (std::size_t i = 0; i < n_particles; ++i)
        for (int k = 0; k < 4; ++k)
          if (!std::isfinite(p[4 * i + k])) bad_value(e, i, k, p[4 * i + k]);
    if (!conservation) continue;
    if (!(energy > 0))
      throw Error(NIS_ERR_BAD_MOMENTA, "event " + std::to_string(e) + " has total incoming energy " +
                                           format("%g", energy) + " GeV; it must be positive");
    const double limit = conservation_tolerance * energy;
    if (std::fabs(diff[0]) > limit || std::fabs(diff[1]) > limit || std::fabs(diff[2]) > limit ||
        std::fabs(diff[3]) > limit)
      not_conserved(e, diff, energy, conservation_tolerance);
  }
}

}  // namespace nis
