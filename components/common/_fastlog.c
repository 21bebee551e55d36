/* The per-record loops of the shared record I/O (components/common/records.py) and of
 * batch inference, in C: parsing TFRecord frames (with their CRC32C check) and encoding +
 * framing PredictionLogs. Everything that decides what the bytes are (the protobuf field
 * layout, tensor encodings) stays in Python (records.py, batch_inference/infer.py); these
 * two functions only repeat a fixed rule per record, and records.py / infer.py have the
 * same rules in Python (used when this module is not built; unit tests check both give
 * identical bytes).
 *
 *   parse_records(buf, pos, max_records) -> (records, next_pos)
 *   frame_logs(examples, per_output, spec, in_key, in_prefix, resp_spec) -> bytes
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- CRC32C (Castagnoli): SSE4.2 instruction when the CPU has it, else a table ---- */
static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= crc;  /* little-endian hosts */
        crc = crc_table[7][v & 0xFF] ^ crc_table[6][(v >> 8) & 0xFF] ^
              crc_table[5][(v >> 16) & 0xFF] ^ crc_table[4][(v >> 24) & 0xFF] ^
              crc_table[3][(v >> 32) & 0xFF] ^ crc_table[2][(v >> 40) & 0xFF] ^
              crc_table[1][(v >> 48) & 0xFF] ^ crc_table[0][v >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
                                                        size_t n) {
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}
static int have_hw = 0;
#define CRC(c, p, n) (have_hw ? crc_hw((c), (p), (n)) : crc_sw((c), (p), (n)))
#else
#define CRC(c, p, n) crc_sw((c), (p), (n))
#endif

static inline uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }

static inline void put_le32(unsigned char *p, uint32_t v) {
    p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}
static inline void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t get_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline size_t varint_len(uint64_t n) {
    size_t k = 1;
    while (n > 0x7F) { n >>= 7; k++; }
    return k;
}
static inline unsigned char *put_varint(unsigned char *p, uint64_t n) {
    while (n > 0x7F) { *p++ = (unsigned char)((n & 0x7F) | 0x80); n >>= 7; }
    *p++ = (unsigned char)n;
    return p;
}

/* parse_records(buf, pos, max_records): the data of whole TFRecord frames in buf from pos,
 * at most max_records, each checked against its masked CRC32C. Returns (list, next_pos);
 * next_pos points at the first frame that is not complete in buf. */
static PyObject *parse_records(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, max_records;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &pos, &max_records)) return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t end = view.len;
    PyObject *out = PyList_New(0);
    if (!out) goto fail;
    while (PyList_GET_SIZE(out) < max_records && pos + 12 <= end) {
        uint64_t n = get_le64(buf + pos);
        if (masked(CRC(0, buf + pos, 8)) != get_le32(buf + pos + 8)) {
            PyErr_Format(PyExc_ValueError, "corrupt TFRecord: bad length checksum at byte %zd",
                         pos);
            goto fail;
        }
        if (end - pos < 16 || n > (uint64_t)(end - pos - 16))
            break; /* incomplete: the caller reads more */
        const unsigned char *data = buf + pos + 12;
        if (masked(CRC(0, data, n)) != get_le32(data + n)) {
            PyErr_Format(PyExc_ValueError, "corrupt TFRecord: bad data checksum at byte %zd",
                         pos);
            goto fail;
        }
        PyObject *rec = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)n);
        if (!rec || PyList_Append(out, rec) < 0) { Py_XDECREF(rec); goto fail; }
        Py_DECREF(rec);
        pos += 16 + (Py_ssize_t)n;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(Nn)", out, pos);
fail:
    PyBuffer_Release(&view);
    Py_XDECREF(out);
    return NULL;
}

/* frame_logs(examples, per_output, spec, in_key, in_prefix, resp_spec): the TFRecord
 * frames of one PredictionLog per example, as infer.encode_predict_logs builds them:
 *   PredictionLog{predict_log(6): PredictLog{
 *     request(1): spec + inputs entry(2){in_key, value(2): in_prefix + len(ex) + ex},
 *     response(2): the example's output entries (per_output[j][i], in order) + resp_spec}}
 */
