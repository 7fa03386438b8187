#include "client/pktpoolctl/interrupt.h"

#include <pthread.h>
#include <signal.h>

namespace pktpool::ctl {
namespace {

sigset_t InterruptSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

InterruptWatcher::InterruptWatcher() {
  const sigset_t set = InterruptSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] { Run(); });
}

InterruptWatcher::~InterruptWatcher() {
  // Wake the thread now: it waits without a timeout, and every command that streams waits
  // for this join before it exits (a 100 ms tick here cost each `send` up to 100 ms).
  // A signal aimed at the thread stays pending on it until its next wait if it is not
  // waiting yet; it sees stop_ first and does not take it for an interrupt.
  stop_.store(true);
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
  const sigset_t set = InterruptSignals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void InterruptWatcher::OnInterrupt(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  callback_ = std::move(callback);
  if (interrupted_.load() && callback_) callback_();
}

void InterruptWatcher::Run() {
  const sigset_t set = InterruptSignals();
  while (true) {
    const int signal = sigwaitinfo(&set, nullptr);
    if (stop_.load()) return;
    if (signal < 0) continue;  // EINTR
    interrupted_.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    if (callback_) callback_();
  }
}

}  // namespace pktpool::ctl
