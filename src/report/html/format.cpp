// Text escaping and number formatting for the HTML report. Everything goes through fmt with
// fixed precision, which does not depend on the locale, so output is byte-identical everywhere.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "report/html/axis.h"
#include "report/html/html_report.h"

namespace eff::html {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i], or 0 if it is invalid (overlong, surrogate,
// beyond U+10FFFF, truncated).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

std::string strip_negative_zero(std::string s) {
  // "-0.00" reads as a sign error to anyone scanning a table; it is 0.
  if (!s.empty() && s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

int clamp_decimals(int d) {
  return std::clamp(d, 0, 9);
}

constexpr const char* kSiPrefixes[] = {"p", "n", "µ", "m", "", "k", "M", "G", "T", "P", "E"};
constexpr int kSiZero = 4;  // index of "" in kSiPrefixes

// The power of 1000 to show `magnitude` with: 1.2e9 -> 3 (G).
int si_exponent(double magnitude) {
  magnitude = std::fabs(magnitude);
  if (magnitude == 0 || !std::isfinite(magnitude)) return 0;
  int e = static_cast<int>(std::floor(std::log10(magnitude) / 3.0));
  return std::clamp(e, -kSiZero, 6);
}

std::string with_unit(std::string number, std::string_view prefix, std::string_view unit) {
  if (prefix.empty() && unit.empty()) return number;
  return fmt::format("{} {}{}", number, prefix, unit);
}

std::string fixed(double v, int decimals) {
  return strip_negative_zero(fmt::format("{:.{}f}", v, decimals));
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    char c = text[i++];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += c;
        break;
      default:
        if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
          out += kReplacement;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string format_number(double value, const NumberFormat& format) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+inf" : "-inf";
  int d = clamp_decimals(format.decimals);
  switch (format.kind) {
    case NumberFormat::Kind::percent:
      return fixed(value * 100.0, d) + "%";
    case NumberFormat::Kind::si: {
      int e = si_exponent(value);
      double scaled = value / std::pow(1000.0, e);
      // 999.999 G at two decimals rounds to "1000.00 G"; show it as "1.00 T".
      if (std::fabs(std::stod(fmt::format("{:.{}f}", scaled, d))) >= 1000.0 && e < 6) {
        ++e;
        scaled = value / std::pow(1000.0, e);
      }
      return with_unit(fixed(scaled, d), kSiPrefixes[e + kSiZero], format.unit);
    }
    case NumberFormat::Kind::plain:
      break;
  }
  return with_unit(fixed(value, d), "", format.unit);
}

int decimals_for_step(double step) {
  step = std::fabs(step);
  if (step == 0 || !std::isfinite(step)) return 0;
  for (int d = 0; d < 9; ++d) {
    double scaled = step * std::pow(10.0, d);
    // round(scaled) >= 1: a step far below one digit (2e-13) is not "exact at 0 decimals".
    if (std::round(scaled) >= 1 && std::fabs(scaled - std::round(scaled)) <= 1e-6 * scaled) return d;
  }
  return 9;
}

std::string format_tick(double value, double step, double magnitude, const NumberFormat& format) {
  switch (format.kind) {
    case NumberFormat::Kind::percent:
      return fixed(value * 100.0, decimals_for_step(step * 100.0)) + "%";
    case NumberFormat::Kind::si: {
      int e = si_exponent(magnitude);
      double scale = std::pow(1000.0, e);
      return with_unit(fixed(value / scale, decimals_for_step(step / scale)), kSiPrefixes[e + kSiZero], format.unit);
    }
    case NumberFormat::Kind::plain:
      break;
  }
  return with_unit(fixed(value, decimals_for_step(step)), "", format.unit);
}

std::string format_log_tick(double value, const std::string& unit) {
  // Intensities around 0.01..10000 read best as plain numbers; performance as SI.
  if (value >= 1e-3 && value < 1e4 && unit.empty()) {
    return fixed(value, decimals_for_step(value));
  }
  int e = si_exponent(value);
  double scaled = value / std::pow(1000.0, e);
  return with_unit(fixed(scaled, decimals_for_step(scaled)), kSiPrefixes[e + kSiZero], unit);
}

}  // namespace eff::html
