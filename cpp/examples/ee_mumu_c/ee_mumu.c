/* nis example provider in plain C99: e+ e- -> mu+ mu- through the photon only, massless.
 *
 *   (1/4) sum_spins |M|^2 = 2 e^4 (t^2 + u^2) / s^2,   e^2 = 4 pi alpha,
 *   s = (p1 + p2)^2, t = (p1 - p3)^2, u = (p1 - p4)^2.
 *
 * It shows how a C or Fortran generator plugs into nis: fill a nis_provider table in the exported
 * entry point nis_provider_create and build a shared library:
 *
 *   cc -O2 -shared -fPIC -I cpp/include cpp/examples/ee_mumu_c/ee_mumu.c -o libnis_ee_mumu.so
 *
 * Accepted processes: e+ e- -> mu+ mu- with the two incoming and the two outgoing particles in
 * either order (the formula is symmetric under t <-> u). Parameters: alpha (default 1/132.507).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nis/matrix_element.h"

#if defined(__GNUC__)
#define NIS_EXAMPLE_EXPORT __attribute__((visibility("default")))
#else
#define NIS_EXAMPLE_EXPORT
#endif

typedef struct {
  double alpha;
  char name[64];
  int pdg[4];
  double masses[4];
} ee_mumu_state;

static void set_error(char *err, size_t errlen, const char *message) {
  if (err && errlen > 0) {
    strncpy(err, message, errlen - 1);
    err[errlen - 1] = '\0';
  }
}

static int ee_mumu_info(void *state, nis_process_info *out) {
  const ee_mumu_state *s = (const ee_mumu_state *)state;
  out->name = s->name;
  out->n_in = 2;
  out->n_out = 2;
  out->pdg = s->pdg;
  out->masses = s->masses;
  out->average = 0.25; /* two initial helicities each */
  out->order_qcd = 0;
  out->order_qed = 2;
  out->symmetry_factor = 1.0;
  return NIS_OK;
}

static double dot(const double *a, const double *b) { return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]; }

static int ee_mumu_evaluate(void *state, size_t n_events, const double *momenta, double *out, char *err,
                            size_t errlen) {
  const ee_mumu_state *s = (const ee_mumu_state *)state;
  const double e2 = 4.0 * 3.14159265358979323846 * s->alpha;
  size_t i;
  (void)err;
  (void)errlen;
  for (i = 0; i < n_events; ++i) {
    const double *p1 = momenta + 16 * i, *p2 = p1 + 4, *p3 = p1 + 8, *p4 = p1 + 12;
    const double sh = 2.0 * dot(p1, p2), th = -2.0 * dot(p1, p3), uh = -2.0 * dot(p1, p4);
    out[i] = 2.0 * e2 * e2 * (th * th + uh * uh) / (sh * sh);
  }
  return NIS_OK;
}

static void ee_mumu_destroy(void *state) { free(state); }

/* Reads "e+ e- -> mu+ mu-" (either order on each side) into pdg[4]; 0 on success. */
static int parse_process(const char *process, int pdg[4]) {
  char a[8], b[8], arrow[8], c[8], d[8], extra[8];
  if (sscanf(process, "%7s %7s %7s %7s %7s %7s", a, b, arrow, c, d, extra) != 5 || strcmp(arrow, "->") != 0) return 1;
  if (!strcmp(a, "e+") && !strcmp(b, "e-")) { pdg[0] = -11; pdg[1] = 11; }
  else if (!strcmp(a, "e-") && !strcmp(b, "e+")) { pdg[0] = 11; pdg[1] = -11; }
  else return 1;
  if (!strcmp(c, "mu+") && !strcmp(d, "mu-")) { pdg[2] = -13; pdg[3] = 13; }
  else if (!strcmp(c, "mu-") && !strcmp(d, "mu+")) { pdg[2] = 13; pdg[3] = -13; }
  else return 1;
  return 0;
}

/* Reads "alpha=0.0075" (entries separated by ';' or ','); 0 on success. */
static int parse_parameters(const char *parameters, double *alpha, char *err, size_t errlen) {
  const char *p = parameters;
  while (p && *p) {
    size_t len = strcspn(p, ";,");
    char entry[128], name[64], message[256], tail;
    double value;
    if (len >= sizeof entry) len = sizeof entry - 1;
    memcpy(entry, p, len);
    entry[len] = '\0';
    p += strcspn(p, ";,");
    if (*p) ++p;
    if (strspn(entry, " \t") == strlen(entry)) continue; /* empty entry */
    if (sscanf(entry, " %63[^= ] = %lf %c", name, &value, &tail) != 2 || strcmp(name, "alpha") != 0 ||
        !(value > 0) || !isfinite(value)) {
      snprintf(message, sizeof message, "ee_mumu example: bad parameter '%s' (known: alpha, a positive number)", entry);
      set_error(err, errlen, message);
      return 1;
    }
    *alpha = value;
  }
  return 0;
}

NIS_EXAMPLE_EXPORT int nis_provider_create(const char *process, const char *parameters, nis_provider *out, char *err,
                                           size_t errlen) {
  ee_mumu_state *s;
  int pdg[4];
  double alpha = 1.0 / 132.507;
  if (!process || !out) {
    set_error(err, errlen, "ee_mumu example: null process or output");
    return NIS_ERR_INTERNAL;
  }
  if (parse_process(process, pdg)) {
    char message[256];
    snprintf(message, sizeof message, "ee_mumu example handles only 'e+ e- -> mu+ mu-', not '%.120s'", process);
    set_error(err, errlen, message);
    return NIS_ERR_UNKNOWN_PROCESS;
  }
  if (parse_parameters(parameters, &alpha, err, errlen)) return NIS_ERR_BAD_PARAMETER;
  s = (ee_mumu_state *)calloc(1, sizeof *s);
  if (!s) {
    set_error(err, errlen, "ee_mumu example: out of memory");
    return NIS_ERR_INTERNAL;
  }
  s->alpha = alpha;
  memcpy(s->pdg, pdg, sizeof pdg);
  snprintf(s->name, sizeof s->name, "%s (photon only, C example)", "e+ e- -> mu+ mu-");
  out->abi_version = NIS_ABI_VERSION;
  out->state = s;
  out->info = ee_mumu_info;
  out->evaluate = ee_mumu_evaluate;
  out->destroy = ee_mumu_destroy;
  return NIS_OK;
}
