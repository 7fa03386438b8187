// NamespaceTest: a gtest fixture that runs each test inside a network namespace of its own
// with a veth pair (VethNamespace), entered on the test's thread.
#ifndef PKTPOOL_TESTS_SUPPORT_NAMESPACE_TEST_H_
#define PKTPOOL_TESTS_SUPPORT_NAMESPACE_TEST_H_

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "tests/support/veth_namespace.h"

namespace pktpool::testing {

// Skips without CAP_NET_ADMIN (fails when CI is set); the namespace goes with the fixture.
class NamespaceTest : public ::testing::Test {
 protected:
  explicit NamespaceTest(std::string a = "veth-a", std::string b = "veth-b")
      : a_(std::move(a)), b_(std::move(b)) {}

  // Creates the namespace and moves the test's thread in. A subclass's SetUp calls this
  // first and returns when InNamespace() is false (skipped or failed).
  void SetUp() override {
    PKTPOOL_REQUIRE_NET_ADMIN();
    auto ns = VethNamespace::Create(a_, b_);
    ASSERT_TRUE(ns.ok()) << ns.status();
    ASSERT_TRUE((*ns)->Enter().ok());
    ns_ = std::move(*ns);
  }
  bool InNamespace() const { return ns_ != nullptr; }

  std::unique_ptr<VethNamespace> ns_;

 private:
  std::string a_, b_;
};

}  // namespace pktpool::testing

#endif  // PKTPOOL_TESTS_SUPPORT_NAMESPACE_TEST_H_
