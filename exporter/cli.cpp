#include "exporter/cli.h"

#include <charconv>
#include <string_view>

#include "collectors/registry.h"
#include "procfs/text.h"

namespace memledger {

namespace {

bool known_collector(std::string_view name) {
  for (const auto& info : collector_catalog()) {
    if (info->name() == name) return true;
  }
  return false;
}

}  // namespace

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}};
  for (auto [unit, scale] : kUnits) {
    if (text.size() > unit.size() && text.substr(text.size() - unit.size()) == unit) {
      auto number = text::to_u64(text.substr(0, text.size() - unit.size()));
      if (!number || *number > UINT64_MAX / scale) return std::nullopt;
      return *number * scale;
    }
  }
  return std::nullopt;
}

CliResult parse_cli(const std::vector<std::string>& args, CliMode mode) {
  CliResult result;
  CliOptions& o = result.options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      result.error = "unexpected argument \"" + arg + "\"";
      return result;
    }
    std::string flag = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto take_value = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < args.size()) return args[++i];
      result.error = "flag " + flag + " needs a value";
      return std::nullopt;
    };
    auto no_value = [&]() {
      if (value) result.error = "flag " + flag + " takes no value";
      return !value;
    };

    if (mode == CliMode::explain && (flag == "--once" || text::starts_with(flag, "--web.") ||
                                     text::starts_with(flag, "--log."))) {
      result.error = flag + " is not a flag of explain (see explain --help)";
      return result;
    }
    if (mode == CliMode::explain && flag == "--json") {
      if (!no_value()) return result;
      o.explain.json = true;
    } else if (mode == CliMode::explain && flag == "--interval") {
      auto v = take_value();
      if (!v) return result;
      auto ms = parse_duration_ms(*v);
      if (!ms) {
        if (auto seconds = text::to_u64(*v)) ms = *seconds * 1000;
      }
      if (!ms || *ms > 3'600'000) {
        result.error = "--interval wants seconds (or a duration such as 30s) up to one hour";
        return result;
      }
      o.explain.interval_seconds = static_cast<double>(*ms) / 1000;
    } else if (flag == "--help" || flag == "-h") {
      if (!no_value()) return result;
      o.show_help = true;
    } else if (flag == "--version") {
      if (!no_value()) return result;
      o.show_version = true;
    } else if (flag == "--once") {
      if (!no_value()) return result;
      o.once = true;
    } else if (flag == "--web.listen-address") {
      auto v = take_value();
      if (!v) return result;
      if (v->find(':') == std::string::npos) {
        result.error = "--web.listen-address wants [host]:port, got \"" + *v + "\"";
        return result;
      }
      o.http.listen_address = *v;
    } else if (flag == "--web.telemetry-path") {
      auto v = take_value();
      if (!v) return result;
      if (v->empty() || v->front() != '/' || *v == "/") {
        result.error = "--web.telemetry-path must start with / and not be / itself";
        return result;
      }
      o.http.telemetry_path = *v;
    } else if (flag == "--web.max-requests") {
      auto v = take_value();
      if (!v) return result;
      auto n = text::to_u64(*v);
      if (!n || *n < 1 || *n > 1024) {
        result.error = "--web.max-requests must be between 1 and 1024";
        return result;
      }
      o.http.max_requests = static_cast<int>(*n);
    } else if (flag == "--web.max-connections") {
      auto v = take_value();
      if (!v) return result;
      auto n = text::to_u64(*v);
      if (!n || *n < 16 || *n > 1'000'000) {
        result.error = "--web.max-connections must be between 16 and 1000000";
        return result;
      }
      o.http.max_connections = static_cast<int>(*n);
    } else if (flag == "--web.request-timeout") {
      auto v = take_value();
      if (!v) return result;
      auto ms = parse_duration_ms(*v);
      if (!ms || *ms < 100 || *ms > 600'000) {
        result.error = "--web.request-timeout wants a duration from 100ms to 10m, e.g. 10s";
        return result;
      }
      o.http.request_timeout_ms = static_cast<int>(*ms);
    } else if (flag == "--web.config.file") {
      auto v = take_value();
      if (!v) return result;
      o.web_config_file = *v;
    } else if (flag == "--path.procfs") {
      auto v = take_value();
      if (!v) return result;
      o.roots.procfs = *v;
    } else if (flag == "--path.sysfs") {
      auto v = take_value();
      if (!v) return result;
      o.roots.sysfs = *v;
    } else if (flag == "--config.file") {
      auto v = take_value();
      if (!v) return result;
      o.config_file = *v;
    } else if (flag == "--log.level") {
      auto v = take_value();
      if (!v) return result;
      if (*v != "debug" && *v != "info" && *v != "warn" && *v != "error") {
        result.error = "--log.level must be one of debug, info, warn, error";
        return result;
      }
      o.log_level = *v;
    } else if (flag == "--log.format") {
      auto v = take_value();
      if (!v) return result;
      if (*v == "logfmt") {
        o.log_format = LogFormat::logfmt;
      } else if (*v == "json") {
        o.log_format = LogFormat::json;
      } else {
        result.error = "--log.format must be logfmt or json";
        return result;
      }
    } else if (flag.rfind("--collector.", 0) == 0 || flag.rfind("--no-collector.", 0) == 0) {
      if (!no_value()) return result;
      bool enable = flag.rfind("--collector.", 0) == 0;
      std::string name = flag.substr(enable ? 12 : 15);
      if (!known_collector(name)) {
        result.error = "unknown collector \"" + name + "\" (see --help)";
        return result;
      }
      o.collector_overrides[name] = enable;
    } else {
      result.error = "unknown flag " + flag + " (see --help)";
      return result;
    }
  }
  return result;
}

