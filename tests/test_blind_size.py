"""Blindness by size: raters see every model's output at one common size, re-encoded without metadata,
so a 64 px model next to a 512 px one (or a file's text chunks) does not say which is which."""

from __future__ import annotations

import base64
import io

import human_fixtures
from PIL import Image, PngImagePlugin
from test_human_app import consent, item_data, open_app, sign_in  # noqa: F401 - pytest fixtures

from ibench.human_eval.media import OUTPUT_SIZE, data_uri

human_runs, study = human_fixtures.human_runs, human_fixtures.study  # pytest fixtures


def decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_outputs_of_any_size_are_sent_at_one_size_without_metadata(tmp_path):
    uris = []
    for name, size in (("small.png", (64, 64)), ("large.png", (1024, 1024)), ("wide.png", (300, 100))):
        info = PngImagePlugin.PngInfo()
        info.add_text("model", "secret-model-name")
        Image.new("RGB", size, (200, 30, 30)).save(tmp_path / name, pnginfo=info)
        uris.append(data_uri(str(tmp_path / name), OUTPUT_SIZE, common=True))
    images = [decode(u) for u in uris]
    assert {im.size for im in images} == {(OUTPUT_SIZE, OUTPUT_SIZE)}
    assert all(b"secret-model-name" not in base64.b64decode(u.split(",", 1)[1]) for u in uris)
    assert decode(data_uri(str(tmp_path / "small.png"), 512)).size == (64, 64)  # references: only ever shrunk


def test_the_rating_page_sends_the_output_at_the_common_size(open_app, study):
    db, tokens = study
    at = open_app()
    sign_in(at, tokens.raters["rater01"])
    consent(at)
    (output,) = item_data(at)["images"]
    assert decode(output).size == (OUTPUT_SIZE, OUTPUT_SIZE)  # the study's outputs are far smaller
