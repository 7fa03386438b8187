// Test helper: child processes (the tools under test) run with their output captured
// in files, waited for with a bound, and ended only by their own PID.
#ifndef PKTPOOL_TESTS_SUPPORT_PROCESS_H_
#define PKTPOOL_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace pktpool::testing {

// What a finished command did.
struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;     // standard output
  std::string err;     // standard error
};

// One child process (fork + exec, inheriting the calling thread's network namespace),
// stdout and stderr going to temporary files. It gets SIGTERM if the forking thread
// dies; the destructor ends it with SIGKILL if it still runs and removes the files.
// Not thread-safe.
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Output so far.
  std::string Out() const;
  std::string Err() const;
  // True once stderr holds `text` (polled every 10 ms, at most `timeout`).
  bool WaitForErr(const std::string& text, absl::Duration timeout) const;
  // Sends `signal` to this child only.
  void Signal(int signal) const;
  // Waits at most `timeout` for the exit; on timeout kills it (exit_code -1).
  CommandResult Wait(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
};

// Runs a command to completion (at most `timeout`).
CommandResult RunCommand(std::vector<std::string> argv,
                         absl::Duration timeout = absl::Seconds(30));

// Resident memory of process `pid` in kB (VmRSS), or nullopt when it is gone.
std::optional<uint64_t> ResidentKb(pid_t pid);

// A waitpid status in words: "signal 11" or "exit status 1".
std::string DescribeWaitStatus(int status);

}  // namespace pktpool::testing

#endif  // PKTPOOL_TESTS_SUPPORT_PROCESS_H_
