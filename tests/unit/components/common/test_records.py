"""The shared record I/O (components/common/records.py): protobuf varints and fields,
TFRecord framing and reading, against what protobuf and TensorFlow write and read."""
import numpy as np
import pytest
import tensorflow as tf

from tfxkit.components.common import records as rec

needs_c = pytest.mark.skipif(rec.fastlog is None, reason="the C loops are not built")


@pytest.mark.parametrize("n", [1, 127, 128, 300, 16383, 16384, 2 ** 31, 2 ** 63 - 1,
                               -1, -2 ** 63])
def test_varint_is_protobufs(n):
    """An int64 field (tag 0x08) with this value, as protobuf serializes it (negatives
    as 64-bit two's complement: ten bytes)."""
    from tensorflow.core.framework import tensor_shape_pb2

    dim = tensor_shape_pb2.TensorShapeProto.Dim(size=n)
    assert b"\x08" + rec.varint(n) == dim.SerializeToString()
    assert rec.varint(0) == b"\x00"


def test_field_is_protobufs_length_delimited_field():
    ex = tf.train.Example()
    ex.features.feature["name"].bytes_list.value.append(b"v" * 200)  # a 2-byte length
    bl = rec.field(1, b"v" * 200)                      # BytesList.value
    feature = rec.field(1, bl)                         # Feature.bytes_list
    entry = rec.field(1, b"name") + rec.field(2, feature)
    assert rec.field(1, rec.field(1, entry)) == ex.SerializeToString()


def test_frame_records_is_what_tf_writes_and_parse_records_reverses_it(tmp_path):
    records = [b"", b"a", b"x" * 70000] + [b"r%d" % i for i in range(300)]
    path = tmp_path / "tf.tfrecord"
    write_tfrecords(path, records, gzip=False)
    framed = rec.frame_records(records)
    assert framed == path.read_bytes()
    got, pos = rec.parse_records(framed, 0, 10 ** 6)
    assert got == records and pos == len(framed)
    # a frame cut short is left for the next buffer, not an error
    got, pos = rec.parse_records(framed[:-1], 0, 10 ** 6)
    assert got == records[:-1] and pos == len(framed) - len(rec.frame_records(records[-1:]))
    assert list(rec.iter_records(str(path))) == records


@needs_c
def test_c_parse_records_equals_python(tmp_path):
    rng = np.random.default_rng(2)
    records = [rng.bytes(int(rng.integers(0, 500))) for _ in range(200)]
    framed = rec.frame_records(records)
    for start, limit in ((0, 10 ** 6), (0, 7), (len(rec.frame_records(records[:3])), 50)):
        assert rec.fastlog.parse_records(framed, start, limit) == \
            rec.parse_records(framed, start, limit)


def test_gzip_record_writer_is_read_by_tf_data(tmp_path):
    """TFRecord frames with masked crc32c, one gzip stream: tf.data checks the CRCs."""
    records = [b"", b"a", b"x" * 70000] + [b"r%d" % i for i in range(5000)]
    w = rec.GzipRecordWriter(str(tmp_path / "out.gz"))
    w.write_many(records[:3])
    w.write_many(records[3:])
    w.close()
    got = list(tf.data.TFRecordDataset(str(tmp_path / "out.gz"), compression_type="GZIP")
               .as_numpy_iterator())
    assert got == records
    bad = bytearray((tmp_path / "out.gz").read_bytes())
    import gzip
    raw = bytearray(gzip.decompress(bytes(bad)))
    raw[20] ^= 0xFF  # flip a data byte: the CRC no longer matches
    (tmp_path / "bad.tfrecord").write_bytes(bytes(raw))
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(str(tmp_path / "bad.tfrecord")).as_numpy_iterator())


@needs_c
def test_c_crc32c_is_castagnoli():
    import google_crc32c

    for data in (b"", b"a", b"123456789", bytes(range(256)) * 41):
        assert rec.fastlog.crc32c(data) == google_crc32c.value(data)


def write_tfrecords(path, records, gzip):
    with tf.io.TFRecordWriter(str(path), "GZIP" if gzip else None) as w:
        for r in records:
            w.write(r)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("gz", [True, False])
def test_read_batches_reads_what_tf_writes(tmp_path, native, gz):
    """Batches of exactly batch_size (the last one shorter), frames split across tiny read
    chunks, several files in order: the same records tf.data reads."""
    if native and rec.fastlog is None:
        pytest.skip("the C loops are not built")
    rng = np.random.default_rng(1)
    files = []
    for f in range(2):
        records = [rng.bytes(int(rng.integers(0, 300))) for _ in range(257)] + [b"x" * 70000]
        path = tmp_path / (f"part-{f}" + (".gz" if gz else ""))
        write_tfrecords(path, records, gz)
        files.append(str(path))
    want = [list(tf.data.TFRecordDataset(f, compression_type="GZIP" if gz else None)
                 .as_numpy_iterator()) for f in files]
    batches = list(rec.read_batches(files, 100, chunk=97, native=native))
    assert [len(b) for b in batches] == [100, 100, 58] * 2
    assert [r for b in batches for r in b] == want[0] + want[1]
    assert all(isinstance(b, list) for b in batches)


@pytest.mark.parametrize("native", [True, False])
def test_read_batches_rejects_corrupt_and_truncated_files(tmp_path, native):
    if native and rec.fastlog is None:
        pytest.skip("the C loops are not built")
    path = tmp_path / "data"
    write_tfrecords(path, [b"record-%d" % i for i in range(10)], gzip=False)
    raw = bytearray(path.read_bytes())
    bad = bytearray(raw)
    bad[14] ^= 0xFF  # a data byte of the first record
    (tmp_path / "bad").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="bad data checksum at byte 0"):
        list(rec.read_batches([str(tmp_path / "bad")], 4, native=native))
    (tmp_path / "short").write_bytes(bytes(raw[:-3]))
    with pytest.raises(ValueError, match="truncated TFRecord"):
        list(rec.read_batches([str(tmp_path / "short")], 4, native=native))
    import gzip
    (tmp_path / "short.gz").write_bytes(gzip.compress(bytes(raw))[:-20])
    with pytest.raises(ValueError, match="truncated"):
        list(rec.read_batches([str(tmp_path / "short.gz")], 4, native=native))


