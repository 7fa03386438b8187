// --extcap-interfaces, and the messages shared with --capture.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/extcap/commands.h"
#include "client/extcap/extcap_protocol.h"

namespace pktpool::extcap {

std::string Describe(const Endpoint& endpoint) {
  return endpoint.target.empty() ? "unix:" + endpoint.socket : endpoint.target;
}

std::string StatusLine(const grpc::Status& status, const Endpoint& endpoint) {
  // gRPC's codes are absl's, number for number.
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  std::string line = absl::StrCat(absl::StatusCodeToString(code), ": ", status.error_message());
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
    absl::StrAppend(&line, " (cannot reach pktpoold at ", Describe(endpoint),
                    "; is it running? set the socket or target in the interface's options, "
                    "or PKTPOOL_SOCKET)");
  }
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';  // one line in Wireshark's dialog
  }
  return line;
}

int ListInterfaces(const Endpoint& endpoint, const std::string& version, int deadline_ms) {
  std::fputs(ExtcapLine(version).c_str(), stdout);
  std::fflush(stdout);
  // The client's own deadline is 10 s; Wireshark waits for this at start-up, so the call
  // runs on a thread and is abandoned (with the process) after deadline_ms.
  struct Result {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    v1::ListBindingsResponse response;
  };
  auto result = std::make_shared<Result>();
  std::thread call([result, endpoint] {
    grpc::Status status;
    v1::ListBindingsResponse response;
    auto client = ctl::PktPoolClient::Connect(endpoint);
    if (!client.ok()) {
      status =
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(client.status().message()));
    } else {
      status = (*client)->Bindings(&response);
    }
    std::lock_guard<std::mutex> lock(result->mu);
    result->status = std::move(status);
    result->response = std::move(response);
    result->done = true;
    result->cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(result->mu);
  if (!result->cv.wait_for(lock, std::chrono::milliseconds(deadline_ms),
                           [&] { return result->done; })) {
    std::fprintf(stderr,
                 "pktpool-extcap: pktpoold at %s did not answer within %d ms; no "
                 "pktpool interfaces listed\n",
                 Describe(endpoint).c_str(), deadline_ms);
    std::fflush(stderr);
    std::_Exit(kExitOk);  // the call thread cannot be joined before its own deadline
  }
  lock.unlock();
  call.join();
  if (!result->status.ok()) {
    std::fprintf(stderr, "pktpool-extcap: no pktpool interfaces listed: %s\n",
                 StatusLine(result->status, endpoint).c_str());
    return kExitOk;
  }
  std::vector<std::string> bindings;
  for (const auto& binding : result->response.bindings()) bindings.push_back(binding.interface());
  std::fputs(InterfaceLines(bindings).c_str(), stdout);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace pktpool::extcap
