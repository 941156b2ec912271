// memledger_exporter: the daemon's entry point. Flags, config, signals; the work is in
// ScrapeRunner (collection) and HttpServer (serving).
#include <malloc.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string_view>
#include <vector>

#include "collectors/registry.h"
#include "config/config.h"
#include "exporter/cli.h"
#include "exporter/explain.h"
#include "exporter/http_server.h"
#include "exporter/logging.h"
#include "exporter/scrape.h"
#include "exporter/web_config.h"
#include "version.h"

namespace {

using namespace memledger;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Config load_config(const CliOptions& options) {
  return options.config_file ? load_exporter_config_file(*options.config_file) : default_config();
}

WebConfig load_web_config(const CliOptions& options) {
  return options.web_config_file ? load_web_config_file(*options.web_config_file) : WebConfig{};
}

void log_config_error(std::string_view msg, const ConfigError& e) {
  log_event(spdlog::level::err, msg,
            {{"file", e.source()},
             {"line", std::to_string(e.line())},
             {"column", std::to_string(e.column())},
             {"err", e.reason()}});
}

// Both files are read and checked before either is applied: a reload is all or nothing.
void reload(const CliOptions& options, ScrapeRunner& runner, HttpServer& server) {
  try {
    Config config = load_config(options);
    auto collectors = build_collectors(config, options.collector_overrides);
    WebSecurity security = prepare_web_security(load_web_config(options));
    server.update_security(std::move(security), options.web_config_file.value_or(""));
    runner.replace_collectors(std::move(collectors));
    runner.set_config_reload_result(true, unix_now());
    log_event(spdlog::level::info, "configuration reloaded",
              {{"file", options.config_file.value_or("<embedded default>")},
               {"web_config_file", options.web_config_file.value_or("")}});
  } catch (const ConfigError& e) {
    runner.set_config_reload_result(false, 0);
    log_config_error("configuration reload failed, keeping the previous one", e);
  } catch (const std::exception& e) {  // whatever goes wrong, a reload never ends the daemon
    runner.set_config_reload_result(false, 0);
    log_event(spdlog::level::err, "configuration reload failed, keeping the previous one",
              {{"err", e.what()}});
  }
}

// "host:port" with the port actually bound (the flag may say port 0).
std::string bound_address(const std::string& listen_address, const std::vector<int>& ports) {
  std::string host = listen_address.substr(0, listen_address.rfind(':'));
  std::string out;
  for (int port : ports) {
    if (!out.empty()) out += ',';
    out += host + ":" + std::to_string(port);
  }
  return out;
}

int serve(const CliOptions& options, ScrapeRunner& runner) {
  WebSecurity security;
  try {
    security = prepare_web_security(load_web_config(options));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memledger_exporter: invalid web configuration: %s\n", e.what());
    return 1;
  }

  // Block the signals before any thread starts so that only sigwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that disconnects mid-response must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<HttpServer> server;
  try {
    server = std::make_unique<HttpServer>(options.http, std::move(security), runner);
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "cannot start the HTTP server", {{"err", e.what()}});
    return 1;
  }
  log_event(spdlog::level::info, "listening",
            {{"address", bound_address(options.http.listen_address, server->listening_ports())},
             {"tls", server->tls() ? "true" : "false"},
             {"max_connections", std::to_string(server->max_connections())},
             {"path", options.http.telemetry_path},
             {"version", kVersion}});
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload(options, runner, *server);
      continue;
    }
    log_event(spdlog::level::info, "shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena for all threads: by default each HTTP worker that serves a scrape
  // keeps an arena of its own (~0.9 MiB resident each), while the scrape allocates
  // little and mostly waits on the kernel, so the shared arena's lock costs nothing.
  ::mallopt(M_ARENA_MAX, 1);
  // Every block of 128 KiB or more its own mapping, unmapped when freed. glibc otherwise
  // raises this threshold to the size of the largest such block freed (up to 32 MiB) and
  // its trim threshold to twice that: after the blackhole tracer's reading of kallsyms
  // (5 MiB) and the kernel's BTF, the heap kept the next such buffers, 10 MiB and more
  // resident, until the next scrape's malloc_trim (glibc malloc/malloc.c, M_MMAP_THRESHOLD).
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args.front() == "explain") {
    return memledger::run_explain({args.begin() + 1, args.end()});
  }
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
  } catch (const std::exception& e) {
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
