"""A restricted interpreter of the pickles `paddle.save` writes (protocols 2-4), not Python's own unpickler.

It knows only the opcodes those files use; a global is a name it interprets itself (an array, a dtype, a
tensor's (name, array) tuple), never a function it looks up and calls, and BUILD applies only to the arrays
and dtypes it is rebuilding. Memory follows the file: memo indices are bounded by the objects seen, bytes
are read only after their length is checked against the file, and the arrays made hold at most the
file's own bytes (twice for protocol 2, whose arrays are latin-1 text encoded to bytes).
"""

import _compat_pickle
import os
import pickletools
import struct

import numpy as np

from paddle_attn.checkpoint.pickled_arrays import (
    ArrayStub,
    DTypeStub,
    Refused,
    array_from_state,
    new_array,
    new_dtype,
    new_scalar,
    set_dtype_state,
)

MAX_OBJECTS = 1 << 24  # values pushed: paddle.save writes ~15 per tensor, so ~1 million tensors
LAZY_BYTES = 1 << 16  # bytes this long stay in the file until their array is made (read once, into the array)
SPARE_BYTES = 1 << 20  # what small values and scalars may add to the file's own size
CONTAINER_BYTES = 64  # what an empty dict or list costs CPython, paid from the same budget (one opcode byte each)


class Corrupt(Exception):
    """The file ends early or is not a pickle."""


