// nis: process strings ("e+ e- -> d d~ g g") and the particle-name table behind them.
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "nis/bridge.hpp"

namespace nis {
namespace {

struct Particle {
  const char* name;
  int pdg;
};

// MadGraph-style names; the order is the one error messages list them in.
constexpr Particle kParticles[] = {
    {"e-", 11},  {"e+", -11},  {"mu-", 13}, {"mu+", -13}, {"ta-", 15},  {"ta+", -15}, {"ve", 12},
    {"ve~", -12}, {"vm", 14},  {"vm~", -14}, {"vt", 16},  {"vt~", -16}, {"d", 1},     {"d~", -1},
    {"u", 2},    {"u~", -2},   {"s", 3},    {"s~", -3},   {"c", 4},     {"c~", -4},   {"b", 5},
    {"b~", -5},  {"t", 6},     {"t~", -6},  {"g", 21},    {"a", 22},    {"z", 23},    {"w+", 24},
    {"w-", -24}, {"h", 25},
};

std::string known_names() {
  std::string s;
  for (const auto& n : particle_names()) s += (s.empty() ? "" : " ") + n;
  return s;
}

std::vector<int> parse_side(const std::vector<std::string>& tokens, const std::string& text, const char* side) {
  if (tokens.empty())
    throw Error(NIS_ERR_UNKNOWN_PROCESS,
                "process '" + text + "' has no " + side + " particles (write e.g. \"e+ e- -> mu+ mu-\")");
  std::vector<int> pdg;
  pdg.reserve(tokens.size());
  for (const auto& t : tokens) pdg.push_back(pdg_code(t));
  return pdg;
}

}  // namespace

std::vector<std::string> particle_names() {
  std::vector<std::string> names;
  for (const auto& p : kParticles) names.emplace_back(p.name);
  return names;
}

int pdg_code(const std::string& name) {
  for (const auto& p : kParticles)
    if (name == p.name) return p.pdg;
  throw Error(NIS_ERR_UNKNOWN_PROCESS, "unknown particle '" + name + "' (known: " + known_names() + ")");
}

std::string particle_name(int pdg) {
  for (const auto& p : kParticles)
    if (pdg == p.pdg) return p.name;
  return std::to_string(pdg);
}

ProcessSpec parse_process(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> before, after;
  int arrows = 0;
  for (std::string token; in >> token;) {
    if (token == "->") {
      ++arrows;
    } else if (token.find("->") != std::string::npos) {
      throw Error(NIS_ERR_UNKNOWN_PROCESS,
                  "process '" + text + "': put blanks around \"->\" and between particles (e.g. \"e+ e- -> mu+ mu-\")");
    } else {
      (arrows == 0 ? before : after).push_back(token);
    }
  }
  if (arrows != 1)
    throw Error(NIS_ERR_UNKNOWN_PROCESS, "process '" + text + "' must contain exactly one \"->\" (found " +
                                             std::to_string(arrows) + "), as in \"e+ e- -> mu+ mu-\"");
  ProcessSpec spec;
  spec.text = text;
  spec.pdg_in = parse_side(before, text, "incoming");
  spec.pdg_out = parse_side(after, text, "outgoing");
  return spec;
}

}  // namespace nis
