#include "tests/support/veth_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pktpool::testing {

bool HaveNetAdmin() {
  if (geteuid() == 0) return true;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      return (caps >> 12) & 1;  // CAP_NET_ADMIN
    }
  }
  return false;
}

namespace {

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

absl::StatusOr<std::unique_ptr<VethNamespace>> VethNamespace::Create(std::string a,
                                                                     std::string b) {
  static std::atomic<int> counter{0};
  std::string name = absl::StrCat("pktpool-test-", getpid(), "-", counter.fetch_add(1));
  if (Shell(absl::StrCat("ip netns add ", name)) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("ip netns add ", name, " failed"));
  }
  std::unique_ptr<VethNamespace> ns(new VethNamespace(name, std::move(a), std::move(b)));
  ns->Run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
  ns->Run("ip link set lo up");
  if (absl::Status created = ns->CreatePair(); !created.ok()) return created;
  return ns;
}

VethNamespace::VethNamespace(std::string name, std::string a, std::string b)
    : name_(std::move(name)), a_(std::move(a)), b_(std::move(b)) {}

VethNamespace::~VethNamespace() {
  Leave();
  Shell(absl::StrCat("ip netns del ", name_, " 2>/dev/null"));
}

absl::Status VethNamespace::Enter() {
  if (original_ns_fd_ >= 0) return absl::OkStatus();
  original_ns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = open(absl::StrCat("/var/run/netns/", name_).c_str(), O_RDONLY | O_CLOEXEC);
  if (original_ns_fd_ < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
    if (target >= 0) close(target);
    return absl::InternalError(absl::StrCat("cannot enter namespace ", name_));
  }
  close(target);
  return absl::OkStatus();
}

void VethNamespace::Leave() {
  if (original_ns_fd_ < 0) return;
  setns(original_ns_fd_, CLONE_NEWNET);
  close(original_ns_fd_);
  original_ns_fd_ = -1;
}

int VethNamespace::Run(const std::string& command) const {
  return Shell(absl::StrCat("ip netns exec ", name_, " sh -c '", command, "'"));
}

absl::Status VethNamespace::DeletePair() {
  if (Run(absl::StrCat("ip link del ", a_)) != 0) {
    return absl::InternalError(absl::StrCat("cannot delete ", a_, " in ", name_));
  }
  return absl::OkStatus();
}

absl::Status VethNamespace::CreatePair() {
  const std::string command = absl::StrCat("ip link add ", a_, " type veth peer name ", b_,
                                           " && ip link set ", a_, " up && ip link set ", b_, " up");
  if (Run(command) != 0) {
    return absl::InternalError(absl::StrCat("cannot create veth pair in ", name_));
  }
  return absl::OkStatus();
}

}  // namespace pktpool::testing
