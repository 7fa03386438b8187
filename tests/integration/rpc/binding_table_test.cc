// BindingTable on real veth interfaces, in a namespace of the test's own.
#include "daemon/rpc/binding_table.h"

#include <cstdlib>
#include <memory>

#include <gtest/gtest.h>

#include "tests/support/namespace_test.h"

namespace pktpool::rpc {
namespace {

class BindingTableTest : public testing::NamespaceTest {
 protected:
  void TearDown() override { table_.CloseAll(); }

  std::shared_ptr<capture::Binding> BindA() {
    auto bound = table_.Bind(ns_->a(), capture::BindingOptions{});
    EXPECT_TRUE(bound.ok()) << bound.status();
    return bound.ok() ? *bound : nullptr;
  }

  BindingTable table_;
};

TEST_F(BindingTableTest, UnbindIfClosesAndRemovesTheExpectedBinding) {
  std::shared_ptr<capture::Binding> bound = BindA();
  ASSERT_NE(bound, nullptr);
  EXPECT_TRUE(table_.UnbindIf(ns_->a(), bound).ok());
  EXPECT_EQ(table_.Get(ns_->a()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(bound->state(), capture::BindingState::kUnbinding);
  EXPECT_EQ(table_.UnbindIf(ns_->a(), bound).code(), absl::StatusCode::kNotFound);
}

TEST_F(BindingTableTest, UnbindIfLeavesTheBindingThatTookItsPlace) {
  // What a reload sees when the API unbinds and binds the interface again between its
  // check and its unbind: the new binding must stay, open.
  std::shared_ptr<capture::Binding> old_binding = BindA();
  ASSERT_NE(old_binding, nullptr);
  ASSERT_TRUE(table_.Unbind(ns_->a()).ok());
  std::shared_ptr<capture::Binding> new_binding = BindA();
  ASSERT_NE(new_binding, nullptr);

  const absl::Status refused = table_.UnbindIf(ns_->a(), old_binding);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  auto current = table_.Get(ns_->a());
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(*current, new_binding);
  EXPECT_NE(new_binding->state(), capture::BindingState::kUnbinding);
}

TEST_F(BindingTableTest, UnbindIfWithoutAnExpectedBindingIsRefused) {
  std::shared_ptr<capture::Binding> bound = BindA();
  ASSERT_NE(bound, nullptr);
  EXPECT_EQ(table_.UnbindIf(ns_->a(), nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(table_.Get(ns_->a()).ok());
}

}  // namespace
}  // namespace pktpool::rpc
