#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"

namespace pktpool::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  static std::atomic<int> counter{0};
  const std::string base = absl::StrCat("/tmp/pktpool-child-", getpid(), "-", counter++);
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // The child: only async-signal-safe calls until exec. It gets SIGTERM if the test
    // dies first, so a crashed test leaves no daemon behind.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(out_path_.c_str());
  unlink(err_path_.c_str());
}

std::string ChildProcess::Out() const { return ReadAll(out_path_); }
std::string ChildProcess::Err() const { return ReadAll(err_path_); }

bool ChildProcess::WaitForErr(const std::string& text, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Err().find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return Err().find(text) != std::string::npos;
}

void ChildProcess::Signal(int signal) const {
  if (pid_ > 0) kill(pid_, signal);
}

CommandResult ChildProcess::Wait(absl::Duration timeout) {
  CommandResult result;
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (pid_ > 0) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
      break;
    }
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  result.out = Out();
  result.err = Err();
  return result;
}

CommandResult RunCommand(std::vector<std::string> argv, absl::Duration timeout) {
  ChildProcess child(std::move(argv));
  if (!child.started()) return {};
  return child.Wait(timeout);
}

std::optional<uint64_t> ResidentKb(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      uint64_t kb = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(
                               absl::StripSuffix(absl::StripAsciiWhitespace(line.substr(6)), "kB")),
                           &kb)) {
        return kb;
      }
    }
  }
  return std::nullopt;
}

std::string DescribeWaitStatus(int status) {
  return WIFSIGNALED(status) ? absl::StrCat("signal ", WTERMSIG(status))
                             : absl::StrCat("exit status ", WEXITSTATUS(status));
}

}  // namespace pktpool::testing
