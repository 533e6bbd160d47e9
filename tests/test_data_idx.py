"""read_idx / write_idx on IDX files written here byte by byte (independent of write_idx)."""

import gzip
import struct

import numpy as np
import pytest

from dlkit.data.idx import IDXFormatError, read_idx, write_idx

# (type code, big-endian struct format letter, numpy dtype, sample values)
TYPES = [
    (0x08, "B", np.uint8, [0, 1, 127, 128, 255, 7]),
    (0x09, "b", np.int8, [-128, -1, 0, 1, 127, 5]),
    (0x0B, "h", np.int16, [-32768, -2, 0, 300, 32767, 9]),
    (0x0C, "i", np.int32, [-(2**31), -70000, 0, 70000, 2**31 - 1, 3]),
    (0x0D, "f", np.float32, [-1.5, 0.0, 0.25, 3.0e38, 1.0e-30, 2.0]),
    (0x0E, "d", np.float64, [-1.5, 0.0, 1.0e-300, 1.0e300, np.pi, 2.0]),
]


def idx_bytes(type_code, fmt, dims, values):
    """An IDX file by the book: 0x0000, type code, ndim, big-endian dims, big-endian values."""
    header = struct.pack(">HBB", 0, type_code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    return header + struct.pack(f">{len(values)}{fmt}", *values)


def write(path, data, gz):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("type_code,fmt,dtype,values", TYPES, ids=[t[2].__name__ for t in TYPES])
def test_read_each_type_code(tmp_path, type_code, fmt, dtype, values, gz):
    path = write(tmp_path / "x.idx", idx_bytes(type_code, fmt, (2, 3), values), gz)
    x = read_idx(path)
    assert x.shape == (2, 3)
    assert x.dtype == np.dtype(dtype) and x.dtype.isnative
    np.testing.assert_array_equal(x, np.array(values, dtype=dtype).reshape(2, 3))
    assert x.flags.writeable and x.flags.c_contiguous


def test_gzip_is_recognized_by_content_not_name(tmp_path):
    data = idx_bytes(0x08, "B", (4,), [1, 2, 3, 4])
    raw_named_gz = write(tmp_path / "labels.gz", data, gz=False)
    gz_named_raw = write(tmp_path / "labels.idx", data, gz=True)
    np.testing.assert_array_equal(read_idx(raw_named_gz), [1, 2, 3, 4])
    np.testing.assert_array_equal(read_idx(gz_named_raw), [1, 2, 3, 4])


def test_mnist_like_three_dims(tmp_path):
    values = [i % 256 for i in range(2 * 28 * 28)]
    x = read_idx(write(tmp_path / "img.gz", idx_bytes(0x08, "B", (2, 28, 28), values), True))
    assert x.shape == (2, 28, 28)
    assert x[1, 0, 0] == (28 * 28) % 256 and x[0, 27, 27] == (28 * 28 - 1) % 256


@pytest.mark.parametrize(
    "magic",
    [b"\x01\x00\x08\x01", b"\x00\x00\x0a\x01", b"\x00\x00\x08\x00", b"\x1f\x00\x08\x01"],
    ids=["nonzero-first-bytes", "unknown-type-0x0a", "zero-dims", "junk"],
)
def test_bad_magic(tmp_path, magic):
    path = tmp_path / "bad.idx"
    path.write_bytes(magic + struct.pack(">I", 1) + b"\x05")
    with pytest.raises(IDXFormatError, match=r"bad IDX magic number 0x" + magic.hex()) as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_truncated_payload_says_so(tmp_path, gz):
    data = idx_bytes(0x0C, "i", (3, 2), [1, 2, 3, 4, 5, 6])[:-5]  # 24 payload bytes -> 19
    path = write(tmp_path / "t.idx", data, gz)
    with pytest.raises(IDXFormatError, match=r"truncated IDX payload.*24 bytes, only 19"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = write(tmp_path / "h.idx", struct.pack(">HBBI", 0, 0x08, 3, 10), gz=False)
    with pytest.raises(IDXFormatError, match=r"truncated IDX header: 3 dimensions need 12"):
        read_idx(path)


def test_too_short_for_magic(tmp_path):
    path = write(tmp_path / "e.idx", b"\x00\x00", gz=False)
    with pytest.raises(IDXFormatError, match="4-byte IDX magic number, the file has 2 bytes"):
        read_idx(path)


def test_payload_longer_than_header(tmp_path):
    path = write(tmp_path / "l.idx", idx_bytes(0x08, "B", (2,), [1, 2]) + b"\x03", gz=False)
    with pytest.raises(IDXFormatError, match="longer than the header says"):
        read_idx(path)


def test_cut_gzip_stream_is_an_idx_error(tmp_path):
    data = gzip.compress(idx_bytes(0x08, "B", (500,), [i % 256 for i in range(500)]))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IDXFormatError, match="damaged or truncated gzip stream"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


@pytest.mark.parametrize("type_code,fmt,dtype,values", TYPES, ids=[t[2].__name__ for t in TYPES])
def test_write_idx_produces_the_format_bytes(tmp_path, type_code, fmt, dtype, values):
    array = np.array(values, dtype=dtype).reshape(3, 2)
    write_idx(tmp_path / "w.idx", array)
    assert (tmp_path / "w.idx").read_bytes() == idx_bytes(type_code, fmt, (3, 2), values)
    write_idx(tmp_path / "w.idx.gz", array)
    assert gzip.decompress((tmp_path / "w.idx.gz").read_bytes()) == idx_bytes(
        type_code, fmt, (3, 2), values
    )


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex64])
def test_write_idx_rejects_types_idx_cannot_hold(tmp_path, dtype):
    with pytest.raises(TypeError, match=f"expected one of the IDX dtypes.*got {np.dtype(dtype)}"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=dtype))
