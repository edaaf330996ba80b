// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// grpc-bench - the KV mix of kv-bench over gRPC C++ (Debian's libgrpc++), so
// bench/run.sh can put the layered stack beside FlatRPC in the same run.
//
//   grpc-bench server --port P
//   grpc-bench client --server ADDR:PORT [--count N] [--outstanding K]
//                     [--warmup W] [--server-pids PID[,PID...]] [--proto NAME]
//
// The client prints the line kv-bench prints (proto= mode=blocking ...), so
// run.sh parses both alike. gRPC has no busy-poll mode: run.sh prints n/a.
// Requests carry username and session_id as metadata; with --proto
// grpc-haproxy the proxies in front check and count them (bench/run.sh).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <getopt.h>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "kv.grpc.pb.h"
#include "cpu_acct.h"
#include "kv_store_shim.h"

static uint64_t now_ns(clockid_t c = CLOCK_MONOTONIC)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

class KVService final : public kvbench::KV::Service {
	grpc::Status Get(grpc::ServerContext *, const kvbench::GetRequest *req,
			 kvbench::GetResponse *resp) override
	{
		const void *v;
		int n = kvs_get(req->key().c_str(), &v);

		if (n > 0)
			resp->set_value(v, (size_t)n);
		return grpc::Status::OK;
	}
	grpc::Status Set(grpc::ServerContext *, const kvbench::SetRequest *req,
			 kvbench::SetResponse *resp) override
	{
		resp->set_ok(kvs_set(req->key().c_str(), req->value().data(),
				     (unsigned)req->value().size()) == 1);
		return grpc::Status::OK;
	}
};

static int server(int port)
{
	KVService svc;
	grpc::ServerBuilder b;

	if (kvs_init())
		return 1;
	b.AddListeningPort("0.0.0.0:" + std::to_string(port), grpc::InsecureServerCredentials());
	b.RegisterService(&svc);
	std::unique_ptr<grpc::Server> s = b.BuildAndStart();
	if (!s) {
		fprintf(stderr, "grpc-bench: cannot listen on %d\n", port);
		return 1;
	}
	s->Wait();	// until killed: run.sh stops it with SIGTERM
	return 0;
}

