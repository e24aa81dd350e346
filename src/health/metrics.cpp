#include "health/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace relay::health {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

// HELP text escapes backslash and newline; label values also the double quote.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool is_metric_name(std::string_view name) {
  if (name.empty() || !(name_start(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return name_char(c) || c == ':'; });
}

bool is_label_name(std::string_view name) {
  // Names starting with "__" are reserved for Prometheus itself.
  if (name.empty() || !name_start(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(), name_char);
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::abs(value) < 1e15) return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{}", value);
}

MetricFamily& MetricFamily::add(Labels labels, double value) {
  const bool has_quantile =
      std::any_of(labels.begin(), labels.end(), [](const auto& l) { return l.first == "quantile"; });
  if (type_ == MetricType::summary && !has_quantile)
    throw std::invalid_argument(fmt::format("{}: a summary sample needs a quantile label", name_));
  if (type_ != MetricType::summary && has_quantile)
    throw std::invalid_argument(fmt::format("{}: only a summary has a quantile label", name_));
  add_sample("", std::move(labels), value);
  return *this;
}

MetricFamily& MetricFamily::add_count_and_sum(Labels labels, double count, double sum) {
  if (type_ != MetricType::summary) throw std::invalid_argument(fmt::format("{}: not a summary", name_));
  add_sample("_count", labels, count);
  add_sample("_sum", std::move(labels), sum);
  return *this;
}

void MetricFamily::add_sample(std::string suffix, Labels labels, double value) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!is_label_name(labels[i].first))
      throw std::invalid_argument(fmt::format("{}: '{}' is not a valid label name", name_, labels[i].first));
    for (size_t j = 0; j < i; ++j) {
      if (labels[j].first == labels[i].first)
        throw std::invalid_argument(fmt::format("{}: label '{}' given twice", name_, labels[i].first));
    }
  }
  if ((type_ == MetricType::counter || suffix == "_count") && !(value >= 0))
    throw std::invalid_argument(fmt::format("{}{}: a count cannot be {}", name_, suffix, value));
  auto sorted = [](Labels l) {
    std::sort(l.begin(), l.end());
    return l;
  };
  const Labels key = sorted(labels);
  for (const auto& existing : samples_) {
    if (existing.suffix == suffix && sorted(existing.labels) == key)
      throw std::invalid_argument(fmt::format("{}: the same labels added twice", name_));
  }
  samples_.push_back({std::move(suffix), std::move(labels), value});
}

MetricFamily& MetricRegistry::counter(std::string name, std::string help) {
  if (!name.ends_with("_total"))
    throw std::invalid_argument(fmt::format("counter '{}' must end in _total", name));
  return declare(std::move(name), std::move(help), MetricType::counter);
}

MetricFamily& MetricRegistry::gauge(std::string name, std::string help) {
  return declare(std::move(name), std::move(help), MetricType::gauge);
}

MetricFamily& MetricRegistry::summary(std::string name, std::string help) {
  return declare(std::move(name), std::move(help), MetricType::summary);
}

MetricFamily& MetricRegistry::declare(std::string name, std::string help, MetricType type) {
  if (!is_metric_name(name)) throw std::invalid_argument(fmt::format("'{}' is not a valid metric name", name));
  for (const auto& f : families_) {
    if (f->name() == name) throw std::invalid_argument(fmt::format("metric '{}' declared twice", name));
  }
  families_.push_back(std::unique_ptr<MetricFamily>(new MetricFamily(std::move(name), std::move(help), type)));
  return *families_.back();
}

std::string MetricRegistry::render() const {
  std::string out;
  for (const auto& f : families_) {
    if (f->samples_.empty()) continue;
    out += fmt::format("# HELP {} {}\n", f->name_, escape(f->help_, false));
    const char* type = f->type_ == MetricType::counter ? "counter" : f->type_ == MetricType::gauge ? "gauge" : "summary";
    out += fmt::format("# TYPE {} {}\n", f->name_, type);
    for (const auto& [suffix, labels, value] : f->samples_) {
      out += f->name_;
      out += suffix;
      if (!labels.empty()) {
        out += '{';
        for (size_t i = 0; i < labels.size(); ++i) {
          if (i) out += ',';
          out += fmt::format("{}=\"{}\"", labels[i].first, escape(labels[i].second, true));
        }
        out += '}';
      }
      out += ' ';
      out += format_metric_value(value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace relay::health
