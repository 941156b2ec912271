// memledger_exporter: the daemon's entry point. Flags, config, signals; the work is in
// ScrapeRunner (collection) and HttpServer (serving).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "config/config.h"
#include "exporter/cli.h"
#include "exporter/http_server.h"
#include "exporter/logging.h"
#include "exporter/scrape.h"
#include "version.h"

namespace {

using namespace memledger;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Config load_config(const CliOptions& options) {
  return options.config_file ? load_config_file(*options.config_file) : default_config();
}

void reload(const CliOptions& options, ScrapeRunner& runner) {
  try {
    Config config = load_config(options);
    runner.replace_collectors(build_collectors(config, options.collector_overrides));
    runner.set_config_reload_result(true, unix_now());
    log_event(spdlog::level::info, "configuration reloaded",
              {{"file", options.config_file.value_or("<embedded default>")}});
  } catch (const ConfigError& e) {
    runner.set_config_reload_result(false, 0);
    log_event(spdlog::level::err, "configuration reload failed, keeping the previous one",
              {{"file", e.source()},
               {"line", std::to_string(e.line())},
               {"column", std::to_string(e.column())},
               {"err", e.reason()}});
  }
}

int serve(const CliOptions& options, ScrapeRunner& runner) {
  // Block the signals before any thread starts so that only sigwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<HttpServer> server;
  try {
    server = std::make_unique<HttpServer>(options.http, runner);
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "cannot start the HTTP server", {{"err", e.what()}});
    return 1;
  }
  log_event(spdlog::level::info, "listening",
            {{"address", options.http.listen_address}, {"path", options.http.telemetry_path},
             {"version", kVersion}});
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload(options, runner);
      continue;
    }
    log_event(spdlog::level::info, "shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CliResult cli = parse_cli(args);
  if (!cli.error.empty()) {
    std::fprintf(stderr, "memledger_exporter: %s\n", cli.error.c_str());
    return 2;
  }
  const CliOptions& options = cli.options;
  if (options.show_help) {
    std::cout << cli_help();
    return 0;
  }
  if (options.show_version) {
    std::cout << "memledger_exporter " << kVersion << " (revision " << kRevision << ")\n";
    return 0;
  }
  setup_logging(spdlog::level::from_str(options.log_level), options.log_format);

  Config config;
  try {
    config = load_config(options);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "memledger_exporter: invalid configuration: %s\n", e.what());
    return 1;
  }
  ScrapeRunner runner(options.roots, build_collectors(config, options.collector_overrides));
  runner.set_config_reload_result(true, unix_now());

  if (options.once) {
    std::cout << runner.scrape()->text;
    return std::cout.good() ? 0 : 1;
  }
  return serve(options, runner);
}
