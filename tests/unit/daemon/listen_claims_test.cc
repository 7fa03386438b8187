#include "daemon/listen_claims.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/support/loopback_listener.h"

namespace pktpool {
namespace {

using ::testing::HasSubstr;

class SocketClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/claims-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    socket_ = dir_ + "/run/d.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A Unix socket bound at `path`; listening when `listen_too`. The caller closes it.
  static int BoundSocket(const std::string& path, bool listen_too) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0) << path;
    if (listen_too) {
      EXPECT_EQ(listen(fd, 1), 0);
    }
    return fd;
  }

  std::string dir_, socket_;
};

TEST_F(SocketClaimTest, MakesTheDirectoryAndWritesOurPidIntoTheLock) {
  auto claim = SocketClaim::Take(socket_);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->lock_path(), socket_ + ".lock");
  std::ifstream lock(socket_ + ".lock");
  long pid = 0;
  lock >> pid;
  EXPECT_EQ(pid, getpid());
}

TEST_F(SocketClaimTest, ASecondClaimFailsNamingTheSocketAndTheHolderUntilTheFirstEnds) {
  {
    auto first = SocketClaim::Take(socket_);
    ASSERT_TRUE(first.ok()) << first.status();
    auto second = SocketClaim::Take(socket_);
    ASSERT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
    EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("(pid ", getpid(), ")")));
    EXPECT_THAT(second.status().message(), HasSubstr("serves on " + socket_));
    EXPECT_THAT(second.status().message(), HasSubstr("--socket"));
  }
  EXPECT_TRUE(SocketClaim::Take(socket_).ok());
}

TEST_F(SocketClaimTest, AStaleSocketIsRemoved) {
  std::filesystem::create_directories(dir_ + "/run");
  const int fd = BoundSocket(socket_, /*listen_too=*/false);
  close(fd);  // the file stays, nothing answers: what a kill -9 leaves
  ASSERT_TRUE(std::filesystem::exists(socket_));
  auto claim = SocketClaim::Take(socket_);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

TEST_F(SocketClaimTest, ASocketSomethingAnswersOnIsLeftAlone) {
  std::filesystem::create_directories(dir_ + "/run");
  const int fd = BoundSocket(socket_, /*listen_too=*/true);
  auto claim = SocketClaim::Take(socket_);
  close(fd);
  ASSERT_EQ(claim.status().code(), absl::StatusCode::kFailedPrecondition) << claim.status();
  EXPECT_THAT(claim.status().message(), HasSubstr("already answers on " + socket_));
  EXPECT_TRUE(std::filesystem::exists(socket_));
}

TEST_F(SocketClaimTest, APathThatIsNotASocketIsRefused) {
  std::filesystem::create_directories(dir_ + "/run");
  std::ofstream(socket_) << "not a socket";
  auto claim = SocketClaim::Take(socket_);
  ASSERT_EQ(claim.status().code(), absl::StatusCode::kFailedPrecondition) << claim.status();
  EXPECT_THAT(claim.status().message(), HasSubstr("is not a socket"));
  EXPECT_TRUE(std::filesystem::exists(socket_));
}

TEST_F(SocketClaimTest, ADirectoryThatCannotBeMadeIsNamed) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ + "/file") << "x";  // a directory cannot be made under a file
  auto claim = SocketClaim::Take(dir_ + "/file/run/d.sock");
  ASSERT_EQ(claim.status().code(), absl::StatusCode::kPermissionDenied) << claim.status();
  EXPECT_THAT(claim.status().message(), HasSubstr("cannot create the socket's directory"));
}

TEST(CheckTcpAddressFreeTest, APortSomeoneListensOnIsInUseUntilClosed) {
  testing::LoopbackListener listener;
  const int port = listener.port();
  ASSERT_GT(port, 0);
  const absl::Status taken = CheckTcpAddressFree("127.0.0.1", port, "--listen");
  EXPECT_EQ(taken.code(), absl::StatusCode::kFailedPrecondition) << taken;
  EXPECT_THAT(taken.message(), HasSubstr(absl::StrCat("127.0.0.1:", port, " is already in use")));
  EXPECT_THAT(taken.message(), HasSubstr("--listen"));
  listener.Close();
  EXPECT_TRUE(CheckTcpAddressFree("127.0.0.1", port, "--listen").ok());
}

}  // namespace
}  // namespace pktpool
