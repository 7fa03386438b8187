// health, version, bindings, bind, unbind, stats, pools, tune: one request, one answer.
#include <cstdio>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/pktpoolctl/commands.h"
#include "client/pktpoolctl/output.h"

namespace pktpool::ctl {
namespace {

// Options of `bind`, kept until the command runs.
struct BindArgs {
  std::string interface;
  uint32_t snaplen = 0;
  uint32_t pcap_buffer_bytes = 0;
  std::string filter;
  std::string direction;
  std::string timestamp_precision;
  bool no_promiscuous = false;
  bool immediate = false;
  uint32_t timeout_ms = 0;
  uint32_t rx_preallocate = 0;
  bool rx_hold = false;
  bool rx_drop = false;
  v1::PoolSizes rx, tx;
};

void AddPoolSizeOptions(CLI::App* command, const std::string& side, v1::PoolSizes* sizes) {
  auto setter = [](v1::PoolSizes* s, void (v1::PoolSizes::*set)(uint32_t)) {
    return [s, set](uint32_t value) { (s->*set)(value); };
  };
  command->add_option_function<uint32_t>("--" + side + "-packets",
                                         setter(sizes, &v1::PoolSizes::set_packet_descriptors),
                                         side + " packet descriptors (1-65535)");
  command->add_option_function<uint32_t>("--" + side + "-overflow",
                                         setter(sizes, &v1::PoolSizes::set_packet_overflow),
                                         side + " overflow packet descriptors");
  command->add_option_function<uint32_t>("--" + side + "-buffers",
                                         setter(sizes, &v1::PoolSizes::set_buffer_count),
                                         side + " buffer descriptors");
  command->add_option_function<uint32_t>("--" + side + "-buffer-size",
                                         setter(sizes, &v1::PoolSizes::set_buffer_size),
                                         side + " bytes per buffer (64-65536)");
}

// Connects, makes one call and prints its response: JSON, or `print_table`'s text.
template <typename Response>
int CallAndPrint(const GlobalOptions& options,
                 const std::function<grpc::Status(PktPoolClient&, Response*)>& call,
                 const std::function<void(const Response&)>& print_table) {
  int code = kExitOk;
  auto client = ConnectOrReport(options, &code);
  if (!client) return code;
  Response response;
  grpc::Status status = call(*client, &response);
  if (!status.ok()) return ReportRefused(status);
  if (options.json) {
    PrintJson(response);
  } else {
    print_table(response);
  }
  return kExitOk;
}

int RunBind(const BindArgs& args, const GlobalOptions& options) {
  v1::BindRequest request;
  request.set_interface(args.interface);
  v1::BindingOptions* o = request.mutable_options();
  o->set_snaplen(args.snaplen);
  o->set_pcap_buffer_bytes(args.pcap_buffer_bytes);
  o->set_filter(args.filter);
  if (args.direction == "in") o->set_direction(v1::DIRECTION_IN);
  if (args.direction == "out") o->set_direction(v1::DIRECTION_OUT);
  if (args.direction == "inout") o->set_direction(v1::DIRECTION_INOUT);
  if (args.timestamp_precision == "nano") o->set_timestamp_precision(v1::TIMESTAMP_PRECISION_NANO);
  if (args.timestamp_precision == "micro") {
    o->set_timestamp_precision(v1::TIMESTAMP_PRECISION_MICRO);
  }
  if (args.no_promiscuous) o->set_promiscuous(false);
  o->set_immediate_mode(args.immediate);
  if (args.timeout_ms != 0) {
    o->mutable_pcap_timeout()->set_seconds(args.timeout_ms / 1000);
    o->mutable_pcap_timeout()->set_nanos(static_cast<int32_t>(args.timeout_ms % 1000) * 1000000);
  }
  o->set_rx_preallocate(args.rx_preallocate);
  if (args.rx_hold || args.rx_drop) o->set_rx_hold_when_exhausted(!args.rx_drop);
  *o->mutable_rx() = args.rx;
  *o->mutable_tx() = args.tx;
  return CallAndPrint<v1::BindResponse>(
      options, [&](PktPoolClient& c, v1::BindResponse* r) { return c.Bind(request, r); },
      [](const v1::BindResponse& r) {
        v1::ListBindingsResponse one;
        *one.add_bindings() = r.binding();
        std::fputs(BindingsTable(one).c_str(), stdout);
      });
}

void PrintTuned(const v1::TunePoolRequest& request, const v1::TunePoolResponse& response) {
  const v1::PoolStats& applied = response.applied();
  std::string line = absl::StrCat(PoolLabel(request.pool()), " on ", request.interface(),
                                  ": generation ", applied.generation(), " applied, ",
                                  applied.descriptors(), " descriptors");
  if (applied.kind() == v1::POOL_KIND_PACKET) {
    absl::StrAppend(&line, ", overflow ", applied.overflow_limit());
    if (response.overflow_clamped()) {
      absl::StrAppend(&line, " (clamped from ", request.overflow(),
                      ": descriptors + overflow may not exceed 65535)");
    }
  } else {
    absl::StrAppend(&line, " of ", applied.buffer_size(), " bytes");
  }
  std::printf("%s\nthe previous generation drains as its descriptors come back\n", line.c_str());
}

int RunTune(const v1::TunePoolRequest& request, const GlobalOptions& options) {
  return CallAndPrint<v1::TunePoolResponse>(
      options, [&](PktPoolClient& c, v1::TunePoolResponse* r) { return c.Tune(request, r); },
      [&](const v1::TunePoolResponse& r) { PrintTuned(request, r); });
}

}  // namespace

std::unique_ptr<PktPoolClient> ConnectOrReport(const GlobalOptions& options, int* exit_code) {
  auto client = PktPoolClient::Connect(options.endpoint);
  if (!client.ok()) {
    *exit_code = ReportUsage(client.status());
    return nullptr;
  }
  return std::move(*client);
}

void AddQueryCommands(CLI::App& app, CommandRun* run) {
  app.add_subcommand("health", "exit 0 when the daemon answers SERVING (grpc.health.v1)")
      ->footer("example:\n  pktpoolctl health && echo up")
      ->callback([run] {
        *run = [](const GlobalOptions& options) {
          int code = kExitOk;
          auto client = ConnectOrReport(options, &code);
          if (!client) return code;
          bool serving = false;
          grpc::Status status = client->Health(&serving);
          if (!status.ok()) return ReportRefused(status);
          std::printf(options.json ? "{\"status\": \"%s\"}\n" : "%s\n",
                      serving ? "SERVING" : "NOT_SERVING");
          return serving ? kExitOk : kExitRefused;
        };
      });

  app.add_subcommand("version", "the daemon's version")
      ->footer("example:\n  pktpoolctl version -o json")
      ->callback([run] {
        *run = [](const GlobalOptions& options) {
          return CallAndPrint<v1::GetVersionResponse>(
              options, [](PktPoolClient& c, v1::GetVersionResponse* r) { return c.Version(r); },
              [](const v1::GetVersionResponse& r) {
                std::printf("pktpoold %s\n", r.version().c_str());
              });
        };
      });

  app.add_subcommand("bindings", "bound interfaces: state, snaplen, direction, pool sizes")
      ->footer("examples:\n  pktpoolctl bindings\n  pktpoolctl -o json bindings | "
               "jq -r '.bindings[].interface'")
      ->callback([run] {
        *run = [](const GlobalOptions& options) {
          return CallAndPrint<v1::ListBindingsResponse>(
              options, [](PktPoolClient& c, v1::ListBindingsResponse* r) { return c.Bindings(r); },
              [](const v1::ListBindingsResponse& r) {
                std::fputs(BindingsTable(r).c_str(), stdout);
              });
        };
      });

  auto bind_args = std::make_shared<BindArgs>();
  auto* bind = app.add_subcommand("bind", "bind an interface (unset options take defaults)")
                   ->footer("examples:\n  pktpoolctl bind veth0\n"
                            "  pktpoolctl bind veth0 --snaplen 2048 --filter 'not arp' "
                            "--rx-packets 4096 --rx-buffers 8192\n"
                            "defaults: pktpoold's proto (pktpool.v1.BindingOptions)");
  bind->add_option("interface", bind_args->interface, "interface to bind")->required();
  bind->add_option("--snaplen", bind_args->snaplen, "bytes kept per frame (64-262144)");
  bind->add_option("--pcap-buffer", bind_args->pcap_buffer_bytes, "kernel ring bytes");
  bind->add_option("--filter", bind_args->filter, "BPF filter of the binding (tcpdump syntax)");
  bind->add_option("--direction", bind_args->direction, "frames seen: in (default), out, inout")
      ->check(CLI::IsMember({"in", "out", "inout"}));
  bind->add_option("--time-stamp-precision", bind_args->timestamp_precision,
                   "captured timestamps: nano (default; the kernel then timestamps every "
                   "frame the host receives) or micro (tcpdump's default, no such cost)")
      ->check(CLI::IsMember({"nano", "micro"}));
  bind->add_flag("--no-promisc", bind_args->no_promiscuous, "do not enter promiscuous mode");
  bind->add_flag("--immediate", bind_args->immediate, "libpcap immediate mode");
  bind->add_option("--timeout-ms", bind_args->timeout_ms, "block timeout (default 2 ms)");
  AddPoolSizeOptions(bind, "rx", &bind_args->rx);
  AddPoolSizeOptions(bind, "tx", &bind_args->tx);
  bind->add_option("--rx-preallocate", bind_args->rx_preallocate,
                   "receive packets built at bind time");
  auto* hold = bind->add_flag(
      "--rx-hold", bind_args->rx_hold,
      "when rx pools are exhausted, leave frames in the kernel ring (the default)");
  bind->add_flag("--rx-drop", bind_args->rx_drop,
                 "when rx pools are exhausted, drop frames (counted) instead of holding them")
      ->excludes(hold);
  bind->callback([run, bind_args] {
    *run = [bind_args](const GlobalOptions& options) { return RunBind(*bind_args, options); };
  });

  auto unbind_interface = std::make_shared<std::string>();
  auto* unbind = app.add_subcommand("unbind", "unbind an interface: sends finish, captures end")
                     ->footer("example:\n  pktpoolctl unbind veth0");
  unbind->add_option("interface", *unbind_interface, "bound interface")->required();
  unbind->callback([run, unbind_interface] {
    *run = [unbind_interface](const GlobalOptions& options) {
      int code = kExitOk;
      auto client = ConnectOrReport(options, &code);
      if (!client) return code;
      grpc::Status status = client->Unbind(*unbind_interface);
      if (!status.ok()) return ReportRefused(status);
      if (options.json) {
        std::printf("{\"interface\": %s, \"unbound\": true}\n",
                    JsonQuote(*unbind_interface).c_str());
      } else {
        std::printf("unbound %s\n", unbind_interface->c_str());
      }
      return kExitOk;
    };
  });

  auto stats_interface = std::make_shared<std::string>();
  auto* stats =
      app.add_subcommand("stats", "binding counters and every pool's descriptors")
          ->footer("examples:\n  pktpoolctl stats\n  pktpoolctl stats veth0 -o json | "
                   "jq '.bindings[0].pools[] | {tag, in_use}'\n"
                   "columns: POOL rx-packets|rx-buffers|tx-packets|tx-buffers, TAG the memory "
                   "tag,\n  GEN generation (+1 per tune), OVERFLOW overflow limit, HIGH_WM most "
                   "in use at once,\n  FAILURES NDIS_STATUS_RESOURCES answers, MEMORY descriptor "
                   "storage");
  stats->add_option("interface", *stats_interface, "one binding (default: all)");
  stats->callback([run, stats_interface] {
    *run = [stats_interface](const GlobalOptions& options) {
      return CallAndPrint<v1::GetStatsResponse>(
          options,
          [&](PktPoolClient& c, v1::GetStatsResponse* r) { return c.Stats(*stats_interface, r); },
          [](const v1::GetStatsResponse& r) { std::fputs(StatsTables(r).c_str(), stdout); });
    };
  });

  auto pools_interface = std::make_shared<std::string>();
  auto* pools = app.add_subcommand("pools", "every pool (draining generations included)")
                    ->footer("examples:\n  pktpoolctl pools\n  pktpoolctl pools veth0 -o json");
  pools->add_option("interface", *pools_interface, "one binding (default: all)");
  pools->callback([run, pools_interface] {
    *run = [pools_interface](const GlobalOptions& options) {
      return CallAndPrint<v1::ListPoolsResponse>(
          options,
          [&](PktPoolClient& c, v1::ListPoolsResponse* r) { return c.Pools(*pools_interface, r); },
          [](const v1::ListPoolsResponse& r) {
            std::vector<std::pair<std::string, const v1::PoolStats*>> rows;
            for (const auto& b : r.bindings()) {
              for (const auto& pool : b.pools()) rows.emplace_back(b.interface(), &pool);
            }
            std::fputs(PoolsTable(rows).c_str(), stdout);
          });
    };
  });

  auto tune_request = std::make_shared<v1::TunePoolRequest>();
  auto pool_label = std::make_shared<std::string>();
  auto* tune =
      app.add_subcommand("tune", "resize one pool live: a new generation, the old one drains")
          ->footer("examples:\n  pktpoolctl tune veth0 tx-packets --descriptors 4096 "
                   "--overflow 512\n  pktpoolctl tune veth0 rx-buffers --descriptors 8192 "
                   "--buffer-size 2048\n"
                   "packet pools: descriptors + overflow is clamped to 65535 (NDIS 0xFFFF)");
  tune->add_option_function<std::string>(
          "interface", [tune_request](const std::string& v) { tune_request->set_interface(v); },
          "bound interface")
      ->required();
  tune->add_option("pool", *pool_label, "rx-packets, rx-buffers, tx-packets or tx-buffers")
      ->required()
      ->check(CLI::IsMember({"rx-packets", "rx-buffers", "tx-packets", "tx-buffers"}));
  tune->add_option_function<uint32_t>(
          "--descriptors", [tune_request](uint32_t v) { tune_request->set_descriptors(v); },
          "packet descriptors, or the buffer count of a buffer pool")
      ->required();
  tune->add_option_function<uint32_t>(
      "--overflow", [tune_request](uint32_t v) { tune_request->set_overflow(v); },
      "overflow packet descriptors (packet pools)");
  tune->add_option_function<uint32_t>(
      "--buffer-size", [tune_request](uint32_t v) { tune_request->set_buffer_size(v); },
      "bytes per buffer (buffer pools; default: keep)");
  tune->callback([run, tune_request, pool_label] {
    tune_request->set_pool(*ParsePoolLabel(*pool_label));  // checked by IsMember
    *run = [tune_request](const GlobalOptions& options) {
      return RunTune(*tune_request, options);
    };
  });
}

}  // namespace pktpool::ctl
