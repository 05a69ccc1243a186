#!/usr/bin/env python3
"""Writes the seed corpora under Tests/Fuzz/corpus/: small valid and near-valid inputs per target.

Run from anywhere: python3 Tests/Fuzz/make_corpus.py. The output is committed; rerunning it is only
needed when the seeds below change.
"""
import io
import json
import pathlib
import struct
import zipfile

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def crlf(text):
    return text.replace("\n", "\r\n").encode("latin-1")


# http_request: one control byte (slice plan and limits, see FuzzHTTPRequest.swift), then the stream.
HTTP = {
    "get": "GET /healthz HTTP/1.1\nHost: localhost\n\n",
    "get_query": "GET /v1/models?verbose=1&x=a%20b HTTP/1.1\nHost: a\nAccept: */*\nUser-Agent: curl/8\n\n",
    "http10_keepalive": "GET / HTTP/1.0\nConnection: keep-alive\n\n",
    "close": "GET / HTTP/1.1\nHost: a\nConnection: close\n\n",
    "post_length": "POST /v1/score HTTP/1.1\nHost: a\nContent-Type: application/json\nContent-Length: 16\n\n"
                   '{"threshold":.5}',
    "chunked": "POST /v1/score HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n"
               "5\nhello\n6;ext=1\n world\n0\n\n",
    "chunked_trailer": "POST /u HTTP/1.1\nHost: a\nTransfer-Encoding: gzip, chunked\n\n"
                       "a\n0123456789\n0\nX-Checksum: 1\n\n",
    "pipelined": "GET /a HTTP/1.1\nHost: h\n\nPOST /b HTTP/1.1\nHost: h\nContent-Length: 2\n\nok"
                 "GET /c HTTP/1.1\nHost: h\nConnection: close\n\n",
    "continue": "POST /v1/score HTTP/1.1\nHost: a\nExpect: 100-continue\nContent-Length: 4\n\nabcd",
    "leading_crlf": "\n\nOPTIONS /x HTTP/1.1\nHost: a\n\n",
    "both_framings": "POST / HTTP/1.1\nHost: a\nContent-Length: 3\nTransfer-Encoding: chunked\n\n0\n\n",
    "two_lengths": "POST / HTTP/1.1\nHost: a\nContent-Length: 1\nContent-Length: 1\n\nx",
    "no_host": "GET / HTTP/1.1\n\n",
    "folding": "GET / HTTP/1.1\nHost: a\nX: 1\n  2\n\n",
    "bad_chunk": "POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\nfffffffffffffffff\n",
    "partial_body": "PUT /p HTTP/1.1\nHost: a\nContent-Length: 100\n\nonly a part",
}
for i, (name, text) in enumerate(sorted(HTTP.items())):
    control = bytes([(i * 37) & 0x7F])  # varied slice plans, both limit sets
    write("http_request", name, control + crlf(text))
write("http_request", "bare_lf", b"\x00GET / HTTP/1.1\nHost: a\n\n")
write("http_request", "latin1_value", b"\x45GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\n\r\n")

# multipart: a first line with the Content-Type then the body, or a body alone (starting with '-')
# under the fixed Content-Type "multipart/form-data; boundary=XyZ-123".
JPEG_BYTES = b"\xff\xd8\xff\xe0\r\n--\x00\xff\xd9"
FORM = crlf('--XyZ-123\nContent-Disposition: form-data; name="threshold"\n\n0.5\n'
            '--XyZ-123\nContent-Disposition: form-data; name="image"; filename="a \\"b\\".jpg"\n'
            "Content-Type: image/jpeg\n\n") + JPEG_BYTES + crlf("\n--XyZ-123--\nepilogue")
write("multipart", "fixed_two_parts", FORM)
write("multipart", "fixed_empty", crlf("--XyZ-123--\n"))
write("multipart", "fixed_no_headers", crlf("--XyZ-123\n\nbare\n--XyZ-123--"))
write("multipart", "fixed_unterminated", crlf('--XyZ-123\nContent-Disposition: form-data; name="a"\n\nno end'))
write("multipart", "fixed_padded_boundary", crlf('--XyZ-123  \t\nContent-Disposition: form-data; name=a\n\n1\n--XyZ-123--'))
write("multipart", "quoted_boundary",
      b'multipart/form-data; boundary="a b:c"\n'
      + crlf('preamble\n--a b:c\nContent-Disposition: form-data; name="f"; filename=x.jpg\n\n')
      + JPEG_BYTES + crlf("\n--a b:c--"))
write("multipart", "uppercase_type",
      b"Multipart/Form-Data ; Boundary=q ; charset=utf-8\n"
      + crlf("--q\nContent-Disposition: FORM-DATA; name=x\nX-Extra:  spaced  \n\nv\n--q--\n"))
write("multipart", "five_parts",
      b"multipart/form-data; boundary=b\n"
      + crlf("".join(f"--b\nContent-Disposition: form-data; name=p{i}\n\n{i}\n" for i in range(5)) + "--b--"))
write("multipart", "not_multipart", b"application/json; boundary=b\n--b--")
write("multipart", "repeated_parameter", b"multipart/form-data; boundary=a; boundary=b\n--a--")
write("multipart", "folded_header",
      b"multipart/form-data; boundary=b\n" + crlf("--b\nContent-Disposition: form-data;\n name=x\n\n1\n--b--"))


