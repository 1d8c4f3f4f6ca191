// nis: what stands at a C boundary (matrix_element.h) so that no C++ exception crosses it: the
// bridge's C API and provider libraries written in C++ share it. nis::Error becomes the status
// code it carries, anything else NIS_ERR_INTERNAL; the message goes into err.
#pragma once

#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "nis/matrix_element.hpp"

namespace nis {

inline void write_message(char* err, std::size_t errlen, const char* message) {
  if (!err || errlen == 0) return;
  std::strncpy(err, message, errlen - 1);
  err[errlen - 1] = '\0';
}

// Runs f and turns every exception into a status code and a message.
template <class F>
int guarded(char* err, std::size_t errlen, F&& f) noexcept {
  try {
    f();
    write_message(err, errlen, "");
    return NIS_OK;
  } catch (const Error& e) {
    write_message(err, errlen, e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    write_message(err, errlen, "out of memory");
    return NIS_ERR_INTERNAL;
  } catch (const std::exception& e) {
    write_message(err, errlen, (std::string("internal error: ") + e.what()).c_str());
    return NIS_ERR_INTERNAL;
  } catch (...) {
    write_message(err, errlen, "internal error: unknown exception");
    return NIS_ERR_INTERNAL;
  }
}

}  // namespace nis
