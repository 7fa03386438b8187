// pktpoold end to end: the daemon as its own process in a namespace of the test's own,
// a real gRPC channel over its Unix socket, real veth interfaces.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "pktpool/v1/pktpool.grpc.pb.h"
#include "tests/support/namespace_test.h"
#include "tests/support/process.h"
#include "tests/support/sanitizer.h"
#include "tests/support/tcpdump.h"
#include "tests/support/test_frame.h"

extern char** environ;

namespace pktpool {
namespace {

using google::protobuf::util::TimeUtil;

std::string MakeFrame(uint32_t sequence, size_t size) {
  return testing::TestFrame<std::string>(sequence, size);
}

class DaemonTest : public testing::NamespaceTest {
 protected:
  void SetUp() override {
    NamespaceTest::SetUp();
    if (!InNamespace()) return;
    socket_ = absl::StrCat("/tmp/pktpoold-test-", getpid(), "-", counter_++, ".sock");
    StartDaemon({"--bind", ns_->a(), "--bind", ns_->b()});
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::filesystem::remove(socket_);
  }

  // Starts pktpoold inside the namespace (a child inherits the thread's namespace) and
  // waits until its socket answers.
  void StartDaemon(std::vector<std::string> extra) {
    std::vector<std::string> args = {PKTPOOLD_PATH, "--socket", socket_};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, PKTPOOLD_PATH, nullptr, nullptr, argv.data(), environ), 0);
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(10);
    bool connected = false;
    while (!connected && std::chrono::system_clock::now() < deadline) {
      connected = channel_->WaitForConnected(std::chrono::system_clock::now() +
                                             std::chrono::milliseconds(200));
    }
    ASSERT_TRUE(connected) << "pktpoold did not listen on " << socket_;
    stub_ = v1::PktPool::NewStub(channel_);
  }

  // Stops the daemon and starts it again with a config file holding `config_text`, bound
  // to veth-a, on a new socket path (no connection of the old daemon's is reused).
  // Returns the config file's path, for the test to remove.
  std::string RestartWithConfig(const std::string& config_text, const std::string& name) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    const std::string conf = absl::StrCat("/tmp/pktpoold-", name, "-", getpid(), ".conf");
    std::ofstream(conf) << config_text;
    std::filesystem::remove(socket_);
    socket_ += "." + name;
    StartDaemon({"--config", conf, "--bind", ns_->a()});
    return conf;
  }

  // Calls a unary RPC with a 10 s deadline.
  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return (stub_.get()->*method)(&context, request, response);
  }

  // A Capture stream of `count` frames on `interface`, subscribed when this returns.
  struct CaptureCall {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<grpc::ClientReader<v1::CaptureResponse>> reader;
  };
  CaptureCall StartCapture(const std::string& interface, uint64_t count) {
    v1::CaptureRequest request;
    request.set_interface(interface);
    request.set_count(count);
    CaptureCall call;
    call.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    call.reader = stub_->Capture(call.context.get(), request);
    // The stream's subscriber exists once the first read is pending; give it a moment.
    absl::SleepFor(absl::Milliseconds(300));
    return call;
  }

  v1::BindingStats StatsOf(const std::string& interface) {
    v1::GetStatsRequest request;
    request.set_interface(interface);
    v1::GetStatsResponse response;
    EXPECT_TRUE(Call(&v1::PktPool::Stub::GetStats, request, &response).ok());
    return response.bindings_size() == 1 ? response.bindings(0) : v1::BindingStats{};
  }

  static uint32_t InUse(const v1::BindingStats& stats, v1::PoolName name) {
    for (const auto& pool : stats.pools()) {
      if (pool.name() == name) return pool.in_use();
    }
    return 0xFFFFFFFF;
  }

  // A raw unary call by method path, for the standard services (no stubs for them here).
  grpc::Status RawCall(const std::string& method, const std::string& request_bytes,
                       std::string* response_bytes) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status result;
    generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        result = s;
                        done = true;
                        cv.notify_one();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    std::vector<grpc::Slice> slices;
    response.Dump(&slices);
    response_bytes->clear();
    for (const auto& s : slices) response_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
    return result;
  }

  // Runs `round(t, i)` for i = 0.. on 4 client threads, until each has run `rounds` or
  // `limit` has passed, while this thread watches the daemon. Returns the rounds run; a
  // daemon that died fails the test, naming its signal, and stops the clients.
  int RunClientsWatchingTheDaemon(int rounds, absl::Duration limit,
                                  const std::function<void(int, int)>& round) {
    const absl::Time deadline = absl::Now() + limit;
    std::atomic<int> done{0};
    std::atomic<int> running{4};
    std::atomic<bool> died{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < rounds && absl::Now() < deadline && !died.load(); ++i) {
          round(t, i);
          done.fetch_add(1);
        }
        --running;
      });
    }
    while (running.load() > 0 && !died.load()) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        died = true;
        pid_ = -1;
        ADD_FAILURE() << "pktpoold died after " << done.load()
                      << " rounds: " << testing::DescribeWaitStatus(status);
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    for (auto& client : clients) client.join();
    return done.load();
  }

  static inline int counter_ = 0;
  std::string socket_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PktPool::Stub> stub_;
};

