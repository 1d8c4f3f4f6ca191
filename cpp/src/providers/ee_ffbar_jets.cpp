// nis built-in provider: e+ e- -> f fbar + n gluons via s-channel photon and Z (tree level,
// massless fermions). The hadronic current of each colour ordering comes from the Berends-Giele
// recursion of berends_giele.hpp; the colour sum uses the exact quark-line colour matrix
// C[s][t] = sum_colours ((T^{s1}..T^{sn})_{ij})^* (T^{t1}..T^{tn})_{ij} (colour.hpp).
//
//   sum |M|^2 = e^4 g_s^(2n) sum_{lepton chir a, quark chir b} |F_ab(s)|^2
//               sum_{gluon pols} sum_{s,t} A_s^* C_st A_t,   A_s = L_a . H_b(s)
// with L_R = vbar(e+) gamma^mu P_R u(e-) etc. (electroweak.hpp), averaged by 1/4.
#include <cmath>
#include <string>

#include "nis/colour.hpp"
#include "nis/providers.hpp"
#include "nis/spinors.hpp"

namespace nis {

namespace {
constexpr double kPi = 3.14159265358979323846;

bool is_final_fermion(int pdg) { return (pdg >= 1 && pdg <= 5) || pdg == 13 || pdg == 15; }
}  // namespace

std::unique_ptr<EEToFFbarGluons> EEToFFbarGluons::create(const ProcessSpec& spec, const Parameters& par) {
  if (spec.pdg_in.size() != 2 || spec.pdg_out.size() < 2) return nullptr;
  int ep = -1, em = -1;
  for (int i = 0; i < 2; ++i) {
    if (spec.pdg_in[i] == -11) ep = i;
    if (spec.pdg_in[i] == 11) em = i;
  }
  if (ep < 0 || em < 0) return nullptr;
  int f = -1, fbar = -1, flavour = 0;
  std::vector<int> gluons;
  for (std::size_t k = 0; k < spec.pdg_out.size(); ++k) {
    const int id = spec.pdg_out[k];
    const int pos = static_cast<int>(k) + 2;
    if (id == 21) {
      gluons.push_back(pos);
    } else if (is_final_fermion(id) && f < 0) {
      f = pos;
      if (flavour != 0 && flavour != id) return nullptr;
      flavour = id;
    } else if (is_final_fermion(-id) && fbar < 0) {
      fbar = pos;
      if (flavour != 0 && flavour != -id) return nullptr;
      flavour = -id;
    } else {
      return nullptr;
    }
  }
  if (f < 0 || fbar < 0) return nullptr;
  const bool quark = flavour <= 5;
  if (!quark && !gluons.empty()) return nullptr;
  if (gluons.size() > 4) return nullptr;
  // own parameter: z_exchange (1 = photon + Z, 0 = photon only); the rest goes to SMParameters
  Parameters rest = par;
  bool with_z = true;
  auto it = rest.find("z_exchange");
  if (it != rest.end()) {
    if (it->second != 0.0 && it->second != 1.0)
      throw Error(NIS_ERR_BAD_PARAMETER, "parameter 'z_exchange' = " + std::to_string(it->second) +
                                             " must be 1 (photon + Z) or 0 (photon only)");
    with_z = it->second == 1.0;
    rest.erase(it);
  }
  SMParameters sm;
  try {
    sm = SMParameters::from(rest);
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.find("unknown parameter") != std::string::npos) msg += "; this process also takes z_exchange (0 or 1)";
    throw Error(e.code(), msg);
  }
  return std::unique_ptr<EEToFFbarGluons>(new EEToFFbarGluons(spec, sm, with_z, ep, em, f, fbar, gluons));
}

EEToFFbarGluons::EEToFFbarGluons(const ProcessSpec& spec, const SMParameters& sm, bool with_z, int ep, int em,
                                 int f, int fbar, std::vector<int> gluons)
    : sm_(sm),
      with_z_(with_z),
      ep_(ep),
      em_(em),
      f_(f),
      fbar_(fbar),
      gluons_(std::move(gluons)),
      n_gluons_(static_cast<int>(gluons_.size())),
      ce_(fermion_charges(11)),
      cf_(fermion_charges(spec.pdg_out[f - 2])),
      forest_(n_gluons_) {
  info_.name = spec.text;
  info_.pdg_in = spec.pdg_in;
  info_.pdg_out = spec.pdg_out;
  info_.masses.assign(info_.n_particles(), 0.0);
  info_.average = 0.25;
  info_.order_qcd = n_gluons_;
  info_.order_qed = 2;
  double fact = 1;
  for (int k = 2; k <= n_gluons_; ++k) fact *= k;
  info_.symmetry_factor = 1.0 / fact;
  const int pdg_f = spec.pdg_out[f - 2];
  if (pdg_f <= 5)
    colour_ = colour::quark_line_matrix(forest_.orderings(), sm_.nc);
  else
    colour_ = {1.0};
}

