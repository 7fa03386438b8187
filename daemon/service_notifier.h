// ServiceNotifier: tells systemd how pktpoold is doing (sd_notify): READY, a STATUS line
// every interval, WATCHDOG pings, RELOADING and STOPPING.
#ifndef PKTPOOL_DAEMON_SERVICE_NOTIFIER_H_
#define PKTPOOL_DAEMON_SERVICE_NOTIFIER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/pool/mutex.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool {

// Without NOTIFY_SOCKET in the environment (not started by systemd) every call does
// nothing and no thread runs. Otherwise, after Ready(), a thread of its own sends the
// STATUS line every status interval and, when systemd's watchdog is on for this process
// (WATCHDOG_USEC, WATCHDOG_PID), WATCHDOG=1 at half its interval, each ping only after a
// stats snapshot came back: a daemon whose binding table is stuck stops pinging and
// systemd restarts it. Thread-safe.
class ServiceNotifier {
 public:
  // The statistics the STATUS line and the liveness check read (the GetStats snapshot);
  // called on the notifier's thread.
  using Snapshot = std::function<absl::StatusOr<v1::GetStatsResponse>()>;

  ServiceNotifier(Snapshot snapshot, absl::Duration status_interval);
  ~ServiceNotifier();  // stops and joins the thread (sends nothing)
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // READY=1 with the first STATUS line; starts the status and watchdog thread.
  void Ready();
  // RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload wants); STATUS lines pause.
  void Reloading();
  // READY=1 with a fresh STATUS line, after a reload (applied or refused).
  void Reloaded();
  // STOPPING=1 with STATUS=`why`; stops the thread (no more pings).
  void Stopping(const std::string& why);
  // Takes effect from the next STATUS line.
  void SetStatusInterval(absl::Duration interval);

  // The watchdog ping interval (half of WATCHDOG_USEC), or zero when the watchdog is off.
  absl::Duration watchdog_interval() const { return watchdog_interval_; }

 private:
  void Run();
  void Stop();
  // The STATUS line of a snapshot taken now ("stats unavailable: ..." if it failed).
  std::string CurrentStatus();

  const Snapshot snapshot_;
  const bool enabled_;                    // NOTIFY_SOCKET is set
  const absl::Duration watchdog_interval_;
  Mutex mu_;
  std::condition_variable_any wake_;
  absl::Duration status_interval_ ABSL_GUARDED_BY(mu_);
  absl::Time last_status_ ABSL_GUARDED_BY(mu_);  // when the last STATUS line went
  bool reloading_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started by Ready, joined by Stop (one caller thread)
};

}  // namespace pktpool

#endif  // PKTPOOL_DAEMON_SERVICE_NOTIFIER_H_
