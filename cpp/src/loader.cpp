// nis: provider libraries. dlopen() a shared library, call its `nis_provider_create`, check the
// ABI version, and wrap the C vtable it fills in as a nis::MatrixElement.
#include <dlfcn.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "nis/bridge.hpp"

namespace nis {
namespace {

constexpr std::size_t kErrLen = 1024;

// Owns one dlopen() reference; dlclose() when the last user is gone (after the provider's
// destroy, see LibraryMatrixElement's member order).
struct LibraryHandle {
  void* handle = nullptr;
  explicit LibraryHandle(void* h) : handle(h) {}
  LibraryHandle(const LibraryHandle&) = delete;
  LibraryHandle& operator=(const LibraryHandle&) = delete;
  ~LibraryHandle() {
    if (handle) dlclose(handle);
  }
};

nis_status known_status(int status) {
  return status >= NIS_ERR_UNKNOWN_PROCESS && status <= NIS_ERR_INTERNAL ? static_cast<nis_status>(status)
                                                                          : NIS_ERR_INTERNAL;
}

std::string message_of(const char* err, const std::string& fallback) {
  return err[0] ? std::string(err) : fallback;
}

ProcessInfo convert(const nis_process_info& c, const std::string& path) {
  const auto bad = [&](const std::string& what) {
    return Error(NIS_ERR_LOAD, "provider library '" + path + "' reports an invalid process: " + what);
  };
  if (c.n_in < 1 || c.n_out < 1)
    throw bad(std::to_string(c.n_in) + " incoming and " + std::to_string(c.n_out) + " outgoing particles");
  if (!c.pdg || !c.masses) throw bad("null pdg or masses array");
  ProcessInfo info;
  info.name = c.name ? c.name : "";
  info.pdg_in.assign(c.pdg, c.pdg + c.n_in);
  info.pdg_out.assign(c.pdg + c.n_in, c.pdg + c.n_in + c.n_out);
  info.masses.assign(c.masses, c.masses + c.n_in + c.n_out);
  info.average = c.average;
  info.order_qcd = c.order_qcd;
  info.order_qed = c.order_qed;
  info.symmetry_factor = c.symmetry_factor;
  return info;
}

// A provider from a library. Not copyable; destroy() is called exactly once, then the library
// reference is dropped.
class LibraryMatrixElement final : public MatrixElement {
 public:
  LibraryMatrixElement(std::shared_ptr<LibraryHandle> library, const nis_provider& provider, std::string path)
      : library_(std::move(library)), provider_(provider), path_(std::move(path)) {
    nis_process_info c{};
    const int status = provider_.info(provider_.state, &c);
    if (status != NIS_OK) {
      provider_.destroy(provider_.state);  // the constructor throws: the destructor will not run
      throw Error(NIS_ERR_LOAD, "provider library '" + path_ + "': info() failed with status " + std::to_string(status));
    }
    try {
      info_ = convert(c, path_);
    } catch (...) {
      provider_.destroy(provider_.state);
      throw;
    }
  }
  LibraryMatrixElement(const LibraryMatrixElement&) = delete;
  LibraryMatrixElement& operator=(const LibraryMatrixElement&) = delete;
  ~LibraryMatrixElement() override { provider_.destroy(provider_.state); }

  const ProcessInfo& info() const override { return info_; }

  void evaluate(std::size_t n_events, const double* momenta, double* out) const override {
    char err[kErrLen] = {0};
    const int status = provider_.evaluate(provider_.state, n_events, momenta, out, err, sizeof err);
    if (status != NIS_OK)
      throw Error(known_status(status), message_of(err, "provider library '" + path_ + "' failed with status " +
                                                            std::to_string(status)));
  }

 private:
  std::shared_ptr<LibraryHandle> library_;  // declared first: released last
  nis_provider provider_;
  std::string path_;
  ProcessInfo info_;
};

// When the process string is one the bridge can read, the library must answer with as many
// particles, or every event would be read with the wrong stride.
void check_particle_count(const MatrixElement& me, const std::string& process, const std::string& path) {
  ProcessSpec spec;
  try {
    spec = parse_process(process);
  } catch (const Error&) {
    return;  // particle names only the library knows: trust it
  }
  const ProcessInfo& info = me.info();
  if (info.pdg_in.size() != spec.pdg_in.size() || info.pdg_out.size() != spec.pdg_out.size())
    throw Error(NIS_ERR_LOAD, "provider library '" + path + "' answered '" + process + "' with '" + info.name +
                                  "', " + std::to_string(info.pdg_in.size()) + " -> " +
                                  std::to_string(info.pdg_out.size()) + " particles instead of " +
                                  std::to_string(spec.pdg_in.size()) + " -> " + std::to_string(spec.pdg_out.size()));
}

}  // namespace

std::unique_ptr<MatrixElement> load_library(const std::string& path, const std::string& process,
                                            const Parameters& parameters) {
  const std::string hint = " (build it as a shared library exporting nis_provider_create, see cpp/README.md)";
  std::error_code ec;
  // A bare name (no '/') is left to dlopen's search path (LD_LIBRARY_PATH, ...).
  if (path.find('/') != std::string::npos && !std::filesystem::exists(path, ec))
    throw Error(NIS_ERR_LOAD, "provider library '" + path + "' does not exist (give the path to the built .so)");
  if (path.find('/') != std::string::npos && std::filesystem::is_directory(path, ec))
    throw Error(NIS_ERR_LOAD, "provider library '" + path + "' is a directory, not a shared library");
  dlerror();
  void* raw = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!raw) {
    const char* why = dlerror();
    throw Error(NIS_ERR_LOAD, "cannot load provider library '" + path + "': " + (why ? why : "unknown dlopen error") + hint);
  }
  auto library = std::make_shared<LibraryHandle>(raw);
  dlerror();
  void* symbol = dlsym(raw, NIS_PROVIDER_ENTRY);
  if (!symbol)
    throw Error(NIS_ERR_LOAD, "provider library '" + path + "' has no entry point '" NIS_PROVIDER_ENTRY "'" +
                                  " (declare it extern \"C\" and export it)" + hint);
  nis_provider_create_fn create_fn = nullptr;
  static_assert(sizeof create_fn == sizeof symbol, "function and object pointers differ in size");
  std::memcpy(&create_fn, &symbol, sizeof symbol);  // POSIX: dlsym's result converts to a function pointer

  nis_provider provider{};
  char err[kErrLen] = {0};
  const std::string par = format_parameters(parameters);
  const int status = create_fn(process.c_str(), par.c_str(), &provider, err, sizeof err);
  if (status != NIS_OK)
    throw Error(known_status(status), "provider library '" + path + "' refused '" + process + "': " +
                                          message_of(err, "status " + std::to_string(status)));
  if (provider.abi_version != NIS_ABI_VERSION)
    // Different ABI: the struct may not mean what we read, so destroy() is not called.
    throw Error(NIS_ERR_LOAD, "provider library '" + path + "' was built for nis ABI version " +
                                  std::to_string(provider.abi_version) + ", this bridge speaks version " +
                                  std::to_string(NIS_ABI_VERSION) + " (rebuild it against this nis' matrix_element.h)");
  if (!provider.info || !provider.evaluate || !provider.destroy) {
    if (provider.destroy) provider.destroy(provider.state);
    throw Error(NIS_ERR_LOAD, "provider library '" + path + "' returned a provider with a null info, evaluate or destroy function");
  }
  auto me = std::make_unique<LibraryMatrixElement>(std::move(library), provider, path);
  check_particle_count(*me, process, path);
  return me;
}

}  // namespace nis
