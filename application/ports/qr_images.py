from __future__ import annotations

import abc


class QrImages(abc.ABC):
    """Draws a QR code, for the QRs Evolution sends without their image."""

    @abc.abstractmethod
    def png_data_url(self, code: str) -> str:
        """A scannable PNG of ``code`` as ``data:image/png;base64,...``. Pure; never raises for
        a code Evolution sends (text of up to a few hundred characters)."""
