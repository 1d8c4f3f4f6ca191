// nis: the registry of built-in providers (filled at static-initialisation time by
// NIS_REGISTER_PROVIDER) and nis::create(), which asks them for a process.
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "nis/bridge.hpp"

namespace nis {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, Factory> factories;  // by provider name: a fixed order to ask them in
};

// Constructed on first use, so registration from other translation units' static initialisers
// never sees an unconstructed registry.
Registry& registry() {
  static Registry r;
  return r;
}

// A provider's answer must describe the process it was asked for, or the bridge would read the
// momenta with the wrong stride.
void check_answer(const std::string& provider, const ProcessSpec& spec, const MatrixElement& me) {
  const ProcessInfo& info = me.info();
  if (info.pdg_in.size() != spec.pdg_in.size() || info.pdg_out.size() != spec.pdg_out.size() ||
      info.masses.size() != info.n_particles())
    throw Error(NIS_ERR_INTERNAL, "built-in provider '" + provider + "' answered '" + spec.text + "' with process '" +
                                      info.name + "' of " + std::to_string(info.pdg_in.size()) + " -> " +
                                      std::to_string(info.pdg_out.size()) + " particles and " +
                                      std::to_string(info.masses.size()) + " masses (a bug in that provider)");
}

}  // namespace

void register_factory(const std::string& provider_name, Factory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[provider_name] = std::move(factory);
}

std::vector<std::string> provider_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& entry : r.factories) names.push_back(entry.first);
  return names;
}

std::unique_ptr<MatrixElement> create(const std::string& process, const Parameters& parameters) {
  const ProcessSpec spec = parse_process(process);
  std::map<std::string, Factory> factories;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    factories = r.factories;  // a copy: factories run without the lock held
  }
  for (const auto& [name, factory] : factories) {
    if (auto me = factory(spec, parameters)) {
      check_answer(name, spec, *me);
      return me;
    }
  }
  std::string names;
  for (const auto& entry : factories) names += (names.empty() ? "" : ", ") + entry.first;
  throw Error(NIS_ERR_UNKNOWN_PROCESS,
              "no built-in provider handles '" + process + "' (providers: " +
                  (names.empty() ? std::string("none compiled in") : names) +
                  "); for another process load a provider library (library=PATH)");
}

}  // namespace nis