TEST_F(DaemonTest, HealthAnswersServingAndReflectionListsTheService) {
  std::string health;
  // grpc.health.v1.HealthCheckRequest{service: ""} is empty; SERVING is field 1 = 1.
  ASSERT_TRUE(RawCall("/grpc.health.v1.Health/Check", "", &health).ok());
  EXPECT_EQ(health, std::string("\x08\x01", 2));

  // ServerReflectionRequest{list_services: ""} over the bidi stream.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(&context,
                                  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                  &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("pktpool.v1.PktPool"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(DaemonTest, SendThroughGrpcCaptureThroughGrpcByteExactInOrder) {
  CaptureCall capture = StartCapture(ns_->b(), 300);
  auto& reader = capture.reader;

  v1::SendFramesRequest send;
  send.set_interface(ns_->a());
  std::vector<std::string> frames;
  for (uint32_t i = 0; i < 300; ++i) {
    frames.push_back(MakeFrame(i, 60 + i * 4));
    send.add_frames(frames.back());
  }
  *send.mutable_wait_for_resources() = TimeUtil::SecondsToDuration(5);
  v1::SendFramesResponse sent;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::SendFrames, send, &sent).ok());
  EXPECT_EQ(sent.frames_sent(), 300u);
  ASSERT_EQ(sent.outcomes_size(), 300);
  for (const auto& outcome : sent.outcomes()) EXPECT_EQ(outcome.result(), v1::SEND_RESULT_SENT);

  std::vector<std::string> got;
  v1::CaptureResponse batch;
  while (got.size() < frames.size() && reader->Read(&batch)) {
    for (const auto& frame : batch.frames()) {
      got.push_back(frame.data());
      EXPECT_EQ(frame.wire_length(), frame.data().size());
    }
  }
  EXPECT_TRUE(reader->Finish().ok());  // count reached: the stream ends by itself
  ASSERT_EQ(got.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(got[i], frames[i]) << "frame " << i;
}

TEST_F(DaemonTest, EveryOtherRpcAnswers) {
  v1::GetVersionResponse version;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::GetVersion, v1::GetVersionRequest{}, &version).ok());
  EXPECT_FALSE(version.version().empty());

  v1::ListBindingsResponse list;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::ListBindings, v1::ListBindingsRequest{}, &list).ok());
  ASSERT_EQ(list.bindings_size(), 2);
  EXPECT_EQ(list.bindings(0).state(), v1::BINDING_STATE_UP);
  EXPECT_EQ(list.bindings(0).options().snaplen(), 65535u);

  v1::ListPoolsResponse pools;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::ListPools, v1::ListPoolsRequest{}, &pools).ok());
  ASSERT_EQ(pools.bindings_size(), 2);
  EXPECT_EQ(pools.bindings(0).pools_size(), 4);
  EXPECT_EQ(pools.bindings(0).pools(0).tag(), "RXPK");

  // WatchStats: two updates 50 ms apart, then cancel.
  v1::WatchStatsRequest watch;
  *watch.mutable_interval() = TimeUtil::MillisecondsToDuration(50);
  grpc::ClientContext watch_context;
  auto watcher = stub_->WatchStats(&watch_context, watch);
  v1::GetStatsResponse update;
  ASSERT_TRUE(watcher->Read(&update));
  ASSERT_TRUE(watcher->Read(&update));
  EXPECT_EQ(update.bindings_size(), 2);
  watch_context.TryCancel();
  while (watcher->Read(&update)) {
  }
  EXPECT_EQ(watcher->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // StreamSendFrames: three batches, totals summed.
  grpc::ClientContext stream_context;
  v1::SendFramesResponse totals;
  auto writer = stub_->StreamSendFrames(&stream_context, &totals);
  for (int b = 0; b < 3; ++b) {
    v1::SendFramesRequest batch;
    batch.set_interface(ns_->a());
    for (int i = 0; i < 10; ++i) batch.add_frames(MakeFrame(b * 10 + i, 64));
    ASSERT_TRUE(writer->Write(batch));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(totals.frames_sent(), 30u);

  v1::UnbindRequest unbind;
  unbind.set_interface(ns_->b());
  v1::UnbindResponse unbound;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::Unbind, unbind, &unbound).ok());
  v1::GetStatsRequest gone;
  gone.set_interface(ns_->b());
  v1::GetStatsResponse none;
  EXPECT_EQ(Call(&v1::PktPool::Stub::GetStats, gone, &none).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::BindRequest bind;
  bind.set_interface(ns_->b());
  bind.mutable_options()->mutable_rx()->set_packet_descriptors(64);
  bind.mutable_options()->set_rx_preallocate(16);
  v1::BindResponse bound;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::Bind, bind, &bound).ok());
  EXPECT_EQ(bound.binding().options().rx().packet_descriptors(), 64u);
}

