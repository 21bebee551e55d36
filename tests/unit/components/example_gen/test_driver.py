"""ArrowExampleGen's driver (``example_gen/driver.py``): the input fingerprint is the
content, not the size and mtime."""
import os


def test_driver_fingerprint_is_content(tmp_path):
    from tfx.proto import example_gen_pb2

    from tfxkit.components.example_gen.driver import ContentFingerprintProcessor

    f = tmp_path / "d.csv"
    f.write_text("id,x\n1,5\n")
    st = os.stat(f)

    def fp():
        p = ContentFingerprintProcessor(str(tmp_path), [example_gen_pb2.Input.Split(
            name="all", pattern="d.csv")])
        span, version = p.resolve_span_and_version()
        return p.get_input_fingerprint(span, version)

    first = fp()
    assert fp() == first  # nothing changed: same fingerprint (the cache hits)
    f.write_text("id,x\n1,6\n")
    os.utime(f, (st.st_atime, st.st_mtime))
    assert fp() != first  # same size, same mtime, new content: a new fingerprint
