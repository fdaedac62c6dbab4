/* grpc_peer.cc - gRPC C++ (synchronous unary API, insecure credentials)
 * doing the bench's add(int32, int32) -> int32 over unix:PATH or
 * 127.0.0.1:PORT, for the peers stage of scripts/bench.sh (command line:
 * peer_util.h).  The server is pinned before gRPC starts its threads, so
 * they all inherit $BENCH_SERVER_CPU; a small thread watches the stop flag
 * (SIGTERM) and calls Shutdown().  The client makes one channel and one
 * stub, each call with a 5 s deadline. */
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "grpc_add.grpc.pb.h"
#include "peer_util.h"

namespace {

class BenchImpl final : public plumbpeers::Bench::Service {
  grpc::Status Add(grpc::ServerContext *, const plumbpeers::AddRequest *req,
                   plumbpeers::AddReply *rep) override
  {
    rep->set_r(static_cast<int32_t>(static_cast<uint32_t>(req->a()) +
                                    static_cast<uint32_t>(req->b())));
    return grpc::Status::OK;
  }
};

std::string
address(const peer_opts &o)
{
  return o.tcp ? "127.0.0.1:" + std::to_string(o.port)
               : std::string("unix:") + o.path;
}

int
serve(const peer_opts &o)
{
  BenchImpl impl;
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort(address(o), grpc::InsecureServerCredentials(),
                     o.tcp ? &port : nullptr);
  b.RegisterService(&impl);
  std::unique_ptr<grpc::Server> srv = b.BuildAndStart();
  if (!srv || (o.tcp && port != o.port)) {
    std::fprintf(stderr, "peer-grpc: cannot listen on %s\n",
                 address(o).c_str());
    return 1;
  }
  std::thread stopper([&srv] {
    while (!peer_stopping()) // bounded by the driver's SIGTERM
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    srv->Shutdown(std::chrono::system_clock::now() +
                  std::chrono::seconds(1));
  });
  peer_server_ready("grpc");
  srv->Wait();
  stopper.join();
  if (!o.tcp)
    unlink(o.path);
  return 0;
}

struct Client {
  std::unique_ptr<plumbpeers::Bench::Stub> stub;
};

int
call_add(void *ctx, int32_t a, int32_t b, int32_t *r)
{
  auto *c = static_cast<Client *>(ctx);
  grpc::ClientContext cc;
  cc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  plumbpeers::AddRequest req;
  plumbpeers::AddReply rep;
  req.set_a(a);
  req.set_b(b);
  grpc::Status st = c->stub->Add(&cc, req, &rep);
  if (!st.ok()) {
    std::fprintf(stderr, "peer-grpc: Add: %s\n", st.error_message().c_str());
    return -1;
  }
  *r = rep.r();
  return 0;
}

} // namespace

int
main(int argc, char **argv)
{
  peer_opts o;
  if (peer_parse(argc, argv, "grpc", &o) != 0)
    return 2;
  if (std::strcmp(o.role, "server") == 0) {
    peer_server_signals(&o);
    return serve(o);
  }
  auto ch = grpc::CreateChannel(address(o), grpc::InsecureChannelCredentials());
  if (!ch->WaitForConnected(std::chrono::system_clock::now() +
                            std::chrono::seconds(5))) {
    std::fprintf(stderr, "peer-grpc: cannot reach %s\n", address(o).c_str());
    return 1;
  }
  Client c{ plumbpeers::Bench::NewStub(ch) };
  return peer_measure("grpc", &o, call_add, &c);
}
