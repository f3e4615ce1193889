"""NumPy arrays and dtypes as `paddle.save` pickles them, rebuilt from their pickled fields, never by NumPy's own
`__reduce__`/`__setstate__`: the reader reads the type code, shape and bytes, checks them, and makes the array.

An array pickles as `_reconstruct(ndarray, (0,), b"b")` then BUILD with `(1, shape, dtype, is_fortran, data)`;
a dtype as `dtype(code, False, True)` then BUILD with `(3, byte_order, None, None, None, -1, -1, 0)`;
a NumPy scalar as `scalar(dtype, data)` (numpy/_core/src/multiarray/descriptor.c, arraytypes `__reduce__`).
"""

import math

import numpy as np

# the element types of Paddle tensors (bfloat16 is saved as uint16), by NumPy's pickled type code; not uint32/64,
# which paddle.to_tensor refuses with a ValueError (Paddle 3.3)
DTYPE_CODES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "f2", "f4", "f8", "c8", "c16")
DTYPE_STATE_TAIL = (None, None, None, -1, -1, 0)  # no subarray, fields, size, alignment or flags: a plain number
MAX_DIMS = 32  # NumPy 1.x's limit; Paddle tensors have at most 9


class Refused(Exception):
    """What the file asked for that a weights file never holds, as one phrase ("numpy.dtype('<U2')")."""


class DTypeStub:
    """`numpy.dtype(code)` as pickled, waiting for its BUILD to give the byte order."""

    __slots__ = ("code", "dtype")

    def __init__(self, code):
        self.code, self.dtype = code, None


class ArrayStub:
    """`_reconstruct(ndarray, (0,), b"b")`: an array waiting for its BUILD; `memo_keys`: where the file memoized it."""

    __slots__ = ("memo_keys",)

    def __init__(self):
        self.memo_keys = []


def is_flag(value, flag):
    """`value` is the bool `flag` (or 0/1: older NumPy pickled ints)."""
    return type(value) in (bool, int) and value == flag


def same(values, expected):
    """`values` is the tuple `expected`, item by item of the same type (an array's `==` never gets asked)."""
    return (
        type(values) is tuple
        and len(values) == len(expected)
        and all(type(v) is type(e) and v == e for v, e in zip(values, expected))
    )


def shown(value):
    """`value` in a refusal: short text as such, anything else by its type (the repr of a file's shared lists
    would take time exponential in the file's size)."""
    return repr(value) if type(value) is str and len(value) < 40 else f"a {type(value).__name__}"


def new_dtype(args):
    """The REDUCE of `numpy.dtype`: only a numeric or bool type code, as NumPy pickles it."""
    code = args[0] if len(args) == 3 else None
    if type(code) is not str or code not in DTYPE_CODES or not (is_flag(args[1], False) and is_flag(args[2], True)):
        raise Refused(f"numpy.dtype({shown(code)})")
    return DTypeStub(code)


def set_dtype_state(stub, state):
    """The BUILD of a dtype: only NumPy's state of a plain number type, read for its byte order."""
    if type(state) is not tuple or len(state) != 8 or not same(state[:1] + state[2:], (3, *DTYPE_STATE_TAIL)):
        raise Refused(f"numpy.dtype({stub.code!r}) with a state other than a plain number's")
    single = stub.code in ("b1", "i1", "u1")
    if type(state[1]) is not str or not (state[1] == "|" if single else state[1] in ("<", ">")):
        raise Refused(f"numpy.dtype({stub.code!r}) with byte order {shown(state[1])}")
    stub.dtype = np.dtype(state[1].replace("|", "") + stub.code)


def built_dtype(value):
    if type(value) is not DTypeStub or value.dtype is None:
        raise Refused("an array or scalar whose dtype is not a built numpy.dtype")
    return value.dtype


def new_array(args, ndarray_global):
    """The REDUCE of `_reconstruct`: exactly what `ndarray.__reduce__` writes, an empty array to BUILD."""
    code = args[2] if len(args) == 3 and type(args[2]) in (bytes, bytearray) else None  # protocol 2: a bytearray
    if code != b"b" or args[0] is not ndarray_global or not same(args[1], (0,)):
        raise Refused("numpy._core.multiarray._reconstruct of anything but (ndarray, (0,), b'b')")
    return ArrayStub()


def array_from_state(state, read_data):
    """The BUILD of an array: (1, shape, dtype, is_fortran, data) with data the exact byte count of shape and dtype.

    `read_data(data, count, dtype)` gives the flat array of `count` items from `data` (bytes of their exact
    length, checked there before anything is allocated).
    """
    if (
        type(state) is not tuple
        or len(state) != 5
        or not same(state[:1], (1,))
        or not (is_flag(state[3], 0) or is_flag(state[3], 1))
    ):
        raise Refused("a numpy array state other than (1, shape, dtype, is_fortran, data)")
    _, shape, dtype, fortran, data = state
    dtype = built_dtype(dtype)
    if type(shape) is not tuple or len(shape) > MAX_DIMS or any(type(d) is not int or d < 0 for d in shape):
        raise Refused("a numpy array shape other than a tuple of sizes")
    flat = read_data(data, math.prod(shape), dtype)
    if not dtype.isnative:  # NumPy's own unpickling swaps to the native byte order
        flat = flat.astype(dtype.newbyteorder("="))
    return flat.reshape(shape, order="F" if fortran else "C")


def new_scalar(args):
    """The REDUCE of `numpy.core.multiarray.scalar`: (dtype, data) with data one item's bytes."""
    dtype = built_dtype(args[0] if len(args) == 2 else None)
    if type(args[1]) not in (bytes, bytearray) or len(args[1]) != dtype.itemsize:
        raise Refused(f"a numpy {dtype} scalar from anything but its {dtype.itemsize} bytes")
    return np.frombuffer(args[1], dtype, count=1)[0]