static PyObject *frame_logs(PyObject *self, PyObject *args) {
    PyObject *examples, *per_output;
    Py_buffer spec, in_key, in_prefix, resp_spec;
    if (!PyArg_ParseTuple(args, "O!O!y*y*y*y*", &PyList_Type, &examples, &PyList_Type,
                          &per_output, &spec, &in_key, &in_prefix, &resp_spec))
        return NULL;
    PyObject *result = NULL;
    const char **ptr = NULL;
    size_t *len = NULL;
    Py_ssize_t n = PyList_GET_SIZE(examples), k = PyList_GET_SIZE(per_output);
    size_t total = 0;
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *col = PyList_GET_ITEM(per_output, j);
        if (!PyList_Check(col) || PyList_GET_SIZE(col) != n) {
            PyErr_SetString(PyExc_ValueError, "per_output: one list per output, one entry "
                                              "per example");
            goto free_arrays;
        }
    }
    /* pass 1 (with the GIL): each piece's address and size, and the total */
    Py_ssize_t stride = k + 1;
    ptr = PyMem_Malloc(sizeof(char *) * (size_t)(n * stride + 1));
    len = PyMem_Malloc(sizeof(size_t) * (size_t)(n * stride + 1));
    if (!ptr || !len) { PyErr_NoMemory(); goto free_arrays; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ex = PyList_GET_ITEM(examples, i);
        if (!PyBytes_Check(ex)) { PyErr_SetString(PyExc_TypeError, "examples: bytes"); goto free_arrays; }
        ptr[i * stride] = PyBytes_AS_STRING(ex);
        len[i * stride] = (size_t)PyBytes_GET_SIZE(ex);
        size_t ex_len = len[i * stride], resp_len = (size_t)resp_spec.len;
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *e = PyList_GET_ITEM(PyList_GET_ITEM(per_output, j), i);
            if (!PyBytes_Check(e)) { PyErr_SetString(PyExc_TypeError, "outputs: bytes"); goto free_arrays; }
            ptr[i * stride + 1 + j] = PyBytes_AS_STRING(e);
            len[i * stride + 1 + j] = (size_t)PyBytes_GET_SIZE(e);
            resp_len += len[i * stride + 1 + j];
        }
        size_t tp_len = in_prefix.len + varint_len(ex_len) + ex_len;
        size_t entry_len = in_key.len + 1 + varint_len(tp_len) + tp_len;
        size_t request_len = spec.len + 1 + varint_len(entry_len) + entry_len;
        size_t predict_len = 1 + varint_len(request_len) + request_len +
                             1 + varint_len(resp_len) + resp_len;
        size_t log_len = 1 + varint_len(predict_len) + predict_len;
        total += 16 + log_len;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (!result) goto free_arrays;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(result);
    /* pass 2 (without the GIL: the lists hold the pieces alive, nothing else sees result) */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t ex_len = len[i * stride], resp_len = (size_t)resp_spec.len;
        for (Py_ssize_t j = 0; j < k; j++) resp_len += len[i * stride + 1 + j];
        size_t tp_len = in_prefix.len + varint_len(ex_len) + ex_len;
        size_t entry_len = in_key.len + 1 + varint_len(tp_len) + tp_len;
        size_t request_len = spec.len + 1 + varint_len(entry_len) + entry_len;
        size_t predict_len = 1 + varint_len(request_len) + request_len +
                             1 + varint_len(resp_len) + resp_len;
        size_t log_len = 1 + varint_len(predict_len) + predict_len;
        put_le64(p, log_len);
        put_le32(p + 8, masked(CRC(0, p, 8)));
        p += 12;
        unsigned char *log = p;
        *p++ = 0x32; p = put_varint(p, predict_len);
        *p++ = 0x0a; p = put_varint(p, request_len);
        memcpy(p, spec.buf, spec.len); p += spec.len;
        *p++ = 0x12; p = put_varint(p, entry_len);
        memcpy(p, in_key.buf, in_key.len); p += in_key.len;
        *p++ = 0x12; p = put_varint(p, tp_len);
        memcpy(p, in_prefix.buf, in_prefix.len); p += in_prefix.len;
        p = put_varint(p, ex_len);
        memcpy(p, ptr[i * stride], ex_len); p += ex_len;
        *p++ = 0x12; p = put_varint(p, resp_len);
        for (Py_ssize_t j = 0; j < k; j++) {
            memcpy(p, ptr[i * stride + 1 + j], len[i * stride + 1 + j]);
            p += len[i * stride + 1 + j];
        }
        memcpy(p, resp_spec.buf, resp_spec.len); p += resp_spec.len;
        put_le32(p, masked(CRC(0, log, log_len)));
        p += 4;
    }
    Py_END_ALLOW_THREADS
free_arrays:
    PyMem_Free(ptr);
    PyMem_Free(len);
    PyBuffer_Release(&spec);
    PyBuffer_Release(&in_key);
    PyBuffer_Release(&in_prefix);
    PyBuffer_Release(&resp_spec);
    return result;
}

static PyObject *crc32c_py(PyObject *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    uint32_t c = CRC(0, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(c);
}

static PyMethodDef methods[] = {
    {"parse_records", parse_records, METH_VARARGS, "Whole TFRecord frames of a buffer."},
    {"frame_logs", frame_logs, METH_VARARGS, "PredictionLog TFRecord frames."},
    {"crc32c", crc32c_py, METH_VARARGS, "CRC32C of a buffer (for tests)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastlog", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastlog(void) {
    crc_init();
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
    return PyModule_Create(&module);
}