TEST_F(DaemonTest, BadInputsGetTheRightCodeAndTheDaemonStaysHealthy) {
  auto code = [&](auto method, const auto& request, auto* response) {
    return Call(method, request, response).error_code();
  };
  v1::SendFramesResponse sent;
  v1::SendFramesRequest send;
  send.set_interface("nosuch0");
  send.add_frames(MakeFrame(1, 64));
  EXPECT_EQ(code(&v1::PktPool::Stub::SendFrames, send, &sent), grpc::StatusCode::NOT_FOUND);

  send.set_interface(ns_->a());
  send.clear_frames();
  send.add_frames("");
  EXPECT_EQ(code(&v1::PktPool::Stub::SendFrames, send, &sent),
            grpc::StatusCode::INVALID_ARGUMENT);
  send.clear_frames();
  send.add_frames(std::string(70000, 'x'));
  EXPECT_EQ(code(&v1::PktPool::Stub::SendFrames, send, &sent),
            grpc::StatusCode::INVALID_ARGUMENT);
  send.clear_frames();
  for (int i = 0; i < 4097; ++i) send.add_frames(MakeFrame(i, 60));
  grpc::Status over_limit = Call(&v1::PktPool::Stub::SendFrames, send, &sent);
  EXPECT_EQ(over_limit.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(over_limit.error_message().find("max_frames_per_batch"), std::string::npos);

  v1::BindResponse bound;
  v1::BindRequest bind;
  bind.set_interface(ns_->a());
  EXPECT_EQ(code(&v1::PktPool::Stub::Bind, bind, &bound), grpc::StatusCode::ALREADY_EXISTS);
  bind.set_interface("nosuch0");
  EXPECT_EQ(code(&v1::PktPool::Stub::Bind, bind, &bound), grpc::StatusCode::NOT_FOUND);
  // The remaining checks need a free interface: unbind one end first.
  v1::UnbindRequest unbind;
  unbind.set_interface(ns_->b());
  v1::UnbindResponse unbound;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::Unbind, unbind, &unbound).ok());
  bind.set_interface(ns_->b());
  bind.mutable_options()->set_filter("not a filter (");
  EXPECT_EQ(code(&v1::PktPool::Stub::Bind, bind, &bound), grpc::StatusCode::INVALID_ARGUMENT);
  bind.mutable_options()->clear_filter();
  bind.mutable_options()->mutable_rx()->set_packet_descriptors(0x10000);
  grpc::Status too_many = Call(&v1::PktPool::Stub::Bind, bind, &bound);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(too_many.error_message().find("NDIS_STATUS_RESOURCES"), std::string::npos);

  v1::CaptureRequest capture;
  capture.set_interface(ns_->a());
  capture.set_filter("((");
  grpc::ClientContext capture_context;
  auto reader = stub_->Capture(&capture_context, capture);
  v1::CaptureResponse ignored;
  EXPECT_FALSE(reader->Read(&ignored));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::TunePoolRequest tune;
  tune.set_interface(ns_->a());
  tune.set_descriptors(100);
  v1::TunePoolResponse tuned;
  EXPECT_EQ(code(&v1::PktPool::Stub::TunePool, tune, &tuned), grpc::StatusCode::INVALID_ARGUMENT)
      << "a pool must be named";
  tune.set_pool(v1::POOL_NAME_TX_PACKETS);
  tune.set_descriptors(0);
  EXPECT_EQ(code(&v1::PktPool::Stub::TunePool, tune, &tuned), grpc::StatusCode::INVALID_ARGUMENT);
  tune.set_descriptors(0x10000);
  grpc::Status over_cap = Call(&v1::PktPool::Stub::TunePool, tune, &tuned);
  EXPECT_EQ(over_cap.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(over_cap.error_message().find("NDIS_STATUS_RESOURCES"), std::string::npos);
  tune.set_descriptors(65000);
  tune.set_overflow(1000);
  ASSERT_TRUE(Call(&v1::PktPool::Stub::TunePool, tune, &tuned).ok());
  EXPECT_TRUE(tuned.overflow_clamped());
  EXPECT_EQ(tuned.applied().overflow_limit(), 535u);
  EXPECT_EQ(tuned.applied().generation(), 1u);
  tune.set_interface("nosuch0");
  EXPECT_EQ(code(&v1::PktPool::Stub::TunePool, tune, &tuned), grpc::StatusCode::NOT_FOUND);

  // Still healthy and still sending.
  std::string health;
  ASSERT_TRUE(RawCall("/grpc.health.v1.Health/Check", "", &health).ok());
  EXPECT_EQ(health, std::string("\x08\x01", 2));
  send.clear_frames();
  send.add_frames(MakeFrame(9, 64));
  ASSERT_TRUE(Call(&v1::PktPool::Stub::SendFrames, send, &sent).ok());
  EXPECT_EQ(sent.frames_sent(), 1u);
}

TEST_F(DaemonTest, CancelledCaptureReturnsPacketsToBaseline) {
  const uint32_t baseline = InUse(StatsOf(ns_->b()), v1::POOL_NAME_RX_PACKETS);
  v1::CaptureRequest capture;
  capture.set_interface(ns_->b());
  capture.set_queue_frames(10000);
  grpc::ClientContext capture_context;
  auto reader = stub_->Capture(&capture_context, capture);
  absl::SleepFor(absl::Milliseconds(300));
  v1::SendFramesRequest send;
  send.set_interface(ns_->a());
  for (int i = 0; i < 200; ++i) send.add_frames(MakeFrame(i, 200));
  v1::SendFramesResponse sent;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::SendFrames, send, &sent).ok());
  v1::CaptureResponse batch;
  ASSERT_TRUE(reader->Read(&batch));  // mid-stream
  capture_context.TryCancel();
  while (reader->Read(&batch)) {
  }
  reader->Finish();
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (InUse(StatsOf(ns_->b()), v1::POOL_NAME_RX_PACKETS) != baseline &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(InUse(StatsOf(ns_->b()), v1::POOL_NAME_RX_PACKETS), baseline);
}

// Streams cancelled at every moment of their life: at once, during the capture's 5 ms
// wait for frames, around a WatchStats update. Each ending races the stream's own
// alarm; the daemon once died of it (the alarm's callback unlocked a stream that another
// thread had just deleted, about once in 20,000 cancelled captures on a busy machine).
// Bounded: 4 clients, 2,500 streams each, at most 40 s.
TEST_F(DaemonTest, StreamsCancelledAtAnyMomentLeaveTheDaemonServing) {
  const uint32_t baseline = InUse(StatsOf(ns_->b()), v1::POOL_NAME_RX_PACKETS);
  const int streams = RunClientsWatchingTheDaemon(2500, absl::Seconds(40), [&](int t, int i) {
    auto stub = v1::PktPool::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    // 0-7 ms: before the stream is set up, while it waits, as its alarm fires.
    const auto wait = std::chrono::microseconds((i * 997 + t * 331) % 7000);
    if (i % 4 == 3) {
      v1::WatchStatsRequest watch;
      watch.mutable_interval()->set_nanos(10'000'000);  // the shortest allowed
      auto reader = stub->WatchStats(&context, watch);
      std::this_thread::sleep_for(2 * wait);  // around the second update
      context.TryCancel();
      v1::GetStatsResponse update;
      while (reader->Read(&update)) {
      }
      reader->Finish();
    } else {
      v1::CaptureRequest request;
      request.set_interface(ns_->b());
      auto reader = stub->Capture(&context, request);
      std::this_thread::sleep_for(wait);
      context.TryCancel();
      v1::CaptureResponse batch;
      while (reader->Read(&batch)) {
      }
      reader->Finish();
    }
  });
  ASSERT_GT(pid_, 0);
  EXPECT_GE(streams, 2000) << "too few streams in 40 s to mean anything";
  // Serving, every subscriber gone, every rx packet back.
  const absl::Time settle = absl::Now() + absl::Seconds(5);
  v1::BindingStats stats = StatsOf(ns_->b());
  while ((stats.subscribers_size() != 0 || InUse(stats, v1::POOL_NAME_RX_PACKETS) != baseline) &&
         absl::Now() < settle) {
    absl::SleepFor(absl::Milliseconds(20));
    stats = StatsOf(ns_->b());
  }
  EXPECT_EQ(stats.subscribers_size(), 0);
  EXPECT_EQ(InUse(stats, v1::POOL_NAME_RX_PACKETS), baseline);
}

