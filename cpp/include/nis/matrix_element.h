/* nis: the batched matrix-element interface, C view (C99; usable from C, C++ and Fortran's
 * ISO_C_BINDING).
 *
 * Conventions (DESIGN.md): momenta are double arrays of n_events * n_particles * 4 values,
 * event-major, each particle (E, px, py, pz) in GeV, incoming particles first. The result is
 * |M|^2 summed over final-state spins and colours and averaged over initial ones (the factor
 * `average` below is already applied); the final-state symmetry factor is NOT applied (the
 * phase-space side applies `symmetry_factor`).
 *
 * Every function returns NIS_OK (0) or an error code, and writes a message (NUL-terminated,
 * truncated to errlen) into err when err is not NULL. No function lets a C++ exception cross it.
 */
#ifndef NIS_MATRIX_ELEMENT_H
#define NIS_MATRIX_ELEMENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NIS_ABI_VERSION 1

enum nis_status {
  NIS_OK = 0,
  NIS_ERR_UNKNOWN_PROCESS = 1, /* no provider knows the process, or an unknown particle name */
  NIS_ERR_BAD_PARAMETER = 2,   /* a parameter name or value the provider rejects */
  NIS_ERR_BAD_MOMENTA = 3,     /* NaN, wrong count, or momentum not conserved */
  NIS_ERR_LOAD = 4,            /* a provider library that does not load or lacks the entry point */
  NIS_ERR_INTERNAL = 5         /* anything else (a C++ exception caught at the boundary) */
};

/* What a process is. Arrays are owned by the provider and live as long as it does. */
typedef struct nis_process_info {
  const char *name;      /* e.g. "e+ e- -> mu+ mu-" */
  int n_in, n_out;       /* particle counts */
  const int *pdg;        /* n_in + n_out PDG ids, incoming first */
  const double *masses;  /* n_in + n_out masses in GeV */
  double average;        /* 1 / (initial spin states * initial colour states), already applied */
  int order_qcd;         /* power of alpha_s in |M|^2 */
  int order_qed;         /* power of alpha in |M|^2 */
  double symmetry_factor;/* 1 / prod_k n_k! over identical final-state particles; not applied */
} nis_process_info;

/* A provider as a table of C functions: what a shared library returns from its entry point
 * `nis_provider_create` (see below). `state` is passed back to every call. */
typedef struct nis_provider {
  int abi_version;  /* NIS_ABI_VERSION */
  void *state;
  int (*info)(void *state, nis_process_info *out);
  /* |M|^2 of n events; must be safe to call from several threads at once on disjoint ranges */
  int (*evaluate)(void *state, size_t n_events, const double *momenta, double *out, char *err, size_t errlen);
  void (*destroy)(void *state);
} nis_provider;

/* The entry point a provider library exports. `process` is a process string such as
 * "e+ e- -> d d~ g", `parameters` a "name=value;name=value" list (may be empty). */
typedef int (*nis_provider_create_fn)(const char *process, const char *parameters, nis_provider *out, char *err,
                                      size_t errlen);
#define NIS_PROVIDER_ENTRY "nis_provider_create"

/* The bridge's own C API (libnis_me): built-in providers by process string, or a provider
 * library by path (library != NULL). */
typedef struct nis_me nis_me;
int nis_me_create(const char *library, const char *process, const char *parameters, nis_me **out, char *err,
                  size_t errlen);
int nis_me_info(const nis_me *me, nis_process_info *out);
int nis_me_evaluate(const nis_me *me, size_t n_events, const double *momenta, double *out, char *err,
                    size_t errlen);
void nis_me_destroy(nis_me *me);

#ifdef __cplusplus
}
#endif
#endif /* NIS_MATRIX_ELEMENT_H */
