#pragma once
// Command-line flags, in node_exporter's style. Parsing is pure: no I/O, no exit.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"
#include "exporter/http_server.h"
#include "exporter/logging.h"

namespace memledger {

// explain's own flags; the rest (--path.*, --config.file, --collector.*) are the daemon's.
struct ExplainOptions {
  bool json = false;
  double interval_seconds = 0;  // 0: one collection
};

struct CliOptions {
  HttpOptions http;
  SourceRoots roots;
  std::optional<std::string> config_file;
  std::optional<std::string> web_config_file;  // --web.config.file: TLS and basic auth
  std::map<std::string, bool, std::less<>> collector_overrides;  // --[no-]collector.NAME
  std::string log_level = "info";
  LogFormat log_format = LogFormat::logfmt;
  bool once = false;
  bool show_help = false;
  bool show_version = false;
  ExplainOptions explain;
};

// The daemon's flags, or those of `memledger_exporter explain` (which adds --json and
// --interval and has no use for the web and --once flags).
enum class CliMode { daemon, explain };

struct CliResult {
  CliOptions options;
  std::string error;  // non-empty: the arguments are unusable, say this and exit 2
};

CliResult parse_cli(const std::vector<std::string>& args, CliMode mode = CliMode::daemon);

// "500ms", "10s", "2m" in milliseconds; nullopt for anything else.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text);

std::string cli_help();
std::string explain_help();

}  // namespace memledger
