#include "collectors/metric_sink.h"

#include <stdexcept>

namespace memledger {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid too).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

}  // namespace

std::string sanitize_label_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    std::size_t len = utf8_sequence_length(raw, i);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(raw.substr(i, len));
      i += len;
    }
  }
  return out;
}

prometheus::MetricFamily& MetricSink::family(std::string_view name, std::string_view help,
                                             MetricType type) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    auto& existing = families_[it->second];
    if (existing.type != type) {
      throw std::logic_error("metric family " + std::string(name) + " declared with two types");
    }
    return existing;
  }
  index_.emplace(std::string(name), families_.size());
  auto& created = families_.emplace_back();
  created.name = name;
  created.help = help;
  created.type = type;
  return created;
}

template <class Values>
void MetricSink::add(const MetricFamilyDecl& decl, const Values& label_values, double value) {
  if (label_values.size() != decl.labels.size()) {
    throw std::logic_error("metric family " + std::string(decl.name) + " takes " +
                           std::to_string(decl.labels.size()) + " label values, got " +
                           std::to_string(label_values.size()));
  }
  auto& fam = family(decl.name, decl.help, decl.type);
  auto& metric = fam.metric.emplace_back();
  metric.label.reserve(label_values.size());
  auto name = decl.labels.begin();
  for (std::string_view label_value : label_values) {
    metric.label.push_back({std::string(*name++), sanitize_label_value(label_value)});
  }
  if (decl.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
}

void MetricSink::emit(const MetricFamilyDecl& family, std::initializer_list<std::string_view> label_values,
                      double value) {
  add(family, label_values, value);
}

void MetricSink::emit(const MetricFamilyDecl& family, const std::vector<std::string_view>& label_values,
                      double value) {
  add(family, label_values, value);
}

void MetricSink::absorb(MetricSink&& other) {
  for (auto& incoming : other.families_) {
    auto& target = family(incoming.name, incoming.help, incoming.type);
    if (&target.metric == &incoming.metric) continue;
    for (auto& m : incoming.metric) target.metric.push_back(std::move(m));
  }
  other.families_.clear();
  other.index_.clear();
}

}  // namespace memledger
