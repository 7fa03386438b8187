#include "client/pktpoolctl/interrupt.h"

#include <signal.h>

#include <ctime>

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
  stop_.store(true);
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
  const timespec tick = {0, 100'000'000};
  while (!stop_.load()) {
    if (sigtimedwait(&set, nullptr, &tick) < 0) continue;  // timeout or EINTR
    interrupted_.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    if (callback_) callback_();
  }
}

}  // namespace pktpool::ctl