std::string cli_help() {
  std::string help =
      "usage: memledger_exporter [flags]\n"
      "       memledger_exporter explain [--json] [--interval=SECONDS] [flags]  (see explain --help)\n"
      "\n"
      "Prometheus exporter that accounts for every byte of this host's memory.\n"
      "\n"
      "Flags:\n"
      "  --web.listen-address=[HOST]:PORT  address to serve metrics on (default \":9747\")\n"
      "  --web.telemetry-path=PATH         path of the metrics page (default \"/metrics\")\n"
      "  --web.max-requests=N              requests served at once (default 8)\n"
      "  --web.request-timeout=DURATION    drop clients that send no complete request in\n"
      "                                    this time, e.g. 500ms, 10s (default 10s)\n"
      "  --web.max-connections=N           client connections held at once; the oldest\n"
      "                                    waiting one is closed for a new one (default\n"
      "                                    4096, fewer if the fd limit is lower)\n"
      "  --web.config.file=FILE            TLS and basic auth, exporter-toolkit format\n"
      "  --path.procfs=DIR                 procfs mount point (default \"/proc\")\n"
      "  --path.sysfs=DIR                  sysfs mount point (default \"/sys\")\n"
      "  --config.file=FILE                YAML configuration (default: embedded defaults)\n"
      "  --collector.NAME                  enable collector NAME\n"
      "  --no-collector.NAME               disable collector NAME\n"
      "  --log.level=LEVEL                 debug, info, warn or error (default \"info\")\n"
      "  --log.format=FORMAT               logfmt or json (default \"logfmt\")\n"
      "  --once                            collect once, print the exposition, exit\n"
      "  --version                         print the version and exit\n"
      "  --help                            print this help and exit\n"
      "\n"
      "Collectors (default state):\n";
  for (const auto& info : collector_catalog()) {
    std::string line = "  " + std::string(info->name());
    line.resize(std::max<std::size_t>(line.size() + 1, 14), ' ');
    help += line + (info->enabled_by_default() ? "[on]  " : "[off] ") + std::string(info->description) + "\n";
  }
  return help;
}

std::string explain_help() {
  return "usage: memledger_exporter explain [--json] [--interval=SECONDS] [--path.procfs=DIR]\n"
         "                                  [--path.sysfs=DIR] [--config.file=FILE]\n"
         "                                  [--collector.NAME] [--no-collector.NAME]\n"
         "\n"
         "Collects once, as a scrape does, and prints the ledger (size, share of MemTotal),\n"
         "the top contributors of each category and what looks abnormal. --interval collects\n"
         "twice, SECONDS apart (collectors such as the eBPF tracer keep running in between),\n"
         "and shows how each category changed. --json prints the same report as JSON.\n";
}

}  // namespace memledger
