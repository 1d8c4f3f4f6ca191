// nis built-in provider: a charged-lepton line and one massless fermion line f fbar + n gluons,
// joined by a photon and a Z (tree level), in any crossing: e+ e- -> q q~ + n g,
// q q~ -> l+ l- + n g, q g -> l+ l- q + (n-1) g, g g -> l+ l- q q~ + (n-2) g (the one-quark-line
// subprocesses of Drell-Yan + jets), e+ e- -> mu+ mu-, e- q -> e- q + n g.
// The current of f fbar + gluons for each colour ordering comes from the Berends-Giele recursion
// of berends_giele.hpp; the colour sum uses the exact quark-line colour matrix
// C[s][t] = sum_colours ((T^{s1}..T^{sn})_{ij})^* (T^{t1}..T^{tn})_{ij} (colour.hpp).
//
//   sum |M|^2 = e^4 g_s^(2n) sum_{lepton chir a, f chir b} |F_ab(s)|^2
//               sum_{gluon pols} sum_{s,t} A_s^* C_st A_t,   A_s = L_a . H_b(s)
// with L the lepton line's chiral currents (crossing.hpp), s the square of the boson's momentum
// (the lepton line's all-outgoing momenta summed: m_ll^2 for Drell-Yan, t for e q -> e q),
// F_ab from electroweak.hpp, averaged over the incoming spins and colours (crossing.hpp).
#include <cmath>
#include <map>
#include <string>

#include "nis/colour.hpp"
#include "nis/crossing.hpp"
#include "nis/providers.hpp"

