// nis: one call of a MadGraph CUDACPP Bridge's sequence(), whatever the plugin's version.
//
// The Bridge's cpu_sequence (gpu_sequence for CUDA: define NIS_MG_SEQUENCE before including) has
// changed between versions of the plugin (newest first):
//   (a) momenta, gs, iflavorVec, rndhel, rndcol, channelIds, mes, selhel, selcol, goodHelOnly
//   (b) momenta, gs, rndhel, rndcol, channelIds, mes, selhel, selcol, goodHelOnly
//   (c) momenta, gs, rndhel, rndcol, channelId, mes, selhel, selcol, goodHelOnly
//   (d) momenta, gs, mes, channelId, goodHelOnly
// bridge_sequence() finds the one the Bridge has at compile time; a Bridge with none of them is a
// compile error that says so. Multichannel (single-diagram enhancement) is off: channelIds is
// nullptr, channelId 0; the flavour combination is iflavorVec's (0: the subprocess's first).
#pragma once

#include <type_traits>
#include <utility>

#ifndef NIS_MG_SEQUENCE
#define NIS_MG_SEQUENCE cpu_sequence
#endif

namespace nis_mg {

// The per-event inputs and outputs of one Bridge call (as many as the Bridge has events).
struct BridgeBuffers {
  const double* gs;          // strong coupling G = sqrt(4 pi alpha_s)
  const unsigned* flavour;   // flavour combination (versions (a))
  const double* rndhel;      // random numbers for the helicity choice
  const double* rndcol;      // random numbers for the colour choice
  double* mes;               // out: |M|^2
  int* selhel;               // out: chosen helicity
  int* selcol;               // out: chosen colour
};

template <class B, class = void>
struct api_a : std::false_type {};
template <class B>
struct api_a<B, std::void_t<decltype(std::declval<B&>().NIS_MG_SEQUENCE(
                    std::declval<const double*>(), std::declval<const double*>(), std::declval<const unsigned*>(),
                    std::declval<const double*>(), std::declval<const double*>(), std::declval<const unsigned*>(),
                    std::declval<double*>(), std::declval<int*>(), std::declval<int*>(), false))>> : std::true_type {};
template <class B, class = void>
struct api_b : std::false_type {};
template <class B>
struct api_b<B, std::void_t<decltype(std::declval<B&>().NIS_MG_SEQUENCE(
                    std::declval<const double*>(), std::declval<const double*>(), std::declval<const double*>(),
                    std::declval<const double*>(), std::declval<const unsigned*>(), std::declval<double*>(),
                    std::declval<int*>(), std::declval<int*>(), false))>> : std::true_type {};
template <class B, class = void>
struct api_c : std::false_type {};
template <class B>
struct api_c<B, std::void_t<decltype(std::declval<B&>().NIS_MG_SEQUENCE(
                    std::declval<const double*>(), std::declval<const double*>(), std::declval<const double*>(),
                    std::declval<const double*>(), std::declval<unsigned>(), std::declval<double*>(),
                    std::declval<int*>(), std::declval<int*>(), false))>> : std::true_type {};
template <class B, class = void>
struct api_d : std::false_type {};
template <class B>
struct api_d<B, std::void_t<decltype(std::declval<B&>().NIS_MG_SEQUENCE(
                    std::declval<const double*>(), std::declval<const double*>(), std::declval<double*>(),
                    std::declval<unsigned>(), false))>> : std::true_type {};
template <class>
constexpr bool kUnknownApi = false;

// |M|^2 of the Bridge's events at `momenta` into b.mes (the Bridge's own event count).
template <class B>
void bridge_sequence(B& bridge, const double* momenta, const BridgeBuffers& b) {
  if constexpr (api_a<B>::value) {
    bridge.NIS_MG_SEQUENCE(momenta, b.gs, b.flavour, b.rndhel, b.rndcol, nullptr, b.mes, b.selhel, b.selcol, false);
  } else if constexpr (api_b<B>::value) {
    const unsigned* no_channels = nullptr;
    bridge.NIS_MG_SEQUENCE(momenta, b.gs, b.rndhel, b.rndcol, no_channels, b.mes, b.selhel, b.selcol, false);
  } else if constexpr (api_c<B>::value) {
    bridge.NIS_MG_SEQUENCE(momenta, b.gs, b.rndhel, b.rndcol, 0u, b.mes, b.selhel, b.selcol, false);
  } else if constexpr (api_d<B>::value) {
    bridge.NIS_MG_SEQUENCE(momenta, b.gs, b.mes, 0u, false);
  } else {
    static_assert(kUnknownApi<B>,
                  "nis: this CUDACPP Bridge has a sequence() signature nis does not know (known: the plugin's "
                  "2022-2025 versions, see cpp/madgraph/nis_mg_bridge_api.hpp)");
  }
}

}  // namespace nis_mg
