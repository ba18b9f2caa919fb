#!/usr/bin/env python3
"""The smallest useful siyu host in another language: Python over the C ABI.

    python3 examples/python/replay.py LIBSIYU RULES.siyu EVENTS.jsonl

LIBSIYU is the shared library (`cargo build --release --lib` makes
target/release/libsiyu.so). Reads the replay input (docs/host.md, the replay command) and prints every
action as one JSON line, exactly as the Rust `replay` example does.
"""
import ctypes
import json
import sys

SIYU_OK = 0


def load(path):
    lib = ctypes.CDLL(path)
    c_char_pp = ctypes.POINTER(ctypes.c_void_p)
    lib.siyu_version.restype = ctypes.c_char_p
    lib.siyu_compile.restype = ctypes.c_void_p
    lib.siyu_compile.argtypes = [ctypes.c_char_p, ctypes.c_size_t, c_char_pp]
    lib.siyu_engine_new.restype = ctypes.c_void_p
    lib.siyu_engine_new.argtypes = [ctypes.c_void_p]
    lib.siyu_engine_process.restype = ctypes.c_int
    lib.siyu_engine_process.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, c_char_pp, c_char_pp]
    lib.siyu_engine_advance.restype = ctypes.c_int
    lib.siyu_engine_advance.argtypes = [ctypes.c_void_p, ctypes.c_char_p, c_char_pp, c_char_pp]
    lib.siyu_engine_clock.restype = ctypes.c_void_p
    lib.siyu_engine_clock.argtypes = [ctypes.c_void_p]
    lib.siyu_string_free.argtypes = [ctypes.c_void_p]
    lib.siyu_engine_free.argtypes = [ctypes.c_void_p]
    lib.siyu_program_free.argtypes = [ctypes.c_void_p]
    return lib


def take(lib, ptr):
    """Copies a string siyu returned and frees it."""
    if not ptr:
        return None
    text = ctypes.string_at(ptr).decode("utf-8")
    lib.siyu_string_free(ptr)
    return text


class Engine:
    def __init__(self, lib, source):
        self.lib = lib
        err = ctypes.c_void_p()
        data = source.encode("utf-8")
        program = lib.siyu_compile(data, len(data), ctypes.byref(err))
        if not program:
            raise SystemExit(take(lib, err.value))
        self.engine = lib.siyu_engine_new(program)
        lib.siyu_program_free(program)  # the engine keeps it alive

    def _call(self, fn, *args):
        actions, err = ctypes.c_void_p(), ctypes.c_void_p()
        rc = fn(self.engine, *args, ctypes.byref(actions), ctypes.byref(err))
        if rc != SIYU_OK:
            raise ValueError(f"error {rc}: {take(self.lib, err.value)}")
        return json.loads(take(self.lib, actions.value))

    def process(self, line):
        data = line.encode("utf-8")
        return self._call(self.lib.siyu_engine_process, data, len(data))

    def advance(self, when):
        return self._call(self.lib.siyu_engine_advance, when.encode("utf-8"))

    def clock(self):
        return take(self.lib, self.lib.siyu_engine_clock(self.engine))

    def close(self):
        self.lib.siyu_engine_free(self.engine)


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    lib = load(argv[1])
    with open(argv[2], encoding="utf-8") as f:
        engine = Engine(lib, f.read())
    out = []
    with open(argv[3], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                if '"advance"' in line:
                    out += engine.advance(json.loads(line)["advance"])
                else:
                    out += engine.process(line)
            except (ValueError, KeyError) as e:
                print(f"{argv[3]}:{n}: {e}", file=sys.stderr)
    if engine.clock() is not None:
        out += engine.advance(engine.clock())
    engine.close()
    for action in out:
        print(json.dumps(action, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv)