// Sends and captures ended at any moment from outside: streamed sends (paced and top
// speed) cancelled mid-stream, paced unary sends whose deadline passes while they send,
// captures stopped (StopCapture) while their client cancels. The same race class as
// above, on the send path and StopCapture. Bounded: 4 clients, 600 rounds each, 40 s.
TEST_F(DaemonTest, SendsAndCapturesEndedAtAnyMomentLeaveTheDaemonServing) {
  const uint32_t rx_baseline = InUse(StatsOf(ns_->b()), v1::POOL_NAME_RX_PACKETS);
  v1::SendFramesRequest batch;
  batch.set_interface(ns_->a());
  for (int f = 0; f < 64; ++f) batch.add_frames(MakeFrame(f, 64));
  const int rounds = RunClientsWatchingTheDaemon(600, absl::Seconds(40), [&](int t, int i) {
    auto stub = v1::PktPool::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    const auto wait = std::chrono::microseconds((i * 997 + t * 331) % 7000);
    switch ((i + t) % 4) {
      case 0:    // a paced stream (its sends on a worker thread), cancelled
      case 1: {  // a top-speed stream, cancelled
        v1::SendFramesRequest message = batch;
        if ((i + t) % 4 == 0) message.set_frames_per_second(20000);
        v1::SendFramesResponse totals;
        auto writer = stub->StreamSendFrames(&context, &totals);
        for (int m = 0; m < 3 && writer->Write(message); ++m) {
        }
        std::this_thread::sleep_for(wait);
        context.TryCancel();
        writer->Finish();
        break;
      }
      case 2: {  // a paced unary send (64 frames over 6.4 ms) whose deadline passes
        v1::SendFramesRequest message = batch;
        message.set_frames_per_second(10000);
        grpc::ClientContext short_context;
        short_context.set_deadline(std::chrono::system_clock::now() + wait +
                                   std::chrono::microseconds(100));
        v1::SendFramesResponse sent;
        stub->SendFrames(&short_context, message, &sent);
        break;
      }
      default: {  // a capture stopped by StopCapture as its client cancels it
        v1::CaptureRequest request;
        request.set_interface(ns_->b());
        auto reader = stub->Capture(&context, request);
        std::string id;
        reader->WaitForInitialMetadata();  // the subscriber exists, and its id
        const auto& metadata = context.GetServerInitialMetadata();
        auto found = metadata.find("pktpool-capture-id");
        if (found != metadata.end()) id.assign(found->second.data(), found->second.size());
        std::thread stopper([&] {
          std::this_thread::sleep_for(wait);
          grpc::ClientContext stop_context;
          stop_context.set_deadline(std::chrono::system_clock::now() +
                                    std::chrono::seconds(5));
          v1::StopCaptureRequest stop;
          stop.set_capture_id(id);
          v1::StopCaptureResponse stopped;
          stub->StopCapture(&stop_context, stop, &stopped);
        });
        std::this_thread::sleep_for(wait);
        context.TryCancel();
        v1::CaptureResponse message;
        while (reader->Read(&message)) {
        }
        reader->Finish();
        stopper.join();
        break;
      }
    }
  });
  ASSERT_GT(pid_, 0);
  EXPECT_GE(rounds, 1000) << "too few rounds in 40 s to mean anything";
  // Serving; no subscriber left, every tx packet completed and back, rx at its baseline.
  const absl::Time settle = absl::Now() + absl::Seconds(5);
  auto settled = [&] {
    const v1::BindingStats a = StatsOf(ns_->a()), b = StatsOf(ns_->b());
    return b.subscribers_size() == 0 && InUse(a, v1::POOL_NAME_TX_PACKETS) == 0 &&
           InUse(b, v1::POOL_NAME_RX_PACKETS) == rx_baseline;
  };
  while (!settled() && absl::Now() < settle) absl::SleepFor(absl::Milliseconds(20));
  const v1::BindingStats a = StatsOf(ns_->a()), b = StatsOf(ns_->b());
  EXPECT_EQ(b.subscribers_size(), 0);
  EXPECT_EQ(InUse(a, v1::POOL_NAME_TX_PACKETS), 0u);
  EXPECT_EQ(InUse(b, v1::POOL_NAME_RX_PACKETS), rx_baseline);
}

