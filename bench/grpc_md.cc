// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// grpc-md - the gRPC series of hdr-parse (the paper's Figure 3): what it costs
// a gRPC C++ server to get at N metadata values of a received call, N = 1..25.
//
//   grpc-md [--runs R] [--calls C] [--warmup W] [--max-n N]
//
// Prints one line per N, in hdr-parse's key=value form, after a "grpc-md"
// tag so report.py merges it into hdr-parse's rows by n:
//   grpc-md n= grpc_ns= grpc_min= grpc_max= grpc_call_ns= grpc_base_ns=
//
// How: a forked server process (sync gRPC, Debian's libgrpc++) and this
// process as its client, one call at a time on one loopback channel. Each
// call carries x-md-00..x-md-(N-1), each a u64 as 16 hex characters (the
// names and values hdr_parse.c uses), and the handler looks every one up in
// ServerContext::client_metadata(); a missing or malformed one fails the call
// and the run. The figure is the server process's CPU time per call with N
// fields minus that with no field, the two alternating in blocks of 100 calls:
// everything else a call costs the server (framing, the protobuf, the
// handler's thread hand-off, the response) is the same in both and cancels,
// so what is left is HPACK decoding, gRPC's metadata batch and the lookups.
// Whole-process CPU (clock_getcpuclockid) counts every gRPC thread, exited
// ones included, and no wakeup latency, which a wall-clock time would.
// Loopback usually delivers a request in its sender's context, so the longer
// request's copy is charged to the client, not to the server's figure.
// The channel is warm: after the warm-up, gRPC's HPACK encoder sends what
// it sends on a long-lived connection (compare hdr-parse's indexed series).
// grpc_ns is the median of R runs' differences, with their min and max.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <getopt.h>
#include <memory>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "kv.grpc.pb.h"

static const int max_fields = 25;
static const int max_runs = 15;

static std::string md_name(int i)
{
	char b[16];

	snprintf(b, sizeof(b), "x-md-%02d", i);
	return b;
}

static std::string md_value(int i)
{
	char b[24];

	snprintf(b, sizeof(b), "%016llx", 0x1234567890abcdefull + (unsigned)i);
	return b;
}

// the application's view after the lookups: a pointer to each value; kept
// in a global so the compiler cannot drop the lookups
const char *found[max_fields];

// The request's key says how many fields the client sent, so a field gRPC
// lost or mangled fails the call.
class MdService final : public kvbench::KV::Service {
	std::string names[max_fields];

public:
	MdService()
	{
		for (int i = 0; i < max_fields; i++)
			names[i] = md_name(i);
	}
	grpc::Status Get(grpc::ServerContext *ctx, const kvbench::GetRequest *req,
			 kvbench::GetResponse *) override
	{
		int n = atoi(req->key().c_str());

		if (n < 0 || n > max_fields)
			return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "field count out of range");
		const auto &md = ctx->client_metadata();

		for (int i = 0; i < n; i++) {
			auto it = md.find(names[i]);

			if (it == md.end() || it->second.size() != 16)
				return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
						    "metadata " + names[i] + " missing or not 16 characters");
			found[i] = it->second.data();
		}
		return grpc::Status::OK;
	}
};

// Runs in the forked child: serves until killed, after telling the parent
// its port through the pipe.
static int serve(int wfd)
{
	MdService svc;
	grpc::ServerBuilder b;
	int port = 0;

	b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
	b.RegisterService(&svc);
	std::unique_ptr<grpc::Server> s = b.BuildAndStart();

	if (!s || port <= 0) {
		fprintf(stderr, "grpc-md: the server cannot listen on 127.0.0.1\n");
		return 1;
	}
	if (write(wfd, &port, sizeof(port)) != sizeof(port))
		return 1;
	close(wfd);
	s->Wait();
	return 0;
}

static uint64_t cpu_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// one call carrying n fields; false (with the reason printed) if it fails
static bool call(kvbench::KV::Stub *stub, int n, const std::vector<std::string> &names,
		 const std::vector<std::string> &values)
{
	grpc::ClientContext ctx;
	kvbench::GetRequest req;
	kvbench::GetResponse resp;

	for (int i = 0; i < n; i++)
		ctx.AddMetadata(names[i], values[i]);
	req.set_key(std::to_string(n));
	grpc::Status st = stub->Get(&ctx, req, &resp);

	if (!st.ok())
		fprintf(stderr, "grpc-md: a call with %d fields failed: %s\n", n, st.error_message().c_str());
	return st.ok();
}

