"""OCR through the Tesseract binary (via pytesseract), for images and scanned PDFs.
Tesseract is an optional system package: without it, image uploads fail with a message
that says what to install instead of a stack trace."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from ingestion.errors import OcrUnavailable, TooLarge

if TYPE_CHECKING:
    from PIL.Image import Image

WANTED_LANGUAGES = ("eng", "kor")
# Pillow refuses images past ~180 M pixels; we stop earlier because Tesseract needs
# several bytes of memory per pixel.
MAX_PIXELS = 60_000_000
# Tesseract reads best around 300 dpi; tiny images are scaled up to about this width.
_MIN_WIDTH = 1200

_INSTALL_HINT = (
    "Text recognition (OCR) is not installed on this server, so scanned documents and "
    "images cannot be read. Ask an administrator to install tesseract-ocr and "
    "tesseract-ocr-kor, or upload a document that contains text."
)


def tesseract_path() -> str | None:
    """The tesseract binary on PATH, looked up on every call so that installing it
    (or a test changing PATH) takes effect without a restart."""
    return shutil.which("tesseract")


def _languages(binary: str) -> str:
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = binary
    try:
        available = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractError, OSError) as exc:
        raise OcrUnavailable(_INSTALL_HINT) from exc
    chosen = [lang for lang in WANTED_LANGUAGES if lang in available]
    if not chosen:
        raise OcrUnavailable(_INSTALL_HINT)
    return "+".join(chosen)


def ocr_image(image: Image) -> str:
    """Recognised text of one image (English and Korean where the language data is
    installed). Raises OcrUnavailable without Tesseract, TooLarge for huge images."""
    binary = tesseract_path()
    if binary is None:
        raise OcrUnavailable(_INSTALL_HINT)
    if image.width * image.height > MAX_PIXELS:
        raise TooLarge(
            f"The image is {image.width}x{image.height} pixels, too large to recognise text "
            "in. Reduce its resolution (300 dpi is enough) and upload it again."
        )
    import pytesseract

    languages = _languages(binary)
    # Without a resolution Tesseract guesses a low one and its layout analysis drops
    # lines of larger text; screenshots and generated images rarely carry one.
    dpi = int(image.info.get("dpi", (300, 300))[0] or 300)
    dpi = min(max(dpi, 150), 600)
    if image.mode not in {"L", "RGB"}:
        image = image.convert("RGB")
    if image.width < _MIN_WIDTH:
        scale = _MIN_WIDTH / image.width
        image = image.resize((_MIN_WIDTH, max(1, round(image.height * scale))))
    try:
        return pytesseract.image_to_string(image, lang=languages, config=f"--psm 3 --dpi {dpi}")
    except (pytesseract.TesseractError, OSError) as exc:
        raise OcrUnavailable(f"{_INSTALL_HINT} (Tesseract failed: {exc})") from exc