// RSS follows frees only where malloc is glibc's: ASan's runtime keeps freed memory in
// its quarantine (this build's daemon is built the same way), so this test exists only in
// the plain build, which CI's first stage (scripts/test.sh) runs.
#if !PKTPOOL_SANITIZER_BUILD
// A capture stream's message (pcap records) grows up to about 1 MiB under a burst; once the
// stream has been idle a second it gives that memory back, so idle streams (up to
// limits.max_concurrent_streams of them) do not each keep a burst's worth.
TEST_F(DaemonTest, IdleCaptureStreamsGiveTheirMessageMemoryBack) {
  constexpr int kStreams = 16;
  constexpr int kFrames = 2000;  // 2.8 MB of records each: more than a message holds
  std::atomic<bool> go{false};
  std::atomic<int> complete{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::thread> readers;
  for (int c = 0; c < kStreams; ++c) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.emplace_back([&, context = contexts.back().get()] {
      v1::CaptureRequest request;
      request.set_interface(ns_->b());
      request.set_format(v1::CAPTURE_FORMAT_PCAP_RECORDS);
      auto reader = stub_->Capture(context, request);
      reader->WaitForInitialMetadata();  // subscribed
      while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      uint64_t records = 0;
      v1::CaptureResponse message;
      bool counted = false;
      while (reader->Read(&message)) {
        records += message.record_count();
        if (!counted && records >= kFrames) {
          counted = true;
          complete.fetch_add(1);
        }
      }
      reader->Finish();
    });
  }
  absl::SleepFor(absl::Milliseconds(500));  // every stream subscribed
  // The burst, queued while nobody reads: each stream's next message is a full one.
  for (int part = 0; part < 4; ++part) {
    v1::SendFramesRequest send;
    send.set_interface(ns_->a());
    for (int i = 0; i < kFrames / 4; ++i) send.add_frames(MakeFrame(part * kFrames / 4 + i, 1400));
    v1::SendFramesResponse sent;
    ASSERT_TRUE(Call(&v1::PktPool::Stub::SendFrames, send, &sent).ok());
  }
  absl::SleepFor(absl::Milliseconds(300));
  go = true;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (complete.load() < kStreams && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(complete.load(), kStreams) << "not every stream got the burst";
  const long busy = static_cast<long>(testing::ResidentKb(pid_).value_or(0));
  absl::SleepFor(absl::Milliseconds(2500));  // idle for more than a second
  const long idle = static_cast<long>(testing::ResidentKb(pid_).value_or(0));
  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) reader.join();
  ASSERT_GT(busy, 0);
  std::printf("RSS %ld KiB after the burst, %ld KiB after 2.5 s idle\n", busy, idle);
  // How full each stream's largest message got depends on when its writes completed
  // (15-16 MiB for the 16 came back in runs here); without the release, none did (+8 KiB).
  EXPECT_GE(busy - idle, kStreams * 256) << "RSS " << busy << " KiB after the burst, " << idle
                                         << " KiB after 2.5 s idle";
}
#endif  // !PKTPOOL_SANITIZER_BUILD

TEST_F(DaemonTest, SigtermDuringASendFloodExitsZeroAndEveryReportedFrameWasSent) {
  testing::Tcpdump tcpdump(ns_->b(), absl::StrCat("/tmp/pktpoold-sigterm-", getpid(), ".pcap"));
  ASSERT_TRUE(tcpdump.ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reported{0};
  std::thread flood([&] {
    auto stub = v1::PktPool::NewStub(channel_);
    v1::SendFramesRequest send;
    send.set_interface(ns_->a());
    for (int i = 0; i < 256; ++i) send.add_frames(MakeFrame(i, 512));
    while (!stop.load()) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::SendFramesResponse sent;
      if (!stub->SendFrames(&context, send, &sent).ok()) break;
      reported.fetch_add(sent.frames_sent());
    }
  });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  kill(pid_, SIGTERM);
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pid_, &status, WNOHANG)) == 0 && absl::Now() - start < absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  stop.store(true);
  flood.join();
  ASSERT_EQ(done, pid_) << "pktpoold did not exit within 5 s of SIGTERM";
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(socket_));
  // Every frame reported as sent reached the peer (the last, interrupted batch may have
  // sent frames it could not report, so the capture may hold more).
  ASSERT_GT(reported.load(), 0u);
  const size_t captured = tcpdump.StopAndRead(reported.load()).size();
  EXPECT_GE(captured, reported.load());
}

