// Test helper: a strict parser of the Prometheus text exposition format 0.0.4 as pktpoold
// writes it (counters and gauges, no timestamps), so tests check /metrics line by line.
// Header-only; used by tests/unit/metrics and tests/integration/ops.
#ifndef PKTPOOL_TESTS_UNIT_METRICS_PROMETHEUS_TEXT_PARSER_H_
#define PKTPOOL_TESTS_UNIT_METRICS_PROMETHEUS_TEXT_PARSER_H_

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace pktpool::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  uint64_t value = 0;                         // pktpoold writes whole numbers only
};

struct PromFamily {
  std::string name, type, help;
  std::vector<PromSample> samples;
};

struct PromExposition {
  std::vector<PromFamily> families;  // in the order they appear

  const PromFamily* Find(absl::string_view name) const {
    for (const PromFamily& family : families) {
      if (family.name == name) return &family;
    }
    return nullptr;
  }
  // The value of the sample of `name` whose labels include every one of `labels`, or
  // nullopt-like -1 when there is none or more than one.
  int64_t Value(absl::string_view name, const std::map<std::string, std::string>& labels) const {
    const PromFamily* family = Find(name);
    if (family == nullptr) return -1;
    int64_t found = -1;
    int matches = 0;
    for (const PromSample& sample : family->samples) {
      bool match = true;
      for (const auto& [key, value] : labels) {
        auto it = sample.labels.find(key);
        match = match && it != sample.labels.end() && it->second == value;
      }
      if (match) {
        found = static_cast<int64_t>(sample.value);
        ++matches;
      }
    }
    return matches == 1 ? found : -1;
  }
};

namespace prom_internal {

inline bool IsMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' || c == ':' ||
                    (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

inline bool IsLabelName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(absl::ascii_isalpha(c) || c == '_' || (i > 0 && absl::ascii_isdigit(c)))) return false;
  }
  return true;
}

// Unescapes `\\` and `\n` (and `\"` when `quote`); any other escape is an error.
inline bool Unescape(absl::string_view text, bool quote, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      if (quote && text[i] == '"') return false;  // must have been escaped
      if (text[i] == '\n') return false;
      *out += text[i];
      continue;
    }
    if (++i == text.size()) return false;
    switch (text[i]) {
      case '\\': *out += '\\'; break;
      case 'n': *out += '\n'; break;
      case '"':
        if (!quote) return false;
        *out += '"';
        break;
      default: return false;
    }
  }
  return true;
}

// Parses `{a="x",b="y"}` at the start of `rest`; advances `rest` past it.
inline absl::Status ParseLabels(absl::string_view* rest, std::map<std::string, std::string>* out) {
  if (rest->empty() || rest->front() != '{') return absl::OkStatus();
  rest->remove_prefix(1);
  while (true) {
    const size_t equals = rest->find('=');
    if (equals == absl::string_view::npos) return absl::InvalidArgumentError("label without =");
    const std::string name(rest->substr(0, equals));
    if (!IsLabelName(name)) return absl::InvalidArgumentError("bad label name \"" + name + "\"");
    rest->remove_prefix(equals + 1);
    if (rest->empty() || rest->front() != '"') {
      return absl::InvalidArgumentError("label value not quoted");
    }
    rest->remove_prefix(1);
    size_t end = 0;
    while (end < rest->size() && (*rest)[end] != '"') end += (*rest)[end] == '\\' ? 2 : 1;
    if (end >= rest->size()) return absl::InvalidArgumentError("unterminated label value");
    std::string value;
    if (!Unescape(rest->substr(0, end), true, &value)) {
      return absl::InvalidArgumentError("bad escape in label value");
    }
    if (!out->emplace(name, value).second) {
      return absl::InvalidArgumentError("label \"" + name + "\" twice");
    }
    rest->remove_prefix(end + 1);
    if (rest->empty()) return absl::InvalidArgumentError("labels not closed");
    if (rest->front() == '}') {
      rest->remove_prefix(1);
      return absl::OkStatus();
    }
    if (rest->front() != ',') return absl::InvalidArgumentError("expected , or } after a label");
    rest->remove_prefix(1);
  }
}

}  // namespace prom_internal

