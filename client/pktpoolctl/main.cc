// pktpoolctl: the command line for pktpoold. This first version has health, version,
// bindings, stats and a hex-frame send; watch, tune, capture and pcap replay come later.
#include <unistd.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "client/pktpoolctl/pktpool_client.h"
#include "daemon/config/config.h"
#include "google/protobuf/util/json_util.h"

namespace {

using pktpool::ctl::PktPoolClient;

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "UNKNOWN";
}

// Exit codes: 0 success, 1 the daemon refused (or is unreachable), 2 usage error.
int Refused(const grpc::Status& status) {
  std::fprintf(stderr, "pktpoolctl: %s: %s%s\n", CodeName(status.error_code()),
               status.error_message().c_str(),
               status.error_code() == grpc::StatusCode::UNAVAILABLE
                   ? " (is pktpoold running? see --socket)"
                   : "");
  return 1;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::printf("%s", json.c_str());
}

std::string Human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

void PrintStatsTable(const pktpool::v1::GetStatsResponse& stats) {
  for (const auto& binding : stats.bindings()) {
    std::printf("%s  %s  rx %lu frames (%lu RESOURCES drops)  tx %lu frames  pcap recv %lu drop %lu\n",
                binding.binding().interface().c_str(),
                pktpool::v1::BindingState_Name(binding.binding().state()).c_str() + 14,
                static_cast<unsigned long>(binding.rx_frames()),
                static_cast<unsigned long>(binding.rx_resource_drops()),
                static_cast<unsigned long>(binding.tx_frames()),
                static_cast<unsigned long>(binding.pcap_received()),
                static_cast<unsigned long>(binding.pcap_dropped()));
    std::printf("  %-11s %-4s %4s %11s %8s %8s %8s %8s %9s %10s\n", "POOL", "TAG", "GEN",
                "DESCRIPTORS", "OVERFLOW", "IN_USE", "FREE", "HIGH_WM", "FAILURES", "MEMORY");
    for (const auto& pool : binding.pools()) {
      std::string name = pktpool::v1::PoolName_Name(pool.name()).substr(10);  // RX_PACKETS...
      for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
      std::printf("  %-11s %-4s %4u %11u %8u %8u %8u %8u %9lu %10s%s\n", name.c_str(),
                  pool.tag().c_str(), pool.generation(), pool.descriptors(),
                  pool.overflow_limit(), pool.in_use(), pool.free(), pool.high_watermark(),
                  static_cast<unsigned long>(pool.resource_failures()),
                  Human(pool.memory_bytes()).c_str(), pool.draining() ? "  draining" : "");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pktpoolctl: query pktpoold (pool statistics, bindings, health)"};
  app.require_subcommand(1);
  std::string socket = pktpool::config::DefaultUnixSocketPath(geteuid() == 0);
  std::string target;
  std::string output = "table";
  app.add_option("--socket", socket, "the daemon's Unix socket")->capture_default_str();
  app.add_option("--target", target, "host:port of a TCP listener (plaintext) instead");
  app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));
  auto* health = app.add_subcommand("health", "exit 0 when the daemon answers SERVING");
  auto* version = app.add_subcommand("version", "the daemon's version");
  auto* bindings = app.add_subcommand("bindings", "bound interfaces and their state");
  std::string interface;
  auto* stats = app.add_subcommand("stats", "pool and binding counters")
                    ->footer("example: pktpoolctl stats veth0 -o json");
  stats->add_option("interface", interface, "one binding (default: all)");
  std::string send_interface;
  std::vector<std::string> hex_frames;
  uint32_t repeat = 1;
  double pps = 0;
  double wait_seconds = 0;
  auto* send = app.add_subcommand("send", "send frames given in hex, in order")
                   ->footer("example: pktpoolctl send veth0 --hex 020000000002020000000001"
                            "88b5000102030405060708090a0b0c0d0e0f101112131415161718191a1b"
                            "1c1d1e1f2021 --repeat 100 --pps 50");
  send->add_option("interface", send_interface, "bound interface to send on")->required();
  send->add_option("--hex", hex_frames, "a frame as hex digits (repeatable)")->required();
  send->add_option("--repeat", repeat, "send the frames this many times")->check(CLI::PositiveNumber);
  send->add_option("--pps", pps, "frames per second (default: as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  send->add_option("--wait", wait_seconds, "seconds to wait for tx resources (default 0)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  PktPoolClient client(target.empty() ? "unix:" + socket : target);
  if (*health) {
    bool serving = false;
    grpc::Status status = client.Health(&serving);
    if (!status.ok()) return Refused(status);
    std::printf("%s\n", serving ? "SERVING" : "NOT_SERVING");
    return serving ? 0 : 1;
  }
  if (*version) {
    pktpool::v1::GetVersionResponse response;
    grpc::Status status = client.Version(&response);
    if (!status.ok()) return Refused(status);
    if (output == "json") {
      PrintJson(response);
    } else {
      std::printf("pktpoold %s\n", response.version().c_str());
    }
    return 0;
  }
  if (*bindings) {
    pktpool::v1::ListBindingsResponse response;
    grpc::Status status = client.Bindings(&response);
    if (!status.ok()) return Refused(status);
    if (output == "json") {
      PrintJson(response);
    } else {
      std::printf("%-16s %-10s %s\n", "INTERFACE", "STATE", "SNAPLEN");
      for (const auto& b : response.bindings()) {
        std::printf("%-16s %-10s %u\n", b.interface().c_str(),
                    pktpool::v1::BindingState_Name(b.state()).c_str() + 14,
                    b.options().snaplen());
      }
    }
    return 0;
  }
  if (*send) {
    pktpool::v1::SendFramesRequest request;
    request.set_interface(send_interface);
    for (const std::string& hex : hex_frames) {
      std::string frame;
      if (hex.size() % 2 != 0 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        std::fprintf(stderr, "pktpoolctl: --hex '%s' is not an even number of hex digits\n",
                     hex.c_str());
        return 2;
      }
      for (size_t i = 0; i < hex.size(); i += 2) {
        frame.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
      }
      request.add_frames(frame);
    }
    request.set_repeat(repeat);
    request.set_frames_per_second(pps);
    request.mutable_wait_for_resources()->set_seconds(static_cast<int64_t>(wait_seconds));
    request.mutable_wait_for_resources()->set_nanos(
        static_cast<int32_t>((wait_seconds - static_cast<int64_t>(wait_seconds)) * 1e9));
    pktpool::v1::SendFramesResponse response;
    grpc::Status status = client.Send(request, &response);
    if (!status.ok()) return Refused(status);
    if (output == "json") {
      PrintJson(response);
    } else {
      std::printf("sent %lu, failed %lu\n", static_cast<unsigned long>(response.frames_sent()),
                  static_cast<unsigned long>(response.frames_failed()));
    }
    return response.frames_failed() == 0 ? 0 : 1;
  }
  pktpool::v1::GetStatsResponse response;
  grpc::Status status = client.Stats(interface, &response);
  if (!status.ok()) return Refused(status);
  if (output == "json") {
    PrintJson(response);
  } else {
    PrintStatsTable(response);
  }
  return 0;
}