TEST_F(DaemonTest, TuningEveryPoolUnderAFloodAndACaptureLosesNothing) {
  v1::CaptureRequest capture_request;
  capture_request.set_interface(ns_->b());
  capture_request.set_queue_frames(65536);
  grpc::ClientContext capture_context;
  capture_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub_->Capture(&capture_context, capture_request);
  absl::SleepFor(absl::Milliseconds(300));
  std::atomic<uint64_t> reported{0};
  std::thread flood([&] {
    auto stub = v1::PktPool::NewStub(channel_);
    for (uint32_t round = 0; round < 30; ++round) {
      v1::SendFramesRequest send;
      send.set_interface(ns_->a());
      for (uint32_t i = 0; i < 100; ++i) send.add_frames(MakeFrame(round * 100 + i, 300));
      *send.mutable_wait_for_resources() = TimeUtil::SecondsToDuration(5);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::SendFramesResponse sent;
      if (!stub->SendFrames(&context, send, &sent).ok()) break;
      reported.fetch_add(sent.frames_sent());
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  const struct {
    const std::string* interface;
    v1::PoolName pool;
    uint32_t descriptors;
    uint32_t buffer_size;
  } tunes[] = {{&ns_->b(), v1::POOL_NAME_RX_PACKETS, 600, 0},
               {&ns_->b(), v1::POOL_NAME_RX_BUFFERS, 1400, 1024},
               {&ns_->a(), v1::POOL_NAME_TX_PACKETS, 300, 0},
               {&ns_->a(), v1::POOL_NAME_TX_BUFFERS, 700, 512}};
  for (const auto& t : tunes) {
    absl::SleepFor(absl::Milliseconds(20));
    v1::TunePoolRequest tune;
    tune.set_interface(*t.interface);
    tune.set_pool(t.pool);
    tune.set_descriptors(t.descriptors);
    tune.set_buffer_size(t.buffer_size);
    v1::TunePoolResponse tuned;
    grpc::Status status = Call(&v1::PktPool::Stub::TunePool, tune, &tuned);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(tuned.applied().descriptors(), t.descriptors);
  }
  flood.join();
  std::vector<uint32_t> sequences;
  v1::CaptureResponse batch;
  while (sequences.size() < reported.load() && reader->Read(&batch)) {
    for (const auto& frame : batch.frames()) {
      uint32_t sequence;
      std::memcpy(&sequence, frame.data().data() + 14, sizeof(sequence));
      sequences.push_back(sequence);
    }
  }
  capture_context.TryCancel();
  while (reader->Read(&batch)) {
  }
  reader->Finish();
  ASSERT_EQ(reported.load(), 3000u);
  ASSERT_EQ(sequences.size(), 3000u);
  for (size_t i = 0; i < sequences.size(); ++i) ASSERT_EQ(sequences[i], i);
  // The old generations drain to zero and leave the pool list.
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  int draining = -1;
  while (draining != 0 && absl::Now() < deadline) {
    v1::ListPoolsResponse pools;
    ASSERT_TRUE(Call(&v1::PktPool::Stub::ListPools, v1::ListPoolsRequest{}, &pools).ok());
    draining = 0;
    for (const auto& binding : pools.bindings()) {
      for (const auto& pool : binding.pools()) draining += pool.draining() ? 1 : 0;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(draining, 0);
}

TEST_F(DaemonTest, CancelledSendStreamReturnsTxPacketsToBaseline) {
  grpc::ClientContext stream_context;
  v1::SendFramesResponse totals;
  auto writer = stub_->StreamSendFrames(&stream_context, &totals);
  for (int b = 0; b < 20; ++b) {
    v1::SendFramesRequest batch;
    batch.set_interface(ns_->a());
    batch.set_frames_per_second(20000);  // paced, so frames are queued when we cancel
    for (int i = 0; i < 100; ++i) batch.add_frames(MakeFrame(b * 100 + i, 128));
    if (!writer->Write(batch)) break;
  }
  stream_context.TryCancel();
  writer->Finish();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS) != 0 ||
          InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_BUFFERS) != 0) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS), 0u);
  EXPECT_EQ(InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_BUFFERS), 0u);
}