// One call in flight; the context cannot be reused, so each call has its own.
struct Call {
	grpc::ClientContext ctx;
	kvbench::GetRequest greq;
	kvbench::SetRequest sreq;
	kvbench::GetResponse gresp;
	kvbench::SetResponse sresp;
	grpc::Status st;
	std::unique_ptr<grpc::ClientAsyncResponseReader<kvbench::GetResponse>> gr;
	std::unique_ptr<grpc::ClientAsyncResponseReader<kvbench::SetResponse>> sr;
	bool is_set;
	unsigned long seq;
	uint64_t at;
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, nullptr, 'S' },
		{ "port", required_argument, nullptr, 'P' },
		{ "count", required_argument, nullptr, 'c' },
		{ "outstanding", required_argument, nullptr, 'o' },
		{ "warmup", required_argument, nullptr, 'w' },
		{ "server-pids", required_argument, nullptr, 's' },
		{ "proto", required_argument, nullptr, 'p' },
		{ nullptr, 0, nullptr, 0 }
	};
	unsigned long count = 20000, warmup = 2000;
	unsigned outstanding = 1;
	int port = 9448, c;
	std::string target, proto = "grpc";
	struct cpu_acct srv = {}, srv0 = {};

	if (argc < 2)
		goto usage;
	optind = 2;
	while ((c = getopt_long(argc, argv, "S:P:c:o:w:s:p:", opts, nullptr)) != -1) {
		switch (c) {
		case 'S': target = optarg; break;
		case 'P': port = atoi(optarg); break;
		case 'c': count = strtoul(optarg, nullptr, 0); break;
		case 'o': outstanding = (unsigned)strtoul(optarg, nullptr, 0); break;
		case 'w': warmup = strtoul(optarg, nullptr, 0); break;
		case 's': cpu_acct_init(&srv, optarg); break;
		case 'p': proto = optarg; break;
		default: goto usage;
		}
	}
	if (!strcmp(argv[1], "server"))
		return server(port);
	if (strcmp(argv[1], "client") || target.empty() || !count || !outstanding || outstanding > 64)
		goto usage;
	{
		grpc::ChannelArguments args;
		// one HTTP/2 connection, as the UDP/TCP baselines use one socket
		args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
		auto ch = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
		auto stub = kvbench::KV::NewStub(ch);
		grpc::CompletionQueue cq;
		std::vector<uint64_t> lat;
		unsigned long total = count + warmup, sent = 0, done = 0, errors = 0;
		uint64_t t_start = 0, body = 0, cpu0_c = 0;
		unsigned inflight = 0;
		std::string value(64, 'v');

		if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
			fprintf(stderr, "grpc-bench: cannot connect to %s\n", target.c_str());
			return 1;
		}
		lat.reserve(count);
		while (done < total) {
			while (sent < total && inflight < outstanding) {
				Call *k = new Call;
				char key[24];

				snprintf(key, sizeof(key), "key-%lu", (sent - sent % 5) % 1000);	// gets read the last set key
				k->ctx.AddMetadata("username", "Kevin");
				k->ctx.AddMetadata("session-id", "7");
				k->is_set = sent % 5 == 0;	// the kv-bench mix: 1 in 5 is a set
				k->seq = sent;
				k->at = now_ns();
				if (k->is_set) {
					k->sreq.set_key(key);
					k->sreq.set_value(value);
					body += k->sreq.ByteSizeLong();
					k->sr = stub->AsyncSet(&k->ctx, k->sreq, &cq);
					k->sr->Finish(&k->sresp, &k->st, k);
				} else {
					k->greq.set_key(key);
					body += k->greq.ByteSizeLong();
					k->gr = stub->AsyncGet(&k->ctx, k->greq, &cq);
					k->gr->Finish(&k->gresp, &k->st, k);
				}
				sent++;
				inflight++;
			}
			void *tag;
			bool ok;

			if (!cq.Next(&tag, &ok))
				break;
			uint64_t t = now_ns();
			Call *k = static_cast<Call *>(tag);

			if (!ok || !k->st.ok())
				errors++;
			body += k->is_set ? k->sresp.ByteSizeLong() : k->gresp.ByteSizeLong();
			if (k->seq == warmup) {
				t_start = k->at;
				cpu0_c = now_ns(CLOCK_PROCESS_CPUTIME_ID);
				srv0 = srv;	// the pid list
				cpu_acct_read(&srv0);
			}
			if (k->seq >= warmup)
				lat.push_back(t - k->at);
			delete k;
			done++;
			inflight--;
		}
		uint64_t t_end = now_ns();
		uint64_t cpu_c = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0_c;
		cpu_acct_read(&srv);
		uint64_t cpu_s = cpu_acct_delta(&srv0, &srv);
		size_t n = lat.size();

		std::sort(lat.begin(), lat.end());
		double secs = (double)(t_end - t_start) / 1e9;
		printf("proto=%s mode=blocking outstanding=%u count=%zu p50_us=%.2f p99_us=%.2f "
		       "rate_per_s=%.0f errors=%lu client_cpu_us_per_rpc=%.2f server_cpu_us_per_rpc=%.2f "
		       "body_bytes_per_rpc=%.1f\n",
		       proto.c_str(), outstanding, n, n ? lat[n / 2] / 1e3 : 0.0,
		       n ? lat[n * 99 / 100] / 1e3 : 0.0, secs > 0 ? n / secs : 0.0, errors,
		       n ? cpu_c / 1e3 / n : 0.0, n ? cpu_s / 1e3 / n : 0.0, (double)body / total);
		return errors ? 1 : 0;
	}
usage:
	fprintf(stderr, "usage: grpc-bench server --port P\n"
			"       grpc-bench client --server ADDR:PORT [--count N] [--outstanding K]\n"
			"                         [--warmup W] [--server-pids PID[,PID...]] [--proto NAME]\n");
	return 2;
}
