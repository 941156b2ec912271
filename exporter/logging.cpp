#include "exporter/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace memledger {

namespace {

std::atomic<LogFormat> g_format{LogFormat::logfmt};

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis.count()));
  return buf;
}

void append_escaped(std::string& out, std::string_view value, bool json) {
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || (json && c == 0x7f)) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void append_logfmt_pair(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out.append(key);
  out += '=';
  bool needs_quotes = value.empty();
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) needs_quotes = true;
  }
  if (!needs_quotes) {
    out.append(value);
    return;
  }
  out += '"';
  append_escaped(out, value, false);
  out += '"';
}

void append_json_pair(std::string& out, std::string_view key, std::string_view value) {
  out += out.size() > 1 ? ",\"" : "\"";
  append_escaped(out, key, true);
  out += "\":\"";
  append_escaped(out, value, true);
  out += '"';
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    default: return "error";
  }
}

}  // namespace

std::string json_quote(std::string_view value) {
  std::string out = "\"";
  append_escaped(out, value, true);
  out += '"';
  return out;
}

std::string render_logfmt(std::string_view level, std::string_view msg,
                          std::initializer_list<LogField> fields) {
  std::string out;
  append_logfmt_pair(out, "ts", timestamp());
  append_logfmt_pair(out, "level", level);
  append_logfmt_pair(out, "msg", msg);
  for (const auto& [k, v] : fields) append_logfmt_pair(out, k, v);
  return out;
}

std::string render_json(std::string_view level, std::string_view msg,
                        std::initializer_list<LogField> fields) {
  std::string out = "{";
  append_json_pair(out, "ts", timestamp());
  append_json_pair(out, "level", level);
  append_json_pair(out, "msg", msg);
  for (const auto& [k, v] : fields) append_json_pair(out, k, v);
  out += '}';
  return out;
}

void setup_logging(spdlog::level::level_enum level, LogFormat format) {
  g_format = format;
  auto logger = spdlog::stderr_logger_mt("memledger");
  logger->set_pattern("%v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void log_event(spdlog::level::level_enum level, std::string_view msg,
               std::initializer_list<LogField> fields) {
  if (!spdlog::should_log(level)) return;
  auto name = level_name(level);
  std::string line = g_format == LogFormat::json ? render_json(name, msg, fields)
                                                 : render_logfmt(name, msg, fields);
  spdlog::log(level, "{}", line);
}

}  // namespace memledger