TEST_F(DaemonTest, AStreamWithOffsetsKeepsOneTimelineAcrossMessages) {
  // 300 frames recorded 1 ms apart, in three messages: one timeline, 299 ms from the first
  // injection to the last, every frame at the peer in order.
  CaptureCall capture = StartCapture(ns_->b(), 300);
  auto& reader = capture.reader;
  grpc::ClientContext stream_context;
  v1::SendFramesResponse totals;
  auto writer = stub_->StreamSendFrames(&stream_context, &totals);
  for (uint32_t m = 0; m < 3; ++m) {
    v1::SendFramesRequest batch;
    batch.set_interface(ns_->a());
    for (uint32_t i = m * 100; i < (m + 1) * 100; ++i) {
      batch.add_frames(MakeFrame(i, 64));
      batch.add_offsets_ns(static_cast<int64_t>(i) * 1'000'000);
    }
    ASSERT_TRUE(writer->Write(batch));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(totals.frames_sent(), 300u);
  EXPECT_EQ(totals.bytes_sent(), 300u * 64);
  EXPECT_TRUE(totals.timed());
  const double span = static_cast<double>(
      TimeUtil::DurationToNanoseconds(totals.last_sent() - totals.first_sent())) / 1e9;
  EXPECT_NEAR(span, 0.299, 0.299 * 0.05);
  EXPECT_NEAR(totals.frames_per_second(), 1000, 50);
  EXPECT_EQ(TimeUtil::DurationToNanoseconds(totals.late_threshold()), 100'000);
  EXPECT_LE(totals.frames_late(), totals.frames_sent());
  EXPECT_GE(TimeUtil::DurationToNanoseconds(totals.lateness_max()),
            TimeUtil::DurationToNanoseconds(totals.lateness_p99()));
  std::vector<uint32_t> sequences;
  v1::CaptureResponse batch;
  while (sequences.size() < 300 && reader->Read(&batch)) {
    for (const auto& frame : batch.frames()) {
      uint32_t sequence = 0;
      std::memcpy(&sequence, frame.data().data() + 14, sizeof(sequence));
      sequences.push_back(sequence);
    }
  }
  reader->Finish();
  ASSERT_EQ(sequences.size(), 300u);
  for (uint32_t i = 0; i < 300; ++i) ASSERT_EQ(sequences[i], i);
}

TEST_F(DaemonTest, StreamRulesAndLimitsGetClearAnswers) {
  auto stream = [&](const std::vector<v1::SendFramesRequest>& messages) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::SendFramesResponse totals;
    auto writer = stub_->StreamSendFrames(&context, &totals);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  };
  v1::SendFramesRequest on_a;
  on_a.set_interface(ns_->a());
  on_a.add_frames(MakeFrame(0, 64));
  v1::SendFramesRequest on_b = on_a;
  on_b.set_interface(ns_->b());
  grpc::Status switched = stream({on_a, on_b});
  EXPECT_EQ(switched.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(switched.error_message().find("every message of a stream names the same interface"),
            std::string::npos)
      << switched.error_message();
  v1::SendFramesRequest limited = on_a, relimited = on_a;
  limited.set_limit(10);
  relimited.set_limit(20);
  grpc::Status changed = stream({limited, relimited});
  EXPECT_EQ(changed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(changed.error_message().find("limit and duration hold for the whole stream"),
            std::string::npos);
  v1::SendFramesRequest conflict = on_a;
  conflict.set_frames_per_second(10);
  conflict.add_offsets_ns(0);
  v1::SendFramesResponse response;
  grpc::Status refused = Call(&v1::PktPool::Stub::SendFrames, conflict, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("exclude each other"), std::string::npos);

  // A limit: the frames after it are SKIPPED, not failed.
  v1::SendFramesRequest three = on_a;
  three.add_frames(MakeFrame(1, 64));
  three.add_frames(MakeFrame(2, 64));
  three.set_limit(2);
  ASSERT_TRUE(Call(&v1::PktPool::Stub::SendFrames, three, &response).ok());
  EXPECT_EQ(response.frames_sent(), 2u);
  EXPECT_EQ(response.frames_skipped(), 1u);
  EXPECT_EQ(response.frames_failed(), 0u);
  ASSERT_EQ(response.outcomes_size(), 3);
  EXPECT_EQ(response.outcomes(2).result(), v1::SEND_RESULT_SKIPPED);
  EXPECT_FALSE(response.timed());
  // Nothing held: the tx pools are back at zero.
  EXPECT_EQ(InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS), 0u);
}

TEST_F(DaemonTest, CancellingAStreamFailsFramesDueLaterAtOnce) {
  // Frames recorded up to an hour ahead: a client that cancels does not leave them queued.
  grpc::ClientContext stream_context;
  v1::SendFramesResponse totals;
  auto writer = stub_->StreamSendFrames(&stream_context, &totals);
  v1::SendFramesRequest batch;
  batch.set_interface(ns_->a());
  for (int i = 0; i < 50; ++i) {
    batch.add_frames(MakeFrame(i, 64));
    batch.add_offsets_ns(static_cast<int64_t>(i) * 72'000'000'000);  // 72 s apart
  }
  ASSERT_TRUE(writer->Write(batch));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_GT(InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS), 0u);
  const absl::Time cancelled = absl::Now();
  stream_context.TryCancel();
  writer->Finish();
  while (InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS) != 0 &&
         absl::Now() - cancelled < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(InUse(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS), 0u);
  EXPECT_LT(absl::Now() - cancelled, absl::Seconds(2));
  const v1::BindingStats stats = StatsOf(ns_->a());
  EXPECT_EQ(stats.tx_failures().at("cancelled"), 49u);
  EXPECT_EQ(stats.tx_frames(), 1u);
}

TEST_F(DaemonTest, StreamsOverTheConfiguredLimitAreRefused) {
  const std::string conf = RestartWithConfig("limits { max_concurrent_streams: 1 }\n", "limits");
  v1::WatchStatsRequest watch;
  grpc::ClientContext first_context;
  auto first = stub_->WatchStats(&first_context, watch);
  v1::GetStatsResponse update;
  ASSERT_TRUE(first->Read(&update));
  grpc::ClientContext second_context;
  auto second = stub_->WatchStats(&second_context, watch);
  EXPECT_FALSE(second->Read(&update));
  grpc::Status refused = second->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("max_concurrent_streams"), std::string::npos);
  first_context.TryCancel();
  while (first->Read(&update)) {
  }
  first->Finish();
  // Its place is free again (once the server has finished the cancelled stream).
  bool reopened = false;
  for (int attempt = 0; attempt < 50 && !reopened; ++attempt) {
    grpc::ClientContext third_context;
    auto third = stub_->WatchStats(&third_context, watch);
    reopened = third->Read(&update);
    third_context.TryCancel();
    while (third->Read(&update)) {
    }
    third->Finish();
    if (!reopened) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(reopened);
  std::filesystem::remove(conf);
}

// Paced sends block for as long as their pacing says. They must not hold gRPC's callback
// threads: ten of them (8 unary, 2 streams; 1 s each, one after the other on the
// binding's transmit thread) are all accepted at once, and every other call answers
// while they are still sending. Before the fix, 8 paced sends stalled the whole server
// until they ended.
TEST_F(DaemonTest, SlowPacedSendsDoNotStallOtherCalls) {
  constexpr int kUnary = 8, kStreams = 2;
  v1::SendFramesRequest paced;
  paced.set_interface(ns_->a());
  for (uint32_t i = 0; i < 10; ++i) paced.add_frames(MakeFrame(i, 100));
  paced.set_frames_per_second(10);  // 10 frames: about 1 s
  std::atomic<int> finished{0}, ok{0};
  // Each sender is a client of its own, with a connection of its own (as separate
  // processes would be; one shared connection hides the stall), connected beforehand.
  std::vector<std::unique_ptr<v1::PktPool::Stub>> stubs;
  for (int i = 0; i < kUnary + kStreams; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel =
        grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
    ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
    stubs.push_back(v1::PktPool::NewStub(channel));
  }
  std::vector<std::thread> senders;
  for (int i = 0; i < kUnary; ++i) {
    senders.emplace_back([&, i] {
      v1::PktPool::Stub* stub = stubs[i].get();
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::SendFramesResponse response;
      if (stub->SendFrames(&context, paced, &response).ok() && response.frames_sent() == 10) ++ok;
      ++finished;
    });
  }
  for (int i = kUnary; i < kUnary + kStreams; ++i) {
    senders.emplace_back([&, i] {
      v1::PktPool::Stub* stub = stubs[i].get();
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::SendFramesResponse response;
      auto writer = stub->StreamSendFrames(&context, &response);
      writer->Write(paced);
      writer->WritesDone();
      if (writer->Finish().ok() && response.frames_sent() == 10) ++ok;
      ++finished;
    });
  }
  // Every send is in the daemon: each built its 10 transmit packets before waiting, so
  // packets in use plus frames sent reach 100. With each send holding a gRPC thread, the
  // ones beyond gRPC's few threads would not have started. Polling GetStats is itself a
  // call the bug would stall.
  bool all_started = false;
  uint64_t seen = 0;
  for (int attempt = 0; attempt < 100 && !all_started; ++attempt) {
    const v1::BindingStats stats = StatsOf(ns_->a());
    seen = InUse(stats, v1::POOL_NAME_TX_PACKETS) + stats.tx_frames();
    all_started = seen >= 10u * (kUnary + kStreams);
    if (!all_started) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(all_started) << "only " << seen << " frames built or sent";
  v1::GetVersionResponse version;
  EXPECT_TRUE(Call(&v1::PktPool::Stub::GetVersion, v1::GetVersionRequest{}, &version).ok());
  v1::ListPoolsResponse pools;
  EXPECT_TRUE(Call(&v1::PktPool::Stub::ListPools, v1::ListPoolsRequest{}, &pools).ok());
  v1::SendFramesRequest quick;
  quick.set_interface(ns_->a());
  quick.add_frames(MakeFrame(1000, 100));
  v1::SendFramesResponse quick_sent;
  EXPECT_TRUE(Call(&v1::PktPool::Stub::SendFrames, quick, &quick_sent).ok());
  // All of that answered while every paced send was still sending (the first ends about
  // 1 s after it began, the last about 10 s).
  EXPECT_EQ(finished.load(), 0) << "other calls waited for the paced sends to end";
  for (std::thread& sender : senders) sender.join();
  EXPECT_EQ(ok.load(), kUnary + kStreams);
}

// A paced SendFrames holds a stream place while it runs: with one place, a second
// paced send is refused (RESOURCE_EXHAUSTED, naming the limit) and an unpaced one is not.
TEST_F(DaemonTest, PacedUnarySendsCountAgainstTheStreamLimit) {
  const std::string conf = RestartWithConfig("limits { max_concurrent_streams: 1 }\n", "paced");
  v1::SendFramesRequest paced;
  paced.set_interface(ns_->a());
  for (uint32_t i = 0; i < 10; ++i) paced.add_frames(MakeFrame(i, 100));
  paced.set_frames_per_second(5);  // about 2 s
  std::atomic<bool> first_ok{false};
  std::thread first([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SendFramesResponse response;
    first_ok = stub_->SendFrames(&context, paced, &response).ok() && response.frames_sent() == 10;
  });
  bool started = false;
  for (int attempt = 0; attempt < 100 && !started; ++attempt) {
    started = StatsOf(ns_->a()).tx_frames() >= 1;
    if (!started) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(started);
  v1::SendFramesResponse refused_response;
  grpc::Status refused = Call(&v1::PktPool::Stub::SendFrames, paced, &refused_response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("max_concurrent_streams"), std::string::npos);
  v1::SendFramesRequest quick;
  quick.set_interface(ns_->a());
  quick.add_frames(MakeFrame(100, 100));
  v1::SendFramesResponse quick_sent;
  EXPECT_TRUE(Call(&v1::PktPool::Stub::SendFrames, quick, &quick_sent).ok());
  first.join();
  EXPECT_TRUE(first_ok.load());
  std::filesystem::remove(conf);
}

// TCP is TLS unless the address is loopback or --insecure-tcp is given; with
// client_ca_file, clients need a certificate (mTLS).
TEST(DaemonTcpTest, TlsListenerServesTlsClientsAndRefusesPlaintextOffLoopback) {
  PKTPOOL_REQUIRE_NET_ADMIN();
  auto ns = testing::VethNamespace::Create();
  ASSERT_TRUE(ns.ok()) << ns.status();
  ASSERT_TRUE((*ns)->Enter().ok());
  ASSERT_EQ((*ns)->Run("ip addr add 192.0.2.1/24 dev veth-a"), 0);  // our own address
  const std::string dir = absl::StrCat("/tmp/pktpoold-tls-", getpid());
  std::filesystem::create_directories(dir);
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem", conf = dir + "/tls.conf";
  ASSERT_EQ(std::system(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -keyout ", key,
                                     " -out ", cert, " -days 1 -subj /CN=localhost -addext "
                                     "subjectAltName=DNS:localhost,IP:192.0.2.1 2>/dev/null")
                            .c_str()),
            0);
  {
    std::ofstream out(conf);
    out << "listen {\n  unix_socket: \"" << dir << "/d.sock\"\n  tcp_address: \"192.0.2.1:50071\"\n"
        << "  tls { cert_file: \"" << cert << "\" key_file: \"" << key << "\" }\n}\n";
  }
  auto run = [&](std::vector<std::string> args, pid_t* pid) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return posix_spawn(pid, PKTPOOLD_PATH, nullptr, nullptr, argv.data(), environ) == 0;
  };
  // Plaintext TCP on a non-loopback address is refused at start, with exit code 2.
  pid_t refused = -1;
  ASSERT_TRUE(run({PKTPOOLD_PATH, "--socket", dir + "/r.sock", "--listen", "192.0.2.1:50072"},
                  &refused));
  int status = 0;
  waitpid(refused, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);

  pid_t pid = -1;
  ASSERT_TRUE(run({PKTPOOLD_PATH, "--config", conf}, &pid));
  grpc::SslCredentialsOptions tls;
  {
    std::ifstream in(cert);
    tls.pem_root_certs.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto secure = grpc::CreateChannel("192.0.2.1:50071", grpc::SslCredentials(tls));
  bool connected = false;
  for (int i = 0; i < 50 && !connected; ++i) {
    connected = secure->WaitForConnected(std::chrono::system_clock::now() +
                                         std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(connected) << "no TLS connection to 192.0.2.1:50071";
  v1::GetVersionResponse version;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_TRUE(v1::PktPool::NewStub(secure)->GetVersion(&context, {}, &version).ok());
  // A plaintext client cannot talk to the TLS port.
  auto plain = grpc::CreateChannel("192.0.2.1:50071", grpc::InsecureChannelCredentials());
  grpc::ClientContext plain_context;
  plain_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  EXPECT_FALSE(v1::PktPool::NewStub(plain)->GetVersion(&plain_context, {}, &version).ok());
  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pktpool