namespace nis {

namespace {
constexpr double kPi = 3.14159265358979323846;

bool is_charged_lepton(int a) { return a == 11 || a == 13 || a == 15; }
bool is_quark(int a) { return a >= 1 && a <= 5; }
}  // namespace

std::unique_ptr<LeptonPairQuarkLine> LeptonPairQuarkLine::create(const ProcessSpec& spec, const Parameters& par) {
  if (spec.pdg_in.size() != 2 || spec.pdg_out.size() < 2) return nullptr;
  // the fermion lines: per flavour, the positions of the row end and of the column end
  std::map<int, Line> lines;
  std::vector<int> gluons;
  const int np = static_cast<int>(spec.pdg_out.size()) + 2;
  for (int pos = 0; pos < np; ++pos) {
    const bool incoming = pos < 2;
    const int id = incoming ? spec.pdg_in[pos] : spec.pdg_out[pos - 2];
    const int a = id < 0 ? -id : id;
    if (id == 21) {
      gluons.push_back(pos);
      continue;
    }
    if (!is_charged_lepton(a) && !is_quark(a)) return nullptr;
    auto [it, fresh] = lines.try_emplace(a, Line{a, -1, -1});
    int& end = is_row_end(id, incoming) ? it->second.row : it->second.col;
    if (end >= 0) return nullptr;  // two fermions of one flavour on one side: not a single line
    end = pos;
  }
  if (lines.size() != 2) return nullptr;
  Line lepton{0, -1, -1}, f{0, -1, -1};
  for (const auto& [a, line] : lines) {
    if (line.row < 0 || line.col < 0) return nullptr;  // flavour not conserved along the line
    (is_charged_lepton(a) && lepton.row < 0 ? lepton : f) = line;
  }
  if (lepton.row < 0) return nullptr;  // two quark lines: another provider's
  if (!is_quark(f.flavour) && !gluons.empty()) return nullptr;
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
  return std::unique_ptr<LeptonPairQuarkLine>(new LeptonPairQuarkLine(spec, sm, with_z, lepton, f, gluons));
}

LeptonPairQuarkLine::LeptonPairQuarkLine(const ProcessSpec& spec, const SMParameters& sm, bool with_z, Line lepton,
                                         Line f, std::vector<int> gluons)
    : sm_(sm),
      with_z_(with_z),
      lepton_(lepton),
      f_(f),
      gluons_(std::move(gluons)),
      n_gluons_(static_cast<int>(gluons_.size())),
      ce_(fermion_charges(lepton.flavour)),
      cf_(fermion_charges(f.flavour)),
      forest_(n_gluons_) {
  info_.name = spec.text;
  info_.pdg_in = spec.pdg_in;
  info_.pdg_out = spec.pdg_out;
  info_.masses.assign(info_.n_particles(), 0.0);
  info_.average = initial_average(spec.pdg_in, sm_.nc);
  info_.order_qcd = n_gluons_;
  info_.order_qed = 2;
  double fact = 1;
  int k = 1;
  for (int pos : gluons_)
    if (pos >= 2) fact *= k++;
  info_.symmetry_factor = 1.0 / fact;
  colour_ = is_quark(f.flavour) ? colour::quark_line_matrix(forest_.orderings(), sm_.nc) : std::vector<double>{1.0};
}

// Loads one event: the lepton currents, the boson's virtuality and the gluon currents.
// gauge_gluon >= 0 replaces that gluon's polarisation vectors by its momentum.
void LeptonPairQuarkLine::load(const double* ev, int gauge_gluon, Scratch& s) const {
  const Leg lr = load_leg(ev, lepton_.row), lc = load_leg(ev, lepton_.col);
  chiral_currents(lr.p, lc.p, s.L);
  s.s = msq(lr.k + lc.k);
  s.fr = load_leg(ev, f_.row);
  s.fc = load_leg(ev, f_.col);
  for (int l = 0; l < n_gluons_; ++l) {
    const Leg g = load_leg(ev, gluons_[l]);
    s.pg[l] = g.k;
    if (l == gauge_gluon) {
      s.eps[2 * l] = s.eps[2 * l + 1] = g.k;
    } else {
      transverse_frame(g.p, s.eps[2 * l], s.eps[2 * l + 1]);
    }
  }
  if (n_gluons_ > 0) forest_.evaluate_gluons(s.pg.data(), s.eps.data(), s.line);
}

// The amplitudes L_a . H_b of both lepton chiralities for f chirality b (0 = L, 1 = R).
void LeptonPairQuarkLine::line_amplitudes(int b, Scratch& s, cplx* amps) const {
  const RVec4 &pr = s.fr.p, &pc = s.fc.p;
  if (b == 0)
    forest_.amplitudes(false, conj(lambda_minus(pr)), lambda_minus(pc), s.fr.k, s.fc.k, s.L, 2, s.line, amps);
  else
    forest_.amplitudes(true, conj(lambda_plus(pr)), lambda_plus(pc), s.fr.k, s.fc.k, s.L, 2, s.line, amps);
}

LeptonPairQuarkLine::Scratch LeptonPairQuarkLine::make_scratch() const {
  Scratch s;
  s.line = forest_.make_scratch();
  s.pg.resize(n_gluons_);
  s.eps.resize(2 * n_gluons_);
  s.amps.resize((2 * forest_.orderings().size()) << n_gluons_);
  return s;
}

void LeptonPairQuarkLine::amplitudes(const double* ev, std::vector<cplx>& amps, int gauge_gluon) const {
  const std::size_t per = forest_.orderings().size() << n_gluons_;
  Scratch s = make_scratch();
  load(ev, gauge_gluon, s);
  amps.assign(4 * per, 0.0);
  line_amplitudes(0, s, amps.data());
  line_amplitudes(1, s, amps.data() + 2 * per);
}

void LeptonPairQuarkLine::evaluate(std::size_t n_events, const double* momenta, double* out) const {
  const int np = static_cast<int>(info_.n_particles());
  const std::size_t no = forest_.orderings().size();
  const int ng = 1 << n_gluons_;
  Scratch s = make_scratch();
  const double e2 = 4 * kPi * sm_.alpha, g2 = 4 * kPi * sm_.alpha_s;
  const double norm = info_.average * e2 * e2 * std::pow(g2, n_gluons_);
  for (std::size_t ev = 0; ev < n_events; ++ev) {
    load(momenta + ev * np * 4, -1, s);
    cplx F[2][2];
    s_channel_couplings(s.s, ce_, cf_, sm_.mZ, sm_.wZ, sm_.sin2w, with_z_, F);
    double total = 0;
    for (int b = 0; b < 2; ++b) {
      line_amplitudes(b, s, s.amps.data());
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

NIS_REGISTER_PROVIDER(lepton_pair_quark_line, [](const nis::ProcessSpec& p, const nis::Parameters& par)
                                                  -> std::unique_ptr<nis::MatrixElement> {
  return nis::LeptonPairQuarkLine::create(p, par);
})
