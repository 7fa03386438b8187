#include "daemon/service_notifier.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "daemon/metrics/status_line.h"

namespace pktpool {
namespace {

// Half of systemd's watchdog interval for this process, or zero when it is off.
absl::Duration WatchdogPingInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) {
    return absl::ZeroDuration();
  }
  return absl::Microseconds(usec) / 2;
}

void Notify(const std::string& state) { sd_notify(/*unset_environment=*/0, state.c_str()); }

}  // namespace

ServiceNotifier::ServiceNotifier(Snapshot snapshot, absl::Duration status_interval)
    : snapshot_(std::move(snapshot)),
      enabled_(std::getenv("NOTIFY_SOCKET") != nullptr),
      watchdog_interval_(enabled_ ? WatchdogPingInterval() : absl::ZeroDuration()),
      status_interval_(status_interval) {}

ServiceNotifier::~ServiceNotifier() { Stop(); }

std::string ServiceNotifier::CurrentStatus() {
  absl::StatusOr<v1::GetStatsResponse> stats = snapshot_();
  if (!stats.ok()) return absl::StrCat("stats unavailable: ", stats.status().message());
  return metrics::StatusLine(*stats);
}

void ServiceNotifier::Ready() {
  if (!enabled_) return;
  Notify(absl::StrCat("READY=1\nSTATUS=", CurrentStatus()));
  MutexLock lock(&mu_);
  if (!thread_.joinable() && !stop_) thread_ = std::thread([this] { Run(); });
}

void ServiceNotifier::Reloading() {
  if (!enabled_) return;
  {
    MutexLock lock(&mu_);
    reloading_ = true;
  }
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t monotonic_usec =
      static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
  Notify(absl::StrCat("RELOADING=1\nSTATUS=reloading the config\nMONOTONIC_USEC=",
                      monotonic_usec));
}

void ServiceNotifier::Reloaded() {
  if (!enabled_) return;
  Notify(absl::StrCat("READY=1\nSTATUS=", CurrentStatus()));
  MutexLock lock(&mu_);
  reloading_ = false;
  last_status_ = absl::Now();
  wake_.notify_all();
}

void ServiceNotifier::Stopping(const std::string& why) {
  if (!enabled_) return;
  Stop();
  Notify(absl::StrCat("STOPPING=1\nSTATUS=", why));
}

void ServiceNotifier::SetStatusInterval(absl::Duration interval) {
  MutexLock lock(&mu_);
  status_interval_ = interval;
  wake_.notify_all();
}

void ServiceNotifier::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void ServiceNotifier::Run() {
  const bool watchdog = watchdog_interval_ > absl::ZeroDuration();
  std::unique_lock<Mutex> lock(mu_);
  last_status_ = absl::Now();
  absl::Time next_ping = watchdog ? absl::Now() + watchdog_interval_ : absl::InfiniteFuture();
  while (!stop_) {
    // While reloading, STATUS lines wait (Reloaded sends one); pings go on.
    const absl::Time next_status =
        reloading_ ? absl::InfiniteFuture() : last_status_ + status_interval_;
    const absl::Time wake_at = std::min({next_status, next_ping, absl::Now() + absl::Hours(1)});
    wake_.wait_until(lock, absl::ToChronoTime(wake_at));
    if (stop_) break;
    const absl::Time now = absl::Now();
    const bool ping_due = now >= next_ping;
    const bool status_due = !reloading_ && now >= last_status_ + status_interval_;
    if (!ping_due && !status_due) continue;  // woken early: a new interval, a reload, ...
    lock.unlock();
    // The liveness check: the same snapshot GetStats takes, through the binding table.
    absl::StatusOr<v1::GetStatsResponse> stats = snapshot_();
    if (ping_due && stats.ok()) Notify("WATCHDOG=1");
    if (status_due) {
      Notify(absl::StrCat("STATUS=", stats.ok() ? metrics::StatusLine(*stats)
                                                : absl::StrCat("stats unavailable: ",
                                                               stats.status().message())));
    }
    lock.lock();
    if (ping_due) next_ping = now + watchdog_interval_;
    if (status_due) last_status_ = now;
  }
}

}  // namespace pktpool
