"""Provenance (fakescope.provenance, `fakescope inspect`, and the `provenance` object of a scan).

The tests make their own Content Credentials: a throwaway ES256 CA and signer certificate (made with
`cryptography`, fakescope.provenance.testing) sign a JPEG, a PNG and an MP4 through c2pa.Builder. They
cover AI-declared, edited (with an AI-generated ingredient), captured, unsigned, tampered (bytes changed
after signing) and malformed manifests, trust anchors, phone-camera metadata, and strings a hostile file
could hold.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("c2pa")
pytest.importorskip("cryptography")

from fakescope.provenance import STATES, ProvenanceReader, inspect
from fakescope.provenance.testing import (
    AI_GENERATED,
    DIGITAL_CAPTURE,
    ThrowawaySigner,
    created,
    make_ca,
    make_signer,
    manifest,
)
from fakescope.provenance.text import clean
from fakescope.report.html import render_fragment
from fakescope.report.text import format_file

HOSTILE = "\x1b[2J\x1b]0;pwned\x07<script>alert(1)</script>\u202eevil"
PARIS = (48.8577, 2.2950)


@dataclass
class Signing:
    signer: ThrowawaySigner
    ca_pem: Path
    other_ca_pem: Path  # a CA that did not issue the signer


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> Signing:
    from cryptography.hazmat.primitives import serialization

    d = tmp_path_factory.mktemp("pki")
    signer = make_signer()
    (d / "ca.pem").write_bytes(signer.ca_pem)
    (d / "other.pem").write_bytes(make_ca("Somebody Else")[1].public_bytes(serialization.Encoding.PEM))
    return Signing(signer, d / "ca.pem", d / "other.pem")


def _jpeg(rgb: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def _flip_pixels(data: bytes) -> bytes:
    """The file with a run of bytes changed near its end (inside the picture, after the manifest)."""
    b = bytearray(data)
    for i in range(len(b) - 400, len(b) - 300):
        b[i] ^= 0x5A
    return bytes(b)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, signing: Signing, astronaut: np.ndarray,
          demo_media: dict) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("provenance")
    photo = _jpeg(astronaut)
    ai = [created(AI_GENERATED)]
    sign = signing.signer.sign
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "PNG")
    files = {
        "ai_jpg": sign(photo, "image/jpeg", manifest(ai)),
        "ai_png": sign(buf.getvalue(), "image/png", manifest(ai, title="made.png")),
        "ai_mp4": sign(demo_media["clip"].read_bytes(), "video/mp4", manifest(ai, title="clip.mp4")),
        "captured_jpg": sign(photo, "image/jpeg", manifest([created(DIGITAL_CAPTURE)], "Imaginary Camera")),
        "unsigned_jpg": photo,
        "hostile_jpg": sign(photo, "image/jpeg", manifest(ai, generator=HOSTILE, title=HOSTILE)),
    }
    cropped = _jpeg(np.ascontiguousarray(astronaut[:384, :384]))
    files["edited_jpg"] = sign(cropped, "image/jpeg", manifest([{"action": "c2pa.cropped"}], "Photo Editor", "edited.jpg"),
                               (files["ai_jpg"], "image/jpeg", "made.jpg"))
    files["tampered_jpg"] = _flip_pixels(files["ai_jpg"])
    files["tampered_mp4"] = _flip_pixels(files["ai_mp4"])
    # A broken manifest: the claim's bytes overwritten (what a careless tool or a fuzzer leaves).
    signed = files["ai_jpg"]
    at = signed.find(b"c2pa.claim")
    files["malformed_jpg"] = signed[:at] + random.Random(0).randbytes(300) + signed[at + 300:]
    out = {}
    for name, data in files.items():
        out[name] = d / name.replace("_", ".")
        out[name].write_bytes(data)
    return out


@pytest.fixture(scope="module")
def reader() -> ProvenanceReader:
    return ProvenanceReader()


@pytest.mark.parametrize("name", ["ai_jpg", "ai_png", "ai_mp4"])
def test_ai_generated_is_declared_by_valid_credentials(reader: ProvenanceReader, media: dict, name: str) -> None:
    p = reader.read(media[name])
    c = p.credentials
    assert c.state == "valid" and c.present and p.ai_declared
    assert c.ai_source_type == "trainedAlgorithmicMedia" and c.ai_where == "this file"
    assert c.digital_source_types == ["trainedAlgorithmicMedia"] and c.actions == ["c2pa.created"]
    assert c.signer.common_name == "Test Signer" and c.signer.issuer == "Imaginary Generator Inc"
    assert c.claim_generator == "Imaginary Generator 1.0"
    # No trust list is downloaded: a good signature says so rather than pretending.
    assert c.trust_anchors == 0 and "signature valid, signer not on a trust list known here" in p.summary
    assert p.headline == p.summary and p.summary.startswith("Content Credentials declare this file AI-generated")
    assert "signingCredential.untrusted" in [r.code for r in c.reasons]


def test_the_generating_tool_is_named(reader: ProvenanceReader, signing: Signing, tmp_path: Path,
                                      astronaut: np.ndarray) -> None:
    action = {**created(AI_GENERATED), "softwareAgent": {"name": "Imaginary Diffusion", "version": "2.1"}}
    path = tmp_path / "tool.jpg"
    path.write_bytes(signing.signer.sign(_jpeg(astronaut), "image/jpeg", manifest([action])))
    p = reader.read(path)
    assert p.credentials.software_agents == ["Imaginary Diffusion 2.1"]
    assert "AI-generated (trainedAlgorithmicMedia), made with Imaginary Diffusion 2.1; signed by" in p.summary
    assert "  tools: Imaginary Diffusion 2.1" in p.lines()


def test_trust_anchors_mark_a_known_signer_trusted(signing: Signing, media: dict) -> None:
    trusted = ProvenanceReader(signing.ca_pem).read(media["ai_jpg"])
    assert trusted.credentials.state == "trusted" and trusted.ai_declared and trusted.credentials.trust_anchors == 1
    assert "signer trusted" in trusted.summary
    # Anchors that did not issue the signer: still only "valid", and said so.
    other = ProvenanceReader(signing.other_ca_pem).read(media["ai_jpg"])
    assert other.credentials.state == "valid" and "signer not on the trust anchors given here" in other.summary


def test_bad_trust_anchors_file_is_one_line_error(tmp_path: Path, run_cli, media: dict) -> None:
    from fakescope.errors import FakescopeError

    junk = tmp_path / "anchors.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(FakescopeError, match="holds no PEM certificate"):
        ProvenanceReader(junk)
    proc = run_cli("inspect", media["ai_jpg"], "--trust-anchors", tmp_path / "missing.pem")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"fakescope: error: cannot read the trust anchors file {tmp_path / 'missing.pem'}: No such file or directory"]


def test_edited_file_carries_the_ai_declaration_of_its_ingredient(reader: ProvenanceReader, media: dict) -> None:
    p = reader.read(media["edited_jpg"])
    c = p.credentials
    assert c.state == "valid" and c.claim_generator == "Photo Editor 1.0"
    assert c.actions == ["c2pa.opened", "c2pa.cropped"] and c.digital_source_types == []
    (ing,) = c.ingredients
    assert (ing.title, ing.relationship, ing.has_manifest) == ("made.jpg", "parentOf", True)
    assert ing.digital_source_types == ["trainedAlgorithmicMedia"] and ing.claim_generator == "Imaginary Generator 1.0"
    assert p.ai_declared and c.ai_where == "ingredient made.jpg"
    assert p.summary.startswith("Content Credentials declare an ingredient made.jpg AI-generated")
    assert "ingredient made.jpg (parentOf): Imaginary Generator 1.0; created" in "\n".join(p.lines())


def test_a_captured_photo_is_signed_but_not_ai(reader: ProvenanceReader, media: dict) -> None:
    p = reader.read(media["captured_jpg"])
    assert p.credentials.state == "valid" and not p.ai_declared and p.headline is None
    assert p.credentials.digital_source_types == ["digitalCapture"]
    assert "created with Imaginary Camera 1.0 (source: captured by a digital camera (digitalCapture))" in p.summary


def test_no_credentials_is_said_plainly_and_is_no_evidence(reader: ProvenanceReader, media: dict) -> None:
    p = reader.read(media["unsigned_jpg"])
    assert p.credentials.state == "absent" and not p.credentials.present and not p.ai_declared
    assert p.summary == "no Content Credentials" and p.headline is None
    assert "not evidence of manipulation" in p.lines()[0]


@pytest.mark.parametrize("name", ["tampered_jpg", "tampered_mp4"])
def test_tampered_file_reads_invalid_not_absent(reader: ProvenanceReader, media: dict, name: str) -> None:
    p = reader.read(media[name])
    c = p.credentials
    assert c.state == "invalid" and c.present
    assert not p.ai_declared and p.headline is None, "a broken signature vouches for nothing"
    assert any(r.code.endswith(".mismatch") for r in c.reasons)
    assert "the file was changed after it was signed" in p.summary
    assert "which a broken signature cannot vouch for" in p.summary  # the claim is still shown, for what it is


def test_malformed_manifest_is_invalid_with_a_reason(reader: ProvenanceReader, media: dict) -> None:
    p = reader.read(media["malformed_jpg"])
    c = p.credentials
    assert c.state == "invalid" and [r.code for r in c.reasons] == ["manifest.unreadable"]
    assert c.reasons[0].explanation and "\n" not in p.summary
    assert p.metadata.container == "JPEG"  # the rest is still read


def test_hostile_manifests_never_raise(reader: ProvenanceReader, media: dict, tmp_path: Path) -> None:
    """Random damage anywhere in a signed file (manifest, headers, pixels): always a result, one line each."""
    data = media["ai_jpg"].read_bytes()
    rng = random.Random(1)
    start, end = data.find(b"jumb") - 8, data.find(b"c2pa.signature") + 200
    states = set()
    for i in range(24):
        b = bytearray(data)
        where = rng.randrange(start, end) if i % 3 else rng.randrange(len(b))
        for k in range(rng.choice((1, 8, 64))):
            if where + k < len(b):
                b[where + k] = rng.randrange(256)
        if i % 4 == 0:
            b = b[:rng.randrange(start, len(b))]  # cut short as well
        path = tmp_path / f"fuzz{i}.jpg"
        path.write_bytes(bytes(b))
        p = reader.read(path)
        assert p.credentials.state in STATES and "\n" not in p.summary and p.summary
        assert not (p.ai_declared and p.credentials.state not in ("valid", "trusted"))
        states.add(p.credentials.state)
    assert "invalid" in states


def test_hostile_strings_are_made_printable(reader: ProvenanceReader, media: dict) -> None:
    p = reader.read(media["hostile_jpg"])
    text = json.dumps(p.to_dict()) + "\n".join(p.lines()) + p.summary
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "<script>" in p.credentials.claim_generator  # kept as text: the HTML escapes it
    html = str(render_fragment(_file_result(media["hostile_jpg"], p)))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert clean("a\tb\nc", 10) == "a\ufffdb\ufffdc" and clean("x" * 50, 10) == "x" * 9 + "…" and clean("  ") is None


def test_unsupported_format_is_not_called_absent(reader: ProvenanceReader, tmp_path: Path, astronaut: np.ndarray,
                                                 encode_frames) -> None:
    mkv = encode_frames(tmp_path / "clip.mkv", [astronaut[:64, :64]] * 3, 5, "mpeg4")
    p = reader.read(mkv)
    assert p.credentials.state == "unsupported" and "not checked" in p.summary and not p.credentials.present
    assert p.metadata.container.startswith("Matroska") and p.metadata.codec == "mpeg4"


def _exif_phone(astronaut: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[271], exif[272], exif[305], exif[274] = "Apple", "iPhone 15 Pro", "17.1.2", 6
    exif.get_ifd(0x8769)[36867] = "2024:05:01 10:00:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 27.72), "E", (2.0, 17.0, 42.0)
    return _jpeg(astronaut, exif=exif)


def test_phone_camera_metadata(reader: ProvenanceReader, tmp_path: Path, astronaut: np.ndarray) -> None:
    path = tmp_path / "IMG_0001.jpg"
    path.write_bytes(_exif_phone(astronaut))
    p = reader.read(path)
    m = p.metadata
    assert (m.make, m.model, m.camera, m.software) == ("Apple", "iPhone 15 Pro", "Apple iPhone 15 Pro", "17.1.2")
    assert m.creation_time == "2024:05:01 10:00:00" and m.orientation == 6 and m.gps
    assert "metadata name a camera: Apple iPhone 15 Pro (unsigned; any tool can write it)" in p.hints
    assert "no camera metadata" not in p.hints and p.credentials.state == "absent"
    text = json.dumps(p.to_dict()) + "\n".join(p.lines())
    assert "48" not in text.replace("2024", "") and "GPS location present (not shown)" in text  # no coordinates


def test_phone_video_metadata_and_ffmpeg_hint(reader: ProvenanceReader, tmp_path: Path, demo_media: dict) -> None:
    """An iPhone-like MOV (QuickTime keys, bit-exact so FFmpeg leaves no encoder tag) against the demo clip,
    which PyAV wrote: only the second reads as re-encoded by FFmpeg."""
    path = tmp_path / "IMG_0002.mov"
    with av.open(str(path), "w", format="mov", options={"movflags": "use_metadata_tags", "fflags": "+bitexact"}) as c:
        c.metadata.update({"com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15 Pro",
                           "com.apple.quicktime.creationdate": "2024-05-01T10:00:00+0200",
                           "com.apple.quicktime.location.ISO6709": f"+{PARIS[0]}+00{PARIS[1]}+035.000/"})
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.metadata["handler_name"] = "Core Media Video"
        for _ in range(3):
            for packet in s.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    phone = reader.read(path)
    m = phone.metadata
    assert (m.make, m.model, m.handler_name, m.codec) == ("Apple", "iPhone 15 Pro", "Core Media Video", "mpeg4")
    assert m.creation_time == "2024-05-01T10:00:00+0200" and m.gps and m.brand == "qt"
    assert str(PARIS[0]) not in json.dumps(phone.to_dict())
    assert not any("FFmpeg" in h for h in phone.hints) and "no camera metadata" not in phone.hints
    clip = reader.read(demo_media["clip"])
    assert clip.metadata.encoder.startswith("Lavf") and clip.metadata.width and clip.metadata.codec
    assert any(h.startswith("re-encoded by FFmpeg/Lavf (encoder Lavf") for h in clip.hints)
    assert "no camera metadata" in clip.hints


def test_generator_hints(reader: ProvenanceReader, tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    img = Image.new("RGB", (32, 32))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a portrait\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    sd = tmp_path / "sd.png"
    img.save(sd, pnginfo=info)
    assert "created by a Stable Diffusion web UI (generation parameters in the PNG text)" in reader.read(sd).hints
    exif = Image.Exif()
    exif[305] = "Adobe Firefly"
    ff = tmp_path / "ff.jpg"
    img.save(ff, exif=exif)
    assert reader.read(ff).hints[0] == "created by Firefly (a generative-AI or face-swap tool named in the metadata)"
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
           b'Iptc4xmpExt:DigitalSourceType="' + AI_GENERATED.encode() + b'"/></rdf:RDF></x:xmpmeta>')
    xp = tmp_path / "xmp.jpg"
    img.save(xp, xmp=xmp)
    p = reader.read(xp)
    assert p.metadata.xmp_source_type == "trainedAlgorithmicMedia" and not p.ai_declared  # unsigned: a hint only
    assert "unsigned XMP metadata declare the source type trainedAlgorithmicMedia" in p.hints


def test_files_that_cannot_be_opened(reader: ProvenanceReader, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    (tmp_path / "empty.jpg").touch()
    assert reader.try_read(fifo) is None and reader.try_read(tmp_path / "missing.jpg") is None
    result = inspect([fifo, tmp_path / "empty.jpg", tmp_path / "missing.jpg"])
    assert [f.error for f in result] == ["not a regular file", "empty file", "no such file"] and not result.ok


def _file_result(path: Path, provenance):
    from fakescope.results import NO_FACE, FileResult

    return FileResult(path=path.name, verdict=NO_FACE, threshold=0.5, kind="image", frames_sampled=1,
                      provenance=provenance)


def test_scan_says_an_ai_declaration_first(scanner, media: dict, check_schema) -> None:
    result = scanner.scan([media["ai_jpg"], media["unsigned_jpg"], media["malformed_jpg"],
                           media["tampered_jpg"], Path("missing.jpg")])
    doc = check_schema(result.to_json())
    ai, unsigned, malformed, tampered, missing = doc["files"]
    assert ai["verdict"] in ("FAKE", "REAL") and ai["provenance"]["ai_declared"] is True
    assert ai["provenance"]["schema"] == "fakescope.provenance/1" and ai["timings"]["provenance"] > 0
    assert unsigned["provenance"]["credentials"]["state"] == "absent"
    # A broken manifest is a finding about the file, not a reason to stop scanning its faces.
    assert malformed["verdict"] in ("FAKE", "REAL") and malformed["provenance"]["credentials"]["state"] == "invalid"
    assert tampered["verdict"] in ("FAKE", "REAL") and tampered["provenance"]["ai_declared"] is False
    assert missing["verdict"] == "ERROR" and missing["provenance"] is None
    lines = format_file(result[0]).splitlines()
    assert lines[0].startswith(f"{media['ai_jpg']}: Content Credentials declare this file AI-generated")
    assert lines[1] == result[0].message  # then the face model's verdict, which stays the verdict
    assert "  provenance: no Content Credentials" in format_file(result[1]).splitlines()


def test_report_shows_provenance(scanner, media: dict) -> None:
    ai = scanner.scan_file(media["ai_jpg"])
    html = str(render_fragment(ai))
    assert html.index('class="fs-ai-declared') < html.index('class="fs-verdict'), "the declaration comes before the verdict"
    assert "Imaginary Generator Inc (Test Signer)" in html and "fs-cred-valid" in html
    plain = str(render_fragment(scanner.scan_file(media["unsigned_jpg"])))
    assert "fs-ai-declared" not in plain and "no Content Credentials" in plain
    assert "their absence is not evidence of manipulation" in plain


def test_cli_inspect(run_cli, media: dict, signing: Signing, tmp_path: Path) -> None:
    out = tmp_path / "inspect.json"
    proc = run_cli("inspect", media["ai_jpg"], media["unsigned_jpg"], "--trust-anchors", signing.ca_pem,
                   "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Content Credentials: signature valid, signer trusted" in proc.stdout
    assert "No Content Credentials (most files carry none" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["schema"] == "fakescope.inspect/1" and [f["error"] for f in doc["files"]] == [None, None]
    assert doc["files"][0]["provenance"]["credentials"]["state"] == "trusted"
    proc = run_cli("inspect", "--json", media["edited_jpg"], tmp_path / "missing.mp4")
    assert proc.returncode == 1 and proc.stderr.strip() == f"fakescope: {tmp_path / 'missing.mp4'}: error: no such file"
    doc = json.loads(proc.stdout)
    assert doc["files"][0]["provenance"]["ai_declared"] is True and doc["files"][1]["provenance"] is None
    evil = tmp_path / "a\x1b[8mb.jpg"  # a name that would hide what follows it on a terminal
    evil.write_bytes(media["unsigned_jpg"].read_bytes())
    proc = run_cli("inspect", evil)
    assert proc.returncode == 0 and "\x1b" not in proc.stdout and "a\\x1b[8mb.jpg" in proc.stdout


def test_inspect_loads_no_model_and_import_loads_no_c2pa(media: dict) -> None:
    code = ("import sys, fakescope.provenance; before = 'c2pa' in sys.modules; "
            "from fakescope.cli import main; code = main(['inspect', sys.argv[1]]); "
            "print(before, 'torch' in sys.modules, 'onnxruntime' in sys.modules, code)")
    proc = subprocess.run([sys.executable, "-c", code, str(media["ai_jpg"])], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.splitlines()[-1] == "False False False 0", proc.stdout + proc.stderr
