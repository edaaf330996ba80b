// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// grpc-bench - the KV mix of kv-bench over gRPC C++ (Debian's libgrpc++), so
// bench/run.sh can put the layered stack beside FlatRPC in the same run.
//
//   grpc-bench server --port P [--interceptors]
//   grpc-bench client --server ADDR:PORT [--count N] [--outstanding K]
//                     [--warmup W] [--server-pids PID[,PID...]] [--proto NAME]
//                     [--user NAME] [--stall-us T] [--kv-proto] [--proxy-pids PID[,PID...]]
//
// The client prints the line kv-bench prints (proto= mode=blocking ...), so
// run.sh parses both alike. gRPC has no busy-poll mode: run.sh prints n/a.
// Requests carry username and session_id as metadata; with --proto
// grpc-haproxy the proxies in front check and count them (bench/run.sh);
// with --interceptors the server does both itself, in gRPC server
// interceptors (the row "gRPC + interceptors", --proto grpc-icpt).
// --kv-proto calls kv.Kv, the service of `flatrpc-gen --proto specs/kv.anf`
// that flatrpc-gateway-kv serves, instead of bench/kv.proto's kvbench.KV;
// the server serves both, so one client measures the gateway and a gRPC
// C++ server with the same messages (bench/run.sh --gateway). The CPU of
// --proxy-pids (the gateway) is counted apart from --server-pids.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <getopt.h>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "kv.grpc.pb.h"
#include "flatrpc_kv.grpc.pb.h"
#include "cpu_acct.h"
#include "kv_store_shim.h"

static uint64_t now_ns(clockid_t c = CLOCK_MONOTONIC)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// The firewall and the session tracker of specs/kv.anf, as a mesh without a
// sidecar would add them: gRPC server interceptors reading the metadata.
// The user table is specs/elements/firewall.anf's: 'No' denies, anyone
// else passes. A denied call is cancelled: a 1.51 server interceptor cannot
// answer with a status of its own, so the client sees CANCELLED. Whether a
// cancel has taken effect is known only later, so the firewall's verdict is
// also kept by call (its server context), for the session tracker after it
// and for the handler, which must not touch the store.
static const std::map<std::string, std::string> firewall_table = {
	{ "Kevin", "Yes" }, { "Peter", "No" },
};

// requests per session_id, as session-tracker.anf counts them; handlers
// run on several threads, hence the lock
static std::mutex sessions_lock;
static std::map<std::string, unsigned long> sessions;
static unsigned long denied;
static std::unordered_set<const grpc::ServerContextBase *> denied_calls;

static bool is_denied(const grpc::ServerContextBase *ctx)
{
	std::lock_guard<std::mutex> g(sessions_lock);

	return denied_calls.count(ctx) != 0;
}

static std::string first_value(const std::multimap<grpc::string_ref, grpc::string_ref> *md,
			       const char *name)
{
	auto it = md->find(name);

	return it == md->end() ? std::string() : std::string(it->second.data(), it->second.size());
}

