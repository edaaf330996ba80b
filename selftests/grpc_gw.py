#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""grpc_gw.py - a stock gRPC client (grpcio) against flatrpc-gateway-kv.

Usage: grpc_gw.py --target HOST:PORT --proto KV.proto --health HEALTH.proto PHASE...

Stubs come from the gateway's own .proto (flatrpc-gen --proto) through
grpc_tools.protoc, as any gRPC user would make them. Each phase checks
one thing and prints "ok PHASE: ..."; the first failed check prints
"FAIL PHASE: ..." and the exit status is 1.

Phases: health, reflection, setget, denied, unknown, invalid, big, concurrent,
malformed, again, deadline (the FlatRPC server must not answer: test_grpc_gateway
stops it first).
"""
import argparse
import concurrent.futures
import importlib
import os
import socket
import sys
import tempfile

import grpc
from grpc_tools import protoc

SC = grpc.StatusCode
KEVIN = (("username", "Kevin"), ("session-id", "7"))
PETER = (("username", "Peter"), ("session-id", "8"))


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def stubs(proto):
    out = tempfile.mkdtemp(prefix="grpc-gw-")
    d, f = os.path.split(os.path.abspath(proto))
    rc = protoc.main(["protoc", f"-I{d}", f"--python_out={out}", f"--grpc_python_out={out}", f])
    check(rc == 0, f"grpc_tools.protoc failed on {proto}")
    sys.path.insert(0, out)
    base = os.path.splitext(f)[0]
    return importlib.import_module(base + "_pb2"), importlib.import_module(base + "_pb2_grpc")


def code_of(fn):
    try:
        fn()
    except grpc.RpcError as e:
        return e.code(), e.details()
    return SC.OK, None


class T:
    def __init__(self, target, proto, health):
        self.target = target
        self.pb, self.pbg = stubs(proto)
        self.hpb, self.hpbg = stubs(health)
        self.ch = grpc.insecure_channel(target)
        self.kv = self.pbg.KvStub(self.ch)

    def get(self, key, md=KEVIN, timeout=5):
        # get is lossy: one FlatRPC attempt, which a busy host can lose
        for _ in range(3):
            c, d = code_of(lambda: self.kv.Get(self.pb.GetRequest(key=key), metadata=md,
                                               timeout=timeout))
            if c != SC.DEADLINE_EXCEEDED:
                break
        return c, d

    def ph_health(self):
        health_pb2 = self.hpb
        h = self.hpbg.HealthStub(self.ch)
        for svc in ("", "kv.Kv"):
            r = h.Check(health_pb2.HealthCheckRequest(service=svc), timeout=5)
            check(r.status == health_pb2.HealthCheckResponse.SERVING, f"'{svc}': {r.status}")
        c, _ = code_of(lambda: h.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5))
        check(c == SC.NOT_FOUND, f"unknown service: {c}")
        return "SERVING for '' and kv.Kv, NOT_FOUND for another"

    def ph_reflection(self):
        # grpcio-reflection's client: one stream, each request sent after
        # the answer to the one before, so the gateway must answer while
        # the stream is open
        from google.protobuf import descriptor_pb2, descriptor_pool
        from grpc_reflection.v1alpha import reflection_pb2 as rpb, reflection_pb2_grpc as rpbg
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import \
            ProtoReflectionDescriptorDatabase
        db = ProtoReflectionDescriptorDatabase(self.ch)
        svcs = set(db.get_services())
        want = {"kv.Kv", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                "grpc.reflection.v1.ServerReflection"}
        check(want <= svcs, f"list_services: {sorted(svcs)}")
        pool = descriptor_pool.DescriptorPool(db)
        kv = pool.FindServiceByName("kv.Kv")
        methods = sorted(m.name for m in kv.methods)
        check(methods == ["Get", "Set"], f"kv.Kv's methods from reflection: {methods}")
        get = kv.FindMethodByName("Get")
        check([f.name for f in get.input_type.fields][-1] == "key",
              f"GetRequest's fields: {[f.name for f in get.input_type.fields]}")
        # the raw stream: several requests on one stream, answered in
        # order, an unknown symbol NOT_FOUND without ending the stream,
        # under both versions' paths (one protocol, the same messages)
        reqs = [rpb.ServerReflectionRequest(file_containing_symbol="kv.Nope"),
                rpb.ServerReflectionRequest(file_by_filename="kv.proto"),
                rpb.ServerReflectionRequest(file_containing_symbol="kv.Kv.Set")]
        for path in ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                     "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"):
            info = self.ch.stream_stream(
                path, request_serializer=rpb.ServerReflectionRequest.SerializeToString,
                response_deserializer=rpb.ServerReflectionResponse.FromString)
            got = list(info(iter(reqs), timeout=5))
            check(len(got) == 3, f"{path}: {len(got)} answers to 3 requests")
            check([a.original_request for a in got] == reqs, f"{path}: answers out of order")
            e = got[0]
            check(e.WhichOneof("message_response") == "error_response" and
                  e.error_response.error_code == SC.NOT_FOUND.value[0],
                  f"{path}: kv.Nope: {e}")
            for a in got[1:]:
                check(a.WhichOneof("message_response") == "file_descriptor_response",
                      f"{path}: {a.original_request}: {a.WhichOneof('message_response')}")
                fd = descriptor_pb2.FileDescriptorProto.FromString(
                    a.file_descriptor_response.file_descriptor_proto[0])
                check(fd.name == "kv.proto" and [m.name for m in fd.service[0].method] ==
                      ["Get", "Set"], f"{path}: {fd.name} {fd.service}")
        c, _ = code_of(lambda: list(self.ch.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")(
                iter([b"\xff\xff\xff"]), timeout=5)))
        check(c == SC.INVALID_ARGUMENT, f"an undecodable reflection request: {c}")
        return (f"{len(svcs)} services listed, kv.Kv's Get and Set from its descriptor, "
                "kv.Nope NOT_FOUND, v1 and v1alpha")

    def ph_setget(self):
        r = self.kv.Set(self.pb.SetRequest(key="gw-k", value=b"gw-v"), metadata=KEVIN, timeout=5)
        check(r.ok, "Set answered ok=false")
        for _ in range(3):
            try:
                g = self.kv.Get(self.pb.GetRequest(key="gw-k"), metadata=KEVIN, timeout=5)
                break
            except grpc.RpcError as e:
                check(e.code() == SC.DEADLINE_EXCEEDED, f"Get: {e.code()} {e.details()}")
        else:
            raise Fail("Get lost three times")
        check(g.value == b"gw-v", f"Get: {g.value!r}")
        # the metadata in the message, for a client that sets no headers
        r = self.kv.Set(self.pb.SetRequest(username="Kevin", session_id=9, key="gw-m",
                                           value=b"m"), timeout=5)
        check(r.ok, "Set with metadata in the message")
        return "Set ok, Get gw-v, metadata from headers and from the message"

    def ph_denied(self):
        for name, fn in (("Get", lambda: self.kv.Get(self.pb.GetRequest(key="gw-k"),
                                                      metadata=PETER, timeout=5)),
                         ("Set", lambda: self.kv.Set(self.pb.SetRequest(key="gw-k", value=b"p"),
                                                     metadata=PETER, timeout=5)),
                         # Peter in the message, Kevin in no header: still Peter
                         ("Set(msg)", lambda: self.kv.Set(self.pb.SetRequest(
                             username="Peter", key="gw-k", value=b"p"), timeout=5))):
            c, d = code_of(fn)
            check(c == SC.PERMISSION_DENIED and d == "denied by firewall", f"{name}: {c} {d!r}")
        c, _ = self.get("gw-k")
        return "PERMISSION_DENIED 'denied by firewall' for Get, Set and Peter in the message"

    def ph_unknown(self):
        m = self.ch.unary_unary("/kv.Kv/Nope", request_serializer=None,
                                response_deserializer=None)
        c, d = code_of(lambda: m(b"", timeout=5))
        check(c == SC.UNIMPLEMENTED, f"/kv.Kv/Nope: {c} {d}")
        return f"UNIMPLEMENTED ({d})"

    def ph_invalid(self):
        raw = self.ch.unary_unary("/kv.Kv/Get", request_serializer=None,
                                  response_deserializer=None)
        c, d = code_of(lambda: raw(b"\xff\xff\xff", metadata=KEVIN, timeout=5))
        check(c == SC.INVALID_ARGUMENT, f"undecodable: {c} {d}")
        c, d = code_of(lambda: self.kv.Get(self.pb.GetRequest(key="k" * 65), metadata=KEVIN,
                                           timeout=5))
        check(c == SC.INVALID_ARGUMENT and "key" in d, f"65-byte key: {c} {d}")
        c, d = code_of(lambda: self.kv.Get(self.pb.GetRequest(key="k"),
                                           metadata=(("session-id", "x1"),), timeout=5))
        check(c == SC.INVALID_ARGUMENT and "session-id" in d, f"session-id x1: {c} {d}")
        return "INVALID_ARGUMENT for bad protobuf, a key over 64 bytes, a bad session-id"

    def ph_big(self):
        # kv's values are bytes<256>: 256 passes, 64 KiB is refused before
        # it is buffered (specs/blob.anf is the spec with 64 KiB values)
        r = self.kv.Set(self.pb.SetRequest(key="gw-256", value=b"x" * 256), metadata=KEVIN,
                        timeout=5)
        check(r.ok, "256-byte value")
        c, d = code_of(lambda: self.kv.Set(self.pb.SetRequest(key="gw-64k", value=b"y" * 65536),
                                           metadata=KEVIN, timeout=5))
        check(c == SC.RESOURCE_EXHAUSTED, f"64 KiB value: {c} {d}")
        c, d2 = code_of(lambda: self.kv.Set(self.pb.SetRequest(key="gw-257", value=b"y" * 257),
                                           metadata=KEVIN, timeout=5))
        check(c == SC.INVALID_ARGUMENT and "value" in d2, f"257-byte value: {c} {d2}")
        return f"256 B ok, 257 B INVALID_ARGUMENT, 64 KiB RESOURCE_EXHAUSTED ({d})"

    def ph_concurrent(self):
        # 100 calls at once: 50 on one connection (one HTTP/2 stream each),
        # 50 spread over 5 more connections
        chans = [grpc.insecure_channel(self.target, options=[("grpc.use_local_subchannel_pool", 1)])
                 for _ in range(5)]
        kvs = [self.kv] * 50 + [self.pbg.KvStub(chans[i % 5]) for i in range(50)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
            futs = [s.Set.future(self.pb.SetRequest(key=f"gw-c{i}", value=b"c%d" % i),
                                 metadata=KEVIN, timeout=10) for i, s in enumerate(kvs)]
            res = [code_of(f.result) for f in futs]
        bad = [(i, c, d) for i, (c, d) in enumerate(res) if c != SC.OK]
        check(not bad, f"{len(bad)} of 100 failed: {bad[:3]}")
        for ch in chans:
            ch.close()
        return "100 concurrent Sets ok over 6 connections"

    def raw_conn(self, data):
        host, port = self.target.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=5)
        got = b""
        try:
            s.sendall(data)
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except (socket.timeout, ConnectionResetError):
            pass
        finally:
            s.close()
        return got

    def ph_malformed(self):
        # not HTTP/2 at all, then the preface followed by garbage frames:
        # the connection ends (with a GOAWAY where one can go), the gateway
        # does not
        self.raw_conn(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        got = self.raw_conn(preface + b"\x00\x00\x04\x04\x00\x00\x00\x00\x00" +
                            b"\x00\x00\x08\x01\x05\x00\x00\x00\x01" + b"\xff" * 8)
        check(b"\x07" in got[:200] or got == b"", "no GOAWAY after a bad HEADERS block")
        # a HEADERS frame on stream 0 is a connection error
        self.raw_conn(preface + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
                      b"\x00\x00\x01\x01\x05\x00\x00\x00\x00\x82")
        c, _ = self.get("gw-k")
        check(c == SC.OK, f"a call after the malformed input: {c}")
        return "bad preface, bad HPACK, HEADERS on stream 0: connection closed, gateway serves"

    def ph_again(self):
        # a key of its own: the server's account counts a key set twice
        # as a set executed twice
        r = self.kv.Set(self.pb.SetRequest(key="gw-again", value=b"a"), metadata=KEVIN, timeout=5)
        check(r.ok, "Set answered ok=false")
        c, d = self.get("gw-again")
        check(c == SC.OK, f"Get: {c} {d}")
        return "Set and Get answer again"

    def ph_deadline(self):
        # the FlatRPC server is stopped: a set (reliable, 16 retries of up
        # to 20 ms) outlives a 150 ms grpc-timeout, a get (lossy) times out
        # in FlatRPC before a 5 s one
        c, d = code_of(lambda: self.kv.Set(self.pb.SetRequest(key="gw-late", value=b"l"),
                                           metadata=KEVIN, timeout=0.15))
        check(c == SC.DEADLINE_EXCEEDED, f"Set with 150 ms: {c} {d}")
        c, d2 = code_of(lambda: self.kv.Get(self.pb.GetRequest(key="gw-k"), metadata=KEVIN,
                                            timeout=5))
        check(c == SC.DEADLINE_EXCEEDED and "FlatRPC" in (d2 or ""), f"Get: {c} {d2}")
        return f"DEADLINE_EXCEEDED: Set ({d}), Get ({d2})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--proto", required=True)
    ap.add_argument("--health", required=True, help="gateway/health.proto")
    ap.add_argument("phases", nargs="+")
    a = ap.parse_args()
    t = T(a.target, a.proto, a.health)
    for p in a.phases:
        try:
            print(f"ok {p}: {getattr(t, 'ph_' + p)()}", flush=True)
        except (Fail, grpc.RpcError) as e:
            print(f"FAIL {p}: {e}", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
