// nis built-in provider: g g -> n g (tree level), colour-ordered Berends-Giele currents
// (berends_giele.hpp) in the Del Duca-Dixon-Maltoni basis: legs 1 and n_total fixed,
// (n_total-2)! orderings, colour matrix C[s][t] = sum_colours c_s^* c_t of
// c_s = (F^{a_s2} .. F^{a_s(n-1)})_{a_1 a_n} computed exactly at construction (colour.hpp).
//   sum |M|^2 = g_s^(2(n-2)) sum_{pols} sum_{s,t} A_s C_st A_t, averaged by 1/(4 (nc^2-1)^2).
// Incoming gluons enter as outgoing with momentum -p (crossing); their polarisation vectors are
// built from the physical momentum. Polarisations: two real linear ones per gluon (the sum over
// them equals the helicity sum; no configuration is skipped).
#include <algorithm>
#include <cmath>
#include <string>

#include "nis/colour.hpp"
#include "nis/providers.hpp"
#include "nis/spinors.hpp"

namespace nis {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

struct GluonScattering::Scratch {
  std::vector<RVec4> k, eps, values, P;
  std::vector<double> amps;  // [o * 2^n + g]
};

std::unique_ptr<GluonScattering> GluonScattering::create(const ProcessSpec& spec, const Parameters& par) {
  if (spec.pdg_in.size() != 2 || spec.pdg_in[0] != 21 || spec.pdg_in[1] != 21) return nullptr;
  for (int id : spec.pdg_out)
    if (id != 21) return nullptr;
  const int n = static_cast<int>(spec.pdg_out.size()) + 2;
  if (n < 4 || n > 6) return nullptr;
  return std::make_unique<GluonScattering>(spec, n, SMParameters::from(par));
}

GluonScattering::GluonScattering(const ProcessSpec& spec, int n_total, const SMParameters& sm)
    : sm_(sm), n_(n_total) {
  if (n_ < 4 || n_ > 6)
    throw Error(NIS_ERR_UNKNOWN_PROCESS, "g g -> n g is provided for n = 2, 3, 4 (4 to 6 gluons in total)");
  info_.name = spec.text;
  info_.pdg_in = {21, 21};
  info_.pdg_out.assign(n_ - 2, 21);
  info_.masses.assign(n_, 0.0);
  const double d = sm_.nc * sm_.nc - 1;
  info_.average = 1.0 / (4 * d * d);
  info_.order_qcd = n_ - 2;
  info_.order_qed = 0;
  double fact = 1;
  for (int k = 2; k <= n_ - 2; ++k) fact *= k;
  info_.symmetry_factor = 1.0 / fact;

  std::vector<int> mid;
  for (int i = 1; i <= n_ - 2; ++i) mid.push_back(i);
  std::vector<std::vector<int>> mids;
  do {
    mids.push_back(mid);
  } while (std::next_permutation(mid.begin(), mid.end()));
  for (const auto& m : mids) {
    std::vector<int> root = {0};
    root.insert(root.end(), m.begin(), m.end());
    roots_.push_back(forest_.add(root, false));
    root.push_back(n_ - 1);
    orderings_.push_back(root);
  }
  colour_ = colour::adjoint_matrix(mids, sm_.nc);
  local_ = bg::polarisation_index(orderings_, n_);
}

GluonScattering::Scratch GluonScattering::make_scratch() const {
  Scratch s;
  s.k.resize(n_);
  s.eps.resize(2 * n_);
  s.values.resize(forest_.n_values());
  s.P.resize(forest_.nodes().size());
  s.amps.resize(orderings_.size() << n_);
  return s;
}

void GluonScattering::compute(const double* ev, int gauge_leg, Scratch& s) const {
  for (int l = 0; l < n_; ++l) {
    const RVec4 p = load_vec4(ev + 4 * l);
    s.k[l] = l < 2 ? -p : p;
    if (l == gauge_leg) {
      s.eps[2 * l] = s.eps[2 * l + 1] = s.k[l];
    } else {
      transverse_frame(p, s.eps[2 * l], s.eps[2 * l + 1]);
    }
  }
  forest_.evaluate(s.k.data(), s.eps.data(), s.values.data(), s.P.data());
  const int ng = 1 << n_;
  const int half = 1 << (n_ - 1);
  const RVec4& e0 = s.eps[2 * (n_ - 1)];
  const RVec4& e1 = s.eps[2 * (n_ - 1) + 1];
  for (std::size_t o = 0; o < roots_.size(); ++o) {
    const RVec4* R = s.values.data() + forest_.nodes()[roots_[o]].offset;
    double* A = s.amps.data() + o * ng;
    for (int c = 0; c < half; ++c) {
      A[c] = mdot(e0, R[c]);
      A[c + half] = mdot(e1, R[c]);
    }
  }
}

void GluonScattering::amplitudes(const double* event, std::vector<double>& amps, int gauge_leg) const {
  Scratch s = make_scratch();
  compute(event, gauge_leg, s);
  const int ng = 1 << n_;
  amps.assign(orderings_.size() * ng, 0.0);
  for (std::size_t o = 0; o < orderings_.size(); ++o)
    for (int g = 0; g < ng; ++g) amps[o * ng + g] = s.amps[o * ng + local_[o * ng + g]];
}

void GluonScattering::evaluate(std::size_t n_events, const double* momenta, double* out) const {
  Scratch s = make_scratch();
  const std::size_t no = orderings_.size();
  const int ng = 1 << n_;
  std::vector<double> Ag(no);
  const double g2 = 4 * kPi * sm_.alpha_s;
  const double norm = info_.average * std::pow(g2, n_ - 2);
  for (std::size_t ev = 0; ev < n_events; ++ev) {
    compute(momenta + ev * n_ * 4, -1, s);
    double total = 0;
    for (int g = 0; g < ng; ++g) {
      for (std::size_t o = 0; o < no; ++o) Ag[o] = s.amps[o * ng + local_[o * ng + g]];
      for (std::size_t o = 0; o < no; ++o) {
        const double* Co = colour_.data() + o * no;
        double ct = 0;
        for (std::size_t t = 0; t < no; ++t) ct += Co[t] * Ag[t];
        total += Ag[o] * ct;
      }
    }
    out[ev] = norm * total;
  }
}

}  // namespace nis

NIS_REGISTER_PROVIDER(gg_gluons, [](const nis::ProcessSpec& p, const nis::Parameters& par)
                                     -> std::unique_ptr<nis::MatrixElement> {
  return nis::GluonScattering::create(p, par);
})