class FirewallInterceptor final : public grpc::experimental::Interceptor {
	grpc::experimental::ServerRpcInfo *info;

public:
	explicit FirewallInterceptor(grpc::experimental::ServerRpcInfo *i) : info(i) {}
	~FirewallInterceptor()	// the call is over
	{
		std::lock_guard<std::mutex> g(sessions_lock);

		denied_calls.erase(info->server_context());
	}
	void Intercept(grpc::experimental::InterceptorBatchMethods *m) override
	{
		if (m->QueryInterceptionHookPoint(
			grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
			auto it = firewall_table.find(first_value(m->GetRecvInitialMetadata(), "username"));

			if (it != firewall_table.end() && it->second == "No") {
				std::lock_guard<std::mutex> g(sessions_lock);

				denied++;
				denied_calls.insert(info->server_context());
				info->server_context()->TryCancel();
			}
		}
		m->Proceed();
	}
};

// Runs after the firewall and, as in the spec's chain, does not count a
// call the firewall denied.
class SessionInterceptor final : public grpc::experimental::Interceptor {
	grpc::experimental::ServerRpcInfo *info;

public:
	explicit SessionInterceptor(grpc::experimental::ServerRpcInfo *i) : info(i) {}
	void Intercept(grpc::experimental::InterceptorBatchMethods *m) override
	{
		if (m->QueryInterceptionHookPoint(
			grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
			std::string id = first_value(m->GetRecvInitialMetadata(), "session-id");
			std::lock_guard<std::mutex> g(sessions_lock);

			if (!denied_calls.count(info->server_context()))
				sessions[id]++;
		}
		m->Proceed();
	}
};

template <class I>
class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
	grpc::experimental::Interceptor *CreateServerInterceptor(grpc::experimental::ServerRpcInfo *i) override
	{
		return new I(i);
	}
};

// The two services' types: kvbench.KV and the gateway's kv.Kv differ in
// their messages' field numbers, not in what they do.
template <class S, class GQ, class GR, class SQ, class SR>
struct Api {
	using Svc = S;
	using GetReq = GQ;
	using GetResp = GR;
	using SetReq = SQ;
	using SetResp = SR;
};
using BenchApi = Api<kvbench::KV, kvbench::GetRequest, kvbench::GetResponse, kvbench::SetRequest,
		     kvbench::SetResponse>;
using GatewayApi = Api<kv::Kv, kv::GetRequest, kv::GetResponse, kv::SetRequest, kv::SetResponse>;

// One store behind both.
template <class A>
class KVService final : public A::Svc::Service {
	using GetReq = typename A::GetReq;
	using GetResp = typename A::GetResp;
	using SetReq = typename A::SetReq;
	using SetResp = typename A::SetResp;

	grpc::Status Get(grpc::ServerContext *ctx, const GetReq *req, GetResp *resp) override
	{
		const void *v;

		if (is_denied(ctx))
			return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "firewall");
		int n = kvs_get(req->key().c_str(), &v);

		if (n > 0)
			resp->set_value(v, (size_t)n);
		return grpc::Status::OK;
	}
	grpc::Status Set(grpc::ServerContext *ctx, const SetReq *req, SetResp *resp) override
	{
		if (is_denied(ctx))
			return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "firewall");
		resp->set_ok(kvs_set(req->key().c_str(), req->value().data(),
				     (unsigned)req->value().size()) == 1);
		return grpc::Status::OK;
	}
};

static int server(int port, bool interceptors)
{
	KVService<BenchApi> svc;
	KVService<GatewayApi> gw_svc;
	grpc::ServerBuilder b;
	sigset_t term;

	if (kvs_init())
		return 1;
	// SIGTERM (run.sh's stop) is taken by a thread that shuts the server
	// down, so the interceptors' counts can be printed on the way out
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	pthread_sigmask(SIG_BLOCK, &term, nullptr);
	b.AddListeningPort("0.0.0.0:" + std::to_string(port), grpc::InsecureServerCredentials());
	b.RegisterService(&svc);
	b.RegisterService(&gw_svc);
	if (interceptors) {
		std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;

		// received metadata passes the interceptors last to first
		// (interceptor_common.h), so the firewall, first in the
		// spec's chain, is registered last
		f.emplace_back(new Factory<SessionInterceptor>);
		f.emplace_back(new Factory<FirewallInterceptor>);
		b.experimental().SetInterceptorCreators(std::move(f));
	}
	std::unique_ptr<grpc::Server> s = b.BuildAndStart();
	if (!s) {
		fprintf(stderr, "grpc-bench: cannot listen on %d\n", port);
		return 1;
	}
	std::thread stopper([&] {
		int sig;

		sigwait(&term, &sig);
		s->Shutdown(std::chrono::system_clock::now());
	});
	s->Wait();
	stopper.join();
	if (interceptors) {
		std::lock_guard<std::mutex> g(sessions_lock);

		fprintf(stderr, "grpc-bench: interceptors: %lu denied;", denied);
		for (auto &e : sessions)
			fprintf(stderr, " session %s: %lu requests;", e.first.c_str(), e.second);
		fprintf(stderr, "\n");
	}
	return 0;
}

