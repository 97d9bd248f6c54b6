"""QR images are real: what the fake Evolution shows and what we draw decode to their code."""

from __future__ import annotations

from adapters.evolution.simulation.instances import SimInstance
from adapters.qr.images import png_data_url
from tests.qr_decode import decode_data_url

# Baileys rc.6 shape: ref, then three 44-character base64 keys.
CODE = ("2@Xk3vT9yQ0aLmN5pR7sU2wY4zB6cD8eF1gH3jK5mN7pQ9rS1tV3xZ5,"
        "q0IK9dZ3MfG5n7kQ2xXjQmO6l3JvY8pE1aB4cD6eF8g=,"
        "Yk2mN4pQ6rS8tU0vW2xZ4aB6cD8eF0gH2jK4mN6pQ8r=,"
        "Tz1xV3bN5mQ7pR9sU1wY3zA5cD7eF9gH1jK3mN5pQ7s=")


def test_drawn_png_decodes_back_to_the_same_code() -> None:
    assert decode_data_url(png_data_url(CODE)) == [CODE]


def test_the_fake_evolution_shows_a_scannable_qr_of_its_code() -> None:
    qr = SimInstance.new_qr_payload()
    assert decode_data_url(qr["base64"]) == [qr["code"]]
