"""Reads a QR back out of a PNG (a data URL or a screenshot) with zxing-cpp, as a phone would."""

from __future__ import annotations

import base64
import io

import zxingcpp
from PIL import Image


def decode_png(png: bytes) -> list[str]:
    """Every QR code readable in the image, as text."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return [found.text for found in zxingcpp.read_barcodes(image)
            if found.format == zxingcpp.BarcodeFormat.QRCode]


def decode_data_url(url: str) -> list[str]:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix), url[:40]
    return decode_png(base64.b64decode(url[len(prefix):]))