// One call in flight; the context cannot be reused, so each call has its own.
template <class A>
struct Call {
	grpc::ClientContext ctx;
	typename A::GetReq greq;
	typename A::SetReq sreq;
	typename A::GetResp gresp;
	typename A::SetResp sresp;
	grpc::Status st;
	std::unique_ptr<grpc::ClientAsyncResponseReader<typename A::GetResp>> gr;
	std::unique_ptr<grpc::ClientAsyncResponseReader<typename A::SetResp>> sr;
	bool is_set;
	unsigned long seq;
	uint64_t at;
};

struct ClientOpts {
	std::string target, proto, user;
	unsigned long count, warmup;
	uint64_t stall_ns;
	unsigned outstanding;
	struct cpu_acct srv, proxy;
};

template <class A>
static int client(ClientOpts &o)
{
	using Call = ::Call<A>;
	const std::string &target = o.target, &proto = o.proto, &user = o.user;
	unsigned long count = o.count, warmup = o.warmup;
	uint64_t stall_ns = o.stall_ns;
	unsigned outstanding = o.outstanding;
	struct cpu_acct &srv = o.srv, srv0 = {}, &proxy = o.proxy, proxy0 = {};

	{
		grpc::ChannelArguments args;
		// one HTTP/2 connection, as the UDP/TCP baselines use one socket
		args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
		auto ch = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
		auto stub = A::Svc::NewStub(ch);
		grpc::CompletionQueue cq;
		std::vector<uint64_t> lat, get_lat;	// get_lat: bench/run.sh's head-of-line run
		unsigned long total = count + warmup, sent = 0, done = 0, errors = 0;
		uint64_t t_start = 0, body = 0, cpu0_c = 0;
		std::vector<Call *> fly;	// in flight
		std::string value(64, 'v');
		// the calls that count against --outstanding: all, or with
		// --stall-us the younger ones; *wake: when the next turns stale
		auto going = [&](uint64_t now, uint64_t *wake) {
			unsigned n = 0;

			if (!stall_ns)
				return (unsigned)fly.size();
			for (const Call *f : fly)
				if (now - f->at < stall_ns) {
					n++;
					*wake = std::min(*wake, f->at + stall_ns);
				}
			return n;
		};

		if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
			fprintf(stderr, "grpc-bench: cannot connect to %s\n", target.c_str());
			return 1;
		}
		lat.reserve(count);
		while (done < total) {
			uint64_t wake = UINT64_MAX;

			while (sent < total && fly.size() < 64 && going(now_ns(), &wake) < outstanding) {
				Call *k = new Call;
				char key[24];

				snprintf(key, sizeof(key), "key-%lu", (sent - sent % 5) % 1000);	// gets read the last set key
				k->ctx.AddMetadata("username", user);
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
				fly.push_back(k);
				sent++;
			}
			void *tag;
			bool ok;

			if (wake == UINT64_MAX) {
				if (!cq.Next(&tag, &ok))
					break;
			} else {
				uint64_t now = now_ns();
				auto dl = std::chrono::system_clock::now() +
					  std::chrono::nanoseconds(wake > now ? wake - now : 0);
				auto st = cq.AsyncNext(&tag, &ok, dl);

				if (st == grpc::CompletionQueue::TIMEOUT)
					continue;
				if (st == grpc::CompletionQueue::SHUTDOWN)
					break;
			}
			uint64_t t = now_ns();
			Call *k = static_cast<Call *>(tag);

			if (!ok || !k->st.ok()) {
				if (!errors++)
					fprintf(stderr, "grpc-bench: a call failed: status %d: %s\n",
						(int)k->st.error_code(), k->st.error_message().c_str());
			}
			body += k->is_set ? k->sresp.ByteSizeLong() : k->gresp.ByteSizeLong();
			if (k->seq == warmup) {
				t_start = k->at;
				cpu0_c = now_ns(CLOCK_PROCESS_CPUTIME_ID);
				srv0 = srv;	// the pid list
				cpu_acct_read(&srv0);
				proxy0 = proxy;
				cpu_acct_read(&proxy0);
			}
			if (k->seq >= warmup) {
				lat.push_back(t - k->at);
				if (!k->is_set)
					get_lat.push_back(t - k->at);
			}
			fly.erase(std::find(fly.begin(), fly.end(), k));
			delete k;
			done++;
		}
		uint64_t t_end = now_ns();
		uint64_t cpu_c = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0_c;
		cpu_acct_read(&srv);
		cpu_acct_read(&proxy);
		uint64_t cpu_s = cpu_acct_delta(&srv0, &srv);
		uint64_t cpu_p = proxy.n ? cpu_acct_delta(&proxy0, &proxy) : 0;
		size_t n = lat.size();

		std::sort(lat.begin(), lat.end());
		std::sort(get_lat.begin(), get_lat.end());
		size_t g = get_lat.size();
		double secs = (double)(t_end - t_start) / 1e9;
		printf("proto=%s mode=blocking outstanding=%u count=%zu p50_us=%.2f p99_us=%.2f "
		       "rate_per_s=%.0f errors=%lu client_cpu_us_per_rpc=%.2f server_cpu_us_per_rpc=%.2f "
		       "body_bytes_per_rpc=%.1f get_p50_us=%.2f get_p99_us=%.2f gets=%zu gets_lost=0 "
		       "proxy_cpu_us_per_rpc=%.2f\n",
		       proto.c_str(), outstanding, n, n ? lat[n / 2] / 1e3 : 0.0,
		       n ? lat[n * 99 / 100] / 1e3 : 0.0, secs > 0 ? n / secs : 0.0, errors,
		       n ? cpu_c / 1e3 / n : 0.0, n ? cpu_s / 1e3 / n : 0.0, (double)body / total,
		       g ? get_lat[g / 2] / 1e3 : 0.0, g ? get_lat[g * 99 / 100] / 1e3 : 0.0, g,
		       n ? cpu_p / 1e3 / n : 0.0);
		return errors ? 1 : 0;
	}
}

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
		{ "interceptors", no_argument, nullptr, 'I' },
		{ "user", required_argument, nullptr, 'u' },
		{ "stall-us", required_argument, nullptr, 'T' },
		{ "kv-proto", no_argument, nullptr, 'K' },
		{ "proxy-pids", required_argument, nullptr, 'X' },
		{ nullptr, 0, nullptr, 0 }
	};
	unsigned long count = 20000, warmup = 2000;
	uint64_t stall_ns = 0;	// as kv-bench --stall-us
	unsigned outstanding = 1;
	int port = 9448, c;
	std::string target, proto = "grpc", user = "Kevin";
	bool interceptors = false, kv_proto = false;
	struct cpu_acct srv = {}, proxy = {};

	if (argc < 2)
		goto usage;
	optind = 2;
	while ((c = getopt_long(argc, argv, "S:P:c:o:w:s:p:Iu:T:KX:", opts, nullptr)) != -1) {
		switch (c) {
		case 'S': target = optarg; break;
		case 'P': port = atoi(optarg); break;
		case 'c': count = strtoul(optarg, nullptr, 0); break;
		case 'o': outstanding = (unsigned)strtoul(optarg, nullptr, 0); break;
		case 'w': warmup = strtoul(optarg, nullptr, 0); break;
		case 's': cpu_acct_init(&srv, optarg); break;
		case 'p': proto = optarg; break;
		case 'I': interceptors = true; break;
		case 'u': user = optarg; break;
		case 'T': stall_ns = strtoull(optarg, nullptr, 0) * 1000; break;
		case 'K': kv_proto = true; break;
		case 'X': cpu_acct_init(&proxy, optarg); break;
		default: goto usage;
		}
	}
	if (!strcmp(argv[1], "server"))
		return server(port, interceptors);
	if (strcmp(argv[1], "client") || target.empty() || !count || !outstanding || outstanding > 64)
		goto usage;
	{
		ClientOpts o{ target, proto, user, count, warmup, stall_ns, outstanding, srv, proxy };

		return kv_proto ? client<GatewayApi>(o) : client<BenchApi>(o);
	}
usage:
	fprintf(stderr, "usage: grpc-bench server --port P [--interceptors]\n"
			"       grpc-bench client --server ADDR:PORT [--count N] [--outstanding K] [--stall-us T]\n"
			"                         [--warmup W] [--server-pids PID[,PID...]] [--proto NAME]\n"
			"                         [--user NAME] [--kv-proto] [--proxy-pids PID[,PID...]]\n");
	return 2;
}