namespace {
// per-call scratch
struct EEScratch {
  bg::QuarkLineForest::Scratch line;
  std::vector<RVec4> pg, eps;
  std::vector<cplx> amps;  // [(lchir * n_orderings + o) * 2^n + g] for one quark chirality
};
}  // namespace

void EEToFFbarGluons::amplitudes(const double* ev, std::vector<cplx>& amps, int gauge_gluon) const {
  const int n = n_gluons_;
  const std::size_t no = forest_.orderings().size();
  const std::size_t per = no << n;
  bg::QuarkLineForest::Scratch s = forest_.make_scratch();
  std::vector<RVec4> pg(n), eps(2 * n);
  const RVec4 pep = load_vec4(ev + 4 * ep_), pem = load_vec4(ev + 4 * em_);
  const RVec4 q = load_vec4(ev + 4 * f_), qb = load_vec4(ev + 4 * fbar_);
  for (int l = 0; l < n; ++l) {
    pg[l] = load_vec4(ev + 4 * gluons_[l]);
    for (int i = 0; i < 2; ++i) eps[2 * l + i] = l == gauge_gluon ? pg[l] : polarisation_linear(pg[l], i);
  }
  const CVec4 L[2] = {current_sigmabar(conj(lambda_minus(pep)), lambda_minus(pem)),
                      current_sigma(conj(lambda_plus(pep)), lambda_plus(pem))};
  amps.assign(4 * per, 0.0);
  forest_.evaluate_gluons(pg.data(), eps.data(), s);
  forest_.amplitudes(false, conj(lambda_minus(q)), lambda_minus(qb), q, qb, L, 2, s, amps.data());
  forest_.amplitudes(true, conj(lambda_plus(q)), lambda_plus(qb), q, qb, L, 2, s, amps.data() + 2 * per);
}

void EEToFFbarGluons::evaluate(std::size_t n_events, const double* momenta, double* out) const {
  const int n = n_gluons_;
  const int np = static_cast<int>(info_.n_particles());
  const std::size_t no = forest_.orderings().size();
  const int ng = 1 << n;
  EEScratch s;
  s.line = forest_.make_scratch();
  s.pg.resize(n);
  s.eps.resize(2 * n);
  s.amps.resize(2 * no * ng);
  const double e2 = 4 * kPi * sm_.alpha, g2 = 4 * kPi * sm_.alpha_s;
  const double norm = info_.average * e2 * e2 * std::pow(g2, n);
  for (std::size_t ev = 0; ev < n_events; ++ev) {
    const double* p = momenta + ev * np * 4;
    const RVec4 pep = load_vec4(p + 4 * ep_), pem = load_vec4(p + 4 * em_);
    const RVec4 q = load_vec4(p + 4 * f_), qb = load_vec4(p + 4 * fbar_);
    for (int l = 0; l < n; ++l) {
      s.pg[l] = load_vec4(p + 4 * gluons_[l]);
      RVec4 e1, e2v;
      transverse_frame(s.pg[l], e1, e2v);
      s.eps[2 * l] = e1;
      s.eps[2 * l + 1] = e2v;
    }
    const CVec4 L[2] = {current_sigmabar(conj(lambda_minus(pep)), lambda_minus(pem)),
                        current_sigma(conj(lambda_plus(pep)), lambda_plus(pem))};
    cplx F[2][2];
    s_channel_couplings(msq(pep + pem), ce_, cf_, sm_.mZ, sm_.wZ, sm_.sin2w, with_z_, F);
    if (n > 0) forest_.evaluate_gluons(s.pg.data(), s.eps.data(), s.line);
    double total = 0;
    for (int b = 0; b < 2; ++b) {
      if (b == 0)
        forest_.amplitudes(false, conj(lambda_minus(q)), lambda_minus(qb), q, qb, L, 2, s.line, s.amps.data());
      else
        forest_.amplitudes(true, conj(lambda_plus(q)), lambda_plus(qb), q, qb, L, 2, s.line, s.amps.data());
      for (int a = 0; a < 2; ++a) {
        const cplx* A = s.amps.data() + a * no * ng;
        double sum = 0;
        for (int g = 0; g < ng; ++g)
          for (std::size_t o = 0; o < no; ++o) {
            cplx ct = 0;
            for (std::size_t t = 0; t < no; ++t) ct += colour_[o * no + t] * A[t * ng + g];
            sum += std::real(std::conj(A[o * ng + g]) * ct);
          }
        total += std::norm(F[a][b]) * sum;
      }
    }
    out[ev] = norm * total;
  }
}

}  // namespace nis

NIS_REGISTER_PROVIDER(ee_ffbar_jets, [](const nis::ProcessSpec& p, const nis::Parameters& par)
                                         -> std::unique_ptr<nis::MatrixElement> {
  return nis::EEToFFbarGluons::create(p, par);
})
