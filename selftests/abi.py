# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What the scripts know of the ABI: everything of include/flatrpc_abi.h and
selftests/bpf/impair.h, from flatrpc_abi.py, which `make` generates into the
build directory (selftests/abi_py.c); and numbers of a service's generated
<service>.abi.h, read from that header itself. Nothing here is typed in by
hand. FLATRPC_PY names the generated module's directory if it is not
build/py beside this tree.
"""
import os
import re
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("FLATRPC_PY") or os.path.join(_HERE, "..", "build", "py"))
from flatrpc_abi import *  # noqa: E402,F401,F403
import flatrpc_abi  # noqa: E402


def service_define(name, header):
    """A number a generated <service>.abi.h defines (#define or enum)."""
    with open(header) as f:
        text = f.read()
    m = (re.search(r"^#define\s+%s\s+(0x[0-9a-fA-F]+|\d+)\b" % name, text, re.M) or
         re.search(r"^\s*%s\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*," % name, text, re.M))
    if not m:
        raise SystemExit("abi: no %s in %s" % (name, header))
    return int(m.group(1), 0)


def define(name):
    """An ABI constant by its C name (FLATRPC_TAG_LEN) or its Python one."""
    short = name[len("FLATRPC_"):] if name.startswith("FLATRPC_") else name
    if not hasattr(flatrpc_abi, short):
        raise SystemExit("abi: flatrpc_abi.py has no %s" % short)
    return getattr(flatrpc_abi, short)


def shell():
    """The integer constants and header offsets as FR_NAME=value lines,
    for the bash tests to eval."""
    for name in dir(flatrpc_abi):
        v = getattr(flatrpc_abi, name)
        if name.isupper() and isinstance(v, int) and not isinstance(v, bool):
            print("FR_%s=%d" % (name, v))
    for field, off in flatrpc_abi.HDR_OFF.items():
        print("FR_HDR_OFF_%s=%d" % (field.upper(), off))


if __name__ == "__main__":
    if sys.argv[1:] != ["--sh"]:
        raise SystemExit("usage: abi.py --sh")
    shell()
