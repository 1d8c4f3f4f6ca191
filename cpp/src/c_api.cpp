// nis: the bridge's C API (matrix_element.h): nis_me_create / info / evaluate / destroy. No C++
// exception crosses it: nis::Error becomes its status code, anything else NIS_ERR_INTERNAL, and
// the message goes into err.
#include <memory>
#include <vector>

#include "nis/bridge.hpp"
#include "nis/c_boundary.hpp"

struct nis_me {
  std::unique_ptr<nis::MatrixElement> me;
  std::vector<int> pdg;  // incoming then outgoing, contiguous for nis_process_info
};

using nis::guarded;

extern "C" {

int nis_me_create(const char* library, const char* process, const char* parameters, nis_me** out, char* err,
                  std::size_t errlen) {
  return guarded(err, errlen, [&] {
    if (!out) throw nis::Error(NIS_ERR_INTERNAL, "nis_me_create: out is NULL");
    *out = nullptr;
    if (!process) throw nis::Error(NIS_ERR_UNKNOWN_PROCESS, "nis_me_create: process is NULL");
    const nis::Parameters par = nis::parse_parameters(parameters ? parameters : "");
    auto handle = std::make_unique<nis_me>();
    handle->me = library ? nis::load_library(library, process, par) : nis::create(process, par);
    const nis::ProcessInfo& info = handle->me->info();
    handle->pdg = info.pdg_in;
    handle->pdg.insert(handle->pdg.end(), info.pdg_out.begin(), info.pdg_out.end());
    *out = handle.release();  // owned by the caller until nis_me_destroy
  });
}

int nis_me_info(const nis_me* me, nis_process_info* out) {
  if (!me || !out) return NIS_ERR_INTERNAL;
  const nis::ProcessInfo& info = me->me->info();
  out->name = info.name.c_str();
  out->n_in = static_cast<int>(info.pdg_in.size());
  out->n_out = static_cast<int>(info.pdg_out.size());
  out->pdg = me->pdg.data();
  out->masses = info.masses.data();
  out->average = info.average;
  out->order_qcd = info.order_qcd;
  out->order_qed = info.order_qed;
  out->symmetry_factor = info.symmetry_factor;
  return NIS_OK;
}

int nis_me_evaluate(const nis_me* me, std::size_t n_events, const double* momenta, double* out, char* err,
                    std::size_t errlen) {
  return guarded(err, errlen, [&] {
    if (!me) throw nis::Error(NIS_ERR_INTERNAL, "nis_me_evaluate: me is NULL (create it with nis_me_create)");
    const std::size_t n_values = n_events * me->me->info().n_particles() * 4;
    nis::evaluate_batch(*me->me, n_events, n_values, momenta, out);
  });
}

void nis_me_destroy(nis_me* me) {
  std::unique_ptr<nis_me> owned(me);  // destroys the provider; a no-op for NULL
}

}  // extern "C"
