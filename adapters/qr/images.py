from __future__ import annotations

import base64
import io

import segno

from application.ports.qr_images import QrImages

# Evolution draws with margin 3 and scale 4; level M keeps a 200-character code at version 11
# (quicker to draw and to scan than H, and a screen is not a worn sticker).
_SCALE = 4
_BORDER = 3


def png_data_url(code: str) -> str:
    """A PNG of ``code`` as a QR, as a data URL like Evolution's ``base64``."""
    image = io.BytesIO()
    segno.make(code, error="m", micro=False, boost_error=False).save(
        image, kind="png", scale=_SCALE, border=_BORDER)
    return "data:image/png;base64," + base64.b64encode(image.getvalue()).decode()



class SegnoQrImages(QrImages):
    def png_data_url(self, code: str) -> str:
        return png_data_url(code)
