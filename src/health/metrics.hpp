#pragma once
// A registry of metric families for one scrape, rendered in the Prometheus text
// exposition format (version 0.0.4). Values are read from the live objects when
// /metrics is asked for and added here; the registry checks names, labels and
// duplicates so that a mistake shows up as an exception in a unit test instead of
// as a scrape Prometheus refuses.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relay::health {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { counter, gauge, summary };

class MetricFamily {
 public:
  // Throws std::invalid_argument for a bad label name, a label set already
  // added, or a negative or NaN counter value.
  MetricFamily& add(Labels labels, double value);
  MetricFamily& add(double value) { return add({}, value); }
  // A summary's quantiles go in with add() and a "quantile" label; its count and sum here.
  MetricFamily& add_count_and_sum(Labels labels, double count, double sum);

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  size_t size() const { return samples_.size(); }

 private:
  friend class MetricRegistry;
  MetricFamily(std::string name, std::string help, MetricType type)
      : name_(std::move(name)), help_(std::move(help)), type_(type) {}

  std::string name_;
  std::string help_;
  MetricType type_;
  struct Sample {
    std::string suffix;  // "", or "_sum" / "_count" of a summary
    Labels labels;
    double value;
  };
  void add_sample(std::string suffix, Labels labels, double value);
  std::vector<Sample> samples_;
};

class MetricRegistry {
 public:
  // Counters must end in "_total"; names are [a-zA-Z_:][a-zA-Z0-9_:]*. A name
  // declared twice throws std::invalid_argument.
  MetricFamily& counter(std::string name, std::string help);
  MetricFamily& gauge(std::string name, std::string help);
  // Quantiles computed here (not in Prometheus) over what is current, e.g. the
  // latency of the viewers watching now.
  MetricFamily& summary(std::string name, std::string help);

  // Families in the order declared, each with its HELP and TYPE lines; a family
  // without samples is left out.
  std::string render() const;

 private:
  MetricFamily& declare(std::string name, std::string help, MetricType type);
  std::vector<std::unique_ptr<MetricFamily>> families_;
};

bool is_metric_name(std::string_view name);
bool is_label_name(std::string_view name);
// A sample value as the exposition format writes it: integers without a
// fraction, "+Inf", "-Inf", "NaN".
std::string format_metric_value(double value);

}  // namespace relay::health