// Parses `text` strictly: every line is "# HELP name text", "# TYPE name counter|gauge"
// or "name{label=\"value\",...} value"; HELP then TYPE open each family once, before its
// samples; samples carry their family's name, are contiguous, and no series repeats.
// The error names the line (1-based) and what is wrong with it.
inline absl::StatusOr<PromExposition> ParsePrometheusText(absl::string_view text) {
  using prom_internal::IsMetricName;
  PromExposition out;
  if (!text.empty() && text.back() != '\n') {
    return absl::InvalidArgumentError("the text does not end with a newline");
  }
  if (!text.empty()) text.remove_suffix(1);
  std::set<std::string> seen_families;
  std::set<std::string> seen_series;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    auto fail = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", what, ": ", line));
    };
    if (text.empty()) break;
    if (absl::StartsWith(line, "# HELP ")) {
      absl::string_view rest = line.substr(7);
      const size_t space = rest.find(' ');
      if (space == absl::string_view::npos) return fail("HELP without text");
      const std::string name(rest.substr(0, space));
      if (!IsMetricName(name)) return fail("bad metric name");
      if (!seen_families.insert(name).second) return fail("family opened twice");
      PromFamily family;
      family.name = name;
      if (!prom_internal::Unescape(rest.substr(space + 1), false, &family.help)) {
        return fail("bad escape in HELP");
      }
      out.families.push_back(std::move(family));
      continue;
    }
    if (absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line.substr(7), ' ');
      if (parts.size() != 2) return fail("TYPE is not \"name type\"");
      if (out.families.empty() || out.families.back().name != parts[0]) {
        return fail("TYPE without its HELP just before");
      }
      PromFamily& family = out.families.back();
      if (!family.type.empty() || !family.samples.empty()) return fail("TYPE repeated or late");
      if (parts[1] != "counter" && parts[1] != "gauge") return fail("type not counter or gauge");
      family.type = parts[1];
      continue;
    }
    if (absl::StartsWith(line, "#")) return fail("unexpected comment");
    PromSample sample;
    absl::string_view rest = line;
    size_t name_end = 0;
    while (name_end < rest.size() && rest[name_end] != '{' && rest[name_end] != ' ') ++name_end;
    sample.name = std::string(rest.substr(0, name_end));
    if (!IsMetricName(sample.name)) return fail("bad metric name");
    rest.remove_prefix(name_end);
    const size_t labels_start = line.size() - rest.size();
    if (absl::Status labels = prom_internal::ParseLabels(&rest, &sample.labels); !labels.ok()) {
      return fail(labels.message());
    }
    const std::string series =
        absl::StrCat(sample.name, line.substr(labels_start, line.size() - rest.size() - labels_start));
    if (rest.empty() || rest.front() != ' ') return fail("no space before the value");
    rest.remove_prefix(1);
    if (rest.empty() || !std::all_of(rest.begin(), rest.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(rest, &sample.value)) {
      return fail("value is not a whole number (or a timestamp follows)");
    }
    if (out.families.empty() || out.families.back().name != sample.name) {
      return fail("sample outside its family (no HELP/TYPE just before, or not contiguous)");
    }
    if (out.families.back().type.empty()) return fail("sample before its family's TYPE");
    if (!seen_series.insert(series).second) return fail("series repeated");
    out.families.back().samples.push_back(std::move(sample));
  }
  for (const PromFamily& family : out.families) {
    if (family.type.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("family ", family.name, " has no TYPE"));
    }
  }
  return out;
}

// One line of daemon/metrics/metric_families.txt.
struct FamilySpec {
  std::string name, type;
  std::vector<std::string> labels;  // in the order pktpoold writes them
};

// The families listed in `path` ("name type label,label|-" per line, # comments).
inline std::vector<FamilySpec> ReadFamilySpecs(const std::string& path) {
  std::vector<FamilySpec> specs;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 3) continue;
    FamilySpec spec{parts[0], parts[1], {}};
    if (parts[2] != "-") spec.labels = absl::StrSplit(parts[2], ',');
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace pktpool::testing

#endif  // PKTPOOL_TESTS_UNIT_METRICS_PROMETHEUS_TEXT_PARSER_H_
