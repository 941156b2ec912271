#pragma once
// Structured log lines (logfmt or JSON) on stderr through spdlog.
#include <spdlog/spdlog.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace memledger {

enum class LogFormat { logfmt, json };

using LogField = std::pair<std::string_view, std::string_view>;

// Installs a stderr logger that prints pre-formatted lines at the given level.
void setup_logging(spdlog::level::level_enum level, LogFormat format);

// One event: msg plus key/value fields, rendered in the configured format.
void log_event(spdlog::level::level_enum level, std::string_view msg,
               std::initializer_list<LogField> fields = {});

// A JSON string literal (quotes included) of arbitrary bytes; control characters escaped.
std::string json_quote(std::string_view value);

// Pure renderers, exposed for tests.
std::string render_logfmt(std::string_view level, std::string_view msg,
                          std::initializer_list<LogField> fields);
std::string render_json(std::string_view level, std::string_view msg,
                        std::initializer_list<LogField> fields);

}  // namespace memledger