class Global:
    """An allowed global by name: the interpreter acts on it in REDUCE, nothing of it is ever called."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


RECONSTRUCT, SCALAR, NDARRAY, DTYPE, ENCODE, TENSOR, BYTES, ORDERED_DICT = (
    Global(name)
    for name in (
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.ndarray",
        "numpy.dtype",
        "_codecs.encode",
        "builtins.tuple",
        "builtins.bytes",
        "collections.OrderedDict",
    )
)
ALLOWED = {
    ("numpy._core.multiarray", "_reconstruct"): RECONSTRUCT,
    ("numpy.core.multiarray", "_reconstruct"): RECONSTRUCT,  # NumPy 1.x's module
    ("numpy._core.multiarray", "scalar"): SCALAR,
    ("numpy.core.multiarray", "scalar"): SCALAR,
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): DTYPE,
    ("_codecs", "encode"): ENCODE,  # protocol 2 writes bytes as _codecs.encode(text, "latin1")
    ("builtins", "tuple"): TENSOR,  # paddle.save writes a tensor below the top level as tuple(((name, array),))
    ("builtins", "bytes"): BYTES,  # protocol 2 writes b"" (an empty array's data) as bytes()
    ("collections", "OrderedDict"): ORDERED_DICT,
}


class LazyBytes:
    """Bytes left in the file at `offset` until one array reads them."""

    __slots__ = ("offset", "length", "read")

    def __init__(self, offset, length):
        self.offset, self.length, self.read = offset, length, False

    def __len__(self):
        return self.length


def describe(value):
    """What `value` is, for a refusal: a global's or stub's name, else its type."""
    if type(value) is Global:
        return value.name
    names = {DTypeStub: "numpy.dtype", ArrayStub: "numpy array without its data", LazyBytes: "bytes"}
    return names.get(type(value), type(value).__name__)


class Machine:
    """One read of one file: the pickle stack, marks and memo, and the bytes the arrays made so far may still take."""

    def __init__(self, file):
        self.file, self.size = file, os.fstat(file.fileno()).st_size
        self.stack, self.marks, self.memo = [], [], {}
        self.seen, self.budget, self.result = 0, 2 * self.size + SPARE_BYTES, None

    def run(self):
        if self.file.read(1) != b"\x80":
            raise Corrupt("not a pickle of protocol 2 or later")
        protocol = self.take(1)[0]
        if not 2 <= protocol <= 4:
            raise Refused(f"pickle protocol {protocol}")
        while self.result is None:
            code = self.take(1)[0]
            op = OPS.get(code)
            if op is None:
                if chr(code) not in pickletools.code2op:
                    raise Corrupt(f"byte {code:#04x} is not a pickle opcode")
                raise Refused(f"pickle opcode {pickletools.code2op[chr(code)].name}")
            op(self)
        return self.result

    # reading the file
    def take(self, n):
        data = self.file.read(n)
        if len(data) != n:
            raise Corrupt(f"the file ends inside a value of {n} bytes")
        return data

    def length(self, fmt):
        n = struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if n > self.size - self.file.tell():
            raise Corrupt(f"a value of {n} bytes where {self.size - self.file.tell()} remain")
        return n

    def spend(self, n, what="arrays"):
        self.budget -= n
        if self.budget < 0:
            raise Refused(f"{what} larger than the file's own data")

    def new_container(self, empty):
        """`empty` ({} or []) pushed: paddle.save writes a few, a file of `}` bytes would make 64 bytes of each."""
        self.spend(CONTAINER_BYTES, "dicts and lists")
        self.push(empty)

    def read_array(self, data, count, dtype):
        """The flat array of `count` items of `dtype` from `data`, allocated after its length and type are checked."""
        if type(data) not in (bytes, bytearray, LazyBytes):
            raise Refused(f"a numpy array from {describe(data)}")
        if count * dtype.itemsize != len(data):  # checked before anything is allocated
            raise Refused(f"a {dtype} array of {count} items from {len(data)} bytes")
        self.spend(count * dtype.itemsize)
        if type(data) is bytearray:  # protocol 2's encoded text, made for this array
            return np.frombuffer(data, dtype, count)
        if type(data) is bytes:
            return np.frombuffer(data, dtype, count).copy()
        if data.read:
            raise Refused("one array's data used twice")
        data.read, array, back = True, np.empty(count, dtype), self.file.tell()
        self.file.seek(data.offset)
        if self.file.readinto(array.view(np.uint8)) != data.length:
            raise Corrupt("the file ends inside an array")
        self.file.seek(back)
        return array

    # the stack and the memo
    def push(self, value):
        self.seen += 1
        if self.seen > MAX_OBJECTS:
            raise Refused(f"more than {MAX_OBJECTS} values")
        self.stack.append(value)

    def pop(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise Corrupt("an opcode without its operands")
        return self.stack.pop()

    def pop_mark(self):
        if not self.marks:
            raise Corrupt("an opcode without its MARK")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def put(self, key):
        if key > self.seen:  # pickle numbers memo entries in order: never beyond the objects seen
            raise Refused(f"memo index {key} after {self.seen} values")
        value = self.pop()
        self.stack.append(value)
        if type(value) is ArrayStub:
            value.memo_keys.append(key)
        self.memo[key] = value

    def get(self, key):
        if key not in self.memo:
            raise Corrupt(f"memo index {key} read before it is written")
        self.push(self.memo[key])

    # opcodes
    def frame(self):
        self.length("<Q")  # a buffering hint: the frame's opcodes follow

    def stop(self):
        if len(self.stack) != 1 or self.marks:
            raise Corrupt("STOP with other than one value on the stack")
        self.result = (self.stack[0],)  # a 1-tuple: the pickled value itself may be None

    def mark(self):
        self.marks.append(len(self.stack))

    def tuple_n(self, n):
        items = [self.pop() for _ in range(n)][::-1]
        self.push(tuple(items))

    def appends(self, items):
        target = self.pop()
        if type(target) is not list:
            raise Refused(f"APPEND to {describe(target)}")
        target.extend(items)
        self.stack.append(target)

    def setitems(self, items):
        target = self.pop()
        if type(target) is not dict or len(items) % 2:
            raise Refused(f"SETITEM on {describe(target)}")
        for key in items[::2]:
            if type(key) is not str:
                raise Refused(f"a {describe(key)} key")
        target.update(zip(items[::2], items[1::2]))
        self.stack.append(target)

    def long1(self):
        n = self.take(1)[0]
        if n > 8:
            raise Refused(f"an integer of {n} bytes")
        self.push(int.from_bytes(self.take(n), "little", signed=True))

    def text(self, fmt):
        try:
            self.push(str(self.take(self.length(fmt)), "utf-8", "surrogatepass"))
        except UnicodeDecodeError as err:
            raise Corrupt(f"text that is not UTF-8 ({err.reason})") from None

    def data(self, fmt):
        n = self.length(fmt)
        if n < LAZY_BYTES:
            self.push(self.take(n))
        else:
            self.push(LazyBytes(self.file.tell(), n))
            self.file.seek(n, os.SEEK_CUR)

    def global_(self, module, name):
        if type(module) is not str or type(name) is not str:
            raise Refused("a global named by anything but text")
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))  # protocol 2: Python 2 names
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) not in ALLOWED:
            raise Refused(f"{module}.{name}"[:200])
        self.push(ALLOWED[(module, name)])

    def global_line(self):
        module, name = (self.file.readline(256).decode("utf-8", "replace") for _ in range(2))
        if not (module.endswith("\n") and name.endswith("\n")):
            raise Corrupt("GLOBAL without its two lines")
        self.global_(module[:-1], name[:-1])

    def reduce(self):
        args, func = self.pop(), self.pop()
        if type(args) is not tuple or type(func) is not Global:
            raise Refused(f"a call of {describe(func)}")
        self.push(self.call(func, args))

    def call(self, func, args):
        if func is RECONSTRUCT:
            return new_array(args, NDARRAY)
        if func is DTYPE:
            return new_dtype(args)
        if func is SCALAR:
            return new_scalar(args)
        if func is ENCODE and len(args) == 2 and type(args[0]) is str and type(args[1]) is str:
            if args[1] not in ("latin1", "latin-1"):
                raise Refused(f"_codecs.encode with {args[1][:20]!r}")
            self.spend(len(args[0]))
            return bytearray(args[0], "latin1")  # its own writable buffer: an array takes it without a copy
        if func is TENSOR and len(args) == 1 and type(args[0]) is tuple and len(args[0]) == 2:
            name, array = args[0]
            if type(name) is str and type(array) is np.ndarray:
                return array
        if func is BYTES and args == ():
            return b""
        if func is ORDERED_DICT and args == ():
            self.spend(CONTAINER_BYTES, "dicts and lists")
            return {}
        raise Refused(f"{func.name} of ({', '.join(describe(arg) for arg in args[:4])})")

    def build(self):
        state, target = self.pop(), self.pop()
        if type(target) is DTypeStub and target.dtype is None:
            set_dtype_state(target, state)
        elif type(target) is ArrayStub:
            array = array_from_state(state, self.read_array)
            for key in target.memo_keys:  # the file refers to the built array by the stub's memo entries
                self.memo[key] = array
            target = array
        else:
            raise Refused(f"BUILD on {describe(target)}")
        self.stack.append(target)


def _unpack(fmt):
    size = struct.calcsize(fmt)
    return lambda m: struct.unpack(fmt, m.take(size))[0]


_u1, _u2, _i4, _u4, _f8 = (_unpack(f) for f in ("<B", "<H", "<i", "<I", ">d"))
OPS = {
    ord(code): op
    for code, op in {
        b"\x95": Machine.frame,
        b".": Machine.stop,
        b"(": Machine.mark,
        b"}": lambda m: m.new_container({}),
        b"]": lambda m: m.new_container([]),
        b")": lambda m: m.push(()),
        b"t": lambda m: m.push(tuple(m.pop_mark())),
        b"\x85": lambda m: m.tuple_n(1),
        b"\x86": lambda m: m.tuple_n(2),
        b"\x87": lambda m: m.tuple_n(3),
        b"a": lambda m: m.appends([m.pop()]),
        b"e": lambda m: m.appends(m.pop_mark()),
        b"s": lambda m: m.setitems([*reversed([m.pop(), m.pop()])]),
        b"u": lambda m: m.setitems(m.pop_mark()),
        b"J": lambda m: m.push(_i4(m)),
        b"K": lambda m: m.push(_u1(m)),
        b"M": lambda m: m.push(_u2(m)),
        b"\x8a": Machine.long1,
        b"G": lambda m: m.push(_f8(m)),
        b"N": lambda m: m.push(None),
        b"\x88": lambda m: m.push(True),
        b"\x89": lambda m: m.push(False),
        b"X": lambda m: m.text("<I"),
        b"\x8c": lambda m: m.text("<B"),
        b"B": lambda m: m.data("<I"),
        b"C": lambda m: m.data("<B"),
        b"\x8e": lambda m: m.data("<Q"),
        b"c": Machine.global_line,
        b"\x93": lambda m: m.global_(*reversed([m.pop(), m.pop()])),
        b"R": Machine.reduce,
        b"b": Machine.build,
        b"q": lambda m: m.put(_u1(m)),
        b"r": lambda m: m.put(_u4(m)),
        b"\x94": lambda m: m.put(len(m.memo)),
        b"h": lambda m: m.get(_u1(m)),
        b"j": lambda m: m.get(_u4(m)),
    }.items()
}


def interpret(file):
    """The value pickled in `file` (opened "rb"): arrays, numbers, text, None, dicts, lists and tuples (as yet unchecked
    for sharing and depth: see `safe_pickle`). Raises Refused naming what is not allowed, Corrupt."""
    return Machine(file).run()[0]
