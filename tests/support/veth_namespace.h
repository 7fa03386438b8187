// Test fixture: a network namespace of the test's own with a veth pair in it, removed
// when the fixture goes. Traffic in tests goes only there.
#ifndef PKTPOOL_TESTS_SUPPORT_VETH_NAMESPACE_H_
#define PKTPOOL_TESTS_SUPPORT_VETH_NAMESPACE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace pktpool::testing {

// True when this process may create namespaces and capture (root or CAP_NET_ADMIN).
bool HaveNetAdmin();

// Skips the test without CAP_NET_ADMIN, or fails it when CI is set (a skip there would
// hide that the tests did not run).
#define PKTPOOL_REQUIRE_NET_ADMIN()                                                         \
  do {                                                                                     \
    if (!::pktpool::testing::HaveNetAdmin()) {                                             \
      if (std::getenv("CI") != nullptr) {                                                  \
        FAIL() << "CI is set but this process lacks root/CAP_NET_ADMIN for veth tests";    \
      }                                                                                    \
      GTEST_SKIP() << "needs root or CAP_NET_ADMIN to create a network namespace and veth " \
                      "pair (run as root, or set CI to make this a failure)";              \
    }                                                                                      \
  } while (0)

// Owns one namespace "pktpool-test-<pid>-<n>" holding the veth pair (a, b), both up,
// IPv6 off. Entering it moves the calling thread in; threads started while inside (a
// Binding's) stay there. Not thread-safe.
class VethNamespace {
 public:
  static absl::StatusOr<std::unique_ptr<VethNamespace>> Create(std::string a = "veth-a",
                                                               std::string b = "veth-b");
  ~VethNamespace();  // leaves it if entered, then deletes the namespace

  // Moves the calling thread into the namespace (until Leave or destruction).
  absl::Status Enter();
  void Leave();

  // Runs a shell command inside the namespace; returns its exit status.
  int Run(const std::string& command) const;
  // Deletes the pair (both ends go), or creates it again, up.
  absl::Status DeletePair();
  absl::Status CreatePair();

  const std::string& name() const { return name_; }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }

 private:
  VethNamespace(std::string name, std::string a, std::string b);
  std::string name_, a_, b_;
  int original_ns_fd_ = -1;  // the thread's namespace before Enter
};

}  // namespace pktpool::testing

#endif  // PKTPOOL_TESTS_SUPPORT_VETH_NAMESPACE_H_