// The server's CPU ns per call with n fields and with none, over `calls`
// calls each, after `warmup` of each. The two alternate in blocks of
// `block` calls, so a drift in what the machine's other work costs the
// server (caches, softirqs it happens to take) falls on both alike.
static bool server_cpu_per_call(kvbench::KV::Stub *stub, clockid_t srv, int n, long calls, long warmup,
				long block, const std::vector<std::string> &names,
				const std::vector<std::string> &values, double *with_n, double *base)
{
	uint64_t t[2] = { 0, 0 };

	for (long i = 0; i < warmup; i++)
		if (!call(stub, 0, names, values) || !call(stub, n, names, values))
			return false;
	for (long done = 0; done < calls; done += block) {
		for (int k = 0; k < 2; k++) {
			int fields = k ? n : 0;
			uint64_t c0 = cpu_ns(srv);

			for (long i = 0; i < block; i++)
				if (!call(stub, fields, names, values))
					return false;
			t[k] += cpu_ns(srv) - c0;
		}
	}
	*base = (double)t[0] / (double)calls;
	*with_n = (double)t[1] / (double)calls;
	return true;
}

struct stat3 {
	double med, min, max;
};

static stat3 summarize(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();

	return { n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v.front(), v.back() };
}

static int usage()
{
	fprintf(stderr, "usage: grpc-md [--runs R<=%d] [--calls C>=100] [--warmup W] [--max-n N<=%d]\n",
		max_runs, max_fields);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, nullptr, 'r' },
		{ "calls", required_argument, nullptr, 'c' },
		{ "warmup", required_argument, nullptr, 'w' },
		{ "max-n", required_argument, nullptr, 'n' },
		{ nullptr, 0, nullptr, 0 },
	};
	int runs = 5, max_n = max_fields, c;
	long calls = 1000, warmup = 100, block = 100;

	while ((c = getopt_long(argc, argv, "r:c:w:n:", opts, nullptr)) != -1) {
		switch (c) {
		case 'r': runs = atoi(optarg); break;
		case 'c': calls = atol(optarg); break;
		case 'w': warmup = atol(optarg); break;
		case 'n': max_n = atoi(optarg); break;
		default: return usage();
		}
	}
	if (optind != argc || runs < 1 || runs > max_runs || calls < block || warmup < 0 ||
	    max_n < 1 || max_n > max_fields)
		return usage();
	calls = (calls + block - 1) / block * block;

	// fork before gRPC starts any thread in this process
	int pfd[2];

	if (pipe(pfd)) {
		perror("grpc-md: pipe");
		return 1;
	}
	pid_t pid = fork();

	if (pid < 0) {
		perror("grpc-md: fork");
		return 1;
	}
	if (pid == 0) {
		close(pfd[0]);
		_exit(serve(pfd[1]));
	}
	close(pfd[1]);
	int port = 0, rc = 1;
	clockid_t srv;

	if (read(pfd[0], &port, sizeof(port)) != sizeof(port) || port <= 0) {
		fprintf(stderr, "grpc-md: the server did not start\n");
		waitpid(pid, nullptr, 0);
		return 1;
	}
	close(pfd[0]);
	if ((errno = clock_getcpuclockid(pid, &srv))) {
		perror("grpc-md: the server's CPU clock");
		kill(pid, SIGKILL);
		waitpid(pid, nullptr, 0);
		return 1;
	}
	{
		auto ch = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
					      grpc::InsecureChannelCredentials());
		auto stub = kvbench::KV::NewStub(ch);
		std::vector<std::string> names, values;

		for (int i = 0; i < max_fields; i++) {
			names.push_back(md_name(i));
			values.push_back(md_value(i));
		}
		printf("# gRPC metadata: server CPU per call with N fields minus with none, alternating in "
		       "blocks of %ld; %d runs of %ld calls of each after %ld warm-up\n", block, runs, calls, warmup);
		for (int n = 1; n <= max_n; n++) {
			std::vector<double> diff, withn, base;

			for (int r = 0; r < runs; r++) {
				double b, w;

				if (!server_cpu_per_call(stub.get(), srv, n, calls, warmup, block, names, values,
							 &w, &b))
					goto out;
				base.push_back(b);
				withn.push_back(w);
				diff.push_back(w - b);
			}
			stat3 d = summarize(diff), w = summarize(withn), b = summarize(base);

			printf("grpc-md n=%d grpc_ns=%.1f grpc_min=%.1f grpc_max=%.1f grpc_call_ns=%.1f "
			       "grpc_base_ns=%.1f\n", n, d.med, d.min, d.max, w.med, b.med);
			fflush(stdout);
		}
		rc = 0;
	}
out:
	kill(pid, SIGTERM);
	waitpid(pid, nullptr, 0);
	return rc;
}
