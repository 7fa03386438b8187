// CaptureSession: one Capture stream read to its end, stopped the way tcpdump stops at
// Ctrl-C (StopCapture: the daemon drains the stream and sends its final counts), for
// pktpoolctl capture and pktpool-extcap.
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_CAPTURE_SESSION_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_CAPTURE_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "client/pktpoolctl/pktpool_client.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::ctl {

// Run, Stop and Cancel may be called from different threads; Run from one only.
class CaptureSession {
 public:
  // `request.format` is set to CAPTURE_FORMAT_PCAP_RECORDS. `client` must outlive it.
  CaptureSession(PktPoolClient* client, v1::CaptureRequest request);
  ~CaptureSession();  // waits for Stop's watchdog
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  // Opens the stream and waits until the daemon has subscribed (from then on nothing is
  // missed); `on_subscribed` runs then. Then calls `on_records` with each message's pcap
  // records (see pktpool_records' format) until the stream ends; a false return cancels
  // the stream (e.g. the output's reader went away). Returns the stream's final status:
  // OK after `count` frames or after Stop.
  grpc::Status Run(const std::function<void()>& on_subscribed,
                   const std::function<bool(std::string_view records, uint32_t count)>& on_records);

  // Any thread: asks the daemon to end the stream with its final counts; cancels it
  // instead when that call fails or the final message is not in within 3 s. A second
  // Stop cancels at once (a second Ctrl-C). Must have returned before the destructor
  // runs (InterruptWatcher::OnInterrupt({}) waits for a callback still running).
  void Stop();
  // Any thread: cancels the stream at once (its last counts are then not final).
  void Cancel() { context_.TryCancel(); }

  // The counts of the last message read (final() after Stop). Run's thread, after Run.
  const v1::CaptureLoss& loss() const { return loss_; }
  bool final() const { return final_; }
  // The stream's id (its "pktpool-capture-id" initial metadata), once subscribed.
  std::string id() const;

 private:
  PktPoolClient* const client_;
  v1::CaptureRequest request_;
  grpc::ClientContext context_;
  v1::CaptureLoss loss_;
  bool final_ = false;
  mutable std::mutex mu_;
  std::condition_variable ended_cv_;
  std::string id_;          // guarded by mu_
  bool subscribed_ = false;  // guarded by mu_
  bool ended_ = false;       // guarded by mu_
  bool stop_asked_ = false;  // guarded by mu_: Stop before the subscription completes
  std::thread watchdog_;
};

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_CAPTURE_SESSION_H_