# safetensors: 8-byte little-endian header length, JSON header, payload.
def safetensors(header, payload, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + payload


f32 = struct.pack("<6f", 0.5, -1.0, 2.0, 3.25, 0.0, 1e-3)
write("safetensors", "one_f32", safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, f32))
write("safetensors", "mixed", safetensors({
    "__metadata__": {"format": "pt", "source": "dfgaze-demo"},
    "conv.weight": {"dtype": "F32", "shape": [1, 1, 2, 2], "data_offsets": [0, 16]},
    "ids": {"dtype": "U8", "shape": [3], "data_offsets": [16, 19]},
    "steps": {"dtype": "I64", "shape": [], "data_offsets": [19, 27]},
    "scale": {"dtype": "F64", "shape": [1], "data_offsets": [27, 35]},
}, f32[:16] + b"\x01\x02\x03" + struct.pack("<q", 7) + struct.pack("<d", 0.25)))
write("safetensors", "empty_tensor", safetensors({"e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]}}, b""))
write("safetensors", "empty_header", safetensors({}, b""))
write("safetensors", "overlap", safetensors({
    "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
    "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, bytes(6)))
write("safetensors", "size_mismatch", safetensors({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, f32[:4]))
write("safetensors", "past_end", safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32[:8]))
write("safetensors", "bf16", safetensors({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)))
write("safetensors", "huge_shape", safetensors({"w": {"dtype": "F32", "shape": [2147483648, 2147483648, 4],
                                                       "data_offsets": [0, 0]}}, b""))
write("safetensors", "float_dims", safetensors({"w": {"dtype": "U8", "shape": [1.5, 2e300],
                                                       "data_offsets": [0, -1]}}, b""))
write("safetensors", "bad_metadata", safetensors({"__metadata__": {"n": 1}}, b""))
write("safetensors", "header_too_long", struct.pack("<Q", 1 << 40) + b"{}")
write("safetensors", "not_json", struct.pack("<Q", 4) + b"{no}")

# jpeg: the fixture frames, the Imaging tests' tiny files (4:2:0, progressive 4:4:4, grayscale, CMYK),
# and near-valid cuts of one of them.
ROOT = CORPUS.parents[2]
for frame in sorted((ROOT / "Tests/Fixtures/dfgaze-demo-v1/frames").glob("*.jpg")):
    write("jpeg", frame.name, frame.read_bytes())
for name in ["color420.jpg", "progressive444.jpg", "gray.jpg", "cmyk.jpg"]:
    write("jpeg", name, (ROOT / "Tests/ImagingTests/Data" / name).read_bytes())
progressive = (ROOT / "Tests/ImagingTests/Data/progressive444.jpg").read_bytes()
write("jpeg", "progressive_truncated.jpg", progressive[: len(progressive) // 2])
write("jpeg", "progressive_no_eoi.jpg", progressive[:-2])
write("jpeg", "soi_only.jpg", b"\xff\xd8")

# checkpoint: the importer's test checkpoints, written by torch (zip, legacy, and hostile ones).
for pt in sorted((ROOT / "Tests/WeightsTests/Resources/checkpoints").glob("*.pt")):
    write("checkpoint", pt.name, pt.read_bytes())

# pickle: the state-dict pickles inside those checkpoints (data.pkl of the zips; the legacy file's
# pickles from its start), and a few hand-written ones.
for pt in sorted((ROOT / "Tests/WeightsTests/Resources/checkpoints").glob("*.pt")):
    data = pt.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if name.endswith("/data.pkl"):
                    write("pickle", pt.stem + ".pkl", archive.read(name))
    else:
        write("pickle", pt.stem + ".pkl", data)
write("pickle", "empty_dict", b"\x80\x02}q\x00.")
write("pickle", "nested", b"\x80\x02}q\x00(X\x01\x00\x00\x00a]q\x01(K\x01G?\xe0\x00\x00\x00\x00\x00\x00e"
      b"X\x01\x00\x00\x00b\x88u.")
write("pickle", "forbidden_global", b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.")
write("pickle", "memo_reuse", b"\x80\x02]q\x00(h\x00h\x00e.")

# faces: width-1, height-1, stride padding, flags (bit 0: upsampling; bit 7: a short buffer), then
# gray pixels. A real face (hanks_112 in grey, through Debian's ffmpeg) upsampled once, a gradient,
# a checkerboard, a one-pixel frame and a short buffer.
import subprocess

hanks = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i",
                        str(ROOT / "Tests/Fixtures/dfgaze-video-v1/frames/hanks_112.jpg"),
                        "-f", "rawvideo", "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
write("faces", "hanks_112_up1", bytes([111, 111, 0, 1]) + hanks)
write("faces", "gradient_64x48", bytes([63, 47, 3, 0]) + bytes((x * 4 + y) % 256 for y in range(48) for x in range(64)))
write("faces", "checker_90", bytes([89, 89, 0, 1]) + bytes(255 * ((x // 9 + y // 9) % 2) for y in range(90) for x in range(90)))
write("faces", "one_pixel", bytes([0, 0, 0, 1, 7]))
write("faces", "short_buffer", bytes([20, 20, 2, 0x85]) + bytes(range(200)))
