// nis: parameter strings ("alpha_s=0.118; mZ=91.19") to and from nis::Parameters.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nis/bridge.hpp"

namespace nis {
namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

double parse_value(const std::string& name, const std::string& text) {
  const std::string hint = "write name=value, e.g. \"alpha_s=0.118;mZ=91.1876\"";
  if (text.empty()) throw Error(NIS_ERR_BAD_PARAMETER, "parameter '" + name + "' has no value (" + hint + ")");
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value))
    throw Error(NIS_ERR_BAD_PARAMETER,
                "parameter '" + name + "' = '" + text + "' is not a finite number (" + hint + ")");
  return value;
}

}  // namespace

Parameters parse_parameters(const std::string& text) {
  Parameters parameters;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto stop = text.find_first_of(";,", start);
    const std::string entry = trim(text.substr(start, stop == std::string::npos ? std::string::npos : stop - start));
    start = stop == std::string::npos ? text.size() + 1 : stop + 1;
    if (entry.empty()) continue;
    const auto eq = entry.find('=');
    if (eq == std::string::npos)
      throw Error(NIS_ERR_BAD_PARAMETER, "parameter entry '" + entry + "' has no '=' (write name=value, e.g. \"mZ=91.1876\")");
    const std::string name = trim(entry.substr(0, eq));
    if (name.empty()) throw Error(NIS_ERR_BAD_PARAMETER, "parameter entry '" + entry + "' has no name before '='");
    const double value = parse_value(name, trim(entry.substr(eq + 1)));
    if (!parameters.emplace(name, value).second)
      throw Error(NIS_ERR_BAD_PARAMETER, "parameter '" + name + "' is given twice in '" + text + "'");
  }
  return parameters;
}

std::string format_parameters(const Parameters& parameters) {
  std::string text;
  for (const auto& [name, value] : parameters) {
    char number[32];
    std::snprintf(number, sizeof number, "%.17g", value);
    text += (text.empty() ? "" : ";") + name + "=" + number;
  }
  return text;
}

}  // namespace nis
